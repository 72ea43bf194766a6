// Package greeter is the smallest service: one method.
package greeter

import "context"

//go:generate go run github.com/dialtone-dev/dialtone/codegen -type Greeter

// Greeter greets.
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
	Message string `json:"message"`
}
