// Package dash is the dialtone dashboard: one page, served on loopback, that
// shows every service with its instances (version, status, load, queue, uptime),
// per-endpoint request rate, error rate and latency over the last minutes, the
// typed events each service publishes and consumes with a "who listens to what"
// view of every event subject, a log of instances joining and leaving, and an
// endpoint explorer that builds a form from the request JSON Schema and shows
// the reply or the typed error.
//
// The page is plain HTML, CSS and JavaScript written for it (charts are SVG drawn
// by app.js), embedded in the binary: it works offline and builds with go build
// alone. It is kept live by Server-Sent Events on /api/stream: a "snapshot" when
// the page connects, a "tick" every poll interval (instances and the newest
// sample of every endpoint) and a "fleet" message for each instance event as it
// happens. Each page gets the fleet in the order it was read, and each change
// once: in its snapshot or after it. The page updates its elements in place and
// rebuilds nothing a tick did not change, so a selection or a tooltip survives.
//
// The explorer's calls go through POST /api/call. Because that endpoint makes
// calls on the operator's bus, the server answers only requests whose Host is
// the address it listens on or a loopback name (against DNS rebinding), takes
// only JSON POSTs from its own origin (against cross-site requests), and sends a
// Content-Security-Policy that allows nothing but its own files.
package dash

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dialtone-dev/dialtone/cmd/dialtone/internal/fleet"
)

//go:embed assets
var assets embed.FS

// Defaults.
const (
	DefaultInterval = time.Second
	DefaultWindow   = 300 // samples: 5 minutes at 1s
	eventLogSize    = 200
)

// Options configure a Server.
type Options struct {
	Interval time.Duration // how often $SRV.STATS is polled (DefaultInterval)
	Window   int           // samples kept per endpoint (DefaultWindow)
	Logger   *slog.Logger
}

// Server serves the dashboard for one fleet.
type Server struct {
	f        *fleet.Fleet
	interval time.Duration
	log      *slog.Logger
	listen   string // host of the listen address, for the Host check

	// mu guards the state below, and orders what the pages get: the fleet is
	// read, kept and sent to every page in one step under mu (by tick and by
	// watch alike), and a page subscribes and takes its snapshot in one step, so
	// each page gets readings in the order they were made, and each message
	// either in its snapshot or after it, never both.
	mu       sync.Mutex
	sampler  *sampler
	events   []fleet.Event
	services []fleet.Service
	subs     map[chan []byte]struct{}
}

// New returns a dashboard for f. Start its polling with Run.
func New(f *fleet.Fleet, o Options) *Server {
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.Window <= 0 {
		o.Window = DefaultWindow
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Server{f: f, interval: o.Interval, log: o.Logger, sampler: newSampler(o.Window),
		subs: map[chan []byte]struct{}{}, services: f.Services()}
}

// Serve serves the dashboard on l until ctx ends, then shuts the HTTP server
// down. It polls the fleet while it serves.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	if host, _, err := net.SplitHostPort(l.Addr().String()); err == nil {
		s.listen = host
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); s.run(ctx) }()
	hs := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return ctx }}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(l) }()
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	cancel()
	sctx, scancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer scancel()
	_ = hs.Shutdown(sctx)
	wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// run follows the fleet's events and polls its counters until ctx ends.
func (s *Server) run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); s.watch(ctx) }()
	go func() { defer wg.Done(); s.poll(ctx) }()
	wg.Wait()
}

func (s *Server) watch(ctx context.Context) {
	// The instances the pages were shown before the watch began are not news
	// when the watch lists them first.
	present := map[string]bool{}
	s.mu.Lock()
	for _, svc := range s.services {
		for _, in := range svc.Instances {
			present[in.ID] = true
		}
	}
	s.mu.Unlock()
	for ev := range s.f.Watch(ctx) {
		if ev.Type == "joined" && present[ev.Instance.ID] {
			delete(present, ev.Instance.ID) // running before the dashboard: not news
			continue
		}
		s.mu.Lock()
		services := s.f.Services()
		s.events = append(s.events, ev)
		if over := len(s.events) - eventLogSize; over > 0 {
			s.events = append(s.events[:0], s.events[over:]...)
		}
		s.services = services
		s.broadcastLocked("fleet", map[string]any{"event": ev, "services": orEmpty(services)})
		s.mu.Unlock()
	}
}

