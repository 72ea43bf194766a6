package server

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
	"golang.org/x/crypto/bcrypt"
)

// Security tests: authentication through nats.go and raw TCP, including the
// ways around it one would try. Helpers are prefixed "sec" (shared with
// perms_test.go, tls_test.go, reload_test.go and metrics_test.go).

// secConnect connects with nats.go, failing the test on error.
func secConnect(t testing.TB, s *Server, opts ...nats.Option) *nats.Conn {
	t.Helper()
	quiet := nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {})
	nc, err := nats.Connect(s.ClientURL(), append([]nats.Option{nats.NoReconnect(), nats.Timeout(5 * time.Second), quiet}, opts...)...)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// secConnectErr connects with nats.go and returns the error, closing any connection.
func secConnectErr(s *Server, opts ...nats.Option) error {
	nc, err := nats.Connect(s.ClientURL(), append([]nats.Option{nats.NoReconnect(), nats.Timeout(5 * time.Second)}, opts...)...)
	if err == nil {
		nc.Close()
	}
	return err
}

// secRaw is a raw protocol connection.
type secRaw struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
	info map[string]any
}

// secDial connects over TCP and reads the INFO line.
func secDial(t testing.TB, s *Server) *secRaw {
	t.Helper()
	conn, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	rc := &secRaw{t: t, conn: conn, r: bufio.NewReader(conn)}
	rc.readInfo()
	return rc
}

func (rc *secRaw) readInfo() {
	rc.t.Helper()
	line := rc.line()
	if !strings.HasPrefix(line, "INFO ") {
		rc.t.Fatalf("first line %q, want INFO", line)
	}
	rc.info = nil
	if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "INFO ")), &rc.info); err != nil {
		rc.t.Fatalf("INFO JSON: %v", err)
	}
}

func (rc *secRaw) send(s string) {
	rc.t.Helper()
	if _, err := rc.conn.Write([]byte(s)); err != nil {
		rc.t.Fatalf("send %q: %v", s, err)
	}
}

// line reads one CRLF-terminated line (5s bound), skipping the INFO that
// follows the first PONG to a protocol 1 client (see connectInfo).
func (rc *secRaw) line() string {
	rc.t.Helper()
	for {
		_ = rc.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		l, err := rc.r.ReadString('\n')
		if err != nil {
			rc.t.Fatalf("read: %v (got %q)", err, l)
		}
		if !isConnectInfo(l) {
			return strings.TrimSuffix(l, "\r\n")
		}
	}
}

// isConnectInfo reports whether a line is the INFO a server sends after the
// first PONG, naming the client's account.
func isConnectInfo(l string) bool {
	return strings.HasPrefix(l, "INFO {") && strings.Contains(l, `"connect_info":true`)
}

// expect reads one line per argument and compares exactly.
func (rc *secRaw) expect(lines ...string) {
	rc.t.Helper()
	for _, want := range lines {
		if got := rc.line(); got != want {
			rc.t.Fatalf("got %q, want %q", got, want)
		}
	}
}

// sync proves everything sent so far was processed (and nothing else was sent back).
func (rc *secRaw) sync() {
	rc.t.Helper()
	rc.send("PING\r\n")
	rc.expect("PONG")
}

// expectClosed reads until the server closes the connection; any line before
// that fails the test.
func (rc *secRaw) expectClosed() {
	rc.t.Helper()
	_ = rc.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	l, err := rc.r.ReadString('\n')
	if err == nil {
		rc.t.Fatalf("unexpected %q, want the connection closed", l)
	}
	if !errors.Is(err, io.EOF) && !strings.Contains(err.Error(), "reset") {
		rc.t.Fatalf("waiting for close: %v", err)
	}
}

// connect sends a CONNECT with the given fields (verbose off) and a PING.
func (rc *secRaw) connect(fields map[string]any) {
	rc.t.Helper()
	m := map[string]any{"verbose": false, "pedantic": false, "protocol": 1, "headers": true}
	for k, v := range fields {
		m[k] = v
	}
	b, _ := json.Marshal(m)
	rc.send("CONNECT " + string(b) + "\r\nPING\r\n")
}

