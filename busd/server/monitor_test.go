package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// monStart starts a server with client and monitoring listeners on random
// loopback ports and returns it with the monitoring base URL.
func monStart(t *testing.T, o *Options) (*Server, string) {
	t.Helper()
	if o == nil {
		o = &Options{}
	}
	o.Host, o.Port, o.HTTPHost, o.HTTPPort = "127.0.0.1", -1, "127.0.0.1", -1
	s, err := New(o, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := s.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	addr := s.MonitorAddr()
	if addr == nil {
		t.Fatal("MonitorAddr is nil with HTTPPort -1")
	}
	return s, "http://" + addr.String()
}

// monConnect connects a named nats.go client.
func monConnect(t *testing.T, s *Server, name string, opts ...nats.Option) *nats.Conn {
	t.Helper()
	opts = append([]nats.Option{nats.Name(name), nats.NoReconnect()}, opts...)
	nc, err := nats.Connect(s.ClientURL(), opts...)
	if err != nil {
		t.Fatalf("connect %s: %v", name, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func monCID(t *testing.T, nc *nats.Conn) uint64 {
	t.Helper()
	id, err := nc.GetClientID()
	if err != nil {
		t.Fatalf("GetClientID: %v", err)
	}
	return id
}

func monFlush(t *testing.T, ncs ...*nats.Conn) {
	t.Helper()
	for _, nc := range ncs {
		if err := nc.Flush(); err != nil {
			t.Fatalf("flush: %v", err)
		}
	}
}

// monGet fetches url and returns the status and body.
func monGet(t *testing.T, url string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading body: %v", url, err)
	}
	return resp.StatusCode, b
}

// monJSON fetches url, requires 200 and JSON, and decodes into v.
func monJSON(t *testing.T, url string, v any) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d: %s", url, resp.StatusCode, b)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("GET %s: Content-Type %q", url, ct)
	}
	// Decode into a zeroed value: json reuses the elements of an existing
	// slice, which would leave omitted fields from an earlier response.
	reflect.ValueOf(v).Elem().SetZero()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: decoding %s: %v", url, b, err)
	}
	return b
}

// monWaitFor polls cond, which must itself do real work (an HTTP request, a
// round trip), a bounded number of times.
func monWaitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; i < 5000 && time.Now().Before(deadline); i++ {
		if cond() {
			return
		}
		runtime.Gosched()
	}
	t.Fatalf("timed out waiting for %s", what)
}

func monConnByCID(t *testing.T, cz *connz, cid uint64) *connInfo {
	t.Helper()
	for _, ci := range cz.Conns {
		if ci.Cid == cid {
			return ci
		}
	}
	t.Fatalf("cid %d not in /connz: %+v", cid, cz.Conns)
	return nil
}

func monCIDs(cz *connz) []uint64 {
	out := make([]uint64, 0, len(cz.Conns))
	for _, ci := range cz.Conns {
		out = append(out, ci.Cid)
	}
	return out
}

var monUptimeRE = regexp.MustCompile(`^(\d+y)?(\d+d)?(\d+h)?(\d+m)?\d+s$`)