func (s *Server) poll(ctx context.Context) {
	t := time.NewTicker(s.interval)
	defer t.Stop()
	s.tick(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.tick(ctx)
		}
	}
}

func (s *Server) tick(ctx context.Context) {
	// The counters are read when the instances get the request, so that is the
	// sample's time: a slow straggler must not shrink the next interval.
	now := time.Now()
	stats, err := s.f.StatsWithin(ctx, "", max(s.interval*3/4, 10*time.Millisecond))
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("dash: poll $SRV.STATS", "err", err)
		}
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	services := s.f.Services()
	samples := s.sampler.add(stats, now)
	s.services = services
	series := s.sampler.snapshot()
	meta := make([]map[string]string, 0, len(series))
	for _, sr := range series {
		meta = append(meta, map[string]string{"key": sr.Key, "service": sr.Service, "endpoint": sr.Endpoint,
			"subject": sr.Subject, "last_error": sr.LastError})
	}
	s.broadcastLocked("tick", map[string]any{"now": now.UnixMilli(), "connected": s.f.Conn().IsConnected(),
		"services": orEmpty(services), "samples": samples, "endpoints": meta})
}

func orEmpty[T any](v []T) []T {
	if v == nil {
		return []T{}
	}
	return v
}

// broadcastLocked sends one SSE message to every open page; s.mu is held. A
// page that cannot keep up is dropped; its EventSource reconnects and gets a
// fresh snapshot.
func (s *Server) broadcastLocked(event string, v any) {
	msg := sse(event, v)
	for ch := range s.subs {
		select {
		case ch <- msg:
		default:
			delete(s.subs, ch)
			close(ch)
		}
	}
}

func sse(event string, v any) []byte {
	data, err := json.Marshal(v)
	if err != nil {
		data = []byte(`{}`)
	}
	return []byte("event: " + event + "\ndata: " + string(data) + "\n\n")
}

// snapshotLocked is everything a page needs when it connects; s.mu is held.
func (s *Server) snapshotLocked() []byte {
	return sse("snapshot", map[string]any{
		"server":      s.f.URL(),
		"connected":   s.f.Conn().IsConnected(),
		"now":         time.Now().UnixMilli(),
		"interval_ms": s.interval.Milliseconds(),
		"window":      s.sampler.window,
		"services":    orEmpty(s.services),
		"series":      s.sampler.snapshot(),
		"events":      orEmpty(slices.Clone(s.events)),
		"patterns":    fleet.Patterns,
	})
}

// Handler serves the page, its assets and the API.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(assets, "assets")
	files := http.FileServerFS(static)
	mux.Handle("GET /", files)
	mux.HandleFunc("GET /api/stream", s.handleStream)
	mux.HandleFunc("GET /api/info/{service}", s.handleInfo)
	mux.HandleFunc("POST /api/call", s.handleCall)
	return s.guard(mux)
}

// guard refuses requests for another host name (DNS rebinding) and cross-origin
// writes, and sets headers that keep the page to its own files.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.allowedHost(r.Host) {
			http.Error(w, "dialtone dash: unexpected Host "+r.Host+"; open it through the address it listens on", http.StatusForbidden)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if o := r.Header.Get("Origin"); o != "" && o != "http://"+r.Host {
				http.Error(w, "dialtone dash: cross-origin request refused", http.StatusForbidden)
				return
			}
			if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				http.Error(w, "dialtone dash: send application/json", http.StatusUnsupportedMediaType)
				return
			}
		}
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

func (s *Server) allowedHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if host == "localhost" || host == s.listen {
		return true
	}
	if ip := net.ParseIP(host); ip != nil {
		if ip.IsLoopback() {
			return true
		}
		// Listening on every address was asked for explicitly: any address of
		// this machine may be used, but not a name (a rebinding attacker has one).
		if l := net.ParseIP(s.listen); l != nil && l.IsUnspecified() {
			return true
		}
	}
	return false
}