// secWait polls cond (bounded) for effects the protocol cannot sync on, such
// as a server-side counter updated after a close.
func secWait(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func secBcrypt(t testing.TB, secret string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(secret), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

func secIsAuthErr(err error) bool {
	return err != nil && strings.Contains(strings.ToLower(err.Error()), "authorization violation")
}

func TestAuthUserPassword(t *testing.T) {
	s := runServer(t, &Options{Users: []*User{
		{Username: "alice", Password: "s3cret"},
		{Username: "bob", Password: secBcrypt(t, "hunter2")},
	}})

	// nats.go: good credentials work, bad ones get the nats-server error.
	nc := secConnect(t, s, nats.UserInfo("alice", "s3cret"))
	if err := nc.Publish("x", nil); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	secConnect(t, s, nats.UserInfo("bob", "hunter2"))
	for _, c := range []struct{ user, pass string }{
		{"alice", "wrong"}, {"alice", ""}, {"alice", "s3cret "}, {"alice", "s3cre"},
		{"bob", "hunter"}, {"bob", secBcrypt(t, "hunter2")}, // the hash itself is not the password
		{"mallory", "s3cret"}, {"", "s3cret"},
	} {
		if err := secConnectErr(s, nats.UserInfo(c.user, c.pass)); !secIsAuthErr(err) {
			t.Errorf("user %q pass %q: err %v, want authorization violation", c.user, c.pass, err)
		}
	}
	if err := secConnectErr(s); !secIsAuthErr(err) {
		t.Errorf("no credentials: err %v, want authorization violation", err)
	}

	// Raw: the exact text, then close.
	rc := secDial(t, s)
	if rc.info["auth_required"] != true {
		t.Fatalf("INFO auth_required = %v", rc.info["auth_required"])
	}
	if _, ok := rc.info["nonce"]; ok {
		t.Errorf("INFO carries a nonce without nkey users")
	}
	before := s.authFailures.Load()
	rc.connect(map[string]any{"user": "alice", "pass": "nope"})
	rc.expect("-ERR 'Authorization Violation'")
	rc.expectClosed()
	if got := s.authFailures.Load() - before; got != 1 {
		t.Errorf("authFailures grew by %d, want 1", got)
	}

	ok := secDial(t, s)
	ok.connect(map[string]any{"user": "alice", "pass": "s3cret"})
	ok.expect("PONG")
}

func TestAuthSingleUserAndToken(t *testing.T) {
	s := runServer(t, &Options{Username: "admin", Password: "pw"})
	secConnect(t, s, nats.UserInfo("admin", "pw"))
	if err := secConnectErr(s, nats.UserInfo("admin", "px")); !secIsAuthErr(err) {
		t.Errorf("wrong password: %v", err)
	}
	if err := secConnectErr(s, nats.UserInfo("root", "pw")); !secIsAuthErr(err) {
		t.Errorf("wrong user: %v", err)
	}

	tok := runServer(t, &Options{Authorization: "t0ken"})
	secConnect(t, tok, nats.Token("t0ken"))
	for _, bad := range []string{"t0ke", "t0ken!", "T0KEN"} {
		if err := secConnectErr(tok, nats.Token(bad)); !secIsAuthErr(err) {
			t.Errorf("token %q: %v", bad, err)
		}
	}
	// The token is not a password.
	if err := secConnectErr(tok, nats.UserInfo("t0ken", "t0ken")); !secIsAuthErr(err) {
		t.Errorf("token as user/pass: %v", err)
	}

	hashed := runServer(t, &Options{Authorization: secBcrypt(t, "bcrypt-token")})
	secConnect(t, hashed, nats.Token("bcrypt-token"))
	if err := secConnectErr(hashed, nats.Token("bcrypt-tokem")); !secIsAuthErr(err) {
		t.Errorf("wrong bcrypt token: %v", err)
	}
}

func TestAuthFirstOpMustBeConnect(t *testing.T) {
	s := runServer(t, &Options{Authorization: "tok"})
	for _, first := range []string{
		"PING\r\n",
		"SUB foo 1\r\n",
		"PUB foo 2\r\nhi\r\n",
		"UNSUB 1\r\n",
	} {
		rc := secDial(t, s)
		rc.send(first)
		rc.expect("-ERR 'Authorization Violation'")
		rc.expectClosed()
	}
	// CONNECT without credentials.
	rc := secDial(t, s)
	rc.connect(nil)
	rc.expect("-ERR 'Authorization Violation'")
	rc.expectClosed()
}

func TestAuthTimeout(t *testing.T) {
	s := runServer(t, &Options{Authorization: "tok", AuthTimeout: 100 * time.Millisecond})
	start := time.Now()
	rc := secDial(t, s)
	rc.expect("-ERR 'Authentication Timeout'")
	rc.expectClosed()
	if d := time.Since(start); d < 90*time.Millisecond {
		t.Errorf("timed out after %v, before the 100ms auth timeout", d)
	}
	// A client that authenticates in time is not timed out: after the timeout
	// has passed it still gets PONG.
	ok := secDial(t, s)
	ok.connect(map[string]any{"auth_token": "tok"})
	ok.expect("PONG")
	time.Sleep(150 * time.Millisecond) // let the (stopped) auth timer's deadline pass
	ok.sync()

	// The default is nats-server's 2s.
	d := runServer(t, &Options{Authorization: "tok"})
	if d.opts.AuthTimeout != 2*time.Second {
		t.Errorf("default auth timeout %v, want 2s", d.opts.AuthTimeout)
	}
}

// TestAuthNoCredentialLeak: passwords and tokens never reach the logs (at
// trace level), the error texts, or what the server keeps about a client.
func TestAuthNoCredentialLeak(t *testing.T) {
	var buf secSyncBuf
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: LevelTrace}))
	const goodPass, badPass = "Pa55-GOOD-zq", "Pa55-BAD-zq"
	s := runServerLog(t, &Options{Users: []*User{{Username: "alice", Password: goodPass}}, Trace: true, HTTPPort: -1}, logger)

	bad := secDial(t, s)
	bad.connect(map[string]any{"user": "alice", "pass": badPass})
	errLine := bad.line()
	bad.expectClosed()
	good := secDial(t, s)
	good.connect(map[string]any{"user": "alice", "pass": goodPass, "auth_token": "tok-zq"})
	good.expect("PONG")
	nc := secConnect(t, s, nats.UserInfo("alice", goodPass))
	nc.Close()
	err := secConnectErr(s, nats.UserInfo("alice", badPass))

	// /connz, with everything it can show, open and closed connections.
	resp, herr := http.Get("http://" + s.MonitorAddr().String() + "/connz?auth=1&subs=detail&state=any")
	if herr != nil {
		t.Fatal(herr)
	}
	connz, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(connz), `"alice"`) {
		t.Errorf("/connz?auth=1 does not name the user; the check below proved nothing:\n%s", connz)
	}
	for _, secret := range []string{goodPass, badPass, "tok-zq"} {
		if strings.Contains(string(connz), secret) {
			t.Errorf("/connz contains %q", secret)
		}
		if strings.Contains(buf.String(), secret) {
			t.Errorf("log contains %q:\n%s", secret, buf.String())
		}
		if strings.Contains(errLine, secret) || (err != nil && strings.Contains(err.Error(), secret)) {
			t.Errorf("error text contains %q", secret)
		}
	}
	if !strings.Contains(buf.String(), "CONNECT") {
		t.Errorf("trace log has no CONNECT line; the check above proved nothing:\n%s", buf.String())
	}
	for _, c := range s.snapshotClients() {
		c.mu.Lock()
		o, user := c.opts, c.user
		c.mu.Unlock()
		if o.Pass != "" || o.AuthToken != "" || o.Sig != "" {
			t.Errorf("client %d keeps credentials: pass %q token %q sig %q", c.cid, o.Pass, o.AuthToken, o.Sig)
		}
		p := c.perms.Load()
		if p == nil {
			continue // a refused connection not yet gone
		}
		if user != "alice" {
			t.Errorf("client %d user %q, want alice", c.cid, user)
		}
		if dump := fmt.Sprintf("%+v", *p.id); strings.Contains(dump, goodPass) {
			t.Errorf("identity keeps the password: %s", dump)
		}
	}
}

type secSyncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *secSyncBuf) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *secSyncBuf) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// secNkey makes a user key pair: the public key and the seed.
func secNkey(t testing.TB) (nkeys.KeyPair, string) {
	t.Helper()
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	return kp, pub
}

func secSign(t testing.TB, kp nkeys.KeyPair, nonce string) string {
	t.Helper()
	sig, err := kp.Sign([]byte(nonce))
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(sig)
}

func TestNkeyAuth(t *testing.T) {
	user, pub := secNkey(t)
	other, otherPub := secNkey(t)
	s := runServer(t, &Options{
		Nkeys: []*NkeyUser{{Nkey: pub}},
		Users: []*User{{Username: "alice", Password: "pw"}},
	})

	// nats.go with a signing callback.
	nc := secConnect(t, s, nats.Nkey(pub, func(nonce []byte) ([]byte, error) { return user.Sign(nonce) }))
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	// nats.go with a .nk seed file.
	seed, _ := user.Seed()
	nk := filepath.Join(t.TempDir(), "user.nk")
	if err := os.WriteFile(nk, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	opt, err := nats.NkeyOptionFromSeed(nk)
	if err != nil {
		t.Fatal(err)
	}
	secConnect(t, s, opt)
	// Password users still work alongside.
	secConnect(t, s, nats.UserInfo("alice", "pw"))

	// A key that is not configured, though correctly signed.
	if err := secConnectErr(s, nats.Nkey(otherPub, func(n []byte) ([]byte, error) { return other.Sign(n) })); !secIsAuthErr(err) {
		t.Errorf("unknown nkey: %v", err)
	}
	// The configured key, signed with the wrong private key.
	if err := secConnectErr(s, nats.Nkey(pub, func(n []byte) ([]byte, error) { return other.Sign(n) })); !secIsAuthErr(err) {
		t.Errorf("wrong signer: %v", err)
	}

	// Raw: INFO carries a fresh nonce each connection.
	a, b := secDial(t, s), secDial(t, s)
	na, _ := a.info["nonce"].(string)
	nb, _ := b.info["nonce"].(string)
	if na == "" || nb == "" || na == nb {
		t.Fatalf("nonces %q and %q: want two different non-empty nonces", na, nb)
	}
	// Replay: a's valid signature presented on b (whose nonce differs).
	sigA := secSign(t, user, na)
	b.connect(map[string]any{"nkey": pub, "sig": sigA})
	b.expect("-ERR 'Authorization Violation'")
	b.expectClosed()
	// The same signature on its own connection is good; the standard base64
	// alphabet is accepted too, as nats-server does.
	a.connect(map[string]any{"nkey": pub, "sig": sigA})
	a.expect("PONG")
	c := secDial(t, s)
	raw, _ := user.Sign([]byte(c.info["nonce"].(string)))
	c.connect(map[string]any{"nkey": pub, "sig": base64.StdEncoding.EncodeToString(raw)})
	c.expect("PONG")

	// No signature, garbage signature, a signature of something else, a
	// seed instead of a public key, a password user's name as nkey.
	seedStr := string(seed)
	for i, fields := range []map[string]any{
		{"nkey": pub},
		{"nkey": pub, "sig": "!!!not base64!!!"},
		{"nkey": pub, "sig": secSign(t, user, "some other nonce")},
		{"nkey": seedStr, "sig": "x"},
		{"nkey": "alice", "pass": "pw"},
		{"nkey": pub, "sig": "", "user": "alice", "pass": "pw"}, // an nkey is checked as an nkey
	} {
		rc := secDial(t, s)
		rc.connect(fields)
		if got := rc.line(); got != "-ERR 'Authorization Violation'" {
			t.Errorf("case %d: got %q", i, got)
		}
		rc.expectClosed()
	}
}

// TestAuthDefaultPermissions: users without permissions of their own get
// default_permissions; users with their own keep theirs.
func TestAuthDefaultPermissions(t *testing.T) {
	_, pub := secNkey(t)
	s := runServer(t, &Options{
		Users: []*User{
			{Username: "plain", Password: "p"},
			{Username: "own", Password: "p", Permissions: &Permissions{Publish: &SubjectPermission{Allow: []string{"own.>"}}}},
		},
		Nkeys:              []*NkeyUser{{Nkey: pub}},
		DefaultPermissions: &Permissions{Publish: &SubjectPermission{Allow: []string{"default.>"}}},
	})
	plain := secDial(t, s)
	plain.connect(map[string]any{"user": "plain", "pass": "p"})
	plain.expect("PONG")
	plain.send("PUB default.x 0\r\n\r\nPUB own.x 0\r\n\r\n")
	plain.expect(`-ERR 'Permissions Violation for Publish to "own.x"'`)
	plain.sync()

	own := secDial(t, s)
	own.connect(map[string]any{"user": "own", "pass": "p"})
	own.expect("PONG")
	own.send("PUB own.x 0\r\n\r\nPUB default.x 0\r\n\r\n")
	own.expect(`-ERR 'Permissions Violation for Publish to "default.x"'`)
	own.sync()

	if p := s.auth.Load().nkeys[pub].perms; p == nil || p.pubAllow == nil {
		t.Errorf("nkey user without permissions did not get the defaults")
	}
}

func TestAuthMaxConnections(t *testing.T) {
	s := runServer(t, &Options{MaxConn: 1})
	first := secDial(t, s)
	first.connect(nil)
	first.expect("PONG")
	second := secDial(t, s) // INFO first, as nats-server
	second.expect("-ERR 'maximum connections exceeded'")
	second.expectClosed()
	// nats.go is refused too (it may see the close before the -ERR, so only
	// the refusal is checked).
	if err := secConnectErr(s); err == nil {
		t.Errorf("nats.go connected past max_connections")
	}
	first.sync() // the first is unaffected
}

func TestPermMaxSubscriptions(t *testing.T) {
	s := runServer(t, &Options{MaxSubs: 2})
	rc := secDial(t, s)
	rc.connect(nil)
	rc.expect("PONG")
	rc.send("SUB a 1\r\nSUB b 2\r\nSUB c 3\r\n")
	rc.expect("-ERR 'maximum subscriptions exceeded'")
	rc.sync() // still open
	rc.send("UNSUB 1\r\nSUB c 3\r\n")
	rc.sync() // room again
	if n := s.NumSubscriptions(); n != 2 {
		t.Errorf("%d subscriptions, want 2", n)
	}
}

// FuzzConnect feeds arbitrary CONNECT arguments to processConnect on a server
// with every kind of credential configured. It must never panic, and a
// CONNECT either authenticates or is refused: nothing in between.
func FuzzConnect(f *testing.F) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		f.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	hash, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		f.Fatal(err)
	}
	s, err := New(&Options{
		Host: "127.0.0.1", Port: -1,
		Users: []*User{
			{Username: "alice", Password: "pw", Permissions: &Permissions{
				Publish:   &SubjectPermission{Allow: []string{"a.>"}, Deny: []string{"a.b"}},
				Subscribe: &SubjectPermission{Allow: []string{"a.*", "q.* grp"}, Deny: []string{"a.x"}},
				Response:  &ResponsePermission{MaxMsgs: 1},
			}},
			{Username: "bob", Password: string(hash)},
		},
		Nkeys:              []*NkeyUser{{Nkey: pub}},
		DefaultPermissions: &Permissions{Subscribe: &SubjectPermission{Deny: []string{">"}}},
	}, nil)
	if err != nil {
		f.Fatal(err)
	}
	const nonce = "fuzz-nonce"
	sig := secSign(f, kp, nonce)
	for _, seed := range []string{
		`{}`,
		`{"verbose":false,"user":"alice","pass":"pw"}`,
		`{"user":"bob","pass":"pw","protocol":1,"headers":true,"no_responders":true}`,
		`{"nkey":"` + pub + `","sig":"` + sig + `"}`,
		`{"auth_token":"x","user":1}`,
		`{"user":"alice","pass":"pw","protocol":7}`,
		`{"user":"alice"`,
		`null`, `[]`, `"str"`, ``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, arg []byte) {
		a, b := net.Pipe()
		defer a.Close()
		defer b.Close()
		c := s.newClient(a)
		c.nonce = []byte(nonce)
		err := c.processConnect(arg)
		p := c.perms.Load()
		if err == nil && p == nil {
			t.Fatalf("CONNECT %q accepted without recording an identity", arg)
		}
		if errors.Is(err, errAuthViolation) && p != nil {
			t.Fatalf("CONNECT %q refused but an identity was recorded", arg)
		}
		if p != nil {
			// Exercise the permission checks the identity came with.
			p.pubAllowed([]byte("a.b"))
			p.subAllowed([]byte("q.x"), []byte("grp"))
			p.deliverAllowed(&subscription{subject: []byte("a.*"), sid: []byte("1")}, []byte("a.x"), []byte("r"))
			p.pubAllowed([]byte("r"))
		}
	})
}

