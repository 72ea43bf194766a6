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
//	/metrics   Prometheus exposition (metrics.go)
//
// Handlers never hold the server's lock and a client's lock at once, except for
// the closed-connection ring, whose clients no longer take the server's lock.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"slices"
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

// ---- / ----

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
		{metricsPath, "Prometheus metrics"},
	} {
		// Relative links keep working behind a path-rewriting proxy.
		fmt.Fprintf(&b, "<li><a href=\".%s\">%s</a> <code>%s</code></li>\n", e.path, e.what, e.path)
	}
	b.WriteString("</ul>\n</body>\n</html>\n")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write([]byte(b.String()))
}

// ---- /varz ----

// varz is the /varz document: the subset of nats-server's Varz that busd has,
// with the same JSON names and types (durations in nanoseconds, timeouts in
// seconds).
type varz struct {
	ID               string            `json:"server_id"`
	Name             string            `json:"server_name"`
	Version          string            `json:"version"`
	Proto            int               `json:"proto"`
	GoVersion        string            `json:"go"`
	Host             string            `json:"host"`
	Port             int               `json:"port"`
	AuthRequired     bool              `json:"auth_required,omitempty"`
	TLSRequired      bool              `json:"tls_required,omitempty"`
	TLSVerify        bool              `json:"tls_verify,omitempty"`
	MaxConn          int               `json:"max_connections"`
	MaxSubs          int               `json:"max_subscriptions,omitempty"`
	PingInterval     time.Duration     `json:"ping_interval"`
	MaxPingsOut      int               `json:"ping_max"`
	HTTPHost         string            `json:"http_host"`
	HTTPPort         int               `json:"http_port"`
	HTTPBasePath     string            `json:"http_base_path"`
	HTTPSPort        int               `json:"https_port"`
	AuthTimeout      float64           `json:"auth_timeout"`
	MaxControlLine   int32             `json:"max_control_line"`
	MaxPayload       int               `json:"max_payload"`
	MaxPending       int64             `json:"max_pending"`
	TLSTimeout       float64           `json:"tls_timeout"`
	WriteDeadline    time.Duration     `json:"write_deadline"`
	Start            time.Time         `json:"start"`
	Now              time.Time         `json:"now"`
	Uptime           string            `json:"uptime"`
	Mem              int64             `json:"mem"`
	Cores            int               `json:"cores"`
	MaxProcs         int               `json:"gomaxprocs"`
	CPU              float64           `json:"cpu"`
	Connections      int               `json:"connections"`
	TotalConnections uint64            `json:"total_connections"`
	Routes           int               `json:"routes"`
	Remotes          int               `json:"remotes"`
	Leafs            int               `json:"leafnodes"`
	InMsgs           int64             `json:"in_msgs"`
	InBytes          int64             `json:"in_bytes"`
	InClientMsgs     int64             `json:"in_client_msgs"`
	InClientBytes    int64             `json:"in_client_bytes"`
	OutMsgs          int64             `json:"out_msgs"`
	OutBytes         int64             `json:"out_bytes"`
	OutClientMsgs    int64             `json:"out_client_msgs"`
	OutClientBytes   int64             `json:"out_client_bytes"`
	SlowConsumers    int64             `json:"slow_consumers"`
	StaleConnections int64             `json:"stale_connections"`
	Subscriptions    uint32            `json:"subscriptions"`
	HTTPReqStats     map[string]uint64 `json:"http_req_stats"`
	SlowConsStats    *kindCounts       `json:"slow_consumer_stats"`
	StaleConnStats   *kindCounts       `json:"stale_connection_stats,omitempty"`
}

// kindCounts splits a counter by connection kind; busd has only clients.
type kindCounts struct {
	Clients  uint64 `json:"clients"`
	Routes   uint64 `json:"routes"`
	Gateways uint64 `json:"gateways"`
	Leafs    uint64 `json:"leafs"`
}

func (m *monitor) handleVarz(w http.ResponseWriter, r *http.Request) {
	m.count(varzPath)
	writeJSON(w, http.StatusOK, m.varz())
}

