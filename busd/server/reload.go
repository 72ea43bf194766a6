package server

// Reload: applying a new configuration to a running server and re-checking
// the clients already connected against it.

import (
	"cmp"
	"crypto/tls"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"
)

// liveOpts are the options in force. Reload replaces them whole, so a reader
// sees one configuration or the next, never a mix, for the price of an atomic
// load.
type liveOpts struct {
	Options
	// stallMark is the pending-bytes level past which producers wait for a consumer.
	stallMark int64
	// writeChunks is how many outbound chunks one blocking writev sends at most.
	writeChunks int
}

// live returns the options in force.
func (s *Server) live() *liveOpts { return s.lopts.Load() }

// setLive puts o (with its defaults set) in force.
func (s *Server) setLive(o Options) {
	lo := &liveOpts{Options: o}
	lo.stallMark = o.MaxPending / 4 * 3
	// A writev sends at most an eighth of max_pending (32 KiB to 256 KiB), so a
	// consumer's pending count falls in steps small enough to release stalls.
	lo.writeChunks = int(min(max(o.MaxPending/8, chunkSize), 256*1024) / chunkSize)
	s.lopts.Store(lo)
	s.debug.Store(o.Debug || o.Trace)
	s.trace.Store(o.Trace)
}

// Options returns a copy of the options in force: those New was given, with
// defaults filled in and the changes of every successful Reload applied. It
// is the starting point for a change, as in
//
//	o := s.Options()
//	o.MaxPayload = 2 << 20
//	err := s.Reload(&o)
//
// The copy shares what its pointers and slices point to (users, permissions,
// the TLS configuration) with the running server: replace them, do not modify
// them in place.
func (s *Server) Options() Options { return s.live().Options }

// ReloadError is a change Reload cannot make to a running server. Option is
// the configuration file's name for it.
type ReloadError struct {
	Option   string
	Old, New any
}

func (e *ReloadError) Error() string {
	return fmt.Sprintf("config reload not supported for %s: old=%v, new=%v", e.Option, e.Old, e.New)
}

// reloadOpt is one option as Reload sees it: its name in a configuration
// file, the Options field it is (for the test that every field is covered),
// whether it can change on a running server, and its value.
type reloadOpt struct {
	name, field string
	live        bool
	get         func(o *Options) any
}

