package discovery_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dialtone-dev/dialtone/discovery"
	"github.com/dialtone-dev/dialtone/internal/bustest"
	"github.com/dialtone-dev/dialtone/service"
	"github.com/nats-io/nats.go"
)

// An instance whose connection dies is expired when the bus announces the
// disconnect, long before 3 heartbeat intervals: on busd and on nats-server
// given the same accounts configuration, where APP imports its own
// disconnect events from the system account.

const disconnectsConf = `
accounts {
  SYS: {
    users: [ {user: sys, password: pw} ]
    exports: [ {stream: "$SYS.ACCOUNT.*.DISCONNECT"} ]
  }
  APP: {
    users: [ {user: app, password: pw} ]
    imports: [ {stream: {account: SYS, subject: "$SYS.ACCOUNT.APP.DISCONNECT"}} ]
  }
}
system_account: SYS
`

// fastExpiry is the target the issue sets: an instance with a 1s heartbeat
// interval is gone within 100ms of its connection closing. The tests log the
// figure against it; what they assert is the cause (expectEventExpiry), because
// the latency is a scheduling figure: 1-45ms measured under -race with the CPUs
// busy, but once 330ms, which a timed assertion would report as a failure.
const (
	fastExpiry     = 100 * time.Millisecond
	slowHBInterval = time.Second
)

// expectEventExpiry reads the instance's Expired event and fails unless the
// disconnect event caused it: it must come before the instance's heartbeat
// deadline (3 intervals after its last heartbeat), before which the sweep
// expires nothing.
func expectEventExpiry(t *testing.T, name string, events <-chan discovery.Event, id string, since time.Time) {
	t.Helper()
	ev := waitEvent(t, events, discovery.Expired, id, 5*time.Second)
	now := time.Now()
	took := now.Sub(since)
	if !now.Before(ev.Instance.ExpiresAt()) {
		t.Fatalf("%s: expired %v after the connection closed, not before its heartbeat deadline: the disconnect event did not do it", name, took)
	}
	t.Logf("%s: expired %v after the connection closed (target %v), %v before its heartbeat deadline", name, took, fastExpiry, ev.Instance.ExpiresAt().Sub(now))
}

func withUser(url, user string) string {
	return strings.Replace(url, "nats://", "nats://"+user+":pw@", 1)
}

// connCapture is a dialer that remembers the connection, so the test can cut
// it as a crash would.
type connCapture struct {
	mu   sync.Mutex
	conn net.Conn
}

func (c *connCapture) Dial(network, addr string) (net.Conn, error) {
	conn, err := net.Dial(network, addr)
	c.mu.Lock()
	c.conn = conn
	c.mu.Unlock()
	return conn, err
}

func (c *connCapture) cut() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if tc, ok := c.conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0) // a reset, as a killed process leaves
	}
	_ = c.conn.Close()
}

