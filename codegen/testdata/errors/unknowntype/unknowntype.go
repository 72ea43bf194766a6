package unknowntype

import "context"

//go:generate go run github.com/dialtone-dev/dialtone/codegen -type Greeter

type Greter interface {
	SayHello(ctx context.Context, req *Req) (*Req, error)
}

type Req struct{}
