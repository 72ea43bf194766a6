package dash

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dialtone-dev/dialtone/cmd/dialtone/internal/fleet"
	"github.com/dialtone-dev/dialtone/event"
	"github.com/dialtone-dev/dialtone/examples/hello/greeter"
	"github.com/dialtone-dev/dialtone/internal/bustest"
	"github.com/dialtone-dev/dialtone/service"
)

type greeted struct {
	Name string `json:"name"`
}

// serve starts a greeter instance, which publishes the event Greeted and
// consumes it on its queue group and by broadcast, and a dashboard on
// 127.0.0.1, and returns the dashboard's base URL.
func serve(t *testing.T) string {
	url := bustest.Busd(t)
	snc := bustest.Connect(t, url)
	svc, err := service.New(snc, service.Config{Name: "greeter", Version: "1.0.0"}, service.WithHeartbeatInterval(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if err := greeter.RegisterGreeter(svc, greeter.Server{}); err != nil {
		t.Fatal(err)
	}
	topic := event.NewTopic[greeted](event.Spec{Name: "Greeted", Subject: "greeter.Greeted"})
	if err := event.NewPublisher(snc, event.WithService(svc)).Declare(topic.Spec()); err != nil {
		t.Fatal(err)
	}
	noop := func(context.Context, *greeted) error { return nil }
	if err := event.Subscribe(svc, topic, noop); err != nil {
		t.Fatal(err)
	}
	if err := event.Subscribe(svc, topic, noop, event.Broadcast(), event.WithName("Audit")); err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Stop(context.Background()) })
	return serveFleet(t, url, 50*time.Millisecond)
}

// serveFleet starts a dashboard of the bus at url, polling every interval, on
// 127.0.0.1, and returns its base URL.
func serveFleet(t *testing.T, url string, interval time.Duration) string {
	f, err := fleet.Open(t.Context(), bustest.Connect(t, url))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- New(f, Options{Interval: interval}).Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return "http://" + l.Addr().String()
}

func post(t *testing.T, url, body string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestCallAPI(t *testing.T) {
	base := serve(t)
	cases := []struct {
		body string
		want callResult
	}{
		{`{"service":"greeter","endpoint":"SayHello","request":{"name":"Ada"}}`,
			callResult{OK: true, Reply: json.RawMessage(`{"message":"Hello, Ada!"}`)}},
		{`{"service":"greeter","endpoint":"SayHello","pattern":"lowest-latency","request":{"name":"Bo"}}`,
			callResult{OK: true, Reply: json.RawMessage(`{"message":"Hello, Bo!"}`)}},
		{`{"service":"greeter","endpoint":"SayHello","request":{}}`,
			callResult{Invalid: []fleet.FieldError{{Field: "name", Message: "is required"}},
				Message: `the request does not match the endpoint's schema: field "name" is required`}},
		{`{"service":"greeter","endpoint":"SayHello","request":{"name":""}}`,
			callResult{Error: &fleet.CallError{Code: 400, Name: "invalid_argument", Message: "invalid request: name (required)",
				Details: map[string]any{"fields": map[string]any{"name": "required"}}}}},
		{`{"service":"greeter","endpoint":"Nope"}`,
			callResult{Message: `service greeter has no endpoint "Nope" (it has: SayHello)`}},
		{`{"service":"nosuch","endpoint":"Do"}`,
			callResult{Message: `no service "nosuch" on the bus (running: greeter)`}},
		{`{"service":"greeter","endpoint":"SayHello","pattern":"sideways","request":{"name":"x"}}`,
			callResult{Message: `unknown pattern "sideways": use balanced, lowest-latency or available (or --instance ID for one instance)`}},
	}
	for _, c := range cases {
		resp, body := post(t, base+"/api/call", c.body, nil)
		var got callResult
		if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &got) != nil {
			t.Fatalf("%s: %d %s", c.body, resp.StatusCode, body)
		}
		got.DurationMS = 0
		gb, _ := json.Marshal(got)
		wb, _ := json.Marshal(c.want)
		if string(gb) != string(wb) {
			t.Errorf("%s:\n got %s\nwant %s", c.body, gb, wb)
		}
	}
	if resp, _ := post(t, base+"/api/call", `{"service":`, nil); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("broken body: %d", resp.StatusCode)
	}
}

