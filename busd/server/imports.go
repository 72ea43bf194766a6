package server

// Service and stream imports, as nats-server applies them.
//
// A service import of account A from account B is an internal subscription
// in A's sublist on the local subject. A request published there is
// re-published in B on the exported subject, with a Nats-Request-Info header
// naming A (and, with share, the requester), and with its reply subject
// replaced by a fresh one of B's, _R_.<account id>.<request id>. B's
// internal subscription on _R_.<account id>.> takes the responder's reply
// back to A, on the requester's reply subject and nowhere else: the responder
// never learns a subject of A it could publish to. The mapping lasts for one
// reply (singleton) or, for streamed and chunked exports, until an empty
// message ends the stream or the response threshold passes without a reply.
// A request that reaches no subscriber in B has no responders, and the
// requester gets its 503 as with any request.
//
// A stream import of account A from B is an internal subscription in B's
// sublist on the exported subject; it re-publishes each message in A under
// the prefix or the remapped subject, reply subject unchanged, to A's clients
// only. A message that entered B through a service import is not passed on
// to B's stream importers (as in nats-server), and a chain of imports is cut
// after maxImportHops.

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"
)

// svcImport is one service import at run time.
type svcImport struct {
	importer, exporter *account
	cfg                *Import
	local, remote      string
	m                  *subjectMap // local subject to the exporter's
	rt                 ResponseType
	thresh             time.Duration
	share              bool
}

// streamImport is one stream import at run time.
type streamImport struct {
	importer, exporter *account
	cfg                *Import
	prefix             string      // with its trailing '.', or ""
	m                  *subjectMap // when To remaps the subject
}

// installImport adds the internal subscription for im, an import of a. The
// exporter is in as and authorized the import (checkAccounts).
func (a *account) installImport(as *accountSet, im *Import) {
	exp := as.lookup(im.Account)
	if exp == nil || exp.cfg == nil {
		return
	}
	e := findExport(exp.cfg, im.Service, im.Subject, a.name)
	if e == nil {
		return
	}
	if im.Service {
		si := &svcImport{importer: a, exporter: exp, cfg: im, local: im.localSubject(), remote: im.Subject,
			rt: e.ResponseType, thresh: e.ResponseThreshold, share: im.Share}
		if si.thresh <= 0 {
			si.thresh = DefaultResponseThreshold
		}
		m, err := newSubjectMap(si.local, si.remote)
		if err != nil {
			return
		}
		si.m = m
		a.subscribeInternal(a, si.local, si.handle)
		a.mu.Lock()
		a.services = append(a.services, si)
		a.mu.Unlock()
		return
	}
	st := &streamImport{importer: a, exporter: exp, cfg: im}
	switch {
	case im.Prefix != "":
		st.prefix = im.Prefix + "."
	case im.To != "" && im.To != im.Subject:
		m, err := newSubjectMap(im.Subject, im.To)
		if err != nil {
			return
		}
		st.m = m
	}
	exp.subscribeInternal(a, im.Subject, st.handle)
	a.mu.Lock()
	a.streams = append(a.streams, st)
	a.mu.Unlock()
}

// fwdState is where a message being routed came from; it lives on the
// routing client and is saved and restored around each crossing.
type fwdState struct {
	depth      int8
	viaService bool // entered this account through a service import or its reply
	viaStream  bool // entered this account through a stream import
}

// hopScratch is a client's buffers for routing at one import depth.
type hopScratch struct {
	msc        matchScratch
	pa         pubArg // the message as re-published (kept here: a local would escape)
	subj, rply []byte
	info, buf  []byte // Nats-Request-Info; payload with a rewritten header block
}

// hop returns the client's scratch for the next import depth.
func (c *client) hop() *hopScratch {
	d := int(c.fwd.depth)
	for len(c.hops) <= d {
		c.hops = append(c.hops, new(hopScratch))
	}
	return c.hops[d]
}

