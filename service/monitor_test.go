package service_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/dialtone-dev/dialtone/heartbeat"
	"github.com/dialtone-dev/dialtone/service"
	"github.com/nats-io/nats.go"
)

// collect sends a request and gathers every reply until bound, for subjects many
// instances answer.
func collect(t *testing.T, nc *nats.Conn, subject string, want int) [][]byte {
	t.Helper()
	inbox := nats.NewInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := nc.PublishRequest(subject, inbox, nil); err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for len(out) < want {
		m, err := sub.NextMsg(5 * time.Second)
		if err != nil {
			t.Fatalf("%s: %d replies, want %d: %v", subject, len(out), want, err)
		}
		out = append(out, m.Data)
	}
	return out
}

func TestADR32(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		cfg := service.Config{Name: "adr", Version: "2.1.0", Description: "ADR-32 check", Metadata: map[string]string{"team": "core"}}
		setup := func(s *service.Service) {
			if err := service.Handle(s, "Hello", greeter, service.WithSchema(`{"type":"object"}`, "")); err != nil {
				t.Fatal(err)
			}
			if err := service.Handle(s.AddGroup("g", service.WithQueueGroup("gq")), "Other", greeter,
				service.WithMetadata(map[string]string{"k": "v"})); err != nil {
				t.Fatal(err)
			}
		}
		a := e.start(cfg, setup)
		b := e.start(cfg, setup)

		// Two requests fine, one fails.
		call(t, e.Client, a.Inbox()+".adr.Hello", helloReq{Name: "x"}, nil)
		call(t, e.Client, a.Inbox()+".adr.Hello", helloReq{Name: "y"}, nil)
		call(t, e.Client, a.Inbox()+".adr.Hello", helloReq{Name: "missing"}, nil)

		for _, subj := range []string{"$SRV.PING", "$SRV.PING.adr"} {
			ids := map[string]bool{}
			for _, data := range collect(t, e.Client, subj, 2) {
				var p map[string]any
				if err := json.Unmarshal(data, &p); err != nil {
					t.Fatal(err)
				}
				if p["type"] != "io.nats.micro.v1.ping_response" || p["name"] != "adr" || p["version"] != "2.1.0" {
					t.Fatalf("%s: %s", subj, data)
				}
				ids[p["id"].(string)] = true
			}
			if !ids[a.ID()] || !ids[b.ID()] {
				t.Fatalf("%s: ids %v", subj, ids)
			}
		}

		m, err := e.Client.Request("$SRV.INFO.adr."+a.ID(), nil, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var info struct {
			Type, Name, ID, Version, Description string
			Metadata                             map[string]string
			Endpoints                            []struct {
				Name       string            `json:"name"`
				Subject    string            `json:"subject"`
				QueueGroup string            `json:"queue_group"`
				Metadata   map[string]string `json:"metadata"`
			}
		}
		if err := json.Unmarshal(m.Data, &info); err != nil {
			t.Fatal(err)
		}
		if info.Type != "io.nats.micro.v1.info_response" || info.ID != a.ID() || info.Description != "ADR-32 check" ||
			info.Metadata["team"] != "core" || len(info.Endpoints) != 2 {
			t.Fatalf("info: %s", m.Data)
		}
		if ep := info.Endpoints[0]; ep.Name != "Hello" || ep.Subject != "adr.Hello" || ep.QueueGroup != "adr" ||
			ep.Metadata[service.MetadataRequestSchema] != `{"type":"object"}` {
			t.Fatalf("info endpoint 0: %+v", ep)
		}
		if ep := info.Endpoints[1]; ep.Name != "Other" || ep.Subject != "adr.g.Other" || ep.QueueGroup != "gq" || ep.Metadata["k"] != "v" {
			t.Fatalf("info endpoint 1: %+v", ep)
		}

		m, err = e.Client.Request("$SRV.STATS.adr."+a.ID(), nil, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var raw map[string]any
		if err := json.Unmarshal(m.Data, &raw); err != nil {
			t.Fatal(err)
		}
		if raw["type"] != "io.nats.micro.v1.stats_response" || raw["id"] != a.ID() {
			t.Fatalf("stats: %s", m.Data)
		}
		if _, err := time.Parse(time.RFC3339Nano, raw["started"].(string)); err != nil {
			t.Fatalf("started: %v", err)
		}
		ep := raw["endpoints"].([]any)[0].(map[string]any)
		for _, k := range []string{"name", "subject", "queue_group", "num_requests", "num_errors", "last_error", "processing_time", "average_processing_time"} {
			if _, ok := ep[k]; !ok {
				t.Fatalf("stats endpoint lacks %q: %v", k, ep)
			}
		}
		if ep["num_requests"].(float64) != 3 || ep["num_errors"].(float64) != 1 || ep["last_error"] != "not_found: no such person" {
			t.Fatalf("stats endpoint: %v", ep)
		}
		pt, avg := ep["processing_time"].(float64), ep["average_processing_time"].(float64)
		if pt <= 0 || avg <= 0 || avg > pt {
			t.Fatalf("processing times %v %v", pt, avg)
		}
	})
}

