package server

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nkeys"
)

// testNkey is a valid public user nkey (the one nats-server's docs use).
const testNkey = "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4"

// parse parses src as a file named test.conf and fails the test on error.
func parse(t *testing.T, src string) *Options {
	t.Helper()
	o, err := ParseConfig("test.conf", []byte(src))
	if err != nil {
		t.Fatalf("ParseConfig(%q): %v", src, err)
	}
	return o
}

// TestProcessConfigFileFull reads a file that sets every top-level key and the
// authorization block, and checks every resulting field.
func TestProcessConfigFileFull(t *testing.T) {
	path := filepath.Join("testdata", "conf", "full.conf")
	got, err := ProcessConfigFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := &Options{
		ServerName:     "busd-test",
		Host:           "127.0.0.1",
		Port:           4333,
		HTTPHost:       "127.0.0.1",
		HTTPPort:       8333,
		MaxPayload:     2 << 20,
		MaxPending:     32 << 20,
		MaxControlLine: 2048,
		MaxConn:        100,
		MaxSubs:        50,
		PingInterval:   30 * time.Second,
		MaxPingsOut:    3,
		WriteDeadline:  3 * time.Second,
		AuthTimeout:    1500 * time.Millisecond,
		DefaultPermissions: &Permissions{
			Publish:   &SubjectPermission{Allow: []string{"public.>"}},
			Subscribe: &SubjectPermission{Allow: []string{"public.>", "_INBOX.>"}},
		},
		Users: []*User{
			{Username: "alice", Password: "secret", Permissions: &Permissions{
				Publish:   &SubjectPermission{Allow: []string{"orders.*"}, Deny: []string{"orders.secret"}},
				Subscribe: &SubjectPermission{Allow: []string{"orders.> workers"}},
				Response:  &ResponsePermission{MaxMsgs: 3, Expires: time.Minute},
			}},
			{Username: "bob", Password: "$2a$11$W2zko751KUvVy59mUTWmpOdWjpEm5qhcCZRd05GjI/sSOT.xtiHyG"},
		},
		Nkeys: []*NkeyUser{{Nkey: testNkey, Permissions: &Permissions{
			Publish:  &SubjectPermission{Allow: []string{}},
			Response: &ResponsePermission{MaxMsgs: DefaultAllowResponsesMax, Expires: DefaultAllowResponsesExpires},
		}}},
		LameDuckDuration:    45 * time.Second,
		LameDuckGracePeriod: 5 * time.Second,
		Debug:               true,
		ConfigFile:          path,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%s\nwant\n%s", dump(got), dump(want))
	}
}

// dump renders o with its pointers followed, for failure messages.
func dump(o *Options) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%+v\n", *o)
	for _, u := range o.Users {
		fmt.Fprintf(&b, "user %+v perms %s\n", *u, dumpPerms(u.Permissions))
	}
	for _, n := range o.Nkeys {
		fmt.Fprintf(&b, "nkey %+v perms %s\n", *n, dumpPerms(n.Permissions))
	}
	fmt.Fprintf(&b, "default perms %s\n", dumpPerms(o.DefaultPermissions))
	return b.String()
}

// dumpPerms renders p with its pointers followed.
func dumpPerms(p *Permissions) string {
	if p == nil {
		return "<nil>"
	}
	s := ""
	if p.Publish != nil {
		s += fmt.Sprintf("pub%+v ", *p.Publish)
	}
	if p.Subscribe != nil {
		s += fmt.Sprintf("sub%+v ", *p.Subscribe)
	}
	if p.Response != nil {
		s += fmt.Sprintf("resp%+v", *p.Response)
	}
	return s
}

