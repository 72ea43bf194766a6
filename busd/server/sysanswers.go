package server

// The answers of the system account's requests (sysaccount.go routes them):
// statsz, the monitoring documents by server and by account, account statz
// and user info, in nats-server's JSON shapes.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"time"
)

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
