package rpc_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/dialtone-dev/dialtone"
	"github.com/dialtone-dev/dialtone/rpc"
)

// flaky answers Unavailable to the first n requests, then greets.
func flaky(n int64, failures *atomic.Int64, code dialtone.Code) handlerFunc {
	return func(ctx context.Context, inst *instance, m *nats.Msg) *nats.Msg {
		if failures.Add(1) <= n {
			return replyError(dialtone.Errorf(code, "try again"))
		}
		return greet(ctx, inst, m)
	}
}

func TestRetry(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		nc := connect(t, b.clientURL())
		var calls atomic.Int64
		inst := startInstance(t, b.instanceURL(0), nc, "greeter", []string{"greeter.SayHello"}, flaky(2, &calls, dialtone.CodeUnavailable))
		c := rpc.NewClient(nc)
		fast := rpc.RetryPolicy{InitialBackoff: time.Millisecond}

		// Without Retry the first Unavailable is the answer.
		_, err := rpc.Call(context.Background(), c, sayHello, &helloReq{Name: "Ada"})
		expectCode(t, err, dialtone.CodeUnavailable)

		// With the default 3 attempts: one more failure, then success.
		resp, err := rpc.Call(context.Background(), c, sayHello, &helloReq{Name: "Ada"}, rpc.Retry(fast))
		if err != nil || resp.Greeting != "hello Ada" {
			t.Fatalf("resp, err = %+v, %v", resp, err)
		}
		if n := inst.requests.Load(); n != 3 {
			t.Fatalf("instance saw %d requests, want 3", n)
		}

		// MaxAttempts bounds the attempts; the last error is returned.
		calls.Store(-100)
		_, err = rpc.Call(context.Background(), c, sayHello, &helloReq{Name: "Ada"},
			rpc.Retry(rpc.RetryPolicy{MaxAttempts: 4, InitialBackoff: time.Millisecond}))
		if de := expectCode(t, err, dialtone.CodeUnavailable); de.Message() != "try again" {
			t.Fatalf("message = %q", de.Message())
		}
		if n := inst.requests.Load(); n != 3+4 {
			t.Fatalf("instance saw %d requests, want 7", n)
		}
	})
}

func TestRetryOnlyUnavailable(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		nc := connect(t, b.clientURL())
		var calls atomic.Int64
		inst := startInstance(t, b.instanceURL(0), nc, "greeter", []string{"greeter.SayHello"}, flaky(1, &calls, dialtone.CodeResourceExhausted))
		_, err := rpc.Call(context.Background(), rpc.NewClient(nc), sayHello, &helloReq{Name: "Ada"}, rpc.Retry(rpc.RetryPolicy{}))
		expectCode(t, err, dialtone.CodeResourceExhausted)
		if n := inst.requests.Load(); n != 1 {
			t.Fatalf("a %v error was retried: %d requests", dialtone.CodeResourceExhausted, n)
		}
	})
}

func TestRetryNoResponders(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		nc := connect(t, b.clientURL())
		out := nc.Stats().OutMsgs
		_, err := rpc.Call(context.Background(), rpc.NewClient(nc), sayHello, &helloReq{Name: "Ada"},
			rpc.Retry(rpc.RetryPolicy{MaxAttempts: 5, InitialBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond}))
		expectCode(t, err, dialtone.CodeUnavailable)
		if sent := nc.Stats().OutMsgs - out; sent != 5 {
			t.Fatalf("sent %d requests, want 5 attempts", sent)
		}
	})
}