// TestGuard: the dashboard answers only for its own host names, takes writes
// only as JSON from its own origin, and keeps the page to its own files.
func TestGuard(t *testing.T) {
	base := serve(t)
	host := strings.TrimPrefix(base, "http://")
	call := `{"service":"greeter","endpoint":"SayHello","request":{"name":"Ada"}}`
	for _, c := range []struct {
		name string
		hdr  map[string]string
		code int
	}{
		{"own origin", map[string]string{"Origin": base}, 200},
		{"no origin (curl)", nil, 200},
		{"localhost", map[string]string{"Host": "localhost:1234"}, 200},
		{"another site", map[string]string{"Origin": "http://evil.example"}, 403},
		{"rebinding", map[string]string{"Host": "evil.example:" + host[strings.LastIndex(host, ":")+1:]}, 403},
		{"form post", map[string]string{"Content-Type": "text/plain"}, 415},
	} {
		resp, body := post(t, base+"/api/call", call, c.hdr)
		if resp.StatusCode != c.code {
			t.Errorf("%s: %d %s, want %d", c.name, resp.StatusCode, body, c.code)
		}
	}
	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("CSP %q", csp)
	}
	// Offline: the page loads nothing from another host.
	for _, ref := range []string{"http://", "https://", "//"} {
		if strings.Contains(strings.ReplaceAll(string(page), `xmlns="http://`, ""), `src="`+ref) || strings.Contains(string(page), `href="`+ref) {
			t.Errorf("the page refers to another host: %s", page)
		}
	}
}

// TestStream: a page gets a snapshot, then ticks with samples.
func TestStream(t *testing.T) {
	base := serve(t)
	resp, err := http.Get(base + "/api/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	events := make(chan [2]string, 16)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		var ev string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				ev = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				events <- [2]string{ev, strings.TrimPrefix(line, "data: ")}
			}
		}
		close(events)
	}()
	next := func() (string, map[string]json.RawMessage) {
		t.Helper()
		select {
		case e, ok := <-events:
			if !ok {
				t.Fatal("stream ended")
			}
			var m map[string]json.RawMessage
			if err := json.Unmarshal([]byte(e[1]), &m); err != nil {
				t.Fatalf("%s: %v", e[0], err)
			}
			return e[0], m
		case <-time.After(5 * time.Second):
			t.Fatal("no event within 5s")
		}
		return "", nil
	}
	ev, snap := next()
	if ev != "snapshot" || !strings.Contains(string(snap["services"]), `"service":"greeter"`) {
		t.Fatalf("first event %s: %s", ev, snap["services"])
	}
	// Each instance carries the events it publishes and consumes, for the
	// service cards and the "who listens to what" panel.
	var svcs []fleet.Service
	if err := json.Unmarshal(snap["services"], &svcs); err != nil || len(svcs) != 1 || len(svcs[0].Instances) != 1 {
		t.Fatalf("snapshot services: %v, %s", err, snap["services"])
	}
	want := []fleet.EventRef{
		{Name: "Greeted", Subject: "greeter.Greeted", Role: "publish"},
		{Name: "Greeted", Subject: "greeter.Greeted", Role: "consume", QueueGroup: "greeter"},
		{Name: "Audit", Subject: "greeter.Greeted", Role: "consume"},
	}
	got := svcs[0].Instances[0].Events
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("snapshot events %+v lack %+v", got, w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("snapshot events %+v, want %d", got, len(want))
	}
	for range 3 {
		ev, tick := next()
		if ev != "tick" || !strings.Contains(string(tick["samples"]), `"greeter.SayHello"`) {
			t.Fatalf("event %s: %v", ev, tick)
		}
	}
}
