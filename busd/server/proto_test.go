package server

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Black-box protocol tests: a raw TCP connection sends bytes and expects the
// exact bytes nats-server would answer with.

func runServer(t testing.TB, o *Options) *Server {
	t.Helper()
	return runServerLog(t, o, nil)
}

// runServerLog starts a server on a random loopback port, logging to logger.
func runServerLog(t testing.TB, o *Options, logger *slog.Logger) *Server {
	t.Helper()
	if o == nil {
		o = &Options{}
	}
	o.Host = "127.0.0.1"
	if o.Port == 0 {
		o.Port = -1
	}
	s, err := New(o, logger)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return s
}

type rawConn struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
	info map[string]any
}

// dial connects and consumes the INFO line.
func dial(t testing.TB, s *Server) *rawConn {
	t.Helper()
	conn, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	rc := &rawConn{t: t, conn: conn, r: bufio.NewReaderSize(conn, 1<<20)}
	line := rc.readLine()
	if !strings.HasPrefix(line, "INFO {") {
		t.Fatalf("first line %q, want INFO", line)
	}
	if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "INFO ")), &rc.info); err != nil {
		t.Fatalf("INFO JSON: %v", err)
	}
	return rc
}

func (rc *rawConn) send(s string) {
	rc.t.Helper()
	if _, err := rc.conn.Write([]byte(s)); err != nil {
		rc.t.Fatalf("send %q: %v", s, err)
	}
}

func (rc *rawConn) readLine() string {
	rc.t.Helper()
	_ = rc.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := rc.r.ReadString('\n')
	if err != nil {
		rc.t.Fatalf("read: %v (got %q)", err, line)
	}
	if !strings.HasSuffix(line, "\r\n") {
		rc.t.Fatalf("line %q does not end in CRLF", line)
	}
	return strings.TrimSuffix(line, "\r\n")
}

// expect reads one line per argument and compares each exactly.
func (rc *rawConn) expect(lines ...string) {
	rc.t.Helper()
	for _, want := range lines {
		if got := rc.readLine(); got != want {
			rc.t.Fatalf("got %q, want %q", got, want)
		}
	}
}

// expectBytes reads exactly len(want) bytes.
func (rc *rawConn) expectBytes(want string) {
	rc.t.Helper()
	_ = rc.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	got := make([]byte, len(want))
	if _, err := io.ReadFull(rc.r, got); err != nil {
		rc.t.Fatalf("read: %v", err)
	}
	if string(got) != want {
		rc.t.Fatalf("got %q, want %q", got, want)
	}
}

// sync proves everything sent before it was processed: PING gets PONG in order.
func (rc *rawConn) sync() {
	rc.t.Helper()
	rc.send("PING\r\n")
	rc.expect("PONG")
}

// expectClosed reads until EOF, failing on anything but the listed lines.
func (rc *rawConn) expectClosed() {
	rc.t.Helper()
	_ = rc.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for i := 0; i < 1000; i++ {
		line, err := rc.r.ReadString('\n')
		if errors.Is(err, io.EOF) || isReset(err) {
			return
		}
		if err != nil {
			rc.t.Fatalf("waiting for close: %v", err)
		}
		rc.t.Fatalf("unexpected %q before close", line)
	}
}

func isReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}

func TestProtoInfo(t *testing.T) {
	s := runServer(t, &Options{ServerName: "busd-test"})
	rc := dial(t, s)
	in := rc.info
	for _, k := range []string{"server_id", "server_name", "version", "proto", "go", "host", "port", "headers", "max_payload", "client_id", "client_ip"} {
		if _, ok := in[k]; !ok {
			t.Errorf("INFO lacks %q: %v", k, in)
		}
	}
	if in["server_name"] != "busd-test" || in["proto"] != float64(1) || in["headers"] != true || in["max_payload"] != float64(DefaultMaxPayload) {
		t.Errorf("INFO values: %v", in)
	}
	if !regexp.MustCompile(`^\d+\.\d+\.\d+`).MatchString(in["version"].(string)) {
		t.Errorf("version %q is not semver", in["version"])
	}
	if in["client_ip"] != "127.0.0.1" || in["port"] != float64(s.Addr().(*net.TCPAddr).Port) {
		t.Errorf("INFO addresses: %v", in)
	}
	if _, ok := in["nonce"]; ok {
		t.Error("nonce without nkeys")
	}
	rc2 := dial(t, s)
	if rc2.info["client_id"] == in["client_id"] {
		t.Error("two connections share a client_id")
	}
}