// The retries stop when the next attempt could not start with time to spare, and
// the caller gets the last Unavailable at once. On a clock that moves only by the
// retry waits, with 10s to the deadline and 3s waits the attempts start at 0, 3, 6
// and 9s; a 5th would start at 12s, past the deadline, so the call ends at 9s
// without waiting again. Each attempt tells the service the time it has left.
func TestRetryWithinDeadline(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		nc := connect(t, b.clientURL())
		base := time.Now()
		clk := newFakeClock(base)
		var log attemptLog
		inst := startInstance(t, b.instanceURL(0), nc, "greeter", []string{"greeter.SayHello"},
			func(_ context.Context, _ *instance, m *nats.Msg) *nats.Msg {
				log.record(clk, base, m)
				return replyError(dialtone.Errorf(dialtone.CodeUnavailable, "try again"))
			})
		ctx, cancel := context.WithDeadline(context.Background(), base.Add(10*time.Second))
		defer cancel()
		c := rpc.NewClient(nc)
		rpc.SetClock(c, clk)
		_, err := rpc.Call(ctx, c, sayHello, &helloReq{Name: "Ada"},
			rpc.Retry(rpc.RetryPolicy{MaxAttempts: 1000, InitialBackoff: 3 * time.Second, MaxBackoff: 3 * time.Second, Jitter: -1}))
		if de := expectCode(t, err, dialtone.CodeUnavailable); de.Message() != "try again" {
			t.Fatalf("message = %q", de.Message())
		}
		if ctx.Err() != nil {
			t.Fatal("retried until the deadline passed")
		}
		at, timeouts := log.get()
		s := time.Second
		if want := []time.Duration{0, 3 * s, 6 * s, 9 * s}; !slices.Equal(at, want) {
			t.Fatalf("attempts at %v, want %v", at, want)
		}
		if want := []time.Duration{10 * s, 7 * s, 4 * s, 1 * s}; !slices.Equal(timeouts, want) {
			t.Fatalf("Dialtone-Timeout of the attempts = %v, want %v", timeouts, want)
		}
		if w := clk.Waits(); !slices.Equal(w, []time.Duration{3 * s, 3 * s, 3 * s}) {
			t.Fatalf("waits %v: want 3 of 3s, none after the last attempt", w)
		}
		if n := inst.requests.Load(); n != 4 {
			t.Fatalf("instance saw %d requests, want 4", n)
		}
	})
}

// A retry needs time left for an attempt as long as the longest so far: when
// every attempt takes 2s, with 10s to go and 1s waits the attempts start at 0, 3
// and 6s; the third ends at 8s, and the 2s left would cover the wait and the 10ms
// floor but not another 2s attempt, so the call stops there.
func TestRetryLeavesTimeForTheLongestAttempt(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		nc := connect(t, b.clientURL())
		base := time.Now()
		clk := newFakeClock(base)
		var log attemptLog
		startInstance(t, b.instanceURL(0), nc, "greeter", []string{"greeter.SayHello"},
			func(_ context.Context, _ *instance, m *nats.Msg) *nats.Msg {
				log.record(clk, base, m)
				clk.Advance(2 * time.Second)
				return replyError(dialtone.Errorf(dialtone.CodeUnavailable, "slow"))
			})
		ctx, cancel := context.WithDeadline(context.Background(), base.Add(10*time.Second))
		defer cancel()
		c := rpc.NewClient(nc)
		rpc.SetClock(c, clk)
		_, err := rpc.Call(ctx, c, sayHello, &helloReq{Name: "Ada"},
			rpc.Retry(rpc.RetryPolicy{MaxAttempts: 1000, InitialBackoff: time.Second, MaxBackoff: time.Second, Jitter: -1}))
		expectCode(t, err, dialtone.CodeUnavailable)
		at, _ := log.get()
		if want := []time.Duration{0, 3 * time.Second, 6 * time.Second}; !slices.Equal(at, want) {
			t.Fatalf("attempts at %v, want %v", at, want)
		}
		if got := clk.Now().Sub(base); got != 8*time.Second {
			t.Fatalf("returned at %v, want 8s: at once after the third attempt", got)
		}
	})
}

