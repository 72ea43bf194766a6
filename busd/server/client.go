package server

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Read buffer sizes: a connection starts small (most are idle) and doubles while
// reads fill it, up to maxReadBuf.
const (
	minReadBuf = 512
	maxReadBuf = 64 * 1024
)

// closeReason says why a connection ended; /connz reports it.
type closeReason int

const (
	closeClient closeReason = iota
	closeServerShutdown
	closeProtocolViolation
	closeAuthViolation
	closeAuthTimeout
	closeSlowConsumerPending
	closeSlowConsumerDeadline
	closeStale
	closeMaxPayload
	closeMaxControlLine
	closeMaxConnections
	closeLameDuck
	closeWriteError
	closeReadError
	closeTLSHandshake
)

var closeReasonText = [...]string{
	closeClient:               "Client Closed",
	closeServerShutdown:       "Server Shutdown",
	closeProtocolViolation:    "Protocol Violation",
	closeAuthViolation:        "Authentication Failure",
	closeAuthTimeout:          "Authentication Timeout",
	closeSlowConsumerPending:  "Slow Consumer (Pending Bytes)",
	closeSlowConsumerDeadline: "Slow Consumer (Write Deadline)",
	closeStale:                "Stale Connection",
	closeMaxPayload:           "Maximum Message Payload Exceeded",
	closeMaxControlLine:       "Maximum Control Line Exceeded",
	closeMaxConnections:       "Maximum Connections Exceeded",
	closeLameDuck:             "Lame Duck Mode",
	closeWriteError:           "Write Error",
	closeReadError:            "Read Error",
	closeTLSHandshake:         "TLS Handshake Failure",
}

func (r closeReason) String() string { return closeReasonText[r] }

// connectOpts is the CONNECT document. Before CONNECT a client is verbose and
// pedantic, as with nats-server, so a person typing into telnet sees +OK.
type connectOpts struct {
	Verbose      bool   `json:"verbose"`
	Pedantic     bool   `json:"pedantic"`
	TLSRequired  bool   `json:"tls_required"`
	AuthToken    string `json:"auth_token,omitempty"`
	User         string `json:"user,omitempty"`
	Pass         string `json:"pass,omitempty"`
	Nkey         string `json:"nkey,omitempty"`
	Sig          string `json:"sig,omitempty"`
	JWT          string `json:"jwt,omitempty"`
	Name         string `json:"name"`
	Lang         string `json:"lang"`
	Version      string `json:"version"`
	Protocol     int    `json:"protocol"`
	Echo         bool   `json:"echo"`
	Headers      bool   `json:"headers"`
	NoResponders bool   `json:"no_responders"`
}

var defaultConnectOpts = connectOpts{Verbose: true, Pedantic: true, Echo: true}

// client is one connection. The reader goroutine owns the parser and the
// fields marked "reader"; everything under mu may be touched by publishers on
// other connections delivering to this one, by the writer and by the monitor.
type client struct {
	srv   *Server
	cid   uint64
	conn  net.Conn
	host  string
	port  int
	start time.Time

	// reader
	ps    parseState
	msgh  []byte           // scratch for MSG lines
	msc   matchScratch     // where the sublist builds this client's uncached match results
	pcd   []*client        // clients written to during this read, flushed after it
	pcdm  map[*client]bool // dedupe for pcd once it grows
	nonce []byte           // sent in INFO when nkeys are configured
	// inbound counts of the current read, added to the shared counters once
	// per read rather than per message
	readMsgs, readBytes, readOut, readOutBytes int64
	stallOn                                    chan struct{} // a destination this read filled past the stall mark
	stallTmr                                   *time.Timer

	// written at CONNECT and auth (reader), read by others under mu
	mu       sync.Mutex
	opts     connectOpts
	authed   bool
	user     string // authorized user, for /connz (never the password)
	subs     map[string]*subscription
	out      outbound
	flushCh  chan struct{} // wakes the writer; capacity 1
	closed   bool
	writing  bool          // a flush (inline or the writer's) owns fl and the socket
	noFlush  bool          // close without sending what is queued
	stall    chan struct{} // closed when pending falls below the stall mark again
	reason   closeReason
	pingOut  int
	pingTmr  *time.Timer
	authTmr  *time.Timer
	rtt      time.Duration
	pingSent time.Time
	stop     time.Time
	outMsgs  int64
	outBytes int64

	perms   atomic.Pointer[clientPerms] // nil: everything allowed
	lastIn  atomic.Int64                // unix nanos of the last read
	inMsgs  atomic.Int64
	inBytes atomic.Int64

	fl  flusher         // owned by whoever set writing
	raw syscall.RawConn // plain TCP socket for non-blocking writes; nil with TLS
}

