package rpc_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/dialtone-dev/dialtone"
	"github.com/dialtone-dev/dialtone/rpc"
)

func TestErrorReply(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		nc := connect(t, b.clientURL())
		startInstance(t, b.instanceURL(0), nc, "users", []string{"users.Get", "users.Weird"},
			func(_ context.Context, _ *instance, m *nats.Msg) *nats.Msg {
				if m.Subject == "users.Weird" {
					return &nats.Msg{Header: nats.Header{dialtone.HeaderErrorCode: {"777"}, dialtone.HeaderError: {"odd"}}}
				}
				return replyError(dialtone.Errorf(dialtone.CodeNotFound, "no such user").WithDetail("id", "42"))
			})
		c := rpc.NewClient(nc)

		_, err := rpc.Call(context.Background(), c, rpc.NewEndpoint[helloReq, helloResp](rpc.Spec{Service: "users", Name: "Get", Subject: "users.Get"}), &helloReq{Name: "x"})
		de := expectCode(t, err, dialtone.CodeNotFound)
		if !errors.Is(err, dialtone.ErrNotFound) || errors.Is(err, dialtone.ErrInternal) {
			t.Fatal("errors.Is does not follow the code")
		}
		if de.Message() != "no such user" || de.Details()["id"] != "42" {
			t.Fatalf("error = %q %v, want the handler's message and details", de.Message(), de.Details())
		}
		if err.Error() != "not_found: no such user" {
			t.Fatalf("Error() = %q", err.Error())
		}

		_, err = rpc.Call(context.Background(), c, rpc.NewEndpoint[helloReq, helloResp](rpc.Spec{Service: "users", Name: "Weird", Subject: "users.Weird"}), &helloReq{Name: "x"})
		if de := expectCode(t, err, dialtone.CodeUnknown); de.Message() != "odd" {
			t.Fatalf("message = %q", de.Message())
		}
	})
}

func TestMalformedReply(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		nc := connect(t, b.clientURL())
		startInstance(t, b.instanceURL(0), nc, "bad", []string{"bad.Text", "bad.Type", "bad.CT"},
			func(_ context.Context, _ *instance, m *nats.Msg) *nats.Msg {
				switch m.Subject {
				case "bad.Text":
					return &nats.Msg{Data: []byte("hello, not json")}
				case "bad.Type":
					return &nats.Msg{Data: []byte(`{"greeting": 12}`)}
				}
				return &nats.Msg{Data: []byte("x"), Header: nats.Header{dialtone.HeaderContentType: {"application/x-unheard-of"}}}
			})
		c := rpc.NewClient(nc)
		call := func(name string) error {
			_, err := rpc.Call(context.Background(), c, rpc.NewEndpoint[helloReq, helloResp](rpc.Spec{Service: "bad", Name: name, Subject: "bad." + name}), &helloReq{Name: "x"})
			return err
		}

		err := call("Text")
		de := expectCode(t, err, dialtone.CodeInternal)
		for _, want := range []string{"bad.Text", "decode reply", "application/json", "*rpc_test.helloResp"} {
			if !strings.Contains(de.Message(), want) {
				t.Errorf("message %q does not mention %q", de.Message(), want)
			}
		}
		var syn *json.SyntaxError
		if !errors.As(err, &syn) {
			t.Errorf("%v does not wrap the *json.SyntaxError", err)
		}

		err = call("Type")
		expectCode(t, err, dialtone.CodeInternal)
		var ute *json.UnmarshalTypeError
		if !errors.As(err, &ute) {
			t.Errorf("%v does not wrap the *json.UnmarshalTypeError", err)
		}

		de = expectCode(t, call("CT"), dialtone.CodeInternal)
		if !strings.Contains(de.Message(), "application/x-unheard-of") {
			t.Errorf("message %q does not name the content type", de.Message())
		}
	})
}

func TestDeadlinePropagation(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		nc := connect(t, b.clientURL())
		type seen struct {
			timeout time.Duration
			err     error
		}
		abandoned := make(chan seen, 1)
		startInstance(t, b.instanceURL(0), nc, "slow", []string{"slow.Wait"},
			func(ctx context.Context, _ *instance, m *nats.Msg) *nats.Msg {
				d, _ := dialtone.TimeoutFromHeader(m.Header)
				<-ctx.Done() // work for an abandoned caller stops
				abandoned <- seen{d, ctx.Err()}
				return nil
			})
		ep := rpc.NewEndpoint[helloReq, helloResp](rpc.Spec{Service: "slow", Name: "Wait", Subject: "slow.Wait"})

		const budget = 300 * time.Millisecond
		ctx, cancel := context.WithTimeout(context.Background(), budget)
		defer cancel()
		_, err := rpc.Call(ctx, rpc.NewClient(nc), ep, &helloReq{Name: "x"})
		expectCode(t, err, dialtone.CodeDeadlineExceeded)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("%v does not wrap context.DeadlineExceeded", err)
		}
		s := recv(t, abandoned, "the handler to see its deadline")
		if s.timeout <= 0 || s.timeout > budget {
			t.Fatalf("Dialtone-Timeout = %v, want in (0, %v]", s.timeout, budget)
		}
		if !errors.Is(s.err, context.DeadlineExceeded) {
			t.Fatalf("handler ctx ended with %v", s.err)
		}
	})
}

