package rpc_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/dialtone-dev/dialtone"
	"github.com/dialtone-dev/dialtone/discovery"
	"github.com/dialtone-dev/dialtone/internal/bustest"
	"github.com/dialtone-dev/dialtone/rpc"
	"github.com/dialtone-dev/dialtone/service"
)

// startGreeter runs a real greeter instance on url whose SayHello answers with the
// instance id, and waits until a client on client sees all of its subscriptions.
func startGreeter(t *testing.T, url string, client *nats.Conn, fn func(ctx context.Context, req *helloReq) (*helloResp, error), opts ...service.Option) *service.Service {
	t.Helper()
	nc := bustest.Connect(t, url)
	svc, err := service.New(nc, service.Config{Name: "greeter", Version: "1.0.0"}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if fn == nil {
		fn = func(ctx context.Context, req *helloReq) (*helloResp, error) {
			return &helloResp{Greeting: "hello " + req.Name, From: svc.ID()}, nil
		}
	}
	if err := service.Handle(svc, "SayHello", fn); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = svc.Stop(ctx)
	})
	// The service subscribes its monitoring subjects last.
	waitInterest(t, client, "$SRV.PING.greeter."+svc.ID())
	return svc
}

func TestServicePatterns(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		nc := connect(t, b.clientURL())
		s1 := startGreeter(t, b.instanceURL(0), nc, nil)
		s2 := startGreeter(t, b.instanceURL(1), nc, nil)
		c := rpc.NewClient(nc)
		ids := map[string]bool{s1.ID(): true, s2.ID(): true}
		for _, tc := range []struct {
			name string
			opt  rpc.CallOption
			want string // instance id, or "" for any
		}{
			{"balanced", rpc.Balanced(), ""},
			{"lowest latency", rpc.LowestLatency(), ""},
			{"available", rpc.Available(), ""},
			{"direct 1", rpc.Direct(s1.ID()), s1.ID()},
			{"direct 2", rpc.Direct(s2.ID()), s2.ID()},
		} {
			t.Run(tc.name, func(t *testing.T) {
				resp, err := rpc.Call(context.Background(), c, sayHello, &helloReq{Name: "Ada"}, tc.opt)
				if err != nil {
					t.Fatal(err)
				}
				if resp.Greeting != "hello Ada" || !ids[resp.From] || (tc.want != "" && resp.From != tc.want) {
					t.Fatalf("resp = %+v, want from %q", resp, tc.want)
				}
			})
		}
	})
}

// TestDirectFromDiscovery calls every instance a discovery registry lists, by id.
func TestDirectFromDiscovery(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		nc := connect(t, b.clientURL())
		want := map[string]bool{}
		for i := 0; i < 3; i++ {
			want[startGreeter(t, b.instanceURL(i), nc, nil).ID()] = true
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		reg, err := discovery.New(ctx, nc)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = reg.Close() })
		// Heartbeats arrive in their own time: watch until all three are known.
		seen := map[string]bool{}
		for ev := range reg.Watch(ctx) {
			if ev.Type == discovery.Joined && want[ev.Instance.ID] {
				seen[ev.Instance.ID] = true
			}
			if len(seen) == len(want) {
				break
			}
		}
		if len(seen) != len(want) {
			t.Fatalf("registry saw %d of %d instances", len(seen), len(want))
		}
		c := rpc.NewClient(nc)
		for _, inst := range reg.Instances("greeter") {
			resp, err := rpc.Call(ctx, c, sayHello, &helloReq{Name: "Ada"}, rpc.Direct(inst.ID))
			if err != nil {
				t.Fatal(err)
			}
			if resp.From != inst.ID {
				t.Fatalf("direct call to %s answered by %s", inst.ID, resp.From)
			}
		}
	})
}

// TestPlainNATSRequest is what `nats req` or a client in another language does:
// JSON bytes, no headers at all.
func TestPlainNATSRequest(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		nc := connect(t, b.clientURL())
		startGreeter(t, b.instanceURL(0), nc, nil)
		m, err := nc.Request("greeter.SayHello", []byte(`{"name":"Ada"}`), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var resp helloResp
		if err := rpc.NewClient(nc).Decode(sayHello.Spec(), m, &resp); err != nil || resp.Greeting != "hello Ada" {
			t.Fatalf("reply %q: %+v, %v", m.Data, resp, err)
		}
	})
}

