package server

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseConfigAccounts(t *testing.T) {
	o := parse(t, `
accounts {
  SVC: {
    default_permissions: { publish: "svc.>" }
    users: [ {user: svc, password: pw}, {nkey: `+testNkey+`} ]
    exports: [
      {service: "svc.>", accounts: [CLI], response_type: stream, response_threshold: "5s"}
      {stream: "events.>"}
    ]
  }
  CLI: {
    users: [ {user: cli, password: pw, permissions: { subscribe: ">" }} ]
    imports: [
      {service: {account: SVC, subject: "svc.echo"}, to: "echo", share: true}
      {stream: {account: SVC, subject: "events.>"}, prefix: "svc"}
    ]
  }
  SYS: {}
}
system_account: SYS
no_auth_user: cli
`)
	svcPerms := &Permissions{Publish: &SubjectPermission{Allow: []string{"svc.>"}}}
	want := []*Account{
		{Name: "SVC", DefaultPermissions: svcPerms, Exports: []*Export{
			{Service: true, Subject: "svc.>", Accounts: []string{"CLI"}, ResponseType: Streamed, ResponseThreshold: 5 * time.Second},
			{Subject: "events.>"},
		}},
		{Name: "CLI", Imports: []*Import{
			{Service: true, Account: "SVC", Subject: "svc.echo", To: "echo", Share: true},
			{Account: "SVC", Subject: "events.>", Prefix: "svc"},
		}},
		{Name: "SYS"},
	}
	if !reflect.DeepEqual(o.Accounts, want) {
		t.Errorf("accounts:\n got %+v\nwant %+v", o.Accounts, want)
	}
	if o.SystemAccount != "SYS" || o.NoAuthUser != "cli" {
		t.Errorf("system_account %q, no_auth_user %q", o.SystemAccount, o.NoAuthUser)
	}
	users := map[string]*User{}
	for _, u := range o.Users {
		users[u.Username] = u
	}
	if u := users["svc"]; u == nil || u.Account != "SVC" || !reflect.DeepEqual(u.Permissions, svcPerms) {
		t.Errorf("user svc: %+v (the account's default permissions apply)", u)
	}
	if u := users["cli"]; u == nil || u.Account != "CLI" || u.Permissions.Subscribe == nil {
		t.Errorf("user cli: %+v", u)
	}
	if len(o.Nkeys) != 1 || o.Nkeys[0].Account != "SVC" {
		t.Errorf("nkeys %+v", o.Nkeys)
	}
	if err := o.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	// The array form names accounts without users.
	if o := parse(t, "accounts: [A, B]\n"); len(o.Accounts) != 2 || o.Accounts[1].Name != "B" {
		t.Errorf("accounts array: %+v", o.Accounts)
	}
}

// TestParseConfigAccountsErrors: each mistake is reported at its line, with
// what is wrong.
func TestParseConfigAccountsErrors(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		line      int
		msg       string
	}{
		{"unknown account key", "accounts {\n  A: {\n    jetstream: enabled\n  }\n}\n", 3, `unknown key "accounts.A.jetstream"`},
		{"reserved name", "accounts {\n  $G: {}\n}\n", 2, `"$G" is a reserved account name`},
		{"duplicate user", "authorization { users: [ {user: x, password: y} ] }\naccounts {\n  A: { users: [\n    {user: x, password: z}\n  ] }\n}\n", 4, `duplicate user "x"`},
		{"system account undefined", "accounts { A: {} }\nsystem_account: NOPE\n", 2, `system_account: account "NOPE" is not defined`},
		{"no_auth_user unknown", "accounts { A: { users: [ {user: a, password: p} ] } }\nno_auth_user: ghost\n", 2, `no_auth_user: "ghost" is not a user`},
		{"prefix and to", "accounts {\n  S: { exports: [ {stream: x} ] }\n  A: { imports: [\n    {stream: {account: S, subject: x}, prefix: p, to: y}\n  ] }\n}\n", 4, "can not have a 'prefix' and a 'to'"},
		{"prefix on a service", "accounts {\n  S: { exports: [ {service: x} ] }\n  A: { imports: [\n    {service: {account: S, subject: x}, prefix: p}\n  ] }\n}\n", 4, "prefix applies to stream imports only"},
		{"response type on a stream", "accounts {\n  S: { exports: [\n    {stream: x, response_type: stream}\n  ] }\n}\n", 3, "applies to service exports only"},
		{"unknown response type", "accounts {\n  S: { exports: [\n    {service: x, response_type: many}\n  ] }\n}\n", 3, `unknown response type "many"`},
		{"import not authorized", "accounts {\n  S: { exports: [ {service: x, accounts: [B]} ] }\n  B: {}\n  A: { imports: [\n    {service: {account: S, subject: x}}\n  ] }\n}\n", 5, `service import "x" from account "S" is not authorized`},
		{"import without subject", "accounts {\n  S: {}\n  A: { imports: [\n    {stream: {account: S}}\n  ] }\n}\n", 4, "expected an account and a subject"},
		{"remap wildcards", "accounts {\n  S: { exports: [ {service: \"a.*\"} ] }\n  A: { imports: [\n    {service: {account: S, subject: \"a.*\"}, to: \"b\"}\n  ] }\n}\n", 4, "more '*' wildcards"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig("test.conf", []byte(tc.src))
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("got %v, want a *ConfigError", err)
			}
			if ce.Line != tc.line || !strings.Contains(ce.Msg, tc.msg) {
				t.Fatalf("got line %d %q, want line %d containing %q", ce.Line, ce.Msg, tc.line, tc.msg)
			}
		})
	}
}

// TestValidateAccounts: programs building Options get the same checks.
func TestValidateAccounts(t *testing.T) {
	o := &Options{
		Accounts: []*Account{{Name: "A", Imports: []*Import{{Account: "B", Subject: "x"}}}, {Name: "A"}},
		Users:    []*User{{Username: "u", Password: "p", Account: "Z"}},
	}
	err := o.Validate()
	for _, want := range []string{`duplicate account "A"`, `account "Z" is not defined`, `from account "B", which is not defined`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate: %v, want it to mention %s", err, want)
		}
	}
	if _, err := New(o, nil); err == nil {
		t.Error("New accepted invalid accounts")
	}
}

func TestSubjectMap(t *testing.T) {
	for _, tc := range []struct{ src, dst, in, out string }{
		{"a.*", "b.*", "a.x", "b.x"},
		{"a.*.*", "b.$2.$1", "a.x.y", "b.y.x"},
		{"a.>", "b.>", "a.x.y.z", "b.x.y.z"},
		{"a.*.>", "z.*.q.>", "a.1.2.3", "z.1.q.2.3"},
		{"a", "b.c", "a", "b.c"},
		{"$SYS.x", "$SYS.x", "$SYS.x", "$SYS.x"},
	} {
		m, err := newSubjectMap(tc.src, tc.dst)
		if err != nil {
			t.Fatalf("%s -> %s: %v", tc.src, tc.dst, err)
		}
		if got := string(m.apply(nil, []byte(tc.in))); got != tc.out {
			t.Errorf("%s -> %s on %s: %s, want %s", tc.src, tc.dst, tc.in, got, tc.out)
		}
	}
	for _, bad := range [][2]string{{"a.*", "b.*.*"}, {"a.>", "b"}, {"a", "b.>"}, {"a.*", "b.$2"}, {"a..b", "c"}} {
		if _, err := newSubjectMap(bad[0], bad[1]); err == nil {
			t.Errorf("%s -> %s accepted", bad[0], bad[1])
		}
	}
}