func (s *Server) newClient(conn net.Conn) *client {
	c := &client{
		srv:     s,
		cid:     s.nextCID.Add(1),
		conn:    conn,
		start:   time.Now(),
		opts:    defaultConnectOpts,
		subs:    make(map[string]*subscription),
		flushCh: make(chan struct{}, 1),
	}
	if addr, ok := conn.RemoteAddr().(*net.TCPAddr); ok {
		c.host, c.port = addr.IP.String(), addr.Port
	}
	c.lastIn.Store(c.start.UnixNano())
	return c
}

// String names the connection in logs.
func (c *client) String() string { return fmt.Sprintf("cid:%d %s:%d", c.cid, c.host, c.port) }

func (c *client) maxControlLine() int { return int(c.srv.opts.MaxControlLine) }
func (c *client) maxPayload() int     { return int(c.srv.opts.MaxPayload) }

// preOp enforces that an authenticating client's first op is CONNECT.
func (c *client) preOp(op int) error {
	if c.authed || op == opConnect || !c.srv.authRequired() {
		return nil
	}
	return errAuthViolation
}

// processPubArgs parses the PUB or HPUB argument line into p.pa.
func (c *client) processPubArgs(p *parseState, line []byte, headers bool) error {
	if headers && !c.opts.Headers {
		return errHeadersDisabled
	}
	return parsePubArgs(&p.pa, line, headers, int(c.srv.opts.MaxPayload))
}

// processMsg routes one published message.
func (c *client) processMsg(p *parseState, payload []byte) error {
	pa := &p.pa
	c.readMsgs++
	c.readBytes += int64(len(payload))
	if c.srv.trace {
		c.traceIn("PUB", pa.subject, pa.reply, len(payload))
	}
	if c.opts.Pedantic && !validLiteralSubject(pa.subject) {
		c.sendErr("Invalid Publish Subject")
		return nil
	}
	if p := c.perms.Load(); p != nil && !p.pubAllowed(pa.subject) {
		c.sendErr(fmt.Sprintf("Permissions Violation for Publish to %q", pa.subject))
		return nil
	}
	if c.opts.Verbose {
		c.sendProto("+OK\r\n") // acknowledged before it is routed, as nats-server does
	}
	delivered := c.route(pa, payload)
	if delivered == 0 && len(pa.reply) > 0 && c.opts.NoResponders {
		c.sendNoResponders(pa)
	}
	return nil
}

// route delivers to every plain subscriber and to one member of each queue
// group, and reports how many deliveries it made.
func (c *client) route(pa *pubArg, payload []byte) int {
	// r may live in c.msc, valid until the next match on it. Nothing below
	// matches again: deliver may remove an auto-unsubscribed subscription, which
	// changes the trie but not a result already built.
	r := c.srv.sl.matchInto(pa.subject, &c.msc)
	n := 0
	echo := c.opts.Echo
	for _, sub := range r.psubs {
		if !echo && sub.client == c {
			continue
		}
		if c.deliver(sub, pa, payload) {
			n++
		}
	}
	for _, group := range r.qsubs {
		// Start at a random member and take the first that accepts.
		k := len(group)
		start := 0
		if k > 1 {
			start = rand.IntN(k)
		}
		for j := 0; j < k; j++ {
			sub := group[(start+j)%k]
			if !echo && sub.client == c {
				continue
			}
			if c.deliver(sub, pa, payload) {
				n++
				break
			}
		}
	}
	c.msc.release()
	c.readOut += int64(n)
	c.readOutBytes += int64(n * len(payload))
	return n
}

