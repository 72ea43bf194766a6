package server

// The monitoring endpoints. Their JSON documents use nats-server's field names
// and query parameters, so tools written for nats-server (nats server report,
// prometheus-nats-exporter, dashboards) read busd unchanged:
//
//	/          an HTML index of the endpoints
//	/varz      server identity, limits and counters
//	/connz     connections; ?subs=1|detail&sort=&limit=&offset=&cid=&state=open|closed|any&auth=1&user=
//	/subsz     subscription index statistics; ?subs=1&test=<subject>&limit=&offset=
//	/healthz   {"status":"ok"} 200, or 503 while starting, in lame duck mode or shutting down
//	/accountz  the accounts; ?acc=<name> for one account's details (monitor_accountz.go)
//	/metrics   Prometheus exposition (metrics.go)
//
// Handlers never hold the server's lock and a client's lock at once, except for
// the closed-connection ring, whose clients no longer take the server's lock.

import (
	"encoding/json"
	"fmt"
	"html"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Monitoring paths, as nats-server names them.
const (
	rootPath    = "/"
	varzPath    = "/varz"
	connzPath   = "/connz"
	subszPath   = "/subsz"
	healthzPath = "/healthz"
	metricsPath = "/metrics"
)

// Defaults for list sizes, as nats-server's.
const (
	defaultConnListSize = 1024
	defaultSubListSize  = 1024
)

// monitor holds what the HTTP handlers need beyond the server: request counts
// for /varz and the previous CPU sample.
type monitor struct {
	s *Server

	mu      sync.Mutex
	reqs    map[string]uint64
	cpuWall time.Time
	cpuTime time.Duration // process CPU time at cpuWall; -1 when unavailable
}

// startMonitor binds the monitoring listener and serves the endpoints. Start
// calls it with s.mu held.
func (s *Server) startMonitor() error {
	port := s.opts.HTTPPort
	if port < 0 {
		port = 0
	}
	hp := net.JoinHostPort(s.opts.HTTPHost, strconv.Itoa(port))
	ln, err := net.Listen("tcp", hp)
	if err != nil {
		return fmt.Errorf("busd: monitor listen: %w", err)
	}
	m := &monitor{s: s, reqs: make(map[string]uint64)}
	m.cpuWall, m.cpuTime = time.Now(), processCPUTime()

	mux := http.NewServeMux()
	mux.HandleFunc(rootPath+"{$}", m.handleRoot)
	mux.HandleFunc(varzPath, m.handleVarz)
	mux.HandleFunc(connzPath, m.handleConnz)
	mux.HandleFunc(subszPath, m.handleSubsz)
	mux.HandleFunc("/subscriptionsz", m.handleSubsz) // nats-server's older name
	mux.HandleFunc(healthzPath, m.handleHealthz)
	mux.HandleFunc(accountzPath, m.handleAccountz)
	mux.Handle(metricsPath, s.metricsHandler())

	// No WriteTimeout: a large /connz may take a while to build.
	hs := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		MaxHeaderBytes:    1 << 20,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
	s.http, s.httpLn = hs, ln
	s.logger.Info("busd monitoring", "addr", ln.Addr().String())
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := hs.Serve(ln); err != nil && err != http.ErrServerClosed {
			s.logger.Error("monitoring server stopped", "err", err)
		}
	}()
	return nil
}

// count records a request for /varz's http_req_stats.
func (m *monitor) count(path string) {
	m.mu.Lock()
	m.reqs[path]++
	m.mu.Unlock()
}

// writeJSON sends v indented, as nats-server does, with its headers.
func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

// badRequest answers a malformed query with a plain-text reason and 400.
func badRequest(w http.ResponseWriter, format string, args ...any) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff") // the reason echoes the query
	w.WriteHeader(http.StatusBadRequest)
	_, _ = fmt.Fprintf(w, format, args...)
}

// uptimeString renders d as nats-server does: whole seconds, with minutes,
// hours, days and years only once they are non-zero, e.g. "1h2m3s", "4d0h0m1s".
func uptimeString(d time.Duration) string {
	secs := int64(d / time.Second)
	if secs < 0 {
		secs = 0
	}
	years, days := secs/(365*86400), (secs/86400)%365
	hours, mins, s := (secs/3600)%24, (secs/60)%60, secs%60
	switch {
	case years > 0:
		return fmt.Sprintf("%dy%dd%dh%dm%ds", years, days, hours, mins, s)
	case secs >= 86400:
		return fmt.Sprintf("%dd%dh%dm%ds", days, hours, mins, s)
	case secs >= 3600:
		return fmt.Sprintf("%dh%dm%ds", hours, mins, s)
	case secs >= 60:
		return fmt.Sprintf("%dm%ds", mins, s)
	}
	return fmt.Sprintf("%ds", s)
}

func (m *monitor) handleRoot(w http.ResponseWriter, r *http.Request) {
	m.count(rootPath)
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html lang=\"en\">\n<head><title>busd</title></head>\n<body>\n")
	fmt.Fprintf(&b, "<h1>busd %s</h1>\n<p>server %s</p>\n<ul>\n", html.EscapeString(Version), html.EscapeString(m.s.id))
	for _, e := range [...]struct{ path, what string }{
		{varzPath, "General"},
		{connzPath, "Connections"},
		{subszPath, "Subscriptions"},
		{healthzPath, "Health"},
		{accountzPath, "Accounts"},
		{metricsPath, "Prometheus metrics"},
	} {
		// Relative links keep working behind a path-rewriting proxy.
		fmt.Fprintf(&b, "<li><a href=\".%s\">%s</a> <code>%s</code></li>\n", e.path, e.what, e.path)
	}
	b.WriteString("</ul>\n</body>\n</html>\n")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write([]byte(b.String()))
}
