package service_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dialtone-dev/dialtone"
	"github.com/dialtone-dev/dialtone/heartbeat"
	"github.com/dialtone-dev/dialtone/internal/bustest"
	"github.com/dialtone-dev/dialtone/service"
	"github.com/nats-io/nats.go"
)

func TestStopWaitsForHandlers(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		release := make(chan struct{})
		started := make(chan struct{})
		s := e.start(service.Config{Name: "slow", Version: "1.0.0"}, func(s *service.Service) {
			_ = s.AddEndpoint("Work", service.HandlerFunc(func(ctx context.Context, _ *service.Request) (*service.Response, error) {
				close(started)
				<-release
				return &service.Response{Data: []byte("finished")}, nil
			}))
		})
		beats, err := e.Client.SubscribeSync(heartbeat.Subject("slow"))
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Client.Flush(); err != nil {
			t.Fatal(err)
		}
		reply := make(chan *nats.Msg, 1)
		go func() {
			m, err := e.Client.Request("slow.Work", nil, 10*time.Second)
			if err != nil {
				t.Error(err)
			}
			reply <- m
		}()
		<-started
		stopped := make(chan error, 1)
		go func() { stopped <- s.Stop(context.Background()) }()

		// Stop announces draining and then waits for the handler.
		waitStatus(t, beats, s.ID(), heartbeat.StatusDraining)
		select {
		case err := <-stopped:
			t.Fatalf("Stop returned (%v) with a handler running", err)
		default:
		}
		close(release)
		if err := <-stopped; err != nil {
			t.Fatal(err)
		}
		if m := <-reply; m == nil || string(m.Data) != "finished" {
			t.Fatalf("in-flight request lost: %v", m)
		}
		waitStatus(t, beats, s.ID(), heartbeat.StatusStopped)
		// Out: no endpoint, no monitoring subject answers.
		if _, err := e.Client.Request("$SRV.PING.slow."+s.ID(), nil, 200*time.Millisecond); err == nil {
			t.Fatal("stopped instance answers PING")
		}
		if err := s.Stop(context.Background()); err != nil {
			t.Fatalf("second Stop: %v", err)
		}
	})
}

func waitStatus(t *testing.T, sub *nats.Subscription, id string, want heartbeat.Status) *heartbeat.Heartbeat {
	t.Helper()
	for range 1000 {
		m, err := sub.NextMsg(5 * time.Second)
		if err != nil {
			t.Fatalf("waiting for %s heartbeat: %v", want, err)
		}
		hb, err := heartbeat.Decode(m.Data)
		if err != nil {
			t.Fatal(err)
		}
		if hb.ID == id && hb.Status == want {
			return hb
		}
	}
	t.Fatalf("no %s heartbeat", want)
	return nil
}

func TestStopDeadlineCancelsHandlers(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		started := make(chan struct{})
		cancelled := make(chan error, 1)
		s := e.start(service.Config{Name: "stuck", Version: "1.0.0"}, func(s *service.Service) {
			_ = s.AddEndpoint("Work", service.HandlerFunc(func(ctx context.Context, _ *service.Request) (*service.Response, error) {
				close(started)
				<-ctx.Done()
				cancelled <- ctx.Err()
				return nil, ctx.Err()
			}))
		})
		if err := e.Client.PublishRequest("stuck.Work", nats.NewInbox(), nil); err != nil {
			t.Fatal(err)
		}
		<-started
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		err := s.Stop(ctx)
		if dialtone.CodeOf(err) != dialtone.CodeDeadlineExceeded {
			t.Fatalf("Stop = %v, want deadline_exceeded", err)
		}
		if err := <-cancelled; !errors.Is(err, context.Canceled) {
			t.Fatalf("handler ctx: %v", err)
		}
	})
}