// TestParseConfigKeys checks each key, its aliases and the value forms it
// accepts, one small file at a time.
func TestParseConfigKeys(t *testing.T) {
	tests := []struct {
		src   string
		check func(*Options) bool
	}{
		{`listen: "0.0.0.0:5222"`, func(o *Options) bool { return o.Host == "0.0.0.0" && o.Port == 5222 }},
		{`listen: 127.0.0.1:5222`, func(o *Options) bool { return o.Host == "127.0.0.1" && o.Port == 5222 }},
		{`listen: "[::1]:5222"`, func(o *Options) bool { return o.Host == "::1" && o.Port == 5222 }},
		{`listen: 5222`, func(o *Options) bool { return o.Host == "" && o.Port == 5222 }},
		{`listen: ":-1"`, func(o *Options) bool { return o.Host == "" && o.Port == -1 }},
		{`host: 10.0.0.1`, func(o *Options) bool { return o.Host == "10.0.0.1" }},
		{`net: "localhost"`, func(o *Options) bool { return o.Host == "localhost" }},
		{`port: 4223`, func(o *Options) bool { return o.Port == 4223 }},
		{`port = -1`, func(o *Options) bool { return o.Port == -1 }},
		{`port 4224`, func(o *Options) bool { return o.Port == 4224 }},
		{`http: 8223`, func(o *Options) bool { return o.HTTPHost == "" && o.HTTPPort == 8223 }},
		{`http: "127.0.0.1:8224"`, func(o *Options) bool { return o.HTTPHost == "127.0.0.1" && o.HTTPPort == 8224 }},
		{`http_port: 8225`, func(o *Options) bool { return o.HTTPPort == 8225 }},
		{`monitor_port: 8226`, func(o *Options) bool { return o.HTTPPort == 8226 }},
		{`server_name: hub-1`, func(o *Options) bool { return o.ServerName == "hub-1" }},
		{`max_payload: 1024`, func(o *Options) bool { return o.MaxPayload == 1024 }},
		{`max_payload: 1MB`, func(o *Options) bool { return o.MaxPayload == 1<<20 }},
		{`max_payload: 1M`, func(o *Options) bool { return o.MaxPayload == 1000000 }},
		{`max_payload: 8K`, func(o *Options) bool { return o.MaxPayload == 8000 }},
		{`max_payload: 8KB`, func(o *Options) bool { return o.MaxPayload == 8192 }},
		{`max_payload: "2MB"`, func(o *Options) bool { return o.MaxPayload == 2<<20 }},
		{`max_pending: 1GB`, func(o *Options) bool { return o.MaxPending == 1<<30 }},
		{`max_pending: 2G`, func(o *Options) bool { return o.MaxPending == 2000000000 }},
		{`max_pending: "3 gb"`, func(o *Options) bool { return o.MaxPending == 3<<30 }},
		{`max_connections: 10`, func(o *Options) bool { return o.MaxConn == 10 }},
		{`max_conn: 11`, func(o *Options) bool { return o.MaxConn == 11 }},
		{`max_subscriptions: 12`, func(o *Options) bool { return o.MaxSubs == 12 }},
		{`max_subs: 13`, func(o *Options) bool { return o.MaxSubs == 13 }},
		{`max_control_line: 1024`, func(o *Options) bool { return o.MaxControlLine == 1024 }},
		{`ping_interval: "2m"`, func(o *Options) bool { return o.PingInterval == 2*time.Minute }},
		{`ping_interval: 20`, func(o *Options) bool { return o.PingInterval == 20*time.Second }},
		{`ping_max: 5`, func(o *Options) bool { return o.MaxPingsOut == 5 }},
		{`write_deadline: "500ms"`, func(o *Options) bool { return o.WriteDeadline == 500*time.Millisecond }},
		{`write_deadline: 4`, func(o *Options) bool { return o.WriteDeadline == 4*time.Second }},
		{`lame_duck_duration: "1m"`, func(o *Options) bool { return o.LameDuckDuration == time.Minute }},
		{`lame_duck_duration: 30`, func(o *Options) bool { return o.LameDuckDuration == 30*time.Second }},
		{`lame_duck_grace_period: "3s"`, func(o *Options) bool { return o.LameDuckGracePeriod == 3*time.Second }},
		{`debug: true`, func(o *Options) bool { return o.Debug }},
		{`debug: yes`, func(o *Options) bool { return o.Debug }},
		{`trace: on`, func(o *Options) bool { return o.Trace }},
		{`trace: false`, func(o *Options) bool { return !o.Trace }},
		{`logtime: false`, func(o *Options) bool { return true }},
		{"authorization { user: u, password: p }", func(o *Options) bool { return o.Username == "u" && o.Password == "p" }},
		{"authorization { username: u\n pass: p }", func(o *Options) bool { return o.Username == "u" && o.Password == "p" }},
		{"authorization { user: u }", func(o *Options) bool { return o.Username == "u" && o.Password == "" }},
		{"authorization { token: s3cr3t }", func(o *Options) bool { return o.Authorization == "s3cr3t" }},
		{"authorization { timeout: 3 }", func(o *Options) bool { return o.AuthTimeout == 3*time.Second }},
		{"authorization { timeout: 0.25 }", func(o *Options) bool { return o.AuthTimeout == 250*time.Millisecond }},
		{"authorization { timeout: \"4s\" }", func(o *Options) bool { return o.AuthTimeout == 4*time.Second }},
		{"authorization { permissions: { publish: a } }", func(o *Options) bool {
			return reflect.DeepEqual(o.DefaultPermissions, &Permissions{Publish: &SubjectPermission{Allow: []string{"a"}}})
		}},
		{"authorization { default_permission: { sub: [a, b.*] } }", func(o *Options) bool {
			return reflect.DeepEqual(o.DefaultPermissions, &Permissions{Subscribe: &SubjectPermission{Allow: []string{"a", "b.*"}}})
		}},
		{"authorization { users: [ {user: a, password: b} ] }", func(o *Options) bool {
			return len(o.Users) == 1 && *o.Users[0] == User{Username: "a", Password: "b"}
		}},
		{"authorization { users: [ {username: a, pass: b, permission: {pub: x}} ] }", func(o *Options) bool {
			return len(o.Users) == 1 && o.Users[0].Username == "a" && o.Users[0].Password == "b" &&
				reflect.DeepEqual(o.Users[0].Permissions, &Permissions{Publish: &SubjectPermission{Allow: []string{"x"}}})
		}},
		{"authorization { users: [ {nkey: " + testNkey + "} ] }", func(o *Options) bool {
			return len(o.Nkeys) == 1 && *o.Nkeys[0] == NkeyUser{Nkey: testNkey} && len(o.Users) == 0
		}},
		{"authorization { users: [] }", func(o *Options) bool { return len(o.Users) == 0 && len(o.Nkeys) == 0 }},
		{"authorization { permissions: { publish: { deny: \">\" } } }", func(o *Options) bool {
			return reflect.DeepEqual(o.DefaultPermissions.Publish, &SubjectPermission{Deny: []string{">"}})
		}},
		{"authorization { permissions: { publish: [], subscribe: {} } }", func(o *Options) bool {
			return reflect.DeepEqual(o.DefaultPermissions, &Permissions{
				Publish: &SubjectPermission{Allow: []string{}}, Subscribe: &SubjectPermission{}})
		}},
		{"authorization { permissions: { allow_responses: false } }", func(o *Options) bool {
			return reflect.DeepEqual(o.DefaultPermissions, &Permissions{})
		}},
		{"authorization { permissions: { publish: x, allow_responses: true } }", func(o *Options) bool {
			return reflect.DeepEqual(o.DefaultPermissions, &Permissions{
				Publish:  &SubjectPermission{Allow: []string{"x"}},
				Response: &ResponsePermission{MaxMsgs: 1, Expires: 2 * time.Minute}})
		}},
		{"authorization { permissions: { allow_responses: { max: 5 } } }", func(o *Options) bool {
			return reflect.DeepEqual(o.DefaultPermissions.Response, &ResponsePermission{MaxMsgs: 5, Expires: 2 * time.Minute})
		}},
		{"authorization { permissions: { allow_responses: { expires: \"10s\", max: -1 } } }", func(o *Options) bool {
			return reflect.DeepEqual(o.DefaultPermissions.Response, &ResponsePermission{MaxMsgs: -1, Expires: 10 * time.Second})
		}},
		{"authorization { permissions: { subscribe: \"jobs.* workers\" } }", func(o *Options) bool {
			return reflect.DeepEqual(o.DefaultPermissions.Subscribe, &SubjectPermission{Allow: []string{"jobs.* workers"}})
		}},
		// Variables: defined at the top or in a block, looked up in enclosing blocks.
		{"NAME: hub\nserver_name: $NAME", func(o *Options) bool { return o.ServerName == "hub" }},
		{"P = 4300\nlisten: $P", func(o *Options) bool { return o.Port == 4300 }},
		{"U: bob\nauthorization { PW: pw\n user: $U, password: $PW }", func(o *Options) bool {
			return o.Username == "bob" && o.Password == "pw"
		}},
		// Keys are case-insensitive, as in nats-server.
		{"PORT: 4301\nDebug: true", func(o *Options) bool { return o.Port == 4301 && o.Debug }},
		// Comments, semicolons and JSON style.
		{"# comment\nport: 4302; // trailing\n", func(o *Options) bool { return o.Port == 4302 }},
		{`{"port": 4303, "server_name": "json"}`, func(o *Options) bool { return o.Port == 4303 && o.ServerName == "json" }},
		{"", func(o *Options) bool { return reflect.DeepEqual(o, &Options{ConfigFile: "test.conf"}) }},
	}
	for _, tt := range tests {
		o := parse(t, tt.src)
		if !tt.check(o) {
			t.Errorf("%q: unexpected options %s", tt.src, dump(o))
		}
		if o.ConfigFile != "test.conf" {
			t.Errorf("%q: ConfigFile = %q", tt.src, o.ConfigFile)
		}
	}
}