func (m *monitor) varz() *varz {
	s := m.s
	now := time.Now()
	cpu := m.cpuPercent(now)
	mem := processRSS()

	s.mu.Lock()
	o := &s.opts
	v := &varz{
		ID:             s.id,
		Name:           o.ServerName,
		Version:        Version,
		Proto:          1,
		GoVersion:      runtime.Version(),
		Host:           o.Host,
		Port:           o.Port,
		AuthRequired:   s.authRequired(),
		TLSRequired:    o.TLSConfig != nil,
		TLSVerify:      o.TLSConfig != nil && o.TLSVerify,
		MaxConn:        o.MaxConn,
		MaxSubs:        o.MaxSubs,
		PingInterval:   o.PingInterval,
		MaxPingsOut:    o.MaxPingsOut,
		HTTPHost:       o.HTTPHost,
		HTTPPort:       o.HTTPPort,
		AuthTimeout:    o.AuthTimeout.Seconds(),
		MaxControlLine: o.MaxControlLine,
		MaxPayload:     int(o.MaxPayload),
		MaxPending:     o.MaxPending,
		TLSTimeout:     o.TLSTimeout.Seconds(),
		WriteDeadline:  o.WriteDeadline,
		Start:          s.start,
		Connections:    len(s.clients),
	}
	// With random ports, report the bound ones: they are the useful answer.
	if a, ok := tcpAddr(s.listener); ok {
		v.Port = a.Port
	}
	if a, ok := tcpAddr(s.httpLn); ok {
		v.HTTPPort = a.Port
	}
	s.mu.Unlock()

	v.InMsgs, v.InBytes = s.inMsgs.Load(), s.inBytes.Load()
	v.InClientMsgs, v.InClientBytes = v.InMsgs, v.InBytes
	v.OutMsgs, v.OutBytes = s.outMsgs.Load(), s.outBytes.Load()
	v.OutClientMsgs, v.OutClientBytes = v.OutMsgs, v.OutBytes
	v.SlowConsumers = s.slowConsumers.Load()
	v.StaleConnections = s.staleConnections.Load()
	v.SlowConsStats = &kindCounts{Clients: uint64(v.SlowConsumers)}
	if v.StaleConnections > 0 {
		v.StaleConnStats = &kindCounts{Clients: uint64(v.StaleConnections)}
	}
	v.TotalConnections = uint64(s.totalConnections.Load())
	v.Subscriptions = s.sl.count()
	v.Now = now.UTC()
	if !v.Start.IsZero() {
		v.Uptime = uptimeString(now.Sub(v.Start))
	} else {
		v.Uptime = uptimeString(0)
	}
	v.Mem = mem
	v.CPU = cpu
	v.Cores = runtime.NumCPU()
	v.MaxProcs = runtime.GOMAXPROCS(0)

	m.mu.Lock()
	v.HTTPReqStats = make(map[string]uint64, len(m.reqs))
	for k, n := range m.reqs {
		v.HTTPReqStats[k] = n
	}
	m.mu.Unlock()
	return v
}

func tcpAddr(ln net.Listener) (*net.TCPAddr, bool) {
	if ln == nil {
		return nil, false
	}
	a, ok := ln.Addr().(*net.TCPAddr)
	return a, ok
}

// cpuPercent is the process's CPU use, in percent of one core, since the
// previous /varz (or since monitoring started), rounded to 0.01.
func (m *monitor) cpuPercent(now time.Time) float64 {
	t := processCPUTime()
	m.mu.Lock()
	defer m.mu.Unlock()
	prevWall, prevTime := m.cpuWall, m.cpuTime
	m.cpuWall, m.cpuTime = now, t
	wall := now.Sub(prevWall)
	if t < 0 || prevTime < 0 || wall <= 0 || t < prevTime {
		return 0
	}
	pct := float64(t-prevTime) / float64(wall) * 100
	return float64(int64(pct*100+0.5)) / 100
}

// clockTicks is USER_HZ, the unit of /proc's CPU times; 100 on every Linux
// architecture Go supports.
const clockTicks = 100

// processCPUTime reads user+system CPU time from /proc/self/stat, or -1 where
// there is no procfs.
func processCPUTime() time.Duration {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return -1
	}
	// The command name is in parentheses and may contain spaces: fields are
	// counted after the last ')'. utime and stime are fields 14 and 15.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return -1
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return -1
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return -1
	}
	return time.Duration(ut+st) * time.Second / clockTicks
}

