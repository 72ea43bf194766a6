package server

// Events the server publishes in the system account, with nats-server's
// subjects and JSON shapes (the nats CLI's "nats events" decodes them):
//
//	$SYS.ACCOUNT.<account>.CONNECT      io.nats.server.advisory.v1.client_connect
//	$SYS.ACCOUNT.<account>.DISCONNECT   io.nats.server.advisory.v1.client_disconnect
//	$SYS.ACCOUNT.<account>.SERVER.CONNS io.nats.server.advisory.v1.account_connections
//	  (and the older $SYS.SERVER.ACCOUNT.<account>.CONNS; not for $G)
//	$SYS.SERVER.<server id>.STATSZ       periodic statsz (sysaccount.go)
//
// An event is built only when someone in the system account subscribes to
// its subject: a busd nobody watches does no work for them.

import (
	"fmt"
	"time"

	"github.com/nats-io/nuid"
)

// Event types and subjects.
const (
	connectEventType   = "io.nats.server.advisory.v1.client_connect"
	disconnectEvType   = "io.nats.server.advisory.v1.client_disconnect"
	accountConnsEvType = "io.nats.server.advisory.v1.account_connections"
	connectEventFmt    = "$SYS.ACCOUNT.%s.CONNECT"
	disconnectEventFmt = "$SYS.ACCOUNT.%s.DISCONNECT"
	accConnsEventFmt   = "$SYS.ACCOUNT.%s.SERVER.CONNS"
	accConnsOldFmt     = "$SYS.SERVER.ACCOUNT.%s.CONNS"
)

// typedEvent heads every advisory.
type typedEvent struct {
	Type string    `json:"type"`
	ID   string    `json:"id"`
	Time time.Time `json:"timestamp"`
}

// clientInfo is nats-server's ClientInfo: who a connection is.
type clientInfo struct {
	Start      *time.Time    `json:"start,omitempty"`
	Host       string        `json:"host,omitempty"`
	ID         uint64        `json:"id,omitempty"`
	Account    string        `json:"acc,omitempty"`
	Service    string        `json:"svc,omitempty"`
	User       string        `json:"user,omitempty"`
	Name       string        `json:"name,omitempty"`
	Lang       string        `json:"lang,omitempty"`
	Version    string        `json:"ver,omitempty"`
	RTT        time.Duration `json:"rtt,omitempty"`
	Server     string        `json:"server,omitempty"`
	Stop       *time.Time    `json:"stop,omitempty"`
	NameTag    string        `json:"name_tag,omitempty"`
	Kind       string        `json:"kind,omitempty"`
	ClientType string        `json:"client_type,omitempty"`
}

// clientInfoLocked describes c; c.mu is held.
func (c *client) clientInfoLocked() *clientInfo {
	start := c.start
	acc := c.acc.Load().name
	return &clientInfo{Start: &start, Host: c.host, ID: c.cid, Account: acc, User: c.user,
		Name: c.opts.Name, Lang: c.opts.Lang, Version: c.opts.Version, NameTag: acc,
		Kind: "Client", ClientType: "nats"}
}

type connectEvent struct {
	typedEvent
	Server serverInfo `json:"server"`
	Client clientInfo `json:"client"`
}

type disconnectEvent struct {
	typedEvent
	Server   serverInfo `json:"server"`
	Client   clientInfo `json:"client"`
	Sent     dataStats  `json:"sent"`
	Received dataStats  `json:"received"`
	Reason   string     `json:"reason"`
}

type accountConnsEvent struct {
	typedEvent
	Server serverInfo `json:"server"`
	accountStat
}

// clientConnected announces a client that completed its first CONNECT. As in
// nats-server, who hears of it is decided now: a subscriber that arrives
// later, the connecting client's own included, does not get it.
func (s *Server) clientConnected(c *client) {
	ss, sys, a := s.sys, s.systemAccount(), c.account()
	subj := fmt.Sprintf(connectEventFmt, a.name)
	event, conns := sys.interest(subj), ss.connsInterest(a)
	if !event && !conns {
		return
	}
	ss.enqueue(func() {
		if event {
			c.mu.Lock()
			ci := c.clientInfoLocked()
			c.mu.Unlock()
			ss.publishJSON(sys, subj, &connectEvent{
				typedEvent: typedEvent{Type: connectEventType, ID: nuid.Next(), Time: time.Now().UTC()},
				Server:     ss.serverInfo(), Client: *ci,
			})
		}
		if conns {
			ss.accountConns(a)
		}
	})
}

// clientClosed takes a closed client out of its account and announces it.
func (s *Server) clientClosed(c *client, reason closeReason) {
	a, bound := c.unbindAccount()
	if !bound {
		return // it never completed CONNECT: nats-server announces nothing either
	}
	if reason == closeSlowConsumerPending || reason == closeSlowConsumerDeadline {
		a.slowConsumers.Add(1)
	}
	ss, sys := s.sys, s.systemAccount()
	subj := fmt.Sprintf(disconnectEventFmt, a.name)
	event, conns := sys.interest(subj), ss.connsInterest(a)
	if !event && !conns {
		return
	}
	ss.enqueue(func() {
		if event {
			c.mu.Lock()
			ci := c.clientInfoLocked()
			stop := c.stop
			ci.Stop, ci.RTT = &stop, c.rtt
			out := msgBytes{Msgs: c.outMsgs, Bytes: c.outBytes}
			c.mu.Unlock()
			ss.publishJSON(sys, subj, &disconnectEvent{
				typedEvent: typedEvent{Type: disconnectEvType, ID: nuid.Next(), Time: stop.UTC()},
				Server:     ss.serverInfo(), Client: *ci,
				Sent:     dataStats{msgBytes{Msgs: c.inMsgs.Load(), Bytes: c.inBytes.Load()}},
				Received: dataStats{out},
				Reason:   reason.String(),
			})
		}
		if conns {
			ss.accountConns(a)
		}
	})
}

// connsInterest reports whether anyone listens for account a's connection
// counts (never for $G, as nats-server).
func (ss *sysState) connsInterest(a *account) bool {
	if a.name == GlobalAccount {
		return false
	}
	sys := ss.s.systemAccount()
	return sys.interest(fmt.Sprintf(accConnsEventFmt, a.name)) || sys.interest(fmt.Sprintf(accConnsOldFmt, a.name))
}

// accountConns publishes account a's connection count after a change, as
// nats-server does for every account but the global one.
func (ss *sysState) accountConns(a *account) {
	if a.name == GlobalAccount {
		return
	}
	sys := ss.s.systemAccount()
	for _, f := range []string{accConnsEventFmt, accConnsOldFmt} {
		subj := fmt.Sprintf(f, a.name)
		if sys.interest(subj) {
			ss.publishJSON(sys, subj, &accountConnsEvent{
				typedEvent:  typedEvent{Type: accountConnsEvType, ID: nuid.Next(), Time: time.Now().UTC()},
				Server:      ss.serverInfo(),
				accountStat: *a.statz(),
			})
		}
	}
}