func TestServiceErrorsAndValidation(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		nc := connect(t, b.clientURL())
		startGreeter(t, b.instanceURL(0), nc, func(ctx context.Context, req *helloReq) (*helloResp, error) {
			switch req.Name {
			case "nobody":
				return nil, dialtone.Errorf(dialtone.CodeNotFound, "no such person")
			case "panic":
				panic("boom")
			}
			return &helloResp{Greeting: "hello " + req.Name}, nil
		})
		c := rpc.NewClient(nc)

		_, err := rpc.Call(context.Background(), c, sayHello, &helloReq{Name: "nobody"})
		if de := expectCode(t, err, dialtone.CodeNotFound); de.Message() != "no such person" {
			t.Fatalf("message = %q", de.Message())
		}
		_, err = rpc.Call(context.Background(), c, sayHello, &helloReq{Name: "panic"})
		if de := expectCode(t, err, dialtone.CodeInternal); de.Message() != "internal error" {
			t.Fatalf("message = %q", de.Message())
		}

		// The service validates again: a request that skips the client's check (raw
		// bytes, as another language might send) is refused with the fields.
		_, err = c.CallRaw(context.Background(), sayHello.Spec(), []byte(`{"age":200}`), nil)
		de := expectCode(t, err, dialtone.CodeInvalidArgument)
		fields, _ := de.Details()["fields"].(map[string]any)
		if fields["name"] != "required" || fields["age"] != "lte" {
			t.Fatalf("details = %v, want name: required and age: lte", de.Details())
		}
	})
}

func TestServiceDeadline(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		nc := connect(t, b.clientURL())
		type seen struct {
			left time.Duration
			err  error
		}
		got := make(chan seen, 1)
		startGreeter(t, b.instanceURL(0), nc, func(ctx context.Context, req *helloReq) (*helloResp, error) {
			dl, ok := ctx.Deadline()
			if !ok {
				got <- seen{}
				return nil, errors.New("no deadline")
			}
			left := time.Until(dl)
			<-ctx.Done() // the caller is gone: stop working
			got <- seen{left, ctx.Err()}
			return nil, ctx.Err()
		})
		const budget = 300 * time.Millisecond
		ctx, cancel := context.WithTimeout(context.Background(), budget)
		defer cancel()
		_, err := rpc.Call(ctx, rpc.NewClient(nc), sayHello, &helloReq{Name: "Ada"})
		expectCode(t, err, dialtone.CodeDeadlineExceeded)
		s := recv(t, got, "the handler")
		if s.left <= 0 || s.left > budget {
			t.Fatalf("handler deadline %v ahead, want in (0, %v]", s.left, budget)
		}
		if !errors.Is(s.err, context.DeadlineExceeded) {
			t.Fatalf("handler ctx ended with %v", s.err)
		}
	})
}

// TestServiceBackPressure saturates a one-slot instance: availability calls are
// refused at once instead of queueing, and a retrying caller gets through once the
// slot is free.
func TestServiceBackPressure(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		nc := connect(t, b.clientURL())
		started := make(chan struct{})
		release := make(chan struct{})
		startGreeter(t, b.instanceURL(0), nc, func(ctx context.Context, req *helloReq) (*helloResp, error) {
			if req.Name == "block" {
				close(started)
				<-release
			}
			return &helloResp{Greeting: "hello " + req.Name}, nil
		}, service.WithMaxConcurrent(1))
		c := rpc.NewClient(nc, rpc.WithAvailabilityTimeout(50*time.Millisecond))

		blocked := make(chan error, 1)
		go func() {
			_, err := rpc.Call(context.Background(), c, sayHello, &helloReq{Name: "block"}, rpc.Available())
			blocked <- err
		}()
		recv(t, started, "the blocking call to start")

		_, err := rpc.Call(context.Background(), c, sayHello, &helloReq{Name: "Ada"}, rpc.Available())
		expectCode(t, err, dialtone.CodeUnavailable)

		// Retry: watch the probes; once the retrying call has probed twice (so its
		// first attempt was refused), free the slot; a later attempt gets through.
		probes := make(chan struct{}, 64)
		if _, err := nc.Subscribe("_DT.greeter.avail", func(m *nats.Msg) {
			if m.Reply != "" { // a probe; releases carry no reply
				probes <- struct{}{}
			}
		}); err != nil {
			t.Fatal(err)
		}
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
		c2 := rpc.NewClient(nc, rpc.WithAvailabilityTimeout(50*time.Millisecond),
			rpc.WithDefaultCallOptions(rpc.Available()))
		ctx := rpc.WithCallOptions(context.Background(), rpc.Retry(rpc.RetryPolicy{MaxAttempts: 50, InitialBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond}))
		done := make(chan error, 1)
		go func() {
			resp, err := rpc.Call(ctx, c2, sayHello, &helloReq{Name: "Bo"})
			if err == nil && resp.Greeting != "hello Bo" {
				err = errors.New("wrong reply " + resp.Greeting)
			}
			done <- err
		}()
		recv(t, probes, "the first probe")
		recv(t, probes, "the second probe")
		close(release)
		if err := recv(t, blocked, "the blocking call"); err != nil {
			t.Fatal(err)
		}
		if err := recv(t, done, "the retrying call"); err != nil {
			t.Fatalf("retrying call: %v", err)
		}
	})
}

