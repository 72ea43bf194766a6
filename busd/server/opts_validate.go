package server

import (
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nkeys"
)

// Validate reports every inconsistency in o that would make New fail or make
// the server behave other than the options say, joined into one error (nil when
// there is none). Zero fields count as their defaults. It does not modify o.
//
// The busd command calls it after merging the config file and the flags, so a
// conflict between the two (say --user with a users array in the file) is
// reported before anything listens.
func (o *Options) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if o.Port < -1 || o.Port > 65535 {
		bad("port %d is out of range (-1 to 65535)", o.Port)
	}
	if o.HTTPPort < -1 || o.HTTPPort > 65535 {
		bad("http port %d is out of range (-1 to 65535)", o.HTTPPort)
	}
	if strings.ContainsAny(o.ServerName, " \t\r\n") {
		bad("server name %q must not contain whitespace", o.ServerName)
	}
	if o.MaxPayload < 0 || o.MaxPending < 0 || o.MaxControlLine < 0 || o.MaxConn < 0 || o.MaxSubs < 0 || o.MaxPingsOut < 0 {
		bad("limits must not be negative")
	}
	if o.PingInterval < 0 || o.WriteDeadline < 0 || o.AuthTimeout < 0 || o.TLSTimeout < 0 ||
		o.LameDuckDuration < 0 || o.LameDuckGracePeriod < 0 {
		bad("durations must not be negative")
	}
	payload, pending := int64(o.MaxPayload), o.MaxPending
	if payload == 0 {
		payload = DefaultMaxPayload
	}
	if pending == 0 {
		pending = DefaultMaxPending
	}
	if payload > 0 && pending > 0 && payload > pending {
		bad("max_payload (%d) must not exceed max_pending (%d)", payload, pending)
	}

	multi := len(o.Users) > 0 || len(o.Nkeys) > 0
	switch {
	case o.Username != "" && multi:
		bad("a single user (%q) cannot be combined with a users list", o.Username)
	case o.Authorization != "" && multi:
		bad("a token cannot be combined with a users list")
	case o.Authorization != "" && o.Username != "":
		bad("a token cannot be combined with a user")
	case o.Password != "" && o.Username == "":
		bad("a password needs a user")
	}
	seen := map[string]bool{}
	for i, u := range o.Users {
		switch {
		case u == nil:
			bad("users[%d] is nil", i)
		case u.Username == "":
			bad("users[%d] has no username", i)
		case seen[u.Username]:
			bad("duplicate user %q", u.Username)
		default:
			seen[u.Username] = true
			errs = append(errs, permissionErrors(fmt.Sprintf("user %q", u.Username), u.Permissions)...)
		}
	}
	for i, n := range o.Nkeys {
		switch {
		case n == nil:
			bad("nkeys[%d] is nil", i)
		case !nkeys.IsValidPublicUserKey(n.Nkey):
			bad("%q is not a public user nkey", n.Nkey)
		case seen[n.Nkey]:
			bad("duplicate nkey %q", n.Nkey)
		default:
			seen[n.Nkey] = true
			errs = append(errs, permissionErrors(fmt.Sprintf("nkey %q", n.Nkey), n.Permissions)...)
		}
	}
	errs = append(errs, permissionErrors("default permissions", o.DefaultPermissions)...)
	for _, a := range o.Accounts {
		if a != nil {
			errs = append(errs, permissionErrors(fmt.Sprintf("account %q default permissions", a.Name), a.DefaultPermissions)...)
		}
	}
	for _, p := range checkAccounts(o) {
		errs = append(errs, errors.New(p.msg))
	}

	if o.TLSVerify && o.TLSConfig == nil {
		bad("TLS verify is set without a TLS configuration")
	}
	if tc := o.TLSConfig; tc != nil && len(tc.Certificates) == 0 && tc.GetCertificate == nil && tc.GetConfigForClient == nil {
		bad("tls: the configuration has no certificate (set Certificates, GetCertificate or GetConfigForClient)")
	}
	return errors.Join(errs...)
}

// permissionErrors checks the subjects of p, which belongs to who.
func permissionErrors(who string, p *Permissions) []error {
	if p == nil {
		return nil
	}
	var errs []error
	check := func(kind string, sp *SubjectPermission, queues bool) {
		if sp == nil {
			return
		}
		for _, list := range [][]string{sp.Allow, sp.Deny} {
			for _, s := range list {
				if !validPermSubject(s, queues) {
					errs = append(errs, fmt.Errorf("%s: %s permission %q is not a valid subject", who, kind, s))
				}
			}
		}
	}
	check("publish", p.Publish, false)
	check("subscribe", p.Subscribe, true)
	return errs
}
