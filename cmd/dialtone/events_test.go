package main

import (
	"context"
	"encoding/json"
	"slices"
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
// and consumes, how they are delivered, and their schemas; and that ls lists
// each instance's events, in text and JSON.
func TestInfoShowsEvents(t *testing.T) {
	backends(t, func(t *testing.T, url string, svcURL func(int) string) {
		placed := event.NewTopic[orderPlaced](event.Spec{Name: "OrderPlaced", Subject: "orders.OrderPlaced", Schema: `{"type":"object","title":"OrderPlaced"}`})
		var started []*service.Service
		start := func(name string, setup func(s *service.Service, url string)) {
			t.Helper()
			u := svcURL(len(started))
			nc := bustest.Connect(t, u)
			s, err := service.New(nc, service.Config{Name: name, Version: "1.0.0"}, service.WithHeartbeatInterval(100*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			setup(s, u)
			if err := s.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Stop(context.Background()) })
			started = append(started, s)
		}
		start("orders", func(s *service.Service, u string) {
			if err := event.NewPublisher(bustest.Connect(t, u), event.WithService(s)).Declare(placed.Spec()); err != nil {
				t.Fatal(err)
			}
		})
		start("billing", func(s *service.Service, _ string) {
			noop := func(ctx context.Context, ev *orderPlaced) error { return nil }
			if err := event.Subscribe(s, placed, noop); err != nil {
				t.Fatal(err)
			}
			if err := event.Subscribe(s, placed, noop, event.Broadcast(), event.WithName("DropCache")); err != nil {
				t.Fatal(err)
			}
		})
		reachableServices(t, url, started...)

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

		// ls: an EVENTS column, only for a service that has events.
		out, errOut, code = cli(t, url, "ls")
		if code != 0 || !containsAll(out, "ENDPOINTS  EVENTS", "pub:OrderPlaced", "sub:OrderPlaced(billing)", "sub:DropCache(broadcast)") {
			t.Fatalf("ls: status %d, err %q, out:\n%s", code, errOut, out)
		}
		out, _, code = cli(t, url, "ls", "billing", "--json")
		var doc struct {
			Services []fleet.Service `json:"services"`
		}
		if code != 0 || json.Unmarshal([]byte(out), &doc) != nil || len(doc.Services) != 1 || len(doc.Services[0].Instances) != 1 {
			t.Fatalf("ls --json: status %d, %s", code, out)
		}
		got := doc.Services[0].Instances[0].Events
		for _, want := range []fleet.EventRef{
			{Name: "OrderPlaced", Subject: "orders.OrderPlaced", Role: "consume", QueueGroup: "billing"},
			{Name: "DropCache", Subject: "orders.OrderPlaced", Role: "consume"},
		} {
			if !slices.Contains(got, want) {
				t.Errorf("ls --json events %+v lack %+v", got, want)
			}
		}
	})
}
