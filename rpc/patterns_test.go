package rpc_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/dialtone-dev/dialtone"
	"github.com/dialtone-dev/dialtone/rpc"
)

func TestAvailable(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		nc := connect(t, b.clientURL())
		busy := startInstance(t, b.instanceURL(0), nc, "greeter", []string{"greeter.SayHello"}, greet)
		free := startInstance(t, b.instanceURL(1), nc, "greeter", []string{"greeter.SayHello"}, greet)
		busy.full.Store(true)
		c := rpc.NewClient(nc)

		for i := 0; i < 10; i++ {
			resp, err := rpc.Call(context.Background(), c, sayHello, &helloReq{Name: "Ada"}, rpc.Available())
			if err != nil {
				t.Fatal(err)
			}
			if resp.From != free.id {
				t.Fatalf("call %d went to %s, want the free instance %s", i, resp.From, free.id)
			}
		}
		if n := busy.requests.Load(); n != 0 {
			t.Fatalf("the saturated instance got %d requests", n)
		}
		m := recv(t, free.seen, "the request")
		if want := free.inbox + ".greeter.SayHello"; m.Subject != want {
			t.Fatalf("second leg on %q, want %q", m.Subject, want)
		}
		if _, ok := dialtone.TimeoutFromHeader(m.Header); !ok {
			t.Fatal("second leg carries no Dialtone-Timeout")
		}
	})
}

func TestAvailableAllSaturated(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		nc := connect(t, b.clientURL())
		inst := startInstance(t, b.instanceURL(0), nc, "greeter", []string{"greeter.SayHello"}, greet)
		inst.full.Store(true)
		const bound = 50 * time.Millisecond
		c := rpc.NewClient(nc, rpc.WithAvailabilityTimeout(bound))

		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		start := time.Now()
		_, err := rpc.Call(ctx, c, sayHello, &helloReq{Name: "Ada"}, rpc.Available())
		elapsed := time.Since(start)
		de := expectCode(t, err, dialtone.CodeUnavailable)
		if !strings.Contains(de.Message(), "free capacity") {
			t.Fatalf("message %q does not say why", de.Message())
		}
		if elapsed < bound {
			t.Fatalf("gave up after %v, before the availability bound %v", elapsed, bound)
		}
		if ctx.Err() != nil {
			t.Fatal("waited for the call deadline instead of the availability bound")
		}
		if n := inst.requests.Load(); n != 0 {
			t.Fatalf("saturated instance got %d requests", n)
		}
	})
}

func TestAvailableBoundedByDeadline(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		nc := connect(t, b.clientURL())
		inst := startInstance(t, b.instanceURL(0), nc, "greeter", []string{"greeter.SayHello"}, greet)
		inst.full.Store(true)
		c := rpc.NewClient(nc, rpc.WithAvailabilityTimeout(time.Hour))

		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := rpc.Call(ctx, c, sayHello, &helloReq{Name: "Ada"}, rpc.Available())
		expectCode(t, err, dialtone.CodeDeadlineExceeded)
	})
}

func TestAvailableMalformedProbeReply(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		nc := connect(t, b.clientURL())
		for _, tc := range []struct{ name, reply, want string }{
			{"not json", `{"id":`, "decode availability reply"},
			{"wildcard inbox", `{"id":"x","inbox":"_DT.greeter.>"}`, "invalid inbox"},
			{"no inbox", `{"id":"x"}`, "invalid inbox"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				inst := startInstance(t, b.instanceURL(0), nc, "bad"+strings.ReplaceAll(tc.name, " ", ""), []string{"bad.X"}, echo)
				inst.availResp = func() []byte { return []byte(tc.reply) }
				ep := rpc.NewEndpoint[helloReq, helloResp](rpc.Spec{Service: inst.svc, Name: "X", Subject: "bad.X"})
				_, err := rpc.Call(context.Background(), rpc.NewClient(nc), ep, &helloReq{Name: "Ada"}, rpc.Available())
				de := expectCode(t, err, dialtone.CodeInternal)
				if !strings.Contains(de.Message(), tc.want) {
					t.Fatalf("message %q does not contain %q", de.Message(), tc.want)
				}
			})
		}
	})
}

