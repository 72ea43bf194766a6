package server

import (
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
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
	ps       parseState
	msgh     []byte           // scratch for MSG lines
	msc      matchScratch     // where the sublist builds this client's uncached match results
	pcd      []*client        // clients written to during this read, flushed after it
	pcdm     map[*client]bool // dedupe for pcd once it grows
	nonce    []byte           // sent in INFO when nkeys are configured
	pongSent bool             // the first PONG after CONNECT went out (connectInfo)
	// inbound counts of the current read, added to the shared counters once
	// per read rather than per message
	readMsgs, readBytes, readOut, readOutBytes int64
	stallOn                                    chan struct{} // a destination this read filled past the stall mark
	stallTmr                                   *time.Timer
	fwd                                        fwdState      // where the message being routed came from (imports.go)
	hops                                       []*hopScratch // routing scratch per import depth

	// written at CONNECT and auth (reader), read by others under mu
	mu       sync.Mutex
	opts     connectOpts
	authed   bool
	accBound bool   // counted among its account's connections (accounts.go)
	user     string // authorized user, for /connz (never the password)
	subs     map[string]*subscription
	out      outbound
	flushCh  chan struct{} // wakes the writer; capacity 1
	closed   bool
	writerOn bool          // the writer goroutine runs: it closes the socket after a flushing close
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
	acc     atomic.Pointer[account]     // the global account until CONNECT binds another
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
	c.acc.Store(s.globalAccount())
	return c
}

// account is the account the client is bound to.
func (c *client) account() *account { return c.acc.Load() }

// String names the connection in logs.
func (c *client) String() string { return fmt.Sprintf("cid:%d %s:%d", c.cid, c.host, c.port) }

func (c *client) maxControlLine() int { return int(c.srv.live().MaxControlLine) }

func (c *client) maxPayload() int { return int(c.srv.live().MaxPayload) }

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
	if c.srv.debug.Load() {
		c.srv.logger.Debug("closing connection", "cid", c.cid, "reason", reason.String(), "err", err)
	}
	c.close(reason, true)
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
	acc := c.account() // subs are in its sublist (bindAccount swaps both under mu)
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
	rec := c.closedRecordLocked()
	conn := c.conn
	// Without a writer (a TLS handshake still under way) nobody else would
	// close the socket.
	cut := !flush || !c.writerOn
	c.mu.Unlock()

	if cut {
		_ = conn.Close() // unblocks a writer stuck on a slow socket
	}
	c.signalFlush()
	if len(subs) > 0 {
		acc.sl.removeBatch(subs)
	}
	c.srv.removeClient(c, rec)
	c.srv.clientClosed(c, reason)
	if c.srv.debug.Load() {
		c.srv.logger.Debug("client closed", "cid", c.cid, "addr", c.host, "reason", reason.String())
	}
	return true
}

// closedRecordLocked is what /connz keeps of c once it is closed; c.mu is held.
func (c *client) closedRecordLocked() closedConn {
	return closedConn{
		cid:      c.cid,
		host:     c.host,
		port:     c.port,
		start:    c.start,
		stop:     c.stop,
		lastIn:   time.Unix(0, c.lastIn.Load()),
		reason:   c.reason,
		rtt:      c.rtt,
		inMsgs:   c.inMsgs.Load(),
		inBytes:  c.inBytes.Load(),
		outMsgs:  c.outMsgs,
		outBytes: c.outBytes,
		numSubs:  uint32(len(c.subs)),
		name:     capString(c.opts.Name),
		lang:     capString(c.opts.Lang),
		version:  capString(c.opts.Version),
		user:     capString(c.user),
		acc:      c.account().name, // an account's name is the server's, not the client's: not capped
	}
}

// pingTimer fires every PingInterval: it pings an idle client and closes one
// that left MaxPingsOut pings unanswered.
func (c *client) pingTimer() {
	opts := c.srv.live()
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
