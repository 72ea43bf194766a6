package server

// The protocol ops a client sends, as the parser hands them over: CONNECT
// (and authentication), PUB/HPUB arguments and payloads, SUB, UNSUB, PING and
// PONG, and the +OK/-ERR replies they produce.

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"
)

// awaitingAuth reports whether auth is required and not yet passed, so that
// the only op allowed is CONNECT. Only the reader sets authed.
func (c *client) awaitingAuth() bool { return !c.authed && c.srv.authRequired() }

// headersOK reports whether the client may send HPUB.
func (c *client) headersOK() bool { return c.opts.Headers }

// processMsg routes one published message.
func (c *client) processMsg(pa *pubArg, payload []byte) error {
	c.readMsgs++
	c.readBytes += int64(len(payload))
	if c.srv.trace.Load() {
		c.traceIn("PUB", pa.subject, pa.reply, len(payload))
	}
	if c.opts.Pedantic && !validLiteralSubject(pa.subject) {
		// Said, but the message still goes, as with nats-server.
		c.sendErr("Invalid Publish Subject")
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
	if c.srv.trace.Load() {
		c.srv.logger.Log(context.Background(), LevelTrace, "<<- SUB", "cid", c.cid, "subject", string(subject), "queue", string(queue), "sid", string(sid))
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
	if max := c.srv.live().MaxSubs; max > 0 && len(c.subs) >= max {
		c.mu.Unlock()
		c.sendErr("maximum subscriptions exceeded")
		return nil
	}
	c.subs[string(sub.sid)] = sub
	c.mu.Unlock()
	sl := c.account().sl
	if err := sl.insert(sub); err != nil {
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
		sub.closed = true
		stale, revoked = true, true
	}
	c.mu.Unlock()
	if stale {
		_ = sl.remove(sub)
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
		max = parseSize(args[1]) // not a size: a plain UNSUB, as nats-server reads it
	}
	if c.srv.trace.Load() {
		c.srv.logger.Log(context.Background(), LevelTrace, "<<- UNSUB", "cid", c.cid, "sid", string(args[0]), "max", max)
	}
	c.mu.Lock()
	sub := c.subs[string(args[0])]
	remove := false
	if sub != nil {
		if max > 0 && sub.nm < int64(max) {
			sub.max = int64(max)
		} else {
			remove = true
			sub.closed = true
			delete(c.subs, string(sub.sid))
		}
	}
	c.mu.Unlock()
	if remove {
		_ = c.account().sl.remove(sub)
	}
	c.okIfVerbose()
	return nil
}

func (c *client) processPing() error {
	if c.srv.trace.Load() {
		c.srv.logger.Log(context.Background(), LevelTrace, "<<- PING", "cid", c.cid)
	}
	c.sendProto("PONG\r\n")
	if !c.pongSent {
		c.connectInfo()
	}
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

// processInfo accepts an INFO from a client, which means nothing to a server,
// as long as it is a JSON object (or null), as nats-server does.
func (c *client) processInfo(arg []byte) error {
	var v struct{}
	if json.Unmarshal(arg, &v) != nil {
		return errBadArgs
	}
	return nil
}

func (c *client) processOK() error { return nil }

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
	if c.srv.trace.Load() {
		c.srv.logger.Log(context.Background(), LevelTrace, "<<- CONNECT", "cid", c.cid, "name", opts.Name, "lang", opts.Lang, "version", opts.Version)
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
	first := !c.authed
	c.authed = true
	if c.authTmr != nil {
		c.authTmr.Stop()
		c.authTmr = nil
	}
	c.mu.Unlock()
	c.okIfVerbose()
	if first {
		c.srv.clientConnected(c)
	}
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

// traceIn logs an inbound message at trace level.
func (c *client) traceIn(op string, subject, reply []byte, size int) {
	c.srv.logger.Log(context.Background(), LevelTrace, "<<- "+op, "cid", c.cid, "subject", string(subject), "reply", string(reply), "size", size)
}

// LevelTrace is the slog level busd logs every protocol operation at (-V).
const LevelTrace = slog.Level(-8)
