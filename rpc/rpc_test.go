package rpc_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/dialtone-dev/dialtone"
	"github.com/dialtone-dev/dialtone/internal/bustest"
	"github.com/dialtone-dev/dialtone/rpc"
)

type helloReq struct {
	Name string `json:"name" validate:"required"`
	Age  int    `json:"age,omitempty" validate:"gte=0,lte=150"`
}

type helloResp struct {
	Greeting string `json:"greeting"`
	From     string `json:"from"`
}

var sayHello = rpc.NewEndpoint[helloReq, helloResp](rpc.Spec{Service: "greeter", Name: "SayHello", Subject: "greeter.SayHello"})

// greet is the greeter's SayHello written against the wire contract.
func greet(_ context.Context, inst *instance, m *nats.Msg) *nats.Msg {
	var req helloReq
	if err := json.Unmarshal(m.Data, &req); err != nil {
		return replyError(dialtone.Errorf(dialtone.CodeInvalidArgument, "bad request: %v", err))
	}
	return replyJSON(helloResp{Greeting: "hello " + req.Name, From: inst.id})
}

func expectCode(t *testing.T, err error, code dialtone.Code) *dialtone.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("err = nil, want %v", code)
	}
	var de *dialtone.Error
	if !errors.As(err, &de) {
		t.Fatalf("err = %T %v, want *dialtone.Error", err, err)
	}
	if de.Code() != code {
		t.Fatalf("code = %v (%v), want %v", de.Code(), err, code)
	}
	if dialtone.CodeOf(err) != code {
		t.Fatalf("CodeOf(err) = %v, want %v", dialtone.CodeOf(err), code)
	}
	return de
}

func TestBalanced(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		nc := connect(t, b.clientURL())
		a := startInstance(t, b.instanceURL(0), nc, "greeter", []string{"greeter.SayHello"}, greet)
		bb := startInstance(t, b.instanceURL(1), nc, "greeter", []string{"greeter.SayHello"}, greet)
		c := rpc.NewClient(nc)

		from := map[string]int{}
		for i := 0; i < 64; i++ {
			resp, err := rpc.Call(context.Background(), c, sayHello, &helloReq{Name: "Ada"})
			if err != nil {
				t.Fatalf("call %d: %v", i, err)
			}
			if resp.Greeting != "hello Ada" {
				t.Fatalf("greeting = %q", resp.Greeting)
			}
			from[resp.From]++
		}
		// The queue group picks one instance per request: each request is seen once.
		if got := a.requests.Load() + bb.requests.Load(); got != 64 {
			t.Fatalf("instances saw %d requests for 64 calls", got)
		}
		if from[a.id] == 0 || from[bb.id] == 0 {
			t.Fatalf("queue group did not spread 64 calls over both instances: %v", from)
		}
		m := recv(t, a.seen, "a request")
		if m.Subject != "greeter.SayHello" {
			t.Fatalf("balanced request on %q", m.Subject)
		}
		if m.Header.Get(dialtone.HeaderContentType) != "" {
			t.Fatalf("JSON request carries Content-Type %q; absent means JSON", m.Header.Get(dialtone.HeaderContentType))
		}
		if d, ok := dialtone.TimeoutFromHeader(m.Header); !ok || d > rpc.DefaultTimeout {
			t.Fatalf("Dialtone-Timeout = %q, want the default timeout or less", m.Header.Get(dialtone.HeaderTimeout))
		}
		if string(m.Data) != `{"name":"Ada"}` {
			t.Fatalf("payload = %s", m.Data)
		}
	})
}

func TestDefaultSubject(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		nc := connect(t, b.clientURL())
		startInstance(t, b.instanceURL(0), nc, "greeter", []string{"greeter.SayHello"}, greet)
		ep := rpc.NewEndpoint[helloReq, helloResp](rpc.Spec{Service: "greeter", Name: "SayHello"})
		resp, err := rpc.Call(context.Background(), rpc.NewClient(nc), ep, &helloReq{Name: "Bo"})
		if err != nil || resp.Greeting != "hello Bo" {
			t.Fatalf("resp, err = %+v, %v", resp, err)
		}
	})
}

