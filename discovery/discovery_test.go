package discovery_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dialtone-dev/dialtone/discovery"
	"github.com/dialtone-dev/dialtone/heartbeat"
	"github.com/dialtone-dev/dialtone/internal/bustest"
	"github.com/dialtone-dev/dialtone/service"
	"github.com/nats-io/nats.go"
)

const interval = 100 * time.Millisecond

func startService(t *testing.T, nc *nats.Conn, name, version string, opts ...service.Option) *service.Service {
	t.Helper()
	opts = append([]service.Option{service.WithHeartbeatInterval(interval)}, opts...)
	s, err := service.New(nc, service.Config{Name: name, Version: version}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	err = s.AddEndpoint("Echo", service.HandlerFunc(func(ctx context.Context, r *service.Request) (*service.Response, error) {
		return &service.Response{Data: r.Data}, nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Stop(ctx); err != nil {
			t.Errorf("stop %s: %v", s.ID(), err)
		}
	})
	return s
}

func newRegistry(t *testing.T, nc *nats.Conn, opts ...discovery.Option) *discovery.Registry {
	t.Helper()
	r, err := discovery.New(context.Background(), nc, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// waitEvent reads events until one of type typ for instance id arrives.
func waitEvent(t *testing.T, ch <-chan discovery.Event, typ discovery.EventType, id string, within time.Duration) discovery.Event {
	t.Helper()
	timeout := time.After(within)
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatal("watch closed")
			}
			if ev.Type == typ && ev.Instance.ID == id {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %v event for %s within %v", typ, id, within)
		}
	}
}

// waitFor polls cond until it holds or the bound passes. Used where convergence
// has no single event to wait on (several registries, reconnects).
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", within, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitBeatNow returns once a "beat now" request sent on nc is answered by every
// instance in ids. Across a cluster, the instances' interest in it reaches nc's
// node asynchronously; only then can a registry there reach them all.
func waitBeatNow(t *testing.T, nc *nats.Conn, ids []string) {
	t.Helper()
	inbox := nc.NewRespInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	for range 100 {
		if err := nc.PublishRequest(heartbeat.BeatSubject, inbox, nil); err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for {
			m, err := sub.NextMsg(100 * time.Millisecond) // then ask again
			if err != nil {
				break
			}
			if h, err := heartbeat.Decode(m.Data); err == nil {
				seen[h.ID] = true
			}
			if missing := slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return seen[id] }); len(missing) == 0 {
				return
			}
		}
	}
	t.Fatalf("instances %v never all answered beat now", ids)
}

// A registry started after its services knows them when New returns, not a
// heartbeat interval (here 10s) later: New asks every instance to beat now and
// applies the replies that come within its startup wait. The wait is long here
// so that replies delayed on a loaded machine still count (by default it is
// 100ms, which replies from three nodes under -race can overrun); a reply that
// misses it is applied when it comes (TestLateBeatReplyApplied).
func TestRegistryKnowsRunningServicesAtOnce(t *testing.T) {
	const startupWait = time.Second
	for _, b := range bustest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			urls := b.Start(t)
			// Heartbeats every 10s: only the "beat now" request can make New see them.
			var ids []string
			for i := range 3 {
				s := startService(t, bustest.Connect(t, urls[i%len(urls)]), "slowbeat", "1.0.0", service.WithHeartbeatInterval(10*time.Second))
				ids = append(ids, s.ID())
			}
			other := startService(t, bustest.Connect(t, urls[0]), "other", "2.0.0", service.WithHeartbeatInterval(10*time.Second))
			nc := bustest.Connect(t, urls[len(urls)-1])
			waitBeatNow(t, nc, append(slices.Clone(ids), other.ID()))
			start := time.Now()
			reg := newRegistry(t, nc, discovery.WithStartupWait(startupWait))
			took := time.Since(start)
			got := reg.Instances("slowbeat")
			if len(got) != 3 {
				t.Fatalf("registry knows %d instances after New (%v), want 3", len(got), took)
			}
			if took < startupWait {
				t.Fatalf("New returned after %v, before its startup wait %v ended", took, startupWait)
			}
			for _, id := range ids {
				if inst, ok := reg.Instance(id); !ok || inst.Name != "slowbeat" || inst.Status != heartbeat.StatusUp {
					t.Fatalf("instance %s: %+v %v", id, inst, ok)
				}
			}
			svcs := reg.Services()
			if len(svcs) != 2 || svcs[0].Name != "other" || svcs[1].Name != "slowbeat" || svcs[1].Instances != 3 {
				t.Fatalf("services %+v", svcs)
			}
			if got := reg.Instances("other", discovery.ByVersion("2.0.0")); len(got) != 1 {
				t.Fatalf("by version: %+v", got)
			}
			if got := reg.Instances("other", discovery.ByVersion("1.0.0")); len(got) != 0 {
				t.Fatalf("by wrong version: %+v", got)
			}
		})
	}
}