// deliver queues one message for sub's client and reports whether it did.
func (c *client) deliver(sub *subscription, pa *pubArg, payload []byte) bool {
	d := sub.client
	if p := d.perms.Load(); p != nil && !p.deliverAllowed(sub, pa.subject, pa.reply) {
		return false
	}
	d.mu.Lock()
	if d.closed || (sub.max > 0 && sub.nm >= sub.max) {
		d.mu.Unlock()
		return false
	}
	body := payload
	mh := c.msgh[:0]
	if pa.hdr >= 0 && d.opts.Headers {
		mh = append(mh, "HMSG "...)
	} else {
		mh = append(mh, "MSG "...)
		if pa.hdr > 0 {
			body = payload[pa.hdr:] // the subscriber cannot read a header block
		}
	}
	mh = append(mh, pa.subject...)
	mh = append(mh, ' ')
	mh = append(mh, sub.sid...)
	mh = append(mh, ' ')
	if len(pa.reply) > 0 {
		mh = append(mh, pa.reply...)
		mh = append(mh, ' ')
	}
	if pa.hdr >= 0 && d.opts.Headers {
		mh = strconv.AppendInt(mh, int64(pa.hdr), 10)
		mh = append(mh, ' ')
	}
	mh = strconv.AppendInt(mh, int64(len(body)), 10)
	mh = append(mh, '\r', '\n')
	c.msgh = mh

	if d.out.pending+int64(len(mh)+len(body)+2) > c.srv.opts.MaxPending {
		d.mu.Unlock()
		d.slowConsumer(closeSlowConsumerPending)
		return false
	}
	d.out.writeMsg(&c.srv.pool, mh, body)
	if d.out.pending > c.srv.stallMark && d != c {
		// d is falling behind: the producer waits for it after this read.
		if d.stall == nil {
			d.stall = make(chan struct{})
		}
		c.stallOn = d.stall
	}
	if c.srv.trace {
		c.srv.logger.Log(nil, LevelTrace, "->> "+string(mh[:len(mh)-2]), "cid", d.cid)
	}
	d.outMsgs++
	d.outBytes += int64(len(body))
	sub.nm++
	done := sub.max > 0 && sub.nm >= sub.max
	if done {
		delete(d.subs, string(sub.sid))
	}
	d.mu.Unlock()
	if done {
		_ = c.srv.sl.remove(sub)
	}
	c.addPCD(d)
	return true
}

var crlf = []byte("\r\n")

// sendNoResponders answers a request that reached nobody with a 503 status on
// the publisher's own reply subscription, as nats-server does.
func (c *client) sendNoResponders(pa *pubArg) {
	var sub *subscription
	r := c.srv.sl.matchInto(pa.reply, &c.msc)
	for _, s := range r.psubs {
		if s.client == c {
			sub = s
			break
		}
	}
	c.msc.release()
	if sub == nil {
		return
	}
	hdr := 32 + len(pa.subject) // "NATS/1.0 503\r\nNats-Subject: " + subject + "\r\n\r\n"
	b := make([]byte, 0, 64+len(pa.reply)+len(sub.sid)+2*len(pa.subject))
	b = append(b, "HMSG "...)
	b = append(b, pa.reply...)
	b = append(b, ' ')
	b = append(b, sub.sid...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(hdr), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(hdr), 10)
	b = append(b, "\r\nNATS/1.0 503\r\nNats-Subject: "...)
	b = append(b, pa.subject...)
	b = append(b, "\r\n\r\n\r\n"...)
	c.queue(b)
}

