// Package server is busd's broker: an implementation of the NATS client protocol
// that the official NATS clients use unchanged.
//
// A Server is cheap to create with New, listens once Start returns, and stops with
// Shutdown, which may be called any number of times:
//
//	s, err := server.New(&server.Options{Host: "127.0.0.1", Port: -1}, slog.Default())
//	if err != nil { ... }
//	if err := s.Start(); err != nil { ... }
//	defer s.Shutdown(context.Background())
//	nc, err := nats.Connect(s.ClientURL())
//
// The package keeps no global state: several servers can run in one process.
package server

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nkeys"
)

// Server is a NATS-protocol broker.
type Server struct {
	opts    Options // as started; what may change at run time is read through live()
	logger  *slog.Logger
	debug   atomic.Bool
	trace   atomic.Bool
	lopts   atomic.Pointer[liveOpts] // the options in force, replaced whole by Reload
	id      string
	start   time.Time
	pool    chunkPool
	auth    atomic.Pointer[authState]  // replaced whole on reload
	accs    atomic.Pointer[accountSet] // replaced whole on reload (accounts.go)
	sys     *sysState                  // the system account's requests and events (sysaccount.go)
	ready   chan struct{}
	done    chan struct{} // closed when Shutdown has finished
	wg      sync.WaitGroup
	nextCID atomic.Uint64

	reloadMu sync.Mutex // one Reload at a time

	mu        sync.Mutex
	started   bool
	shutdown  bool
	ldm       bool
	listener  net.Listener
	http      *http.Server
	httpLn    net.Listener
	clients   map[uint64]*client
	closedLog *closedRing

	inMsgs, inBytes, outMsgs, outBytes atomic.Int64
	slowConsumers, staleConnections    atomic.Int64
	totalConnections, authFailures     atomic.Int64
}

// New validates opts and returns a server that is not yet listening.
func New(opts *Options, logger *slog.Logger) (*Server, error) {
	if opts == nil {
		opts = &Options{}
	}
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("busd: %w", err)
	}
	o := *opts
	o.setDefaults()
	if o.TLSConfig != nil && o.TLSVerify && o.TLSConfig.ClientAuth != tls.RequireAndVerifyClientCert {
		// verify means client certificates are required and checked, whatever the config says.
		o.TLSConfig = o.TLSConfig.Clone()
		o.TLSConfig.ClientAuth = tls.RequireAndVerifyClientCert
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	kp, err := nkeys.CreateServer()
	if err != nil {
		return nil, fmt.Errorf("busd: server identity: %w", err)
	}
	id, _ := kp.PublicKey()
	s := &Server{
		opts:      o,
		logger:    logger,
		id:        id,
		ready:     make(chan struct{}),
		done:      make(chan struct{}),
		clients:   make(map[uint64]*client),
		closedLog: newClosedRing(closedConnsKept),
	}
	if s.opts.ServerName == "" {
		s.opts.ServerName = id
	}
	s.setLive(s.opts)
	s.sys = newSysState(s)
	s.installAccounts(&s.opts, s.buildAccounts(&s.opts, nil), nil)
	s.auth.Store(newAuthState(&s.opts))
	return s, nil
}

// Start binds the listeners and starts accepting; it returns once they are bound.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return errors.New("busd: server already started")
	}
	if s.shutdown {
		return errors.New("busd: server was shut down")
	}
	port := s.opts.Port
	if port < 0 {
		port = 0
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(s.opts.Host, strconv.Itoa(port)))
	if err != nil {
		return fmt.Errorf("busd: listen: %w", err)
	}
	s.listener = ln
	if s.opts.HTTPPort != 0 {
		if err := s.startMonitor(); err != nil {
			ln.Close()
			return err
		}
	}
	s.started = true
	s.start = time.Now()
	s.logger.Info("busd listening", "addr", ln.Addr().String(), "version", Version, "server_id", s.id)
	s.wg.Add(1)
	go s.acceptLoop(ln)
	s.sys.start()
	close(s.ready)
	return nil
}

// Ready is closed once the server accepts connections.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Addr is the bound client listener address, or nil before Start.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.listener == nil {
		return nil
	}
	return s.listener.Addr()
}

// ClientURL is a nats:// URL clients can dial.
func (s *Server) ClientURL() string {
	addr, ok := s.Addr().(*net.TCPAddr)
	if !ok {
		return ""
	}
	host := addr.IP.String()
	if addr.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "nats://" + net.JoinHostPort(host, strconv.Itoa(addr.Port))
}

// MonitorAddr is the bound monitoring listener address, or nil.
func (s *Server) MonitorAddr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.httpLn == nil {
		return nil
	}
	return s.httpLn.Addr()
}

// NumClients is the number of open client connections.
func (s *Server) NumClients() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.clients)
}

