package event_test

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/dialtone-dev/dialtone/event"
	"github.com/dialtone-dev/dialtone/service"
)

// TestTraceLinksConsumerToProducer publishes inside a span: the producer's span
// ("send orders.OrderPlaced") is its child, and each consumer's span ("process
// orders.OrderPlaced") is a child of the producer's span and links to it, in
// both services. A failing handler marks its span. The same holds for an
// ordered subscription.
func TestTraceLinksConsumerToProducer(t *testing.T) {
	forEachDelivery(t, func(t *testing.T, e *env, opts []event.SubscribeOption) {
		exp := tracetest.NewInMemoryExporter()
		tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
		defer tp.Shutdown(context.Background())

		inHandler := make(chan trace.SpanContext, 2)
		sub := func(fail bool, more ...event.SubscribeOption) func(s *service.Service) {
			return func(s *service.Service) {
				if err := event.Subscribe(s, orderPlaced, func(ctx context.Context, ev *OrderPlaced) error {
					inHandler <- trace.SpanContextFromContext(ctx)
					if fail {
						return context.DeadlineExceeded
					}
					return nil
				}, append(append([]event.SubscribeOption(nil), opts...), more...)...); err != nil {
					t.Fatal(err)
				}
			}
		}
		billing := e.start("billing", sub(false), service.WithTracerProvider(tp))
		mail := e.start("mail", sub(true, event.Broadcast()), service.WithTracerProvider(tp))

		pub := event.NewPublisher(e.Client, event.WithTracerProvider(tp))
		ctx, parent := tp.Tracer("test").Start(context.Background(), "checkout")
		if err := event.Publish(ctx, pub, orderPlaced, &OrderPlaced{ID: "o-1"}); err != nil {
			t.Fatal(err)
		}
		parent.End()
		for range 2 {
			select {
			case sc := <-inHandler:
				if sc.TraceID() != parent.SpanContext().TraceID() {
					t.Errorf("handler runs in trace %s, want %s", sc.TraceID(), parent.SpanContext().TraceID())
				}
			case <-time.After(10 * time.Second):
				t.Fatal("event not handled")
			}
		}
		stop(t, billing.Service) // handlers done: spans ended
		stop(t, mail.Service)

		var producer tracetest.SpanStub
		var consumers []tracetest.SpanStub
		for _, sp := range exp.GetSpans() {
			switch sp.SpanKind {
			case trace.SpanKindProducer:
				producer = sp
			case trace.SpanKindConsumer:
				consumers = append(consumers, sp)
			}
		}
		if producer.Name != "send orders.OrderPlaced" || producer.Parent.SpanID() != parent.SpanContext().SpanID() {
			t.Fatalf("producer span %q, parent %s; want send orders.OrderPlaced under the checkout span", producer.Name, producer.Parent.SpanID())
		}
		checkServer(t, "producer", producer.Attributes)
		if len(consumers) != 2 {
			t.Fatalf("%d consumer spans, want 2", len(consumers))
		}
		for _, c := range consumers {
			if c.Name != "process orders.OrderPlaced" {
				t.Errorf("consumer span %q", c.Name)
			}
			if c.Parent.SpanID() != producer.SpanContext.SpanID() || c.SpanContext.TraceID() != producer.SpanContext.TraceID() {
				t.Errorf("consumer span's parent %s in trace %s; want the producer's span %s",
					c.Parent.SpanID(), c.SpanContext.TraceID(), producer.SpanContext.SpanID())
			}
			if len(c.Links) != 1 || c.Links[0].SpanContext.SpanID() != producer.SpanContext.SpanID() {
				t.Errorf("consumer span links %v; want one link to the producer's span", c.Links)
			}
			attrs := map[string]string{}
			for _, kv := range c.Attributes {
				attrs[string(kv.Key)] = kv.Value.AsString()
			}
			svc := attrs["dialtone.service"]
			if attrs["messaging.destination.name"] != "orders.OrderPlaced" || attrs["messaging.operation.type"] != "process" || attrs["dialtone.event"] != "OrderPlaced" {
				t.Errorf("consumer span attributes %v", attrs)
			}
			failed := c.Status.Code.String() == "Error"
			if failed != (svc == "mail") || (failed && (attrs["dialtone.error_code"] != "deadline_exceeded" || attrs["error.type"] != "deadline_exceeded")) {
				t.Errorf("%s: span status %v, error code %q, error.type %q", svc, c.Status, attrs["dialtone.error_code"], attrs["error.type"])
			}
			if _, ok := attrs["error.type"]; ok && !failed {
				t.Errorf("%s: error.type %q on a span that did not fail", svc, attrs["error.type"])
			}
			// billing subscribes per service, in its queue group; mail broadcast, in none.
			group, ok := attrs["messaging.consumer.group.name"]
			if wantOK := svc == "billing"; ok != wantOK || (ok && group != "billing") {
				t.Errorf("%s: messaging.consumer.group.name %q (set: %v); want billing for per-service delivery, absent for broadcast", svc, group, ok)
			}
			checkServer(t, svc, c.Attributes)
		}
	})
}

