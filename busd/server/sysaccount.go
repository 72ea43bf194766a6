package server

// The system account: the requests the nats CLI and other operator tools send
// ($SYS.REQ.>), answered with nats-server's JSON shapes, and the events the
// server publishes (events.go).
//
// Requests reach internal subscriptions (accounts.go) on the requester's
// goroutine; the handler copies what it needs and queues the work for the
// system goroutine, which builds the answer and publishes it through the
// system client, an internal client without a connection. Events are queued
// the same way, so that one goroutine publishes everything the server says,
// in order, and a client closing (which emits its disconnect event) never
// waits for a subscriber.
//
// What is answered, in the system account:
//
//	$SYS.REQ.SERVER.PING                      statsz of every server (here: this one)
//	$SYS.REQ.SERVER.PING.<Z>                  Z of every server, Z one of STATSZ, VARZ,
//	$SYS.REQ.SERVER.<server id>.<Z>             CONNZ, SUBSZ, HEALTHZ, ACCOUNTZ, IDZ
//	$SYS.REQ.ACCOUNT.<account>.<Z>            Z of one account: CONNZ, SUBSZ, INFO, STATZ
//	$SYS.REQ.ACCOUNT.PING.STATZ               statz of the accounts with connections
//	$SYS.REQ.USER.INFO                        who the requester is
//
// and in every other account, scoped to it (nats-server's system imports):
//
//	$SYS.REQ.USER.INFO, $SYS.REQ.ACCOUNT.PING.CONNZ, $SYS.REQ.SERVER.PING.CONNZ,
//	$SYS.REQ.ACCOUNT.PING.STATZ
//
// A request's body may carry nats-server's filter options (server_name, host,
// cluster, exact_match, tags, domain); a server they exclude stays silent.
// Responses are not compressed, whatever Accept-Encoding asks: the nats CLI
// reads both.

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Subjects of the system account.
const (
	sysPingSubj        = "$SYS.REQ.SERVER.PING"
	sysServerReqPrefix = "$SYS.REQ.SERVER."
	sysAccountReqPre   = "$SYS.REQ.ACCOUNT."
	sysAccPingStatz    = "$SYS.REQ.ACCOUNT.PING.STATZ"
	sysAccPingConnz    = "$SYS.REQ.ACCOUNT.PING.CONNZ"
	sysUserInfoSubj    = "$SYS.REQ.USER.INFO"
	sysStatszSubjFmt   = "$SYS.SERVER.%s.STATSZ"
)

// sysZ are the per-server requests answered on PING.<Z> and <id>.<Z>.
var sysZ = []string{"STATSZ", "VARZ", "CONNZ", "SUBSZ", "HEALTHZ", "ACCOUNTZ", "IDZ"}

// sysQueueMax bounds the requests waiting for the system goroutine: any user
// can send the requests imported into every account, and a flood of them must
// not grow the queue without end. Requests past it are dropped (the requester
// times out); events are always queued.
const sysQueueMax = 4096

// Statsz pacing, as nats-server: the first soon after start, then doubling up
// to statszEvery, each sent only when someone subscribes to it.
const (
	statszFirst = 250 * time.Millisecond
	statszEvery = 10 * time.Second
)

// sysState is the system goroutine's work queue and its client.
type sysState struct {
	s   *Server
	c   *client // publishes the server's messages; used by the system goroutine only
	mon *monitor

	mu      sync.Mutex
	q       []func()
	nreq    int // requests in q
	dropped int // requests dropped since the last warning
	running bool
	stopped bool
	wake    chan struct{}
	quit    chan struct{}
	seq     atomic.Uint64 // ServerInfo.seq of the next message
	tmr     *time.Timer   // statsz
	every   time.Duration
}

func newSysState(s *Server) *sysState {
	c := &client{srv: s, opts: connectOpts{Echo: true, Headers: true}, subs: map[string]*subscription{}, flushCh: make(chan struct{}, 1)}
	ss := &sysState{s: s, c: c, wake: make(chan struct{}, 1), quit: make(chan struct{})}
	ss.mon = &monitor{s: s, reqs: map[string]uint64{}}
	ss.mon.cpuWall, ss.mon.cpuTime = time.Now(), processCPUTime()
	return ss
}

// start runs the system goroutine; Start calls it.
func (ss *sysState) start() {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.running || ss.stopped {
		return
	}
	ss.running = true
	ss.c.acc.Store(ss.s.systemAccount())
	ss.s.wg.Add(1)
	go ss.loop()
	ss.every = statszFirst
	ss.tmr = time.AfterFunc(ss.every, ss.statszTick)
}

