package server

import (
	"crypto/tls"
	"strings"
	"testing"
)

// TestValidate checks that consistent options pass and that each kind of
// inconsistency is reported with a message saying what is wrong.
func TestValidate(t *testing.T) {
	good := []*Options{
		{},
		{Port: -1, HTTPPort: -1, MaxPayload: 1024, MaxPending: 1024},
		{Username: "a", Password: "b"},
		{Authorization: "token"},
		{Users: []*User{{Username: "a"}, {Username: "b", Permissions: &Permissions{
			Publish: &SubjectPermission{Allow: []string{"a.*"}, Deny: []string{">"}}, Subscribe: &SubjectPermission{Allow: []string{"q.> workers"}}}}},
			Nkeys: []*NkeyUser{{Nkey: testNkey}}},
		{TLSConfig: &tls.Config{Certificates: []tls.Certificate{{}}}, TLSVerify: true},
	}
	for i, o := range good {
		if err := o.Validate(); err != nil {
			t.Errorf("good[%d]: %v", i, err)
		}
	}
	bad := []struct {
		o    Options
		want string
	}{
		{Options{Port: 70000}, "port 70000 is out of range"},
		{Options{Port: -2}, "port -2 is out of range"},
		{Options{HTTPPort: -5}, "http port -5 is out of range"},
		{Options{ServerName: "a b"}, "must not contain whitespace"},
		{Options{MaxConn: -1}, "limits must not be negative"},
		{Options{PingInterval: -1}, "durations must not be negative"},
		{Options{MaxPayload: 2048, MaxPending: 1024}, "max_payload (2048) must not exceed max_pending (1024)"},
		{Options{MaxPending: 1024}, "max_payload (1048576) must not exceed max_pending (1024)"},
		{Options{Username: "a", Users: []*User{{Username: "b"}}}, "a single user (\"a\") cannot be combined with a users list"},
		{Options{Authorization: "t", Nkeys: []*NkeyUser{{Nkey: testNkey}}}, "a token cannot be combined with a users list"},
		{Options{Authorization: "t", Username: "a"}, "a token cannot be combined with a user"},
		{Options{Password: "p"}, "a password needs a user"},
		{Options{Users: []*User{nil}}, "users[0] is nil"},
		{Options{Users: []*User{{Password: "x"}}}, "users[0] has no username"},
		{Options{Users: []*User{{Username: "a"}, {Username: "a"}}}, `duplicate user "a"`},
		{Options{Nkeys: []*NkeyUser{nil}}, "nkeys[0] is nil"},
		{Options{Nkeys: []*NkeyUser{{Nkey: "UBAD"}}}, `"UBAD" is not a public user nkey`},
		{Options{Nkeys: []*NkeyUser{{Nkey: testNkey}, {Nkey: testNkey}}}, "duplicate nkey"},
		{Options{Users: []*User{{Username: "a", Permissions: &Permissions{Publish: &SubjectPermission{Deny: []string{"a..b"}}}}}},
			`user "a": publish permission "a..b" is not a valid subject`},
		{Options{DefaultPermissions: &Permissions{Subscribe: &SubjectPermission{Allow: []string{"a b c"}}}},
			`default permissions: subscribe permission "a b c" is not a valid subject`},
		{Options{TLSVerify: true}, "TLS verify is set without a TLS configuration"},
		{Options{TLSConfig: &tls.Config{}}, "tls: the configuration has no certificate"},
	}
	for _, tt := range bad {
		err := tt.o.Validate()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: got %v, want %q", tt.o, err, tt.want)
		}
	}
	// Every problem is reported, not only the first.
	err := (&Options{Port: -9, HTTPPort: 70000}).Validate()
	if err == nil || strings.Count(err.Error(), "\n") != 1 {
		t.Errorf("two problems: got %v", err)
	}
}
