package server

// Authentication, as nats-server does it for clients: a token, a single user,
// a users list (user/password entries and nkey entries), each password or
// token either plain or a bcrypt hash ("$2a$...").
//
// Which check applies follows nats-server: a CONNECT carrying an nkey is
// checked against the nkey users when there are any, one carrying a user
// against the users list when there is one; otherwise the token, otherwise
// the single user. An nkey user proves itself by signing the nonce busd sent
// in its INFO; the nonce is fresh per connection, so a signature is worth
// nothing on another connection.
//
// What a connection keeps. Credentials are not kept in clear: the CONNECT's
// password and token are dropped once checked. For re-checking on reload,
// each connection keeps an authIdentity: the user name and nkey it presented
// (not secret), whether its nkey signature was verified, and for the password
// and the token an HMAC-SHA256 of what it presented under a random key of its
// own. A plain configured secret is re-checked by comparing its HMAC under
// that key with the recorded one, which is exactly the comparison made at
// CONNECT (it is also how busd compares at CONNECT: equal-length digests, so
// the comparison is constant-time and does not leak the secret's length). A
// bcrypt secret cannot be re-checked without the clear text, so the
// connection also records the HMAC of the bcrypt hash that accepted it: on
// reload it stays valid only while that same hash is configured. Rotating a
// bcrypt hash (even to a new hash of the same password) therefore disconnects
// its users; they reconnect with their password.
//
// Reload. Server.Reload swaps in a new authState through setAuth, which calls
// applyAuth: under the auth lock it re-runs the check for every connected
// client against the new configuration with the recorded identity, closes
// those that no longer pass with -ERR 'Authorization Violation', gives the
// others their new permissions (replacing c.perms whole) and removes the
// subscriptions the new permissions forbid, with nats-server's texts.
// Connections that have not sent CONNECT yet are checked when they do; if
// the reload turned auth on, they get the auth timeout from then. The
// auth lock (an RWMutex shared by every authState of a server) is read-held
// by authenticate from loading the configuration until the client's identity
// is stored, so a CONNECT racing a reload is either checked against the new
// configuration or re-checked by the reload.

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"sync"

	"github.com/nats-io/nkeys"
	"golang.org/x/crypto/bcrypt"
)

// authRequired reports whether clients must present credentials.
func (s *Server) authRequired() bool { return s.auth.Load().required }

// authState is the server's credential configuration, rebuilt on reload.
type authState struct {
	required bool
	nonce    bool // nkey users exist: INFO carries a nonce to sign

	token              string // Options.Authorization
	username, password string // the single-user form
	users              map[string]*authEntry
	nkeys              map[string]*authEntry
	noAuth             *authEntry // no_auth_user: who a client presenting nothing is
	anonGlobal         bool       // a client presenting nothing joins $G (see accountSet)

	mu *sync.RWMutex // the auth lock, shared by all generations (see applyAuth)
}

// authEntry is one configured user.
type authEntry struct {
	name    string // user name, or the public nkey
	secret  string // password (plain or bcrypt); empty for nkeys
	perms   *permSet
	account string // the user's account; "" for the global account
}

// anonEntry is who a client is when auth is off, or when it presented
// nothing and may join the global account anyway.
var anonEntry = &authEntry{}

func newAuthState(o *Options) *authState {
	a := &authState{
		token:    o.Authorization,
		username: o.Username,
		password: o.Password,
		mu:       new(sync.RWMutex),
	}
	// Users sharing a Permissions (default_permissions, typically) share its
	// compiled form.
	compiled := map[*Permissions]*permSet{}
	compile := func(p *Permissions, account string) *permSet {
		if p == nil && account == "" {
			p = o.DefaultPermissions // an account's own defaults were applied to its users
		}
		if p == nil {
			return nil
		}
		ps, ok := compiled[p]
		if !ok {
			ps = compilePerms(p)
			compiled[p] = ps
		}
		return ps
	}
	if o.Users != nil {
		a.users = make(map[string]*authEntry, len(o.Users))
		for _, u := range o.Users {
			if u != nil {
				a.users[u.Username] = &authEntry{name: u.Username, secret: u.Password, perms: compile(u.Permissions, u.Account), account: u.Account}
			}
		}
	}
	if o.Nkeys != nil {
		a.nkeys = make(map[string]*authEntry, len(o.Nkeys))
		for _, n := range o.Nkeys {
			if n != nil {
				a.nkeys[n.Nkey] = &authEntry{name: n.Nkey, perms: compile(n.Permissions, n.Account), account: n.Account}
			}
		}
	}
	a.nonce = len(a.nkeys) > 0
	a.required = a.token != "" || a.username != "" || len(a.users) > 0 || len(a.nkeys) > 0
	if o.NoAuthUser != "" {
		if a.noAuth = a.users[o.NoAuthUser]; a.noAuth == nil {
			a.noAuth = a.nkeys[o.NoAuthUser]
		}
	}
	a.anonGlobal = onlySystemAccount(o)
	return a
}

