// Package greeter declares the greeter service of the hello example. The interface
// is the whole contract; greeter_dialtone.go is generated from it by go generate.
package greeter

import (
	"context"
	"fmt"
)

//go:generate go run github.com/dialtone-dev/dialtone/codegen -type Greeter

// Greeter greets people.
type Greeter interface {
	// SayHello replies with a greeting for req.Name.
	SayHello(ctx context.Context, req *HelloRequest) (*HelloReply, error)
}

// HelloRequest asks for a greeting.
type HelloRequest struct {
	// Name is who to greet.
	Name string `json:"name" validate:"required,max=64"`
}

// HelloReply is a greeting.
type HelloReply struct {
	// Message is the greeting.
	Message string `json:"message"`
}

// Server is the implementation of Greeter.
type Server struct{}

var _ Greeter = Server{}

// SayHello implements Greeter. The request has been validated already: Name is set.
func (Server) SayHello(ctx context.Context, req *HelloRequest) (*HelloReply, error) {
	return &HelloReply{Message: fmt.Sprintf("Hello, %s!", req.Name)}, nil
}
