package server

// The authorization block of a configuration file: users, nkeys, tokens and
// permissions.

import (
	"fmt"
	"math"
	"strings"

	"github.com/nats-io/nkeys"
)

// authorization maps the authorization block.
func (l *confLoader) authorization(v confValue) {
	es, ok := l.block(v)
	if !ok {
		return
	}
	o := l.opts
	var userAt, passAt, tokenAt, usersAt *confValue
	for _, e := range es {
		switch strings.ToLower(e.name) {
		case "user", "username":
			if s, ok := l.str(e.confValue); ok {
				o.Username, userAt = s, &e.confValue
			}
		case "pass", "password":
			if s, ok := l.str(e.confValue); ok {
				o.Password, passAt = s, &e.confValue
			}
		case "token":
			if s, ok := l.str(e.confValue); ok {
				o.Authorization, tokenAt = s, &e.confValue
			}
		case "timeout":
			if d, ok := l.seconds(e.confValue); ok {
				o.AuthTimeout = d
			}
		case "users":
			usersAt = &e.confValue
			l.users(e.confValue)
		case "default_permissions", "default_permission", "permissions":
			if p, ok := l.permissions(e.confValue); ok {
				o.DefaultPermissions = p
			}
		default:
			l.unknown(e)
		}
	}
	switch {
	case usersAt != nil && userAt != nil:
		l.errorf(*userAt, "a single user and a users array cannot be combined")
	case usersAt != nil && tokenAt != nil:
		l.errorf(*tokenAt, "a token and a users array cannot be combined")
	case userAt != nil && tokenAt != nil:
		l.errorf(*tokenAt, "a token and a user cannot be combined")
	case passAt != nil && userAt == nil:
		l.errorf(*passAt, "a password needs a user")
	}
}

// users maps the users array of an authorization block.
func (l *confLoader) users(v confValue) {
	arr, ok := v.v.([]any)
	if !ok {
		l.errorf(v, "expected an array of users, got %s", describeConf(v.v))
		return
	}
	o := l.opts
	seen := map[string]bool{}
	for i, raw := range arr {
		uv := l.wrap(fmt.Sprintf("%s[%d]", v.key, i), raw, v)
		m, ok := uv.v.(map[string]any)
		if !ok {
			l.errorf(uv, "expected a user block { user: ..., password: ... }, got %s", describeConf(uv.v))
			continue
		}
		es := l.entries(m, uv)
		if len(es) > 0 && es[0].file == uv.file {
			// The map's own token sits on its closing brace; its first key is
			// where a reader looks for the entry.
			uv.line = es[0].line
		}
		var (
			name, pass, nkey string
			hasPass          bool
			perms            *Permissions
		)
		for _, e := range es {
			switch strings.ToLower(e.name) {
			case "user", "username":
				name, _ = l.str(e.confValue)
			case "pass", "password":
				pass, hasPass = l.str(e.confValue)
			case "nkey":
				nkey, _ = l.str(e.confValue)
			case "permissions", "permission", "authorization":
				perms, _ = l.permissions(e.confValue)
			default:
				l.unknown(e)
			}
		}
		switch {
		case nkey != "":
			if name != "" || hasPass {
				l.errorf(uv, "an nkey user takes no user or password")
			} else if !nkeys.IsValidPublicUserKey(nkey) {
				l.errorf(uv, "%q is not a public user nkey (one starting with U)", nkey)
			} else if seen[nkey] {
				l.errorf(uv, "duplicate nkey %q", nkey)
			} else {
				seen[nkey] = true
				o.Nkeys = append(o.Nkeys, &NkeyUser{Nkey: nkey, Permissions: perms})
				l.mark(o.Nkeys[len(o.Nkeys)-1], uv)
			}
		case name != "":
			if seen[name] {
				l.errorf(uv, "duplicate user %q", name)
			} else {
				seen[name] = true
				o.Users = append(o.Users, &User{Username: name, Password: pass, Permissions: perms})
				l.mark(o.Users[len(o.Users)-1], uv)
			}
		default:
			l.errorf(uv, "a user entry needs a user or an nkey")
		}
	}
}

