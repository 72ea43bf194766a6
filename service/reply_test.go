package service_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dialtone-dev/dialtone/internal/bustest"

	"github.com/dialtone-dev/dialtone"
	"github.com/dialtone-dev/dialtone/rpc"
	"github.com/dialtone-dev/dialtone/service"
)

// A reply larger than the bus's max_payload cannot be sent. The caller must learn
// that at once (ResourceExhausted, naming both sizes), not wait out its deadline;
// the endpoint counts the error, it is logged at Warn and the service's error
// handler sees it.
func TestOversizedReply(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		var logs bustest.Buffer
		var mu sync.Mutex
		var events []service.ErrorEvent
		s := e.start(service.Config{Name: "big", Version: "1.0.0"}, func(s *service.Service) {
			if err := s.AddEndpoint("Blob", service.HandlerFunc(func(ctx context.Context, _ *service.Request) (*service.Response, error) {
				return &service.Response{Data: bytes.Repeat([]byte("x"), 2<<20)}, nil
			})); err != nil {
				t.Fatal(err)
			}
		},
			service.WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))),
			service.WithErrorHandler(func(ctx context.Context, ev service.ErrorEvent) {
				mu.Lock()
				events = append(events, ev)
				mu.Unlock()
			}))

		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		start := time.Now()
		msg, err := rpc.NewClient(e.Client).CallRaw(ctx, rpc.Spec{Service: "big", Name: "Blob"}, nil, nil)
		took := time.Since(start)
		if err == nil {
			t.Fatalf("got a reply of %d bytes", len(msg.Data))
		}
		if dialtone.CodeOf(err) != dialtone.CodeResourceExhausted || took > 2*time.Second {
			t.Fatalf("after %v: %v; want resource_exhausted at once", took, err)
		}
		for _, want := range []string{"2,097,152 bytes", "max_payload of 1,048,576"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		}

		st := s.Stats()
		if len(st.Endpoints) != 1 || st.Endpoints[0].NumRequests != 1 || st.Endpoints[0].NumErrors != 1 ||
			!strings.Contains(st.Endpoints[0].LastError, "max_payload") {
			t.Errorf("stats = %+v, want the failed reply counted as an error", st.Endpoints)
		}

		mu.Lock()
		got := append([]service.ErrorEvent(nil), events...)
		mu.Unlock()
		if len(got) != 1 || got[0].Endpoint != "Blob" || got[0].Subject != "big.Blob" || dialtone.CodeOf(got[0].Err) != dialtone.CodeResourceExhausted {
			t.Errorf("error handler saw %+v, want one resource_exhausted event for Blob", got)
		}

		warned := false
		for _, rec := range logs.JSONLines(t) {
			if rec["level"] == "WARN" && strings.Contains(rec["err"].(string), "max_payload") && rec["endpoint"] == "Blob" {
				warned = true
			}
		}
		if !warned {
			t.Errorf("no Warn record about the reply; logs: %v", logs.JSONLines(t))
		}
	})
}

// A handler panic answers internal error; the error handler sees what panicked,
// once, whether the Recover is the default one or the user's (installed among
// the outer interceptors, or on one endpoint). One user Recover shared by two
// services tells each service's own handler.
func TestErrorHandlerSeesPanics(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		shared := service.Recover(slog.New(slog.DiscardHandler))
		for _, tc := range []struct {
			name  string
			opts  []service.Option
			epOpt []service.EndpointOption
		}{
			{name: "default"},
			{name: "outer", opts: []service.Option{service.WithOuterInterceptors(service.Deadline(), shared)}},
			{name: "endpoint", opts: []service.Option{service.WithOuterInterceptors()},
				epOpt: []service.EndpointOption{service.WithInterceptors(shared)}},
		} {
			got := make(chan service.ErrorEvent, 4)
			opts := append(tc.opts, service.WithErrorHandler(func(ctx context.Context, ev service.ErrorEvent) { got <- ev }))
			e.start(service.Config{Name: "greeter-" + tc.name, Version: "1.0.0"}, func(s *service.Service) {
				_ = service.Handle(s, "SayHello", greeter, tc.epOpt...)
			}, opts...)
			if _, derr := call(t, e.Client, "greeter-"+tc.name+".SayHello", helloReq{Name: "panic"}, nil); derr == nil || derr.Message() != "internal error" {
				t.Fatalf("%s: panic answered %v", tc.name, derr)
			}
			select {
			case ev := <-got:
				if ev.Endpoint != "SayHello" || ev.Subject != "greeter-"+tc.name+".SayHello" || dialtone.CodeOf(ev.Err) != dialtone.CodeInternal ||
					!strings.Contains(ev.Err.Error(), "panic: boom") {
					t.Fatalf("%s: event %+v", tc.name, ev)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("%s: the error handler was not called", tc.name)
			}
			// Once per panic: the event is told before the chain returns and the
			// error reply goes out after it, so a second one would be here by now.
			if len(got) != 0 {
				t.Fatalf("%s: %d more events for one panic", tc.name, len(got))
			}
		}
	})
}
