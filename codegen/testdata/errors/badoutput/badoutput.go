package badoutput

import "context"

//go:generate go run github.com/dialtone-dev/dialtone/codegen -type Greeter -output handwritten.go

type Greeter interface {
	SayHello(ctx context.Context, req *Req) (*Req, error)
}

type Req struct{}
