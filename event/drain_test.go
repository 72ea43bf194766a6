package event_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dialtone-dev/dialtone/event"
	"github.com/dialtone-dev/dialtone/service"
)

// TestDrainLosesNothing stops a billing instance while it has a backlog of events
// it received but has not handled, and while events keep coming, with a second
// instance serving. Every event it received is handled before Stop returns,
// nothing reaches it after, and every event published is handled exactly once by
// billing as a whole.
//
// The backlog does not depend on how the bus shares events out: instance a is
// alone in its queue group for the first events, and its handlers are held until
// it is stopping.
func TestDrainLosesNothing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		const phase1, phase2, phase3 = 200, 200, 50
		tl := newTally()
		gate := make(chan struct{})
		var aHandled, aHandledAfterStop atomic.Int64
		var stopping atomic.Bool
		a := e.start("billing", func(s *service.Service) {
			if err := event.Subscribe(s, orderPlaced, func(ctx context.Context, ev *OrderPlaced) error {
				<-gate // the instance's two slots fill up and the rest wait in its queue
				aHandled.Add(1)
				if stopping.Load() {
					aHandledAfterStop.Add(1)
				}
				tl.add(ev.ID, "billing", "a")
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}, service.WithMaxConcurrent(2))
		aIn := a.nc.Stats().InMsgs

		pub := event.NewPublisher(e.Client)
		publish := func(from, to int) {
			for i := from; i < to; i++ {
				if err := event.Publish(context.Background(), pub, orderPlaced, &OrderPlaced{ID: strconv.Itoa(i)}); err != nil {
					t.Fatal(err)
				}
			}
			if err := e.Client.Flush(); err != nil {
				t.Fatal(err)
			}
		}
		publish(0, phase1)
		// The reply comes back the way the events went, after them: a has them all.
		if _, err := e.Client.Request("$SRV.PING.billing."+a.ID(), nil, 5*time.Second); err != nil {
			t.Fatal(err)
		}
		if got := a.nc.Stats().InMsgs - aIn; got != phase1+1 {
			t.Fatalf("instance a received %d messages, want %d events and the PING", got, phase1)
		}
		aIn++ // the PING: from here InMsgs counts events only

		e.start("billing", func(s *service.Service) {
			if err := event.Subscribe(s, orderPlaced, func(ctx context.Context, ev *OrderPlaced) error {
				tl.add(ev.ID, "billing", "b")
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		})
		draining := watchDraining(t, e.Client, "billing", a.ID())

		stopping.Store(true)
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
		publish(phase1, phase1+phase2) // some may still reach a, until the server has its UNSUB
		close(gate)
		select {
		case err := <-stopped:
			if err != nil {
				t.Fatalf("stop: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("stop did not return")
		}
		delivered := a.nc.Stats().InMsgs - aIn
		handled := aHandled.Load()
		publish(phase1+phase2, phase1+phase2+phase3)

		const all = phase1 + phase2 + phase3
		tl.expect("billing", all)
		tl.wait(t, 20*time.Second)
		if got := aHandled.Load(); got != handled {
			t.Errorf("the stopped instance handled %d events after Stop returned", got-handled)
		}
		distinct, total := tl.counts("billing")
		_, bTotal := tl.counts("b")
		t.Logf("stopped instance: %d events delivered, %d handled, %d of them after Stop began; the other instance: %d; billing: %d handled, %d distinct, %d published",
			delivered, handled, aHandledAfterStop.Load(), bTotal, total, distinct, all)
		if uint64(handled) != delivered {
			t.Errorf("the stopped instance received %d events and handled %d", delivered, handled)
		}
		if aHandledAfterStop.Load() < phase1 {
			t.Errorf("the stopped instance handled %d events after Stop began; want at least its backlog of %d", aHandledAfterStop.Load(), phase1)
		}
		if distinct != all || total != all {
			t.Errorf("billing handled %d events, %d distinct; want each of %d once", total, distinct, all)
		}
	})
}