// TestParseConfigEnvVariable checks that a variable not defined in the file is
// taken from the environment, with the value parsed like a config value.
func TestParseConfigEnvVariable(t *testing.T) {
	t.Setenv("BUSD_TEST_PORT", "4310")
	t.Setenv("BUSD_TEST_SIZE", "4KB")
	o := parse(t, "port: $BUSD_TEST_PORT\nmax_payload: $BUSD_TEST_SIZE")
	if o.Port != 4310 || o.MaxPayload != 4096 {
		t.Errorf("port %d max_payload %d", o.Port, o.MaxPayload)
	}
}

// TestParseConfigErrors checks that every kind of problem is reported as
// "file:line: message" naming the key, and that nothing is silently ignored.
func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		src  string
		want string // the full message of the (first) error
	}{
		// Unknown keys, at the top and in every block.
		{"port: 4222\n\njetstream: enabled", `test.conf:3: unknown key "jetstream"`},
		{"jetstream {\n max_mem: 1G\n}", `test.conf:1: unknown key "jetstream"`},
		{"authorization {\n  usr: a\n}", `test.conf:2: unknown key "authorization.usr"`},
		{"authorization { users: [\n {user: a}\n {user: b, pasword: c}\n] }", `test.conf:3: unknown key "authorization.users[1].pasword"`},
		{"authorization { permissions: {\n publish: a\n request: b } }", `test.conf:3: unknown key "authorization.permissions.request"`},
		{"authorization { permissions: {\n publish: { allow: a,\n except: b } } }", `test.conf:3: unknown key "authorization.permissions.publish.except"`},
		{"authorization { permissions: {\n allow_responses: { max: 1,\n ttls: \"1s\" } } }", `test.conf:3: unknown key "authorization.permissions.allow_responses.ttls"`},
		{"tls {\n cert_file: a\n cipher_suites: [] }", `test.conf:3: unknown key "tls.cipher_suites"`},
		{"UNUSED = 5\nport: 1", `test.conf:1: unknown key "UNUSED"`},
		// Wrong types and values.
		{"debug: true\nport: \"abc\"", `test.conf:2: port: expected an integer, got "abc"`},
		{"port: 70000", `test.conf:1: port: expected a port between -1 and 65535, got 70000`},
		{"port: -2", `test.conf:1: port: expected a port between -1 and 65535, got -2`},
		{"port: 1.5", `test.conf:1: port: expected an integer, got 1.5`},
		{"port: [\"1\"]", `test.conf:1: port: expected an integer, got an array`},
		{"port: {a: 1}", `test.conf:1: port: expected an integer, got a map`},
		{"port: 2020-01-01T00:00:00Z", `test.conf:1: port: expected an integer, got the date 2020-01-01T00:00:00Z`},
		{"http_port: x", `test.conf:1: http_port: expected an integer, got "x"`},
		{"listen: \"nohost\"", `test.conf:1: listen: expected host:port or a port, got "nohost"`},
		{"listen: \"a:b\"", `test.conf:1: listen: expected a port between -1 and 65535 in "a:b"`},
		{"listen: true", `test.conf:1: listen: expected host:port or a port, got true`},
		{"http: \"1.2.3.4:99999\"", `test.conf:1: http: expected a port between -1 and 65535 in "1.2.3.4:99999"`},
		{"host: 5", `test.conf:1: host: expected a string, got 5`},
		{"net: false", `test.conf:1: net: expected a string, got false`},
		{"server_name: \"a b\"", `test.conf:1: server_name: must not contain whitespace, got "a b"`},
		{"server_name: 1", `test.conf:1: server_name: expected a string, got 1`},
		{"max_payload: 0", `test.conf:1: max_payload: expected a size between 1 and 2147483647 bytes, got 0`},
		{"max_payload: 4GB", `test.conf:1: max_payload: expected a size between 1 and 2147483647 bytes, got 4294967296`},
		{"max_payload: \"lots\"", `test.conf:1: max_payload: expected a size (an integer, optionally with a unit such as KB or MB), got "lots"`},
		{"max_payload: \"1XB\"", `test.conf:1: max_payload: expected a size (an integer, optionally with a unit such as KB or MB), got "1XB"`},
		{"max_payload: true", `test.conf:1: max_payload: expected a size (an integer, optionally with a unit such as KB or MB), got true`},
		{"max_pending: -1", `test.conf:1: max_pending: expected a size between 1 and 9223372036854775807 bytes, got -1`},
		{"max_pending: \"99999999999999999999\"", `test.conf:1: max_pending: size "99999999999999999999" is too large`},
		{"max_control_line: 0", `test.conf:1: max_control_line: expected a size between 1 and 2147483647 bytes, got 0`},
		{"max_connections: -1", `test.conf:1: max_connections: expected a number between 0 and 2147483647, got -1`},
		{"max_subscriptions: x", `test.conf:1: max_subscriptions: expected an integer, got "x"`},
		{"ping_interval: \"soon\"", `test.conf:1: ping_interval: expected a duration such as "2m" or "10s", got "soon"`},
		{"ping_interval: 0", `test.conf:1: ping_interval: must be positive, got 0s`},
		{"ping_interval: 1.5", `test.conf:1: ping_interval: expected a duration such as "2m" or an integer number of seconds, got 1.5`},
		{"ping_interval: 9223372036854775807", `test.conf:1: ping_interval: 9223372036854775807 seconds is out of range`},
		{"ping_max: 0", `test.conf:1: ping_max: must be at least 1`},
		{"write_deadline: \"-1s\"", `test.conf:1: write_deadline: must be positive, got -1s`},
		{"lame_duck_duration: \"10s\"", `test.conf:1: lame_duck_duration: must be at least 30s, got 10s`},
		{"lame_duck_grace_period: \"-1s\"", `test.conf:1: lame_duck_grace_period: must not be negative, got -1s`},
		{"debug: 1", `test.conf:1: debug: expected true or false, got 1`},
		{"trace: \"yes please\"", `test.conf:1: trace: expected true or false, got "yes please"`},
		{"logtime: 3", `test.conf:1: logtime: expected true or false, got 3`},
		{"authorization: 5", `test.conf:1: authorization: expected a block { ... }, got 5`},
		{"authorization {\n user: [a] }", `test.conf:2: authorization.user: expected a string, got an array`},
		{"authorization {\n timeout: \"x\" }", `test.conf:2: authorization.timeout: expected a duration such as "2m" or "10s", got "x"`},
		{"authorization {\n timeout: 0 }", `test.conf:2: authorization.timeout: must be positive, got 0s`},
		{"authorization {\n timeout: true }", `test.conf:2: authorization.timeout: expected a number of seconds, got true`},
		{"authorization {\n users: {user: a} }", `test.conf:2: authorization.users: expected an array of users, got a map`},
		{"authorization { users: [\n \"a\"\n] }", `test.conf:2: authorization.users[0]: expected a user block { user: ..., password: ... }, got "a"`},
		{"authorization { users: [\n {password: a}\n] }", `test.conf:2: authorization.users[0]: a user entry needs a user or an nkey`},
		{"authorization { users: [\n {user: a}\n {user: a}\n] }", `test.conf:3: authorization.users[1]: duplicate user "a"`},
		{"authorization { users: [\n {nkey: UABC}\n] }", `test.conf:2: authorization.users[0]: "UABC" is not a public user nkey (one starting with U)`},
		{"authorization { users: [\n {nkey: " + testNkey + ", user: a}\n] }", `test.conf:2: authorization.users[0]: an nkey user takes no user or password`},
		{"authorization { users: [\n {nkey: " + testNkey + "}, {nkey: " + testNkey + "}\n] }", `test.conf:2: authorization.users[1]: duplicate nkey "` + testNkey + `"`},
		{"authorization {\n users: []\n user: a }", `test.conf:3: authorization.user: a single user and a users array cannot be combined`},
		{"authorization {\n users: []\n token: t }", `test.conf:3: authorization.token: a token and a users array cannot be combined`},
		{"authorization {\n user: u\n token: t }", `test.conf:3: authorization.token: a token and a user cannot be combined`},
		{"authorization {\n password: p }", `test.conf:2: authorization.password: a password needs a user`},
		{"authorization {\n permissions: [a] }", `test.conf:2: authorization.permissions: expected a block { ... }, got an array`},
		{"authorization { permissions: {\n publish: 5 } }", `test.conf:2: authorization.permissions.publish: expected a subject or an array of subjects, got 5`},
		{"authorization { permissions: {\n publish: [\"a\",\n 5,\n \"b\"] } }", `test.conf:3: authorization.permissions.publish[1]: expected a subject, got 5`},
		{"authorization { permissions: {\n publish: \"a..b\" } }", `test.conf:2: authorization.permissions.publish: "a..b" is not a valid subject`},
		{"authorization { permissions: {\n publish: \"a.>.b\" } }", `test.conf:2: authorization.permissions.publish: "a.>.b" is not a valid subject`},
		{"authorization { permissions: {\n publish: \"a q\" } }", `test.conf:2: authorization.permissions.publish: "a q" is not a valid subject`},
		{"authorization { permissions: {\n subscribe: \"a q r\" } }", `test.conf:2: authorization.permissions.subscribe: "a q r" is not a valid subject`},
		{"authorization { permissions: {\n subscribe: { deny: \"\" } } }", `test.conf:2: authorization.permissions.subscribe.deny: "" is not a valid subject`},
		{"authorization { permissions: {\n allow_responses: 5 } }", `test.conf:2: authorization.permissions.allow_responses: expected true, false or a block { max, expires }, got 5`},
		{"authorization { permissions: {\n allow_responses: { max: \"x\" } } }", `test.conf:2: authorization.permissions.allow_responses.max: expected an integer, got "x"`},
		{"authorization { permissions: {\n allow_responses: { max: 9999999999 } } }", `test.conf:2: authorization.permissions.allow_responses.max: 9999999999 is out of range`},
		{"authorization { permissions: {\n allow_responses: { expires: \"x\" } } }", `test.conf:2: authorization.permissions.allow_responses.expires: expected a duration such as "2m" or "10s", got "x"`},
		{"tls: true", `test.conf:1: tls: expected a block { ... }, got true`},
		{"tls {\n cert_file: a }", `test.conf:1: tls: needs both cert_file and key_file`},
		{"tls {\n cert_file: 1 }", `test.conf:2: tls.cert_file: expected a string, got 1`},
		{"tls {\n verify: maybe }", `test.conf:2: tls.verify: expected true or false, got "maybe"`},
		{"tls {\n timeout: -1 }", `test.conf:2: tls.timeout: must be positive, got -1s`},
		{"tls {\n cert_file: nope.pem\n key_file: nope.key }", `test.conf:2: tls.cert_file: loading certificate "nope.pem" and key "nope.key": open nope.pem: no such file or directory`},
		// Syntax errors and variables, reported by the parser.
		{"port: 4222\nauthorization {\n user: \"open\n}", `test.conf:4: syntax error: Unexpected EOF.`},
		{"port: 4222\nserver_name: $NOPE_NOT_SET_ANYWHERE", `test.conf:2: variable reference for 'NOPE_NOT_SET_ANYWHERE' can not be found`},
		{"port: 1\nfoo", `test.conf:2: syntax error: a key without a value`},
		{"port: 99999999999999999999", `test.conf: integer '99999999999999999999' is out of the range`},
	}
	for _, tt := range tests {
		_, err := ParseConfig("test.conf", []byte(tt.src))
		if err == nil {
			t.Errorf("%q: no error, want %s", tt.src, tt.want)
			continue
		}
		var ce *ConfigError
		if !errors.As(err, &ce) {
			t.Errorf("%q: error %T %v is not a *ConfigError", tt.src, err, err)
			continue
		}
		if got := strings.SplitN(err.Error(), "\n", 2)[0]; got != tt.want {
			t.Errorf("%q:\n got %s\nwant %s", tt.src, got, tt.want)
		}
	}
}

