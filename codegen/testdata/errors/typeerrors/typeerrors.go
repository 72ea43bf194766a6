package typeerrors

import "context"

//go:generate go run github.com/dialtone-dev/dialtone/codegen -type Greeter

type Greeter interface {
	SayHello(ctx context.Context, req *Request) (*Reply, error)
}

type Reply struct{}

func use() { _ = NewGreeterClient } // uses a generated name: not an error
