package server

import (
	"bytes"
	"errors"
)

// The parser turns a client's byte stream into protocol operations. It is a
// resumable state machine: parse may be handed the stream cut at any byte, and
// whatever straddles two reads (an op name, an argument line, a payload) is
// carried in the parser's own buffers until the rest arrives. When nothing
// straddles, arguments and payloads are slices of the caller's buffer, so the
// PUB path neither copies nor allocates.

// parser states.
const (
	stOpStart  = iota // expecting the first byte of an op
	stOp              // inside an op name
	stOpSpace         // after PUB, HPUB, SUB, UNSUB or -ERR: a space or tab must follow
	stArgSpace        // skipping the blanks before an argument line
	stArgs            // inside an argument line, up to '\n'
	stSkip            // after PING, PONG or +OK: anything up to '\n' is ignored
	stPayload         // inside a PUB/HPUB payload and its trailing CRLF
)

// op codes.
const (
	opNone = iota
	opPub
	opHPub
	opSub
	opUnsub
	opPing
	opPong
	opConnect
	opInfo
	opOK
	opErr
)

// How an op's name is followed, as nats-server reads it.
const (
	endSpace = iota // a space or tab, then the argument line (PUB, SUB, ...)
	endBlank        // optional blanks, then the argument line (CONNECT, INFO)
	endLine         // nothing that matters: the rest of the line is ignored (PING, PONG, +OK)
)

// opNames are the ops a client may send, upper case. A byte sequence that is not a
// prefix of one of them is an unknown operation; none is a prefix of another.
var opNames = [...]struct {
	name string
	op   int
	end  int
}{
	{"PUB", opPub, endSpace},
	{"HPUB", opHPub, endSpace},
	{"SUB", opSub, endSpace},
	{"UNSUB", opUnsub, endSpace},
	{"PING", opPing, endLine},
	{"PONG", opPong, endLine},
	{"CONNECT", opConnect, endBlank},
	{"INFO", opInfo, endBlank},
	{"+OK", opOK, endLine},
	{"-ERR", opErr, endSpace},
}

const maxOpLen = 7 // len("CONNECT")

// Parse errors. The client is told with the -ERR text nats-server uses, where it
// sends one, and the connection is closed.
var (
	errUnknownOp       = errors.New("unknown protocol operation")
	errMaxControlLine  = errors.New("maximum control line exceeded")
	errMaxPayload      = errors.New("maximum payload exceeded")
	errBadArgs         = errors.New("malformed protocol arguments")
	errBadPayloadEnd   = errors.New("payload not followed by CRLF")
	errHeadersDisabled = errors.New("message headers not supported")
	errAuthViolation   = errors.New("authorization violation")
	errClientClosed    = errors.New("client closed")
)

// pubArg is the parsed argument line of a PUB or HPUB.
type pubArg struct {
	subject []byte
	reply   []byte
	hdr     int // header block length, -1 for PUB
	size    int // total payload length, header block included
}

// parseState is the parser's memory between two calls.
type parseState struct {
	state    int
	op       [maxOpLen]byte // op name so far, upper case
	opLen    int
	opCode   int
	argFirst bool   // the argument line's first byte is still to be taken, whatever it is
	argBuf   []byte // argument line straddling reads; nil when none
	msgBuf   []byte // payload straddling reads; nil when none
	argScr   []byte // reusable backing for argBuf
	msgScr   []byte // reusable backing for msgBuf
	pa       pubArg
	need     int // payload bytes + CRLF still expected in stPayload
}

// opHandler is what the parser drives: the client in production, recorders in tests.
type opHandler interface {
	// awaitingAuth reports whether the next op must be CONNECT: auth is
	// required and the client has not passed it.
	awaitingAuth() bool
	// headersOK reports whether the client announced headers in CONNECT; an
	// HPUB from one that did not is refused.
	headersOK() bool
	processMsg(pa *pubArg, payload []byte) error
	processSub(args []byte) error
	processUnsub(args []byte) error
	processPing() error
	processPong() error
	processConnect(arg []byte) error
	processInfo(arg []byte) error
	processOK() error
	processErr(arg []byte) error
	maxControlLine() int
	maxPayload() int
}

