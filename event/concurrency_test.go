package event_test

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dialtone-dev/dialtone"
	"github.com/dialtone-dev/dialtone/event"
	"github.com/dialtone-dev/dialtone/heartbeat"
	"github.com/dialtone-dev/dialtone/service"
)

// peakCounter tracks how many handlers run at once, and the most there were.
type peakCounter struct{ running, peak atomic.Int32 }

func (p *peakCounter) enter() {
	n := p.running.Add(1)
	for {
		old := p.peak.Load()
		if n <= old || p.peak.CompareAndSwap(old, n) {
			return
		}
	}
}

func (p *peakCounter) leave() { p.running.Add(-1) }

// TestOrderedHandlesInArrivalOrder publishes a run of events from one
// publisher to an Ordered subscription on an instance that could run 16
// handlers at once: they are handled one at a time, in publishing order (one
// publisher, one subject: the order NATS keeps). A subscription without the
// option on the same instance runs its handlers concurrently.
func TestOrderedHandlesInArrivalOrder(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		const n = 500
		var ordered, pooled peakCounter
		var mu sync.Mutex
		var got []int
		done := make(chan struct{})
		pooledDone := make(chan struct{})
		var pooledN atomic.Int32
		e.start("ledger", func(s *service.Service) {
			if err := event.Subscribe(s, orderPlaced, func(ctx context.Context, ev *OrderPlaced) error {
				ordered.enter()
				defer ordered.leave()
				runtime.Gosched() // give a second handler, if there were one, the chance to overlap
				i, err := strconv.Atoi(ev.ID)
				if err != nil {
					return err
				}
				mu.Lock()
				got = append(got, i)
				if len(got) == n {
					close(done)
				}
				mu.Unlock()
				return nil
			}, event.Ordered()); err != nil {
				t.Fatal(err)
			}
			if err := event.Subscribe(s, orderPlaced, func(ctx context.Context, ev *OrderPlaced) error {
				pooled.enter()
				defer pooled.leave()
				time.Sleep(time.Millisecond) // long enough for the next events to find free slots
				if pooledN.Add(1) == n {
					close(pooledDone)
				}
				return nil
			}, event.WithName("Pooled"), event.Broadcast()); err != nil {
				t.Fatal(err)
			}
		}, service.WithMaxConcurrent(16))

		pub := event.NewPublisher(e.Client)
		for i := range n {
			if err := event.Publish(context.Background(), pub, orderPlaced, &OrderPlaced{ID: strconv.Itoa(i)}); err != nil {
				t.Fatal(err)
			}
		}
		for _, c := range []chan struct{}{done, pooledDone} {
			select {
			case <-c:
			case <-time.After(20 * time.Second):
				mu.Lock()
				t.Fatalf("ordered: %d of %d handled; pooled: %d", len(got), n, pooledN.Load())
			}
		}
		mu.Lock()
		defer mu.Unlock()
		for i, v := range got {
			if v != i {
				t.Fatalf("event %d handled in place %d; the order was %v...", v, i, got[:min(len(got), i+5)])
			}
		}
		if p := ordered.peak.Load(); p != 1 {
			t.Errorf("the ordered subscription ran %d handlers at once, want 1", p)
		}
		if p := pooled.peak.Load(); p < 2 {
			t.Errorf("the pooled subscription ran at most %d handler at once; want concurrency", p)
		}
	})
}

// TestMaxConcurrentLimitsTheSubscription holds the handlers of a subscription
// limited to 2 on an instance that allows 8: two start, the third waits until
// one ends; every event is handled.
func TestMaxConcurrentLimitsTheSubscription(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		const limit, events = 2, 12
		var pc peakCounter
		release := make(chan struct{})
		started := make(chan struct{}, events)
		done := make(chan struct{}, events)
		e.start("limited", func(s *service.Service) {
			if err := event.Subscribe(s, orderPlaced, func(ctx context.Context, ev *OrderPlaced) error {
				pc.enter()
				started <- struct{}{}
				<-release
				pc.leave()
				done <- struct{}{}
				return nil
			}, event.MaxConcurrent(limit)); err != nil {
				t.Fatal(err)
			}
		}, service.WithMaxConcurrent(8))

		pub := event.NewPublisher(e.Client)
		for i := range events {
			if err := event.Publish(context.Background(), pub, orderPlaced, &OrderPlaced{ID: fmt.Sprint(i)}); err != nil {
				t.Fatal(err)
			}
		}
		startedExactly(t, started, limit)
		close(release)
		for range events {
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("not every handler ran")
			}
		}
		if p := pc.peak.Load(); p != limit {
			t.Errorf("peak concurrency %d, want %d", p, limit)
		}
	})
}

