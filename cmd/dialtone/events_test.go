package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/dialtone-dev/dialtone/cmd/dialtone/internal/fleet"
	"github.com/dialtone-dev/dialtone/event"
	"github.com/dialtone-dev/dialtone/internal/bustest"
	"github.com/dialtone-dev/dialtone/service"
)

type orderPlaced struct {
	ID string `json:"id"`
}

// TestInfoShowsEvents checks that info says which events a service publishes
// and consumes, how they are delivered, and their schemas.
func TestInfoShowsEvents(t *testing.T) {
	url := startBus(t)
	placed := event.NewTopic[orderPlaced](event.Spec{Name: "OrderPlaced", Subject: "orders.OrderPlaced", Schema: `{"type":"object","title":"OrderPlaced"}`})
	start := func(name string, setup func(s *service.Service)) {
		t.Helper()
		nc := bustest.Connect(t, url)
		s, err := service.New(nc, service.Config{Name: name, Version: "1.0.0"}, service.WithHeartbeatInterval(100*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		setup(s)
		if err := s.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Stop(context.Background()) })
	}
	start("orders", func(s *service.Service) {
		if err := event.NewPublisher(bustest.Connect(t, url), event.WithService(s)).Declare(placed.Spec()); err != nil {
			t.Fatal(err)
		}
	})
	start("billing", func(s *service.Service) {
		noop := func(ctx context.Context, ev *orderPlaced) error { return nil }
		if err := event.Subscribe(s, placed, noop); err != nil {
			t.Fatal(err)
		}
		if err := event.Subscribe(s, placed, noop, event.Broadcast(), event.WithName("DropCache")); err != nil {
			t.Fatal(err)
		}
	})

	out, errOut, code := cli(t, url, "info", "orders")
	if code != 0 || !containsAll(out, "publishes event OrderPlaced", "subject      orders.OrderPlaced", `"title": "OrderPlaced"`) {
		t.Fatalf("info orders: status %d, err %q, out:\n%s", code, errOut, out)
	}
	out, errOut, code = cli(t, url, "info", "billing")
	if code != 0 || !containsAll(out, "consumes event DropCache", "delivery     every instance (broadcast)",
		"consumes event OrderPlaced", "delivery     one instance of queue group billing") ||
		strings.Index(out, "consumes event DropCache") > strings.Index(out, "consumes event OrderPlaced") {
		t.Fatalf("info billing: status %d, err %q, out:\n%s", code, errOut, out)
	}
	out, _, code = cli(t, url, "info", "billing", "--json")
	var si fleet.ServiceInfo
	if code != 0 || json.Unmarshal([]byte(out), &si) != nil || len(si.Events) != 2 {
		t.Fatalf("info --json: status %d, %s", code, out)
	}
	if ev := si.Events[1]; ev.Name != "OrderPlaced" || ev.Role != "consume" || ev.QueueGroup != "billing" || ev.Instances != 1 || !strings.Contains(string(ev.Schema), "OrderPlaced") {
		t.Errorf("info --json event: %+v", ev)
	}
}