// processSub handles "SUB subject [queue] sid".
func (c *client) processSub(line []byte) error {
	var a [3][]byte
	args, ok := splitArgs(a[:0], line)
	if !ok {
		return errBadArgs
	}
	var subject, queue, sid []byte
	switch len(args) {
	case 2:
		subject, sid = args[0], args[1]
	case 3:
		subject, queue, sid = args[0], args[1], args[2]
	default:
		return errBadArgs
	}
	if c.srv.trace {
		c.srv.logger.Log(nil, LevelTrace, "<<- SUB", "cid", c.cid, "subject", string(subject), "queue", string(queue), "sid", string(sid))
	}
	if !validSubject(subject) || (queue != nil && !validQueue(queue)) {
		c.sendErr("Invalid Subject")
		return nil
	}
	if p := c.perms.Load(); p != nil && !p.subAllowed(subject, queue) {
		if queue != nil {
			c.sendErr(fmt.Sprintf("Permissions Violation for Subscription to %q using queue %q", subject, queue))
		} else {
			c.sendErr(fmt.Sprintf("Permissions Violation for Subscription to %q", subject))
		}
		return nil
	}
	// One allocation holds subject, queue and sid.
	buf := make([]byte, 0, len(subject)+len(queue)+len(sid))
	buf = append(buf, subject...)
	buf = append(buf, queue...)
	buf = append(buf, sid...)
	sub := &subscription{client: c, subject: buf[:len(subject):len(subject)], sid: buf[len(subject)+len(queue):]}
	if queue != nil {
		sub.queue = buf[len(subject) : len(subject)+len(queue) : len(subject)+len(queue)]
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return errClientClosed
	}
	if _, dup := c.subs[string(sid)]; dup {
		// nats-server keeps the first subscription for a reused sid.
		c.mu.Unlock()
		c.okIfVerbose()
		return nil
	}
	if max := c.srv.opts.MaxSubs; max > 0 && len(c.subs) >= max {
		c.mu.Unlock()
		c.sendErr("maximum subscriptions exceeded")
		return nil
	}
	c.subs[string(sub.sid)] = sub
	c.mu.Unlock()
	if err := c.srv.sl.insert(sub); err != nil {
		c.mu.Lock()
		delete(c.subs, string(sub.sid))
		c.mu.Unlock()
		c.sendErr("Invalid Subject")
		return nil
	}
	// A close or a reload (Server.Reload, from another goroutine) may have run
	// between the checks above and the insert: undo a subscription it dropped
	// or would have refused, or the sublist would keep it.
	c.mu.Lock()
	stale := c.closed || c.subs[string(sid)] != sub
	revoked := false
	if p := c.perms.Load(); !stale && p != nil && !p.subAllowed(subject, queue) {
		delete(c.subs, string(sid))
		stale, revoked = true, true
	}
	c.mu.Unlock()
	if stale {
		_ = c.srv.sl.remove(sub)
		if revoked && queue != nil {
			c.sendErr(fmt.Sprintf("Permissions Violation for Subscription to %q using queue %q", subject, queue))
		} else if revoked {
			c.sendErr(fmt.Sprintf("Permissions Violation for Subscription to %q", subject))
		}
		return nil
	}
	c.okIfVerbose()
	return nil
}

// processUnsub handles "UNSUB sid [max]".
func (c *client) processUnsub(line []byte) error {
	var a [2][]byte
	args, ok := splitArgs(a[:0], line)
	if !ok || len(args) == 0 {
		return errBadArgs
	}
	max := -1
	if len(args) == 2 {
		if max = parseSize(args[1]); max < 0 {
			return errBadArgs
		}
	}
	if c.srv.trace {
		c.srv.logger.Log(nil, LevelTrace, "<<- UNSUB", "cid", c.cid, "sid", string(args[0]), "max", max)
	}
	c.mu.Lock()
	sub := c.subs[string(args[0])]
	remove := false
	if sub != nil {
		if max > 0 && sub.nm < int64(max) {
			sub.max = int64(max)
		} else {
			remove = true
			delete(c.subs, string(sub.sid))
		}
	}
	c.mu.Unlock()
	if remove {
		_ = c.srv.sl.remove(sub)
	}
	c.okIfVerbose()
	return nil
}

func (c *client) processPing() error {
	if c.srv.trace {
		c.srv.logger.Log(nil, LevelTrace, "<<- PING", "cid", c.cid)
	}
	c.sendProto("PONG\r\n")
	return nil
}

func (c *client) processPong() error {
	c.mu.Lock()
	c.pingOut = 0
	if !c.pingSent.IsZero() {
		c.rtt = time.Since(c.pingSent)
		c.pingSent = time.Time{}
	}
	c.mu.Unlock()
	return nil
}

func (c *client) processInfo([]byte) error { return nil }
func (c *client) processOK() error         { return nil }

// processErr: a client reporting an error to the server is closing.
func (c *client) processErr(arg []byte) error {
	c.srv.logger.Debug("client sent -ERR", "cid", c.cid, "err", string(arg))
	return errClientClosed
}