// TestProtoTelnetDefaults: before CONNECT a client is verbose, like nats-server.
func TestProtoTelnetDefaults(t *testing.T) {
	s := runServer(t, nil)
	rc := dial(t, s)
	rc.send("SUB foo 1\r\n")
	rc.expect("+OK")
	rc.send("PUB foo 2\r\nhi\r\n")
	rc.expect("+OK", "MSG foo 1 2", "hi")
	rc.send("ping\r\n")
	rc.expect("PONG")
}

func TestProtoCaseAndWhitespace(t *testing.T) {
	s := runServer(t, nil)
	rc := dial(t, s)
	rc.send("connect {\"verbose\":false}\r\n")
	rc.send("sUb\tfoo  \t 1\r\n") // runs of spaces and tabs
	rc.send("UNSUB 9 \r\n")       // trailing space, unknown sid: ignored
	rc.send("Pub  foo\t\t3\r\nabc\r\n")
	rc.expect("MSG foo 1 3", "abc")
	rc.sync()
}

func TestProtoVerboseOff(t *testing.T) {
	s := runServer(t, nil)
	rc := dial(t, s)
	rc.send("CONNECT {\"verbose\":false,\"pedantic\":false}\r\nSUB foo 1\r\nPUB foo 0\r\n\r\n")
	rc.expect("MSG foo 1 0", "")
	rc.sync()
}

func TestProtoSubjects(t *testing.T) {
	s := runServer(t, nil)
	rc := dial(t, s)
	rc.send("CONNECT {\"verbose\":false}\r\n")
	for _, bad := range []string{"foo..bar", ".foo", "foo.", "foo.>.bar", ">.foo", "foo.*.>.x"} {
		rc.send("SUB " + bad + " 1\r\n")
		rc.expect("-ERR 'Invalid Subject'")
	}
	rc.sync() // the connection survived every bad subject
	rc.send("SUB foo* 1\r\nSUB foo.* 2\r\nSUB foo.> 3\r\nSUB * 4\r\n")
	rc.send("PUB foox 1\r\na\r\n") // matches only "*"
	rc.expect("MSG foox 4 1", "a")
	rc.send("PUB foo* 1\r\nb\r\n") // literal token foo*: sid 1 and "*"
	got := []string{rc.readLine(), rc.readLine(), rc.readLine(), rc.readLine()}
	joined := strings.Join(got, "|")
	if !strings.Contains(joined, "MSG foo* 1 1") || !strings.Contains(joined, "MSG foo* 4 1") {
		t.Fatalf("foo* deliveries: %q", got)
	}
	rc.send("PUB foo.bar.baz 1\r\nc\r\n") // only foo.>
	rc.expect("MSG foo.bar.baz 3 1", "c")
	rc.send("PUB foo.bar 1\r\nd\r\n") // foo.* and foo.>
	got = []string{rc.readLine(), rc.readLine(), rc.readLine(), rc.readLine()}
	joined = strings.Join(got, "|")
	if !strings.Contains(joined, "MSG foo.bar 2 1") || !strings.Contains(joined, "MSG foo.bar 3 1") {
		t.Fatalf("foo.bar deliveries: %q", got)
	}
	rc.sync()
}

func TestProtoPedanticPublishSubject(t *testing.T) {
	s := runServer(t, nil)
	rc := dial(t, s)
	rc.send("CONNECT {\"verbose\":false,\"pedantic\":true}\r\nSUB > 1\r\nPUB foo.* 1\r\nx\r\n")
	// Told, and delivered all the same, as nats-server does.
	rc.expect("-ERR 'Invalid Publish Subject'", "MSG foo.* 1 1", "x")
	rc.sync()
}

