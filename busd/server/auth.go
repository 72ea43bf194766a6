package server

import "crypto/subtle"

// clientPerms is what an authenticated client may publish and subscribe to.
// A nil *clientPerms allows everything.
type clientPerms struct{}

func (p *clientPerms) pubAllowed(subject []byte) bool                     { return true }
func (p *clientPerms) subAllowed(subject, queue []byte) bool              { return true }
func (p *clientPerms) deliverAllowed(sub *subscription, subj []byte) bool { return true }

// authRequired reports whether clients must present credentials.
func (s *Server) authRequired() bool { return s.auth.Load().required }

// authState is the server's credential configuration, rebuilt on reload.
type authState struct {
	required bool
	token    string
	users    map[string]*User
}

func newAuthState(o *Options) *authState {
	a := &authState{token: o.Authorization}
	if o.Username != "" {
		a.users = map[string]*User{o.Username: {Username: o.Username, Password: o.Password}}
	}
	for _, u := range o.Users {
		if a.users == nil {
			a.users = make(map[string]*User)
		}
		a.users[u.Username] = u
	}
	a.required = a.token != "" || len(a.users) > 0
	return a
}

// authenticate checks the CONNECT credentials; it never logs them.
func (s *Server) authenticate(c *client, o *connectOpts) (string, *clientPerms, bool) {
	a := s.auth.Load()
	if a.token != "" {
		return "", nil, subtle.ConstantTimeCompare([]byte(o.AuthToken), []byte(a.token)) == 1
	}
	u, ok := a.users[o.User]
	if !ok {
		return "", nil, false
	}
	if subtle.ConstantTimeCompare([]byte(o.Pass), []byte(u.Password)) != 1 {
		return "", nil, false
	}
	return u.Username, nil, true
}
