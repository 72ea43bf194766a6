package server

import "errors"

// startMonitor starts the HTTP monitoring endpoints.
func (s *Server) startMonitor() error { return errors.New("busd: monitoring not built yet") }