// processRSS is the resident set size from /proc/self/statm, or the memory
// the Go runtime holds from the OS where there is no procfs.
func processRSS() int64 {
	if b, err := os.ReadFile("/proc/self/statm"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 2 {
			if pages, err := strconv.ParseInt(f[1], 10, 64); err == nil {
				return pages * int64(os.Getpagesize())
			}
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.Sys)
}

// ---- /connz ----

// connz is the /connz document.
type connz struct {
	ID       string      `json:"server_id"`
	Now      time.Time   `json:"now"`
	NumConns int         `json:"num_connections"`
	Total    int         `json:"total"`
	Offset   int         `json:"offset"`
	Limit    int         `json:"limit"`
	Conns    []*connInfo `json:"connections"`
}

// connInfo is one connection of /connz. Credentials never appear: the
// authorized user name is the only authentication detail, and only with auth=1.
type connInfo struct {
	Cid            uint64      `json:"cid"`
	Kind           string      `json:"kind,omitempty"`
	Type           string      `json:"type,omitempty"`
	IP             string      `json:"ip"`
	Port           int         `json:"port"`
	Start          time.Time   `json:"start"`
	LastActivity   time.Time   `json:"last_activity"`
	Stop           *time.Time  `json:"stop,omitempty"`
	Reason         string      `json:"reason,omitempty"`
	RTT            string      `json:"rtt,omitempty"`
	Uptime         string      `json:"uptime"`
	Idle           string      `json:"idle"`
	Pending        int         `json:"pending_bytes"`
	InMsgs         int64       `json:"in_msgs"`
	OutMsgs        int64       `json:"out_msgs"`
	InBytes        int64       `json:"in_bytes"`
	OutBytes       int64       `json:"out_bytes"`
	NumSubs        uint32      `json:"subscriptions"`
	Name           string      `json:"name,omitempty"`
	Lang           string      `json:"lang,omitempty"`
	Version        string      `json:"version,omitempty"`
	AuthorizedUser string      `json:"authorized_user,omitempty"`
	Subs           []string    `json:"subscriptions_list,omitempty"`
	SubsDetail     []subDetail `json:"subscriptions_list_detail,omitempty"`

	rtt  time.Duration // for sort=rtt
	user string        // for ?user=, whether or not auth=1
}

// subDetail is one subscription in /connz?subs=detail and /subsz?subs=1.
type subDetail struct {
	Subject string `json:"subject"`
	Queue   string `json:"qgroup,omitempty"`
	Sid     string `json:"sid"`
	Msgs    int64  `json:"msgs"`
	Max     int64  `json:"max,omitempty"`
	Cid     uint64 `json:"cid"`
}

// connState selects open, closed or all connections.
type connState int

const (
	connOpen connState = iota
	connClosed
	connAny
)

// connzOptions are /connz's query parameters.
type connzOptions struct {
	sort    string
	auth    bool
	subs    bool
	subsDet bool
	offset  int
	limit   int
	cid     uint64
	state   connState
	user    string
}

// connzSorts maps each sort= value to its order. Only cid, start, uptime and
// reason ascend, as in nats-server; the rest list the largest first.
var connzSorts = map[string]func(a, b *connInfo, now time.Time) int{
	"cid":   func(a, b *connInfo, _ time.Time) int { return cmpAsc(a.Cid, b.Cid) },
	"start": func(a, b *connInfo, _ time.Time) int { return cmpAsc(a.Cid, b.Cid) },
	"subs":  func(a, b *connInfo, _ time.Time) int { return cmpAsc(b.NumSubs, a.NumSubs) },
	"pending": func(a, b *connInfo, _ time.Time) int {
		return cmpAsc(b.Pending, a.Pending)
	},
	"msgs_to":    func(a, b *connInfo, _ time.Time) int { return cmpAsc(b.OutMsgs, a.OutMsgs) },
	"msgs_from":  func(a, b *connInfo, _ time.Time) int { return cmpAsc(b.InMsgs, a.InMsgs) },
	"bytes_to":   func(a, b *connInfo, _ time.Time) int { return cmpAsc(b.OutBytes, a.OutBytes) },
	"bytes_from": func(a, b *connInfo, _ time.Time) int { return cmpAsc(b.InBytes, a.InBytes) },
	"last": func(a, b *connInfo, _ time.Time) int {
		return cmpAsc(b.LastActivity.UnixNano(), a.LastActivity.UnixNano())
	},
	"idle": func(a, b *connInfo, now time.Time) int {
		return cmpAsc(now.Sub(b.LastActivity), now.Sub(a.LastActivity))
	},
	"uptime": func(a, b *connInfo, now time.Time) int {
		return cmpAsc(a.lifetime(now), b.lifetime(now))
	},
	"stop": func(a, b *connInfo, _ time.Time) int {
		return cmpAsc(b.stopNanos(), a.stopNanos())
	},
	"reason": func(a, b *connInfo, _ time.Time) int { return strings.Compare(a.Reason, b.Reason) },
	"rtt":    func(a, b *connInfo, _ time.Time) int { return cmpAsc(b.rtt, a.rtt) },
}

func cmpAsc[T int | int64 | uint32 | uint64 | time.Duration](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (ci *connInfo) lifetime(now time.Time) time.Duration {
	if ci.Stop != nil {
		return ci.Stop.Sub(ci.Start)
	}
	return now.Sub(ci.Start)
}

func (ci *connInfo) stopNanos() int64 {
	if ci.Stop == nil {
		return 0
	}
	return ci.Stop.UnixNano()
}

// parseConnzOptions reads the query; on a bad value it answers 400 and
// returns false.
func parseConnzOptions(w http.ResponseWriter, r *http.Request) (connzOptions, bool) {
	q := r.URL.Query()
	o := connzOptions{sort: q.Get("sort"), user: q.Get("user"), limit: defaultConnListSize}
	var ok bool
	if o.auth, ok = queryBool(w, q.Get("auth"), "auth"); !ok {
		return o, false
	}
	if strings.EqualFold(q.Get("subs"), "detail") {
		o.subsDet = true
	} else if o.subs, ok = queryBool(w, q.Get("subs"), "subs"); !ok {
		return o, false
	}
	if o.offset, ok = queryInt(w, q.Get("offset"), "offset"); !ok {
		return o, false
	}
	o.offset = max(o.offset, 0)
	lim, ok := queryInt(w, q.Get("limit"), "limit")
	if !ok {
		return o, false
	}
	if lim > 0 {
		o.limit = lim
	}
	if v := q.Get("cid"); v != "" {
		cid, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			badRequest(w, "Error decoding uint64 for 'cid': %v", err)
			return o, false
		}
		o.cid = cid
	}
	switch strings.ToLower(q.Get("state")) {
	case "", "open":
		o.state = connOpen
	case "closed":
		o.state = connClosed
	case "any", "all":
		o.state = connAny
	default:
		badRequest(w, "Error decoding state for %s", q.Get("state"))
		return o, false
	}
	if o.sort == "" {
		o.sort = "cid"
	}
	if _, known := connzSorts[o.sort]; !known {
		badRequest(w, "invalid sorting option: %s", o.sort)
		return o, false
	}
	if (o.sort == "stop" || o.sort == "reason") && o.state != connClosed {
		badRequest(w, "sort by %s only valid on closed connections", o.sort)
		return o, false
	}
	if o.cid > 0 {
		o.limit = 1
	}
	return o, true
}

func queryBool(w http.ResponseWriter, v, name string) (bool, bool) {
	if v == "" {
		return false, true
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		badRequest(w, "Error decoding boolean for '%s': %v", name, err)
		return false, false
	}
	return b, true
}

func queryInt(w http.ResponseWriter, v, name string) (int, bool) {
	if v == "" {
		return 0, true
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		badRequest(w, "Error decoding int for '%s': %v", name, err)
		return 0, false
	}
	return n, true
}

func (m *monitor) handleConnz(w http.ResponseWriter, r *http.Request) {
	m.count(connzPath)
	o, ok := parseConnzOptions(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, m.s.connz(&o))
}

// connz builds the /connz document.
func (s *Server) connz(o *connzOptions) *connz {
	now := time.Now()
	var open, closed []*client
	s.mu.Lock()
	if o.state != connClosed {
		if o.cid > 0 {
			if c := s.clients[o.cid]; c != nil {
				open = append(open, c)
			}
		} else {
			open = make([]*client, 0, len(s.clients))
			for _, c := range s.clients {
				open = append(open, c)
			}
		}
	}
	// A cid found open is not looked for among the closed.
	if (o.state != connOpen && len(open) == 0) || (o.state == connAny && o.cid == 0) {
		for _, c := range s.closedLog.list() {
			if o.cid == 0 || c.cid == o.cid {
				closed = append(closed, c)
			}
		}
	}
	s.mu.Unlock()

	infos := make([]*connInfo, 0, len(open)+len(closed))
	for _, c := range open {
		infos = append(infos, c.connInfo(now, o, true))
	}
	for _, c := range closed {
		infos = append(infos, c.connInfo(now, o, false))
	}
	if o.user != "" {
		infos = slices.DeleteFunc(infos, func(ci *connInfo) bool { return ci.user != o.user })
	}
	less := connzSorts[o.sort]
	slices.SortStableFunc(infos, func(a, b *connInfo) int {
		if r := less(a, b, now); r != 0 {
			return r
		}
		return cmpAsc(a.Cid, b.Cid)
	})

	lo := min(o.offset, len(infos))
	hi := lo + min(o.limit, len(infos)-lo)
	page := infos[lo:hi]
	return &connz{
		ID:       s.id,
		Now:      now.UTC(),
		NumConns: len(page),
		Total:    len(infos),
		Offset:   o.offset,
		Limit:    o.limit,
		Conns:    page,
	}
}

// rttPingAfter is how old a connection must be before /connz pings it for an
// RTT. Client libraries send CONNECT+PING and fail if anything but PONG comes
// back first; busd does not record when that first PONG went out, and by this
// age (nats.go's connect timeout) the handshake is over. nats-server uses the
// same bound for clients that never PING.
const rttPingAfter = 2 * time.Second

// connInfo snapshots c under its lock. For an open client that has a
// language (a real client library), no RTT yet and is past its handshake, it
// sends a PING so that a later /connz shows the RTT, as nats-server does.
func (c *client) connInfo(now time.Time, o *connzOptions, open bool) *connInfo {
	ci := &connInfo{
		Cid:          c.cid,
		Kind:         "Client",
		Type:         "nats",
		IP:           c.host,
		Port:         c.port,
		Start:        c.start,
		LastActivity: time.Unix(0, c.lastIn.Load()),
		InMsgs:       c.inMsgs.Load(),
		InBytes:      c.inBytes.Load(),
	}
	pinged := false
	c.mu.Lock()
	ci.Pending = int(c.out.pending)
	ci.OutMsgs, ci.OutBytes = c.outMsgs, c.outBytes
	ci.NumSubs = uint32(len(c.subs))
	ci.Name, ci.Lang, ci.Version = c.opts.Name, c.opts.Lang, c.opts.Version
	ci.user = c.user
	ci.rtt = c.rtt
	if c.closed {
		stop := c.stop
		ci.Stop = &stop
		ci.Reason = c.reason.String()
	} else if open && c.authed && c.rtt == 0 && c.opts.Lang != "" && c.pingSent.IsZero() && now.Sub(c.start) > rttPingAfter {
		c.pingSent = time.Now()
		c.out.write(&c.srv.pool, []byte("PING\r\n"))
		pinged = true
	}
	if o.subsDet && len(c.subs) > 0 {
		ci.SubsDetail = make([]subDetail, 0, len(c.subs))
		for _, sub := range c.subs {
			ci.SubsDetail = append(ci.SubsDetail, sub.detailLocked())
		}
	} else if o.subs && len(c.subs) > 0 {
		ci.Subs = make([]string, 0, len(c.subs))
		for _, sub := range c.subs {
			ci.Subs = append(ci.Subs, string(sub.subject))
		}
	}
	c.mu.Unlock()
	if pinged {
		c.signalFlush()
	}

	slices.Sort(ci.Subs)
	slices.SortFunc(ci.SubsDetail, compareSubDetail)
	end := now
	if ci.Stop != nil {
		end = *ci.Stop
	}
	ci.Uptime = uptimeString(end.Sub(ci.Start))
	ci.Idle = uptimeString(end.Sub(ci.LastActivity))
	ci.RTT = rttString(ci.rtt)
	if o.auth {
		ci.AuthorizedUser = ci.user
	}
	return ci
}

// rttString renders an RTT as nats-server does: microsecond precision below a
// millisecond, full precision otherwise.
func rttString(d time.Duration) string {
	if d > time.Microsecond && d < time.Millisecond {
		d = d.Truncate(time.Microsecond)
	}
	return d.String()
}

// detailLocked describes sub; the caller holds sub.client.mu (for nm, max).
func (sub *subscription) detailLocked() subDetail {
	return subDetail{
		Subject: string(sub.subject),
		Queue:   string(sub.queue),
		Sid:     string(sub.sid),
		Msgs:    sub.nm,
		Max:     sub.max,
		Cid:     sub.client.cid,
	}
}

func compareSubDetail(a, b subDetail) int {
	if r := cmpAsc(a.Cid, b.Cid); r != 0 {
		return r
	}
	if len(a.Sid) != len(b.Sid) { // numeric sids in numeric order
		return cmpAsc(len(a.Sid), len(b.Sid))
	}
	return strings.Compare(a.Sid, b.Sid)
}

// ---- /subsz ----

// subsz is the /subsz document: the sublist statistics, and with subs=1 the
// subscriptions themselves.
type subsz struct {
	ID           string      `json:"server_id"`
	Now          time.Time   `json:"now"`
	NumSubs      uint32      `json:"num_subscriptions"`
	NumCache     uint32      `json:"num_cache"`
	NumInserts   uint64      `json:"num_inserts"`
	NumRemoves   uint64      `json:"num_removes"`
	NumMatches   uint64      `json:"num_matches"`
	CacheHitRate float64     `json:"cache_hit_rate"`
	MaxFanout    uint32      `json:"max_fanout"`
	AvgFanout    float64     `json:"avg_fanout"`
	Total        int         `json:"total"`
	Offset       int         `json:"offset"`
	Limit        int         `json:"limit"`
	Subs         []subDetail `json:"subscriptions_list,omitempty"`
}

func (m *monitor) handleSubsz(w http.ResponseWriter, r *http.Request) {
	m.count(subszPath)
	q := r.URL.Query()
	list, ok := queryBool(w, q.Get("subs"), "subs")
	if !ok {
		return
	}
	offset, ok := queryInt(w, q.Get("offset"), "offset")
	if !ok {
		return
	}
	limit, ok := queryInt(w, q.Get("limit"), "limit")
	if !ok {
		return
	}
	if limit <= 0 {
		limit = defaultSubListSize
	}
	test := q.Get("test")
	if test != "" && !validLiteralSubject([]byte(test)) {
		badRequest(w, "invalid test subject, must be valid publish subject: %s", test)
		return
	}
	writeJSON(w, http.StatusOK, m.s.subsz(list, test, max(offset, 0), limit))
}

func (s *Server) subsz(list bool, test string, offset, limit int) *subsz {
	st := s.sl.stats()
	sz := &subsz{
		ID:           s.id,
		Now:          time.Now().UTC(),
		NumSubs:      st.numSubs,
		NumCache:     st.numCache,
		NumInserts:   st.numInserts,
		NumRemoves:   st.numRemoves,
		NumMatches:   st.numMatches,
		CacheHitRate: st.cacheHitRate,
		MaxFanout:    st.maxFanout,
		AvgFanout:    st.avgFanout,
		Offset:       offset,
		Limit:        limit,
	}
	if !list {
		return sz
	}
	var all []subDetail
	for _, c := range s.snapshotClients() {
		c.mu.Lock()
		if !c.closed {
			for _, sub := range c.subs {
				if test == "" || slPatternMatches(sub.subject, test) {
					all = append(all, sub.detailLocked())
				}
			}
		}
		c.mu.Unlock()
	}
	slices.SortFunc(all, compareSubDetail)
	sz.Total = len(all)
	lo := min(offset, len(all))
	hi := lo + min(limit, len(all)-lo)
	sz.Subs = all[lo:hi]
	return sz
}

// ---- /healthz ----

// healthStatus is the /healthz document.
type healthStatus struct {
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}

func (m *monitor) handleHealthz(w http.ResponseWriter, r *http.Request) {
	m.count(healthzPath)
	s := m.s
	s.mu.Lock()
	started, shutdown, ldm := s.started, s.shutdown, s.ldm
	s.mu.Unlock()
	var problem string
	switch {
	case shutdown:
		problem = "server is shutting down"
	case ldm:
		problem = "server is in lame duck mode"
	case !started:
		problem = "server is not yet accepting connections"
	}
	if problem != "" {
		writeJSON(w, http.StatusServiceUnavailable, healthStatus{Status: "unavailable", Error: problem})
		return
	}
	writeJSON(w, http.StatusOK, healthStatus{Status: "ok"})
}
