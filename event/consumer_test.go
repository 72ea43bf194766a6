package event_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dialtone-dev/dialtone"
	"github.com/dialtone-dev/dialtone/event"
	"github.com/dialtone-dev/dialtone/heartbeat"
	"github.com/dialtone-dev/dialtone/internal/bustest"
	"github.com/dialtone-dev/dialtone/service"
)

// forEachDelivery runs f on both backends, for a subscription on the shared
// workers (opts nil) and for an ordered one.
func forEachDelivery(t *testing.T, f func(t *testing.T, e *env, opts []event.SubscribeOption)) {
	t.Helper()
	for _, c := range []struct {
		name string
		opts []event.SubscribeOption
	}{{"shared", nil}, {"ordered", []event.SubscribeOption{event.Ordered()}}} {
		t.Run(c.name, func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, e *env) { f(t, e, c.opts) })
		})
	}
}

// eventStats returns an instance's events' counters by name.
func eventStats(s *service.Service) map[string]service.EventStats {
	out := map[string]service.EventStats{}
	for _, es := range s.Stats().Events {
		out[es.Name] = es
	}
	return out
}

// TestFailuresStayWithTheConsumer publishes an event that fails validation, one
// that is not JSON, one whose handler fails and one whose handler panics, then a
// good one. The publisher sees no error; the consumer logs each failure, counts
// it, and handles the good event. So does an ordered subscription, whose
// handlers run on the subscription's delivery goroutine.
func TestFailuresStayWithTheConsumer(t *testing.T) {
	forEachDelivery(t, func(t *testing.T, e *env, opts []event.SubscribeOption) {
		var logs bustest.Buffer
		handled := make(chan string, 16)
		reported := make(chan service.ErrorEvent, 16)
		in := e.start("billing", func(s *service.Service) {
			if err := event.Subscribe(s, orderPlaced, func(ctx context.Context, ev *OrderPlaced) error {
				switch ev.ID {
				case "fail":
					return dialtone.Errorf(dialtone.CodeFailedPrecondition, "card declined")
				case "panic":
					panic("boom")
				}
				handled <- ev.ID
				return nil
			}, opts...); err != nil {
				t.Fatal(err)
			}
		}, service.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))), service.WithErrorHandler(func(ctx context.Context, ev service.ErrorEvent) {
			reported <- ev
		}))

		pub := event.NewPublisher(e.Client)
		ctx := context.Background()
		for _, ev := range []OrderPlaced{{ID: ""}, {ID: "neg", Total: -1}, {ID: "fail"}, {ID: "panic"}} {
			if err := event.Publish(ctx, pub, orderPlaced, &ev); err != nil {
				t.Fatalf("publish %+v: %v", ev, err)
			}
		}
		if err := pub.PublishRaw(ctx, orderPlaced.Spec(), []byte("not json"), nil); err != nil {
			t.Fatal(err)
		}
		if err := event.Publish(ctx, pub, orderPlaced, &OrderPlaced{ID: "good"}); err != nil {
			t.Fatal(err)
		}
		select {
		case id := <-handled:
			if id != "good" {
				t.Fatalf("handler saw %q", id)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the good event was not handled")
		}
		stop(t, in.Service) // every delivered event handled: counters and logs final

		st := eventStats(in.Service)["OrderPlaced"]
		if st.NumEvents != 6 || st.NumErrors != 5 {
			t.Errorf("stats: %d events, %d errors; want 6 and 5", st.NumEvents, st.NumErrors)
		}
		out := logs.String()
		for _, want := range []string{
			`code=invalid_argument err="invalid_argument: event OrderPlaced is invalid: id (required)"`,
			`code=invalid_argument err="invalid_argument: event OrderPlaced is invalid: total (min)"`,
			`code=invalid_argument err="invalid_argument: event OrderPlaced: decode request: invalid character`,
			`code=failed_precondition err="failed_precondition: card declined"`,
			`level=ERROR msg="service: handler panic" service=billing endpoint=OrderPlaced panic=boom`,
		} {
			if !strings.Contains(out, want) {
				t.Errorf("log lacks %s\nlog:\n%s", want, out)
			}
		}
		if n := strings.Count(out, "level=WARN"); n != 4 {
			t.Errorf("%d lines at Warn, want 4 (the panic is logged once, at Error)\n%s", n, out)
		}
		close(reported)
		codes := map[dialtone.Code]int{}
		for ev := range reported {
			if ev.Endpoint != "OrderPlaced" || ev.Subject != "orders.OrderPlaced" {
				t.Errorf("error handler saw %+v", ev)
			}
			codes[dialtone.CodeOf(ev.Err)]++
		}
		if codes[dialtone.CodeInvalidArgument] != 3 || codes[dialtone.CodeFailedPrecondition] != 1 || codes[dialtone.CodeInternal] != 1 {
			t.Errorf("error handler saw codes %v; want 3 invalid_argument, 1 failed_precondition, 1 internal", codes)
		}
	})
}