func TestDefaultTimeout(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		nc := connect(t, b.clientURL())
		timeouts := make(chan time.Duration, 1)
		startInstance(t, b.instanceURL(0), nc, "slow", []string{"slow.Wait"},
			func(ctx context.Context, _ *instance, m *nats.Msg) *nats.Msg {
				d, _ := dialtone.TimeoutFromHeader(m.Header)
				timeouts <- d
				<-ctx.Done()
				return nil
			})
		ep := rpc.NewEndpoint[helloReq, helloResp](rpc.Spec{Service: "slow", Name: "Wait", Subject: "slow.Wait"})
		const def = 150 * time.Millisecond
		start := time.Now()
		_, err := rpc.Call(context.Background(), rpc.NewClient(nc, rpc.WithDefaultTimeout(def)), ep, &helloReq{Name: "x"})
		expectCode(t, err, dialtone.CodeDeadlineExceeded)
		if el := time.Since(start); el < def {
			t.Fatalf("returned after %v, before the default timeout %v", el, def)
		}
		if d := recv(t, timeouts, "the request"); d <= 0 || d > def {
			t.Fatalf("Dialtone-Timeout = %v, want in (0, %v]", d, def)
		}
	})
}

func TestCanceled(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		nc := connect(t, b.clientURL())
		ctx, cancel := context.WithCancel(context.Background())
		startInstance(t, b.instanceURL(0), nc, "slow", []string{"slow.Wait"},
			func(hctx context.Context, _ *instance, m *nats.Msg) *nats.Msg {
				cancel() // the caller gives up while the handler works
				<-hctx.Done()
				return nil
			})
		ep := rpc.NewEndpoint[helloReq, helloResp](rpc.Spec{Service: "slow", Name: "Wait", Subject: "slow.Wait"})
		_, err := rpc.Call(ctx, rpc.NewClient(nc, rpc.WithDefaultTimeout(500*time.Millisecond)), ep, &helloReq{Name: "x"})
		expectCode(t, err, dialtone.CodeCanceled)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("%v does not wrap context.Canceled", err)
		}
	})
}

func TestDeadlineAlreadyPassed(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		nc := connect(t, b.clientURL())
		ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
		defer cancel()
		out := nc.Stats().OutMsgs
		_, err := rpc.Call(ctx, rpc.NewClient(nc), sayHello, &helloReq{Name: "x"})
		expectCode(t, err, dialtone.CodeDeadlineExceeded)
		if nc.Stats().OutMsgs != out {
			t.Fatal("a call past its deadline sent a message")
		}
	})
}

// Caller-side validation is opt-in: with ValidateRequests an invalid request fails
// before anything is sent; without it the request goes out and the service's
// answer is what the caller gets.
func TestClientValidation(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		nc := connect(t, b.clientURL())
		inst := startInstance(t, b.instanceURL(0), nc, "greeter", []string{"greeter.SayHello"}, greet)
		if _, err := rpc.Call(context.Background(), rpc.NewClient(nc), sayHello, &helloReq{Age: 200}); err != nil {
			t.Fatalf("without ValidateRequests: %v, want the instance's reply", err)
		}
		if inst.requests.Load() != 1 {
			t.Fatalf("without ValidateRequests the request was not sent (%d requests)", inst.requests.Load())
		}
		inst.requests.Store(0)
		c := rpc.NewClient(nc, rpc.WithInnerInterceptors(rpc.ValidateRequests()))
		out := nc.Stats().OutMsgs
		for _, req := range []*helloReq{{Age: 200}, nil} {
			_, err := rpc.Call(context.Background(), c, sayHello, req)
			de := expectCode(t, err, dialtone.CodeInvalidArgument)
			fields, _ := de.Details()["fields"].(map[string]string)
			if fields["name"] != "required" {
				t.Fatalf("details = %v, want name: required", de.Details())
			}
			if req != nil && fields["age"] != "lte" {
				t.Fatalf("details = %v, want age: lte", de.Details())
			}
		}
		if nc.Stats().OutMsgs != out || inst.requests.Load() != 0 {
			t.Fatal("an invalid request was sent")
		}
	})
}
