package dash

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dialtone-dev/dialtone/cmd/dialtone/internal/fleet"
	"github.com/dialtone-dev/dialtone/examples/hello/greeter"
	"github.com/dialtone-dev/dialtone/internal/bustest"
	"github.com/dialtone-dev/dialtone/service"
)

// message is one SSE message as a page applies it: the instances it lists and,
// for a "fleet" message, its event.
type message struct {
	kind      string
	instances map[string]bool
	event     string   // "joined ID", ...; fleet messages only
	events    []string // the snapshot's log
}

func eventKey(ev fleet.Event) string {
	return ev.Type + " " + ev.Instance.ID + " " + ev.Time.Format(time.RFC3339Nano)
}

// readStream reads a page's stream until ctx ends or, once the fleet is empty,
// five more ticks have come.
func readStream(ctx context.Context, t *testing.T, base string) []message {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/stream", nil)
	if err != nil {
		t.Error(err)
		return nil
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return nil
	}
	defer resp.Body.Close()
	var out []message
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 4<<20)
	var kind string
	empty := 0
	for sc.Scan() {
		line := sc.Text()
		if k, ok := strings.CutPrefix(line, "event: "); ok {
			kind = k
			continue
		}
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			continue
		}
		var d struct {
			Services []fleet.Service `json:"services"`
			Event    *fleet.Event    `json:"event"`
			Events   []fleet.Event   `json:"events"`
		}
		if err := json.Unmarshal([]byte(data), &d); err != nil {
			t.Errorf("%s: %v", kind, err)
			return out
		}
		m := message{kind: kind, instances: map[string]bool{}}
		for _, s := range d.Services {
			for _, in := range s.Instances {
				m.instances[in.ID] = true
			}
		}
		if d.Event != nil {
			m.event = eventKey(*d.Event)
		}
		for _, ev := range d.Events {
			m.events = append(m.events, eventKey(ev))
		}
		out = append(out, m)
		if len(m.instances) == 0 && kind == "tick" {
			if empty++; empty == 5 {
				return out
			}
		}
	}
	return out
}

// TestStreamInOrder: while instances come and go and pages connect, every page
// sees the fleet only move forward. An instance, once shown and then gone (it
// stopped: it cannot come back), never shows again, and no fleet event reaches
// a page twice (in its snapshot and again after it). The tick and the fleet
// event are sent from two goroutines; each must read the fleet and send what it
// read in one step, or an older reading overtakes a newer one.
func TestStreamInOrder(t *testing.T) {
	url := bustest.Busd(t)
	base := serveFleet(t, url, 10*time.Millisecond)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	logs := make([][]message, 6)
	churned := make(chan struct{})
	go func() {
		defer close(churned)
		var running []*service.Service
		for i := range 24 {
			// Heartbeats every second: none expires during the test, so an
			// instance goes away only by stopping.
			svc, err := service.New(bustest.Connect(t, url), service.Config{Name: "greeter", Version: fmt.Sprintf("1.0.%d", i)},
				service.WithHeartbeatInterval(time.Second))
			if err == nil {
				err = greeter.RegisterGreeter(svc, greeter.Server{})
			}
			if err == nil {
				err = svc.Start(ctx)
			}
			if err != nil {
				t.Error(err)
				return
			}
			running = append(running, svc)
			if len(running) > 3 {
				if err := running[0].Stop(ctx); err != nil {
					t.Error(err)
				}
				running = running[1:]
			}
			if i%4 == 0 && i/4 < len(logs) { // a page connects now and then
				wg.Add(1)
				go func(i int) { defer wg.Done(); logs[i] = readStream(ctx, t, base) }(i / 4)
			}
		}
		for _, svc := range running {
			if err := svc.Stop(ctx); err != nil {
				t.Error(err)
			}
		}
	}()
	<-churned
	wg.Wait() // each page reads until the fleet is empty, or for at most 30s
	if ctx.Err() != nil {
		t.Fatal("the pages did not see the fleet empty within 30s")
	}

	for p, log := range logs {
		if len(log) == 0 || log[0].kind != "snapshot" {
			t.Fatalf("page %d: no snapshot first", p)
		}
		gone := map[string]int{} // instance: index of the message it was last seen before
		shown := map[string]bool{}
		seen := map[string]bool{}
		for _, k := range log[0].events {
			seen[k] = true
		}
		for i, m := range log {
			if m.event != "" {
				if seen[m.event] {
					t.Errorf("page %d, message %d: fleet event %s again", p, i, m.event)
				}
				seen[m.event] = true
			}
			for id := range shown {
				if !m.instances[id] {
					if _, ok := gone[id]; !ok {
						gone[id] = i
					}
				}
			}
			for id := range m.instances {
				if at, ok := gone[id]; ok {
					t.Errorf("page %d: instance %s gone in message %d (%s), back in message %d (%s %s)", p, id, at, log[at].kind, i, m.kind, m.event)
				}
				shown[id] = true
			}
		}
		if len(shown) == 0 {
			t.Errorf("page %d saw no instance in %d messages", p, len(log))
		}
	}
}
