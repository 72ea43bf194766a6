package server

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// secScrape fetches /metrics from the handler and returns the busd_ samples.
func secScrape(t *testing.T, s *Server, h http.Handler) map[string]float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body.String())
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("content type %q, want the Prometheus text format", ct)
	}
	return secParseMetrics(t, rec.Body.String())
}

func secParseMetrics(t *testing.T, body string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, line := range strings.Split(body, "\n") {
		if !strings.HasPrefix(line, "busd_") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("bad sample %q", line)
		}
		name := line[:i]
		if j := strings.IndexByte(name, '{'); j >= 0 && !strings.HasPrefix(name, "busd_info") {
			name = name[:j]
		}
		out[name] = v
	}
	return out
}

func TestMetrics(t *testing.T) {
	s := runServer(t, &Options{Users: []*User{{Username: "u", Password: "p"}}, ServerName: "m1"})
	h := s.metricsHandler()
	m := secScrape(t, s, h)
	for _, name := range []string{
		"busd_connections", "busd_connections_total", "busd_subscriptions",
		"busd_in_msgs_total", "busd_out_msgs_total", "busd_in_bytes_total", "busd_out_bytes_total",
		"busd_slow_consumers_total", "busd_stale_connections_total", "busd_auth_failures_total",
	} {
		if v, ok := m[name]; !ok || v != 0 {
			t.Errorf("%s = %v (present %v), want 0 on an idle server", name, v, ok)
		}
	}

	sub := secConnect(t, s, nats.UserInfo("u", "p"))
	ch := make(chan *nats.Msg, 10)
	if _, err := sub.ChanSubscribe("m.>", ch); err != nil {
		t.Fatal(err)
	}
	if _, err := sub.SubscribeSync("other"); err != nil {
		t.Fatal(err)
	}
	if err := sub.Flush(); err != nil {
		t.Fatal(err)
	}
	pub := secConnect(t, s, nats.UserInfo("u", "p"))
	for i := 0; i < 5; i++ {
		if err := pub.Publish("m.x", []byte("12345")); err != nil {
			t.Fatal(err)
		}
	}
	if err := pub.Flush(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		select {
		case <-ch:
		case <-time.After(5 * time.Second):
			t.Fatal("message not delivered")
		}
	}
	_ = secConnectErr(s, nats.UserInfo("u", "wrong"))

	m = secScrape(t, s, h)
	want := map[string]float64{
		"busd_connections":          2,
		"busd_connections_total":    3,
		"busd_subscriptions":        2,
		"busd_in_msgs_total":        5,
		"busd_in_bytes_total":       25,
		"busd_out_msgs_total":       5,
		"busd_out_bytes_total":      25,
		"busd_auth_failures_total":  1,
		"busd_slow_consumers_total": 0,
	}
	for name, v := range want {
		if m[name] != v {
			t.Errorf("%s = %v, want %v", name, m[name], v)
		}
	}
	if m[`busd_info{server_id="`+s.id+`",server_name="m1",version="`+Version+`"}`] != 1 {
		t.Errorf("busd_info missing or wrong: %v", m)
	}

	// Counters never go down, even when the connections that counted close.
	pub.Close()
	secWait(t, "the publisher to close", func() bool { return s.NumClients() == 1 })
	m2 := secScrape(t, s, h)
	if m2["busd_in_msgs_total"] < 5 || m2["busd_connections"] != 1 {
		t.Errorf("after close: in_msgs %v connections %v", m2["busd_in_msgs_total"], m2["busd_connections"])
	}

	// A second server in the same process has its own registry.
	s2 := runServer(t, nil)
	if m := secScrape(t, s2, s2.metricsHandler()); m["busd_connections_total"] != 0 || m["busd_auth_failures_total"] != 0 {
		t.Errorf("second server sees the first one's counters: %v", m)
	}
	// The monitoring port serves the same at /metrics.
	mon := runServer(t, &Options{HTTPPort: -1})
	resp, err := http.Get("http://" + mon.MonitorAddr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "busd_connections 0") {
		t.Errorf("GET /metrics on the monitoring port: %d\n%s", resp.StatusCode, body)
	}

	// Process and Go runtime metrics come along.
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if body, _ := io.ReadAll(rec.Body); !strings.Contains(string(body), "go_goroutines") {
		t.Errorf("no Go runtime metrics")
	}
}

// TestMetricsSlowAndStale provokes a stale connection and a slow consumer
// and sees both counted.
func TestMetricsSlowAndStale(t *testing.T) {
	s := runServer(t, &Options{PingInterval: 20 * time.Millisecond, MaxPingsOut: 1, MaxPayload: 1024, MaxPending: 8 * 1024})
	h := s.metricsHandler()

	// Stale: a client that never answers PING.
	stale := secDial(t, s)
	stale.send("CONNECT {\"verbose\":false}\r\n")
	for i := 0; i < 10; i++ {
		if l := stale.line(); l == "-ERR 'Stale Connection'" {
			break
		} else if l != "PING" {
			t.Fatalf("stale client got %q", l)
		}
	}
	stale.expectClosed()

	// Slow: a subscriber that stops reading while a publisher floods it.
	slow := secDial(t, s)
	slow.send("CONNECT {\"verbose\":false}\r\nSUB flood 1\r\nPING\r\n")
	slow.expect("PONG")
	pub := secConnect(t, s)
	payload := make([]byte, 1000)
	for i := 0; i < 200000 && s.slowConsumers.Load() == 0; i++ {
		if err := pub.Publish("flood", payload); err != nil {
			t.Fatal(err)
		}
		if i%1000 == 999 {
			_ = pub.Flush()
		}
	}
	secWait(t, "a slow consumer", func() bool { return s.slowConsumers.Load() > 0 })
	m := secScrape(t, s, h)
	if m["busd_slow_consumers_total"] < 1 || m["busd_stale_connections_total"] < 1 {
		t.Errorf("slow consumers %v stale %v, want at least 1 each", m["busd_slow_consumers_total"], m["busd_stale_connections_total"])
	}
}
