package discovery

// Expiring an instance the moment its bus connection closes.
//
// Heartbeats carry the server ID and client ID of the instance's connection.
// The bus announces every connection that closes on
// $SYS.ACCOUNT.<account>.DISCONNECT, in the system account; an account that
// imports that stream (see docs/accounts.md) sees its own. A registry whose
// connection may read it subscribes, and expires the instances on a
// connection as soon as its disconnect event arrives, instead of 3 heartbeat
// intervals later. Otherwise, and always as a fallback, heartbeats expire
// instances as before.
//
// Whether the connection may is asked of the server itself: the registry
// requests $SYS.REQ.USER.INFO (nats-server and busd answer it for any user)
// and subscribes when its permissions allow the subscription and its
// account is not the global one, where no server event can arrive. A
// disconnect event only expires an instance whose latest heartbeat names that
// very connection; the instance comes back with its next heartbeat if it was
// in fact alive (a client in the account able to publish on the subject could
// forge the event, as it could forge a "stopped" heartbeat).

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// Subjects and types of the bus's disconnect events, as nats-server names them.
const (
	disconnectSubject = "$SYS.ACCOUNT.*.DISCONNECT"
	disconnectType    = "io.nats.server.advisory.v1.client_disconnect"
	userInfoSubject   = "$SYS.REQ.USER.INFO"
	globalAccount     = "$G"
)

// userInfoTimeout bounds the permissions question at start.
const userInfoTimeout = time.Second

// WithDisconnectEvents turns the use of the bus's disconnect events on (the
// default) or off. Off, instances expire by heartbeats only.
func WithDisconnectEvents(on bool) Option {
	return optionFunc(func(c *config) { c.noDisconnects = !on })
}

// watchDisconnects subscribes to the disconnect events when the connection
// may read them. It reports whether it did.
func (r *Registry) watchDisconnects(ctx context.Context) bool {
	if r.cfg.noDisconnects {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, userInfoTimeout)
	defer cancel()
	m, err := r.nc.RequestWithContext(ctx, userInfoSubject, nil)
	if err != nil {
		r.cfg.logger.Debug("discovery: no user info from the bus; instances expire by heartbeats", "err", err)
		return false
	}
	var ui struct {
		Data *struct {
			Account     string `json:"account"`
			Permissions *struct {
				Subscribe *struct {
					Allow []string `json:"allow"`
					Deny  []string `json:"deny"`
				} `json:"subscribe"`
			} `json:"permissions"`
		} `json:"data"`
	}
	if err := json.Unmarshal(m.Data, &ui); err != nil || ui.Data == nil {
		return false
	}
	if ui.Data.Account == globalAccount {
		return false
	}
	if p := ui.Data.Permissions; p != nil && p.Subscribe != nil && !subscribeAllowed(p.Subscribe.Allow, p.Subscribe.Deny, disconnectSubject) {
		r.cfg.logger.Debug("discovery: may not subscribe to disconnect events; instances expire by heartbeats")
		return false
	}
	sub, err := r.nc.Subscribe(disconnectSubject, r.onDisconnect)
	if err != nil {
		return false
	}
	r.discSub = sub
	return true
}

// onDisconnect expires the instances whose connection just closed.
func (r *Registry) onDisconnect(m *nats.Msg) {
	var ev struct {
		Type   string `json:"type"`
		Server struct {
			ID string `json:"id"`
		} `json:"server"`
		Client struct {
			ID uint64 `json:"id"`
		} `json:"client"`
	}
	if err := json.Unmarshal(m.Data, &ev); err != nil || ev.Type != disconnectType || ev.Server.ID == "" || ev.Client.ID == 0 {
		return
	}
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	for _, e := range r.byID {
		if e.inst.ServerID != ev.Server.ID || e.inst.ClientID != ev.Client.ID {
			continue
		}
		r.removeLocked(e)
		r.tombs[e.inst.ID] = tombstone{seq: e.inst.Seq, until: now.Add(MissedIntervals * promised(&e.inst.Heartbeat))}
		r.emitLocked(Event{Type: Expired, Instance: e.inst})
	}
}

// subscribeAllowed reports whether subscribe permissions with these allow and
// deny lists admit a subscription to subject, as the servers decide it: an
// allow entry must cover it (when there are any) and no deny entry may.
func subscribeAllowed(allow, deny []string, subject string) bool {
	ok := len(allow) == 0
	for _, a := range allow {
		if covers(a, subject) {
			ok = true
			break
		}
	}
	for _, d := range deny {
		if covers(d, subject) {
			return false
		}
	}
	return ok
}

// covers reports whether the permission subject pattern covers every subject
// subj (which may hold wildcards) can match. A queue qualifier after the
// subject ("foo.* workers") restricts queue subscriptions only, so it covers
// nothing here.
func covers(pattern, subj string) bool {
	if strings.ContainsAny(pattern, " \t") {
		return false
	}
	pt, st := strings.Split(pattern, "."), strings.Split(subj, ".")
	for i, p := range pt {
		if p == ">" {
			return len(st) > i
		}
		if i >= len(st) {
			return false
		}
		switch s := st[i]; {
		case p == "*":
			if s == ">" {
				return false
			}
		case s == "*" || s == ">" || p != s:
			return false
		}
	}
	return len(pt) == len(st)
}
