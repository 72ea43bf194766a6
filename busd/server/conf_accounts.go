package server

// The accounts block of a configuration file, with no_auth_user and
// system_account, in nats-server's syntax:
//
//	accounts {
//	  ORDERS: {
//	    users: [ {user: orders, password: s3cret} ]
//	    exports: [ {service: "orders.>", accounts: [SHOP], response_type: singleton},
//	               {stream: "orders.events.>"} ]
//	  }
//	  SHOP: {
//	    users: [ {nkey: UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4} ]
//	    imports: [ {service: {account: ORDERS, subject: "orders.place"}, to: "place"},
//	               {stream: {account: ORDERS, subject: "orders.events.>"}, prefix: "upstream"} ]
//	  }
//	}
//	system_account: SYS
//	no_auth_user: orders

import (
	"fmt"
	"strings"
)

// accounts maps the accounts block: a map of account blocks, or an array of
// account names.
func (l *confLoader) accounts(v confValue) {
	o := l.opts
	if arr, ok := v.v.([]any); ok {
		for i, raw := range arr {
			iv := l.wrap(fmt.Sprintf("%s[%d]", v.key, i), raw, v)
			if name, ok := l.str(iv); ok {
				a := &Account{Name: name}
				l.mark(a, iv)
				o.Accounts = append(o.Accounts, a)
			}
		}
		return
	}
	es, ok := l.block(v)
	if !ok {
		return
	}
	for _, e := range es {
		if e.used {
			continue // a variable defined inside the block and referenced elsewhere
		}
		a := &Account{Name: e.name}
		l.mark(a, e.confValue)
		o.Accounts = append(o.Accounts, a)
		l.account(a, e.confValue)
	}
}

// account maps one account block.
func (l *confLoader) account(a *Account, v confValue) {
	es, ok := l.block(v)
	if !ok {
		return
	}
	o := l.opts
	firstUser, firstNkey := len(o.Users), len(o.Nkeys)
	for _, e := range es {
		switch strings.ToLower(e.name) {
		case "users":
			l.users(e.confValue)
		case "exports":
			l.exports(a, e.confValue)
		case "imports":
			l.imports(a, e.confValue)
		case "default_permissions", "default_permission":
			if p, ok := l.permissions(e.confValue); ok {
				a.DefaultPermissions = p
			}
		default:
			l.unknown(e)
		}
	}
	// The account's users are the ones l.users just appended.
	for _, u := range o.Users[firstUser:] {
		u.Account = a.Name
		if u.Permissions == nil {
			u.Permissions = a.DefaultPermissions
		}
	}
	for _, n := range o.Nkeys[firstNkey:] {
		n.Account = a.Name
		if n.Permissions == nil {
			n.Permissions = a.DefaultPermissions
		}
	}
}

// items expects an array of blocks and returns each with its location.
func (l *confLoader) items(v confValue, what string) []confValue {
	arr, ok := v.v.([]any)
	if !ok {
		l.errorf(v, "expected an array of %s, got %s", what, describeConf(v.v))
		return nil
	}
	out := make([]confValue, 0, len(arr))
	for i, raw := range arr {
		iv := l.wrap(fmt.Sprintf("%s[%d]", v.key, i), raw, v)
		m, ok := iv.v.(map[string]any)
		if !ok {
			l.errorf(iv, "expected a block { ... }, got %s", describeConf(iv.v))
			continue
		}
		if es := l.entries(m, iv); len(es) > 0 && es[0].file == iv.file {
			iv.line = es[0].line // a map's own token sits on its closing brace
		}
		out = append(out, iv)
	}
	return out
}

// exports maps an exports array: {service: subject} or {stream: subject},
// with accounts, response_type and response_threshold.
func (l *confLoader) exports(a *Account, v confValue) {
	for _, iv := range l.items(v, "exports") {
		ex := &Export{}
		var kindAt, respAt *confValue
		for _, e := range l.entries(iv.v.(map[string]any), iv) {
			switch strings.ToLower(e.name) {
			case "service", "stream":
				if kindAt != nil {
					l.errorf(e.confValue, "an export is a service or a stream, not both")
					continue
				}
				kindAt = &e.confValue
				ex.Service = strings.EqualFold(e.name, "service")
				if s, ok := l.str(e.confValue); ok {
					ex.Subject = s
					if !confSubject(s) {
						l.errorf(e.confValue, "%q is not a valid subject", s)
					}
				}
			case "accounts":
				ex.Accounts = l.names(e.confValue)
			case "response", "response_type":
				respAt = &e.confValue
				if s, ok := l.str(e.confValue); ok {
					switch strings.ToLower(s) {
					case "single", "singleton":
						ex.ResponseType = Singleton
					case "stream", "streamed":
						ex.ResponseType = Streamed
					case "chunk", "chunked":
						ex.ResponseType = Chunked
					default:
						l.errorf(e.confValue, "unknown response type %q (singleton, stream or chunked)", s)
					}
				}
			case "threshold", "response_threshold", "response_max_time", "response_time":
				respAt = &e.confValue
				if d, ok := l.duration(e.confValue); ok {
					if d <= 0 {
						l.errorf(e.confValue, "must be positive, got %v", d)
					} else {
						ex.ResponseThreshold = d
					}
				}
			default:
				l.unknown(e)
			}
		}
		switch {
		case kindAt == nil:
			l.errorf(iv, "an export needs a service or a stream subject")
			continue
		case respAt != nil && !ex.Service:
			l.errorf(*respAt, "a response type or threshold applies to service exports only")
			continue
		}
		l.mark(ex, iv)
		a.Exports = append(a.Exports, ex)
	}
}

