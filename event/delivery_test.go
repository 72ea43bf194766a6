package event_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/dialtone-dev/dialtone"
	"github.com/dialtone-dev/dialtone/event"
	"github.com/dialtone-dev/dialtone/service"
)

// TestDelivery publishes N events to four subscribing services and counts, after
// every instance has stopped (so every delivered event has been handled), how
// often each service and each instance handled each event:
//
//   - billing, 2 instances, per service: every event once in all, both instances busy;
//   - mail, 1 instance, per service: every event once;
//   - cache, 3 instances, broadcast: every event once on every instance;
//   - audit, 1 instance, raw subscription to orders.> per service: every event once.
func TestDelivery(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		const n = 300
		tl := newTally()
		typed := func(svc string, opts ...event.SubscribeOption) func(s *service.Service) {
			return func(s *service.Service) {
				id := s.ID()
				if err := event.Subscribe(s, orderPlaced, func(ctx context.Context, ev *OrderPlaced) error {
					tl.add(ev.ID, svc, id)
					return nil
				}, opts...); err != nil {
					t.Fatal(err)
				}
			}
		}
		var insts []*instance
		for range 2 {
			insts = append(insts, e.start("billing", typed("billing")))
		}
		insts = append(insts, e.start("mail", typed("mail")))
		var caches []*instance
		for range 3 {
			c := e.start("cache", typed("cache", event.Broadcast()))
			caches = append(caches, c)
			insts = append(insts, c)
		}
		insts = append(insts, e.start("audit", func(s *service.Service) {
			err := event.SubscribeRaw(s, event.Spec{Name: "AllOrders", Subject: "orders.>"}, func(ctx context.Context, ev *event.Event) error {
				var o OrderPlaced
				if err := ev.Decode(&o); err != nil {
					return err
				}
				if ev.Subject != "orders.OrderPlaced" || ev.Name != "AllOrders" {
					t.Errorf("raw event: subject %q name %q", ev.Subject, ev.Name)
				}
				tl.add(o.ID, "audit")
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}))

		tl.expect("billing", n)
		tl.expect("mail", n)
		tl.expect("audit", n)
		for _, c := range caches {
			tl.expect(c.ID(), n)
		}
		pub := event.NewPublisher(e.Client)
		for i := range n {
			if err := event.Publish(context.Background(), pub, orderPlaced, &OrderPlaced{ID: strconv.Itoa(i), Total: i}); err != nil {
				t.Fatal(err)
			}
		}
		tl.wait(t, 20*time.Second)
		for _, in := range insts {
			stop(t, in.Service)
		}

		for _, key := range []string{"billing", "mail", "audit"} {
			distinct, total := tl.counts(key)
			t.Logf("%s: %d events handled, %d distinct", key, total, distinct)
			if distinct != n || total != n {
				t.Errorf("%s: %d events handled, %d distinct; want each of %d once", key, total, distinct, n)
			}
		}
		b0, _ := tl.counts(insts[0].ID())
		b1, _ := tl.counts(insts[1].ID())
		t.Logf("billing instances: %d + %d", b0, b1)
		if b0 == 0 || b1 == 0 || b0+b1 != n {
			t.Errorf("billing instances handled %d and %d; want both busy, %d in all", b0, b1, n)
		}
		for _, c := range caches {
			distinct, total := tl.counts(c.ID())
			if distinct != n || total != n {
				t.Errorf("cache instance %s: %d events handled, %d distinct; want each of %d once", c.ID(), total, distinct, n)
			}
		}
		if _, total := tl.counts("cache"); total != 3*n {
			t.Errorf("cache: %d events handled, want %d (3 instances x %d)", total, 3*n, n)
		}
	})
}

// TestSubscribeAfterStart subscribes on a running instance: the subscription
// takes events at once and is listed.
func TestSubscribeAfterStart(t *testing.T) {
	e := oneBusd(t)
	e.Client = e.Conn()
	in := e.start("late", nil)
	got := make(chan string, 1)
	if err := event.Subscribe(in.Service, orderPlaced, func(ctx context.Context, ev *OrderPlaced) error {
		got <- ev.ID
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := event.Publish(context.Background(), event.NewPublisher(e.Client), orderPlaced, &OrderPlaced{ID: "late-1"}); err != nil {
		t.Fatal(err)
	}
	select {
	case id := <-got:
		if id != "late-1" {
			t.Fatalf("got %q", id)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("not handled")
	}
	if evs := in.Info().Events; len(evs) != 1 || evs[0].QueueGroup != "late" {
		t.Errorf("$SRV.INFO events %+v", evs)
	}
	stop(t, in.Service)
	if err := event.Subscribe(in.Service, event.NewTopic[OrderPlaced](event.Spec{Subject: "orders.Other"}), func(ctx context.Context, ev *OrderPlaced) error { return nil }); dialtone.CodeOf(err) != dialtone.CodeFailedPrecondition {
		t.Errorf("subscribe on a stopped service: %v, want failed_precondition", err)
	}
}