// processConnect applies the CONNECT document and authenticates.
func (c *client) processConnect(arg []byte) error {
	c.mu.Lock()
	opts := c.opts
	c.mu.Unlock()
	if err := json.Unmarshal(arg, &opts); err != nil {
		return errBadArgs
	}
	if c.srv.trace {
		c.srv.logger.Log(nil, LevelTrace, "<<- CONNECT", "cid", c.cid, "name", opts.Name, "lang", opts.Lang, "version", opts.Version)
	}
	// authenticate sets c.user and c.perms; it runs even when auth is off, to
	// record the identity a reload may need to re-check (see auth.go).
	if !c.srv.authenticate(c, &opts) {
		c.srv.authFailures.Add(1)
		return errAuthViolation
	}
	if opts.Protocol < 0 || opts.Protocol > 1 {
		c.sendErr("invalid client protocol")
		return errBadArgs
	}
	if opts.NoResponders && !opts.Headers {
		c.sendErr("no responders requires headers support")
		return errBadArgs
	}
	// Credentials are not kept once checked.
	opts.Pass, opts.AuthToken, opts.Sig, opts.JWT = "", "", "", ""
	c.mu.Lock()
	c.opts = opts
	c.authed = true
	if c.authTmr != nil {
		c.authTmr.Stop()
		c.authTmr = nil
	}
	c.mu.Unlock()
	c.okIfVerbose()
	return nil
}

func (c *client) okIfVerbose() {
	if c.opts.Verbose {
		c.sendProto("+OK\r\n")
	}
}

// sendErr queues -ERR 'text'.
func (c *client) sendErr(text string) {
	c.queue([]byte("-ERR '" + text + "'\r\n"))
}

func (c *client) sendProto(p string) { c.queue([]byte(p)) }

// queue adds raw protocol bytes to c's own outbound data; they go out after
// the current read has been processed.
func (c *client) queue(b []byte) {
	c.mu.Lock()
	if !c.closed {
		c.out.write(&c.srv.pool, b)
	}
	c.mu.Unlock()
	c.addPCD(c)
}

// queueAndFlush is queue for callers outside the reader (timers, the server).
func (c *client) queueAndFlush(b []byte) {
	c.mu.Lock()
	if !c.closed {
		c.out.write(&c.srv.pool, b)
	}
	c.mu.Unlock()
	c.signalFlush()
}

// addPCD remembers that d has data to flush once this read is processed.
func (c *client) addPCD(d *client) {
	if c.pcdm != nil {
		if !c.pcdm[d] {
			c.pcdm[d] = true
			c.pcd = append(c.pcd, d)
		}
		return
	}
	for _, x := range c.pcd {
		if x == d {
			return
		}
	}
	c.pcd = append(c.pcd, d)
	if len(c.pcd) > 16 {
		c.pcdm = make(map[*client]bool, 64)
		for _, x := range c.pcd {
			c.pcdm[x] = true
		}
	}
}

// flushPCD sends what this read queued for each client it wrote to.
func (c *client) flushPCD() {
	for i, d := range c.pcd {
		d.flushInline()
		c.pcd[i] = nil
	}
	c.pcd = c.pcd[:0]
	if c.pcdm != nil {
		clear(c.pcdm)
	}
}

// flushInline writes c's queued data from the calling goroutine with one
// non-blocking writev, which saves waking c's writer on the hot path. Whatever
// the socket does not take at once is left to the writer, so a slow client
// never stalls the publisher calling this.
func (c *client) flushInline() {
	if c.raw == nil {
		c.signalFlush()
		return
	}
	c.mu.Lock()
	if c.writing || c.closed || c.out.pending == 0 {
		busy := c.writing || c.closed
		c.mu.Unlock()
		if busy {
			c.signalFlush()
		}
		return
	}
	c.writing = true
	q := c.fl.take(&c.out)
	c.mu.Unlock()
	n, err := c.fl.trySend(c.raw, q)
	c.mu.Lock()
	c.fl.requeue(&c.out, &c.srv.pool, q, n)
	c.out.pending -= n
	c.releaseStallLocked()
	c.writing = false
	more := c.out.pending > 0 || c.closed
	c.mu.Unlock()
	if err != nil {
		c.close(closeWriteError, false)
		return
	}
	if more {
		c.signalFlush()
	}
}

