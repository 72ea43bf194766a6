package server

// Accounts at run time. Each account has its own sublist, so a message
// published in one account is matched against that account's subscriptions
// only. Imports cross accounts through internal subscriptions: a
// subscription with no client and a handler (icb) that re-publishes the
// message in the other account (imports.go). The server's own requests live
// the same way in the system account (sysaccount.go).
//
// Without accounts configured there is the global account ($G), which every
// client joins, and the system account ($SYS), which no client can join: the
// routing path is the one busd always had, with the sublist reached through
// the client's account.

import (
	"encoding/json"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// internalHandler processes a message that reached an internal subscription
// and reports whether it was delivered onward. c is the publishing client, on
// its own goroutine (or the system client, on the system goroutine).
type internalHandler func(c *client, sub *subscription, pa *pubArg, payload []byte) bool

// account is one account at run time. An account keeps its identity (and its
// sublist, so its clients' subscriptions) across reloads that keep its name.
type account struct {
	name  string
	jname []byte // name as a JSON string, for Nats-Request-Info
	srv   *Server
	sl    *sublist

	nint atomic.Int32 // internal subscriptions in sl: not counted as clients'
	// internal inserts and removes, left out of /subsz's counts
	intInserts, intRemoves atomic.Uint64
	nconns                 atomic.Int32 // authenticated clients bound to the account
	// traffic of the account's clients that closed; open ones are summed live
	closedIn, closedInBytes, closedOut, closedOutBytes atomic.Int64
	slowConsumers                                      atomic.Int64

	mu       sync.Mutex
	cfg      *Account        // as configured; nil for $G and an unconfigured $SYS
	owned    []ownedSub      // internal subscriptions installed for this account
	services []*svcImport    // its service imports, for /accountz
	streams  []*streamImport // its stream imports, for /accountz
	resp     respTable       // reply subjects of requests it serves for others (imports.go)
	updated  time.Time       // last (re)configuration
}

func newAccount(s *Server, name string) *account {
	jn, _ := json.Marshal(name)
	return &account{name: name, jname: jn, srv: s, sl: newSublist(), updated: time.Now()}
}

// numSubs is the number of client subscriptions in the account.
func (a *account) numSubs() uint32 { return a.sl.count() - uint32(a.nint.Load()) }

// accountSet is the accounts of one configuration, replaced whole on reload.
type accountSet struct {
	byName map[string]*account
	global *account
	sys    *account
	// anonGlobal: a client presenting no credentials joins $G although
	// users exist, as nats-server does when the only account configured is
	// the system account (and no authorization block or no_auth_user says
	// otherwise).
	anonGlobal bool
}

// lookup returns the named account; "" is the global account.
func (as *accountSet) lookup(name string) *account {
	if name == "" {
		return as.global
	}
	return as.byName[name]
}

// sorted returns the accounts by name.
func (as *accountSet) sorted() []*account {
	out := make([]*account, 0, len(as.byName))
	for _, a := range as.byName {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// accounts is the current account set.
func (s *Server) accounts() *accountSet { return s.accs.Load() }

// globalAccount is the account clients join before (and without) CONNECT.
func (s *Server) globalAccount() *account { return s.accs.Load().global }

// systemAccount is the account the server's requests and events live in.
func (s *Server) systemAccount() *account { return s.accs.Load().sys }

// buildAccounts returns the account set o describes, reusing prev's accounts
// of the same names (prev is nil at startup). o has been validated.
func (s *Server) buildAccounts(o *Options, prev *accountSet) *accountSet {
	as := &accountSet{byName: make(map[string]*account, len(o.Accounts)+2)}
	get := func(name string) *account {
		if prev != nil {
			if a := prev.byName[name]; a != nil {
				return a
			}
		}
		return newAccount(s, name)
	}
	as.global = get(GlobalAccount)
	as.byName[GlobalAccount] = as.global
	for _, c := range o.Accounts {
		a := get(c.Name)
		as.byName[c.Name] = a
	}
	sysName := o.SystemAccount
	if sysName == "" {
		sysName = DefaultSystemAccount
	}
	if as.byName[sysName] == nil {
		as.byName[sysName] = get(sysName)
	}
	as.sys = as.byName[sysName]
	as.anonGlobal = onlySystemAccount(o)
	return as
}

// onlySystemAccount reports whether the only account configured is the system
// account, with no global users, token or no_auth_user: then, as in
// nats-server, a client presenting no credentials joins the global account.
func onlySystemAccount(o *Options) bool {
	sysName := o.SystemAccount
	if sysName == "" {
		sysName = DefaultSystemAccount
	}
	return len(o.Accounts) == 1 && o.Accounts[0] != nil && o.Accounts[0].Name == sysName &&
		o.NoAuthUser == "" && o.Username == "" && o.Authorization == "" && !globalUsers(o)
}

// globalUsers reports whether any user belongs to the global account.
func globalUsers(o *Options) bool {
	for _, u := range o.Users {
		if u.Account == "" || u.Account == GlobalAccount {
			return true
		}
	}
	for _, n := range o.Nkeys {
		if n.Account == "" || n.Account == GlobalAccount {
			return true
		}
	}
	return false
}

// installAccounts makes as current and (re)installs every account's internal
// subscriptions: imports, the system account's request handlers and the
// system imports of every other account. On reload the new subscriptions go
// in before the old ones come out, so an import never misses a message in
// between; accounts of prev that as no longer has lose theirs (their clients
// are closed by the auth re-check).
func (s *Server) installAccounts(o *Options, as *accountSet, prev *accountSet) {
	cfgs := make(map[string]*Account, len(o.Accounts))
	for _, c := range o.Accounts {
		cfgs[c.Name] = c
	}
	var old []ownedSub
	if prev != nil {
		for name, a := range prev.byName {
			if as.byName[name] != a {
				old = append(old, a.takeOwned()...)
			}
		}
	}
	s.accs.Store(as)
	sorted := as.sorted()
	for _, a := range sorted {
		old = append(old, a.takeOwned()...)
		a.mu.Lock()
		a.cfg = cfgs[a.name]
		a.updated = time.Now()
		a.mu.Unlock()
	}
	for _, a := range sorted {
		if c := cfgs[a.name]; c != nil {
			for _, im := range c.Imports {
				a.installImport(as, im)
			}
		}
		if a == as.sys {
			s.installSystemHandlers(a)
		} else {
			s.installSystemImports(a)
		}
	}
	removeOwned(old)
}

// subscribeInternal adds an internal subscription on subject to a's sublist,
// owned by owner (whose uninstall removes it).
func (a *account) subscribeInternal(owner *account, subject string, h internalHandler) *subscription {
	sub := &subscription{subject: []byte(subject), sid: []byte("internal"), icb: h}
	if err := a.sl.insert(sub); err != nil {
		return nil // checkAccounts let no invalid subject through
	}
	a.nint.Add(1)
	a.intInserts.Add(1)
	owner.mu.Lock()
	owner.owned = append(owner.owned, ownedSub{sub: sub, home: a})
	owner.mu.Unlock()
	return sub
}

// ownedSub is an internal subscription and the account whose sublist holds
// it (an import's subscription sits in the exporter's).
type ownedSub struct {
	sub  *subscription
	home *account
}

// takeOwned hands over a's internal subscriptions (to removeOwned) and
// forgets its imports.
func (a *account) takeOwned() []ownedSub {
	a.mu.Lock()
	defer a.mu.Unlock()
	owned := a.owned
	a.owned, a.services, a.streams = nil, nil, nil
	return owned
}

// removeOwned takes internal subscriptions out of their sublists.
func removeOwned(owned []ownedSub) {
	for _, o := range owned {
		if o.home.sl.remove(o.sub) == nil {
			o.home.nint.Add(-1)
			o.home.intRemoves.Add(1)
		}
	}
}

// bindAccount puts c, which CONNECT authenticated, in a. A second CONNECT
// that lands in another account drops the subscriptions made in the first,
// as nats-server does: they would otherwise stay in the old account's sublist.
func (c *client) bindAccount(a *account) {
	c.mu.Lock()
	old := c.acc.Load()
	var subs []*subscription
	if old != a && len(c.subs) > 0 {
		subs = make([]*subscription, 0, len(c.subs))
		for _, sub := range c.subs {
			subs = append(subs, sub)
		}
		clear(c.subs)
	}
	c.acc.Store(a)
	wasBound, bound := c.accBound, !c.closed
	c.accBound = bound
	c.mu.Unlock()
	if len(subs) > 0 {
		old.sl.removeBatch(subs)
	}
	if wasBound {
		old.nconns.Add(-1)
	}
	if bound {
		a.nconns.Add(1)
	}
}

// unbindAccount takes a closed client out of its account's counts, adding its
// traffic to the account's totals. It reports the account and whether the
// client had been counted there.
func (c *client) unbindAccount() (*account, bool) {
	c.mu.Lock()
	a, bound := c.acc.Load(), c.accBound
	c.accBound = false
	out, outBytes := c.outMsgs, c.outBytes
	c.mu.Unlock()
	if bound {
		a.nconns.Add(-1)
		a.closedIn.Add(c.inMsgs.Load())
		a.closedInBytes.Add(c.inBytes.Load())
		a.closedOut.Add(out)
		a.closedOutBytes.Add(outBytes)
	}
	return a, bound
}

// connectInfo follows the first PONG after CONNECT with an INFO naming the
// client's account, as nats-server does for clients that take async INFO
// (protocol 1): nats.go's IsSystemAccount reads it.
func (c *client) connectInfo() {
	c.mu.Lock()
	authed, proto := c.authed, c.opts.Protocol
	c.mu.Unlock()
	if !authed {
		return
	}
	c.pongSent = true
	if proto < 1 {
		return
	}
	a := c.account()
	c.queue(c.srv.infoDoc(c, false, func(in *info) {
		in.ConnectInfo, in.RemoteAccount, in.IsSysAccount = true, a.name, a == c.srv.systemAccount()
	}))
}