// TestOrderedCountsAgainstTheInstanceLimit runs an ordered handler on an
// instance with one slot: while it runs, a call to an endpoint of the same
// instance waits, and the heartbeat shows the handler in flight.
func TestOrderedCountsAgainstTheInstanceLimit(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		release := make(chan struct{})
		inEvent := make(chan struct{}, 1)
		served := make(chan struct{}, 1)
		beats, err := e.Client.SubscribeSync(heartbeat.Subject("single"))
		if err != nil {
			t.Fatal(err)
		}
		defer beats.Unsubscribe()
		e.start("single", func(s *service.Service) {
			if err := event.Subscribe(s, orderPlaced, func(ctx context.Context, ev *OrderPlaced) error {
				inEvent <- struct{}{}
				<-release
				return nil
			}, event.Ordered()); err != nil {
				t.Fatal(err)
			}
			if err := service.Handle(s, "Work", func(ctx context.Context, req *struct{}) (*struct{}, error) {
				served <- struct{}{}
				return &struct{}{}, nil
			}); err != nil {
				t.Fatal(err)
			}
		}, service.WithMaxConcurrent(1))

		pub := event.NewPublisher(e.Client)
		if err := event.Publish(context.Background(), pub, orderPlaced, &OrderPlaced{ID: "1"}); err != nil {
			t.Fatal(err)
		}
		select {
		case <-inEvent:
		case <-time.After(10 * time.Second):
			t.Fatal("the event was not handled")
		}
		reply := make(chan error, 1)
		go func() {
			_, err := e.Client.Request("single.Work", []byte("{}"), 10*time.Second)
			reply <- err
		}()
		for deadline := time.Now().Add(10 * time.Second); ; {
			m, err := beats.NextMsg(time.Until(deadline))
			if err != nil {
				t.Fatalf("no heartbeat with the ordered handler in flight and the call queued: %v", err)
			}
			if h, err := heartbeat.Decode(m.Data); err == nil && h.Load.InFlight == 1 && h.Load.Queued == 1 {
				break
			}
		}
		select {
		case <-served:
			t.Fatal("the endpoint ran while the ordered handler held the only slot")
		default:
		}
		close(release)
		if err := <-reply; err != nil { // bounded by the request's timeout
			t.Fatalf("call: %v", err)
		}
	})
}

// TestOrderedDrainLosesNothing stops an instance whose ordered subscription has
// a backlog it received but has not handled: Stop returns once every one of
// them is handled, in order, and the instance handles nothing after. So does
// a subscription with MaxConcurrent(3), in its own order.
func TestOrderedDrainLosesNothing(t *testing.T) {
	t.Run("ordered", func(t *testing.T) { testOwnQueueDrain(t, true, event.Ordered()) })
	t.Run("max3", func(t *testing.T) { testOwnQueueDrain(t, false, event.MaxConcurrent(3)) })
}

