package event_test

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/dialtone-dev/dialtone"
	"github.com/dialtone-dev/dialtone/event"
	"github.com/dialtone-dev/dialtone/service"
)

// seen records what interceptors saw, in order.
type seen struct {
	mu  sync.Mutex
	log []string
	req []dialtone.Request
}

func (s *seen) interceptor(name string) dialtone.Interceptor {
	return dialtone.UnaryInterceptorFunc(func(next dialtone.UnaryFunc) dialtone.UnaryFunc {
		return func(ctx context.Context, req dialtone.Request) (dialtone.Response, error) {
			s.mu.Lock()
			s.log = append(s.log, name)
			s.req = append(s.req, req)
			s.mu.Unlock()
			return next(ctx, req)
		}
	})
}

func (s *seen) snapshot() ([]string, []dialtone.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.log...), append([]dialtone.Request(nil), s.req...)
}

// TestInterceptorsSeeEvents runs events through the interceptors of both ends:
// the publisher's (which may add a header, or refuse to publish) and the
// consuming service's and subscription's (which may refuse an event), in their
// documented order, with Spec.Kind KindEvent.
func TestInterceptorsSeeEvents(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		var pubSeen, subSeen seen
		handled := make(chan OrderPlaced, 4)
		refuse := dialtone.UnaryInterceptorFunc(func(next dialtone.UnaryFunc) dialtone.UnaryFunc {
			return func(ctx context.Context, req dialtone.Request) (dialtone.Response, error) {
				if o, ok := req.Msg.(*OrderPlaced); ok && o.ID == "refused" {
					return dialtone.Response{}, dialtone.Errorf(dialtone.CodePermissionDenied, "not this one")
				}
				return next(ctx, req)
			}
		})
		in := e.start("billing", func(s *service.Service) {
			if err := event.Subscribe(s, orderPlaced, func(ctx context.Context, ev *OrderPlaced) error {
				handled <- *ev
				return nil
			}, event.WithSubscriptionInterceptors(subSeen.interceptor("subscription"), refuse)); err != nil {
				t.Fatal(err)
			}
		}, service.WithInterceptors(subSeen.interceptor("service")), service.WithLogger(slog.New(slog.DiscardHandler)))

		stamp := dialtone.UnaryInterceptorFunc(func(next dialtone.UnaryFunc) dialtone.UnaryFunc {
			return func(ctx context.Context, req dialtone.Request) (dialtone.Response, error) {
				req.Header.Set("X-Tenant", "acme")
				return next(ctx, req)
			}
		})
		blockDrafts := dialtone.UnaryInterceptorFunc(func(next dialtone.UnaryFunc) dialtone.UnaryFunc {
			return func(ctx context.Context, req dialtone.Request) (dialtone.Response, error) {
				if o, ok := req.Msg.(*OrderPlaced); ok && o.ID == "draft" {
					return dialtone.Response{}, dialtone.Errorf(dialtone.CodeFailedPrecondition, "drafts are not published")
				}
				return next(ctx, req)
			}
		})
		pub := event.NewPublisher(e.Client, event.WithInterceptors(pubSeen.interceptor("publisher"), stamp, blockDrafts))
		ctx := context.Background()
		if err := event.Publish(ctx, pub, orderPlaced, &OrderPlaced{ID: "draft"}); dialtone.CodeOf(err) != dialtone.CodeFailedPrecondition {
			t.Fatalf("draft: %v, want failed_precondition from the publisher's interceptor", err)
		}
		for _, id := range []string{"refused", "o-1"} {
			if err := event.Publish(ctx, pub, orderPlaced, &OrderPlaced{ID: id}); err != nil {
				t.Fatal(err)
			}
		}
		select {
		case got := <-handled:
			if got.ID != "o-1" {
				t.Fatalf("handled %q", got.ID)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("not handled")
		}
		stop(t, in.Service)
		select {
		case got := <-handled:
			t.Fatalf("handled %q too", got.ID)
		default:
		}

		order, reqs := pubSeen.snapshot()
		if len(order) != 3 {
			t.Fatalf("the publisher's interceptor saw %d publishes, want 3", len(order))
		}
		for _, r := range reqs {
			if r.Spec.Kind != dialtone.KindEvent || !r.Spec.IsClient || r.Spec.Name != "OrderPlaced" ||
				r.Spec.Subject != "orders.OrderPlaced" || r.Header == nil || r.Data != nil {
				t.Errorf("publisher's interceptor saw %+v", r)
			}
			if _, ok := r.Msg.(*OrderPlaced); !ok {
				t.Errorf("publisher's interceptor saw Msg %T, want *OrderPlaced", r.Msg)
			}
		}
		order, reqs = subSeen.snapshot()
		// The two events may run concurrently on the shared workers: apart.
		byEvent := map[string][]string{}
		for i, r := range reqs {
			if r.Spec.Kind != dialtone.KindEvent || r.Spec.IsClient || r.Spec.Service != "billing" || r.Spec.Name != "OrderPlaced" ||
				r.Spec.Subject != "orders.OrderPlaced" || r.Instance != in.ID() || r.Header.Get("X-Tenant") != "acme" || len(r.Data) == 0 {
				t.Errorf("consumer's interceptor saw %+v", r)
			}
			o, ok := r.Msg.(*OrderPlaced)
			if !ok {
				t.Errorf("consumer's interceptor saw Msg %T, want the decoded *OrderPlaced", r.Msg)
				continue
			}
			byEvent[o.ID] = append(byEvent[o.ID], order[i])
		}
		for _, id := range []string{"refused", "o-1"} {
			if want := []string{"service", "subscription"}; !slices.Equal(byEvent[id], want) {
				t.Errorf("event %s: the consumer's interceptors ran %v, want %v (the service's first)", id, byEvent[id], want)
			}
		}
		st := eventStats(in.Service)["OrderPlaced"]
		if st.NumEvents != 2 || st.NumErrors != 1 || st.LastError != "permission_denied: not this one" {
			t.Errorf("stats %+v: want 2 events, 1 refused by the interceptor", st)
		}
	})
}