func (s *Server) handleStream(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no")
	ch := make(chan []byte, 64)
	s.mu.Lock()
	s.subs[ch] = struct{}{}
	snapshot := s.snapshotLocked()
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		if _, ok := s.subs[ch]; ok {
			delete(s.subs, ch)
			close(ch)
		}
		s.mu.Unlock()
	}()
	if _, err := w.Write([]byte("retry: 1000\n\n")); err != nil {
		return
	}
	if _, err := w.Write(snapshot); err != nil {
		return
	}
	fl.Flush()
	for {
		select {
		case <-r.Context().Done():
			return
		case msg, ok := <-ch:
			if !ok {
				return
			}
			if _, err := w.Write(msg); err != nil {
				return
			}
			fl.Flush()
		}
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) handleInfo(w http.ResponseWriter, r *http.Request) {
	si, err := s.f.Info(r.Context(), r.PathValue("service"))
	if err != nil {
		var nf *fleet.NotFoundError
		status := http.StatusBadGateway
		if errors.As(err, &nf) {
			status = http.StatusNotFound
		}
		writeJSON(w, status, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, si)
}

// callRequest is what the explorer posts.
type callRequest struct {
	Service   string            `json:"service"`
	Endpoint  string            `json:"endpoint"`
	Pattern   string            `json:"pattern"`
	Instance  string            `json:"instance"`
	TimeoutMS int64             `json:"timeout_ms"`
	Headers   map[string]string `json:"headers"`
	Request   json.RawMessage   `json:"request"`
}

// callResult is what the explorer shows: a reply, a typed error, or the fields
// that fail the schema.
type callResult struct {
	OK         bool               `json:"ok"`
	Reply      json.RawMessage    `json:"reply,omitempty"`
	ReplyText  string             `json:"reply_text,omitempty"` // a reply that is not JSON
	Error      *fleet.CallError   `json:"error,omitempty"`
	Invalid    []fleet.FieldError `json:"invalid,omitempty"`
	Message    string             `json:"message,omitempty"`
	DurationMS float64            `json:"duration_ms,omitempty"`
}

func (s *Server) handleCall(w http.ResponseWriter, r *http.Request) {
	var req callRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 8<<20))
	if err := dec.Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, callResult{Message: "bad request to the dashboard: " + err.Error()})
		return
	}
	ctx := r.Context()
	if _, err := fleet.ParsePattern(req.Pattern); err != nil {
		writeJSON(w, http.StatusOK, callResult{Message: err.Error()})
		return
	}
	ep, err := s.f.Endpoint(ctx, req.Service, req.Endpoint)
	if err != nil {
		writeJSON(w, http.StatusOK, callResult{Message: err.Error()})
		return
	}
	body := []byte(req.Request)
	if len(body) == 0 {
		body = []byte("{}")
	}
	schema, err := fleet.CompileSchema(ep.RequestSchema)
	if err != nil {
		writeJSON(w, http.StatusOK, callResult{Message: err.Error()})
		return
	}
	if err := schema.Validate(body); err != nil {
		res := callResult{Message: err.Error()}
		var se *fleet.SchemaError
		if errors.As(err, &se) {
			res.Invalid = se.Fields
		}
		writeJSON(w, http.StatusOK, res)
		return
	}
	o := fleet.CallOptions{Pattern: req.Pattern, Instance: req.Instance, Timeout: time.Duration(req.TimeoutMS) * time.Millisecond}
	if o.Timeout <= 0 || o.Timeout > time.Minute {
		o.Timeout = 5 * time.Second
	}
	for k, v := range req.Headers {
		if o.Header == nil {
			o.Header = map[string][]string{}
		}
		o.Header.Set(k, v)
	}
	reply, err := s.f.Call(ctx, ep, body, o)
	if err != nil {
		ce := fleet.CallErrorOf(err)
		writeJSON(w, http.StatusOK, callResult{Error: &ce})
		return
	}
	res := callResult{OK: true, DurationMS: float64(reply.Duration) / float64(time.Millisecond)}
	if json.Valid(reply.Data) {
		res.Reply = reply.Data
	} else {
		res.ReplyText = string(reply.Data)
	}
	writeJSON(w, http.StatusOK, res)
}