// TestConcurrencyLimitIsShared runs event handlers and an endpoint's handler on
// an instance with a limit of 3: never more than 3 run at once, and all of
// them get their turn.
func TestConcurrencyLimitIsShared(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		const limit, events = 3, 30
		var running, peak atomic.Int32
		enter := func() {
			n := running.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
		}
		release := make(chan struct{})
		started := make(chan struct{}, events+1)
		done := make(chan struct{}, events+1)
		work := func() {
			enter()
			started <- struct{}{}
			<-release
			running.Add(-1)
			done <- struct{}{}
		}
		beats, err := e.Client.SubscribeSync(heartbeat.Subject("limited"))
		if err != nil {
			t.Fatal(err)
		}
		defer beats.Unsubscribe()
		e.start("limited", func(s *service.Service) {
			if err := event.Subscribe(s, orderPlaced, func(ctx context.Context, ev *OrderPlaced) error {
				work()
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if err := service.Handle(s, "Work", func(ctx context.Context, req *struct{}) (*struct{}, error) {
				work()
				return &struct{}{}, nil
			}); err != nil {
				t.Fatal(err)
			}
		}, service.WithMaxConcurrent(limit))

		pub := event.NewPublisher(e.Client)
		for i := range events {
			if err := event.Publish(context.Background(), pub, orderPlaced, &OrderPlaced{ID: fmt.Sprint(i)}); err != nil {
				t.Fatal(err)
			}
		}
		reply := make(chan error, 1)
		go func() {
			_, err := e.Client.Request("limited.Work", []byte("{}"), 10*time.Second)
			reply <- err
		}()
		startedExactly(t, started, limit)
		// The heartbeat's load shows the backlog: every event and the call beyond
		// the limit wait for a slot.
		want := events + 1 - limit
		var last heartbeat.Load
		for deadline := time.Now().Add(10 * time.Second); ; {
			m, err := beats.NextMsg(time.Until(deadline))
			if err != nil {
				t.Fatalf("no heartbeat with %d queued and %d in flight (the last had %+v): %v", want, limit, last, err)
			}
			if h, err := heartbeat.Decode(m.Data); err == nil {
				if last = h.Load; last.Queued == want && last.InFlight == limit {
					break
				}
			}
		}
		close(release)
		for range events + 1 {
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("not every handler ran")
			}
		}
		if err := <-reply; err != nil { // bounded: the request's own 10s timeout
			t.Fatalf("endpoint call: %v", err)
		}
		if p := peak.Load(); p != limit {
			t.Errorf("peak concurrency %d, want %d", p, limit)
		}
	})
}

// upperJSON is a codec other than JSON: JSON under another name.
type upperJSON struct{}

func (upperJSON) Name() string                       { return "application/x-test" }
func (upperJSON) Marshal(v any) ([]byte, error)      { return json.Marshal(v) }
func (upperJSON) Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

