package orders

import (
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/dialtone-dev/dialtone/event"
	"github.com/dialtone-dev/dialtone/internal/bustest"
	"github.com/dialtone-dev/dialtone/service"
)

// billing implements Events by recording what it got.
type billing struct {
	got chan string
}

func (b *billing) OrderPlaced(ctx context.Context, ev *OrderPlaced) error {
	b.got <- "placed " + ev.ID
	return nil
}

func (b *billing) OrderCancelled(ctx context.Context, ev *OrderCancelled) error {
	b.got <- "cancelled " + ev.ID + " (" + ev.Reason + ")"
	return nil
}

// placeAndCancel is code written against the interface: it takes the generated
// publisher or a local implementation alike.
func placeAndCancel(ctx context.Context, evs Events, id string) error {
	if err := evs.OrderPlaced(ctx, &OrderPlaced{ID: id, Total: 100}); err != nil {
		return err
	}
	return evs.OrderCancelled(ctx, &OrderCancelled{ID: id, Reason: "changed mind"})
}

func TestGeneratedEvents(t *testing.T) {
	url := bustest.Busd(t)
	ctx := context.Background()
	start := func(name string, setup func(s *service.Service)) *service.Service {
		t.Helper()
		s, err := service.New(bustest.Connect(t, url), service.Config{Name: name, Version: "1.0.0"},
			service.WithLogger(slog.New(slog.DiscardHandler)))
		if err != nil {
			t.Fatal(err)
		}
		setup(s)
		if err := s.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Stop(context.Background()) })
		return s
	}
	impl := &billing{got: make(chan string, 8)}
	bill := start("billing", func(s *service.Service) {
		if err := RegisterEvents(s, impl); err != nil {
			t.Fatal(err)
		}
	})
	var pub *EventsPublisher
	ord := start("orders", func(s *service.Service) {
		pub = NewEventsPublisher(event.NewPublisher(bustest.Connect(t, url), event.WithService(s)))
	})

	// The same code drives the local implementation and, through the publisher, billing.
	local := &billing{got: make(chan string, 8)}
	if err := placeAndCancel(ctx, local, "o-0"); err != nil {
		t.Fatal(err)
	}
	if err := pub.OrderPlaced(ctx, &OrderPlaced{}); err != nil { // invalid: billing drops it
		t.Fatal(err)
	}
	if err := placeAndCancel(ctx, pub, "o-1"); err != nil {
		t.Fatal(err)
	}
	// Events are handled concurrently, in no particular order.
	got := map[string]bool{}
	for range 2 {
		select {
		case ev := <-impl.got:
			got[ev] = true
		case <-time.After(5 * time.Second):
			t.Fatalf("billing got only %v", got)
		}
	}
	if !got["placed o-1"] || !got["cancelled o-1 (changed mind)"] {
		t.Errorf("billing got %v", got)
	}
	if got := <-local.got; got != "placed o-0" {
		t.Errorf("local: %q", got)
	}
	if err := bill.Stop(ctx); err != nil { // every delivered event handled: counters final
		t.Fatal(err)
	}
	if n := bill.Stats().Events[0].NumErrors; n != 1 {
		t.Errorf("billing counted %d invalid OrderPlaced events, want 1", n)
	}

	for _, c := range []struct {
		s    *service.Service
		role string
	}{{ord, "publish"}, {bill, "consume"}} {
		info := c.s.Info()
		if len(info.Events) != 2 {
			t.Fatalf("%s: events %+v", c.s.Name(), info.Events)
		}
		for i, want := range []struct{ name, subject, schema string }{
			{"OrderPlaced", OrderPlacedSubjectWant, eventsOrderPlacedSchema},
			{"OrderCancelled", "orders.v2.cancelled", eventsOrderCancelledSchema},
		} {
			ev := info.Events[i]
			if ev.Name != want.name || ev.Subject != want.subject || ev.Role != c.role || ev.Metadata["dialtone.event_schema"] != want.schema {
				t.Errorf("%s: event %d: %+v", c.s.Name(), i, ev)
			}
			if !json.Valid([]byte(ev.Metadata["dialtone.event_schema"])) {
				t.Errorf("%s: schema of %s is not JSON", c.s.Name(), ev.Name)
			}
		}
	}
	if err := RegisterEvents(ord, nil); err == nil {
		t.Error("RegisterEvents with a nil implementation: no error")
	}
}

// OrderPlacedSubjectWant is the default subject: <service>.<method>.
const OrderPlacedSubjectWant = "orders.OrderPlaced"
