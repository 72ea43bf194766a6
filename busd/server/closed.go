package server

// closedConnsKept is how many closed connections /connz?state=closed remembers,
// as nats-server's default.
const closedConnsKept = 10000

// closedRing remembers the most recently closed clients, oldest first.
// It is guarded by the server's mu.
type closedRing struct {
	buf  []*client
	next int
	full bool
}

func newClosedRing(n int) *closedRing { return &closedRing{buf: make([]*client, 0, n)} }

func (r *closedRing) add(c *client) {
	if len(r.buf) < cap(r.buf) {
		r.buf = append(r.buf, c)
		return
	}
	r.buf[r.next] = c
	r.next = (r.next + 1) % len(r.buf)
	r.full = true
}

// list returns the remembered clients, oldest first.
func (r *closedRing) list() []*client {
	out := make([]*client, 0, len(r.buf))
	if r.full {
		out = append(out, r.buf[r.next:]...)
		out = append(out, r.buf[:r.next]...)
		return out
	}
	return append(out, r.buf...)
}
