package server

import (
	"bufio"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// Helpers for the accounts tests: one configuration file is given to busd
// and to an in-process nats-server v2.15.2, and a scenario runs against each,
// asserting the same behaviour. Helpers are prefixed "acc".

// accServer is one running server of either kind.
type accServer struct {
	kind string // "busd" or "nats-server"
	addr string // host:port
	busd *Server
	ns   *natsserver.Server
}

// url is the client URL with user and password.
func (as *accServer) url(user, pass string) string {
	if user == "" {
		return "nats://" + as.addr
	}
	return "nats://" + user + ":" + pass + "@" + as.addr
}

// accConf writes conf to a file in a test directory and returns its path.
func accConf(t testing.TB, conf string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "accounts.conf")
	if err := os.WriteFile(p, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// accBusd starts busd with the configuration file conf.
func accBusd(t testing.TB, conf string) *accServer {
	t.Helper()
	o, err := ProcessConfigFile(accConf(t, conf))
	if err != nil {
		t.Fatalf("busd config: %v", err)
	}
	s := runServer(t, o)
	return &accServer{kind: "busd", addr: s.Addr().String(), busd: s}
}

// accNats starts nats-server with the configuration file conf.
func accNats(t testing.TB, conf string) *accServer {
	t.Helper()
	o, err := natsserver.ProcessConfigFile(accConf(t, conf))
	if err != nil {
		t.Fatalf("nats-server config: %v", err)
	}
	o.Host, o.Port, o.HTTPPort = "127.0.0.1", -1, 0
	o.NoLog, o.NoSigs = true, true
	ns, err := natsserver.NewServer(o)
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	t.Cleanup(ns.Shutdown)
	return &accServer{kind: "nats-server", addr: ns.Addr().String(), ns: ns}
}

// accBoth runs scenario as a subtest against busd and against nats-server,
// each started with conf.
func accBoth(t *testing.T, conf string, scenario func(t *testing.T, srv *accServer)) {
	t.Helper()
	for _, start := range []func(testing.TB, string) *accServer{accBusd, accNats} {
		srv := start(t, conf)
		t.Run(srv.kind, func(t *testing.T) { scenario(t, srv) })
	}
}

// accConnect connects as user (password "pw"; "" for no credentials).
func accConnect(t testing.TB, srv *accServer, user string, opts ...nats.Option) *nats.Conn {
	t.Helper()
	quiet := nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {})
	nc, err := nats.Connect(srv.url(user, "pw"), append([]nats.Option{nats.NoReconnect(), nats.Timeout(5 * time.Second), quiet}, opts...)...)
	if err != nil {
		t.Fatalf("%s: connect as %q: %v", srv.kind, user, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// accFlush makes sure the server processed everything each connection sent.
func accFlush(t testing.TB, ncs ...*nats.Conn) {
	t.Helper()
	for _, nc := range ncs {
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
	}
}

// accNone asserts sub receives nothing: a message published after the one
// under test, on a subject the subscriber also reads, arrives first.
func accNone(t testing.TB, sub *nats.Subscription, what string) {
	t.Helper()
	if m, err := sub.NextMsg(200 * time.Millisecond); err == nil {
		t.Fatalf("%s: got %q on %q, want nothing", what, m.Data, m.Subject)
	}
}

// accNext returns the next message of sub.
func accNext(t testing.TB, sub *nats.Subscription, what string) *nats.Msg {
	t.Helper()
	m, err := sub.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return m
}

// accRaw is a raw protocol connection for the accounts tests.
type accRaw struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
}

// accDial connects over TCP, reads INFO and sends CONNECT as user.
func accDial(t testing.TB, srv *accServer, user string, extra string) *accRaw {
	t.Helper()
	conn, err := net.Dial("tcp", srv.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	rc := &accRaw{t: t, conn: conn, r: bufio.NewReader(conn)}
	if l := rc.line(); !strings.HasPrefix(l, "INFO ") {
		t.Fatalf("%s: first line %q", srv.kind, l)
	}
	connect := map[string]any{"verbose": false, "pedantic": false, "headers": true, "no_responders": true, "protocol": 1}
	if user != "" {
		connect["user"], connect["pass"] = user, "pw"
	}
	if extra != "" {
		if err := json.Unmarshal([]byte(extra), &connect); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := json.Marshal(connect)
	rc.send("CONNECT " + string(b) + "\r\nPING\r\n")
	rc.expect("PONG")
	// Then the INFO naming the account, as to any protocol 1 client.
	if l := rc.line(); !isConnectInfo(l+"\r\n") || !strings.Contains(l, `"remote_account":`) {
		t.Fatalf("%s: after the first PONG got %q, want the connect INFO", srv.kind, l)
	}
	return rc
}

func (rc *accRaw) send(s string) {
	rc.t.Helper()
	if _, err := rc.conn.Write([]byte(s)); err != nil {
		rc.t.Fatalf("send: %v", err)
	}
}

func (rc *accRaw) line() string {
	rc.t.Helper()
	_ = rc.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	l, err := rc.r.ReadString('\n')
	if err != nil {
		rc.t.Fatalf("read: %v (got %q)", err, l)
	}
	return strings.TrimSuffix(l, "\r\n")
}

func (rc *accRaw) expect(lines ...string) {
	rc.t.Helper()
	for _, want := range lines {
		if got := rc.line(); got != want {
			rc.t.Fatalf("got %q, want %q", got, want)
		}
	}
}

// sync proves the server processed what was sent before: PING gets PONG,
// and nothing else may come first.
func (rc *accRaw) sync() {
	rc.t.Helper()
	rc.send("PING\r\n")
	rc.expect("PONG")
}

// accTwoAccounts is a configuration with accounts A and B (users a and b)
// and a system account SYS (user sys), every password "pw".
const accTwoAccounts = `
accounts {
  A: { users: [ {user: a, password: pw}, {user: a2, password: pw} ] }
  B: { users: [ {user: b, password: pw} ] }
  SYS: { users: [ {user: sys, password: pw} ] }
}
system_account: SYS
`

// accImports is the services-and-streams configuration most import tests
// use: SVC exports services and streams; CLI imports them; OTHER may not.
const accImports = `
accounts {
  SVC: {
    users: [ {user: svc, password: pw} ]
    exports: [
      {service: "echo"}
      {service: "wild.>"}
      {service: "only.cli", accounts: [CLI]}
      {service: "stream.svc", response_type: stream}
      {service: "chunk.svc", response_type: chunked}
      {stream: "events.>"}
      {stream: "ticks.*"}
    ]
  }
  CLI: {
    users: [ {user: cli, password: pw} ]
    imports: [
      {service: {account: SVC, subject: "echo"}}
      {service: {account: SVC, subject: "wild.*"}, to: "w.*"}
      {service: {account: SVC, subject: "only.cli"}, to: "only"}
      {service: {account: SVC, subject: "stream.svc"}}
      {service: {account: SVC, subject: "chunk.svc"}}
      {stream: {account: SVC, subject: "events.>"}, prefix: "svc"}
      {stream: {account: SVC, subject: "ticks.*"}, to: "tick.*"}
    ]
  }
  OTHER: { users: [ {user: other, password: pw} ] }
  SYS: { users: [ {user: sys, password: pw} ] }
}
system_account: SYS
`

// nsAccepts reports whether nats-server starts with conf (parsing and
// configuring it, without listening).
func nsAccepts(t testing.TB, conf string) bool {
	t.Helper()
	o, err := natsserver.ProcessConfigFile(accConf(t, conf))
	if err != nil {
		return false
	}
	o.Host, o.Port, o.NoLog, o.NoSigs = "127.0.0.1", -1, true, true
	ns, err := natsserver.NewServer(o)
	if err != nil {
		return false
	}
	ns.Shutdown()
	return true
}