// stop ends the system goroutine; work still queued is dropped.
func (ss *sysState) stop() {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.stopped {
		return
	}
	ss.stopped = true
	if ss.tmr != nil {
		ss.tmr.Stop()
	}
	close(ss.quit)
}

// enqueue hands f, an event, to the system goroutine.
func (ss *sysState) enqueue(f func()) { ss.push(f, false) }

// push queues f; a request is dropped when sysQueueMax requests wait.
func (ss *sysState) push(f func(), request bool) {
	ss.mu.Lock()
	if ss.stopped || !ss.running {
		ss.mu.Unlock()
		return
	}
	if request {
		if ss.nreq >= sysQueueMax {
			ss.dropped++
			if ss.dropped == 1 {
				ss.s.logger.Warn("system requests arrive faster than they are answered; dropping", "queued", ss.nreq)
			}
			ss.mu.Unlock()
			return
		}
		ss.nreq++
		g := f
		f = func() {
			ss.mu.Lock()
			ss.nreq--
			if ss.nreq == 0 {
				ss.dropped = 0
			}
			ss.mu.Unlock()
			g()
		}
	}
	ss.q = append(ss.q, f)
	ss.mu.Unlock()
	select {
	case ss.wake <- struct{}{}:
	default:
	}
}

func (ss *sysState) loop() {
	defer ss.s.wg.Done()
	for {
		select {
		case <-ss.quit:
			return
		case <-ss.wake:
		}
		for {
			ss.mu.Lock()
			q := ss.q
			ss.q = nil
			ss.mu.Unlock()
			if len(q) == 0 {
				break
			}
			for _, f := range q {
				select {
				case <-ss.quit:
					return
				default:
				}
				f()
			}
		}
	}
}

// publish sends a message into account a from the system goroutine.
func (ss *sysState) publish(a *account, subject, reply string, body []byte) {
	c := ss.c
	pa := pubArg{subject: []byte(subject), reply: []byte(reply), hdr: -1, size: len(body)}
	c.routeIn(a, &pa, body, &c.msc)
	c.flushPCD()
	c.stallOn, c.readOut, c.readOutBytes = nil, 0, 0
}

// publishJSON marshals v and publishes it.
func (ss *sysState) publishJSON(a *account, subject string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		ss.s.logger.Error("system message not sent", "subject", subject, "err", err)
		return
	}
	ss.publish(a, subject, "", b)
}

// interest reports whether anyone in a subscribes to subject, so that events
// nobody reads are not even built.
func (a *account) interest(subject string) bool {
	r := a.sl.match([]byte(subject))
	return len(r.psubs) > 0 || len(r.qsubs) > 0
}

// serverInfo is the "server" part of every system message.
type serverInfo struct {
	Name      string    `json:"name"`
	Host      string    `json:"host"`
	ID        string    `json:"id"`
	Cluster   string    `json:"cluster,omitempty"`
	Domain    string    `json:"domain,omitempty"`
	Version   string    `json:"ver"`
	Tags      []string  `json:"tags,omitempty"`
	JetStream bool      `json:"jetstream"`
	Flags     uint64    `json:"flags"`
	Seq       uint64    `json:"seq"`
	Time      time.Time `json:"time"`
}

func (ss *sysState) serverInfo() serverInfo {
	s := ss.s
	return serverInfo{Name: s.opts.ServerName, Host: s.opts.Host, ID: s.id, Version: ReportedVersion,
		Seq: ss.seq.Add(1), Time: time.Now().UTC()}
}

// apiResponse is the envelope of every $SYS.REQ answer.
type apiResponse struct {
	Server *serverInfo `json:"server"`
	Data   any         `json:"data,omitempty"`
	Error  *apiError   `json:"error,omitempty"`
}

type apiError struct {
	Code        int    `json:"code"`
	Description string `json:"description,omitempty"`
}

// eventFilter is nats-server's EventFilterOptions: which servers should answer.
type eventFilter struct {
	Name       string   `json:"server_name,omitempty"`
	Cluster    string   `json:"cluster,omitempty"`
	Host       string   `json:"host,omitempty"`
	ExactMatch bool     `json:"exact_match,omitempty"`
	Tags       []string `json:"tags,omitempty"`
	Domain     string   `json:"domain,omitempty"`
}

