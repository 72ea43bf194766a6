package server

// Connection I/O: the reader goroutine that feeds the parser, the writer
// goroutine, the inline flush that saves waking it on the hot path, and the
// back-pressure a fast producer feels from a slow consumer.

import (
	"net"
	"time"
)

// Read buffer sizes: a connection starts small (most are idle) and doubles while
// reads fill it, up to maxReadBuf.
const (
	minReadBuf = 512
	maxReadBuf = 64 * 1024
)

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
		more = true
	}
	// Always tell the writer once it is closed: it may have woken for the
	// close while this flush held writing, and is waiting to exit. (close
	// signals only when it is the one closing.)
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
	if c.stall != nil && c.out.pending <= c.srv.live().stallMark {
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

// writeLoop sends queued data until the connection is closed.
func (c *client) writeLoop() {
	defer c.srv.wg.Done()
	for range c.flushCh {
		c.mu.Lock()
		for c.out.pending > 0 && !c.noFlush && !c.writing {
			c.writing = true
			q := c.fl.take(&c.out)
			c.mu.Unlock()
			lo := c.srv.live()
			_ = c.conn.SetWriteDeadline(time.Now().Add(lo.WriteDeadline))
			_, err := c.fl.send(c.conn, &c.srv.pool, q, lo.writeChunks, c.sent)
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