func (c *client) signalFlush() {
	select {
	case c.flushCh <- struct{}{}:
	default:
	}
}

// readLoop reads and parses until the connection ends.
func (c *client) readLoop() {
	defer c.srv.wg.Done()
	defer c.dropReaderState() // closed clients are remembered for /connz: keep them small
	buf := make([]byte, minReadBuf)
	small := 0 // consecutive reads that used under a quarter of buf
	for {
		n, err := c.conn.Read(buf)
		if n > 0 {
			c.lastIn.Store(time.Now().UnixNano())
			perr := c.ps.parse(buf[:n], c)
			c.addReadStats() // before the flush: a client seeing its PONG sees itself counted
			c.flushPCD()
			if c.stallOn != nil {
				c.waitStall()
			}
			if perr != nil {
				c.closeOnError(perr)
				return
			}
			switch {
			case n == len(buf) && len(buf) < maxReadBuf:
				buf = make([]byte, len(buf)*2)
				small = 0
			case n < len(buf)/4 && len(buf) > minReadBuf:
				if small++; small > 2 {
					buf = make([]byte, len(buf)/2)
					small = 0
				}
			default:
				small = 0
			}
		}
		if err != nil {
			c.close(closeClient, false)
			return
		}
	}
}

// Back-pressure on fast producers, as nats-server applies it: once a consumer's
// pending bytes pass three quarters of max_pending, a producer that wrote to it
// waits, before reading more from its own socket, until the consumer drains below
// that mark or maxStall passes. TCP then slows the publisher to the pace of its
// consumers; a consumer that does not drain at all still reaches max_pending and
// is cut off as a slow consumer.
const maxStall = 5 * time.Millisecond

func (c *client) waitStall() {
	ch := c.stallOn
	c.stallOn = nil
	if c.stallTmr == nil {
		c.stallTmr = time.NewTimer(maxStall)
	} else {
		c.stallTmr.Reset(maxStall)
	}
	select {
	case <-ch:
		c.stallTmr.Stop()
	case <-c.stallTmr.C:
	}
}

// sent accounts for n bytes the writer sent; it takes c.mu itself.
func (c *client) sent(n int64) {
	c.mu.Lock()
	c.out.pending -= n
	c.releaseStallLocked()
	c.mu.Unlock()
}

// releaseStallLocked lets waiting producers go once c drained below the mark.
func (c *client) releaseStallLocked() {
	if c.stall != nil && c.out.pending <= c.srv.stallMark {
		close(c.stall)
		c.stall = nil
	}
}

// addReadStats publishes the counts of the read just processed.
func (c *client) addReadStats() {
	if c.readMsgs == 0 {
		return
	}
	c.inMsgs.Add(c.readMsgs)
	c.inBytes.Add(c.readBytes)
	c.srv.inMsgs.Add(c.readMsgs)
	c.srv.inBytes.Add(c.readBytes)
	if c.readOut > 0 {
		c.srv.outMsgs.Add(c.readOut)
		c.srv.outBytes.Add(c.readOutBytes)
	}
	c.readMsgs, c.readBytes, c.readOut, c.readOutBytes = 0, 0, 0, 0
}

func (c *client) dropReaderState() {
	c.ps = parseState{}
	c.msgh, c.pcd, c.pcdm = nil, nil, nil
	c.msc = matchScratch{}
}

// closeOnError tells the client why, where nats-server does, and closes.
func (c *client) closeOnError(err error) {
	reason := closeProtocolViolation
	switch err {
	case errUnknownOp, errBadPayloadEnd:
		c.sendErr("Unknown Protocol Operation")
	case errMaxControlLine:
		c.sendErr("maximum control line exceeded")
		reason = closeMaxControlLine
	case errMaxPayload:
		c.sendErr("Maximum Payload Violation")
		reason = closeMaxPayload
	case errAuthViolation:
		c.sendErr("Authorization Violation")
		reason = closeAuthViolation
	case errClientClosed:
		reason = closeClient
	}
	if c.srv.debug {
		c.srv.logger.Debug("closing connection", "cid", c.cid, "reason", reason.String(), "err", err)
	}
	c.close(reason, true)
}