// startInstance starts a service with a 1s heartbeat interval on its own
// connection, which the returned capture can cut.
func startInstance(t *testing.T, url string) (*service.Service, *connCapture) {
	t.Helper()
	capture := &connCapture{}
	nc, err := nats.Connect(url, nats.SetCustomDialer(capture), nats.NoReconnect(),
		nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	s, err := service.New(nc, service.Config{Name: "victim", Version: "1.0.0"}, service.WithHeartbeatInterval(slowHBInterval))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s, capture
}

func TestDisconnectExpiresInstance(t *testing.T) {
	for _, b := range bustest.ConfigBackends(t, disconnectsConf) {
		t.Run(b.Name, func(t *testing.T) {
			url := b.Start(t)[0]
			reg := newRegistry(t, bustest.Connect(t, withUser(url, "app")))
			events := reg.Watch(t.Context())
			s, capture := startInstance(t, withUser(url, "app"))
			waitEvent(t, events, discovery.Joined, s.ID(), 5*time.Second)
			inst, _ := reg.Instance(s.ID())
			if inst.ServerID == "" || inst.ClientID == 0 {
				t.Fatalf("the heartbeat does not name its connection: %+v", inst.Heartbeat)
			}

			start := time.Now()
			capture.cut()
			expectEventExpiry(t, b.Name, events, s.ID(), start)
		})
	}
}

// TestDisconnectEventsOff: without the events (turned off, or in an account
// that does not import them) expiry falls back to heartbeats.
func TestDisconnectEventsOff(t *testing.T) {
	for _, b := range bustest.ConfigBackends(t, disconnectsConf) {
		t.Run(b.Name, func(t *testing.T) {
			url := b.Start(t)[0]
			reg := newRegistry(t, bustest.Connect(t, withUser(url, "app")), discovery.WithDisconnectEvents(false))
			events := reg.Watch(t.Context())
			s, capture := startInstance(t, withUser(url, "app"))
			waitEvent(t, events, discovery.Joined, s.ID(), 5*time.Second)
			capture.cut()
			// A second connection's open and close proves the bus had time to
			// announce the first one's: the registry, not listening, still has it.
			other := bustest.Connect(t, withUser(url, "app"))
			other.Close()
			time.Sleep(2 * fastExpiry) // the event would have come; heartbeats take 3s
			if _, ok := reg.Instance(s.ID()); !ok {
				t.Fatal("the instance expired without disconnect events, before 3 heartbeat intervals")
			}
			waitEvent(t, events, discovery.Expired, s.ID(), 5*time.Second)
		})
	}
}

// TestDisconnectKill9 kills a process running an instance with SIGKILL: the
// registry reports it expired on the bus's disconnect event, seconds before its
// heartbeats would have (the time it took is logged against the 100ms target).
func TestDisconnectKill9(t *testing.T) {
	if os.Getenv("DIALTONE_HELPER_URL") != "" {
		t.Skip("in the helper process")
	}
	for _, b := range bustest.ConfigBackends(t, disconnectsConf) {
		t.Run(b.Name, func(t *testing.T) {
			url := b.Start(t)[0]
			reg := newRegistry(t, bustest.Connect(t, withUser(url, "app")))
			events := reg.Watch(t.Context())

			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperInstanceProcess$", "-test.count=1")
			cmd.Env = append(os.Environ(), "DIALTONE_HELPER_URL="+withUser(url, "app"))
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
			id := ""
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if f := strings.Fields(sc.Text()); len(f) == 2 && f[0] == "INSTANCE" {
					id = f[1]
					break
				}
			}
			if id == "" {
				t.Fatal("the helper process did not start its instance")
			}
			waitEvent(t, events, discovery.Joined, id, 5*time.Second)

			start := time.Now()
			if err := cmd.Process.Kill(); err != nil { // SIGKILL
				t.Fatal(err)
			}
			expectEventExpiry(t, b.Name+" kill -9", events, id, start)
		})
	}
}

// TestHelperInstanceProcess is the process TestDisconnectKill9 kills.
func TestHelperInstanceProcess(t *testing.T) {
	url := os.Getenv("DIALTONE_HELPER_URL")
	if url == "" {
		t.Skip("started by TestDisconnectKill9 only")
	}
	nc, err := nats.Connect(url, nats.NoReconnect())
	if err != nil {
		t.Fatal(err)
	}
	s, err := service.New(nc, service.Config{Name: "victim", Version: "1.0.0"}, service.WithHeartbeatInterval(slowHBInterval))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("INSTANCE %s\n", s.ID())
	<-time.After(time.Minute) // until killed; bounded should the parent die first
}

// TestDisconnectEventsNotInGlobal: in the global account no server event can
// arrive, so the registry does not listen, and a forged event expires nothing.
func TestDisconnectEventsNotInGlobal(t *testing.T) {
	for _, b := range bustest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			url := b.Start(t)[0]
			nc := bustest.Connect(t, url)
			reg := newRegistry(t, nc)
			events := reg.Watch(t.Context())
			// A 1s interval: a 100ms one can fall 3 intervals behind on a loaded
			// machine, and its fair expiry would look like a believed forgery.
			s := startService(t, bustest.Connect(t, url), "steady", "1.0.0", service.WithHeartbeatInterval(time.Second))
			waitEvent(t, events, discovery.Joined, s.ID(), 5*time.Second)
			inst, _ := reg.Instance(s.ID())
			forged := fmt.Sprintf(`{"type":"io.nats.server.advisory.v1.client_disconnect","server":{"id":%q},"client":{"id":%d}}`, inst.ServerID, inst.ClientID)
			if err := nc.Publish("$SYS.ACCOUNT.$G.DISCONNECT", []byte(forged)); err != nil {
				t.Fatal(err)
			}
			if err := nc.Flush(); err != nil {
				t.Fatal(err)
			}
			// A heartbeat later the instance is still there and never left:
			// no Expired (nor a second Joined) event in between.
			waitFor(t, 5*time.Second, "a later heartbeat", func() bool {
				i, ok := reg.Instance(s.ID())
				return ok && i.Seq > inst.Seq
			})
			for {
				select {
				case ev := <-events:
					if ev.Instance.ID == s.ID() && (ev.Type == discovery.Expired || ev.Type == discovery.Joined) {
						t.Fatalf("the forged disconnect event was believed: %v", ev.Type)
					}
					continue
				case <-time.After(100 * time.Millisecond): // the watcher has delivered what it had
				}
				break
			}
		})
	}
}