func TestMonitorUptimeString(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{-time.Second, "0s"},
		{999 * time.Millisecond, "0s"},
		{59 * time.Second, "59s"},
		{60 * time.Second, "1m0s"},
		{time.Hour + 2*time.Minute + 3*time.Second, "1h2m3s"},
		{24 * time.Hour, "1d0h0m0s"},
		{4*24*time.Hour + time.Second, "4d0h0m1s"},
		{365*24*time.Hour + 25*time.Hour + 61*time.Second, "1y1d1h1m1s"},
	} {
		if got := uptimeString(tc.d); got != tc.want {
			t.Errorf("uptimeString(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

func TestMonitorDisabledWithoutHTTPPort(t *testing.T) {
	s, err := New(&Options{Host: "127.0.0.1", Port: -1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	if a := s.MonitorAddr(); a != nil {
		t.Fatalf("MonitorAddr = %v without HTTPPort", a)
	}
}

func TestMonitorListenOnHTTPHost(t *testing.T) {
	s, _ := monStart(t, nil)
	a := s.MonitorAddr().(*net.TCPAddr)
	if !a.IP.Equal(net.IPv4(127, 0, 0, 1)) || a.Port == 0 {
		t.Fatalf("monitor bound to %v, want 127.0.0.1:<random>", a)
	}
}

func TestMonitorRootIndex(t *testing.T) {
	_, base := monStart(t, nil)
	code, body := monGet(t, base+"/")
	if code != http.StatusOK {
		t.Fatalf("/ = %d", code)
	}
	for _, p := range []string{"/varz", "/connz", "/subsz", "/healthz", "/metrics"} {
		if !strings.Contains(string(body), `href=".`+p+`"`) {
			t.Errorf("index lacks a link to %s:\n%s", p, body)
		}
	}
	if code, _ := monGet(t, base+"/no-such-endpoint"); code != http.StatusNotFound {
		t.Fatalf("/no-such-endpoint = %d, want 404", code)
	}
}

func TestMonitorVarz(t *testing.T) {
	s, base := monStart(t, &Options{
		ServerName:   "busd-test",
		MaxPayload:   4096,
		PingInterval: 90 * time.Second,
		MaxSubs:      100,
	})
	sub := monConnect(t, s, "sub")
	pub := monConnect(t, s, "pub")
	ch := make(chan *nats.Msg, 16)
	if _, err := sub.ChanSubscribe("v.>", ch); err != nil {
		t.Fatal(err)
	}
	monFlush(t, sub)
	const n, size = 7, 10
	for i := 0; i < n; i++ {
		if err := pub.Publish("v.x", make([]byte, size)); err != nil {
			t.Fatal(err)
		}
	}
	monFlush(t, pub) // the server has routed every message once PONG is back

	var v varz
	raw := monJSON(t, base+"/varz", &v)
	// Also check the wire names tools key on, independent of our struct.
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"server_id", "server_name", "version", "proto", "go", "host", "port",
		"max_connections", "ping_interval", "ping_max", "http_host", "http_port", "max_control_line",
		"max_payload", "max_pending", "write_deadline", "start", "now", "uptime", "mem", "cores", "cpu",
		"connections", "total_connections", "subscriptions", "in_msgs", "out_msgs", "in_bytes",
		"out_bytes", "slow_consumers", "stale_connections", "http_req_stats"} {
		if _, ok := m[k]; !ok {
			t.Errorf("/varz lacks %q", k)
		}
	}
	if got := m["ping_interval"].(float64); got != float64(90*time.Second) {
		t.Errorf("ping_interval = %v, want nanoseconds %d", got, 90*time.Second)
	}

	bound := s.Addr().(*net.TCPAddr).Port
	mon := s.MonitorAddr().(*net.TCPAddr).Port
	checks := []struct {
		name      string
		got, want any
	}{
		{"server_id", v.ID, s.id},
		{"server_name", v.Name, "busd-test"},
		{"version", v.Version, ReportedVersion},
		{"proto", v.Proto, 1},
		{"go", v.GoVersion, runtime.Version()},
		{"host", v.Host, "127.0.0.1"},
		{"port", v.Port, bound},
		{"http_host", v.HTTPHost, "127.0.0.1"},
		{"http_port", v.HTTPPort, mon},
		{"max_payload", v.MaxPayload, 4096},
		{"max_pending", v.MaxPending, int64(DefaultMaxPending)},
		{"max_control_line", v.MaxControlLine, int32(DefaultMaxControlLine)},
		{"max_connections", v.MaxConn, DefaultMaxConnections},
		{"max_subscriptions", v.MaxSubs, 100},
		{"ping_max", v.MaxPingsOut, DefaultMaxPingsOut},
		{"write_deadline", v.WriteDeadline, DefaultWriteDeadline},
		{"auth_required", v.AuthRequired, false},
		{"tls_required", v.TLSRequired, false},
		{"connections", v.Connections, 2},
		{"total_connections", v.TotalConnections, uint64(2)},
		{"subscriptions", v.Subscriptions, uint32(1)},
		{"in_msgs", v.InMsgs, int64(n)},
		{"in_bytes", v.InBytes, int64(n * size)},
		{"out_msgs", v.OutMsgs, int64(n)},
		{"out_bytes", v.OutBytes, int64(n * size)},
		{"slow_consumers", v.SlowConsumers, int64(0)},
		{"stale_connections", v.StaleConnections, int64(0)},
		{"cores", v.Cores, runtime.NumCPU()},
		{"http_req_stats[/varz]", v.HTTPReqStats["/varz"], uint64(1)},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if !monUptimeRE.MatchString(v.Uptime) {
		t.Errorf("uptime %q is not in nats-server's format", v.Uptime)
	}
	if v.Start.IsZero() || v.Now.Before(v.Start) {
		t.Errorf("start %v, now %v", v.Start, v.Now)
	}
	if v.Mem <= 0 {
		t.Errorf("mem = %d", v.Mem)
	}
	if v.CPU < 0 {
		t.Errorf("cpu = %v", v.CPU)
	}

	// Request counts accumulate per endpoint, and inbound totals survive the
	// publisher closing.
	monGet(t, base+"/connz")
	monGet(t, base+"/healthz")
	pubCID := monCID(t, pub)
	pub.Close()
	monWaitFor(t, "the publisher to be closed", func() bool {
		var cz connz
		monJSON(t, fmt.Sprintf("%s/connz?state=closed&cid=%d", base, pubCID), &cz)
		return len(cz.Conns) == 1
	})
	var v2 varz
	monJSON(t, base+"/varz", &v2)
	if v2.HTTPReqStats["/varz"] != 2 || v2.HTTPReqStats["/connz"] < 2 || v2.HTTPReqStats["/healthz"] != 1 {
		t.Errorf("http_req_stats = %v", v2.HTTPReqStats)
	}
	if v2.Connections != 1 || v2.TotalConnections != 2 {
		t.Errorf("after close: connections %d total %d, want 1 and 2", v2.Connections, v2.TotalConnections)
	}
	if v2.InMsgs != n || v2.InBytes != n*size {
		t.Errorf("after close: in_msgs %d in_bytes %d, want %d and %d", v2.InMsgs, v2.InBytes, n, n*size)
	}
	if v2.Uptime == "" || v2.Now.Before(v.Now) {
		t.Errorf("second /varz: uptime %q now %v (first now %v)", v2.Uptime, v2.Now, v.Now)
	}
}

// monThreeClients connects alpha (1 sub, publishes 5), beta (3 subs,
// publishes 1) and gamma (2 subs, publishes 3) and returns them in cid order.
func monThreeClients(t *testing.T, s *Server) (alpha, beta, gamma *nats.Conn) {
	t.Helper()
	alpha = monConnect(t, s, "alpha")
	beta = monConnect(t, s, "beta")
	gamma = monConnect(t, s, "gamma")
	for nc, subjects := range map[*nats.Conn][]string{
		alpha: {"a.1"},
		beta:  {"b.1", "b.2", "b.3"},
		gamma: {"g.1", "g.2"},
	} {
		for _, subj := range subjects {
			if _, err := nc.SubscribeSync(subj); err != nil {
				t.Fatal(err)
			}
		}
	}
	monFlush(t, alpha, beta, gamma)
	for nc, k := range map[*nats.Conn]int{alpha: 5, beta: 1, gamma: 3} {
		for i := 0; i < k; i++ {
			if err := nc.Publish("nobody.listens", []byte("xyz")); err != nil {
				t.Fatal(err)
			}
		}
	}
	monFlush(t, alpha, beta, gamma)
	return alpha, beta, gamma
}

func TestMonitorConnz(t *testing.T) {
	s, base := monStart(t, nil)
	alpha, beta, gamma := monThreeClients(t, s)
	ca, cb, cg := monCID(t, alpha), monCID(t, beta), monCID(t, gamma)

	// alpha receives 4 messages on its subscription.
	for i := 0; i < 4; i++ {
		if err := beta.Publish("a.1", []byte("hello")); err != nil {
			t.Fatal(err)
		}
	}
	monFlush(t, beta)

	var cz connz
	raw := monJSON(t, base+"/connz", &cz)
	if cz.ID != s.id || cz.NumConns != 3 || cz.Total != 3 || cz.Offset != 0 || cz.Limit != defaultConnListSize {
		t.Fatalf("connz header: id %q num %d total %d offset %d limit %d", cz.ID, cz.NumConns, cz.Total, cz.Offset, cz.Limit)
	}
	if got := monCIDs(&cz); !slices.Equal(got, []uint64{ca, cb, cg}) {
		t.Fatalf("default order %v, want by cid %v", got, []uint64{ca, cb, cg})
	}
	a := monConnByCID(t, &cz, ca)
	if a.Kind != "Client" || a.Type != "nats" || a.IP != "127.0.0.1" || a.Port <= 0 {
		t.Errorf("alpha kind %q type %q ip %q port %d", a.Kind, a.Type, a.IP, a.Port)
	}
	if a.Name != "alpha" || a.Lang != "go" || a.Version != nats.Version {
		t.Errorf("alpha name %q lang %q version %q", a.Name, a.Lang, a.Version)
	}
	if a.NumSubs != 1 || a.InMsgs != 5 || a.InBytes != 15 || a.OutMsgs != 4 || a.OutBytes != 20 {
		t.Errorf("alpha subs %d in %d/%d out %d/%d, want 1 5/15 4/20", a.NumSubs, a.InMsgs, a.InBytes, a.OutMsgs, a.OutBytes)
	}
	if b := monConnByCID(t, &cz, cb); b.InMsgs != 5 || b.NumSubs != 3 || b.OutMsgs != 0 {
		t.Errorf("beta in %d subs %d out %d, want 5 3 0", b.InMsgs, b.NumSubs, b.OutMsgs)
	}
	if !monUptimeRE.MatchString(a.Uptime) || !monUptimeRE.MatchString(a.Idle) {
		t.Errorf("uptime %q idle %q", a.Uptime, a.Idle)
	}
	if a.Start.IsZero() || a.LastActivity.Before(a.Start) || a.Stop != nil || a.Reason != "" {
		t.Errorf("start %v last %v stop %v reason %q", a.Start, a.LastActivity, a.Stop, a.Reason)
	}
	if a.Subs != nil || a.SubsDetail != nil || a.AuthorizedUser != "" {
		t.Errorf("subscriptions or user listed without being asked for: %+v", a)
	}
	if strings.Contains(string(raw), "subscriptions_list") {
		t.Errorf("subscriptions_list present without subs=1")
	}

	// Sorting.
	for _, tc := range []struct {
		sort string
		want []uint64
	}{
		{"cid", []uint64{ca, cb, cg}},
		{"start", []uint64{ca, cb, cg}},
		{"subs", []uint64{cb, cg, ca}},
		{"msgs_from", []uint64{ca, cb, cg}}, // 5, 5 (4 to alpha + 1), 3: ties by cid
		{"bytes_from", []uint64{cb, ca, cg}},
		{"msgs_to", []uint64{ca, cb, cg}},
		{"bytes_to", []uint64{ca, cb, cg}},
		{"uptime", []uint64{cg, cb, ca}},
	} {
		var sz connz
		monJSON(t, base+"/connz?sort="+tc.sort, &sz)
		if got := monCIDs(&sz); !slices.Equal(got, tc.want) {
			t.Errorf("sort=%s: %v, want %v", tc.sort, got, tc.want)
		}
	}
	for _, srt := range []string{"pending", "last", "idle", "rtt"} {
		var sz connz
		monJSON(t, base+"/connz?sort="+srt, &sz)
		if sz.NumConns != 3 {
			t.Errorf("sort=%s: %d connections", srt, sz.NumConns)
		}
	}

	// Paging.
	var pg connz
	monJSON(t, base+"/connz?limit=2&offset=1", &pg)
	if got := monCIDs(&pg); !slices.Equal(got, []uint64{cb, cg}) || pg.Total != 3 || pg.NumConns != 2 || pg.Limit != 2 || pg.Offset != 1 {
		t.Errorf("limit=2&offset=1: cids %v total %d num %d limit %d offset %d", got, pg.Total, pg.NumConns, pg.Limit, pg.Offset)
	}
	monJSON(t, base+"/connz?limit=1&sort=subs", &pg)
	if got := monCIDs(&pg); !slices.Equal(got, []uint64{cb}) {
		t.Errorf("limit=1&sort=subs: %v", got)
	}
	pg = connz{}
	raw = monJSON(t, base+"/connz?offset=10", &pg)
	if pg.NumConns != 0 || pg.Total != 3 || pg.Conns == nil || !strings.Contains(string(raw), `"connections": []`) {
		t.Errorf("offset past the end: num %d total %d conns %v", pg.NumConns, pg.Total, pg.Conns)
	}

	// One connection by cid.
	var one connz
	monJSON(t, fmt.Sprintf("%s/connz?cid=%d", base, cg), &one)
	if got := monCIDs(&one); !slices.Equal(got, []uint64{cg}) || one.Limit != 1 {
		t.Errorf("cid=%d: %v limit %d", cg, got, one.Limit)
	}
	monJSON(t, base+"/connz?cid=999999", &one)
	if one.NumConns != 0 {
		t.Errorf("unknown cid listed %v", monCIDs(&one))
	}

	// Subscriptions.
	for _, q := range []string{"subs=1", "subs=true"} {
		var sc connz
		monJSON(t, base+"/connz?"+q+"&cid="+fmt.Sprint(cb), &sc)
		if got := sc.Conns[0].Subs; !slices.Equal(got, []string{"b.1", "b.2", "b.3"}) {
			t.Errorf("%s: subscriptions_list %v", q, got)
		}
	}
	var dc connz
	monJSON(t, base+"/connz?subs=detail", &dc)
	ad := monConnByCID(t, &dc, ca)
	if ad.Subs != nil || len(ad.SubsDetail) != 1 {
		t.Fatalf("subs=detail: list %v detail %v", ad.Subs, ad.SubsDetail)
	}
	if d := ad.SubsDetail[0]; d.Subject != "a.1" || d.Cid != ca || d.Msgs != 4 || d.Sid == "" || d.Queue != "" {
		t.Errorf("subs=detail: %+v", d)
	}
	if gd := monConnByCID(t, &dc, cg); len(gd.SubsDetail) != 2 || gd.SubsDetail[0].Subject != "g.1" {
		t.Errorf("gamma detail %+v", gd.SubsDetail)
	}

	// Bad queries are 400 with a reason.
	for q, want := range map[string]string{
		"sort=bogus":              "invalid sorting option",
		"sort=stop":               "only valid on closed",
		"sort=reason&state=any":   "only valid on closed",
		"state=sideways":          "state",
		"limit=ten":               "limit",
		"offset=x":                "offset",
		"cid=-1":                  "cid",
		"subs=maybe":              "subs",
		"auth=perhaps":            "auth",
		"sort=stop&state=open":    "only valid on closed",
		"sort=reason&state=open":  "only valid on closed",
		"sort=reason&state=OPEN ": "state",
	} {
		code, body := monGet(t, base+"/connz?"+strings.ReplaceAll(q, " ", "%20"))
		if code != http.StatusBadRequest || !strings.Contains(string(body), want) {
			t.Errorf("%s: %d %q, want 400 mentioning %q", q, code, body, want)
		}
	}
}

func TestMonitorConnzClosed(t *testing.T) {
	s, base := monStart(t, nil)
	keep := monConnect(t, s, "keeper")
	gone := monConnect(t, s, "leaver")
	for _, subj := range []string{"l.1", "l.2"} {
		if _, err := gone.SubscribeSync(subj); err != nil {
			t.Fatal(err)
		}
	}
	if err := gone.Publish("x", []byte("1234")); err != nil {
		t.Fatal(err)
	}
	monFlush(t, keep, gone)
	kc, gc := monCID(t, keep), monCID(t, gone)
	gone.Close()

	var cz connz
	monWaitFor(t, "the closed connection in /connz?state=closed", func() bool {
		monJSON(t, base+"/connz?state=closed", &cz)
		return cz.NumConns == 1
	})
	c := cz.Conns[0]
	if c.Cid != gc || c.Name != "leaver" || c.Reason != "Client Closed" || c.Stop == nil {
		t.Fatalf("closed conn: %+v", c)
	}
	if c.Stop.Before(c.Start) || c.InMsgs != 1 || c.InBytes != 4 || c.NumSubs != 2 || !monUptimeRE.MatchString(c.Uptime) {
		t.Errorf("closed conn: stop %v start %v in %d/%d subs %d uptime %q", c.Stop, c.Start, c.InMsgs, c.InBytes, c.NumSubs, c.Uptime)
	}
	if cz.Total != 1 {
		t.Errorf("closed total %d", cz.Total)
	}

	var open connz
	monJSON(t, base+"/connz", &open)
	if got := monCIDs(&open); !slices.Equal(got, []uint64{kc}) {
		t.Errorf("state=open lists %v, want only %d", got, kc)
	}
	var all connz
	monJSON(t, base+"/connz?state=any", &all)
	if got := monCIDs(&all); !slices.Equal(got, []uint64{kc, gc}) || all.Total != 2 {
		t.Errorf("state=any lists %v (total %d), want %v", got, all.Total, []uint64{kc, gc})
	}
	if monConnByCID(t, &all, kc).Stop != nil || monConnByCID(t, &all, gc).Stop == nil {
		t.Errorf("stop set on the wrong connection")
	}

	var byCID connz
	monJSON(t, fmt.Sprintf("%s/connz?state=any&cid=%d", base, gc), &byCID)
	if got := monCIDs(&byCID); !slices.Equal(got, []uint64{gc}) || byCID.Conns[0].Reason != "Client Closed" {
		t.Errorf("state=any&cid=%d: %v", gc, got)
	}
	monJSON(t, fmt.Sprintf("%s/connz?cid=%d", base, gc), &byCID)
	if byCID.NumConns != 0 {
		t.Errorf("a closed cid is listed with state=open")
	}

	// A closed connection's record counts its subscriptions but, unlike
	// nats-server's, does not list them: the record has a fixed size.
	var subs connz
	monJSON(t, base+"/connz?state=closed&subs=1", &subs)
	if c := subs.Conns[0]; c.Subs != nil || c.NumSubs != 2 {
		t.Errorf("closed connection: subscriptions_list %v, subscriptions %d; want none listed, 2 counted", c.Subs, c.NumSubs)
	}

	// A second closed connection, closed by the server for a protocol error,
	// to order by stop (newest first) and by reason (alphabetical).
	bad, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	if _, err := bad.Write([]byte("CONNECT {\"verbose\":false}\r\nBOGUS\r\n")); err != nil {
		t.Fatal(err)
	}
	_, _ = io.ReadAll(bad) // the server answers -ERR and closes
	monWaitFor(t, "two closed connections", func() bool {
		monJSON(t, base+"/connz?state=closed&sort=stop", &cz)
		return cz.NumConns == 2
	})
	if cz.Conns[0].Cid == gc || cz.Conns[1].Cid != gc {
		t.Errorf("sort=stop: %v, want newest first", monCIDs(&cz))
	}
	monJSON(t, base+"/connz?state=closed&sort=reason", &cz)
	if cz.Conns[0].Reason != "Client Closed" || cz.Conns[1].Reason != "Protocol Violation" {
		t.Errorf("sort=reason: %q, %q", cz.Conns[0].Reason, cz.Conns[1].Reason)
	}
}

func TestMonitorConnzNeverShowsCredentials(t *testing.T) {
	const user, pass = "alice", "s3cr3t-Pa55-word"
	s, base := monStart(t, &Options{Username: user, Password: pass})
	nc := monConnect(t, s, "authed", nats.UserInfo(user, pass))
	if _, err := nc.SubscribeSync("secret.stuff"); err != nil {
		t.Fatal(err)
	}
	monFlush(t, nc)
	cid := monCID(t, nc)

	// A failed attempt leaves a closed connection behind; its wrong password
	// must not show either.
	const wrong = "wr0ng-guess-Pa55"
	if bad, err := nats.Connect(s.ClientURL(), nats.UserInfo(user, wrong), nats.NoReconnect()); err == nil {
		bad.Close()
		t.Fatal("connected with a wrong password")
	}
	monWaitFor(t, "the failed attempt in the closed list", func() bool {
		var cz connz
		monJSON(t, base+"/connz?state=closed", &cz)
		return cz.NumConns == 1
	})

	var cz connz
	for _, q := range []string{"", "?auth=1", "?auth=true&subs=detail&state=any", "?auth=1&subs=1&state=closed"} {
		raw := monJSON(t, base+"/connz"+q, &cz)
		for _, secret := range []string{pass, wrong} {
			if strings.Contains(string(raw), secret) {
				t.Fatalf("/connz%s shows a password:\n%s", q, raw)
			}
		}
	}
	monJSON(t, base+"/connz?auth=1", &cz)
	if got := monConnByCID(t, &cz, cid).AuthorizedUser; got != user {
		t.Errorf("auth=1: authorized_user %q, want %q", got, user)
	}
	raw := monJSON(t, base+"/connz", &cz)
	if monConnByCID(t, &cz, cid).AuthorizedUser != "" || strings.Contains(string(raw), "authorized_user") {
		t.Errorf("authorized_user shown without auth=1")
	}
	monJSON(t, base+"/connz?user="+user, &cz)
	if got := monCIDs(&cz); !slices.Equal(got, []uint64{cid}) {
		t.Errorf("user=%s: %v", user, got)
	}
	monJSON(t, base+"/connz?user=mallory", &cz)
	if cz.NumConns != 0 {
		t.Errorf("user=mallory: %v", monCIDs(&cz))
	}

	var v varz
	raw = monJSON(t, base+"/varz", &v)
	if strings.Contains(string(raw), pass) || !v.AuthRequired {
		t.Errorf("/varz: auth_required %v, or shows the password", v.AuthRequired)
	}
}

func TestMonitorConnzNeverShowsToken(t *testing.T) {
	const token = "t0ken-VALUE-xyzzy"
	s, base := monStart(t, &Options{Authorization: token})
	nc := monConnect(t, s, "tok", nats.Token(token))
	monFlush(t, nc)
	raw := monJSON(t, base+"/connz?auth=1&subs=detail&state=any", new(connz))
	if strings.Contains(string(raw), token) {
		t.Fatalf("/connz shows the token:\n%s", raw)
	}
}

func TestMonitorConnzRTT(t *testing.T) {
	// The server pings an idle client every PingInterval; the PONG gives the RTT.
	s, base := monStart(t, &Options{PingInterval: 20 * time.Millisecond})
	nc := monConnect(t, s, "rtt")
	cid := monCID(t, nc)
	var rtt string
	monWaitFor(t, "a measured RTT", func() bool {
		var cz connz
		monJSON(t, fmt.Sprintf("%s/connz?cid=%d", base, cid), &cz)
		rtt = monConnByCID(t, &cz, cid).RTT
		return rtt != "0s"
	})
	if d, err := time.ParseDuration(rtt); err != nil || d <= 0 {
		t.Fatalf("rtt %q", rtt)
	}
	if !nc.IsConnected() {
		t.Fatal("client disconnected")
	}
}

// TestMonitorConnzDoesNotPingDuringHandshake polls /connz while clients
// connect: a PING from the monitor arriving before the PONG a client library
// waits for would fail its connect.
func TestMonitorConnzDoesNotPingDuringHandshake(t *testing.T) {
	s, base := monStart(t, nil)
	stop := make(chan struct{})
	const pollers = 4
	polled := make(chan int, pollers)
	for p := 0; p < pollers; p++ {
		go func() {
			n := 0
			defer func() { polled <- n }()
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := http.Get(base + "/connz")
				if err != nil {
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				n++
			}
		}()
	}
	var failed error
	for i := 0; i < 100 && failed == nil; i++ {
		nc, err := nats.Connect(s.ClientURL(), nats.NoReconnect())
		if err != nil {
			failed = fmt.Errorf("connect %d while /connz is polled: %w", i, err)
			break
		}
		nc.Close()
	}
	close(stop)
	total := 0
	for p := 0; p < pollers; p++ {
		total += <-polled
	}
	if failed != nil {
		t.Fatal(failed)
	}
	if total == 0 {
		t.Fatal("/connz was never polled")
	}
}

func TestMonitorSubsz(t *testing.T) {
	s, base := monStart(t, nil)
	nc := monConnect(t, s, "subber")
	other := monConnect(t, s, "other")
	for _, subj := range []string{"foo.bar", "foo.*", "foo.>", "baz"} {
		if _, err := nc.SubscribeSync(subj); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := other.QueueSubscribeSync("foo.bar", "workers"); err != nil {
		t.Fatal(err)
	}
	monFlush(t, nc, other)

	var sz subsz
	raw := monJSON(t, base+"/subsz", &sz)
	if sz.ID != s.id || sz.NumSubs != 5 || sz.NumInserts != 5 || sz.NumRemoves != 0 || sz.Subs != nil || sz.Total != 0 {
		t.Fatalf("/subsz: %+v", sz)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"num_subscriptions", "num_cache", "num_inserts", "num_removes", "num_matches",
		"cache_hit_rate", "max_fanout", "avg_fanout"} {
		if _, ok := m[k]; !ok {
			t.Errorf("/subsz lacks %q", k)
		}
	}

	// Three publishes to one subject: two misses (a subject is cached on its
	// second), then a cache hit; fanout 4 (three plain subscriptions and one
	// queue group).
	for i := 0; i < 3; i++ {
		if err := other.Publish("foo.bar", []byte("m")); err != nil {
			t.Fatal(err)
		}
	}
	monFlush(t, other)
	monJSON(t, base+"/subsz", &sz)
	if sz.NumMatches < 3 || sz.NumCache < 1 || sz.MaxFanout != 4 || sz.CacheHitRate <= 0 || sz.AvgFanout <= 0 {
		t.Errorf("after publishing: matches %d cache %d max_fanout %d hit_rate %v avg_fanout %v",
			sz.NumMatches, sz.NumCache, sz.MaxFanout, sz.CacheHitRate, sz.AvgFanout)
	}

	monJSON(t, base+"/subsz?subs=1", &sz)
	if sz.Total != 5 || len(sz.Subs) != 5 {
		t.Fatalf("subs=1: total %d, %d listed", sz.Total, len(sz.Subs))
	}
	var q *subDetail
	for i := range sz.Subs {
		if sz.Subs[i].Queue != "" {
			q = &sz.Subs[i]
		}
	}
	if q == nil || q.Queue != "workers" || q.Subject != "foo.bar" || q.Cid != monCID(t, other) || q.Msgs != 3 {
		t.Errorf("queue subscription detail %+v", q)
	}

	subjects := func(sz *subsz) []string {
		var out []string
		for _, d := range sz.Subs {
			out = append(out, d.Subject+"|"+d.Queue)
		}
		slices.Sort(out)
		return out
	}
	for test, want := range map[string][]string{
		"foo.bar":     {"foo.*|", "foo.>|", "foo.bar|", "foo.bar|workers"},
		"foo.bar.baz": {"foo.>|"},
		"baz":         {"baz|"},
		"nothing":     nil,
	} {
		var tz subsz
		monJSON(t, base+"/subsz?subs=1&test="+test, &tz)
		if got := subjects(&tz); !slices.Equal(got, want) || tz.Total != len(want) {
			t.Errorf("test=%s: %v (total %d), want %v", test, got, tz.Total, want)
		}
		if tz.NumSubs != 5 {
			t.Errorf("test=%s: num_subscriptions %d; the filter applies to the list only", test, tz.NumSubs)
		}
	}

	var pg subsz
	monJSON(t, base+"/subsz?subs=1&limit=2&offset=1", &pg)
	if len(pg.Subs) != 2 || pg.Total != 5 || pg.Limit != 2 || pg.Offset != 1 {
		t.Errorf("paging: %d listed, total %d limit %d offset %d", len(pg.Subs), pg.Total, pg.Limit, pg.Offset)
	}
	if pg.Subs[0] != sz.Subs[1] || pg.Subs[1] != sz.Subs[2] {
		t.Errorf("page %v is not items 1-2 of %v", pg.Subs, sz.Subs)
	}

	for q, want := range map[string]string{
		"test=foo.*":  "invalid test subject",
		"test=foo..x": "invalid test subject",
		"subs=often":  "subs",
		"limit=many":  "limit",
	} {
		code, body := monGet(t, base+"/subsz?"+q)
		if code != http.StatusBadRequest || !strings.Contains(string(body), want) {
			t.Errorf("%s: %d %q", q, code, body)
		}
	}

	// The older path answers too, and removals are counted.
	nc.Close()
	monWaitFor(t, "the subscriber's subscriptions to go", func() bool {
		var z subsz
		monJSON(t, base+"/subscriptionsz", &z)
		return z.NumSubs == 1 && z.NumRemoves == 4
	})
}

func TestMonitorHealthz(t *testing.T) {
	s, base := monStart(t, &Options{LameDuckGracePeriod: time.Hour, LameDuckDuration: 2 * time.Hour})
	var h healthStatus
	monJSON(t, base+"/healthz", &h)
	if h.Status != "ok" || h.Error != "" {
		t.Fatalf("healthz %+v", h)
	}

	// Lame duck: the client is told (INFO ldm) after the server set the flag.
	ldm := make(chan struct{}, 1)
	monConnect(t, s, "duck", nats.LameDuckModeHandler(func(*nats.Conn) {
		select {
		case ldm <- struct{}{}:
		default:
		}
	}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.LameDuck(ctx) }()
	select {
	case <-ldm:
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("no lame duck notice")
	}
	code, body := monGet(t, base+"/healthz")
	if code != http.StatusServiceUnavailable {
		t.Fatalf("healthz in lame duck mode: %d %s", code, body)
	}
	if err := json.Unmarshal(body, &h); err != nil || h.Status == "ok" || !strings.Contains(h.Error, "lame duck") {
		t.Fatalf("healthz in lame duck mode: %s (%v)", body, err)
	}

	// Shutting down: the listener goes at once, so ask the handler directly.
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("LameDuck did not return after its context was cancelled")
	}
	s.mu.Lock()
	hs := s.http
	s.mu.Unlock()
	rec := httptest.NewRecorder()
	hs.Handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("healthz after shutdown: %d %s", rec.Code, rec.Body)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &h); err != nil || !strings.Contains(h.Error, "shutting down") {
		t.Fatalf("healthz after shutdown: %s (%v)", rec.Body, err)
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Fatal("monitoring still listening after shutdown")
	}
}

// TestMonitorConcurrentTraffic reads every endpoint while clients connect,
// subscribe, publish and leave; under -race it checks the locking.
func TestMonitorConcurrentTraffic(t *testing.T) {
	s, base := monStart(t, nil)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 5; i++ {
				nc, err := nats.Connect(s.ClientURL(), nats.Name(fmt.Sprintf("w%d-%d", w, i)), nats.NoReconnect())
				if err != nil {
					errs <- err
					return
				}
				if _, err := nc.SubscribeSync(fmt.Sprintf("c.%d.>", w)); err != nil {
					errs <- err
				}
				for j := 0; j < 20; j++ {
					_ = nc.Publish(fmt.Sprintf("c.%d.x", (w+1)%4), []byte("payload"))
				}
				_ = nc.Flush()
				nc.Close()
			}
		}(w)
	}
	stop := make(chan struct{})
	readers := sync.WaitGroup{}
	for _, p := range []string{"/varz", "/connz?subs=detail&state=any&sort=msgs_to&auth=1", "/subsz?subs=1&test=c.1.x", "/healthz", "/connz?sort=rtt"} {
		readers.Add(1)
		go func(p string) {
			defer readers.Done()
			for i := 0; i < 200; i++ {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := http.Get(base + p)
				if err != nil {
					errs <- err
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					errs <- fmt.Errorf("%s: %d", p, resp.StatusCode)
					return
				}
			}
		}(p)
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var v varz
	monJSON(t, base+"/varz", &v)
	if v.TotalConnections != 20 || v.InMsgs != 400 {
		t.Errorf("total_connections %d in_msgs %d, want 20 and 400", v.TotalConnections, v.InMsgs)
	}
}

// TestMonitorConnzSortByActivity checks sort=last and sort=idle on the first
// /connz of a fresh server: later ones see the PONGs to its RTT pings.
func TestMonitorConnzSortByActivity(t *testing.T) {
	for _, tc := range []struct {
		sort    string
		reverse bool // idle lists the longest idle first, last the most recent
	}{{"last", false}, {"idle", true}} {
		t.Run(tc.sort, func(t *testing.T) {
			s, base := monStart(t, nil)
			a, b, c := monConnect(t, s, "a"), monConnect(t, s, "b"), monConnect(t, s, "c")
			// Activity in the order b, c, a.
			monFlush(t, b, c, a)
			want := []uint64{monCID(t, a), monCID(t, c), monCID(t, b)}
			if tc.reverse {
				slices.Reverse(want)
			}
			var cz connz
			monJSON(t, base+"/connz?sort="+tc.sort, &cz)
			if got := monCIDs(&cz); !slices.Equal(got, want) {
				t.Fatalf("sort=%s: %v, want %v", tc.sort, got, want)
			}
		})
	}
}
