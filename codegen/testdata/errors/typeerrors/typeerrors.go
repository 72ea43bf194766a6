package typeerrors

import "context"

//go:generate go run github.com/dialtone-dev/dialtone/codegen -type Greeter

type Greeter interface {
	SayHello(ctx context.Context, req *Request) (*Reply, error)
	Wave(ctx context.Context, req *Wave) (*Reply, error)
}

type Reply struct{}

type Wave struct {
	To Person `json:"to"`
}

func use() { _ = NewGreeterClient } // uses a generated name: not an error
