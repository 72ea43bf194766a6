package identclash

import "context"

//go:generate go run github.com/dialtone-dev/dialtone/codegen -type Greeter

type Greeter interface {
	SayHello(ctx context.Context, req *Req) (*Req, error)
}

type Req struct{}

// GreeterClient already exists: the generated client would clash with it.
type GreeterClient struct{}

func RegisterGreeter() {}

const GreeterSayHelloSubject = "x"