// TestLateBeatReplyApplied: a reply to "beat now" that comes after New returned
// (the startup wait is a bound, not a promise that every reply is in) is applied
// when it comes, not lost until the instance's next heartbeat.
func TestLateBeatReplyApplied(t *testing.T) {
	for _, b := range bustest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			urls := b.Start(t)
			// A hand-made instance that holds its reply until the test lets it go.
			inst := bustest.Connect(t, urls[0])
			asked := make(chan *nats.Msg, 1024)
			if _, err := inst.Subscribe(heartbeat.BeatSubject, func(m *nats.Msg) { asked <- m }); err != nil {
				t.Fatal(err)
			}
			if err := inst.Flush(); err != nil {
				t.Fatal(err)
			}
			nc := bustest.Connect(t, urls[len(urls)-1])
			// Across a cluster, wait until a request from the registry's node gets there.
			const probe = "_test.probe"
			waitFor(t, 5*time.Second, "beat now reaches the instance", func() bool {
				if err := nc.PublishRequest(heartbeat.BeatSubject, probe, nil); err != nil {
					t.Fatal(err)
				}
				select {
				case <-asked:
					return true
				case <-time.After(50 * time.Millisecond):
					return false
				}
			})
			reg := newRegistry(t, nc, discovery.WithStartupWait(10*time.Millisecond))
			events := reg.Watch(t.Context())
			var req *nats.Msg
			for req == nil || req.Reply == probe { // skip the probes' late arrivals
				req = recvMsg(t, asked, "the registry's beat now")
			}
			if _, ok := reg.Instance("late"); ok {
				t.Fatal("known before it replied")
			}
			data, err := heartbeat.Encode(&heartbeat.Heartbeat{
				Schema: heartbeat.Schema, ID: "late", Name: "tardy", Version: "1.0.0", Seq: 1,
				Status: heartbeat.StatusUp, Inbox: "_DT.tardy.late", IntervalMS: 10_000,
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := req.Respond(data); err != nil {
				t.Fatal(err)
			}
			waitEvent(t, events, discovery.Joined, "late", 5*time.Second)
		})
	}
}

func recvMsg(t *testing.T, ch <-chan *nats.Msg, what string) *nats.Msg {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s within 10s", what)
		return nil
	}
}

func TestRegistryStartsFastWithoutServices(t *testing.T) {
	for _, b := range bustest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			nc := bustest.Connect(t, b.Start(t)[0])
			start := time.Now()
			reg := newRegistry(t, nc, discovery.WithStartupWait(5*time.Second))
			// The bus's no-responders answer ends the collection early.
			if took := time.Since(start); took > 4*time.Second {
				t.Fatalf("New waited %v on an empty bus", took)
			}
			if len(reg.Services()) != 0 {
				t.Fatal("services on an empty bus")
			}
		})
	}
}