// authIdentity is what a client presented at CONNECT, in the form busd keeps
// (see the top of this file). It is immutable once the client's perms are
// published.
type authIdentity struct {
	key        [32]byte // this connection's HMAC key
	user       string
	nkey       string
	nkeyProved bool // its signature over this connection's nonce verified
	anon       bool // it presented no user, nkey, password or token
	pass       secretProof
	token      secretProof
}

// secretProof stands in for a presented password or token.
type secretProof struct {
	digest    [32]byte // HMAC of the secret as presented
	bcrypt    [32]byte // HMAC of the bcrypt hash that accepted it
	viaBcrypt bool
}

func (id *authIdentity) mac(s string) [32]byte {
	m := hmac.New(sha256.New, id.key[:])
	m.Write([]byte(s))
	var out [32]byte
	m.Sum(out[:0])
	return out
}

// matches reports whether the presented secret sp satisfies the configured
// one. clear is the secret as presented, at CONNECT; nil on reload.
func (id *authIdentity) matches(sp *secretProof, configured string, clear *string) bool {
	if isBcrypt(configured) {
		h := id.mac(configured)
		if clear == nil {
			return sp.viaBcrypt && hmac.Equal(h[:], sp.bcrypt[:])
		}
		if bcrypt.CompareHashAndPassword([]byte(configured), []byte(*clear)) != nil {
			return false
		}
		sp.bcrypt, sp.viaBcrypt = h, true
		return true
	}
	h := id.mac(configured)
	return hmac.Equal(h[:], sp.digest[:])
}

// check runs the nats-server decision for id against a. clearPass and
// clearToken are the presented secrets at CONNECT, nil on reload. It returns
// the user: its name (for /connz; empty when auth is off or for the token),
// compiled permissions (nil: unrestricted) and account.
func (a *authState) check(id *authIdentity, clearPass, clearToken *string) (*authEntry, bool) {
	switch {
	case !a.required:
		return anonEntry, true
	case id.anon && a.noAuth != nil:
		return a.noAuth, true
	case id.anon && a.anonGlobal:
		return anonEntry, true
	case id.nkey != "" && a.nkeys != nil:
		e := a.nkeys[id.nkey]
		if e == nil || !id.nkeyProved {
			return nil, false
		}
		return e, true
	case id.user != "" && a.users != nil:
		e := a.users[id.user]
		if e == nil || !id.matches(&id.pass, e.secret, clearPass) {
			return nil, false
		}
		return e, true
	case a.token != "":
		return anonEntry, id.matches(&id.token, a.token, clearToken)
	case a.username != "":
		if id.user != a.username || !id.matches(&id.pass, a.password, clearPass) {
			return nil, false
		}
		return &authEntry{name: a.username}, true
	}
	return nil, false
}

// authenticate checks the CONNECT credentials and, when they pass, records
// the client's identity and permissions (c.user, c.perms). It is called for
// every CONNECT, auth configured or not, so that a reload that turns auth on
// can re-check clients that connected before. It never logs credentials.
func (s *Server) authenticate(c *client, o *connectOpts) bool {
	mu := s.auth.Load().mu
	mu.RLock()
	defer mu.RUnlock()
	a := s.auth.Load()

	id := &authIdentity{user: o.User, nkey: o.Nkey, anon: o.User == "" && o.Nkey == "" && o.Pass == "" && o.AuthToken == "" && o.JWT == ""}
	if _, err := rand.Read(id.key[:]); err != nil {
		return false
	}
	id.pass.digest = id.mac(o.Pass)
	id.token.digest = id.mac(o.AuthToken)
	if o.Nkey != "" && len(c.nonce) > 0 && o.Sig != "" {
		id.nkeyProved = verifyNonceSig(o.Nkey, o.Sig, c.nonce)
	}
	pass, token := o.Pass, o.AuthToken
	e, ok := a.check(id, &pass, &token)
	if !ok {
		return false
	}
	acc := s.accounts().lookup(e.account)
	if acc == nil {
		return false // the account went away in a reload racing this CONNECT
	}
	c.mu.Lock()
	c.user = e.name
	c.mu.Unlock()
	c.perms.Store(newClientPerms(e.perms, id))
	c.bindAccount(acc)
	return true
}

// verifyNonceSig reports whether sig (base64, URL or standard alphabet, as
// nats-server accepts) is pub's signature of nonce.
func verifyNonceSig(pub, sig string, nonce []byte) bool {
	raw, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil {
		if raw, err = base64.StdEncoding.DecodeString(sig); err != nil {
			return false
		}
	}
	kp, err := nkeys.FromPublicKey(pub)
	if err != nil {
		return false
	}
	return kp.Verify(nonce, raw) == nil
}

// isBcrypt reports whether a configured password or token is a bcrypt hash:
// "$2a$", "$2b$", "$2x$" or "$2y$", a two-digit cost and "$".
func isBcrypt(s string) bool {
	if len(s) < 7 || s[0] != '$' || s[1] != '2' || s[3] != '$' || s[6] != '$' {
		return false
	}
	switch s[2] {
	case 'a', 'b', 'x', 'y':
	default:
		return false
	}
	return s[4] >= '0' && s[4] <= '9' && s[5] >= '0' && s[5] <= '9'
}