// handle re-publishes a request in the exporting account.
func (si *svcImport) handle(c *client, _ *subscription, pa *pubArg, payload []byte) bool {
	if c.fwd.depth >= maxImportHops {
		return false
	}
	hs := c.hop()
	hs.subj = si.m.apply(hs.subj[:0], pa.subject)
	var reply []byte
	if len(pa.reply) > 0 {
		hs.rply = si.exporter.resp.add(hs.rply[:0], si.exporter, si.importer, pa.reply, si.rt, si.thresh)
		reply = hs.rply
	}
	var svc *account
	if c.fwd.viaService {
		svc = si.importer // a chained import: the request passes through this account
	}
	hs.info = c.requestInfo(hs.info[:0], si.share, svc)
	var hdr int
	hs.buf, hdr = setRequestInfo(hs.buf[:0], payload, pa.hdr, hs.info)
	hs.pa = pubArg{subject: hs.subj, reply: reply, hdr: hdr, size: len(hs.buf)}
	saved := c.fwd
	c.fwd = fwdState{depth: saved.depth + 1, viaService: true}
	n := c.routeIn(si.exporter, &hs.pa, hs.buf, &hs.msc)
	c.fwd = saved
	if n == 0 && reply != nil {
		si.exporter.resp.remove(reply)
	}
	return n > 0
}

// handle re-publishes a stream message in the importing account.
func (st *streamImport) handle(c *client, _ *subscription, pa *pubArg, payload []byte) bool {
	if c.fwd.viaService || c.fwd.depth >= maxImportHops {
		return false
	}
	hs := c.hop()
	switch {
	case st.prefix != "":
		hs.subj = append(append(hs.subj[:0], st.prefix...), pa.subject...)
	case st.m != nil:
		hs.subj = st.m.apply(hs.subj[:0], pa.subject)
	default:
		hs.subj = append(hs.subj[:0], pa.subject...)
	}
	hs.pa = pubArg{subject: hs.subj, reply: pa.reply, hdr: pa.hdr, size: pa.size}
	saved := c.fwd
	c.fwd = fwdState{depth: saved.depth + 1, viaStream: true}
	n := c.routeIn(st.importer, &hs.pa, payload, &hs.msc)
	c.fwd = saved
	return n > 0
}

// respTable maps the reply subjects an account hands its responders to the
// requests they answer.
type respTable struct {
	mu    sync.Mutex
	pre   string // "_R_.<6 chars>."; set with the first request
	m     map[string]respEntry
	tmr   *time.Timer
	every time.Duration // sweep interval: the shortest threshold seen
}

// respEntry is one outstanding request.
type respEntry struct {
	dest   *account // where replies go
	reply  string   // the requester's reply subject there
	rt     ResponseType
	thresh time.Duration
	ts     time.Time // creation or last reply
}

const replyDigits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

func appendRandToken(b []byte, n int) []byte {
	r := rand.Uint64()
	for range n {
		b = append(b, replyDigits[r%62])
		r /= 62
	}
	return b
}

// add records a request from dest with reply subject reply, served in a
// (owner of t), and appends the reply subject a's responders see to buf.
func (t *respTable) add(buf []byte, a, dest *account, reply []byte, rt ResponseType, thresh time.Duration) []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.pre == "" {
		t.pre = string(appendRandToken([]byte("_R_."), 6)) + "."
		sub := &subscription{subject: []byte(t.pre + ">"), sid: []byte("internal"), icb: a.handleResponse}
		if a.sl.insert(sub) == nil {
			a.nint.Add(1)
			a.intInserts.Add(1)
		}
		t.m = make(map[string]respEntry)
	}
	for {
		buf = appendRandToken(append(buf[:0], t.pre...), 6)
		if _, dup := t.m[string(buf)]; !dup {
			break
		}
	}
	// The key and the requester's reply share one allocation.
	both := string(append(buf, reply...))
	key := both[:len(buf)]
	t.m[key] = respEntry{dest: dest, reply: both[len(buf):], rt: rt, thresh: thresh, ts: time.Now()}
	if t.tmr == nil || thresh < t.every {
		if t.tmr != nil {
			t.tmr.Stop()
		}
		t.every = thresh
		t.tmr = time.AfterFunc(thresh, t.sweep)
	}
	return buf
}

// get looks up the reply subject subj.
func (t *respTable) get(subj []byte) (respEntry, bool) {
	t.mu.Lock()
	e, ok := t.m[string(subj)]
	t.mu.Unlock()
	return e, ok
}

func (t *respTable) remove(subj []byte) {
	t.mu.Lock()
	delete(t.m, string(subj))
	t.mu.Unlock()
}

// touch records a reply to a streamed request.
func (t *respTable) touch(subj []byte) {
	t.mu.Lock()
	if e, ok := t.m[string(subj)]; ok {
		e.ts = time.Now()
		t.m[string(subj)] = e
	}
	t.mu.Unlock()
}