// reloadOpts lists every field of Options but ConfigFile. Options that decide
// where busd listens cannot change without a restart; everything else takes
// effect at once: limits for the next operation of every client, auth and
// permissions by re-checking every client, TLS for the next handshake, ping
// and lame duck settings for the next timer.
var reloadOpts = []reloadOpt{
	{"host", "Host", false, func(o *Options) any { return o.Host }},
	{"port", "Port", false, func(o *Options) any { return o.Port }},
	{"http_host", "HTTPHost", false, func(o *Options) any { return o.HTTPHost }},
	{"http_port", "HTTPPort", false, func(o *Options) any { return o.HTTPPort }},
	{"server_name", "ServerName", false, func(o *Options) any { return o.ServerName }},
	{"max_payload", "MaxPayload", true, func(o *Options) any { return o.MaxPayload }},
	{"max_pending", "MaxPending", true, func(o *Options) any { return o.MaxPending }},
	{"max_control_line", "MaxControlLine", true, func(o *Options) any { return o.MaxControlLine }},
	{"max_connections", "MaxConn", true, func(o *Options) any { return o.MaxConn }},
	{"max_subscriptions", "MaxSubs", true, func(o *Options) any { return o.MaxSubs }},
	{"ping_interval", "PingInterval", true, func(o *Options) any { return o.PingInterval }},
	{"ping_max", "MaxPingsOut", true, func(o *Options) any { return o.MaxPingsOut }},
	{"write_deadline", "WriteDeadline", true, func(o *Options) any { return o.WriteDeadline }},
	{"authorization.user", "Username", true, func(o *Options) any { return o.Username }},
	{"authorization.password", "Password", true, func(o *Options) any { return o.Password }},
	{"authorization.token", "Authorization", true, func(o *Options) any { return o.Authorization }},
	{"authorization.users", "Users", true, func(o *Options) any { return o.Users }},
	{"authorization.users (nkeys)", "Nkeys", true, func(o *Options) any { return o.Nkeys }},
	{"authorization.timeout", "AuthTimeout", true, func(o *Options) any { return o.AuthTimeout }},
	{"authorization.default_permissions", "DefaultPermissions", true, func(o *Options) any { return o.DefaultPermissions }},
	{"accounts", "Accounts", true, func(o *Options) any { return o.Accounts }},
	{"no_auth_user", "NoAuthUser", true, func(o *Options) any { return o.NoAuthUser }},
	{"system_account", "SystemAccount", false, func(o *Options) any { return cmp.Or(o.SystemAccount, DefaultSystemAccount) }},
	{"tls", "TLSConfig", true, func(o *Options) any { return o.TLSConfig }},
	{"tls.timeout", "TLSTimeout", true, func(o *Options) any { return o.TLSTimeout }},
	{"tls.verify", "TLSVerify", true, func(o *Options) any { return o.TLSVerify }},
	{"lame_duck_duration", "LameDuckDuration", true, func(o *Options) any { return o.LameDuckDuration }},
	{"lame_duck_grace_period", "LameDuckGracePeriod", true, func(o *Options) any { return o.LameDuckGracePeriod }},
	{"debug", "Debug", true, func(o *Options) any { return o.Debug }},
	{"trace", "Trace", true, func(o *Options) any { return o.Trace }},
}

// sameOpt reports whether two values of one option are the same. A TLS
// configuration is the same only if it is the same value: one loaded again
// from files counts as a change, which it may be (renewed certificates).
func sameOpt(a, b any) bool {
	if ta, ok := a.(*tls.Config); ok {
		return ta == b.(*tls.Config)
	}
	return reflect.DeepEqual(a, b)
}

// Reload applies opts to the running server, as nats-server applies a reloaded
// configuration: every option that can change at run time takes effect (see
// reloadOpts), and if opts changes one that cannot (where busd listens, its
// name) or is invalid, Reload changes nothing and returns an error naming
// each such option (a *ReloadError for the former). Zero fields are their
// defaults, as for New, so opts describes the whole configuration (start
// from Options to change only part of it). Accounts are re-installed (see
// reload_accounts.go). Clients that the new auth configuration no longer
// admits are closed; subscriptions the new permissions forbid are removed;
// if max_connections fell below the number of clients, clients are closed at
// random to fall within it.
func (s *Server) Reload(opts *Options) error {
	if opts == nil {
		opts = &Options{}
	}
	if err := opts.Validate(); err != nil {
		return fmt.Errorf("busd: reload: %w", err)
	}
	n := *opts
	n.setDefaults()
	if n.TLSConfig != nil && n.TLSVerify && n.TLSConfig.ClientAuth != tls.RequireAndVerifyClientCert {
		n.TLSConfig = n.TLSConfig.Clone() // as New: verify means client certificates are required
		n.TLSConfig.ClientAuth = tls.RequireAndVerifyClientCert
	}
	if n.ServerName == "" {
		n.ServerName = s.id
	}
	if err := s.checkAccountsReload(&n); err != nil {
		return fmt.Errorf("busd: reload: %w", err)
	}

	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	cur := s.live()
	var errs []error
	var changed []string
	for _, ro := range reloadOpts {
		o, v := ro.get(&cur.Options), ro.get(&n)
		if sameOpt(o, v) {
			continue
		}
		if !ro.live {
			errs = append(errs, &ReloadError{Option: ro.name, Old: o, New: v})
			continue
		}
		changed = append(changed, ro.name)
	}
	if len(errs) > 0 {
		return fmt.Errorf("busd: reload: %w", errors.Join(errs...))
	}
	s.setLive(n)
	if slices.ContainsFunc(changed, func(name string) bool { return name == "accounts" || name == "no_auth_user" }) {
		s.applyAccounts(&n)
	}
	if slices.ContainsFunc(changed, func(name string) bool {
		return strings.HasPrefix(name, "authorization.") || name == "accounts" || name == "no_auth_user"
	}) {
		s.setAuth(newAuthState(&n)) // re-checks every client
	}
	s.enforceMaxConn(n.MaxConn)
	what := "nothing"
	if len(changed) > 0 {
		what = strings.Join(changed, ", ")
	}
	if opts.ConfigFile != "" {
		s.logger.Info("config reloaded", "config", opts.ConfigFile, "changed", what)
	} else {
		s.logger.Info("config reloaded", "changed", what)
	}
	return nil
}

