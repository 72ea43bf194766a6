package server

// Routing and delivery: a published message is matched against the sublist
// and written, as MSG or HMSG, to each plain subscriber and one member of each
// queue group.

import (
	"context"
	"math/rand/v2"
	"strconv"
)

// route delivers to every plain subscriber and to one member of each queue
// group of the client's account, and reports how many deliveries it made.
func (c *client) route(pa *pubArg, payload []byte) int {
	return c.routeIn(c.account(), pa, payload, &c.msc)
}

// routeIn is route in account a, with sc as match scratch: imports call it
// for the accounts a message crosses into (imports.go). Internal
// subscriptions (imports, system requests) count as deliveries when they
// delivered onward, for no-responders, but not in the traffic counters.
func (c *client) routeIn(a *account, pa *pubArg, payload []byte, sc *matchScratch) int {
	// r may live in sc, valid until the next match on it. Nothing below
	// matches again on sc: deliver may remove an auto-unsubscribed
	// subscription, which changes the trie but not a result already built,
	// and imports route with the scratch of the next depth.
	r := a.sl.matchInto(pa.subject, sc)
	n, hits := 0, 0
	echo := c.opts.Echo
	for _, sub := range r.psubs {
		if sub.client == nil {
			if !c.fwd.viaStream && sub.icb(c, sub, pa, payload) {
				hits++
			}
			continue
		}
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
	sc.release()
	c.readOut += int64(n)
	c.readOutBytes += int64(n * len(payload))
	return n + hits
}

// deliver queues one message for sub's client and reports whether it did.
func (c *client) deliver(sub *subscription, pa *pubArg, payload []byte) bool {
	d := sub.client
	if p := d.perms.Load(); p != nil && !p.deliverAllowed(sub, pa.subject, pa.reply) {
		return false
	}
	d.mu.Lock()
	if d.closed || sub.closed || (sub.max > 0 && sub.nm >= sub.max) {
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

	lo := c.srv.live()
	if d.out.pending+int64(len(mh)+len(body)+2) > lo.MaxPending {
		d.mu.Unlock()
		d.slowConsumer(closeSlowConsumerPending)
		return false
	}
	d.out.writeMsg(&c.srv.pool, mh, body)
	if d.out.pending > lo.stallMark && d != c {
		// d is falling behind: the producer waits for it after this read.
		if d.stall == nil {
			d.stall = make(chan struct{})
		}
		c.stallOn = d.stall
	}
	if c.srv.trace.Load() {
		c.srv.logger.Log(context.Background(), LevelTrace, "->> "+string(mh[:len(mh)-2]), "cid", d.cid)
	}
	d.outMsgs++
	d.outBytes += int64(len(body))
	sub.nm++
	done := sub.max > 0 && sub.nm >= sub.max
	if done {
		sub.closed = true
		delete(d.subs, string(sub.sid))
	}
	d.mu.Unlock()
	if done {
		_ = d.account().sl.remove(sub)
	}
	c.addPCD(d)
	return true
}

var crlf = []byte("\r\n")

// sendNoResponders answers a request that reached nobody with a 503 status on
// the publisher's own reply subscription, as nats-server does.
func (c *client) sendNoResponders(pa *pubArg) {
	var sub *subscription
	r := c.account().sl.matchInto(pa.reply, &c.msc)
	for _, s := range r.psubs {
		if s.client != c {
			continue
		}
		// The subscription on the reply subject itself, as nats-server's
		// match order finds it first, rather than a wildcard (a resp mux)
		// the same client also has.
		if sub == nil || string(s.subject) == string(pa.reply) {
			sub = s
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