func TestBeatNow(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		s := e.start(service.Config{Name: "beater", Version: "1.0.0", Metadata: map[string]string{"a": "b"}}, func(s *service.Service) {
			_ = service.Handle(s, "Hello", greeter)
		})
		var hb *heartbeat.Heartbeat
		for _, data := range collect(t, e.Client, heartbeat.BeatSubject, 1) {
			h, err := heartbeat.Decode(data)
			if err != nil {
				t.Fatal(err)
			}
			hb = h
		}
		if hb.ID != s.ID() || hb.Name != "beater" || hb.Status != heartbeat.StatusUp || hb.Inbox != s.Inbox() ||
			hb.Metadata["a"] != "b" || hb.IntervalMS != 100 || hb.Seq < 2 || len(hb.Endpoints) != 1 ||
			hb.Endpoints[0] != (heartbeat.Endpoint{Name: "Hello", Subject: "beater.Hello", QueueGroup: "beater"}) {
			t.Fatalf("beat reply: %+v", hb)
		}
	})
}

func TestAvailabilityReservesSlots(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		release := make(chan struct{})
		started := make(chan struct{}, 4)
		s := e.start(service.Config{Name: "slot", Version: "1.0.0"}, func(s *service.Service) {
			_ = s.AddEndpoint("Work", service.HandlerFunc(func(ctx context.Context, _ *service.Request) (*service.Response, error) {
				started <- struct{}{}
				<-release
				return &service.Response{Data: []byte("done")}, nil
			}))
		}, service.WithMaxConcurrent(1))

		probe := func() (string, bool) {
			m, err := e.Client.Request("_DT.slot.avail", nil, 200*time.Millisecond)
			if err != nil {
				return "", false
			}
			var r struct{ ID, Inbox string }
			if err := json.Unmarshal(m.Data, &r); err != nil {
				t.Fatal(err)
			}
			if r.ID != s.ID() || r.Inbox != s.Inbox() {
				t.Fatalf("probe reply %s", m.Data)
			}
			return r.Inbox, true
		}
		inbox, ok := probe()
		if !ok {
			t.Fatal("free instance did not answer the probe")
		}
		// The only slot is reserved: a second probe gets no answer.
		if _, ok := probe(); ok {
			t.Fatal("second probe answered while the only slot was reserved")
		}
		// The direct request uses the reservation.
		done := make(chan *nats.Msg, 1)
		go func() {
			m, err := e.Client.Request(inbox+".slot.Work", nil, 10*time.Second)
			if err != nil {
				t.Error(err)
			}
			done <- m
		}()
		<-started
		if _, ok := probe(); ok {
			t.Fatal("probe answered while the handler holds the only slot")
		}
		close(release)
		if m := <-done; m == nil || string(m.Data) != "done" {
			t.Fatalf("direct reply %v", m)
		}
		// A negative probe above may have been delayed past the release on a loaded
		// machine and reserved the slot for a caller that is gone; that reservation
		// lapses after a second, so allow for it.
		answered := false
		for deadline := time.Now().Add(3 * time.Second); !answered && time.Now().Before(deadline); {
			_, answered = probe()
		}
		if !answered {
			t.Fatal("no answer after the slot came free")
		}
	})
}

func TestUnreservedSlotExpires(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		e.start(service.Config{Name: "exp", Version: "1.0.0"}, func(s *service.Service) {
			_ = service.Handle(s, "Hello", greeter)
		}, service.WithMaxConcurrent(1))
		if _, err := e.Client.Request("_DT.exp.avail", nil, time.Second); err != nil {
			t.Fatal(err)
		}
		// The reservation times out after a second; a balanced call waits for it.
		start := time.Now()
		if _, derr := call(t, e.Client, "exp.Hello", helloReq{Name: "x"}, nil); derr != nil {
			t.Fatal(derr)
		}
		if d := time.Since(start); d < 500*time.Millisecond {
			t.Fatalf("balanced call took %v while the only slot was reserved", d)
		}
		if _, err := e.Client.Request("_DT.exp.avail", nil, time.Second); err != nil {
			t.Fatalf("probe after expiry: %v", err)
		}
	})
}