func TestLowestLatency(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		nc := connect(t, b.clientURL())
		release := make(chan struct{})
		slow := func(ctx context.Context, inst *instance, m *nats.Msg) *nats.Msg {
			select {
			case <-release:
			case <-ctx.Done():
				return nil
			}
			return greet(ctx, inst, m)
		}
		s1 := startInstance(t, b.instanceURL(0), nc, "greeter", []string{"greeter.SayHello"}, slow)
		s2 := startInstance(t, b.instanceURL(1), nc, "greeter", []string{"greeter.SayHello"}, slow)
		fast := startInstance(t, b.instanceURL(2), nc, "greeter", []string{"greeter.SayHello"}, greet)
		c := rpc.NewClient(nc)

		resp, err := rpc.Call(context.Background(), c, sayHello, &helloReq{Name: "Ada"}, rpc.LowestLatency())
		if err != nil {
			t.Fatal(err)
		}
		if resp.From != fast.id {
			t.Fatalf("reply from %s, want the fast instance %s", resp.From, fast.id)
		}
		// Every instance got the request, on the all-instances subject.
		for _, inst := range []*instance{s1, s2, fast} {
			m := recv(t, inst.seen, "request at "+inst.id)
			if want := "_DT.greeter.all.greeter.SayHello"; m.Subject != want {
				t.Fatalf("subject = %q, want %q", m.Subject, want)
			}
		}
		close(release) // the slow instances reply now; their replies must go nowhere
		s1.wg.Wait()
		s2.wg.Wait()
		// A later call through the same response mux still gets its own reply.
		resp, err = rpc.Call(context.Background(), c, sayHello, &helloReq{Name: "Bo"})
		if err != nil || resp.Greeting != "hello Bo" {
			t.Fatalf("next call: %+v, %v", resp, err)
		}
	})
}

// TestLowestLatencyDropsLateReplies checks that replies after the first neither
// leak subscriptions nor memory nor reach a later call.
func TestLowestLatencyDropsLateReplies(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		nc := connect(t, b.clientURL())
		replied := make(chan struct{}, 16384)
		for i := 0; i < 3; i++ {
			startInstance(t, b.instanceURL(i), nc, "echo", []string{"echo.Echo"}, echo,
				func(inst *instance) { inst.replied, inst.seen = replied, nil })
		}
		c := rpc.NewClient(nc)
		type msg struct {
			N int `json:"n"`
		}
		ep := rpc.NewEndpoint[msg, msg](rpc.Spec{Service: "echo", Name: "Echo", Subject: "echo.Echo"})
		call := func(i int) {
			resp, err := rpc.Call(context.Background(), c, ep, &msg{N: i}, rpc.LowestLatency())
			if err != nil {
				t.Fatalf("call %d: %v", i, err)
			}
			if resp.N != i {
				t.Fatalf("call %d got the reply of call %d", i, resp.N)
			}
		}
		call(-1) // the first request creates the response mux subscription
		subs := nc.NumSubscriptions()

		// drained waits until every instance has answered every call so far and the
		// client has processed the answers: then no late reply is in flight.
		waited := 0
		drained := func(calls int) {
			for ; waited < 3*calls; waited++ {
				recv(t, replied, "a reply")
			}
			// Every reply has reached the server. Flush makes the server answer after
			// what it already queued for us, and the response mux handles messages
			// in order, so a call made now returns after every late reply was handled.
			if err := nc.Flush(); err != nil {
				t.Fatal(err)
			}
			call(-2)
		}
		const warm, n = 200, 4000
		for i := 0; i < warm; i++ {
			call(i)
		}
		drained(1 + warm)
		before := heapInUse()
		for i := 0; i < n; i++ {
			call(i)
		}
		drained(1 + warm + 1 + n)
		after := heapInUse()

		if got := nc.NumSubscriptions(); got != subs {
			t.Fatalf("subscriptions: %d after %d calls, %d before", got, n, subs)
		}
		// Without a leak the heap moves by a few hundred KiB whatever n is (measured on
		// busd: ~170 KiB for 4000 calls). A leaked response entry (map slot, channel,
		// token) or a retained late reply costs over 300 bytes, so leaking either for
		// 4000 calls would pass 1 MiB. The in-process nats-server cluster shares the
		// heap and caches every reply subject per route (thousands of entries before
		// it prunes), which hides the client's share, so there the heap is only logged.
		grow := int64(after) - int64(before)
		t.Logf("heap growth over %d lowest-latency calls: %d bytes", n, grow)
		if b.name == bustest.KindBusd && grow > 1<<20 {
			t.Fatalf("heap grew by %d bytes over %d lowest-latency calls", grow, n)
		}
		if in := nc.Stats().InMsgs; in < uint64(2*(warm+n)) {
			t.Fatalf("client received %d messages; late replies were not exercised", in)
		}
	})
}