// TestRollingRestartLosesNothing: three instances serve a client that sends
// requests without pause; each instance in turn is stopped with drain and replaced.
// No request may fail.
func TestRollingRestartLosesNothing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		var served atomic.Int64
		cfg := service.Config{Name: "roll", Version: "1.0.0"}
		setup := func(s *service.Service) {
			if err := service.Handle(s, "Echo", func(ctx context.Context, r *helloReq) (*helloResp, error) {
				served.Add(1)
				return &helloResp{Message: r.Name}, nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		newInstance := func() *service.Service {
			nc := e.Conn()
			s, err := service.New(nc, cfg, service.WithHeartbeatInterval(100*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			setup(s)
			if err := s.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			e.Reachable(s.Name(), s.ID())
			return s
		}
		instances := []*service.Service{newInstance(), newInstance(), newInstance()}

		const workers = 8
		const minRequests = 5000
		var sent, failed atomic.Int64
		var firstErr atomic.Value
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					name := string(rune('a'+w)) + "-" + time.Now().Format("150405.000000")
					data := []byte(`{"name":"` + name + `"}`)
					m, err := e.Client.Request("roll.Echo", data, 5*time.Second)
					sent.Add(1)
					if err == nil {
						if de := dialtone.ErrorFromHeader(m.Header); de != nil {
							err = de
						} else if string(m.Data) != `{"message":"`+name+`"}` {
							err = errors.New("wrong reply " + string(m.Data))
						}
					}
					if err != nil {
						failed.Add(1)
						firstErr.CompareAndSwap(nil, err)
					}
				}
			}()
		}
		waitSent := func(n int64) {
			deadline := time.Now().Add(60 * time.Second)
			for sent.Load() < n {
				if time.Now().After(deadline) {
					t.Fatalf("only %d requests sent", sent.Load())
				}
				time.Sleep(time.Millisecond) // progress of the load generator has no signal
			}
		}
		for i := range instances {
			waitSent(sent.Load() + minRequests/4)
			repl := newInstance()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := instances[i].Stop(ctx); err != nil {
				t.Fatalf("stop instance %d: %v", i, err)
			}
			cancel()
			instances[i] = repl
		}
		waitSent(minRequests + workers)
		close(stop)
		wg.Wait()
		for _, s := range instances {
			_ = s.Stop(context.Background())
		}
		t.Logf("%d requests, %d served, %d failed", sent.Load(), served.Load(), failed.Load())
		if failed.Load() != 0 {
			t.Fatalf("%d of %d requests failed; first: %v", failed.Load(), sent.Load(), firstErr.Load())
		}
		if sent.Load() < minRequests {
			t.Fatalf("only %d requests", sent.Load())
		}
	})
}

