package service_test

import (
	"context"
	"encoding/json"
	"strings"
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

func TestRejectsBadNamesAtRegistration(t *testing.T) {
	nc := bustest.Connect(t, bustest.Backends(t)[0].Start(t)[0])
	for _, cfg := range []service.Config{
		{Name: "", Version: "1.0.0"},
		{Name: "a.b", Version: "1.0.0"},
		{Name: "a b", Version: "1.0.0"},
		{Name: "a*", Version: "1.0.0"},
		{Name: "ok", Version: "1"},
		{Name: "ok", Version: "1.02.0"},
		{Name: "ok", Version: "1.0.0-"},
		{Name: "ok", Version: "1.0.0", QueueGroup: "q.>"},
	} {
		if _, err := service.New(nc, cfg); dialtone.CodeOf(err) != dialtone.CodeInvalidArgument {
			t.Errorf("New(%+v) = %v, want invalid_argument", cfg, err)
		}
	}
	s, err := service.New(nc, service.Config{Name: "svc", Version: "1.2.3-rc.1+build.5"})
	if err != nil {
		t.Fatal(err)
	}
	h := service.HandlerFunc(func(context.Context, *service.Request) (*service.Response, error) { return nil, nil })
	for _, name := range []string{"", "a.b", "with space", ">", "*"} {
		if err := s.AddEndpoint(name, h); dialtone.CodeOf(err) != dialtone.CodeInvalidArgument || !strings.Contains(err.Error(), "endpoint name") {
			t.Errorf("AddEndpoint(%q) = %v", name, err)
		}
	}
	for _, subj := range []string{"a..b", "a.*", "a.>", ".a", "a b"} {
		if err := s.AddEndpoint("x", h, service.WithSubject(subj)); dialtone.CodeOf(err) != dialtone.CodeInvalidArgument {
			t.Errorf("WithSubject(%q) = %v", subj, err)
		}
	}
	if err := s.AddGroup("bad.group").AddEndpoint("x", h); dialtone.CodeOf(err) != dialtone.CodeInvalidArgument {
		t.Errorf("bad group accepted: %v", err)
	}
	if err := s.AddEndpoint("x", h); err != nil {
		t.Fatal(err)
	}
	if err := s.AddEndpoint("x", h); dialtone.CodeOf(err) != dialtone.CodeAlreadyExists {
		t.Errorf("duplicate endpoint: %v", err)
	}
	if err := s.AddEndpoint("y", h, service.WithSubject("svc.x")); dialtone.CodeOf(err) != dialtone.CodeAlreadyExists {
		t.Errorf("duplicate subject: %v", err)
	}
}

func TestEndpoints(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		s := e.start(service.Config{Name: "greeter", Version: "1.0.0"}, func(s *service.Service) {
			if err := service.Handle(s, "SayHello", greeter); err != nil {
				t.Fatal(err)
			}
			g := s.AddGroup("v2")
			if err := service.Handle(g, "Hi", greeter); err != nil {
				t.Fatal(err)
			}
			if err := service.Handle(s, "Custom", greeter, service.WithSubject("custom.hello")); err != nil {
				t.Fatal(err)
			}
		})

		for _, subj := range []string{"greeter.SayHello", "greeter.v2.Hi", "custom.hello",
			"_DT.greeter.all.greeter.SayHello", "_DT.greeter." + s.ID() + ".greeter.v2.Hi"} {
			m, derr := call(t, e.Client, subj, helloReq{Name: "ann"}, nil)
			if derr != nil {
				t.Fatalf("%s: %v", subj, derr)
			}
			var r helloResp
			if err := json.Unmarshal(m.Data, &r); err != nil || r.Message != "hello ann" {
				t.Fatalf("%s: reply %q %v", subj, m.Data, err)
			}
			if m.Header.Get(dialtone.HeaderErrorCode) != "" {
				t.Fatalf("%s: success with error header", subj)
			}
		}

		_, derr := call(t, e.Client, "greeter.SayHello", helloReq{}, nil)
		if derr == nil || derr.Code() != dialtone.CodeInvalidArgument {
			t.Fatalf("validation: %v", derr)
		}
		if f, _ := derr.Details()["fields"].(map[string]any); f["name"] != "required" {
			t.Fatalf("validation details: %v", derr.Details())
		}
		m, err := e.Client.Request("greeter.SayHello", []byte("{not json"), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if de := dialtone.ErrorFromHeader(m.Header); de == nil || de.Code() != dialtone.CodeInvalidArgument || len(m.Data) != 0 {
			t.Fatalf("bad payload: %v %q", de, m.Data)
		}
		if _, derr := call(t, e.Client, "greeter.SayHello", helloReq{Name: "missing"}, nil); derr == nil ||
			derr.Code() != dialtone.CodeNotFound || derr.Message() != "no such person" {
			t.Fatalf("handler error: %v", derr)
		}
		// An error that is not a *dialtone.Error is unknown, with its text as the message.
		if _, derr := call(t, e.Client, "greeter.SayHello", helloReq{Name: "plain"}, nil); derr == nil ||
			derr.Code() != dialtone.CodeUnknown || derr.Message() != "plain failure" {
			t.Fatalf("plain error: %v", derr)
		}
		// A panic answers internal error and the instance keeps serving.
		if _, derr := call(t, e.Client, "greeter.SayHello", helloReq{Name: "panic"}, nil); derr == nil ||
			derr.Code() != dialtone.CodeInternal || derr.Message() != "internal error" {
			t.Fatalf("panic: %v", derr)
		}
		if _, derr := call(t, e.Client, "greeter.SayHello", helloReq{Name: "bob"}, nil); derr != nil {
			t.Fatalf("after panic: %v", derr)
		}
		hdr := nats.Header{}
		hdr.Set(dialtone.HeaderContentType, "application/protobuf")
		if _, derr := call(t, e.Client, "greeter.SayHello", helloReq{Name: "bob"}, hdr); derr == nil || derr.Code() != dialtone.CodeInvalidArgument {
			t.Fatalf("foreign content type: %v", derr)
		}
		if _, derr := call(t, e.Client, "_DT.greeter.all.nope", helloReq{Name: "bob"}, nil); derr == nil || derr.Code() != dialtone.CodeUnimplemented {
			t.Fatalf("unknown subject: %v", derr)
		}
	})
}