// No attempt starts without a floor of 10ms left after its wait: after a failure
// with 104ms to go, a 95ms wait would leave 9ms, so the call fails at once with
// the Unavailable it has; with 105ms to go the 10ms left are enough.
func TestRetryNeedsTimeLeft(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		nc := connect(t, b.clientURL())
		var calls atomic.Int64
		inst := startInstance(t, b.instanceURL(0), nc, "greeter", []string{"greeter.SayHello"}, flaky(1<<40, &calls, dialtone.CodeUnavailable))
		for _, tc := range []struct {
			left     time.Duration
			attempts int64
			waits    int
		}{{104 * time.Millisecond, 1, 0}, {105 * time.Millisecond, 2, 1}} {
			// The deadline is 10s away in real time; the client's clock says less.
			deadline := time.Now().Add(10 * time.Second)
			clk := newFakeClock(deadline.Add(-tc.left))
			ctx, cancel := context.WithDeadline(context.Background(), deadline)
			c := rpc.NewClient(nc)
			rpc.SetClock(c, clk)
			before := inst.requests.Load()
			_, err := rpc.Call(ctx, c, sayHello, &helloReq{Name: "Ada"},
				rpc.Retry(rpc.RetryPolicy{MaxAttempts: 5, InitialBackoff: 95 * time.Millisecond, MaxBackoff: 95 * time.Millisecond, Jitter: -1}))
			cancel()
			expectCode(t, err, dialtone.CodeUnavailable)
			if n := inst.requests.Load() - before; n != tc.attempts {
				t.Fatalf("%v left: %d attempts, want %d", tc.left, n, tc.attempts)
			}
			if w := clk.Waits(); len(w) != tc.waits {
				t.Fatalf("%v left: waits %v, want %d: no wait for a retry it then does not make", tc.left, w, tc.waits)
			}
		}
	})
}

// When a retry runs out of time, the caller gets the last real error (why the
// call failed: Unavailable), not DeadlineExceeded.
func TestRetryOutOfTimeReturnsLastError(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		nc := connect(t, b.clientURL())
		clk := newFakeClock(time.Now())
		var n atomic.Int64
		inst := startInstance(t, b.instanceURL(0), nc, "greeter", []string{"greeter.SayHello"},
			func(ctx context.Context, _ *instance, m *nats.Msg) *nats.Msg {
				if n.Add(1) == 1 {
					return replyError(dialtone.Errorf(dialtone.CodeUnavailable, "overloaded"))
				}
				// The second attempt takes all the time left: it hangs past the
				// caller's deadline, on the client's clock and in real time.
				clk.Advance(time.Hour)
				<-ctx.Done()
				return nil
			})
		// Real time matters only in that the first attempt must be over before
		// the real deadline, so it is not tight.
		clk.Set(time.Now())
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		c := rpc.NewClient(nc)
		rpc.SetClock(c, clk)
		_, err := rpc.Call(ctx, c, sayHello, &helloReq{Name: "Ada"},
			rpc.Retry(rpc.RetryPolicy{MaxAttempts: 3, InitialBackoff: 10 * time.Millisecond, Jitter: -1}))
		if de := expectCode(t, err, dialtone.CodeUnavailable); de.Message() != "overloaded" {
			t.Fatalf("message = %q, want the first attempt's", de.Message())
		}
		if got := inst.requests.Load(); got != 2 {
			t.Fatalf("%d attempts, want 2", got)
		}
	})
}

func TestHeadersAndCallOptionsInContext(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		nc := connect(t, b.clientURL())
		inst := startInstance(t, b.instanceURL(0), nc, "greeter", []string{"greeter.SayHello"}, greet)
		c := rpc.NewClient(nc, rpc.WithDefaultCallOptions(rpc.Header("X-Default", "d")))
		call := func(ctx context.Context, opts ...rpc.CallOption) *nats.Msg {
			t.Helper()
			if _, err := rpc.Call(ctx, c, sayHello, &helloReq{Name: "Ada"}, opts...); err != nil {
				t.Fatal(err)
			}
			return recv(t, inst.seen, "the request")
		}

		ctx := rpc.WithCallOptions(context.Background(), rpc.LowestLatency(), rpc.Header("X-Tenant", "acme"))
		ctx = rpc.WithCallOptions(ctx, rpc.Header("X-Request", "1"))
		m := call(ctx)
		if m.Subject != "_DT.greeter.all.greeter.SayHello" {
			t.Fatalf("context pattern ignored: subject %q", m.Subject)
		}
		for k, v := range map[string]string{"X-Tenant": "acme", "X-Request": "1", "X-Default": "d"} {
			if m.Header.Get(k) != v {
				t.Fatalf("header %s = %q, want %q", k, m.Header.Get(k), v)
			}
		}

		// An explicit option overrides the context's.
		if m := call(ctx, rpc.Balanced()); m.Subject != "greeter.SayHello" {
			t.Fatalf("explicit Balanced did not override: subject %q", m.Subject)
		}
		if m := call(ctx, rpc.Direct(inst.id)); m.Subject != inst.inbox+".greeter.SayHello" {
			t.Fatalf("explicit Direct did not override: subject %q", m.Subject)
		}

		// The client's own headers win over Header.
		m = call(context.Background(), rpc.Header(dialtone.HeaderTimeout, "999999999"), rpc.Header(dialtone.HeaderContentType, "text/plain"))
		if d, ok := dialtone.TimeoutFromHeader(m.Header); !ok || d > rpc.DefaultTimeout {
			t.Fatalf("Header overrode Dialtone-Timeout: %q", m.Header[dialtone.HeaderTimeout])
		}
		if ct, ok := m.Header[dialtone.HeaderContentType]; ok {
			t.Fatalf("Header mislabelled a JSON request as %q", ct)
		}
	})
}