// TestStopAnswersRequestsAlreadyRouted floods a single instance and stops it in
// the middle. Every request must get an answer: a reply if the server routed it to
// the instance before processing the UNSUB, else the server's no-responders
// status. A request the server routed to the instance that the instance then
// dropped would get nothing at all.
func TestStopAnswersRequestsAlreadyRouted(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		// Client and instance on one server, so that no cluster route decides.
		client := bustest.Connect(t, e.URLs[0])
		s, err := service.New(bustest.Connect(t, e.URLs[0]), service.Config{Name: "flood", Version: "1.0.0"},
			service.WithQueueLength(32*1024))
		if err != nil {
			t.Fatal(err)
		}
		var handled atomic.Int64
		servedOne := make(chan struct{})
		_ = s.AddEndpoint("Work", service.HandlerFunc(func(ctx context.Context, r *service.Request) (*service.Response, error) {
			if handled.Add(1) == 1 {
				close(servedOne)
			}
			return &service.Response{Data: []byte("ok")}, nil
		}))
		if err := s.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		const n = 20000
		var ok, unavailable, other atomic.Int64
		all := make(chan struct{})
		inbox := nats.NewInbox()
		replies, err := client.Subscribe(inbox, func(m *nats.Msg) {
			switch {
			case string(m.Data) == "ok":
				ok.Add(1)
			case m.Header.Get("Status") == "503":
				unavailable.Add(1)
			default:
				other.Add(1)
			}
			if ok.Load()+unavailable.Load()+other.Load() == n {
				close(all)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := replies.SetPendingLimits(-1, -1); err != nil {
			t.Fatal(err)
		}
		if err := client.Flush(); err != nil {
			t.Fatal(err)
		}
		published := make(chan error, 1)
		go func() {
			for range n {
				if err := client.PublishRequest("flood.Work", inbox, nil); err != nil {
					published <- err
					return
				}
			}
			published <- client.Flush()
		}()
		// Stop mid-flood: once requests are reaching the handler, more are in
		// flight behind them (published ones may still sit in the client's buffer,
		// so "published" alone proves nothing reached the instance).
		<-servedOne
		if err := s.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := <-published; err != nil {
			t.Fatal(err)
		}
		select {
		case <-all:
		case <-time.After(10 * time.Second):
			t.Fatalf("%d replies and %d no-responders of %d requests (%d handled): the rest were lost",
				ok.Load(), unavailable.Load(), n, handled.Load())
		}
		if other.Load() != 0 {
			t.Fatalf("%d unexpected replies", other.Load())
		}
		t.Logf("%d served before the stop, %d refused by the server after it", ok.Load(), unavailable.Load())
		if ok.Load() == 0 {
			t.Fatal("nothing served")
		}
	})
}

// A slot promised to an availability probe is honoured through a drain: the
// instance stops volunteering at once, but its direct subscription stays until the
// caller's request (naming the probe's key) has been served. A slot whose caller
// went elsewhere (its release) does not hold the drain up.
func TestDrainHonoursReservations(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		s := e.start(service.Config{Name: "promise", Version: "1.0.0"}, func(s *service.Service) {
			_ = service.Handle(s, "SayHello", greeter)
		})
		beats, err := e.Client.SubscribeSync(heartbeat.Subject("promise"))
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Client.Flush(); err != nil {
			t.Fatal(err)
		}
		probe := func(key string) {
			t.Helper()
			m, err := e.Client.Request("_DT.promise.avail", []byte(`{"key":"`+key+`"}`), 5*time.Second)
			if err != nil {
				t.Fatalf("probe %s: %v", key, err)
			}
			var r struct{ ID, Inbox string }
			if err := json.Unmarshal(m.Data, &r); err != nil || r.ID != s.ID() || r.Inbox != s.Inbox() {
				t.Fatalf("probe %s answered %q (%v)", key, m.Data, err)
			}
		}
		probe("kept")
		probe("elsewhere")
		// The caller of "elsewhere" chose another instance.
		if err := e.Client.Publish("_DT.promise.avail", []byte(`{"key":"elsewhere","keep":"other"}`)); err != nil {
			t.Fatal(err)
		}

		stopped := make(chan error, 1)
		go func() { stopped <- s.Stop(context.Background()) }()
		waitStatus(t, beats, s.ID(), heartbeat.StatusDraining)

		// Draining: no new promises.
		if _, err := e.Client.Request("_DT.promise.avail", []byte(`{"key":"late"}`), 200*time.Millisecond); err == nil {
			t.Fatal("a draining instance volunteered")
		}
		select {
		case err := <-stopped:
			t.Fatalf("Stop returned (%v) with a promised slot not yet served", err)
		default:
		}
		req := &nats.Msg{Subject: s.Inbox() + ".promise.SayHello", Data: []byte(`{"name":"Ada"}`),
			Header: nats.Header{"Dialtone-Reservation": {"kept"}}}
		m, err := e.Client.RequestMsg(req, 5*time.Second)
		if err != nil {
			t.Fatalf("the promised request: %v", err)
		}
		if string(m.Data) != `{"message":"hello Ada"}` {
			t.Fatalf("reply %q", m.Data)
		}
		select {
		case err := <-stopped:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Stop did not return once the promised slot was served")
		}
	})
}