// parse consumes buf, calling h for every complete operation. On error the
// connection must be closed; the handler has already told the client if needed.
//
// What it accepts is what nats-server's client parser accepts: op names in any
// case, the first byte of an op checked against auth before anything else, no
// blank lines between ops, anything after PING, PONG and +OK up to the end of
// the line ignored, and every argument line (CONNECT and INFO included) bounded
// by max_control_line, counted without its CRLF, also while it is incomplete.
func (p *parseState) parse(buf []byte, h opHandler) error {
	// Auth and limits are read once per call, as nats-server reads them once
	// per read: a reload reaches the client at its next read.
	awaiting := h.awaitingAuth()
	limit, maxPayload := h.maxControlLine(), h.maxPayload()
	i := 0
	for i < len(buf) {
		switch p.state {
		case stOpStart:
			c := buf[i]
			if awaiting && c != 'C' && c != 'c' {
				return errAuthViolation
			}
			// Fast path for the hot op: a whole "PUB x" in the buffer.
			if rest := buf[i:]; len(rest) >= 5 && rest[3] == ' ' && upper(rest[0]) == 'P' && upper(rest[1]) == 'U' && upper(rest[2]) == 'B' && rest[4] != ' ' && rest[4] != '\t' {
				p.opCode, p.state, p.argFirst = opPub, stArgs, true
				i += 4
				continue
			}
			p.opLen = 0
			p.state = stOp
		case stOp:
			c := upper(buf[i])
			if p.opLen == maxOpLen || !p.isOpPrefix(c) {
				return errUnknownOp
			}
			p.op[p.opLen] = c
			p.opLen++
			i++
			p.endOp()
		case stOpSpace:
			if c := buf[i]; c != ' ' && c != '\t' {
				return errUnknownOp
			}
			p.state = stArgSpace
			i++
		case stArgSpace:
			for i < len(buf) && (buf[i] == ' ' || buf[i] == '\t') {
				i++
			}
			if i < len(buf) {
				// Whatever comes next starts the argument line, even CR or LF.
				p.state, p.argFirst = stArgs, true
			}
		case stSkip:
			nl := bytes.IndexByte(buf[i:], '\n')
			if nl < 0 {
				return nil // nothing of it is kept
			}
			i += nl + 1
			if err := p.dispatch(h, nil, maxPayload); err != nil {
				return err
			}
		case stArgs:
			from := i
			if p.argFirst {
				from, p.argFirst = i+1, false
			}
			nl := bytes.IndexByte(buf[from:], '\n')
			if nl < 0 {
				n := len(p.argBuf) + len(buf) - i
				if buf[len(buf)-1] == '\r' {
					n-- // the line may end with the next read
				}
				if n > limit {
					return errMaxControlLine
				}
				if p.argBuf == nil {
					p.argBuf = p.argScr[:0]
				}
				p.argBuf = append(p.argBuf, buf[i:]...)
				return nil
			}
			nl += from
			line := buf[i:nl]
			if p.argBuf != nil {
				p.argBuf = append(p.argBuf, line...)
				line = p.argBuf
			}
			line = trimCR(line)
			if len(line) > limit {
				return errMaxControlLine
			}
			i = nl + 1
			if err := p.dispatch(h, line, maxPayload); err != nil {
				return err
			}
			if awaiting && p.opCode == opConnect {
				awaiting = h.awaitingAuth()
			}
			if p.state == stPayload && len(buf)-i < p.need && p.argBuf == nil {
				// The payload straddles this read: the arguments point into buf,
				// which the caller reuses, so keep a copy.
				p.cloneArgs()
			}
		case stPayload:
			if p.msgBuf == nil && len(buf)-i >= p.need {
				// The whole payload is here: hand it over in place.
				end := i + p.need
				if buf[end-2] != '\r' || buf[end-1] != '\n' {
					return errBadPayloadEnd
				}
				if err := p.finishMsg(h, buf[i:end-2]); err != nil {
					return err
				}
				i = end
				continue
			}
			take := min(p.need-len(p.msgBuf), len(buf)-i)
			if p.msgBuf == nil {
				if cap(p.msgScr) < p.need {
					p.msgScr = make([]byte, 0, p.need)
				}
				p.msgBuf = p.msgScr[:0]
			}
			p.msgBuf = append(p.msgBuf, buf[i:i+take]...)
			i += take
			if len(p.msgBuf) < p.need {
				return nil
			}
			m := p.msgBuf
			if m[len(m)-2] != '\r' || m[len(m)-1] != '\n' {
				return errBadPayloadEnd
			}
			if err := p.finishMsg(h, m[:len(m)-2]); err != nil {
				return err
			}
		}
	}
	return nil
}

// isOpPrefix reports whether the op so far followed by c still starts a known op.
func (p *parseState) isOpPrefix(c byte) bool {
	n := p.opLen
	for k := range opNames {
		name := opNames[k].name
		if len(name) > n && name[n] == c && name[:n] == string(p.op[:n]) {
			return true
		}
	}
	return false
}

// endOp moves on once the op name so far is a whole one.
func (p *parseState) endOp() {
	name := p.op[:p.opLen]
	for k := range opNames {
		if opNames[k].name != string(name) {
			continue
		}
		p.opCode = opNames[k].op
		switch opNames[k].end {
		case endSpace:
			p.state = stOpSpace
		case endBlank:
			p.state = stArgSpace
		default:
			p.state = stSkip
		}
		return
	}
}