func TestProtoQueueGroups(t *testing.T) {
	s := runServer(t, nil)
	plain := dial(t, s)
	q1, q2 := dial(t, s), dial(t, s)
	for i, rc := range []*rawConn{plain, q1, q2} {
		rc.send("CONNECT {\"verbose\":false}\r\n")
		if i == 0 {
			rc.send("SUB work 1\r\n")
		} else {
			rc.send("SUB work workers 1\r\n")
		}
		rc.sync()
	}
	pub := dial(t, s)
	pub.send("CONNECT {\"verbose\":false}\r\n")
	const n = 200
	for i := 0; i < n; i++ {
		pub.send(fmt.Sprintf("PUB work 1\r\n%d\r\n", i%10))
	}
	pub.sync()
	for i := 0; i < n; i++ {
		plain.expect("MSG work 1 1", fmt.Sprint(i%10))
	}
	// Each queue member got some, together exactly n: count until PONG.
	count := func(rc *rawConn) int {
		rc.send("PING\r\n")
		c := 0
		for i := 0; i < 2*n+1; i++ {
			line := rc.readLine()
			if line == "PONG" {
				return c
			}
			if strings.HasPrefix(line, "MSG work 1 1") {
				c++
				rc.readLine()
			}
		}
		t.Fatal("no PONG")
		return 0
	}
	c1, c2 := count(q1), count(q2)
	if c1+c2 != n || c1 == 0 || c2 == 0 {
		t.Fatalf("queue members got %d and %d of %d", c1, c2, n)
	}
}

func TestProtoAutoUnsubscribe(t *testing.T) {
	s := runServer(t, nil)
	rc := dial(t, s)
	rc.send("CONNECT {\"verbose\":false}\r\nSUB foo 1\r\nUNSUB 1 2\r\n")
	rc.send("PUB foo 1\r\na\r\nPUB foo 1\r\nb\r\nPUB foo 1\r\nc\r\n")
	rc.expect("MSG foo 1 1", "a", "MSG foo 1 1", "b")
	rc.sync() // c never came
	if n := s.NumSubscriptions(); n != 0 {
		t.Fatalf("%d subscriptions left after max reached", n)
	}
	// UNSUB with a max already reached removes at once.
	rc.send("SUB bar 2\r\nPUB bar 1\r\nx\r\nUNSUB 2 1\r\nPUB bar 1\r\ny\r\n")
	rc.expect("MSG bar 2 1", "x")
	rc.sync()
}

func TestProtoEchoOff(t *testing.T) {
	s := runServer(t, nil)
	rc := dial(t, s)
	rc.send("CONNECT {\"verbose\":false,\"echo\":false}\r\nSUB foo 1\r\nPUB foo 1\r\nx\r\n")
	rc.sync() // no MSG before PONG
	other := dial(t, s)
	other.send("CONNECT {\"verbose\":false}\r\nPUB foo 1\r\ny\r\n")
	rc.expect("MSG foo 1 1", "y")
}

func TestProtoHeaders(t *testing.T) {
	s := runServer(t, nil)
	hsub, plain, pub := dial(t, s), dial(t, s), dial(t, s)
	hsub.send("CONNECT {\"verbose\":false,\"headers\":true}\r\nSUB foo 1\r\n")
	hsub.sync()
	plain.send("CONNECT {\"verbose\":false}\r\nSUB foo 7\r\n")
	plain.sync()
	hdr := "NATS/1.0\r\nA: b\r\n\r\n"
	pub.send("CONNECT {\"verbose\":false,\"headers\":true}\r\n")
	pub.send(fmt.Sprintf("HPUB foo rep %d %d\r\n%shello\r\n", len(hdr), len(hdr)+5, hdr))
	hsub.expect(fmt.Sprintf("HMSG foo 1 rep %d %d", len(hdr), len(hdr)+5))
	hsub.expectBytes(hdr + "hello\r\n")
	plain.expect("MSG foo 7 rep 5", "hello") // header block stripped
	pub.sync()
}