// TestParseConfigAllErrors checks that every problem of a file is reported, in
// file order, not just the first.
func TestParseConfigAllErrors(t *testing.T) {
	src := "debug: 1\nport: x\nfoo: 1\nauthorization {\n bar: 2\n}\n"
	_, err := ParseConfig("test.conf", []byte(src))
	if err == nil {
		t.Fatal("no error")
	}
	want := strings.Join([]string{
		`test.conf:1: debug: expected true or false, got 1`,
		`test.conf:2: port: expected an integer, got "x"`,
		`test.conf:3: unknown key "foo"`,
		`test.conf:5: unknown key "authorization.bar"`,
	}, "\n")
	if err.Error() != want {
		t.Errorf("got\n%s\nwant\n%s", err, want)
	}
}

// TestProcessConfigFileIncludes checks includes (relative to the including
// file, nested, quoted and not) and variables, including one in an include.
func TestProcessConfigFileIncludes(t *testing.T) {
	o, err := ProcessConfigFile(filepath.Join("testdata", "conf", "main.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if o.Port != 4444 || o.Username != "admin" || o.Password != "s3cret" || o.MaxPayload != 512*1024 || o.MaxPingsOut != 7 {
		t.Errorf("unexpected options %s", dump(o))
	}
}

// TestProcessConfigFileErrors checks that problems in included files name the
// included file and its line, and that a missing file is reported.
func TestProcessConfigFileErrors(t *testing.T) {
	dir := filepath.Join("testdata", "conf")
	tests := []struct{ file, want string }{
		{"badinclude.conf", filepath.Join(dir, "inc", "bad.conf") + `:3: unknown key "jetstream"`},
		{"badincludesyntax.conf", filepath.Join(dir, "inc", "syntax.conf") + `:2: syntax error: Expected a map value terminator "," or a map terminator "}", but got ']' instead.`},
		{"syntax.conf", filepath.Join(dir, "syntax.conf") + `:5: syntax error: Unexpected EOF.`},
		{"missinginclude.conf", filepath.Join(dir, "missinginclude.conf") + `: include "inc/nope.conf": open ` + filepath.Join(dir, "inc", "nope.conf") + `: no such file or directory`},
		{"nope.conf", `config file: stat ` + filepath.Join(dir, "nope.conf") + `: no such file or directory`},
	}
	for _, tt := range tests {
		_, err := ProcessConfigFile(filepath.Join(dir, tt.file))
		if err == nil || err.Error() != tt.want {
			t.Errorf("%s:\n got %v\nwant %s", tt.file, err, tt.want)
		}
	}
}

// TestParseConfigIncludes pins down where includes in in-memory data are
// looked for (the working directory; see ParseConfig) and how their problems
// are reported.
func TestParseConfigIncludes(t *testing.T) {
	inc := filepath.Join("testdata", "conf", "inc")
	o, err := ParseConfig("elsewhere/x.conf", []byte("include "+strconv.Quote(filepath.Join(inc, "limits.conf"))+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if o.MaxPayload != 512*1024 || o.MaxPingsOut != 7 {
		t.Errorf("include not applied: %s", dump(o))
	}
	_, err = ParseConfig("elsewhere/x.conf", []byte("include "+strconv.Quote(filepath.Join(inc, "bad.conf"))+"\n"))
	if want := filepath.Join(inc, "bad.conf") + `:3: unknown key "jetstream"`; err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
	_, err = ParseConfig("elsewhere/x.conf", []byte("include "+strconv.Quote(filepath.Join(inc, "syntax.conf"))+"\n"))
	if want := filepath.Join(inc, "syntax.conf") + `:2: syntax error: `; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("got %v, want %s...", err, want)
	}
	_, err = ParseConfig("elsewhere/x.conf", []byte("include missing.conf\n"))
	if want := `elsewhere/x.conf: include "missing.conf": open missing.conf: no such file or directory`; err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}

// TestParseConfigTLS builds a tls block from a freshly made certificate, key
// and CA file and checks the resulting tls.Config.
func TestParseConfigTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeCert(t, dir)
	src := fmt.Sprintf("tls {\n cert_file: %q\n key_file: %q\n ca_file: %q\n verify: true\n timeout: 0.5\n}", cert, key, cert)
	o := parse(t, src)
	tc := o.TLSConfig
	if tc == nil {
		t.Fatal("no TLSConfig")
	}
	if len(tc.Certificates) != 1 || tc.MinVersion != tls.VersionTLS12 || tc.ClientAuth != tls.RequireAndVerifyClientCert || tc.ClientCAs == nil {
		t.Errorf("unexpected tls.Config %+v", tc)
	}
	if !o.TLSVerify || o.TLSTimeout != 500*time.Millisecond {
		t.Errorf("TLSVerify %v TLSTimeout %v", o.TLSVerify, o.TLSTimeout)
	}

	o = parse(t, fmt.Sprintf("tls { cert_file: %q, key_file: %q }", cert, key))
	if o.TLSConfig == nil || o.TLSConfig.ClientAuth != tls.NoClientCert || o.TLSConfig.ClientCAs != nil || o.TLSVerify || o.TLSTimeout != 0 {
		t.Errorf("unexpected options without verify: %+v %+v", o, o.TLSConfig)
	}

	_, err := ParseConfig("test.conf", []byte(fmt.Sprintf("tls {\n cert_file: %q\n key_file: %q\n ca_file: %q\n}", cert, key, key)))
	if want := fmt.Sprintf("test.conf:4: tls.ca_file: no PEM certificates in %q", key); err == nil || err.Error() != want {
		t.Errorf("CA file without certificates: got %v, want %s", err, want)
	}
	missing := filepath.Join(dir, "missing.pem")
	_, err = ParseConfig("test.conf", []byte(fmt.Sprintf("tls {\n cert_file: %q\n key_file: %q\n ca_file: %q\n}", cert, key, missing)))
	if want := fmt.Sprintf("test.conf:4: tls.ca_file: open %s: no such file or directory", missing); err == nil || err.Error() != want {
		t.Errorf("missing CA file: got %v, want %s", err, want)
	}
}

// writeCert writes a self-signed certificate and its key for 127.0.0.1 into
// dir and returns their paths.
func writeCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "busd test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// TestParseSize checks the size units outside a config file.
func TestParseSize(t *testing.T) {
	good := map[string]int64{"0": 0, "7": 7, "1k": 1000, "1KB": 1024, "1Ki": 1024, "1KiB": 1024, "2M": 2000000,
		"2MB": 2 << 20, "1G": 1e9, "1GB": 1 << 30, "1T": 1e12, "1TB": 1 << 40, " 3 mb ": 3 << 20}
	for s, want := range good {
		if got, err := ParseSize(s); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	for _, s := range []string{"", "MB", "-1", "1.5MB", "1 XB", "1PB", "9999999999TB"} {
		if got, err := ParseSize(s); err == nil {
			t.Errorf("ParseSize(%q) = %d, want an error", s, got)
		}
	}
}

// TestNkeyConstant makes sure the nkey the tests use is a valid user key, so
// the tests above test acceptance and not a typo.
func TestNkeyConstant(t *testing.T) {
	if !nkeys.IsValidPublicUserKey(testNkey) {
		t.Fatal("testNkey is not a valid public user nkey")
	}
}

// FuzzParseConfig feeds arbitrary bytes to the loader: it must never panic,
// and it must return either options or an error that names the file.
func FuzzParseConfig(f *testing.F) {
	for _, name := range []string{"full.conf", "syntax.conf"} {
		data, err := os.ReadFile(filepath.Join("testdata", "conf", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		"port: 4222",
		"listen: 127.0.0.1:4222\nhttp: 8222",
		"max_payload: 1MB; max_pending = 64MB",
		"authorization { users = [ {user: a, password: b, permissions: {publish: {allow: [\"x.>\"], deny: y}}} ] }",
		"authorization { permissions { allow_responses { max: 2, expires: \"1m\" } } }",
		"A = 1\nport: $A\n",
		"tls { cert_file: a, key_file: b, verify: true, timeout: 2.5 }",
		"ping_interval: \"2m\"\nwrite_deadline: 10",
		"{\"port\": 1}",
		"a { b { c [ 1, 2, { d: e } ] } }",
		"x = (\nblock string\n)\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// Includes read files named by the input; /dev/zero or a FIFO would
		// turn the fuzzer into a hang, so leave includes to the unit tests.
		if bytes.Contains(bytes.ToLower(data), []byte("include")) {
			t.Skip()
		}
		o, err := ParseConfig("fuzz.conf", data)
		if err != nil {
			if o != nil {
				t.Fatalf("options returned with error %v", err)
			}
			if !strings.HasPrefix(err.Error(), "fuzz.conf") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if o == nil || o.ConfigFile != "fuzz.conf" {
			t.Fatalf("no error and options %+v", o)
		}
		_ = o.Validate() // must not panic on whatever the file produced
	})
}
