package server

// Reload: applying a new configuration to a running server and re-checking
// the clients already connected against it.

import (
	"fmt"
	"time"
)

// Reload applies the auth, permission and limit parts of opts to the running server.
func (s *Server) Reload(opts *Options) error {
	o := *opts
	o.setDefaults()
	if err := s.checkAccountsReload(&o); err != nil {
		return fmt.Errorf("busd: reload: %w", err)
	}
	s.mu.Lock()
	s.opts.Username, s.opts.Password, s.opts.Authorization = o.Username, o.Password, o.Authorization
	s.opts.Users, s.opts.Nkeys, s.opts.DefaultPermissions = o.Users, o.Nkeys, o.DefaultPermissions
	s.opts.Accounts, s.opts.NoAuthUser = o.Accounts, o.NoAuthUser
	s.mu.Unlock()
	s.applyAccounts(&s.opts)
	s.setAuth(newAuthState(&s.opts))
	return nil
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
				c.authTmr = time.AfterFunc(s.opts.AuthTimeout, func() {
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
