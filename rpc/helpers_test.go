package rpc_test

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"

	"github.com/dialtone-dev/dialtone"
)

// handlerFunc is a hand-written endpoint handler that speaks the wire contract
// directly. It returns the reply to send, or nil to send none.
type handlerFunc func(ctx context.Context, inst *instance, m *nats.Msg) *nats.Msg

// instance is a minimal service instance written with plain nats.go: it follows the
// subjects of docs/design/sdk.md so the client can be tested against exactly what the
// contract says, including replies no real service would send.
type instance struct {
	t     *testing.T
	svc   string
	id    string
	nc    *nats.Conn
	inbox string

	full      atomic.Bool    // when true the instance does not answer the availability probe
	availResp func() []byte  // overrides the availability answer
	requests  atomic.Int64   // requests received on any endpoint subject
	seen      chan *nats.Msg // every request, when non-nil (buffered)
	replied   chan struct{}  // when non-nil, a value after each reply has reached the server
	mu        sync.Mutex
	stopped   bool
	wg        sync.WaitGroup // handler goroutines, added under mu while !stopped
	handle    handlerFunc
}

// startInstance subscribes an instance of svc serving handle on the given endpoint
// subjects, on a connection to url, and waits until a client connected to
// clientURL sees its subscriptions.
func startInstance(t *testing.T, url string, client *nats.Conn, svc string, subjects []string, handle handlerFunc, opts ...func(*instance)) *instance {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatalf("connect instance: %v", err)
	}
	inst := &instance{t: t, svc: svc, id: nuid.Next(), nc: nc, handle: handle, seen: make(chan *nats.Msg, 1024)}
	inst.inbox = "_DT." + svc + "." + inst.id
	for _, o := range opts {
		o(inst)
	}
	t.Cleanup(func() {
		inst.mu.Lock()
		inst.stopped = true
		inst.mu.Unlock()
		nc.Close()
		inst.wg.Wait()
	})
	serve := func(m *nats.Msg) {
		inst.mu.Lock()
		if inst.stopped {
			inst.mu.Unlock()
			return
		}
		inst.wg.Add(1)
		inst.mu.Unlock()
		inst.requests.Add(1)
		if inst.seen != nil {
			select {
			case inst.seen <- m:
			default:
			}
		}
		go func() {
			defer inst.wg.Done()
			ctx := context.Background()
			if d, ok := dialtone.TimeoutFromHeader(m.Header); ok {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, d)
				defer cancel()
			}
			if reply := inst.handle(ctx, inst, m); reply != nil {
				_ = m.RespondMsg(reply)
				if inst.replied != nil {
					_ = inst.nc.Flush()
					inst.replied <- struct{}{}
				}
			}
		}()
	}
	for _, subj := range subjects {
		mustSub(t, nc, subj, svc, serve)
		mustSub(t, nc, "_DT."+svc+".all."+subj, "", serve)
		mustSub(t, nc, inst.inbox+"."+subj, "", serve)
	}
	mustSub(t, nc, "_DT."+svc+".avail", "", func(m *nats.Msg) {
		if inst.full.Load() {
			return
		}
		var data []byte
		if inst.availResp != nil {
			data = inst.availResp()
		} else {
			data, _ = json.Marshal(map[string]string{"id": inst.id, "inbox": inst.inbox})
		}
		_ = m.Respond(data)
	})
	ready := "_test.ready." + inst.id
	mustSub(t, nc, ready, "", func(m *nats.Msg) { _ = m.Respond(nil) })
	if err := nc.Flush(); err != nil {
		t.Fatalf("flush instance: %v", err)
	}
	waitInterest(t, client, ready)
	return inst
}

func mustSub(t *testing.T, nc *nats.Conn, subj, queue string, h nats.MsgHandler) {
	t.Helper()
	var err error
	if queue == "" {
		_, err = nc.Subscribe(subj, h)
	} else {
		_, err = nc.QueueSubscribe(subj, queue, h)
	}
	if err != nil {
		t.Fatalf("subscribe %s: %v", subj, err)
	}
}

// waitInterest returns once a request from nc on subject finds a responder. In a
// cluster, subscriptions reach the other servers asynchronously but in order, so
// once the last subscription of an instance is visible, all of them are.
func waitInterest(t *testing.T, nc *nats.Conn, subject string) {
	t.Helper()
	for i := 0; i < 2000; i++ {
		_, err := nc.Request(subject, nil, 2*time.Second)
		if err == nil {
			return
		}
		if err != nats.ErrNoResponders {
			t.Fatalf("waiting for interest in %s: %v", subject, err)
		}
	}
	t.Fatalf("no interest in %s after 2000 requests", subject)
}

// echo replies with the request payload.
func echo(_ context.Context, _ *instance, m *nats.Msg) *nats.Msg {
	return &nats.Msg{Data: m.Data}
}

// replyJSON replies with v encoded as JSON.
func replyJSON(v any) *nats.Msg {
	data, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return &nats.Msg{Data: data}
}

// replyError replies with the error headers of err.
func replyError(err error) *nats.Msg {
	m := &nats.Msg{Header: nats.Header{}}
	dialtone.SetErrorHeader(m.Header, err)
	return m
}

// connect returns a connection to url closed when the test ends.
func connect(t testing.TB, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// recv waits for a value from ch, failing the test after a generous bound.
func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// fakeClock is a client's clock (rpc.SetClock) that moves only when a test
// advances it, or by the whole of each wait a retry starts, which then ends at
// once. What the retry rules decide then follows from the times a test sets,
// however busy the machine is.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	waits []time.Duration // every wait started, in order
}

func newFakeClock(now time.Time) *fakeClock { return &fakeClock{now: now} }

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeClock) NewTimer(d time.Duration) *time.Timer {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.waits = append(f.waits, d)
	f.mu.Unlock()
	return time.NewTimer(0)
}

// Advance moves the clock on by d, as if an attempt took that long.
func (f *fakeClock) Advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

// Set moves the clock to t.
func (f *fakeClock) Set(t time.Time) {
	f.mu.Lock()
	f.now = t
	f.mu.Unlock()
}

func (f *fakeClock) Waits() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Duration(nil), f.waits...)
}

// attemptLog records, for each request an instance receives, when it arrived on
// a fake clock (relative to base) and the Dialtone-Timeout it carried.
type attemptLog struct {
	mu       sync.Mutex
	at       []time.Duration
	timeouts []time.Duration
}

func (l *attemptLog) record(clk *fakeClock, base time.Time, m *nats.Msg) {
	d, _ := dialtone.TimeoutFromHeader(m.Header)
	l.mu.Lock()
	l.at = append(l.at, clk.Now().Sub(base))
	l.timeouts = append(l.timeouts, d)
	l.mu.Unlock()
}

func (l *attemptLog) get() (at, timeouts []time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]time.Duration(nil), l.at...), append([]time.Duration(nil), l.timeouts...)
}