func TestProtoHPubWithoutHeadersNegotiated(t *testing.T) {
	s := runServer(t, nil)
	rc := dial(t, s)
	rc.send("CONNECT {\"verbose\":false}\r\nHPUB foo 12 12\r\nNATS/1.0\r\n\r\n\r\n")
	rc.expectClosed()
}

func TestProtoNoResponders(t *testing.T) {
	s := runServer(t, nil)
	rc := dial(t, s)
	rc.send("CONNECT {\"verbose\":false,\"headers\":true,\"no_responders\":true}\r\nSUB _INBOX.abc.* 9\r\n")
	rc.send("PUB nobody.home _INBOX.abc.1 2\r\nhi\r\n")
	hdr := "NATS/1.0 503\r\nNats-Subject: nobody.home\r\n\r\n"
	rc.expect(fmt.Sprintf("HMSG _INBOX.abc.1 9 %d %d", len(hdr), len(hdr)))
	rc.expectBytes(hdr + "\r\n")
	// Without no_responders nothing comes back.
	rc2 := dial(t, s)
	rc2.send("CONNECT {\"verbose\":false,\"headers\":true}\r\nSUB _INBOX.x.* 1\r\nPUB nobody _INBOX.x.1 0\r\n\r\n")
	rc2.sync()
}

func TestProtoNoRespondersRequiresHeaders(t *testing.T) {
	s := runServer(t, nil)
	rc := dial(t, s)
	rc.send("CONNECT {\"verbose\":false,\"no_responders\":true}\r\n")
	rc.expect("-ERR 'no responders requires headers support'")
	rc.expectClosed()
}

func TestProtoErrorsThatClose(t *testing.T) {
	cases := []struct {
		name string
		opts *Options
		send string
		want string
	}{
		{"unknown op", nil, "FOO bar\r\n", "-ERR 'Unknown Protocol Operation'"},
		{"max payload", nil, "PUB foo 1048577\r\n", "-ERR 'Maximum Payload Violation'"},
		{"max payload configured", &Options{MaxPayload: 10}, "PUB foo 11\r\n", "-ERR 'Maximum Payload Violation'"},
		{"max control line", nil, "SUB " + strings.Repeat("x", 5000) + " 1\r\n", "-ERR 'maximum control line exceeded'"},
		{"max control line configured", &Options{MaxControlLine: 16}, "SUB " + strings.Repeat("x", 20) + " 1\r\n", "-ERR 'maximum control line exceeded'"},
		{"bad payload terminator", nil, "PUB foo 1\r\nxy\r\n", "-ERR 'Unknown Protocol Operation'"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := runServer(t, tc.opts)
			rc := dial(t, s)
			rc.send("CONNECT {\"verbose\":false}\r\n" + tc.send)
			rc.expect(tc.want)
			rc.expectClosed()
		})
	}
}

func TestProtoBadArgsClose(t *testing.T) {
	for _, in := range []string{"PUB foo\r\n", "PUB foo bar baz 1\r\n", "SUB \r\n", "UNSUB \r\n", "CONNECT {nope\r\n", "PUB foo -1\r\n"} {
		s := runServer(t, nil)
		rc := dial(t, s)
		rc.send(in)
		rc.expectClosed()
	}
}

func TestProtoStaleConnection(t *testing.T) {
	s := runServer(t, &Options{PingInterval: 50 * time.Millisecond, MaxPingsOut: 2})
	rc := dial(t, s)
	rc.send("CONNECT {\"verbose\":false}\r\n")
	rc.expect("PING", "PING", "-ERR 'Stale Connection'")
	rc.expectClosed()
	if n := s.staleConnections.Load(); n != 1 {
		t.Fatalf("stale_connections = %d", n)
	}
}

func TestProtoPongKeepsConnection(t *testing.T) {
	s := runServer(t, &Options{PingInterval: 30 * time.Millisecond, MaxPingsOut: 1})
	rc := dial(t, s)
	rc.send("CONNECT {\"verbose\":false}\r\n")
	for i := 0; i < 5; i++ {
		rc.expect("PING")
		rc.send("PONG\r\n")
	}
	rc.sync()
}

