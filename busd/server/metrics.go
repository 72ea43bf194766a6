package server

import (
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metricsHandler serves the server's counters in the Prometheus text format
// (/metrics on the monitoring port). It uses a registry of its own, so several
// servers in one process do not collide, and its collectors read the
// server's counters at scrape time: nothing is counted twice and the hot
// paths pay nothing for it.
func (s *Server) metricsHandler() http.Handler {
	reg := prometheus.NewRegistry()
	counter := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "busd", Name: name, Help: help}, f)
	}
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "busd", Name: name, Help: help}, f)
	}
	load := func(v interface{ Load() int64 }) func() float64 {
		return func() float64 { return float64(v.Load()) }
	}
	in := &inbound{s: s}
	reg.MustRegister(
		gauge("connections", "Client connections open now.",
			func() float64 { return float64(s.NumClients()) }),
		counter("connections_total", "Client connections accepted since start.", load(&s.totalConnections)),
		gauge("subscriptions", "Subscriptions across all clients now.",
			func() float64 { return float64(s.NumSubscriptions()) }),
		counter("in_msgs_total", "Messages received from clients.", in.msgs),
		counter("out_msgs_total", "Messages delivered to clients.", load(&s.outMsgs)),
		counter("in_bytes_total", "Payload bytes received from clients.", in.bytes),
		counter("out_bytes_total", "Payload bytes delivered to clients.", load(&s.outBytes)),
		counter("slow_consumers_total", "Clients closed as slow consumers.", load(&s.slowConsumers)),
		counter("stale_connections_total", "Clients closed for not answering pings.", load(&s.staleConnections)),
		counter("auth_failures_total", "CONNECTs refused for bad or missing credentials.", load(&s.authFailures)),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace:   "busd",
			Name:        "info",
			Help:        "Always 1; the labels identify the server.",
			ConstLabels: prometheus.Labels{"server_id": s.id, "server_name": s.opts.ServerName, "version": Version},
		}, func() float64 { return 1 }),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// inbound reads the inbound counters. The server-wide s.inMsgs and s.inBytes
// are the floor; where only connections count (the reader adds to its own
// client's counters, to keep the publish path free of shared writes), the sum
// over the open connections and the closed ones the server remembers covers
// them, as /varz does. A counter must never go down, so the value is the
// highest seen: connections forgotten by the closed ring stop adding, they
// are never subtracted.
type inbound struct {
	s  *Server
	mu sync.Mutex
	hm int64 // highest msgs reported
	hb int64 // highest bytes reported
}

func (in *inbound) read() (msgs, bytes int64) {
	s := in.s
	s.mu.Lock()
	for _, c := range s.clients {
		msgs += c.inMsgs.Load()
		bytes += c.inBytes.Load()
	}
	cm, cb := s.closedLog.inTotals()
	msgs, bytes = msgs+cm, bytes+cb
	s.mu.Unlock()
	msgs, bytes = max(msgs, s.inMsgs.Load()), max(bytes, s.inBytes.Load())
	in.mu.Lock()
	defer in.mu.Unlock()
	in.hm, in.hb = max(in.hm, msgs), max(in.hb, bytes)
	return in.hm, in.hb
}

func (in *inbound) msgs() float64  { m, _ := in.read(); return float64(m) }
func (in *inbound) bytes() float64 { _, b := in.read(); return float64(b) }