// TestAvailabilityReleasesUnusedSlots: every free instance reserves a slot when
// it answers a probe, but the call goes to one of them; the others get their slot
// back at once, so a second caller finds the idle instance instead of waiting a
// second for unused reservations to expire.
func TestAvailabilityReleasesUnusedSlots(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		nc := connect(t, b.clientURL())
		started := make(chan string, 2)
		release := make(chan struct{})
		t.Cleanup(func() { close(release) })
		for i := 0; i < 2; i++ {
			var svc *service.Service
			svc = startGreeter(t, b.instanceURL(i), nc, func(ctx context.Context, req *helloReq) (*helloResp, error) {
				if req.Name == "block" {
					started <- svc.ID()
					<-release
				}
				return &helloResp{Greeting: "hello " + req.Name, From: svc.ID()}, nil
			}, service.WithMaxConcurrent(1))
		}
		// A generous probe bound: only a held reservation, not a slow answer, may fail the call.
		c := rpc.NewClient(nc, rpc.WithAvailabilityTimeout(2*time.Second))
		go func() {
			_, _ = rpc.Call(context.Background(), c, sayHello, &helloReq{Name: "block"}, rpc.Available())
		}()
		busy := recv(t, started, "the blocking call to start")
		resp, err := rpc.Call(context.Background(), c, sayHello, &helloReq{Name: "Ada"}, rpc.Available())
		if err != nil {
			t.Fatalf("second call with one instance idle: %v", err)
		}
		if resp.From == busy {
			t.Fatalf("second call went to the busy instance %s", busy)
		}
	})
}

// spanWaiter is a span processor that hands each ended span to a channel, so a
// test can wait for the server span without sleeping.
type spanWaiter struct{ ended chan sdktrace.ReadOnlySpan }

func (w spanWaiter) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (w spanWaiter) OnEnd(s sdktrace.ReadOnlySpan)                   { w.ended <- s }
func (w spanWaiter) Shutdown(context.Context) error                  { return nil }
func (w spanWaiter) ForceFlush(context.Context) error                { return nil }

func TestServiceTraceLinkage(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		exp := tracetest.NewInMemoryExporter()
		waiter := spanWaiter{ended: make(chan sdktrace.ReadOnlySpan, 16)}
		tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithSpanProcessor(waiter))
		t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })

		nc := connect(t, b.clientURL())
		startGreeter(t, b.instanceURL(0), nc, nil,
			service.WithTracerProvider(tp), service.WithPropagator(propagation.TraceContext{}))
		c := rpc.NewClient(nc, rpc.WithTracerProvider(tp))

		if _, err := rpc.Call(context.Background(), c, sayHello, &helloReq{Name: "Ada"}); err != nil {
			t.Fatal(err)
		}
		recv(t, waiter.ended, "a span")
		recv(t, waiter.ended, "a span")

		spans := exp.GetSpans()
		var client, server *tracetest.SpanStub
		for i := range spans {
			switch spans[i].SpanKind {
			case trace.SpanKindClient:
				client = &spans[i]
			case trace.SpanKindServer:
				server = &spans[i]
			}
		}
		if client == nil || server == nil {
			t.Fatalf("spans = %d, want a client and a server span", len(spans))
		}
		if client.Name != "greeter.SayHello" {
			t.Fatalf("client span name %q", client.Name)
		}
		if server.Parent.SpanID() != client.SpanContext.SpanID() || server.SpanContext.TraceID() != client.SpanContext.TraceID() {
			t.Fatalf("server span parent %v, want the client span %v", server.Parent, client.SpanContext)
		}
		if !server.Parent.IsRemote() {
			t.Fatal("server span's parent is not remote")
		}
	})
}