func TestProtoMaxConnections(t *testing.T) {
	s := runServer(t, &Options{MaxConn: 1})
	first := dial(t, s)
	first.sync()
	second := dial(t, s)
	second.expect("-ERR 'maximum connections exceeded'")
	second.expectClosed()
	first.sync()
}

func TestProtoMaxSubscriptions(t *testing.T) {
	s := runServer(t, &Options{MaxSubs: 2})
	rc := dial(t, s)
	rc.send("CONNECT {\"verbose\":false}\r\nSUB a 1\r\nSUB b 2\r\nSUB c 3\r\n")
	rc.expect("-ERR 'maximum subscriptions exceeded'")
	rc.sync() // kept open
}

func TestProtoAuthUserPass(t *testing.T) {
	s := runServer(t, &Options{Username: "alice", Password: "s3cret"})
	rc := dial(t, s)
	if rc.info["auth_required"] != true {
		t.Fatalf("INFO auth_required: %v", rc.info)
	}
	rc.send("PING\r\n")
	rc.expect("-ERR 'Authorization Violation'")
	rc.expectClosed()

	bad := dial(t, s)
	bad.send("CONNECT {\"user\":\"alice\",\"pass\":\"wrong\"}\r\n")
	bad.expect("-ERR 'Authorization Violation'")
	bad.expectClosed()

	good := dial(t, s)
	good.send("CONNECT {\"verbose\":true,\"user\":\"alice\",\"pass\":\"s3cret\"}\r\n")
	good.expect("+OK")
	good.sync()
}

func TestProtoAuthToken(t *testing.T) {
	s := runServer(t, &Options{Authorization: "tok"})
	bad := dial(t, s)
	bad.send("CONNECT {\"auth_token\":\"nope\"}\r\n")
	bad.expect("-ERR 'Authorization Violation'")
	bad.expectClosed()
	good := dial(t, s)
	good.send("CONNECT {\"verbose\":false,\"auth_token\":\"tok\"}\r\n")
	good.sync()
}

func TestProtoAuthTimeout(t *testing.T) {
	s := runServer(t, &Options{Authorization: "tok", AuthTimeout: 50 * time.Millisecond})
	rc := dial(t, s)
	rc.expect("-ERR 'Authentication Timeout'")
	rc.expectClosed()
}

// TestProtoSlowConsumerPending: a subscriber that does not read is cut off once
// its pending bytes pass max_pending; the publisher and others carry on.
func TestProtoSlowConsumerPending(t *testing.T) {
	s := runServer(t, &Options{MaxPayload: 64 * 1024, MaxPending: 256 * 1024})
	slow := dial(t, s)
	slow.send("CONNECT {\"verbose\":false}\r\nSUB big 1\r\n")
	slow.sync()
	other := dial(t, s)
	other.send("CONNECT {\"verbose\":false}\r\nSUB small 1\r\n")
	other.sync()
	pub := dial(t, s)
	pub.send("CONNECT {\"verbose\":false}\r\n")
	payload := strings.Repeat("x", 60*1024)
	// Loopback buffers absorb a few MB; 600 messages (36 MB) overflow them.
	for i := 0; i < 600 && s.slowConsumers.Load() == 0; i++ {
		pub.send("PUB big 61440\r\n" + payload + "\r\n")
	}
	pub.sync()
	if n := s.slowConsumers.Load(); n != 1 {
		t.Fatalf("slow_consumers = %d, want 1", n)
	}
	// The slow connection ends: drain what reached its socket, then EOF.
	_ = slow.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.Copy(io.Discard, slow.r); err != nil && !isReset(err) {
		t.Fatalf("slow consumer connection: %v", err)
	}
	pub.send("PUB small 2\r\nok\r\n")
	pub.sync()
	other.expect("MSG small 1 2", "ok")
	if s.NumClients() != 2 {
		t.Fatalf("%d clients, want publisher and other subscriber", s.NumClients())
	}
}