func TestEndpointAddedAfterStart(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		s := e.start(service.Config{Name: "late", Version: "1.0.0"}, nil)
		if err := service.Handle(s, "Hello", greeter); err != nil {
			t.Fatal(err)
		}
		// Across a cluster the new interest travels asynchronously; direct calls to the
		// instance's wildcard subject work at once.
		if _, derr := call(t, e.Client, s.Inbox()+".late.Hello", helloReq{Name: "x"}, nil); derr != nil {
			t.Fatal(derr)
		}
		if got := len(s.Info().Endpoints); got != 1 {
			t.Fatalf("endpoints = %d", got)
		}
	})
}

func TestConcurrencyLimit(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		const limit = 4
		var running, peak atomic.Int64
		release := make(chan struct{})
		arrived := make(chan struct{}, 16)
		e.start(service.Config{Name: "busy", Version: "1.0.0"}, func(s *service.Service) {
			h := service.HandlerFunc(func(ctx context.Context, _ *service.Request) (*service.Response, error) {
				n := running.Add(1)
				for {
					p := peak.Load()
					if n <= p || peak.CompareAndSwap(p, n) {
						break
					}
				}
				arrived <- struct{}{}
				<-release
				running.Add(-1)
				return &service.Response{Data: []byte("ok")}, nil
			})
			// Two endpoints share the one per-instance limit.
			if err := s.AddEndpoint("A", h); err != nil {
				t.Fatal(err)
			}
			if err := s.AddEndpoint("B", h); err != nil {
				t.Fatal(err)
			}
		}, service.WithMaxConcurrent(limit))

		const total = 10
		var wg sync.WaitGroup
		errs := make(chan error, total)
		for i := range total {
			wg.Add(1)
			go func() {
				defer wg.Done()
				subj := "busy.A"
				if i%2 == 1 {
					subj = "busy.B"
				}
				m, err := e.Client.Request(subj, nil, 10*time.Second)
				if err == nil && string(m.Data) != "ok" {
					err = dialtone.ErrorFromHeader(m.Header)
				}
				errs <- err
			}()
		}
		// The first `limit` handlers run together: one endpoint does not serialise.
		for range limit {
			select {
			case <-arrived:
			case <-time.After(10 * time.Second):
				t.Fatalf("only %d handlers running, want %d", running.Load(), limit)
			}
		}
		// The rest wait for a slot: check the load the instance reports. The
		// waiting requests reach the instance in their own time, so ask until all
		// of them are counted as queued.
		deadline := time.Now().Add(10 * time.Second)
		for {
			m, err := e.Client.Request("_DT.beat", nil, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			hb, err := heartbeat.Decode(m.Data)
			if err != nil {
				t.Fatal(err)
			}
			if hb.Load.InFlight != limit || hb.Load.Capacity != limit || hb.Load.Queued > total-limit {
				t.Fatalf("load = %+v, want %d in flight of %d, at most %d queued", hb.Load, limit, limit, total-limit)
			}
			if hb.Load.Queued == total-limit {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("load = %+v after 10s, want %d queued", hb.Load, total-limit)
			}
			time.Sleep(5 * time.Millisecond)
		}
		close(release)
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if peak.Load() != limit {
			t.Fatalf("peak concurrency %d, want %d", peak.Load(), limit)
		}
	})
}