// permissions maps a permissions block.
func (l *confLoader) permissions(v confValue) (*Permissions, bool) {
	es, ok := l.block(v)
	if !ok {
		return nil, false
	}
	p := &Permissions{}
	bad := len(l.errs)
	for _, e := range es {
		switch strings.ToLower(e.name) {
		case "publish", "pub":
			p.Publish = l.subjectPermission(e.confValue, false)
		case "subscribe", "sub":
			p.Subscribe = l.subjectPermission(e.confValue, true)
		case "allow_responses", "publish_allow_responses":
			p.Response = l.allowResponses(e.confValue)
		default:
			l.unknown(e)
		}
	}
	if p.Response != nil {
		// As in nats-server, allowing responses turns off the implicit "publish
		// anywhere": a user with only allow_responses may publish replies only.
		if p.Publish == nil {
			p.Publish = &SubjectPermission{}
		}
		if p.Publish.Allow == nil {
			p.Publish.Allow = []string{}
		}
	}
	return p, len(l.errs) == bad
}

// subjectPermission maps publish or subscribe: a subject, an array of
// subjects (both allow lists), or a block with allow and deny.
func (l *confLoader) subjectPermission(v confValue, queues bool) *SubjectPermission {
	m, ok := v.v.(map[string]any)
	if !ok {
		return &SubjectPermission{Allow: l.subjects(v, queues)}
	}
	sp := &SubjectPermission{}
	for _, e := range l.entries(m, v) {
		switch strings.ToLower(e.name) {
		case "allow":
			sp.Allow = l.subjects(e.confValue, queues)
		case "deny":
			sp.Deny = l.subjects(e.confValue, queues)
		default:
			l.unknown(e)
		}
	}
	return sp
}

// subjects expects a subject or an array of subjects. With queues, a subject
// may be followed by a queue group name ("orders.* workers").
func (l *confLoader) subjects(v confValue, queues bool) []string {
	var items []confValue
	switch x := v.v.(type) {
	case string:
		items = []confValue{v}
	case []any:
		for i, raw := range x {
			items = append(items, l.wrap(fmt.Sprintf("%s[%d]", v.key, i), raw, v))
		}
	default:
		l.errorf(v, "expected a subject or an array of subjects, got %s", describeConf(v.v))
		return nil
	}
	out := make([]string, 0, len(items))
	for _, it := range items {
		s, ok := it.v.(string)
		if !ok {
			l.errorf(it, "expected a subject, got %s", describeConf(it.v))
			continue
		}
		if !validPermSubject(s, queues) {
			l.errorf(it, "%q is not a valid subject", s)
			continue
		}
		out = append(out, s)
	}
	return out
}

// validPermSubject reports whether s is a subject, possibly with wildcards,
// or, when queues is set, a subject and a queue group separated by whitespace.
func validPermSubject(s string, queues bool) bool {
	if confSubject(s) {
		return true
	}
	if !queues {
		return false
	}
	f := strings.Fields(s)
	return len(f) == 2 && confSubject(f[0]) && confSubject(f[1])
}

// confSubject reports whether s is a NATS subject: dot-separated non-empty
// tokens without whitespace, where '>' may only be the last token.
func confSubject(s string) bool {
	if s == "" || strings.ContainsAny(s, " \t\r\n") {
		return false
	}
	toks := strings.Split(s, ".")
	for i, t := range toks {
		if t == "" || (t == ">" && i != len(toks)-1) {
			return false
		}
	}
	return true
}

// allowResponses maps allow_responses: true, false, or { max, expires }.
func (l *confLoader) allowResponses(v confValue) *ResponsePermission {
	rp := &ResponsePermission{MaxMsgs: DefaultAllowResponsesMax, Expires: DefaultAllowResponsesExpires}
	switch x := v.v.(type) {
	case bool:
		if !x {
			return nil
		}
		return rp
	case map[string]any:
		for _, e := range l.entries(x, v) {
			switch strings.ToLower(e.name) {
			case "max", "max_msgs", "max_messages", "max_responses":
				// As in nats-server: negative means unlimited, 0 the default.
				if n, ok := l.integer(e.confValue); ok && n != 0 {
					if n > math.MaxInt32 || n < math.MinInt32 {
						l.errorf(e.confValue, "%d is out of range", n)
					} else {
						rp.MaxMsgs = int(n)
					}
				}
			case "expires", "expiration", "ttl":
				if d, ok := l.duration(e.confValue); ok && d != 0 {
					rp.Expires = d
				}
			default:
				l.unknown(e)
			}
		}
		return rp
	default:
		l.errorf(v, "expected true, false or a block { max, expires }, got %s", describeConf(v.v))
		return nil
	}
}
