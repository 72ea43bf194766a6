package discovery

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/dialtone-dev/dialtone/heartbeat"
	"github.com/nats-io/nats.go"
)

// fakeClock is a settable clock for the registry's bookkeeping.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func testRegistry(t testing.TB) (*Registry, *fakeClock) {
	clk := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	r := newRegistry(nil, config{logger: slog.New(slog.DiscardHandler), watchBuffer: 1024}, clk.now)
	return r, clk
}

func hb(id, name, version string, seq uint64, status heartbeat.Status) *heartbeat.Heartbeat {
	return &heartbeat.Heartbeat{
		Schema: heartbeat.Schema, ID: id, Name: name, Version: version, Seq: seq, Status: status,
		Inbox: "_DT." + name + "." + id, IntervalMS: 1000,
		Endpoints: []heartbeat.Endpoint{{Name: "E", Subject: name + ".E", QueueGroup: name}},
	}
}

func next(t *testing.T, ch <-chan Event) Event {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("watch channel closed")
		}
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no event")
	}
	return Event{}
}

func TestRegistryLifecycleEvents(t *testing.T) {
	r, clk := testRegistry(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r.apply(hb("a", "svc", "1.0.0", 1, heartbeat.StatusUp), clk.now())
	w := r.Watch(ctx)
	if ev := next(t, w); ev.Type != Joined || ev.Instance.ID != "a" {
		t.Fatalf("replay: %+v", ev)
	}

	r.apply(hb("b", "svc", "2.0.0", 1, heartbeat.StatusUp), clk.now())
	if ev := next(t, w); ev.Type != Joined || ev.Instance.ID != "b" {
		t.Fatalf("join: %+v", ev)
	}
	// Same identity, new load: no event. Then a metadata change: Changed.
	h := hb("a", "svc", "1.0.0", 2, heartbeat.StatusUp)
	h.Load = heartbeat.Load{InFlight: 5, Capacity: 8}
	r.apply(h, clk.now())
	h = hb("a", "svc", "1.0.0", 3, heartbeat.StatusUp)
	h.Metadata = map[string]string{"zone": "b"}
	r.apply(h, clk.now())
	if ev := next(t, w); ev.Type != Changed || ev.Instance.Metadata["zone"] != "b" || ev.Instance.Seq != 3 {
		t.Fatalf("change: %+v", ev)
	}
	// Stale and repeated documents are ignored.
	r.apply(hb("a", "svc", "9.9.9", 2, heartbeat.StatusUp), clk.now())
	r.apply(hb("a", "svc", "9.9.9", 3, heartbeat.StatusUp), clk.now())
	if inst, _ := r.Instance("a"); inst.Version != "1.0.0" {
		t.Fatalf("stale heartbeat applied: %+v", inst)
	}

	if got := r.Instances("svc", ByVersion("2.0.0")); len(got) != 1 || got[0].ID != "b" {
		t.Fatalf("by version: %+v", got)
	}
	if got := r.Services(); len(got) != 1 || got[0].Instances != 2 || fmt.Sprint(got[0].Versions) != "[1.0.0 2.0.0]" {
		t.Fatalf("services: %+v", got)
	}

	r.apply(hb("a", "svc", "1.0.0", 4, heartbeat.StatusDraining), clk.now())
	if ev := next(t, w); ev.Type != Draining || ev.Instance.ID != "a" {
		t.Fatalf("draining: %+v", ev)
	}
	if got := r.Instances("svc", ByStatus(heartbeat.StatusUp)); len(got) != 1 || got[0].ID != "b" {
		t.Fatalf("up only: %+v", got)
	}
	r.apply(hb("a", "svc", "1.0.0", 5, heartbeat.StatusStopped), clk.now())
	if ev := next(t, w); ev.Type != Left || ev.Instance.ID != "a" {
		t.Fatalf("left: %+v", ev)
	}
	if _, ok := r.Instance("a"); ok {
		t.Fatal("left instance still listed")
	}
	// A late heartbeat from before the stop does not resurrect it.
	r.apply(hb("a", "svc", "1.0.0", 4, heartbeat.StatusDraining), clk.now())
	if _, ok := r.Instance("a"); ok {
		t.Fatal("late heartbeat resurrected a stopped instance")
	}

	// b stays silent: expired after 3 intervals, not before.
	r.mu.Lock()
	clk.add(3*time.Second - time.Millisecond)
	r.expireLocked(clk.now())
	r.mu.Unlock()
	if _, ok := r.Instance("b"); !ok {
		t.Fatal("expired early")
	}
	r.mu.Lock()
	clk.add(time.Millisecond)
	r.expireLocked(clk.now())
	r.mu.Unlock()
	if ev := next(t, w); ev.Type != Expired || ev.Instance.ID != "b" {
		t.Fatalf("expired: %+v", ev)
	}
	if len(r.Services()) != 0 {
		t.Fatalf("services left: %+v", r.Services())
	}
	// A stopped heartbeat for an unknown instance adds nothing.
	r.apply(hb("c", "svc", "1.0.0", 9, heartbeat.StatusStopped), clk.now())
	if len(r.Services()) != 0 {
		t.Fatal("stopped instance joined")
	}
	cancel()
	for range w { // closed once ctx ends
	}
}

// TestSweepWakesAtEarliestDeadline: the sweeper is scheduled for the earliest
// expiry, not a fixed tick: a new instance that promises a shorter interval
// brings the wake-up forward, and a heartbeat that moves a deadline later does
// not push it back past another instance's.
func TestSweepWakesAtEarliestDeadline(t *testing.T) {
	r, clk := testRegistry(t)
	go r.sweep()
	defer r.Close()
	t0 := clk.now()
	wake := func() time.Time {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.nextWake
	}
	r.apply(hb("a", "svc", "1.0.0", 1, heartbeat.StatusUp), t0) // 1s interval
	if got := wake(); !got.Equal(t0.Add(3 * time.Second)) {
		t.Fatalf("wake at %v, want the deadline t0+3s", got.Sub(t0))
	}
	fast := hb("b", "svc", "1.0.0", 1, heartbeat.StatusUp)
	fast.IntervalMS = 200
	r.apply(fast, t0)
	if got := wake(); !got.Equal(t0.Add(600 * time.Millisecond)) {
		t.Fatalf("wake at %v, want b's deadline t0+600ms", got.Sub(t0))
	}
	r.apply(hb("a", "svc", "1.0.0", 2, heartbeat.StatusUp), t0.Add(time.Second))
	if got := wake(); !got.Equal(t0.Add(600 * time.Millisecond)) {
		t.Fatalf("wake at %v after a's later heartbeat, want b's deadline t0+600ms", got.Sub(t0))
	}
}

func TestWatchDropsOldestWhenFull(t *testing.T) {
	// A watcher whose reader is not reading (its run loop is not started, so
	// nothing takes events off the queue while the test looks at it).
	r, _ := testRegistry(t)
	w := &watcher{r: r, out: make(chan Event), notify: make(chan struct{}, 1), stop: make(chan struct{}), limit: 4}
	for i := range 10 {
		w.push(Event{Type: Joined, Instance: Instance{Heartbeat: heartbeat.Heartbeat{ID: fmt.Sprint(i)}}})
	}
	var ids []string
	for _, ev := range w.queue {
		ids = append(ids, ev.Instance.ID)
	}
	if fmt.Sprint(ids) != "[6 7 8 9]" || w.dropped != 6 {
		t.Fatalf("queue %v, dropped %d; want the newest 4 and 6 dropped", ids, w.dropped)
	}
	// The reader then gets the newest events in order, and the first of them says
	// how many were dropped before it.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.run(ctx)
	for i, want := range []string{"6", "7", "8", "9"} {
		ev := next(t, w.out)
		if ev.Instance.ID != want {
			t.Fatalf("got %s, want %s", ev.Instance.ID, want)
		}
		if wantDropped := map[bool]int{true: 6}[i == 0]; ev.Dropped != wantDropped {
			t.Fatalf("event %s: Dropped = %d, want %d", want, ev.Dropped, wantDropped)
		}
	}
}

// BenchmarkRegistryHeartbeat1000 feeds heartbeats of 1,000 instances (20 services)
// through the registry's message handler, round after round as they would arrive
// at 1s intervals: ns/op and allocs/op are the cost of one heartbeat (decode and
// update). Documents are encoded up front so the loop measures the registry.
func BenchmarkRegistryHeartbeat1000(b *testing.B) {
	r, _ := testRegistry(b)
	r.now = time.Now
	const n, gens = 1000, 50
	docs := make([][]*nats.Msg, gens)
	for g := range gens {
		docs[g] = make([]*nats.Msg, n)
		for i := range n {
			h := hb(fmt.Sprintf("inst%04d", i), fmt.Sprintf("svc%02d", i%20), "1.0.0", uint64(g+1), heartbeat.StatusUp)
			h.Metadata = map[string]string{"zone": "a"}
			h.Load = heartbeat.Load{InFlight: g % 8, Capacity: 64}
			data, err := heartbeat.Encode(h)
			if err != nil {
				b.Fatal(err)
			}
			docs[g][i] = &nats.Msg{Subject: heartbeat.Subject(h.Name), Data: data}
		}
	}
	rewind := func() { // back to generation 0 without events
		r.mu.Lock()
		for _, e := range r.byID {
			e.inst.Seq = 0
		}
		r.mu.Unlock()
	}
	for i := range n {
		r.onMsg(docs[0][i])
	}
	rewind()
	b.ReportAllocs()
	b.ResetTimer()
	k := 0
	for b.Loop() {
		g, i := (k/n)%gens, k%n
		if i == 0 && g == 0 && k > 0 {
			b.StopTimer()
			rewind()
			b.StartTimer()
		}
		r.onMsg(docs[g][i])
		k++
	}
	b.StopTimer()
	if got := len(r.byID); got != n {
		b.Fatalf("%d instances, want %d", got, n)
	}
}

// TestRegistryMemoryFlat: 1,000 instances beating round after round must not make
// the registry grow: the heap after 25 rounds is what it was after 5.
func TestRegistryMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	r, _ := testRegistry(t)
	r.now = time.Now
	const n = 1000
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := r.Watch(ctx)
	go func() {
		for range events { // a watcher that keeps up
		}
	}()
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	var base uint64
	for round := 1; round <= 25; round++ {
		for i := range n {
			h := hb(fmt.Sprintf("inst%04d", i), fmt.Sprintf("svc%02d", i%20), "1.0.0", uint64(round), heartbeat.StatusUp)
			h.Load = heartbeat.Load{InFlight: round % 7, Capacity: 64}
			data, _ := heartbeat.Encode(h)
			r.onMsg(&nats.Msg{Subject: heartbeat.Subject(h.Name), Data: data})
		}
		if round == 5 {
			base = heap()
		}
	}
	after := heap()
	t.Logf("heap after 5 rounds %d KiB, after 25 rounds %d KiB", base/1024, after/1024)
	if after > base+base/5 {
		t.Fatalf("heap grew from %d to %d bytes", base, after)
	}
	if got := len(r.Instances("svc07")); got != n/20 {
		t.Fatalf("svc07 has %d instances", got)
	}
}
