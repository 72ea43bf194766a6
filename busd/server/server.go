// Package server is busd's broker: an implementation of the NATS client protocol
// that the official NATS clients use unchanged.
//
// A Server is cheap to create with New, listens once Start returns, and stops with
// Shutdown, which may be called any number of times:
//
//	s, err := server.New(&server.Options{Host: "127.0.0.1", Port: -1}, slog.Default())
//	if err != nil { ... }
//	if err := s.Start(); err != nil { ... }
//	defer s.Shutdown(context.Background())
//	nc, err := nats.Connect(s.ClientURL())
package server

import (
	"context"
	"log/slog"
	"net"
)

// Server is a NATS-protocol broker.
type Server struct {
	opts   Options
	logger *slog.Logger
	ready  chan struct{}
}

// New validates opts and returns a server that is not yet listening.
func New(opts *Options, logger *slog.Logger) (*Server, error) { panic("TODO") }

// Start binds the listeners and starts accepting; it returns once they are bound.
func (s *Server) Start() error { panic("TODO") }

// Ready is closed once the server accepts connections.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Addr is the bound client listener address.
func (s *Server) Addr() net.Addr { panic("TODO") }

// ClientURL is a nats:// URL clients can dial.
func (s *Server) ClientURL() string { panic("TODO") }

// MonitorAddr is the bound monitoring listener address, or nil.
func (s *Server) MonitorAddr() net.Addr { panic("TODO") }

// Shutdown stops accepting, flushes and closes every client. It is idempotent.
func (s *Server) Shutdown(ctx context.Context) error { panic("TODO") }

// LameDuck stops accepting, tells clients (INFO ldm:true) and closes them spread over
// LameDuckDuration, then shuts down. It returns when the server is down or ctx is done.
func (s *Server) LameDuck(ctx context.Context) error { panic("TODO") }

// Reload applies the auth, permission and limit parts of opts to the running server.
func (s *Server) Reload(opts *Options) error { panic("TODO") }