// upperCodec is a non-JSON codec: text, upper-cased on the wire.
type upperCodec struct{}

func (upperCodec) Name() string { return "text/x-upper" }
func (upperCodec) Marshal(v any) ([]byte, error) {
	s, ok := v.(*text)
	if !ok {
		return nil, fmt.Errorf("upper: cannot encode %T", v)
	}
	return []byte(strings.ToUpper(s.S)), nil
}
func (upperCodec) Unmarshal(data []byte, v any) error {
	s, ok := v.(*text)
	if !ok {
		return fmt.Errorf("upper: cannot decode into %T", v)
	}
	s.S = string(data)
	return nil
}

type text struct{ S string }

func TestCodec(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		nc := connect(t, b.clientURL())
		inst := startInstance(t, b.instanceURL(0), nc, "shout", []string{"shout.Echo"},
			func(_ context.Context, _ *instance, m *nats.Msg) *nats.Msg {
				return &nats.Msg{Data: append(m.Data, '!'), Header: nats.Header{dialtone.HeaderContentType: {m.Header.Get(dialtone.HeaderContentType)}}}
			})
		spec := rpc.Spec{Service: "shout", Name: "Echo", Subject: "shout.Echo"}
		c := rpc.NewClient(nc, rpc.WithCodec(upperCodec{}))
		resp, err := rpc.Call(context.Background(), c, rpc.NewEndpoint[text, text](spec), &text{S: "hi"})
		if err != nil {
			t.Fatal(err)
		}
		if resp.S != "HI!" {
			t.Fatalf("resp = %q", resp.S)
		}
		if m := recv(t, inst.seen, "the request"); m.Header.Get(dialtone.HeaderContentType) != "text/x-upper" {
			t.Fatalf("Content-Type = %q", m.Header.Get(dialtone.HeaderContentType))
		}

		// An encode failure is CodeInternal and names the type.
		_, err = rpc.Call(context.Background(), c, rpc.NewEndpoint[helloReq, helloResp](spec), &helloReq{Name: "x"})
		de := expectCode(t, err, dialtone.CodeInternal)
		if !strings.Contains(de.Message(), "encode *rpc_test.helloReq") {
			t.Fatalf("message = %q", de.Message())
		}
	})
}

func TestCallRaw(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		nc := connect(t, b.clientURL())
		inst := startInstance(t, b.instanceURL(0), nc, "greeter", []string{"greeter.SayHello"}, greet)
		c := rpc.NewClient(nc)
		// Spare capacity behind the value: an added value must not be written there.
		mine := make([]string, 1, 4)
		mine[0] = "1"
		hdr := nats.Header{"X-Mine": mine}
		msg, err := c.CallRaw(context.Background(), sayHello.Spec(), []byte(`{"name":"Raw"}`), hdr,
			rpc.LowestLatency(), rpc.Header("X-Mine", "2"))
		if err != nil {
			t.Fatal(err)
		}
		var resp helloResp
		if err := c.Decode(sayHello.Spec(), msg, &resp); err != nil || resp.Greeting != "hello Raw" {
			t.Fatalf("decode: %+v, %v", resp, err)
		}
		if len(hdr) != 1 || len(hdr["X-Mine"]) != 1 || hdr.Get("X-Mine") != "1" || mine[:2][1] != "" {
			t.Fatalf("CallRaw modified the caller's header: %v (array %q)", hdr, mine[:2])
		}
		m := recv(t, inst.seen, "the request")
		if got := m.Header.Values("X-Mine"); len(got) != 2 || got[0] != "1" || got[1] != "2" || m.Header.Get(dialtone.HeaderTimeout) == "" {
			t.Fatalf("request headers = %v", m.Header)
		}
		// The next call starts from no headers: nothing of this one's is left over.
		if _, err := c.CallRaw(context.Background(), sayHello.Spec(), []byte(`{"name":"Raw"}`), nil, rpc.LowestLatency()); err != nil {
			t.Fatal(err)
		}
		m = recv(t, inst.seen, "the second request")
		if _, ok := m.Header["X-Mine"]; ok || m.Header.Get(dialtone.HeaderTimeout) == "" {
			t.Fatalf("second request headers = %v", m.Header)
		}
		var bad struct{ Greeting int }
		if err := c.Decode(sayHello.Spec(), msg, &bad); dialtone.CodeOf(err) != dialtone.CodeInternal {
			t.Fatalf("Decode into the wrong type: %v", err)
		}
	})
}

