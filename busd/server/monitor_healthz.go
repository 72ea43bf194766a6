package server

// /healthz: ok while serving, 503 while starting, in lame duck mode or
// shutting down.

import "net/http"

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