// excludes reports whether the filter leaves this server out. busd has no
// cluster, tags or JetStream domain, so naming any excludes it.
func (f *eventFilter) excludes(s *Server) bool {
	match := func(want, have string) bool {
		if want == "" {
			return true
		}
		if f.ExactMatch {
			return want == have
		}
		return strings.Contains(have, want)
	}
	return !match(f.Name, s.opts.ServerName) || !match(f.Host, s.opts.Host) ||
		f.Cluster != "" || len(f.Tags) > 0 || f.Domain != ""
}

// sysRequest is a request copied off the requester's goroutine.
type sysRequest struct {
	acc     *account // where the request was published, and the reply goes
	subject string
	reply   string
	body    []byte
	from    requester
}

// requester is who sent a request, for $SYS.REQ.USER.INFO.
type requester struct {
	user  string
	acc   *account
	perms *Permissions
}

// handler wraps a request handler as an internal subscription handler for
// subscriptions in account a.
func (ss *sysState) handler(a *account, h func(*sysRequest)) internalHandler {
	return func(c *client, _ *subscription, pa *pubArg, payload []byte) bool {
		body := payload
		if pa.hdr >= 0 {
			body = payload[pa.hdr:]
		}
		req := &sysRequest{acc: a, subject: string(pa.subject), reply: string(pa.reply), body: append([]byte(nil), body...)}
		c.mu.Lock()
		req.from.user = c.user
		c.mu.Unlock()
		req.from.acc = c.account()
		if p := c.perms.Load(); p != nil && p.set != nil {
			req.from.perms = p.set.src
		}
		ss.push(func() { h(req) }, true)
		return true
	}
}

// answer runs a z-request as nats-server does: decode the options (and
// filter) from the body, stay silent when the filter excludes this server or
// there is no reply subject, and send the data or the error.
func (ss *sysState) answer(req *sysRequest, opts any, filter *eventFilter, build func() (any, error)) {
	if req.reply == "" {
		return
	}
	resp := &apiResponse{}
	if len(req.body) > 0 {
		if err := json.Unmarshal(req.body, opts); err != nil {
			resp.Error = &apiError{Code: http.StatusBadRequest, Description: err.Error()}
		} else if filter != nil && filter.excludes(ss.s) {
			return
		}
	}
	if resp.Error == nil {
		data, err := build()
		switch {
		case errors.Is(err, errSkipAnswer):
			return
		case err != nil:
			resp.Error = &apiError{Code: http.StatusInternalServerError, Description: err.Error()}
		default:
			resp.Data = data
		}
	}
	si := ss.serverInfo()
	resp.Server = &si
	b, err := json.Marshal(resp)
	if err != nil {
		return
	}
	ss.publish(req.acc, req.reply, "", b)
}

// errSkipAnswer: this server has nothing to say (an account statz of an
// account without connections, say).
var errSkipAnswer = errors.New("nothing to answer")

// installSystemHandlers subscribes the system account to the server's requests.
func (s *Server) installSystemHandlers(sys *account) {
	ss := s.sys
	sub := func(subject string, h func(*sysRequest)) { sys.subscribeInternal(sys, subject, ss.handler(sys, h)) }
	sub(sysPingSubj, ss.statszReq)
	for _, z := range sysZ {
		h := ss.zHandler(z)
		sub(sysServerReqPrefix+"PING."+z, h)
		sub(sysServerReqPrefix+s.id+"."+z, h)
	}
	for _, z := range []string{"CONNZ", "SUBSZ", "INFO", "STATZ"} {
		sub(sysAccountReqPre+"*."+z, ss.accountZHandler(z))
	}
	sub(sysAccPingStatz, func(req *sysRequest) { ss.accountStatzReq(req, nil) })
	sub(sysUserInfoSubj, ss.userInfoReq)
}

// installSystemImports gives account a the requests nats-server imports into
// every account: its own connections, its statz and who the requester is.
func (s *Server) installSystemImports(a *account) {
	ss := s.sys
	sub := func(subject string, h func(*sysRequest)) { a.subscribeInternal(a, subject, ss.handler(a, h)) }
	connz := func(req *sysRequest) { ss.connzReq(req, a) }
	sub(sysAccPingConnz, connz)
	sub(sysServerReqPrefix+"PING.CONNZ", connz)
	sub(sysAccPingStatz, func(req *sysRequest) { ss.accountStatzReq(req, a) })
	sub(sysUserInfoSubj, ss.userInfoReq)
}