func TestQueueGroups(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		var hits [3]atomic.Int64
		mk := func(i int, opts ...service.EndpointOption) func(*service.Service) {
			return func(s *service.Service) {
				err := s.AddEndpoint("Work", service.HandlerFunc(func(context.Context, *service.Request) (*service.Response, error) {
					hits[i].Add(1)
					return nil, nil
				}), opts...)
				if err != nil {
					t.Fatal(err)
				}
			}
		}
		e.start(service.Config{Name: "pool", Version: "1.0.0"}, mk(0))
		e.start(service.Config{Name: "pool", Version: "1.0.0"}, mk(1))
		// Its own queue group: it sees every request too.
		e.start(service.Config{Name: "pool", Version: "1.0.0"}, mk(2, service.WithQueueGroup("audit")))
		const n = 200
		for range n {
			if _, err := e.Client.Request("pool.Work", nil, 5*time.Second); err != nil {
				t.Fatal(err)
			}
		}
		// Replies come from the first responder; flush the audit instance's count by
		// waiting until it has seen all n (bounded).
		deadline := time.Now().Add(5 * time.Second)
		for hits[0].Load()+hits[1].Load() < n || hits[2].Load() < n {
			if time.Now().After(deadline) {
				t.Fatalf("hits = %d %d %d", hits[0].Load(), hits[1].Load(), hits[2].Load())
			}
			time.Sleep(time.Millisecond)
		}
		if hits[0].Load() == 0 || hits[1].Load() == 0 {
			t.Fatalf("queue group did not share: %d %d", hits[0].Load(), hits[1].Load())
		}
		if hits[0].Load()+hits[1].Load() != n {
			t.Fatalf("shared group served %d, want %d", hits[0].Load()+hits[1].Load(), n)
		}
	})
}

func TestDeadlineFromHeader(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		got := make(chan time.Duration, 2)
		e.start(service.Config{Name: "dl", Version: "1.0.0"}, func(s *service.Service) {
			_ = s.AddEndpoint("Wait", service.HandlerFunc(func(ctx context.Context, _ *service.Request) (*service.Response, error) {
				d, ok := ctx.Deadline()
				if !ok {
					got <- -1
					return nil, nil
				}
				got <- time.Until(d)
				<-ctx.Done()
				return nil, ctx.Err()
			}))
		})
		if _, err := e.Client.Request("dl.Wait", nil, 5*time.Second); err != nil {
			t.Fatal(err)
		}
		if d := <-got; d != -1 {
			t.Fatalf("deadline without header: %v", d)
		}
		hdr := nats.Header{}
		dialtone.SetTimeoutHeader(hdr, 300*time.Millisecond)
		_, derr := call(t, e.Client, "dl.Wait", nil, hdr)
		if d := <-got; d <= 0 || d > 300*time.Millisecond {
			t.Fatalf("deadline = %v, want within 300ms", d)
		}
		if derr == nil || derr.Code() != dialtone.CodeDeadlineExceeded {
			t.Fatalf("reply = %v, want deadline_exceeded", derr)
		}
	})
}