// NumSubscriptions is the number of subscriptions across all clients.
func (s *Server) NumSubscriptions() int {
	n := 0
	for _, a := range s.accounts().byName {
		n += int(a.numSubs())
	}
	return n
}

func (s *Server) acceptLoop(ln net.Listener) {
	defer s.wg.Done()
	backoff := 5 * time.Millisecond
	for {
		conn, err := ln.Accept()
		if err != nil {
			if s.isShuttingDown() || errors.Is(err, net.ErrClosed) {
				return
			}
			s.logger.Error("accept failed", "err", err, "retry_in", backoff)
			select {
			case <-time.After(backoff):
			case <-s.done:
				return
			}
			backoff = min(backoff*2, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		s.createClient(conn)
	}
}

func (s *Server) isShuttingDown() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.shutdown || s.ldm
}

// info is the INFO document. Every INFO, first or async, carries all fields.
type info struct {
	ID           string `json:"server_id"`
	Name         string `json:"server_name"`
	Version      string `json:"version"`
	Proto        int    `json:"proto"`
	Go           string `json:"go"`
	Host         string `json:"host"`
	Port         int    `json:"port"`
	Headers      bool   `json:"headers"`
	AuthRequired bool   `json:"auth_required,omitempty"`
	TLSRequired  bool   `json:"tls_required,omitempty"`
	TLSVerify    bool   `json:"tls_verify,omitempty"`
	MaxPayload   int32  `json:"max_payload"`
	ClientID     uint64 `json:"client_id"`
	ClientIP     string `json:"client_ip"`
	Nonce        string `json:"nonce,omitempty"`
	// Sent after the first PONG to a CONNECTed client (connectInfo in accounts.go).
	ConnectInfo   bool     `json:"connect_info,omitempty"`
	RemoteAccount string   `json:"remote_account,omitempty"`
	IsSysAccount  bool     `json:"acc_is_sys,omitempty"`
	ConnectURLs   []string `json:"connect_urls,omitempty"`
	LameDuck      bool     `json:"ldm,omitempty"`
}

func (s *Server) infoFor(c *client, ldm bool) []byte { return s.infoDoc(c, ldm, nil) }

// infoDoc is infoFor, with edit applied to the document before it is encoded.
func (s *Server) infoDoc(c *client, ldm bool, edit func(*info)) []byte {
	lo := s.live()
	host, port := s.opts.Host, s.opts.Port
	if a, ok := s.Addr().(*net.TCPAddr); ok {
		port = a.Port
	}
	in := info{
		ID:           s.id,
		Name:         s.opts.ServerName,
		Version:      ReportedVersion,
		Proto:        1,
		Go:           runtime.Version(),
		Host:         host,
		Port:         port,
		Headers:      true,
		AuthRequired: s.authRequired(),
		TLSRequired:  lo.TLSConfig != nil,
		TLSVerify:    lo.TLSConfig != nil && lo.TLSVerify,
		MaxPayload:   lo.MaxPayload,
		ClientID:     c.cid,
		ClientIP:     c.host,
		Nonce:        string(c.nonce),
		LameDuck:     ldm,
	}
	if edit != nil {
		edit(&in)
	}
	b, _ := json.Marshal(in)
	out := make([]byte, 0, len(b)+7)
	out = append(out, "INFO "...)
	out = append(out, b...)
	return append(out, '\r', '\n')
}

// createClient greets a new connection and starts its goroutines.
func (s *Server) createClient(conn net.Conn) {
	c := s.newClient(conn)
	if s.needsNonce() {
		c.nonce = s.newNonce()
	}
	s.mu.Lock()
	if s.shutdown || s.ldm {
		s.mu.Unlock()
		conn.Close()
		return
	}
	lo := s.live()
	if len(s.clients) >= lo.MaxConn {
		s.mu.Unlock()
		// As nats-server: INFO, then the error, then close.
		_ = conn.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = conn.Write(append(s.infoFor(c, false), "-ERR 'maximum connections exceeded'\r\n"...))
		conn.Close()
		return
	}
	s.clients[c.cid] = c
	s.mu.Unlock()
	s.totalConnections.Add(1)

	// INFO goes out before anything else, TLS included; a new socket takes it
	// without blocking. Everything that may wait on the client (the TLS
	// handshake) happens on the client's own goroutine, never here: a client
	// that stalls must not stall the accept loop.
	_ = conn.SetWriteDeadline(time.Now().Add(lo.WriteDeadline))
	if _, err := conn.Write(s.infoFor(c, false)); err != nil {
		c.close(closeWriteError, false)
		return
	}
	_ = conn.SetWriteDeadline(time.Time{})
	s.wg.Add(1)
	go c.run()
}

// run is the client's reader goroutine: the TLS handshake if any, then the
// timers and the writer, then reading until the connection ends.
func (c *client) run() {
	s := c.srv
	conn := c.conn
	lo := s.live()
	if lo.TLSConfig != nil {
		tc := tls.Server(conn, lo.TLSConfig)
		_ = conn.SetDeadline(time.Now().Add(lo.TLSTimeout))
		if err := tc.Handshake(); err != nil {
			s.logger.Debug("TLS handshake failed", "cid", c.cid, "err", err)
			c.close(closeTLSHandshake, false)
			s.wg.Done()
			return
		}
		_ = conn.SetDeadline(time.Time{})
		conn = tc
	}
	c.raw = rawConnOf(conn) // before any SUB: nobody delivers to c before that
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		_ = conn.Close()
		s.wg.Done()
		return
	}
	c.conn = conn
	c.writerOn = true
	c.pingTmr = time.AfterFunc(lo.PingInterval, c.pingTimer)
	if s.authRequired() && c.authTmr == nil { // a reload may have set it already
		c.authTmr = time.AfterFunc(lo.AuthTimeout, func() {
			c.mu.Lock()
			authed := c.authed
			c.mu.Unlock()
			if !authed {
				c.queueAndFlush([]byte("-ERR 'Authentication Timeout'\r\n"))
				c.close(closeAuthTimeout, true)
			}
		})
	}
	c.mu.Unlock()
	if s.debug.Load() {
		s.logger.Debug("client connected", "cid", c.cid, "addr", c.host, "port", c.port)
	}
	s.wg.Add(1)
	go c.writeLoop()
	c.readLoop()
}

