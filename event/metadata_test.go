package event_test

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/dialtone-dev/dialtone/discovery"
	"github.com/dialtone-dev/dialtone/event"
	"github.com/dialtone-dev/dialtone/heartbeat"
	"github.com/dialtone-dev/dialtone/service"
)

const orderSchema = `{"type":"object","required":["id"]}`

// TestMetadataSaysWhoPublishesAndConsumes checks that heartbeats (and so
// discovery), $SRV.INFO and $SRV.STATS say which events each service publishes and
// consumes, with the schemas in $SRV.INFO.
func TestMetadataSaysWhoPublishesAndConsumes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		placed := event.NewTopic[OrderPlaced](event.Spec{Subject: "orders.OrderPlaced", Schema: orderSchema})
		shipped := event.NewTopic[OrderPlaced](event.Spec{Name: "OrderShipped", Subject: "orders.OrderShipped"})
		handled := make(chan struct{}, 1)
		var pub *event.Publisher
		orders := e.start("orders", func(s *service.Service) {
			// The client's connection: its server knows billing's subscription
			// once billing is reachable (e.start waits for that).
			pub = event.NewPublisher(e.Client, event.WithService(s))
			if err := pub.Declare(placed.Spec()); err != nil {
				t.Fatal(err)
			}
		})
		billing := e.start("billing", func(s *service.Service) {
			if err := event.Subscribe(s, placed, func(ctx context.Context, ev *OrderPlaced) error {
				handled <- struct{}{}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if err := event.Subscribe(s, shipped, func(ctx context.Context, ev *OrderPlaced) error { return nil },
				event.Broadcast(), event.WithMetadata(map[string]string{"team": "money"})); err != nil {
				t.Fatal(err)
			}
		})
		// Publishing an event it did not declare lists it too.
		if err := event.Publish(context.Background(), pub, shipped, &OrderPlaced{ID: "1"}); err != nil {
			t.Fatal(err)
		}
		if err := event.Publish(context.Background(), pub, placed, &OrderPlaced{ID: "1"}); err != nil {
			t.Fatal(err)
		}
		select {
		case <-handled:
		case <-time.After(10 * time.Second):
			t.Fatal("billing did not handle the event")
		}

		reg, err := discovery.New(context.Background(), e.Client)
		if err != nil {
			t.Fatal(err)
		}
		defer reg.Close()
		wantHB := map[string][]heartbeat.Event{
			orders.ID(): {
				{Name: "OrderPlaced", Subject: "orders.OrderPlaced", Role: "publish"},
				{Name: "OrderShipped", Subject: "orders.OrderShipped", Role: "publish"},
			},
			billing.ID(): {
				{Name: "OrderPlaced", Subject: "orders.OrderPlaced", Role: "consume", QueueGroup: "billing"},
				{Name: "OrderShipped", Subject: "orders.OrderShipped", Role: "consume"},
			},
		}
		for id, want := range wantHB {
			// Discovery knows the instance from a beat; the latest beat has every event.
			deadline := time.Now().Add(5 * time.Second)
			for {
				in, ok := reg.Instance(id)
				if ok && reflect.DeepEqual(in.Events, want) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("discovery: instance %s has events %+v, want %+v", id, in.Events, want)
				}
				time.Sleep(20 * time.Millisecond) // heartbeats every 100ms: bounded poll
			}
		}

		var info service.Info
		m, err := e.Client.Request("$SRV.INFO.orders."+orders.ID(), nil, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(m.Data, &info); err != nil {
			t.Fatal(err)
		}
		wantInfo := []service.EventInfo{
			{Name: "OrderPlaced", Subject: "orders.OrderPlaced", Role: "publish", Metadata: map[string]string{"dialtone.event_schema": orderSchema}},
			{Name: "OrderShipped", Subject: "orders.OrderShipped", Role: "publish"},
		}
		if !reflect.DeepEqual(info.Events, wantInfo) || info.Metadata["dialtone.events.publishes"] != "orders.OrderPlaced,orders.OrderShipped" {
			t.Errorf("orders $SRV.INFO: events %+v, metadata %v", info.Events, info.Metadata)
		}

		m, err = e.Client.Request("$SRV.INFO.billing."+billing.ID(), nil, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		info = service.Info{}
		if err := json.Unmarshal(m.Data, &info); err != nil {
			t.Fatal(err)
		}
		wantInfo = []service.EventInfo{
			{Name: "OrderPlaced", Subject: "orders.OrderPlaced", Role: "consume", QueueGroup: "billing", Metadata: map[string]string{"dialtone.event_schema": orderSchema}},
			{Name: "OrderShipped", Subject: "orders.OrderShipped", Role: "consume", Metadata: map[string]string{"team": "money"}},
		}
		if !reflect.DeepEqual(info.Events, wantInfo) || info.Metadata["dialtone.events.consumes"] != "orders.OrderPlaced,orders.OrderShipped" {
			t.Errorf("billing $SRV.INFO: events %+v, metadata %v", info.Events, info.Metadata)
		}
		if len(info.Endpoints) != 0 {
			t.Errorf("billing $SRV.INFO lists endpoints %v; subscriptions are not endpoints", info.Endpoints)
		}

		var stats service.Stats
		m, err = e.Client.Request("$SRV.STATS.billing."+billing.ID(), nil, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(m.Data, &stats); err != nil {
			t.Fatal(err)
		}
		if len(stats.Events) != 2 || stats.Events[0].Name != "OrderPlaced" || stats.Events[0].NumEvents != 1 {
			t.Errorf("billing $SRV.STATS events %+v", stats.Events)
		}
	})
}