// sweep forgets requests whose threshold passed without a reply.
func (t *respTable) sweep() {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, e := range t.m {
		if now.Sub(e.ts) >= e.thresh {
			delete(t.m, k)
		}
	}
	if len(t.m) == 0 {
		t.tmr = nil
		return
	}
	t.tmr.Reset(t.every)
}

// pending is the number of outstanding requests, for /accountz.
func (t *respTable) pending() map[string]respEntry {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]respEntry, len(t.m))
	for k, e := range t.m {
		out[k] = e
	}
	return out
}

// handleResponse takes a reply published on one of a's _R_ subjects back to
// the requester. A reply that itself carries a reply subject (a responder
// asking back) gets one of the requester's account, mapped the same way.
func (a *account) handleResponse(c *client, _ *subscription, pa *pubArg, payload []byte) bool {
	e, ok := a.resp.get(pa.subject)
	if !ok || c.fwd.depth >= maxImportHops {
		return false
	}
	hs := c.hop()
	hs.subj = append(hs.subj[:0], e.reply...)
	var reply []byte
	if len(pa.reply) > 0 {
		hs.rply = e.dest.resp.add(hs.rply[:0], e.dest, a, pa.reply, Singleton, e.thresh)
		reply = hs.rply
	}
	hs.pa = pubArg{subject: hs.subj, reply: reply, hdr: pa.hdr, size: pa.size}
	saved := c.fwd
	c.fwd = fwdState{depth: saved.depth + 1, viaService: true}
	n := c.routeIn(e.dest, &hs.pa, payload, &hs.msc)
	c.fwd = saved
	if n == 0 && reply != nil {
		e.dest.resp.remove(reply)
	}
	if n == 0 || e.rt == Singleton || len(payload) == 0 {
		a.resp.remove(pa.subject)
	} else {
		a.resp.touch(pa.subject)
	}
	return n > 0
}

// requestInfo is the Nats-Request-Info value for a request c publishes
// through a service import: its account and RTT, and with share who it is.
// svc names the account a chained request passes through.
func (c *client) requestInfo(b []byte, share bool, svc *account) []byte {
	c.mu.Lock()
	rtt := c.rtt
	var ci *clientInfo
	if share {
		ci = c.clientInfoLocked()
	}
	c.mu.Unlock()
	acc := c.account()
	if ci != nil {
		ci.RTT = rtt
		if svc != nil {
			ci.Service = svc.name
		}
		ci.Server = c.srv.opts.ServerName
		j, _ := json.Marshal(ci)
		return append(b, j...)
	}
	b = append(b, `{"acc":`...)
	b = append(b, acc.jname...)
	if svc != nil {
		b = append(b, `,"svc":`...)
		b = append(b, svc.jname...)
	}
	if rtt > 0 {
		b = append(b, `,"rtt":`...)
		b = strconv.AppendInt(b, int64(rtt), 10)
	}
	return append(b, '}')
}

// requestInfoHeader is the header a service import sets on every request;
// one a client sent itself is replaced, so the exporter can trust it.
const requestInfoHeader = "Nats-Request-Info"

// setRequestInfo appends to buf the message payload (with a header block of
// hdr bytes, or none when hdr < 0) with its Nats-Request-Info header set to
// info, and returns it with its new header block length.
func setRequestInfo(buf, payload []byte, hdr int, info []byte) ([]byte, int) {
	body := payload
	if hdr < 0 {
		buf = append(buf, "NATS/1.0\r\n"...)
	} else {
		block := payload[:hdr]
		body = payload[hdr:]
		first := true
		for len(block) > 0 {
			line, rest, _ := bytes.Cut(block, crlf) // a block cut short ends with its last line
			block = rest
			if len(line) == 0 {
				break // the blank line ending the block
			}
			if !first && headerKeyIs(line, requestInfoHeader) {
				continue
			}
			first = false
			buf = append(buf, line...)
			buf = append(buf, crlf...)
		}
		if first {
			buf = append(buf, "NATS/1.0\r\n"...)
		}
	}
	buf = append(buf, requestInfoHeader...)
	buf = append(buf, ": "...)
	buf = append(buf, info...)
	buf = append(buf, "\r\n\r\n"...)
	n := len(buf)
	return append(buf, body...), n
}

// headerKeyIs reports whether a header line has the key key (ASCII
// case-insensitive, as MIME header keys are).
func headerKeyIs(line []byte, key string) bool {
	if len(line) <= len(key) || line[len(key)] != ':' {
		return false
	}
	return bytes.EqualFold(line[:len(key)], []byte(key))
}
