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
	"fmt"
	"net/http"
	"runtime"
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
	return serverInfo{Name: s.opts.ServerName, Host: s.opts.Host, ID: s.id, Version: Version,
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

// statszReq answers $SYS.REQ.SERVER.PING; without a reply subject it
// publishes on $SYS.SERVER.<id>.STATSZ instead, as nats-server does.
func (ss *sysState) statszReq(req *sysRequest) {
	var f eventFilter
	if len(req.body) > 0 {
		if err := json.Unmarshal(req.body, &f); err != nil {
			if req.reply != "" {
				si := ss.serverInfo()
				b, _ := json.Marshal(&apiResponse{Server: &si, Error: &apiError{Code: http.StatusBadRequest, Description: err.Error()}})
				ss.publish(req.acc, req.reply, "", b)
			}
			return
		}
		if f.excludes(ss.s) {
			return
		}
	}
	subject := req.reply
	if subject == "" {
		subject = fmt.Sprintf(sysStatszSubjFmt, ss.s.id)
	}
	ss.publishJSON(req.acc, subject, ss.statsz())
}

// zHandler answers $SYS.REQ.SERVER.{PING,<id>}.<z>.
func (ss *sysState) zHandler(z string) func(*sysRequest) {
	s := ss.s
	return func(req *sysRequest) {
		switch z {
		case "STATSZ":
			ss.statszReq(req) // as nats-server: the statsz itself, not in an envelope
		case "VARZ":
			var f eventFilter
			ss.answer(req, &f, &f, func() (any, error) { return ss.mon.varz(), nil })
		case "CONNZ":
			ss.connzReq(req, nil)
		case "SUBSZ":
			var o struct {
				subszRequest
				eventFilter
			}
			ss.answer(req, &o, &o.eventFilter, func() (any, error) { return s.subszFor(&o.subszRequest) })
		case "HEALTHZ":
			var f eventFilter
			ss.answer(req, &f, &f, func() (any, error) {
				h, code := s.health()
				h.StatusCode = code
				return h, nil
			})
		case "ACCOUNTZ":
			var o struct {
				Account string `json:"account"`
				eventFilter
			}
			ss.answer(req, &o, &o.eventFilter, func() (any, error) { return s.accountz(o.Account) })
		case "IDZ":
			if req.reply != "" {
				ss.publishJSON(req.acc, req.reply, map[string]string{"name": s.opts.ServerName, "host": s.opts.Host, "id": s.id})
			}
		}
	}
}

// accountZHandler answers $SYS.REQ.ACCOUNT.<account>.<z>.
func (ss *sysState) accountZHandler(z string) func(*sysRequest) {
	s := ss.s
	return func(req *sysRequest) {
		name := strings.TrimSuffix(strings.TrimPrefix(req.subject, sysAccountReqPre), "."+z)
		if z == "STATZ" && name == "PING" {
			return // the PING form has its own handler
		}
		a := s.accounts().byName[name]
		switch z {
		case "CONNZ":
			if a == nil {
				ss.answer(req, &struct{}{}, nil, func() (any, error) { return nil, fmt.Errorf("account %q does not exist", name) })
				return
			}
			ss.connzReq(req, a)
		case "SUBSZ":
			var o struct {
				subszRequest
				eventFilter
			}
			ss.answer(req, &o, &o.eventFilter, func() (any, error) {
				o.Account, o.Subscriptions = name, true
				return s.subszFor(&o.subszRequest)
			})
		case "INFO":
			var f eventFilter
			ss.answer(req, &f, &f, func() (any, error) { return s.accountInfo(name) })
		case "STATZ":
			if a == nil {
				return
			}
			ss.accountStatzReq(req, a)
		}
	}
}

// connzReq answers a CONNZ request; only is the account it is scoped to, or
// nil for every connection.
func (ss *sysState) connzReq(req *sysRequest, only *account) {
	var o struct {
		connzRequest
		eventFilter
	}
	ss.answer(req, &o, &o.eventFilter, func() (any, error) {
		co, err := o.connzRequest.options()
		if err != nil {
			return nil, err
		}
		if only != nil {
			co.acc = only.name
		}
		return ss.s.connz(co), nil
	})
}

// statszDoc is nats-server's ServerStatsMsg.
type statszDoc struct {
	Server serverInfo  `json:"server"`
	Stats  serverStats `json:"statsz"`
}

type msgBytes struct {
	Msgs  int64 `json:"msgs"`
	Bytes int64 `json:"bytes"`
}

// dataStats is nats-server's DataStats; busd has no routes, gateways or leafs.
type dataStats struct {
	msgBytes
}

type serverStats struct {
	Start               time.Time   `json:"start"`
	Mem                 int64       `json:"mem"`
	Cores               int         `json:"cores"`
	CPU                 float64     `json:"cpu"`
	Connections         int         `json:"connections"`
	TotalConnections    uint64      `json:"total_connections"`
	ActiveAccounts      int         `json:"active_accounts"`
	NumSubs             uint32      `json:"subscriptions"`
	Sent                dataStats   `json:"sent"`
	SentToClients       dataStats   `json:"sent_to_clients"`
	Received            dataStats   `json:"received"`
	ReceivedFromClients dataStats   `json:"received_from_clients"`
	SlowConsumers       int64       `json:"slow_consumers"`
	SlowConsumersStats  *kindCounts `json:"slow_consumer_stats,omitempty"`
	StaleConnections    int64       `json:"stale_connections,omitempty"`
	StaleConnStats      *kindCounts `json:"stale_connection_stats,omitempty"`
	ActiveServers       int         `json:"active_servers,omitempty"`
	MaxProcs            int         `json:"gomaxprocs,omitempty"`
}

func (ss *sysState) statsz() *statszDoc {
	s := ss.s
	now := time.Now()
	st := serverStats{
		Mem:              processRSS(),
		Cores:            runtime.NumCPU(),
		CPU:              ss.mon.cpuPercent(now),
		TotalConnections: uint64(s.totalConnections.Load()),
		NumSubs:          uint32(s.NumSubscriptions()),
		SlowConsumers:    s.slowConsumers.Load(),
		StaleConnections: s.staleConnections.Load(),
		ActiveServers:    1,
		MaxProcs:         runtime.GOMAXPROCS(0),
	}
	s.mu.Lock()
	st.Start = s.start
	st.Connections = len(s.clients)
	s.mu.Unlock()
	for _, a := range s.accounts().byName {
		if a.nconns.Load() > 0 {
			st.ActiveAccounts++
		}
	}
	in := msgBytes{Msgs: s.inMsgs.Load(), Bytes: s.inBytes.Load()}
	out := msgBytes{Msgs: s.outMsgs.Load(), Bytes: s.outBytes.Load()}
	st.Received, st.ReceivedFromClients = dataStats{in}, dataStats{in}
	st.Sent, st.SentToClients = dataStats{out}, dataStats{out}
	if st.SlowConsumers > 0 {
		st.SlowConsumersStats = &kindCounts{Clients: uint64(st.SlowConsumers)}
	}
	if st.StaleConnections > 0 {
		st.StaleConnStats = &kindCounts{Clients: uint64(st.StaleConnections)}
	}
	return &statszDoc{Server: ss.serverInfo(), Stats: st}
}

// statszTick publishes $SYS.SERVER.<id>.STATSZ when someone listens, sooner
// after start and then every statszEvery.
func (ss *sysState) statszTick() {
	ss.enqueue(func() {
		sys := ss.s.systemAccount()
		subj := fmt.Sprintf(sysStatszSubjFmt, ss.s.id)
		if sys.interest(subj) {
			ss.publishJSON(sys, subj, ss.statsz())
		}
	})
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.stopped {
		return
	}
	ss.every = min(ss.every*2, statszEvery)
	ss.tmr.Reset(ss.every)
}

// accountStat is nats-server's AccountStat.
type accountStat struct {
	Account       string    `json:"acc"`
	Name          string    `json:"name"`
	Conns         int       `json:"conns"`
	LeafNodes     int       `json:"leafnodes"`
	TotalConns    int       `json:"total_conns"`
	NumSubs       uint32    `json:"num_subscriptions"`
	Sent          dataStats `json:"sent"`
	Received      dataStats `json:"received"`
	SlowConsumers int64     `json:"slow_consumers"`
}

// statz sums the account's traffic: its closed clients' and its open ones'.
func (a *account) statz() *accountStat {
	st := &accountStat{Account: a.name, Name: a.name, Conns: int(a.nconns.Load()), NumSubs: a.numSubs(),
		SlowConsumers: a.slowConsumers.Load()}
	st.TotalConns = st.Conns
	st.Received = dataStats{msgBytes{Msgs: a.closedIn.Load(), Bytes: a.closedInBytes.Load()}}
	st.Sent = dataStats{msgBytes{Msgs: a.closedOut.Load(), Bytes: a.closedOutBytes.Load()}}
	for _, c := range a.srv.snapshotClients() {
		if c.account() != a {
			continue
		}
		st.Received.Msgs += c.inMsgs.Load()
		st.Received.Bytes += c.inBytes.Load()
		c.mu.Lock()
		st.Sent.Msgs += c.outMsgs
		st.Sent.Bytes += c.outBytes
		c.mu.Unlock()
	}
	return st
}

// accountStatzReq answers an account STATZ request: of account only, or of
// the accounts listed in the request (all when none), leaving out those
// without connections unless include_unused asks for them; nothing at all is
// sent when no account is left.
func (ss *sysState) accountStatzReq(req *sysRequest, only *account) {
	var o struct {
		Accounts      []string `json:"accounts"`
		IncludeUnused bool     `json:"include_unused"`
		eventFilter
	}
	ss.answer(req, &o, &o.eventFilter, func() (any, error) {
		var accs []*account
		switch {
		case only != nil:
			accs = []*account{only}
		case len(o.Accounts) > 0:
			for _, n := range o.Accounts {
				if a := ss.s.accounts().byName[n]; a != nil {
					accs = append(accs, a)
				}
			}
		default:
			accs = ss.s.accounts().sorted()
		}
		doc := &accountStatz{ID: ss.s.id, Now: time.Now().UTC(), Accounts: []*accountStat{}}
		for _, a := range accs {
			if o.IncludeUnused || a.nconns.Load() > 0 {
				doc.Accounts = append(doc.Accounts, a.statz())
			}
		}
		if len(doc.Accounts) == 0 && !o.IncludeUnused {
			return nil, errSkipAnswer
		}
		return doc, nil
	})
}

// accountStatz is nats-server's AccountStatz.
type accountStatz struct {
	ID       string         `json:"server_id"`
	Now      time.Time      `json:"now"`
	Accounts []*accountStat `json:"account_statz"`
}

// userInfo is nats-server's UserInfo.
type userInfo struct {
	UserID      string        `json:"user"`
	Account     string        `json:"account"`
	AccountName string        `json:"account_name,omitempty"`
	UserName    string        `json:"user_name,omitempty"`
	Permissions *permsDoc     `json:"permissions,omitempty"`
	Expires     time.Duration `json:"expires,omitempty"`
}

// permsDoc is nats-server's Permissions JSON.
type permsDoc struct {
	Publish   *subjectPermsDoc `json:"publish,omitempty"`
	Subscribe *subjectPermsDoc `json:"subscribe,omitempty"`
	Response  *respPermsDoc    `json:"responses,omitempty"`
}

type subjectPermsDoc struct {
	Allow []string `json:"allow,omitempty"`
	Deny  []string `json:"deny,omitempty"`
}

type respPermsDoc struct {
	MaxMsgs int           `json:"max"`
	Expires time.Duration `json:"ttl"`
}

func newPermsDoc(p *Permissions) *permsDoc {
	if p == nil {
		return nil
	}
	sp := func(s *SubjectPermission) *subjectPermsDoc {
		if s == nil {
			return nil
		}
		return &subjectPermsDoc{Allow: s.Allow, Deny: s.Deny}
	}
	d := &permsDoc{Publish: sp(p.Publish), Subscribe: sp(p.Subscribe)}
	if r := p.Response; r != nil {
		d.Response = &respPermsDoc{MaxMsgs: r.MaxMsgs, Expires: r.Expires}
	}
	return d
}

// userInfoReq answers $SYS.REQ.USER.INFO with who the requester is.
func (ss *sysState) userInfoReq(req *sysRequest) {
	if req.reply == "" {
		return
	}
	ui := &userInfo{UserID: req.from.user, Account: req.from.acc.name, AccountName: req.from.acc.name,
		Permissions: newPermsDoc(req.from.perms)}
	si := ss.serverInfo()
	b, err := json.Marshal(&apiResponse{Server: &si, Data: ui})
	if err != nil {
		return
	}
	ss.publish(req.acc, req.reply, "", b)
}