// removeClient forgets a closed client and keeps its record for
// /connz?state=closed.
func (s *Server) removeClient(c *client, rec closedConn) {
	s.mu.Lock()
	if _, ok := s.clients[c.cid]; ok {
		delete(s.clients, c.cid)
		s.closedLog.add(rec)
	}
	s.mu.Unlock()
}

// snapshotClients returns the open clients.
func (s *Server) snapshotClients() []*client {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs := make([]*client, 0, len(s.clients))
	for _, c := range s.clients {
		cs = append(cs, c)
	}
	return cs
}

// Shutdown stops accepting, flushes and closes every client. It is idempotent and
// returns when every connection is closed or ctx is done.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.shutdown {
		s.mu.Unlock()
		select {
		case <-s.done:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.shutdown = true
	ln, hs := s.listener, s.http
	s.mu.Unlock()

	if ln != nil {
		ln.Close()
	}
	if hs != nil {
		_ = hs.Close()
	}
	clients := s.snapshotClients()
	for _, c := range clients {
		c.close(closeServerShutdown, true)
	}
	s.sys.stop()
	finished := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(finished)
	}()
	select {
	case <-finished:
	case <-ctx.Done():
		// Flushing took too long: cut the remaining connections.
		for _, c := range clients {
			c.mu.Lock()
			conn := c.conn
			c.mu.Unlock()
			conn.Close()
		}
		<-finished
	}
	s.logger.Info("busd stopped")
	close(s.done)
	return ctx.Err()
}

// LameDuck stops accepting, tells clients (INFO ldm:true) and closes them spread
// over LameDuckDuration after LameDuckGracePeriod, then shuts down. It returns
// when the server is down or ctx is done.
func (s *Server) LameDuck(ctx context.Context) error {
	s.mu.Lock()
	if s.ldm || s.shutdown {
		s.mu.Unlock()
		return s.Shutdown(ctx)
	}
	s.ldm = true
	ln := s.listener
	s.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
	clients := s.snapshotClients()
	lo := s.live()
	s.logger.Info("entering lame duck mode", "clients", len(clients), "duration", lo.LameDuckDuration)
	for _, c := range clients {
		c.queueAndFlush(s.infoFor(c, true))
	}
	wait := func(d time.Duration) bool {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return true
		case <-ctx.Done():
			return false
		}
	}
	if !wait(lo.LameDuckGracePeriod) {
		return s.Shutdown(ctx)
	}
	if n := len(clients); n > 0 {
		step := (lo.LameDuckDuration - lo.LameDuckGracePeriod) / time.Duration(n)
		if step <= 0 {
			step = time.Millisecond
		}
		for _, c := range clients {
			c.close(closeLameDuck, true)
			if !wait(step) {
				break
			}
		}
	}
	return s.Shutdown(ctx)
}

func (s *Server) needsNonce() bool { return s.auth.Load().nonce }

// newNonce returns a fresh random nonce for nkey signatures.
func (s *Server) newNonce() []byte {
	var raw [11]byte
	_, _ = rand.Read(raw[:])
	out := make([]byte, base64.RawURLEncoding.EncodedLen(len(raw)))
	base64.RawURLEncoding.Encode(out, raw[:])
	return out
}