// TestCodec publishes with a codec other than JSON: a service with that codec
// decodes the events, one with JSON refuses them by their Content-Type.
func TestCodec(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		got := make(chan string, 1)
		var logs bustest.Buffer
		sub := func(svc string) func(s *service.Service) {
			return func(s *service.Service) {
				if err := event.Subscribe(s, orderPlaced, func(ctx context.Context, ev *OrderPlaced) error {
					got <- svc + ":" + ev.ID
					return nil
				}); err != nil {
					t.Fatal(err)
				}
			}
		}
		refused := make(chan service.ErrorEvent, 1)
		e.start("custom", sub("custom"), service.WithCodec(upperJSON{}))
		plain := e.start("plain", sub("plain"), service.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))),
			service.WithErrorHandler(func(ctx context.Context, ev service.ErrorEvent) { refused <- ev }))

		pub := event.NewPublisher(e.Client, event.WithCodec(upperJSON{}))
		if err := event.Publish(context.Background(), pub, orderPlaced, &OrderPlaced{ID: "x"}); err != nil {
			t.Fatal(err)
		}
		select {
		case v := <-got:
			if v != "custom:x" {
				t.Fatalf("handled %s", v)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("not handled")
		}
		select {
		case ev := <-refused:
			if dialtone.CodeOf(ev.Err) != dialtone.CodeInvalidArgument || !strings.Contains(ev.Err.Error(), `unsupported content type "application/x-test"`) {
				t.Errorf("the JSON service refused the event with %v", ev.Err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the JSON service did not refuse the event")
		}
		stop(t, plain.Service)
		if !strings.Contains(logs.String(), `unsupported content type \"application/x-test\"`) {
			t.Errorf("the JSON service's log:\n%s", logs.String())
		}
		select {
		case v := <-got:
			t.Fatalf("handled %s", v)
		default:
		}
	})
}

// TestPublishErrors checks that each way a publish can fail is an *dialtone.Error
// with the code that says what to do.
func TestPublishErrors(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		nc := e.Conn()
		pub := event.NewPublisher(nc, event.WithValidation())
		canceled, cancel := context.WithCancel(ctx)
		cancel()
		big := strings.Repeat("x", int(nc.MaxPayload())+1)
		for _, c := range []struct {
			name string
			err  error
			code dialtone.Code
		}{
			{"nil event", event.Publish[OrderPlaced](ctx, pub, orderPlaced, nil), dialtone.CodeInvalidArgument},
			{"invalid event", event.Publish(ctx, pub, orderPlaced, &OrderPlaced{}), dialtone.CodeInvalidArgument},
			{"wildcard topic", event.Publish(ctx, pub, event.NewTopic[OrderPlaced](event.Spec{Subject: "orders.*"}), &OrderPlaced{ID: "1"}), dialtone.CodeInvalidArgument},
			{"bad name", event.Publish(ctx, pub, event.NewTopic[OrderPlaced](event.Spec{Name: "a.b", Subject: "orders.x"}), &OrderPlaced{ID: "1"}), dialtone.CodeInvalidArgument},
			{"unencodable", event.Publish(ctx, pub, event.NewTopic[chan int](event.Spec{Name: "Chan", Subject: "orders.chan"}), new(chan int)), dialtone.CodeInternal},
			{"canceled", event.Publish(canceled, pub, orderPlaced, &OrderPlaced{ID: "1"}), dialtone.CodeCanceled},
			{"too large", event.Publish(ctx, pub, orderPlaced, &OrderPlaced{ID: big}), dialtone.CodeResourceExhausted},
			{"raw wildcard", pub.PublishRaw(ctx, event.Spec{Name: "X", Subject: "a.>"}, nil, nil), dialtone.CodeInvalidArgument},
		} {
			var de *dialtone.Error
			if !errors.As(c.err, &de) || de.Code() != c.code {
				t.Errorf("%s: %v, want an *dialtone.Error with code %s", c.name, c.err, c.code)
			} else {
				t.Logf("%s: %v", c.name, c.err)
			}
		}
		nc.Close()
		err := event.Publish(ctx, pub, orderPlaced, &OrderPlaced{ID: "1"})
		if dialtone.CodeOf(err) != dialtone.CodeUnavailable {
			t.Errorf("closed connection: %v, want unavailable", err)
		}
	})
}