func TestProtoSlowConsumerWriteDeadline(t *testing.T) {
	s := runServer(t, &Options{MaxPayload: 64 * 1024, WriteDeadline: 100 * time.Millisecond})
	slow := dial(t, s)
	slow.send("CONNECT {\"verbose\":false}\r\nSUB big 1\r\n")
	slow.sync()
	pub := dial(t, s)
	pub.send("CONNECT {\"verbose\":false}\r\n")
	payload := strings.Repeat("x", 60*1024)
	for i := 0; i < 2000 && s.slowConsumers.Load() == 0; i++ {
		pub.send("PUB big 61440\r\n" + payload + "\r\n")
		if i%50 == 49 {
			pub.sync() // let the writer run into its deadline
		}
	}
	if s.slowConsumers.Load() != 1 {
		t.Fatalf("slow_consumers = %d", s.slowConsumers.Load())
	}
	pub.sync()
}

func TestProtoLameDuck(t *testing.T) {
	s := runServer(t, &Options{LameDuckDuration: 300 * time.Millisecond, LameDuckGracePeriod: 50 * time.Millisecond})
	rc := dial(t, s)
	rc.send("CONNECT {\"verbose\":false}\r\n")
	rc.sync()
	done := make(chan error, 1)
	go func() { done <- s.LameDuck(context.Background()) }()
	line := rc.readLine()
	var in map[string]any
	if !strings.HasPrefix(line, "INFO ") || json.Unmarshal([]byte(line[5:]), &in) != nil || in["ldm"] != true {
		t.Fatalf("got %q, want INFO with ldm:true", line)
	}
	for _, k := range []string{"server_id", "version", "max_payload", "headers", "port"} {
		if _, ok := in[k]; !ok {
			t.Errorf("async INFO lacks %q", k)
		}
	}
	rc.expectClosed()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := net.Dial("tcp", s.Addr().String()); err == nil {
		t.Fatal("server still accepting after lame duck")
	}
}

func TestShutdownIdempotent(t *testing.T) {
	s := runServer(t, nil)
	rc := dial(t, s)
	rc.sync()
	for i := 0; i < 3; i++ {
		if err := s.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	rc.expectClosed()
	if err := s.Start(); err == nil {
		t.Fatal("Start after Shutdown succeeded")
	}
}

// TestProtoFastProducerSlowerConsumer: a subscriber that reads steadily but
// slower than the publisher writes is not cut off: the publisher is held back
// (back-pressure through its own socket) and every message arrives.
func TestProtoFastProducerSlowerConsumer(t *testing.T) {
	// max_pending is sized well above what the kernel releases per wake-up of a
	// blocked writer (a share of a socket buffer of several MB on loopback).
	s := runServer(t, &Options{MaxPayload: 4 * 1024, MaxPending: 4 * 1024 * 1024})
	sub := dial(t, s)
	sub.send("CONNECT {\"verbose\":false}\r\nSUB flood 1\r\n")
	sub.sync()
	pub := dial(t, s)
	pub.send("CONNECT {\"verbose\":false}\r\n")

	const n, size = 40000, 1000 // 40 MB through a 4 MB pending limit
	msg := "PUB flood 1000\r\n" + strings.Repeat("x", size) + "\r\n"
	batch := strings.Repeat(msg, 100)
	sent := make(chan error, 1)
	go func() {
		for i := 0; i < n/100; i++ {
			if _, err := pub.conn.Write([]byte(batch)); err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}()
	// The consumer paces itself at about 60 MB/s, well below what a publisher
	// pushes over loopback: load, not synchronisation.
	want := int64(n * len("MSG flood 1 1000\r\n"+strings.Repeat("x", size)+"\r\n"))
	var got int64
	buf := make([]byte, 64*1024)
	for got < want {
		_ = sub.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		k, err := sub.r.Read(buf)
		if err != nil {
			t.Fatalf("subscriber cut off after %d of %d bytes (slow_consumers=%d): %v", got, want, s.slowConsumers.Load(), err)
		}
		got += int64(k)
		time.Sleep(time.Millisecond)
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	if n := s.slowConsumers.Load(); n != 0 {
		t.Fatalf("slow_consumers = %d", n)
	}
	pub.sync()
}
