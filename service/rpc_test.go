package service_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/dialtone-dev/dialtone"
	"github.com/dialtone-dev/dialtone/rpc"
	"github.com/dialtone-dev/dialtone/service"
)

// TestWithRPCClient checks the contract end to end with the rpc package as the
// client: the four call patterns, error codes, and the deadline reaching the
// handler.
func TestWithRPCClient(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		deadlines := make(chan time.Duration, 16)
		setup := func(s *service.Service) {
			if err := service.Handle(s, "SayHello", func(ctx context.Context, r *helloReq) (*helloResp, error) {
				if d, ok := ctx.Deadline(); ok {
					deadlines <- time.Until(d)
				}
				return greeter(ctx, r)
			}); err != nil {
				t.Fatal(err)
			}
		}
		a := e.start(service.Config{Name: "greeter", Version: "1.0.0"}, setup)
		e.start(service.Config{Name: "greeter", Version: "1.0.0"}, setup)

		c := rpc.NewClient(e.Client)
		ep := rpc.NewEndpoint[helloReq, helloResp](rpc.Spec{Service: "greeter", Name: "SayHello", Subject: "greeter.SayHello"})
		for name, opt := range map[string]rpc.CallOption{
			"balanced":       rpc.Balanced(),
			"lowest-latency": rpc.LowestLatency(),
			"available":      rpc.Available(),
			"direct":         rpc.Direct(a.ID()),
		} {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			resp, err := rpc.Call(ctx, c, ep, &helloReq{Name: "ann"}, opt)
			cancel()
			if err != nil || resp.Message != "hello ann" {
				t.Fatalf("%s: %+v %v", name, resp, err)
			}
			// The caller's deadline arrives in the handler's context (one per
			// instance for lowest-latency).
			select {
			case d := <-deadlines:
				if d <= 0 || d > 3*time.Second {
					t.Fatalf("%s: handler deadline in %v", name, d)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("%s: handler saw no deadline", name)
			}
		}
		for len(deadlines) > 0 {
			<-deadlines
		}

		_, err := rpc.Call(context.Background(), c, ep, &helloReq{Name: "missing"})
		if !errors.Is(err, dialtone.ErrNotFound) {
			t.Fatalf("not found: %v", err)
		}
		_, err = rpc.Call(context.Background(), c, ep, &helloReq{Name: "panic"})
		if de := (*dialtone.Error)(nil); !errors.As(err, &de) || de.Code() != dialtone.CodeInternal || de.Message() != "internal error" {
			t.Fatalf("panic: %v", err)
		}
		_, err = rpc.Call(context.Background(), c, rpc.NewEndpoint[helloReq, helloResp](rpc.Spec{Service: "greeter", Name: "Nope", Subject: "greeter.Nope"}),
			&helloReq{Name: "x"}, rpc.LowestLatency())
		if dialtone.CodeOf(err) != dialtone.CodeUnimplemented {
			t.Fatalf("unknown endpoint via all: %v", err)
		}
	})
}

// TestAvailableRefusesWhenSaturated: with every slot busy, an Available call fails
// fast with CodeUnavailable instead of queueing.
func TestAvailableRefusesWhenSaturated(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		release := make(chan struct{})
		started := make(chan struct{}, 1)
		e.start(service.Config{Name: "tiny", Version: "1.0.0"}, func(s *service.Service) {
			_ = service.Handle(s, "Work", func(ctx context.Context, r *helloReq) (*helloResp, error) {
				started <- struct{}{}
				<-release
				return &helloResp{Message: "done"}, nil
			})
		}, service.WithMaxConcurrent(1))
		c := rpc.NewClient(e.Client, rpc.WithAvailabilityTimeout(200*time.Millisecond))
		ep := rpc.NewEndpoint[helloReq, helloResp](rpc.Spec{Service: "tiny", Name: "Work", Subject: "tiny.Work"})
		done := make(chan error, 1)
		go func() {
			_, err := rpc.Call(context.Background(), c, ep, &helloReq{Name: "a"}, rpc.Available())
			done <- err
		}()
		<-started
		_, err := rpc.Call(context.Background(), c, ep, &helloReq{Name: "b"}, rpc.Available())
		if dialtone.CodeOf(err) != dialtone.CodeUnavailable {
			t.Fatalf("saturated: %v", err)
		}
		close(release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}
