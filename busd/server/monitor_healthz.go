package server

// /healthz: ok while serving, 503 while starting, in lame duck mode or
// shutting down.

import "net/http"

// healthStatus is the /healthz document.
type healthStatus struct {
	Status     string `json:"status"`
	StatusCode int    `json:"status_code,omitempty"` // set in $SYS.REQ answers, as nats-server
	Error      string `json:"error,omitempty"`
}

func (m *monitor) handleHealthz(w http.ResponseWriter, r *http.Request) {
	m.count(healthzPath)
	h, code := m.s.health()
	writeJSON(w, code, h)
}

// health is the /healthz document and its HTTP status.
func (s *Server) health() (healthStatus, int) {
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
		return healthStatus{Status: "unavailable", Error: problem}, http.StatusServiceUnavailable
	}
	return healthStatus{Status: "ok"}, http.StatusOK
}