// TestSubscribeErrors checks that bad subscriptions are refused when made.
func TestSubscribeErrors(t *testing.T) {
	nc := bustestConn(t)
	s, err := service.New(nc, service.Config{Name: "billing", Version: "1.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	ok := func(ctx context.Context, ev *OrderPlaced) error { return nil }
	raw := func(ctx context.Context, ev *event.Event) error { return nil }
	if err := event.Subscribe(s, orderPlaced, ok); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		err  error
		code dialtone.Code
	}{
		{"twice", event.Subscribe(s, orderPlaced, ok), dialtone.CodeAlreadyExists},
		{"same subject and queue, other name", event.Subscribe(s, orderPlaced, ok, event.WithName("Again")), dialtone.CodeAlreadyExists},
		{"nil handler", event.Subscribe[OrderPlaced](s, orderPlaced, nil), dialtone.CodeInvalidArgument},
		{"wildcard topic", event.Subscribe(s, event.NewTopic[OrderPlaced](event.Spec{Subject: "orders.>"}), ok), dialtone.CodeInvalidArgument},
		{"raw bad filter", event.SubscribeRaw(s, event.Spec{Name: "X", Subject: "orders.>.x"}, raw), dialtone.CodeInvalidArgument},
		{"raw bad name", event.SubscribeRaw(s, event.Spec{Subject: "orders.>"}, raw), dialtone.CodeInvalidArgument},
		{"bad queue", event.Subscribe(s, orderPlaced, ok, event.WithName("Q"), event.WithQueueGroup("a b")), dialtone.CodeInvalidArgument},
	} {
		if got := dialtone.CodeOf(c.err); got != c.code {
			t.Errorf("%s: %v, want code %s", c.name, c.err, c.code)
		} else {
			t.Logf("%s: %v", c.name, c.err)
		}
	}
	// The same event twice under two names, per service and broadcast, is fine.
	if err := event.Subscribe(s, orderPlaced, ok, event.WithName("OrderPlacedEverywhere"), event.Broadcast()); err != nil {
		t.Fatal(err)
	}
}

// TestDroppedEventsAreCounted overflows an instance's queue: the events the
// client drops are counted in $SRV.STATS, so a slow consumer is visible. An
// ordered subscription holds as many events as the queue would.
func TestDroppedEventsAreCounted(t *testing.T) {
	t.Run("shared", func(t *testing.T) { testDroppedEventsAreCounted(t) })
	t.Run("ordered", func(t *testing.T) { testDroppedEventsAreCounted(t, event.Ordered()) })
}

func testDroppedEventsAreCounted(t *testing.T, opts ...event.SubscribeOption) {
	e := oneBusd(t)
	e.Client = e.Conn()
	const n = 100
	release := make(chan struct{})
	in := e.start("slow", func(s *service.Service) {
		if err := event.Subscribe(s, orderPlaced, func(ctx context.Context, ev *OrderPlaced) error {
			<-release
			return nil
		}, opts...); err != nil {
			t.Fatal(err)
		}
	}, service.WithMaxConcurrent(1), service.WithQueueLength(1))
	pub := event.NewPublisher(e.Client)
	for i := range n {
		if err := event.Publish(context.Background(), pub, orderPlaced, &OrderPlaced{ID: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	// Every event has reached the instance's connection once a request on it
	// comes back: the server delivers in order.
	if _, err := e.Client.Request("$SRV.PING.slow."+in.ID(), nil, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	close(release)
	stop(t, in.Service)
	st := eventStats(in.Service)["OrderPlaced"]
	t.Logf("%d events handled, %d dropped", st.NumEvents, st.NumDropped)
	if st.NumDropped == 0 || st.NumEvents+st.NumDropped != n {
		t.Errorf("%d events handled and %d dropped; want some dropped and %d in all", st.NumEvents, st.NumDropped, n)
	}
}

// A raw handler can be tested with an Event made by hand.
func TestEventMadeByHandDecodesJSON(t *testing.T) {
	var o OrderPlaced
	if err := (&event.Event{Name: "OrderPlaced", Data: []byte(`{"id":"x","total":3}`)}).Decode(&o); err != nil || o.ID != "x" || o.Total != 3 {
		t.Fatalf("decode: %v, %+v", err, o)
	}
	err := (&event.Event{Name: "OrderPlaced", Data: []byte(`{`)}).Decode(&o)
	if dialtone.CodeOf(err) != dialtone.CodeInvalidArgument || !strings.HasPrefix(err.Error(), "invalid_argument: event OrderPlaced: ") {
		t.Fatalf("bad JSON: %v", err)
	}
}
