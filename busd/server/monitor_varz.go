package server

// /varz: server identity, limits and counters.

import (
	"net"
	"net/http"
	"runtime"
	"time"
)

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
	SystemAccount    string            `json:"system_account,omitempty"`
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
	o := &s.live().Options
	v := &varz{
		ID:             s.id,
		Name:           o.ServerName,
		Version:        ReportedVersion,
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
	v.Subscriptions = uint32(s.NumSubscriptions())
	v.SystemAccount = s.systemAccount().name
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
