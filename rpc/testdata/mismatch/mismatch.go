// Package mismatch does not compile, on purpose: TestEndpointTypesAreChecked
// builds it to show that a request of the wrong type is a compile error.
package mismatch

import (
	"context"

	"github.com/dialtone-dev/dialtone/rpc"
)

type HelloRequest struct{ Name string }
type HelloReply struct{ Message string }
type OtherRequest struct{ ID int }

var sayHello = rpc.NewEndpoint[HelloRequest, HelloReply](rpc.Spec{Service: "greeter", Name: "SayHello"})

func Good(ctx context.Context, c *rpc.Client) (*HelloReply, error) {
	return rpc.Call(ctx, c, sayHello, &HelloRequest{Name: "Ada"})
}

func Bad(ctx context.Context, c *rpc.Client) {
	_, _ = rpc.Call(ctx, c, sayHello, &OtherRequest{ID: 1}) // want: does not compile
}
