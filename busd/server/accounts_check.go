package server

// Checking an accounts configuration. One checker serves both the config
// file loader, which places each problem at the file and line of the entry it
// is about, and Options.Validate, which reports it for programs that build
// Options themselves.

import (
	"fmt"
	"slices"
	"strings"
)

// accountProblem is one inconsistency; at is the entry it is about (an
// *Account, *Export, *Import, *User or *NkeyUser) or nil for a top-level key.
type accountProblem struct {
	at  any
	key string // the top-level key concerned when at is nil ("system_account", "no_auth_user")
	msg string
}

// maxImportHops bounds how many imports a message may cross: chained service
// imports are allowed, a loop of them is cut here.
const maxImportHops = 8

// checkAccounts reports every problem of o's accounts, users' accounts,
// system_account and no_auth_user.
func checkAccounts(o *Options) []accountProblem {
	var ps []accountProblem
	bad := func(at any, format string, args ...any) {
		ps = append(ps, accountProblem{at: at, msg: fmt.Sprintf(format, args...)})
	}
	accs := make(map[string]*Account, len(o.Accounts))
	for _, a := range o.Accounts {
		switch {
		case a == nil:
			bad(nil, "accounts: an entry is nil")
			continue
		case a.Name == "":
			bad(a, "an account needs a name")
		case a.Name == GlobalAccount:
			bad(a, "%q is a reserved account name", a.Name)
		case strings.ContainsAny(a.Name, " \t\r\n.*>"):
			bad(a, "account name %q must not contain whitespace, '.', '*' or '>'", a.Name)
		case accs[a.Name] != nil:
			bad(a, "duplicate account %q", a.Name)
		default:
			accs[a.Name] = a
		}
	}
	known := func(name string) bool { return name == "" || name == GlobalAccount || accs[name] != nil }
	for _, u := range o.Users {
		if u != nil && !known(u.Account) {
			bad(u, "user %q: account %q is not defined", u.Username, u.Account)
		}
	}
	for _, n := range o.Nkeys {
		if n != nil && !known(n.Account) {
			bad(n, "nkey %q: account %q is not defined", n.Nkey, n.Account)
		}
	}
	if s := o.SystemAccount; s != "" && s != DefaultSystemAccount && accs[s] == nil {
		ps = append(ps, accountProblem{key: "system_account", msg: fmt.Sprintf("system_account: account %q is not defined in accounts", s)})
	}
	if s := o.SystemAccount; s == GlobalAccount {
		ps = append(ps, accountProblem{key: "system_account", msg: "system_account: the global account cannot be the system account"})
	}
	if nu := o.NoAuthUser; nu != "" && !hasUser(o, nu) {
		ps = append(ps, accountProblem{key: "no_auth_user", msg: fmt.Sprintf("no_auth_user: %q is not a user or nkey of the authorization block or of an account", nu)})
	}

	for _, a := range o.Accounts {
		if a == nil || accs[a.Name] != a {
			continue
		}
		for _, e := range a.Exports {
			if e == nil {
				bad(a, "account %q: an export is nil", a.Name)
				continue
			}
			if !confSubject(e.Subject) {
				bad(e, "account %q: export subject %q is not a valid subject", a.Name, e.Subject)
			}
			for _, an := range e.Accounts {
				if accs[an] == nil {
					bad(e, "account %q: export %q names account %q, which is not defined", a.Name, e.Subject, an)
				}
			}
			if !e.Service && (e.ResponseType != Singleton || e.ResponseThreshold != 0) {
				bad(e, "account %q: a response type or threshold applies to service exports only", a.Name)
			}
			if e.ResponseThreshold < 0 {
				bad(e, "account %q: response threshold must not be negative", a.Name)
			}
		}
		svcTo := map[string]string{}
		for _, im := range a.Imports {
			if im == nil {
				bad(a, "account %q: an import is nil", a.Name)
				continue
			}
			if msg := checkImport(a, im, accs); msg != "" {
				bad(im, "account %q: %s", a.Name, msg)
				continue
			}
			if im.Service {
				local := im.localSubject()
				if prev, dup := svcTo[local]; dup && prev == im.Account {
					bad(im, "account %q: duplicate service import subject %q from account %q", a.Name, local, im.Account)
				}
				svcTo[local] = im.Account
			}
		}
	}
	return ps
}

// checkImport returns what is wrong with im, an import of a, or "".
func checkImport(a *Account, im *Import, accs map[string]*Account) string {
	kind := "stream"
	if im.Service {
		kind = "service"
	}
	if im.Account == "" || im.Subject == "" {
		return fmt.Sprintf("a %s import needs an account and a subject", kind)
	}
	if !confSubject(im.Subject) {
		return fmt.Sprintf("%s import subject %q is not a valid subject", kind, im.Subject)
	}
	exp := accs[im.Account]
	if exp == nil {
		return fmt.Sprintf("%s import from account %q, which is not defined", kind, im.Account)
	}
	if exp == a {
		return fmt.Sprintf("%s import %q: an account cannot import from itself", kind, im.Subject)
	}
	if im.Service {
		if im.Prefix != "" {
			return fmt.Sprintf("service import %q: prefix applies to stream imports only", im.Subject)
		}
	} else {
		if im.Share {
			return fmt.Sprintf("stream import %q: share applies to service imports only", im.Subject)
		}
		if im.Prefix != "" && im.To != "" {
			return fmt.Sprintf("stream import %q can not have a 'prefix' and a 'to' property", im.Subject)
		}
		if im.Prefix != "" && (!confSubject(im.Prefix) || subjectHasWildcard([]byte(im.Prefix))) {
			return fmt.Sprintf("stream import %q: prefix %q must be a subject without wildcards", im.Subject, im.Prefix)
		}
	}
	if im.To != "" {
		src, dst := im.Subject, im.To
		if im.Service {
			src, dst = im.To, im.Subject
		}
		if _, err := newSubjectMap(src, dst); err != nil {
			return fmt.Sprintf("%s import %q to %q: %v", kind, im.Subject, im.To, err)
		}
	}
	if findExport(exp, im.Service, im.Subject, a.Name) == nil {
		return fmt.Sprintf("%s import %q from account %q is not authorized: the account exports no %s covering it to %q", kind, im.Subject, im.Account, kind, a.Name)
	}
	return ""
}

// localSubject is the subject im is published (service) or received (stream)
// on in the importing account.
func (im *Import) localSubject() string {
	switch {
	case im.To != "":
		return im.To
	case im.Prefix != "":
		return im.Prefix + "." + im.Subject
	}
	return im.Subject
}

// findExport returns exp's export of the given kind that covers subject and
// that importer may use, or nil. A literal export wins over a wildcard one.
func findExport(exp *Account, service bool, subject, importer string) *Export {
	var best *Export
	for _, e := range exp.Exports {
		if e == nil || e.Service != service || !confSubject(e.Subject) || !tokensCover(e.Subject, subject, true) {
			continue
		}
		if len(e.Accounts) > 0 && !slices.Contains(e.Accounts, importer) {
			continue
		}
		if best == nil || !subjectHasWildcard([]byte(e.Subject)) {
			best = e
		}
	}
	return best
}

func hasUser(o *Options, name string) bool {
	for _, u := range o.Users {
		if u != nil && u.Username == name {
			return true
		}
	}
	for _, n := range o.Nkeys {
		if n != nil && n.Nkey == name {
			return true
		}
	}
	return false
}