// TestEventMetrics checks the duration histograms of both ends: one data point
// per outcome, counted once per event.
func TestEventMetrics(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		srvReader, pubReader := sdkmetric.NewManualReader(), sdkmetric.NewManualReader()
		srvMP := sdkmetric.NewMeterProvider(sdkmetric.WithReader(srvReader))
		pubMP := sdkmetric.NewMeterProvider(sdkmetric.WithReader(pubReader))
		handled := make(chan struct{}, 8)
		in := e.start("billing", func(s *service.Service) {
			if err := event.Subscribe(s, orderPlaced, func(ctx context.Context, ev *OrderPlaced) error {
				handled <- struct{}{}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}, service.WithMeterProvider(srvMP), service.WithLogger(slog.New(slog.DiscardHandler)))
		pub := event.NewPublisher(e.Client, event.WithMeterProvider(pubMP))
		ctx := context.Background()
		// The first fails validation. Events reach the instance in order, so once
		// the last is handled the first has arrived, and Stop handles it if it has
		// not yet been.
		for _, ev := range []OrderPlaced{{}, {ID: "a"}, {ID: "b"}, {ID: "c"}} {
			if err := event.Publish(ctx, pub, orderPlaced, &ev); err != nil {
				t.Fatal(err)
			}
		}
		for range 3 {
			select {
			case <-handled:
			case <-time.After(10 * time.Second):
				t.Fatal("not handled")
			}
		}
		stop(t, in.Service)

		common := []attribute.KeyValue{
			attribute.String("messaging.system", "nats"),
			attribute.String("messaging.destination.name", "orders.OrderPlaced"),
			attribute.String("dialtone.event", "OrderPlaced"),
		}
		srv := collectMetrics(t, srvReader)["messaging.process.duration"]
		if n := histCount(t, srv, append(common, attribute.String("rpc.response.status_code", "ok"),
			attribute.String("messaging.operation.name", "process"), attribute.String("dialtone.service", "billing"),
			attribute.String("messaging.consumer.group.name", "billing"))...); n != 3 {
			t.Errorf("messaging.process.duration: %d ok in consumer group billing, want 3", n)
		}
		for _, dp := range srv.(metricdata.Histogram[float64]).DataPoints {
			status, _ := dp.Attributes.Value("rpc.response.status_code")
			if et, ok := dp.Attributes.Value("error.type"); ok != (status.AsString() != "ok") {
				t.Errorf("messaging.process.duration: status %s with error.type %q (set: %v)", status.AsString(), et.AsString(), ok)
			}
		}
		if n := histCount(t, srv, attribute.String("rpc.response.status_code", "invalid_argument"),
			attribute.String("error.type", "invalid_argument")); n != 1 {
			t.Errorf("messaging.process.duration: %d invalid_argument with error.type, want 1", n)
		}
		cli := collectMetrics(t, pubReader)["messaging.client.operation.duration"]
		if n := histCount(t, cli, append(common, attribute.String("rpc.response.status_code", "ok"),
			attribute.String("messaging.operation.name", "send"))...); n != 4 {
			t.Errorf("messaging.client.operation.duration: %d ok, want 4", n)
		}
	})
}

func collectMetrics(t *testing.T, reader *sdkmetric.ManualReader) map[string]metricdata.Aggregation {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]metricdata.Aggregation{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			out[m.Name] = m.Data
		}
	}
	return out
}

// histCount returns the count of the data points of h whose attributes include want.
func histCount(t *testing.T, data metricdata.Aggregation, want ...attribute.KeyValue) uint64 {
	t.Helper()
	h, ok := data.(metricdata.Histogram[float64])
	if !ok {
		t.Fatalf("not a float64 histogram: %T", data)
	}
	var n uint64
	for _, dp := range h.DataPoints {
		match := true
		for _, kv := range want {
			if v, ok := dp.Attributes.Value(kv.Key); !ok || v != kv.Value {
				match = false
			}
		}
		if match {
			n += dp.Count
		}
	}
	return n
}
