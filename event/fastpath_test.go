package event_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/dialtone-dev/dialtone"
	"github.com/dialtone-dev/dialtone/event"
	"github.com/dialtone-dev/dialtone/service"
)

// TestIdleInterceptorsAreSkippedOnlyWhenIdle: while nothing records, a typed
// publish sends no header and the consumer skips the standard interceptors;
// the moment an event carries something for them they run again. An event with
// a Dialtone-Timeout header gets its deadline, one with a Header option sends
// it, and a panic is still recovered and a bad event still refused on the
// skipping path.
func TestIdleInterceptorsAreSkippedOnlyWhenIdle(t *testing.T) {
	forEachDelivery(t, func(t *testing.T, e *env, opts []event.SubscribeOption) {
		type seenEvent struct {
			id          string
			header      nats.Header
			hasDeadline bool
		}
		got := make(chan seenEvent, 8)
		failed := make(chan service.ErrorEvent, 8)
		in := e.start("billing", func(s *service.Service) {
			if err := event.SubscribeRaw(s, orderPlaced.Spec(), func(ctx context.Context, ev *event.Event) error {
				var o OrderPlaced
				if err := ev.Decode(&o); err != nil {
					return err
				}
				if o.ID == "panic" {
					panic("boom")
				}
				_, ok := ctx.Deadline()
				got <- seenEvent{id: o.ID, header: ev.Header, hasDeadline: ok}
				return nil
			}, opts...); err != nil {
				t.Fatal(err)
			}
		}, service.WithErrorHandler(func(ctx context.Context, ev service.ErrorEvent) { failed <- ev }))
		pub := event.NewPublisher(e.Client)
		ctx := context.Background()
		next := func() seenEvent {
			t.Helper()
			select {
			case ev := <-got:
				return ev
			case <-time.After(10 * time.Second):
				t.Fatal("not handled")
			}
			return seenEvent{}
		}

		if err := event.Publish(ctx, pub, orderPlaced, &OrderPlaced{ID: "plain"}); err != nil {
			t.Fatal(err)
		}
		if ev := next(); ev.header != nil || ev.hasDeadline {
			t.Errorf("plain event: header %v, deadline %v; want no header, no deadline", ev.header, ev.hasDeadline)
		}
		if err := event.Publish(ctx, pub, orderPlaced, &OrderPlaced{ID: "timed"}, event.Header(dialtone.HeaderTimeout, "60000"), event.Header("X-Tenant", "acme")); err != nil {
			t.Fatal(err)
		}
		if ev := next(); ev.header.Get("X-Tenant") != "acme" || !ev.hasDeadline {
			t.Errorf("event with headers: header %v, deadline %v; want X-Tenant and a deadline", ev.header, ev.hasDeadline)
		}
		if err := event.Publish(ctx, pub, orderPlaced, &OrderPlaced{ID: "panic"}); err != nil {
			t.Fatal(err)
		}
		select {
		case ev := <-failed:
			if dialtone.CodeOf(ev.Err) != dialtone.CodeInternal {
				t.Errorf("panic reported as %v", ev.Err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the panic was not reported")
		}
		if err := event.Publish(ctx, pub, orderPlaced, &OrderPlaced{ID: "after"}); err != nil {
			t.Fatal(err)
		}
		if ev := next(); ev.id != "after" {
			t.Errorf("handled %q after the panic", ev.id)
		}
		stop(t, in.Service)
		if st := eventStats(in.Service)["OrderPlaced"]; st.NumEvents != 4 || st.NumErrors != 1 {
			t.Errorf("stats %+v; want 4 events, 1 error", st)
		}
	})
}