func TestClientSpan(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		exp := tracetest.NewInMemoryExporter()
		tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
		t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
		nc := connect(t, b.clientURL())
		inst := startInstance(t, b.instanceURL(0), nc, "greeter", []string{"greeter.SayHello", "greeter.Fail"},
			func(ctx context.Context, inst *instance, m *nats.Msg) *nats.Msg {
				if m.Subject == "greeter.Fail" {
					return replyError(dialtone.Errorf(dialtone.CodeNotFound, "nope"))
				}
				return greet(ctx, inst, m)
			})
		c := rpc.NewClient(nc, rpc.WithTracerProvider(tp))

		// The caller's span is the client span's parent.
		ctx, parent := tp.Tracer("test").Start(context.Background(), "caller")
		if _, err := rpc.Call(ctx, c, sayHello, &helloReq{Name: "Ada"}); err != nil {
			t.Fatal(err)
		}
		parent.End()
		m := recv(t, inst.seen, "the request")
		spans := exp.GetSpans()
		if len(spans) != 2 {
			t.Fatalf("%d spans, want 2", len(spans))
		}
		cs := spans[0]
		if cs.Name != "greeter.SayHello" || cs.SpanKind != trace.SpanKindClient {
			t.Fatalf("span %q kind %v", cs.Name, cs.SpanKind)
		}
		if cs.Parent.SpanID() != parent.SpanContext().SpanID() {
			t.Fatal("client span is not a child of the caller's span")
		}
		want := fmt.Sprintf("00-%s-%s-01", cs.SpanContext.TraceID(), cs.SpanContext.SpanID())
		if got := m.Header.Get("traceparent"); got != want {
			t.Fatalf("traceparent = %q, want %q", got, want)
		}
		attrs := map[string]string{}
		for _, kv := range cs.Attributes {
			attrs[string(kv.Key)] = kv.Value.AsString()
		}
		if attrs["rpc.service"] != "greeter" || attrs["rpc.method"] != "SayHello" || attrs["dialtone.pattern"] != "balanced" {
			t.Fatalf("attributes = %v", attrs)
		}

		// A failed call marks its span.
		exp.Reset()
		ep := rpc.NewEndpoint[helloReq, helloResp](rpc.Spec{Service: "greeter", Name: "Fail", Subject: "greeter.Fail"})
		_, err := rpc.Call(context.Background(), c, ep, &helloReq{Name: "Ada"})
		expectCode(t, err, dialtone.CodeNotFound)
		spans = exp.GetSpans()
		if len(spans) != 1 || spans[0].Status.Code != codes.Error {
			t.Fatalf("failed call spans = %+v", spans)
		}
		found := false
		for _, kv := range spans[0].Attributes {
			found = found || (kv.Key == "dialtone.error_code" && kv.Value.AsString() == "not_found")
		}
		if !found {
			t.Fatalf("failed span attributes = %v", spans[0].Attributes)
		}
	})
}

func TestClosedConnection(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		nc := connect(t, b.clientURL())
		nc.Close()
		_, err := rpc.Call(context.Background(), rpc.NewClient(nc), sayHello, &helloReq{Name: "x"})
		expectCode(t, err, dialtone.CodeUnavailable)
		if !errors.Is(err, nats.ErrConnectionClosed) {
			t.Fatalf("%v does not wrap nats.ErrConnectionClosed", err)
		}
	})
}