func TestGracefulStopEvents(t *testing.T) {
	for _, b := range bustest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			urls := b.Start(t)
			reg := newRegistry(t, bustest.Connect(t, urls[0]))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			events := reg.Watch(ctx)
			s := startService(t, bustest.Connect(t, urls[len(urls)-1]), "graceful", "1.0.0")
			ev := waitEvent(t, events, discovery.Joined, s.ID(), 5*time.Second)
			if ev.Instance.Inbox != s.Inbox() || len(ev.Instance.Endpoints) != 1 {
				t.Fatalf("joined: %+v", ev.Instance)
			}
			stopped := make(chan error, 1)
			go func() { stopped <- s.Stop(context.Background()) }()
			waitEvent(t, events, discovery.Draining, s.ID(), 5*time.Second)
			waitEvent(t, events, discovery.Left, s.ID(), 5*time.Second)
			if err := <-stopped; err != nil {
				t.Fatal(err)
			}
			if _, ok := reg.Instance(s.ID()); ok {
				t.Fatal("left instance still listed")
			}
		})
	}
}

// TestKilledInstanceExpires: an instance whose connection drops without a drain
// disappears from every registry within 3 intervals of its last heartbeat.
func TestKilledInstanceExpires(t *testing.T) {
	for _, b := range bustest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			urls := b.Start(t)
			var regs []*discovery.Registry
			var watches []<-chan discovery.Event
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			for i := range 3 {
				r := newRegistry(t, bustest.Connect(t, urls[i%len(urls)]))
				regs = append(regs, r)
				watches = append(watches, r.Watch(ctx))
			}
			victimConn := bustest.Connect(t, urls[1%len(urls)])
			victim := startService(t, victimConn, "fragile", "1.0.0")
			// The survivor beats rarely: on a loaded machine a 100ms beat can be late
			// by 3 intervals, and its expiry would be a fair one, not what is tested.
			survivor := startService(t, bustest.Connect(t, urls[0]), "fragile", "1.0.0", service.WithHeartbeatInterval(10*time.Second))
			for _, w := range watches {
				waitEvent(t, w, discovery.Joined, victim.ID(), 5*time.Second)
			}
			victimConn.Close() // killed: no draining, no stopped heartbeat
			killed := time.Now()
			for i, w := range watches {
				ev := waitEvent(t, w, discovery.Expired, victim.ID(), 5*time.Second)
				silent := time.Since(ev.Instance.LastSeen)
				// Expired once 3 promised intervals passed since the last heartbeat,
				// which came at most one interval before the kill.
				if silent < 3*interval {
					t.Fatalf("registry %d expired after %v of silence, want >= %v", i, silent, 3*interval)
				}
				// Expiry is scheduled for the deadline (TestSweepWakesAtEarliestDeadline
				// checks the schedule); how late the event reaches this goroutine
				// depends on the machine: up to 300ms was measured with the CPUs busy
				// under -race. The bound catches a sweep on a coarse tick, not latency.
				if late := silent - 3*interval; late > time.Second {
					t.Fatalf("registry %d expired %v after the deadline", i, late)
				}
				t.Logf("registry %d: expired %v after the kill", i, time.Since(killed))
			}
			for i, r := range regs {
				if _, ok := r.Instance(victim.ID()); ok {
					t.Fatalf("registry %d still lists the victim", i)
				}
				if _, ok := r.Instance(survivor.ID()); !ok {
					t.Fatalf("registry %d lost the survivor", i)
				}
			}
		})
	}
}

// TestBusdRestartConverges: busd goes away and comes back on the same port;
// instances reconnect, resubscribe and beat again, and registries converge.
func TestBusdRestartConverges(t *testing.T) {
	bus := bustest.NewRestartableBusd(t)
	const n = 3
	var svcs []*service.Service
	for range n {
		svcs = append(svcs, startService(t, bustest.Connect(t, bus.URL()), "phoenix", "1.0.0"))
	}
	regConn := bustest.Connect(t, bus.URL())
	reg := newRegistry(t, regConn)
	other := newRegistry(t, bustest.Connect(t, bus.URL()))
	waitFor(t, 5*time.Second, "registries see all instances", func() bool {
		return len(reg.Instances("phoenix")) == n && len(other.Instances("phoenix")) == n
	})

	bus.Stop()
	// Down for longer than 3 intervals: registries (disconnected too) must not
	// invent heartbeats, and the instances expire.
	waitFor(t, 5*time.Second, "instances expire while the bus is down", func() bool {
		return len(reg.Instances("phoenix")) == 0
	})
	bus.Restart()
	restarted := time.Now()
	waitFor(t, 5*time.Second, "registries converge after restart", func() bool {
		return len(reg.Instances("phoenix")) == n && len(other.Instances("phoenix")) == n
	})
	t.Logf("converged %v after restart", time.Since(restarted))
	// And the instances serve again.
	for _, s := range svcs {
		waitFor(t, 5*time.Second, "direct call after restart", func() bool {
			m, err := regConn.Request(s.Inbox()+".phoenix.Echo", []byte("hi"), time.Second)
			return err == nil && string(m.Data) == "hi"
		})
	}
}