// enforceMaxConn closes clients at random, as nats-server does, until there
// are at most max.
func (s *Server) enforceMaxConn(max int) {
	clients := s.snapshotClients() // a map's order: random
	if len(clients) <= max {
		return
	}
	for _, c := range clients[:len(clients)-max] {
		c.queueAndFlush([]byte("-ERR 'maximum connections exceeded'\r\n"))
		c.close(closeMaxConnections, true)
	}
	s.logger.Info("closed connections to fall within max_connections", "closed", len(clients)-max, "max_connections", max)
}

// setAuth swaps the credential configuration and re-checks connected clients.
func (s *Server) setAuth(a *authState) { s.applyAuth(a) }

// applyAuth installs a new credential configuration and re-checks every
// connected client against it (see the top of auth.go).
func (s *Server) applyAuth(a *authState) {
	old := s.auth.Load()
	if old != nil {
		a.mu = old.mu
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	s.auth.Store(a)
	for _, c := range s.snapshotClients() {
		s.reauthorize(c, a)
	}
}

// reauthorize re-checks one client after a reload. The auth lock is held.
func (s *Server) reauthorize(c *client, a *authState) {
	p := c.perms.Load()
	if p == nil || p.id == nil {
		// No CONNECT yet: it will be checked against a. If auth has just been
		// turned on, the client gets the auth timeout it would have had.
		if a.required {
			c.mu.Lock()
			if !c.authed && !c.closed && c.authTmr == nil {
				c.authTmr = time.AfterFunc(s.live().AuthTimeout, func() {
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
		}
		return
	}
	e, ok := a.check(p.id, nil, nil)
	if ok && s.accounts().lookup(e.account) != c.account() {
		ok = false // its user moved to another account: it reconnects into that one
	}
	if !ok {
		s.logger.Info("closing client no longer authorized after reload", "cid", c.cid)
		c.queueAndFlush([]byte("-ERR 'Authorization Violation'\r\n"))
		c.close(closeAuthViolation, true)
		return
	}
	np := newClientPerms(e.perms, p.id)
	np.inheritReplies(p)
	c.mu.Lock()
	c.user = e.name
	c.mu.Unlock()
	c.perms.Store(np)

	// Subscriptions the new permissions forbid go, as in nats-server.
	var gone []*subscription
	c.mu.Lock()
	for sid, sub := range c.subs {
		if !np.subAllowed(sub.subject, sub.queue) {
			sub.closed = true
			delete(c.subs, sid)
			gone = append(gone, sub)
		}
	}
	c.mu.Unlock()
	for _, sub := range gone {
		_ = c.account().sl.remove(sub)
		var text string
		if sub.queue != nil {
			text = fmt.Sprintf("Permissions Violation for Subscription to %q using queue %q (sid %q)", sub.subject, sub.queue, sub.sid)
		} else {
			text = fmt.Sprintf("Permissions Violation for Subscription to %q (sid %q)", sub.subject, sub.sid)
		}
		c.queueAndFlush([]byte("-ERR '" + text + "'\r\n"))
	}
}
