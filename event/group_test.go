package event_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/dialtone-dev/dialtone"
	"github.com/dialtone-dev/dialtone/event"
	"github.com/dialtone-dev/dialtone/service"
)

// TestGroupInterceptorsApplyToSubscriptions subscribes through a nested group:
// the event runs through the service's interceptors, the outer group's, the
// inner group's, then the subscription's, as an endpoint of the group would;
// an interceptor of the group can refuse an event. The group's subject prefix
// and queue group do not apply: the subscription is per service, on the
// event's subject.
func TestGroupInterceptorsApplyToSubscriptions(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		var sn seen
		handled := make(chan string, 4)
		refuse := dialtone.UnaryInterceptorFunc(func(next dialtone.UnaryFunc) dialtone.UnaryFunc {
			return func(ctx context.Context, req dialtone.Request) (dialtone.Response, error) {
				if o, ok := req.Msg.(*OrderPlaced); ok && o.ID == "refused" {
					return dialtone.Response{}, dialtone.Errorf(dialtone.CodePermissionDenied, "not this one")
				}
				return next(ctx, req)
			}
		})
		in := e.start("billing", func(s *service.Service) {
			outer := s.AddGroup("admin", service.WithInterceptors(sn.interceptor("outer group")), service.WithQueueGroup("admins"))
			inner := outer.AddGroup("audit", service.WithInterceptors(sn.interceptor("inner group"), refuse))
			if err := event.Subscribe(inner, orderPlaced, func(ctx context.Context, ev *OrderPlaced) error {
				handled <- ev.ID
				return nil
			}, event.WithSubscriptionInterceptors(sn.interceptor("subscription"))); err != nil {
				t.Fatal(err)
			}
		}, service.WithInterceptors(sn.interceptor("service")))

		pub := event.NewPublisher(e.Client)
		for _, id := range []string{"refused", "o-1"} {
			if err := event.Publish(context.Background(), pub, orderPlaced, &OrderPlaced{ID: id}); err != nil {
				t.Fatal(err)
			}
		}
		select {
		case id := <-handled:
			if id != "o-1" {
				t.Fatalf("handled %q", id)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("not handled")
		}
		stop(t, in.Service)

		order, reqs := sn.snapshot()
		byEvent := map[string][]string{} // the two events may run concurrently: apart
		for i, r := range reqs {
			o, _ := r.Msg.(*OrderPlaced)
			if o == nil || r.Spec.Kind != dialtone.KindEvent || r.Spec.Name != "OrderPlaced" || r.Spec.QueueGroup != "billing" {
				t.Errorf("%s saw %+v, Msg %T", order[i], r.Spec, r.Msg)
				continue
			}
			byEvent[o.ID] = append(byEvent[o.ID], order[i])
		}
		want := map[string][]string{
			"refused": {"service", "outer group", "inner group"},
			"o-1":     {"service", "outer group", "inner group", "subscription"},
		}
		for id, w := range want {
			if !slices.Equal(byEvent[id], w) {
				t.Errorf("event %s: interceptors ran %v, want %v", id, byEvent[id], w)
			}
		}
		st := in.Stats().Events
		if len(st) != 1 || st[0].Subject != "orders.OrderPlaced" || st[0].QueueGroup != "billing" || st[0].NumEvents != 2 || st[0].NumErrors != 1 {
			t.Errorf("stats %+v; want OrderPlaced on its own subject, per service, 2 events, 1 refused", st)
		}
	})
}

// TestGroupErrorReachesSubscribe: a group with a bad name refuses the
// subscription as it refuses an endpoint.
func TestGroupErrorReachesSubscribe(t *testing.T) {
	s, err := service.New(bustestConn(t), service.Config{Name: "billing", Version: "1.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	err = event.Subscribe(s.AddGroup("a.b"), orderPlaced, func(ctx context.Context, ev *OrderPlaced) error { return nil })
	if dialtone.CodeOf(err) != dialtone.CodeInvalidArgument {
		t.Fatalf("subscribe in a bad group: %v, want invalid_argument", err)
	}
}
