package server

// Closed connections, for /connz?state=closed. A closed connection is kept as
// a small fixed record of what /connz reports about it, never as the client
// itself: its parser state, buffers, permission caches and subscriptions are
// garbage the moment it closes, whatever it sent while it was open.

import "time"

// closedConnsKept is how many closed connections /connz?state=closed remembers,
// as nats-server's default.
const closedConnsKept = 10000

// closedStrMax caps each string a closed record keeps (name, lang, version,
// user), so that 10,000 records cost a few MiB at most whatever clients put in
// their CONNECT.
const closedStrMax = 256

// closedConn is what is left of a closed connection.
type closedConn struct {
	cid                 uint64
	host                string
	port                int
	start, stop, lastIn time.Time
	reason              closeReason
	rtt                 time.Duration
	inMsgs, inBytes     int64
	outMsgs, outBytes   int64
	numSubs             uint32
	name, lang, version string
	user                string
	acc                 string // the account it was bound to
}

// capString returns s cut to closedStrMax bytes, at a UTF-8 boundary, in a
// fresh string that does not pin the client's CONNECT document.
func capString(s string) string {
	if len(s) <= closedStrMax {
		return string([]byte(s)) // a copy: s may be a slice of something larger
	}
	n := closedStrMax
	for n > 0 && s[n]&0xC0 == 0x80 { // do not cut a rune in two
		n--
	}
	return string([]byte(s[:n]))
}

// closedRing remembers the most recently closed connections, oldest first.
// It is guarded by the server's mu.
type closedRing struct {
	buf  []closedConn
	max  int
	next int
	full bool
}

func newClosedRing(n int) *closedRing { return &closedRing{max: n} }

func (r *closedRing) add(cc closedConn) {
	if len(r.buf) < r.max {
		r.buf = append(r.buf, cc)
		return
	}
	r.buf[r.next] = cc
	r.next = (r.next + 1) % len(r.buf)
	r.full = true
}

// list returns a copy of the remembered connections, oldest first.
func (r *closedRing) list() []closedConn {
	out := make([]closedConn, 0, len(r.buf))
	if r.full {
		out = append(out, r.buf[r.next:]...)
		return append(out, r.buf[:r.next]...)
	}
	return append(out, r.buf...)
}

// inTotals sums what the remembered connections published.
func (r *closedRing) inTotals() (msgs, bytes int64) {
	for i := range r.buf {
		msgs += r.buf[i].inMsgs
		bytes += r.buf[i].inBytes
	}
	return msgs, bytes
}

// connInfo is the /connz entry of a closed connection. Its subscriptions
// are counted but not listed: they went with the connection.
func (cc *closedConn) connInfo(o *connzOptions) *connInfo {
	stop := cc.stop
	ci := &connInfo{
		Cid:          cc.cid,
		Kind:         "Client",
		Type:         "nats",
		IP:           cc.host,
		Port:         cc.port,
		Start:        cc.start,
		LastActivity: cc.lastIn,
		Stop:         &stop,
		Reason:       cc.reason.String(),
		InMsgs:       cc.inMsgs,
		InBytes:      cc.inBytes,
		OutMsgs:      cc.outMsgs,
		OutBytes:     cc.outBytes,
		NumSubs:      cc.numSubs,
		Name:         cc.name,
		Lang:         cc.lang,
		Version:      cc.version,
		Uptime:       uptimeString(stop.Sub(cc.start)),
		Idle:         uptimeString(stop.Sub(cc.lastIn)),
		RTT:          rttString(cc.rtt),
		rtt:          cc.rtt,
		user:         cc.user,
	}
	ci.acc = cc.acc
	if o.auth {
		ci.AuthorizedUser = cc.user
		if cc.acc != GlobalAccount {
			ci.Account = cc.acc // as for an open connection
		}
	}
	return ci
}