// TestClusterNodeKilled: the node an instance and a client are connected to dies;
// both fail over to the other nodes and calls keep being served.
func TestClusterNodeKilled(t *testing.T) {
	if !backendEnabled(t, "nats-cluster") {
		t.Skip("nats-cluster backend not selected")
	}
	urls, cluster := bustest.Cluster(t, 3)
	all := strings.Join(urls, ",")
	// The victim node is urls[0]; DontRandomize puts everyone there first.
	svcConn := bustest.Connect(t, all, nats.DontRandomize())
	s := startService(t, svcConn, "sturdy", "1.0.0")
	backup := startService(t, bustest.Connect(t, urls[2]), "sturdy", "1.0.0")
	client := bustest.Connect(t, all, nats.DontRandomize())
	reg := newRegistry(t, bustest.Connect(t, urls[1]))
	waitFor(t, 5*time.Second, "registry sees both", func() bool { return len(reg.Instances("sturdy")) == 2 })
	if _, err := client.Request("sturdy.Echo", []byte("x"), 5*time.Second); err != nil {
		t.Fatal(err)
	}

	cluster.Kill(0)
	// Balanced calls keep working once the client reconnected.
	waitFor(t, 5*time.Second, "client fails over", func() bool {
		m, err := client.Request("sturdy.Echo", []byte("y"), time.Second)
		return err == nil && string(m.Data) == "y"
	})
	// The instance on the dead node fails over too and serves direct calls.
	waitFor(t, 5*time.Second, "instance fails over", func() bool {
		m, err := client.Request(s.Inbox()+".sturdy.Echo", []byte("z"), time.Second)
		return err == nil && string(m.Data) == "z"
	})
	for range 50 {
		if _, err := client.Request("sturdy.Echo", []byte("w"), 5*time.Second); err != nil {
			t.Fatalf("after failover: %v", err)
		}
	}
	if _, ok := reg.Instance(s.ID()); !ok {
		t.Fatal("registry lost the failed-over instance")
	}
	if _, ok := reg.Instance(backup.ID()); !ok {
		t.Fatal("registry lost the backup")
	}
}

func backendEnabled(t *testing.T, name string) bool {
	for _, b := range bustest.Backends(t) {
		if b.Name == name {
			return true
		}
	}
	return false
}

// TestRegistryAsksAgainAfterReconnect: an instance that started while the registry
// was disconnected is known as soon as the registry is back, not a heartbeat
// interval (here 10s) later.
func TestRegistryAsksAgainAfterReconnect(t *testing.T) {
	bus := bustest.NewRestartableBusd(t)
	reconnected := make(chan struct{}, 1)
	regConn := bustest.Connect(t, bus.URL(), nats.ReconnectWait(300*time.Millisecond),
		nats.ReconnectJitter(0, 0), nats.ReconnectHandler(func(*nats.Conn) { reconnected <- struct{}{} }))
	reg := newRegistry(t, regConn)
	bus.Restart()
	// The registry is still reconnecting: this instance's first heartbeat is lost to it.
	s := startService(t, bustest.Connect(t, bus.URL()), "latecomer", "1.0.0", service.WithHeartbeatInterval(10*time.Second))
	select {
	case <-reconnected:
	case <-time.After(10 * time.Second):
		t.Fatal("registry did not reconnect")
	}
	waitFor(t, 3*time.Second, "registry learns the instance after reconnecting", func() bool {
		_, ok := reg.Instance(s.ID())
		return ok
	})
}