// imports maps an imports array: {service: {account, subject}, to, share} or
// {stream: {account, subject}, prefix | to}.
func (l *confLoader) imports(a *Account, v confValue) {
	for _, iv := range l.items(v, "imports") {
		im := &Import{}
		var kindAt, prefixAt, shareAt *confValue
		for _, e := range l.entries(iv.v.(map[string]any), iv) {
			switch strings.ToLower(e.name) {
			case "service", "stream":
				if kindAt != nil {
					l.errorf(e.confValue, "an import is a service or a stream, not both")
					continue
				}
				kindAt = &e.confValue
				im.Service = strings.EqualFold(e.name, "service")
				im.Account, im.Subject = l.importSource(e.confValue)
			case "to":
				if s, ok := l.str(e.confValue); ok {
					im.To = s
				}
			case "prefix":
				prefixAt = &e.confValue
				if s, ok := l.str(e.confValue); ok {
					im.Prefix = s
				}
			case "share":
				shareAt = &e.confValue
				if b, ok := l.boolean(e.confValue); ok {
					im.Share = b
				}
			default:
				l.unknown(e)
			}
		}
		switch {
		case kindAt == nil:
			l.errorf(iv, "an import needs a service or a stream { account: ..., subject: ... }")
			continue
		case im.Service && prefixAt != nil:
			l.errorf(*prefixAt, "prefix applies to stream imports only (a service import renames with to)")
			continue
		case !im.Service && shareAt != nil:
			l.errorf(*shareAt, "share applies to service imports only")
			continue
		}
		l.mark(im, iv)
		a.Imports = append(a.Imports, im)
	}
}

// importSource maps the {account: ..., subject: ...} of an import.
func (l *confLoader) importSource(v confValue) (account, subject string) {
	es, ok := l.block(v)
	if !ok {
		return "", ""
	}
	for _, e := range es {
		switch strings.ToLower(e.name) {
		case "account":
			account, _ = l.str(e.confValue)
		case "subject":
			subject, _ = l.str(e.confValue)
		default:
			l.unknown(e)
		}
	}
	if account == "" || subject == "" {
		l.errorf(v, "expected an account and a subject")
	}
	return account, subject
}

// names expects an array of account names (or a single name).
func (l *confLoader) names(v confValue) []string {
	if s, ok := v.v.(string); ok {
		return []string{s}
	}
	arr, ok := v.v.([]any)
	if !ok {
		l.errorf(v, "expected an array of account names, got %s", describeConf(v.v))
		return nil
	}
	out := make([]string, 0, len(arr))
	for i, raw := range arr {
		if s, ok := l.str(l.wrap(fmt.Sprintf("%s[%d]", v.key, i), raw, v)); ok {
			out = append(out, s)
		}
	}
	return out
}

// mark remembers where x (an account, export, import or user) was written,
// so that checkAccounts' problems about it can name the file and line.
func (l *confLoader) mark(x any, v confValue) {
	if l.at == nil {
		l.at = make(map[any]confValue)
	}
	l.at[x] = v
}

// checkAccounts runs the accounts checks once the whole file is read, placing
// each problem at the entry it is about.
func (l *confLoader) checkAccounts() {
	if len(l.errs) > 0 {
		return // problems with undefined names would mostly repeat them
	}
	o := l.opts
	seen := map[string]bool{}
	for _, u := range o.Users {
		if seen[u.Username] {
			l.errorf(l.where(u, ""), "duplicate user %q (user names are unique across authorization and accounts)", u.Username)
		}
		seen[u.Username] = true
	}
	for _, n := range o.Nkeys {
		if seen[n.Nkey] {
			l.errorf(l.where(n, ""), "duplicate nkey %q (nkeys are unique across authorization and accounts)", n.Nkey)
		}
		seen[n.Nkey] = true
	}
	if len(o.Accounts) > 0 && (o.Username != "" || o.Authorization != "") && accountUsers(o) {
		l.errorf(l.where(nil, "authorization"), "a single user or a token cannot be combined with account users")
	}
	for _, p := range checkAccounts(o) {
		at := l.where(p.at, p.key)
		at.key = "" // the message already names what it is about
		l.errorf(at, "%s", p.msg)
	}
}

// where is the recorded location of x, or of the top-level key.
func (l *confLoader) where(x any, key string) confValue {
	if x != nil {
		if v, ok := l.at[x]; ok {
			return v
		}
	}
	if v, ok := l.at[key]; ok {
		return v
	}
	return confValue{file: l.path}
}

// accountUsers reports whether any user belongs to a configured account.
func accountUsers(o *Options) bool {
	for _, u := range o.Users {
		if u.Account != "" {
			return true
		}
	}
	for _, n := range o.Nkeys {
		if n.Account != "" {
			return true
		}
	}
	return false
}
