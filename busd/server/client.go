package server

// client is one connection.
type client struct{}