func TestDirect(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		nc := connect(t, b.clientURL())
		a := startInstance(t, b.instanceURL(0), nc, "greeter", []string{"greeter.SayHello"}, greet)
		bb := startInstance(t, b.instanceURL(1), nc, "greeter", []string{"greeter.SayHello"}, greet)
		c := rpc.NewClient(nc)
		for _, inst := range []*instance{a, bb, a, bb} {
			resp, err := rpc.Call(context.Background(), c, sayHello, &helloReq{Name: "Ada"}, rpc.Direct(inst.id))
			if err != nil {
				t.Fatal(err)
			}
			if resp.From != inst.id {
				t.Fatalf("direct call to %s answered by %s", inst.id, resp.From)
			}
		}
		m := recv(t, a.seen, "the request")
		if want := "_DT.greeter." + a.id + ".greeter.SayHello"; m.Subject != want {
			t.Fatalf("direct request on %q, want %q", m.Subject, want)
		}
	})
}

func TestDirectUnknownInstance(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		nc := connect(t, b.clientURL())
		startInstance(t, b.instanceURL(0), nc, "greeter", []string{"greeter.SayHello"}, greet)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, err := rpc.Call(ctx, rpc.NewClient(nc), sayHello, &helloReq{Name: "Ada"}, rpc.Direct("gone"))
		expectCode(t, err, dialtone.CodeUnavailable)
		if ctx.Err() != nil {
			t.Fatal("waited for the deadline; no responders must fail at once")
		}
	})
}

func TestInvalidTargets(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		nc := connect(t, b.clientURL())
		c := rpc.NewClient(nc)
		for _, tc := range []struct {
			name string
			ep   rpc.Endpoint[helloReq, helloResp]
			opt  rpc.CallOption
		}{
			{"instance id with a dot", sayHello, rpc.Direct("a.b")},
			{"empty instance id", sayHello, rpc.Direct("")},
			{"wildcard subject", rpc.NewEndpoint[helloReq, helloResp](rpc.Spec{Service: "greeter", Name: "X", Subject: "greeter.*"}), rpc.Balanced()},
			{"empty token", rpc.NewEndpoint[helloReq, helloResp](rpc.Spec{Service: "greeter", Name: "X", Subject: "greeter..X"}), rpc.Balanced()},
			{"service with a dot", rpc.NewEndpoint[helloReq, helloResp](rpc.Spec{Service: "a.b", Name: "X", Subject: "a.X"}), rpc.LowestLatency()},
			{"no service", rpc.NewEndpoint[helloReq, helloResp](rpc.Spec{Name: "X", Subject: "x.X"}), rpc.Available()},
		} {
			t.Run(tc.name, func(t *testing.T) {
				out := nc.Stats().OutMsgs
				_, err := rpc.Call(context.Background(), c, tc.ep, &helloReq{Name: "Ada"}, tc.opt)
				expectCode(t, err, dialtone.CodeInvalidArgument)
				if nc.Stats().OutMsgs != out {
					t.Fatal("an invalid call sent a message")
				}
			})
		}
	})
}

func TestNoResponders(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		nc := connect(t, b.clientURL())
		c := rpc.NewClient(nc)
		for _, opt := range []rpc.CallOption{rpc.Balanced(), rpc.LowestLatency(), rpc.Available(), rpc.Direct("x")} {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			_, err := rpc.Call(ctx, c, sayHello, &helloReq{Name: "Ada"}, opt)
			de := expectCode(t, err, dialtone.CodeUnavailable)
			if ctx.Err() != nil {
				t.Fatalf("%T: waited for the deadline; no responders must fail at once", opt)
			}
			cancel()
			if !errors.Is(err, nats.ErrNoResponders) {
				t.Fatalf("%v does not wrap nats.ErrNoResponders", de)
			}
		}
	})
}