// writeLoop sends queued data until the connection is closed.
func (c *client) writeLoop() {
	defer c.srv.wg.Done()
	wd := c.srv.opts.WriteDeadline
	for range c.flushCh {
		c.mu.Lock()
		for c.out.pending > 0 && !c.noFlush && !c.writing {
			c.writing = true
			q := c.fl.take(&c.out)
			c.mu.Unlock()
			_ = c.conn.SetWriteDeadline(time.Now().Add(wd))
			_, err := c.fl.send(c.conn, &c.srv.pool, q, c.srv.writeChunks, c.sent)
			// No deadline between flushes: the inline path must not trip on a stale one.
			_ = c.conn.SetWriteDeadline(time.Time{})
			c.mu.Lock()
			c.writing = false
			if err != nil {
				c.noFlush = true
				c.mu.Unlock()
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					c.slowConsumer(closeSlowConsumerDeadline)
				} else {
					c.close(closeWriteError, false)
				}
				c.mu.Lock()
			}
		}
		// An inline flush in progress signals again when it is done.
		closed := c.closed && !c.writing
		if closed {
			for _, b := range c.out.chunks {
				c.srv.pool.put(b) // never sent: the connection was cut
			}
			c.out.chunks, c.out.pending = nil, 0
		}
		c.mu.Unlock()
		if closed {
			_ = c.conn.Close()
			c.fl = flusher{}
			return
		}
	}
}

// slowConsumer closes a client that cannot keep up, without waiting on it.
func (c *client) slowConsumer(reason closeReason) {
	if c.close(reason, false) {
		c.srv.slowConsumers.Add(1)
		c.srv.logger.Warn("slow consumer, closing", "cid", c.cid, "reason", reason.String())
	}
}

// close ends the connection once. With flush, queued data (an -ERR, say) is
// sent first, bounded by the write deadline.
func (c *client) close(reason closeReason, flush bool) bool {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return false
	}
	c.closed = true
	c.reason = reason
	c.stop = time.Now()
	if !flush {
		c.noFlush = true
	}
	subs := make([]*subscription, 0, len(c.subs))
	for _, s := range c.subs {
		subs = append(subs, s)
	}
	if c.pingTmr != nil {
		c.pingTmr.Stop()
	}
	if c.authTmr != nil {
		c.authTmr.Stop()
	}
	if c.stall != nil {
		close(c.stall) // producers waiting on c go on
		c.stall = nil
	}
	c.mu.Unlock()

	if !flush {
		_ = c.conn.Close() // unblocks a writer stuck on a slow socket
	}
	c.signalFlush()
	if len(subs) > 0 {
		c.srv.sl.removeBatch(subs)
	}
	c.srv.removeClient(c)
	if c.srv.debug {
		c.srv.logger.Debug("client closed", "cid", c.cid, "addr", c.host, "reason", reason.String())
	}
	return true
}

// pingTimer fires every PingInterval: it pings an idle client and closes one
// that left MaxPingsOut pings unanswered.
func (c *client) pingTimer() {
	opts := &c.srv.opts
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	idle := time.Since(time.Unix(0, c.lastIn.Load()))
	if idle >= opts.PingInterval || c.pingOut > 0 {
		if c.pingOut+1 > opts.MaxPingsOut {
			c.out.write(&c.srv.pool, []byte("-ERR 'Stale Connection'\r\n"))
			c.srv.staleConnections.Add(1) // counted before the client can see the close
			c.mu.Unlock()
			c.close(closeStale, true)
			return
		}
		c.pingOut++
		c.pingSent = time.Now()
		c.out.write(&c.srv.pool, []byte("PING\r\n"))
	}
	c.pingTmr.Reset(opts.PingInterval)
	c.mu.Unlock()
	c.signalFlush()
}

// traceIn logs an inbound message at trace level.
func (c *client) traceIn(op string, subject, reply []byte, size int) {
	c.srv.logger.Log(nil, LevelTrace, "<<- "+op, "cid", c.cid, "subject", string(subject), "reply", string(reply), "size", size)
}

// LevelTrace is the slog level busd logs every protocol operation at (-V).
const LevelTrace = slog.Level(-8)
