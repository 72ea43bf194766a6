package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// End-to-end tests through the official nats.go client.

func connect(t testing.TB, url string, opts ...nats.Option) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func TestE2ERequestReply(t *testing.T) {
	s := runServer(t, nil)
	responder := connect(t, s.ClientURL())
	if _, err := responder.Subscribe("echo.*", func(m *nats.Msg) {
		_ = m.Respond(append([]byte(m.Subject+":"), m.Data...))
	}); err != nil {
		t.Fatal(err)
	}
	if err := responder.Flush(); err != nil {
		t.Fatal(err)
	}
	nc := connect(t, s.ClientURL())
	for i := 0; i < 100; i++ {
		m, err := nc.Request("echo.x", []byte(fmt.Sprint(i)), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("echo.x:%d", i); string(m.Data) != want {
			t.Fatalf("got %q, want %q", m.Data, want)
		}
	}
}

func TestE2EQueueGroups(t *testing.T) {
	s := runServer(t, nil)
	const members, n = 3, 3000
	var counts [members]atomic.Int64
	var total atomic.Int64
	done := make(chan struct{})
	for i := 0; i < members; i++ {
		nc := connect(t, s.ClientURL())
		if _, err := nc.QueueSubscribe("jobs", "workers", func(*nats.Msg) {
			counts[i].Add(1)
			if total.Add(1) == n {
				close(done)
			}
		}); err != nil {
			t.Fatal(err)
		}
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	pub := connect(t, s.ClientURL())
	for i := 0; i < n; i++ {
		if err := pub.Publish("jobs", []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("got %d of %d", total.Load(), n)
	}
	for i := range counts {
		// Random choice: each of 3 members gets about 1000; 700 is far outside chance.
		if c := counts[i].Load(); c < 700 {
			t.Errorf("member %d got %d of %d", i, c, n)
		}
	}
}

func TestE2EHeaders(t *testing.T) {
	s := runServer(t, nil)
	nc := connect(t, s.ClientURL())
	sub, err := nc.SubscribeSync("h")
	if err != nil {
		t.Fatal(err)
	}
	m := nats.NewMsg("h")
	m.Header.Set("Trace-Id", "abc")
	m.Header.Add("Multi", "1")
	m.Header.Add("Multi", "2")
	m.Data = []byte("body")
	if err := nc.PublishMsg(m); err != nil {
		t.Fatal(err)
	}
	got, err := sub.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got.Header.Get("Trace-Id") != "abc" || len(got.Header.Values("Multi")) != 2 || string(got.Data) != "body" {
		t.Fatalf("got header %v data %q", got.Header, got.Data)
	}
}

func TestE2ENoResponders(t *testing.T) {
	s := runServer(t, nil)
	nc := connect(t, s.ClientURL())
	start := time.Now()
	_, err := nc.Request("nobody.listens", []byte("?"), 10*time.Second)
	if !errors.Is(err, nats.ErrNoResponders) {
		t.Fatalf("got %v, want ErrNoResponders", err)
	}
	// It must come from the server's 503, not the 10s timeout.
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("no responders took %v", el)
	}
}

func TestE2EDrain(t *testing.T) {
	s := runServer(t, nil)
	nc := connect(t, s.ClientURL())
	closed := make(chan struct{})
	sub := connect(t, s.ClientURL(), nats.ClosedHandler(func(*nats.Conn) { close(closed) }))
	var handled atomic.Int64
	if _, err := sub.Subscribe("work", func(*nats.Msg) {
		time.Sleep(time.Millisecond) // a slow handler: drain must wait for it
		handled.Add(1)
	}); err != nil {
		t.Fatal(err)
	}
	if err := sub.Flush(); err != nil {
		t.Fatal(err)
	}
	const n = 200
	for i := 0; i < n; i++ {
		if err := nc.Publish("work", nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	// Every message is at the subscriber once its own round trip completes.
	if err := sub.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := sub.Drain(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("drain did not close the connection")
	}
	if got := handled.Load(); got != n {
		t.Fatalf("drain handled %d of %d", got, n)
	}
}

func TestE2EReconnectAfterRestart(t *testing.T) {
	s1 := runServer(t, nil)
	tcpPort := s1.Addr().(*net.TCPAddr).Port
	reconnected := make(chan struct{}, 1)
	nc := connect(t, s1.ClientURL(),
		nats.ReconnectWait(20*time.Millisecond), nats.MaxReconnects(-1),
		nats.ReconnectHandler(func(*nats.Conn) { reconnected <- struct{}{} }))
	sub, err := nc.SubscribeSync("after.restart")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := s1.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	s2 := runServer(t, &Options{Port: tcpPort})
	select {
	case <-reconnected:
	case <-time.After(10 * time.Second):
		t.Fatal("client did not reconnect")
	}
	// nats.go resubscribed on reconnect: a message published now arrives.
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	pub := connect(t, s2.ClientURL())
	if err := pub.Publish("after.restart", []byte("hi")); err != nil {
		t.Fatal(err)
	}
	m, err := sub.NextMsg(5 * time.Second)
	if err != nil || string(m.Data) != "hi" {
		t.Fatalf("after restart: %v %v", m, err)
	}
}

func TestE2EAutoUnsubscribe(t *testing.T) {
	s := runServer(t, nil)
	nc := connect(t, s.ClientURL())
	sub, err := nc.SubscribeSync("few")
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.AutoUnsubscribe(3); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		_ = nc.Publish("few", []byte{byte('0' + i)})
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := sub.NextMsg(5 * time.Second); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	if _, err := sub.NextMsg(50 * time.Millisecond); err == nil {
		t.Fatal("a fourth message arrived")
	}
	if s.NumSubscriptions() != 0 {
		t.Fatalf("%d subscriptions left", s.NumSubscriptions())
	}
}

func TestE2ELargePayload(t *testing.T) {
	s := runServer(t, nil)
	nc := connect(t, s.ClientURL())
	if nc.MaxPayload() != DefaultMaxPayload {
		t.Fatalf("client sees max payload %d", nc.MaxPayload())
	}
	sub, _ := nc.SubscribeSync("big")
	payload := bytes.Repeat([]byte("0123456789abcdef"), DefaultMaxPayload/16)
	if err := nc.Publish("big", payload); err != nil {
		t.Fatal(err)
	}
	m, err := sub.NextMsg(5 * time.Second)
	if err != nil || !bytes.Equal(m.Data, payload) {
		t.Fatalf("1 MiB payload: err %v, got %d bytes", err, len(m.Data))
	}
	if err := nc.Publish("big", append(payload, 'x')); !errors.Is(err, nats.ErrMaxPayload) {
		t.Fatalf("over max payload: %v", err)
	}
}

func TestE2EFanout(t *testing.T) {
	s := runServer(t, nil)
	const subs, n = 8, 500
	var got atomic.Int64
	done := make(chan struct{})
	for i := 0; i < subs; i++ {
		nc := connect(t, s.ClientURL())
		if _, err := nc.Subscribe("fan.>", func(*nats.Msg) {
			if got.Add(1) == subs*n {
				close(done)
			}
		}); err != nil {
			t.Fatal(err)
		}
		_ = nc.Flush()
	}
	pub := connect(t, s.ClientURL())
	for i := 0; i < n; i++ {
		_ = pub.Publish(fmt.Sprintf("fan.%d", i%7), []byte("x"))
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("got %d of %d", got.Load(), subs*n)
	}
}

func TestE2ELameDuckNotifiesClient(t *testing.T) {
	s := runServer(t, &Options{LameDuckDuration: 200 * time.Millisecond, LameDuckGracePeriod: 20 * time.Millisecond})
	ldm := make(chan struct{}, 1)
	connect(t, s.ClientURL(), nats.LameDuckModeHandler(func(*nats.Conn) { ldm <- struct{}{} }), nats.MaxReconnects(0))
	go s.LameDuck(context.Background())
	select {
	case <-ldm:
	case <-time.After(5 * time.Second):
		t.Fatal("nats.go did not see lame duck mode")
	}
}

// TestE2EReportedVersion: nats.go sees the protocol version busd speaks, with
// busd's own release after it, and reads it as 2.10.0 (what clients gate
// features on: the nats CLI's account info asks 2.10 for $SYS.REQ.USER.INFO).
func TestE2EReportedVersion(t *testing.T) {
	s := runServer(t, nil)
	nc := connect(t, s.ClientURL())
	if v := nc.ConnectedServerVersion(); v != "2.10.0+busd."+Version {
		t.Fatalf("server version %q, want 2.10.0+busd.%s", v, Version)
	}
	var major, minor, patch int
	if n, err := fmt.Sscanf(nc.ConnectedServerVersion(), "%d.%d.%d", &major, &minor, &patch); n != 3 || err != nil || major != 2 || minor != 10 || patch != 0 {
		t.Fatalf("version reads as %d.%d.%d (%v)", major, minor, patch, err)
	}
}