// checkServer checks that a span names the server it used: the tests'
// servers listen on 127.0.0.1.
func checkServer(t *testing.T, who string, kvs []attribute.KeyValue) {
	t.Helper()
	var addr string
	var port int64
	for _, kv := range kvs {
		switch kv.Key {
		case "server.address":
			addr = kv.Value.AsString()
		case "server.port":
			port = kv.Value.AsInt64()
		}
	}
	if addr != "127.0.0.1" || port <= 0 {
		t.Errorf("%s span: server.address %q, server.port %d; want 127.0.0.1 and a port", who, addr, port)
	}
}

// TestTraceContextWithoutProducerSpans publishes from a Publisher whose provider
// records nothing, inside a span of another provider: the trace context still
// travels, so the consumer joins the caller's trace.
func TestTraceContextWithoutProducerSpans(t *testing.T) {
	e := oneBusd(t)
	e.Client = e.Conn()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer tp.Shutdown(context.Background())
	got := make(chan trace.SpanContext, 1)
	billing := e.start("billing", func(s *service.Service) {
		_ = event.Subscribe(s, orderPlaced, func(ctx context.Context, ev *OrderPlaced) error {
			got <- trace.SpanContextFromContext(ctx)
			return nil
		})
	}, service.WithTracerProvider(noop.NewTracerProvider()), service.WithPropagator(propagation.TraceContext{}))

	pub := event.NewPublisher(e.Client, event.WithTracerProvider(noop.NewTracerProvider()))
	ctx, parent := tp.Tracer("test").Start(context.Background(), "checkout")
	defer parent.End()
	if err := event.Publish(ctx, pub, orderPlaced, &OrderPlaced{ID: "o-1"}); err != nil {
		t.Fatal(err)
	}
	select {
	case sc := <-got:
		if sc.TraceID() != parent.SpanContext().TraceID() || sc.SpanID() != parent.SpanContext().SpanID() {
			t.Errorf("handler's span context %v, want the caller's %v", sc, parent.SpanContext())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("not handled")
	}
	stop(t, billing.Service)
}

// TestBaggageTravels publishes with a propagator that carries baggage and no
// span: the consumer's handler sees the baggage.
func TestBaggageTravels(t *testing.T) {
	e := oneBusd(t)
	e.Client = e.Conn()
	prop := propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	got := make(chan string, 1)
	billing := e.start("billing", func(s *service.Service) {
		_ = event.Subscribe(s, orderPlaced, func(ctx context.Context, ev *OrderPlaced) error {
			got <- baggage.FromContext(ctx).Member("tenant").Value()
			return nil
		})
	}, service.WithPropagator(prop))
	m, err := baggage.NewMember("tenant", "acme")
	if err != nil {
		t.Fatal(err)
	}
	bag, err := baggage.New(m)
	if err != nil {
		t.Fatal(err)
	}
	pub := event.NewPublisher(e.Client, event.WithPropagator(prop))
	if err := event.Publish(baggage.ContextWithBaggage(context.Background(), bag), pub, orderPlaced, &OrderPlaced{ID: "o-1"}); err != nil {
		t.Fatal(err)
	}
	select {
	case v := <-got:
		if v != "acme" {
			t.Errorf("handler's baggage tenant = %q, want acme", v)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("not handled")
	}
	stop(t, billing.Service)
}

// TestWildcardSpanNamesTheSubject: a wildcard subscription's consumer span is
// named after the subscription (low cardinality), with the subject the event
// was published on as messaging.destination.name and the subscription's as
// messaging.destination.template.
func TestWildcardSpanNamesTheSubject(t *testing.T) {
	e := oneBusd(t)
	e.Client = e.Conn()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer tp.Shutdown(context.Background())
	got := make(chan string, 1)
	audit := e.start("audit", func(s *service.Service) {
		if err := event.SubscribeRaw(s, event.Spec{Name: "AllOrders", Subject: "orders.>"}, func(ctx context.Context, ev *event.Event) error {
			got <- ev.Subject
			return nil
		}, event.Broadcast()); err != nil {
			t.Fatal(err)
		}
	}, service.WithTracerProvider(tp))
	pub := event.NewPublisher(e.Client)
	if err := event.Publish(context.Background(), pub, orderPlaced, &OrderPlaced{ID: "o-1"}); err != nil {
		t.Fatal(err)
	}
	select {
	case subj := <-got:
		if subj != "orders.OrderPlaced" {
			t.Errorf("handler saw subject %q", subj)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("not handled")
	}
	stop(t, audit.Service)
	spans := exp.GetSpans()
	if len(spans) != 1 || spans[0].Name != "process orders.>" {
		t.Fatalf("spans %v; want one, process orders.>", spans)
	}
	attrs := map[string]string{}
	for _, kv := range spans[0].Attributes {
		attrs[string(kv.Key)] = kv.Value.String()
	}
	if attrs["messaging.destination.name"] != "orders.OrderPlaced" || attrs["messaging.destination.template"] != "orders.>" {
		t.Errorf("destination %q, template %q; want orders.OrderPlaced and orders.>", attrs["messaging.destination.name"], attrs["messaging.destination.template"])
	}
	if _, ok := attrs["messaging.consumer.group.name"]; ok {
		t.Errorf("a broadcast subscription's span has a consumer group: %v", attrs)
	}
}