// TestAuthFromNatsServerConfig: an authorization block written for
// nats-server works unchanged.
func TestAuthFromNatsServerConfig(t *testing.T) {
	kp, pub := secNkey(t)
	conf := `
# nats-server.conf
authorization {
  timeout: 1.5
  default_permissions = {
    publish = "public.>"
    subscribe = ["public.>", "_INBOX.>"]
  }
  users = [
    {user: admin, password: "` + secBcrypt(t, "adm1n") + `"}
    {user: svc, password: s3cret, permissions: {
      publish: {deny: ">"}
      subscribe: {allow: ["svc.>"], deny: ["svc.internal"]}
      allow_responses: {max: 1, expires: "1m"}
    }}
    {nkey: ` + pub + `}
    {user: client, password: c, permissions: {publish: "svc.>", subscribe: "_INBOX.>"}}
  ]
}
`
	o, err := ParseConfig("nats-server.conf", []byte(conf))
	if err != nil {
		t.Fatal(err)
	}
	o.Port = -1
	s := runServer(t, o)
	if s.opts.AuthTimeout != 1500*time.Millisecond {
		t.Errorf("auth timeout %v, want 1.5s", s.opts.AuthTimeout)
	}

	admin := secLogin(t, s, "admin", "adm1n")
	admin.send("PUB public.news 0\r\n\r\nPUB private 0\r\n\r\nSUB svc.> 1\r\n")
	admin.expect(
		`-ERR 'Permissions Violation for Publish to "private"'`,
		`-ERR 'Permissions Violation for Subscription to "svc.>"'`,
	)
	admin.sync()

	svc := secLogin(t, s, "svc", "s3cret")
	svc.send("SUB svc.* 1\r\nSUB svc.internal 2\r\n")
	svc.expect(`-ERR 'Permissions Violation for Subscription to "svc.internal"'`)
	svc.sync()
	nk := secDial(t, s)
	nk.connect(map[string]any{"nkey": pub, "sig": secSign(t, kp, nk.info["nonce"].(string))})
	nk.expect("PONG")
	nk.send("SUB _INBOX.me 1\r\nPUB svc.echo _INBOX.me 2\r\nhi\r\nPUB svc.internal _INBOX.me 2\r\nno\r\n")
	nk.expect(
		`-ERR 'Permissions Violation for Publish to "svc.echo"'`, // defaults: public.> only
		`-ERR 'Permissions Violation for Publish to "svc.internal"'`,
	)
	nk.sync()
	// The service may answer a request it received, once, and nothing else.
	client := secLogin(t, s, "client", "c")
	client.send("SUB _INBOX.c 1\r\nPUB svc.echo _INBOX.c 2\r\nhi\r\n")
	client.sync()
	svc.expect("MSG svc.echo 1 _INBOX.c 2", "hi")
	svc.send("PUB _INBOX.c 3\r\nack\r\nPUB _INBOX.c 3\r\ntwo\r\nPUB _INBOX.me 0\r\n\r\n")
	svc.expect(
		`-ERR 'Permissions Violation for Publish to "_INBOX.c"'`,
		`-ERR 'Permissions Violation for Publish to "_INBOX.me"'`,
	)
	svc.sync()
	client.expect("MSG _INBOX.c 1 3", "ack")
	client.sync()
}