func testOwnQueueDrain(t *testing.T, ordered bool, opt event.SubscribeOption) {
	forEachBackend(t, func(t *testing.T, e *env) {
		const n = 200
		gate := make(chan struct{})
		var mu sync.Mutex
		var got []int
		a := e.start("billing", func(s *service.Service) {
			if err := event.Subscribe(s, orderPlaced, func(ctx context.Context, ev *OrderPlaced) error {
				<-gate
				i, _ := strconv.Atoi(ev.ID)
				mu.Lock()
				got = append(got, i)
				mu.Unlock()
				return nil
			}, opt); err != nil {
				t.Fatal(err)
			}
		})
		aIn := a.nc.Stats().InMsgs
		pub := event.NewPublisher(e.Client)
		for i := range n {
			if err := event.Publish(context.Background(), pub, orderPlaced, &OrderPlaced{ID: strconv.Itoa(i)}); err != nil {
				t.Fatal(err)
			}
		}
		// The reply comes back the way the events went, after them: a has them all.
		if _, err := e.Client.Request("$SRV.PING.billing."+a.ID(), nil, 5*time.Second); err != nil {
			t.Fatal(err)
		}
		if got := a.nc.Stats().InMsgs - aIn; got != n+1 {
			t.Fatalf("the instance received %d messages, want %d events and the PING", got, n)
		}
		draining := watchDraining(t, e.Client, "billing", a.ID())
		stopped := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			stopped <- a.Stop(ctx)
		}()
		select {
		case <-draining:
		case <-time.After(10 * time.Second):
			t.Fatal("no draining heartbeat")
		}
		close(gate)
		select {
		case err := <-stopped:
			if err != nil {
				t.Fatalf("stop: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("stop did not return")
		}
		mu.Lock()
		defer mu.Unlock()
		if len(got) != n {
			t.Fatalf("the stopped instance handled %d of the %d events it received", len(got), n)
		}
		if !ordered {
			slices.Sort(got)
		}
		for i, v := range got {
			if v != i {
				t.Fatalf("event %d handled in place %d (or twice)", v, i)
			}
		}
		st := eventStats(a.Service)["OrderPlaced"]
		if st.NumEvents != n || st.NumErrors != 0 || st.NumDropped != 0 {
			t.Errorf("stats %+v; want %d events, no errors, none dropped", st, n)
		}
	})
}

// TestMaxConcurrentRefusesZero: a limit below 1 is a mistake, said at once.
func TestMaxConcurrentRefusesZero(t *testing.T) {
	s, err := service.New(bustestConn(t), service.Config{Name: "billing", Version: "1.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	err = event.Subscribe(s, orderPlaced, func(ctx context.Context, ev *OrderPlaced) error { return nil }, event.MaxConcurrent(0))
	if dialtone.CodeOf(err) != dialtone.CodeInvalidArgument {
		t.Fatalf("MaxConcurrent(0): %v, want invalid_argument", err)
	}
	if err := s.AddConsumer(service.Consumer{Name: "X", Subject: "x", MaxConcurrent: -1,
		Handler: func(context.Context, service.Request, any) error { return nil }}); dialtone.CodeOf(err) != dialtone.CodeInvalidArgument {
		t.Fatalf("Consumer.MaxConcurrent -1: %v, want invalid_argument", err)
	}
}

// TestStopGivesUpOnAStuckOrderedHandler: a handler that does not return holds
// up its subscription's events, and Stop, bounded by its context, gives up on
// it: it returns deadline_exceeded, and the handler's context ends.
func TestStopGivesUpOnAStuckOrderedHandler(t *testing.T) {
	forEachDelivery(t, func(t *testing.T, e *env, opts []event.SubscribeOption) {
		entered := make(chan struct{}, 4)
		ended := make(chan error, 4)
		failures := make(chan service.ErrorEvent, 8)
		in := e.start("stuck", func(s *service.Service) {
			if err := event.Subscribe(s, orderPlaced, func(ctx context.Context, ev *OrderPlaced) error {
				entered <- struct{}{}
				<-ctx.Done()
				ended <- ctx.Err()
				return ctx.Err()
			}, opts...); err != nil {
				t.Fatal(err)
			}
		}, service.WithMaxConcurrent(1), service.WithErrorHandler(func(ctx context.Context, ev service.ErrorEvent) { failures <- ev }))
		pub := event.NewPublisher(e.Client)
		for i := range 3 {
			if err := event.Publish(context.Background(), pub, orderPlaced, &OrderPlaced{ID: strconv.Itoa(i)}); err != nil {
				t.Fatal(err)
			}
		}
		select {
		case <-entered:
		case <-time.After(10 * time.Second):
			t.Fatal("not handled")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		if err := in.Stop(ctx); dialtone.CodeOf(err) != dialtone.CodeDeadlineExceeded {
			t.Fatalf("stop: %v, want deadline_exceeded", err)
		}
		select {
		case err := <-ended:
			if err == nil {
				t.Error("the handler's context ended without an error")
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the stuck handler's context did not end")
		}
		// Every event is accounted for: handled (here, failed) or dropped. The
		// shared pool fails those still waiting for the slot; an ordered
		// subscription's backlog, which nats.go discards, counts as dropped.
		for {
			st := eventStats(in.Service)["OrderPlaced"]
			if st.NumEvents+st.NumDropped == 3 && st.NumErrors == st.NumEvents {
				break
			}
			select {
			case <-failures:
			case <-time.After(10 * time.Second):
				t.Fatalf("stats %+v: want the 3 events handled or dropped", st)
			}
		}
	})
}

// TestOwnQueueBacklogIsQueued blocks the handlers of an ordered subscription
// and of one with MaxConcurrent(2) and publishes more events than they take:
// the heartbeat counts the rest as queued, whether they wait in the
// subscription's own queue or, for the ordered one, in the subscription
// itself.
func TestOwnQueueBacklogIsQueued(t *testing.T) {
	for _, tc := range []struct {
		name    string
		opt     event.SubscribeOption
		running int
	}{{"ordered", event.Ordered(), 1}, {"max2", event.MaxConcurrent(2), 2}} {
		t.Run(tc.name, func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, e *env) {
				release := make(chan struct{})
				inEvent := make(chan struct{}, 8)
				beats, err := e.Client.SubscribeSync(heartbeat.Subject("backlog"))
				if err != nil {
					t.Fatal(err)
				}
				defer beats.Unsubscribe()
				in := e.start("backlog", func(s *service.Service) {
					if err := event.Subscribe(s, orderPlaced, func(ctx context.Context, ev *OrderPlaced) error {
						inEvent <- struct{}{}
						<-release
						return nil
					}, tc.opt); err != nil {
						t.Fatal(err)
					}
				})
				defer func() {
					close(release)
					stop(t, in.Service)
				}()
				const total = 5
				pub := event.NewPublisher(e.Client)
				for i := range total {
					if err := event.Publish(context.Background(), pub, orderPlaced, &OrderPlaced{ID: strconv.Itoa(i)}); err != nil {
						t.Fatal(err)
					}
				}
				for range tc.running {
					select {
					case <-inEvent:
					case <-time.After(10 * time.Second):
						t.Fatal("the events were not handled")
					}
				}
				want := total - tc.running
				var last *heartbeat.Heartbeat
				for deadline := time.Now().Add(10 * time.Second); ; {
					m, err := beats.NextMsg(time.Until(deadline))
					if err != nil {
						t.Fatalf("no heartbeat with %d in flight and %d queued (last %+v): %v", tc.running, want, last, err)
					}
					if h, err := heartbeat.Decode(m.Data); err == nil {
						last = h
						if h.Load.InFlight == tc.running && h.Load.Queued == want {
							break
						}
					}
				}
			})
		})
	}
}
