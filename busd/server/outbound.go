package server

import (
	"net"
	"sync"
)

// A client's outbound data is a queue of fixed-size chunks. Publishers append
// to it under the client's lock, and the client's writer takes the whole queue
// at once and sends it with one writev, so a fast publisher feeding many
// subscribers costs one syscall per subscriber per batch, not per message.

const chunkSize = 32 * 1024

// chunkPool recycles outbound chunks. It belongs to a Server, not the package,
// so two servers in one process share nothing.
type chunkPool struct{ p sync.Pool }

func (cp *chunkPool) get() []byte {
	if a, ok := cp.p.Get().(*[chunkSize]byte); ok {
		return a[:0]
	}
	return new([chunkSize]byte)[:0]
}

func (cp *chunkPool) put(b []byte) {
	if cap(b) != chunkSize {
		return
	}
	cp.p.Put((*[chunkSize]byte)(b[:chunkSize]))
}

// outbound is the data queued for one client, guarded by the client's mu.
type outbound struct {
	chunks  [][]byte // oldest first; only the last one may have room
	pending int64    // bytes queued or being written
}

// writeMsg appends a message line, its payload and CRLF; when they fit in the
// current chunk, as nearly all small messages do, that is three plain copies.
func (o *outbound) writeMsg(pool *chunkPool, line, body []byte) {
	if n := len(o.chunks); n > 0 {
		last := o.chunks[n-1]
		total := len(line) + len(body) + 2
		if cap(last)-len(last) >= total {
			k := len(last)
			last = last[:k+total]
			k += copy(last[k:], line)
			k += copy(last[k:], body)
			last[k], last[k+1] = '\r', '\n'
			o.chunks[n-1] = last
			o.pending += int64(total)
			return
		}
	}
	o.write(pool, line)
	o.write(pool, body)
	o.write(pool, crlf)
}

// write appends p to the queue.
func (o *outbound) write(pool *chunkPool, p []byte) {
	o.pending += int64(len(p))
	for len(p) > 0 {
		n := len(o.chunks)
		if n == 0 || len(o.chunks[n-1]) == cap(o.chunks[n-1]) {
			o.chunks = append(o.chunks, pool.get())
			n++
		}
		last := o.chunks[n-1]
		k := copy(last[len(last):cap(last)], p)
		o.chunks[n-1] = last[:len(last)+k]
		p = p[k:]
	}
}

// flusher is the writer side of an outbound queue: it owns the slices the
// queue is swapped into, so taking the queue allocates nothing.
type flusher struct {
	spare       [][]byte    // the previous queue's backing array, reused
	wv          net.Buffers // the writev vector (WriteTo consumes it)
	iov         []iovec     // writev vector for the non-blocking path (unix)
	writevState             // the non-blocking writev callback and its results (unix)
}

// take moves the queued chunks out of o; the caller holds the client's lock.
func (f *flusher) take(o *outbound) [][]byte {
	q := o.chunks
	o.chunks = f.spare[:0]
	f.spare = nil
	return q
}

// send writes q to conn with writev, at most per chunks a call, reporting each
// call's bytes to sent so the queue's pending count falls as the socket drains
// (producers stalled on this client are released as early as possible). It
// recycles the chunks and returns the bytes written in all.
func (f *flusher) send(conn net.Conn, pool *chunkPool, q [][]byte, per int, sent func(int64)) (int64, error) {
	var total int64
	var err error
	for start := 0; start < len(q) && err == nil; start += per {
		f.wv = append(f.wv[:0], q[start:min(start+per, len(q))]...)
		var n int64
		n, err = f.wv.WriteTo(conn)
		total += n
		sent(n)
	}
	for i, b := range q {
		pool.put(b)
		q[i] = nil
	}
	f.spare = q[:0]
	clear(f.wv[:cap(f.wv)])
	return total, err
}

// requeue puts the unsent tail of q (after n bytes went out) back in front of
// whatever was queued meanwhile, and recycles the chunks that went out whole.
func (f *flusher) requeue(o *outbound, pool *chunkPool, q [][]byte, n int64) {
	var rest [][]byte
	for i, b := range q {
		switch {
		case n >= int64(len(b)):
			n -= int64(len(b))
			pool.put(b)
		case rest == nil:
			rest = make([][]byte, 0, len(q)-i+len(o.chunks))
			rest = append(rest, b[n:]) // a partly sent chunk is not pooled again
			n = 0
		default:
			rest = append(rest, b)
		}
		q[i] = nil
	}
	if rest != nil {
		o.chunks = append(rest, o.chunks...)
	}
	f.spare = q[:0]
}