// dispatch runs a complete op whose argument line is args.
func (p *parseState) dispatch(h opHandler, args []byte, maxPayload int) error {
	op := p.opCode
	p.state = stOpStart
	var err error
	switch op {
	case opPub, opHPub:
		if op == opHPub && !h.headersOK() {
			err = errHeadersDisabled
		} else {
			err = parsePubArgs(&p.pa, args, op == opHPub, maxPayload)
		}
		if err == nil {
			p.state, p.need = stPayload, p.pa.size+2
		}
	case opSub:
		err = h.processSub(args)
	case opUnsub:
		err = h.processUnsub(args)
	case opPing:
		err = h.processPing()
	case opPong:
		err = h.processPong()
	case opOK:
		err = h.processOK()
	case opConnect:
		err = h.processConnect(args)
	case opInfo:
		err = h.processInfo(args)
	case opErr:
		err = h.processErr(args)
	}
	if p.state != stPayload {
		p.resetArgBuf()
	}
	return err
}

func (p *parseState) finishMsg(h opHandler, payload []byte) error {
	err := h.processMsg(&p.pa, payload)
	p.state = stOpStart
	if p.msgBuf != nil {
		if cap(p.msgBuf) > maxKeptBuf {
			p.msgScr = nil // a one-off large payload is not kept
		}
		p.msgBuf = nil
	}
	p.resetArgBuf()
	return err
}

// maxKeptBuf bounds the straddle buffers a parser keeps between messages.
const maxKeptBuf = 64 * 1024

// resetArgBuf ends the use of argBuf, keeping its backing for reuse.
func (p *parseState) resetArgBuf() {
	if p.argBuf == nil {
		return
	}
	if cap(p.argBuf) <= maxKeptBuf {
		p.argScr = p.argBuf[:0]
	}
	p.argBuf = nil
}

// cloneArgs copies the pub arguments out of the caller's buffer into argBuf,
// which stays owned until the payload completes.
func (p *parseState) cloneArgs() {
	b := append(p.argScr[:0], p.pa.subject...)
	n := len(b)
	b = append(b, p.pa.reply...)
	p.pa.subject = b[:n:n]
	if p.pa.reply != nil {
		p.pa.reply = b[n:]
	}
	p.argBuf = b
}

// parsePubArgs parses "subject [reply] size" (PUB) or "subject [reply] hdr size"
// (HPUB) into pa, enforcing maxPayload.
func parsePubArgs(pa *pubArg, line []byte, headers bool, maxPayload int) error {
	var a [4][]byte
	args, ok := splitPubArgs(a[:0], line)
	if !ok {
		return errBadArgs
	}
	pa.reply, pa.hdr = nil, -1
	switch {
	case headers && len(args) == 3:
		pa.subject, pa.hdr, pa.size = args[0], parseSize(args[1]), parseSize(args[2])
	case headers && len(args) == 4:
		pa.subject, pa.reply, pa.hdr, pa.size = args[0], args[1], parseSize(args[2]), parseSize(args[3])
	case !headers && len(args) == 2:
		pa.subject, pa.size = args[0], parseSize(args[1])
	case !headers && len(args) == 3:
		pa.subject, pa.reply, pa.size = args[0], args[1], parseSize(args[2])
	default:
		return errBadArgs
	}
	if pa.size < 0 || (headers && (pa.hdr < 0 || pa.hdr > pa.size)) {
		return errBadArgs
	}
	if pa.size > maxPayload {
		return errMaxPayload
	}
	if pa.hdr == 0 {
		pa.hdr = -1 // an empty header block is no header block: delivered as MSG, as nats-server does
	}
	return nil
}

// splitArgs splits a SUB or UNSUB argument line on runs of spaces, tabs, CRs
// and LFs into dst, which it returns with the fields appended; it reports false
// when there are more fields than dst can hold.
func splitArgs(dst [][]byte, line []byte) ([][]byte, bool) {
	start := -1
	for i, c := range line {
		if c == ' ' || c == '\t' || c == '\r' || c == '\n' {
			if start >= 0 {
				if len(dst) == cap(dst) {
					return dst, false
				}
				dst = append(dst, line[start:i])
				start = -1
			}
			continue
		}
		if start < 0 {
			start = i
		}
	}
	if start >= 0 {
		if len(dst) == cap(dst) {
			return dst, false
		}
		dst = append(dst, line[start:])
	}
	return dst, true
}

// splitPubArgs splits a PUB/HPUB argument line like splitArgs. Subjects and
// sizes have no inner spaces, so it scans tokens with IndexByte-style skips
// rather than testing every byte twice.
func splitPubArgs(dst [][]byte, line []byte) ([][]byte, bool) {
	i := 0
	for {
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
		if i == len(line) {
			return dst, true
		}
		j := i + 1
		for j < len(line) && line[j] != ' ' && line[j] != '\t' {
			j++
		}
		if len(dst) == cap(dst) {
			return dst, false
		}
		dst = append(dst, line[i:j])
		i = j
	}
}

// parseSize parses a decimal size of at most 9 digits; -1 when invalid.
func parseSize(d []byte) int {
	if len(d) == 0 || len(d) > 9 {
		return -1
	}
	n := 0
	for _, c := range d {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}

func upper(c byte) byte {
	if c >= 'a' && c <= 'z' {
		return c - ('a' - 'A')
	}
	return c
}

func trimCR(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\r' {
		return b[:n-1]
	}
	return b
}
