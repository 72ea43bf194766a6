package interceptors_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"

	"github.com/dialtone-dev/dialtone"
	"github.com/dialtone-dev/dialtone/interceptors"
	"github.com/dialtone-dev/dialtone/internal/bustest"
	"github.com/dialtone-dev/dialtone/rpc"
	"github.com/dialtone-dev/dialtone/service"
)

type userKey struct{}

// A service that only answers callers with a known API key, and tells its handler
// who called.
func ExampleHeaderAuth() {
	url, shutdown := bustest.Serve()
	defer shutdown()
	nc, err := nats.Connect(url)
	if err != nil {
		panic(err)
	}
	defer nc.Close()

	keys := map[string]string{"k-123": "ada"}
	auth := interceptors.HeaderAuth("X-Api-Key", func(ctx context.Context, key string) (context.Context, error) {
		user, ok := keys[key]
		if !ok {
			return nil, errors.New("unknown API key")
		}
		return context.WithValue(ctx, userKey{}, user), nil
	})
	svc, err := service.New(nc, service.Config{Name: "greeter", Version: "1.0.0"}, service.WithInterceptors(auth))
	if err != nil {
		panic(err)
	}
	err = service.Handle(svc, "SayHello", func(ctx context.Context, req *HelloRequest) (*HelloReply, error) {
		return &HelloReply{Message: fmt.Sprintf("hello %s, from %s", req.Name, ctx.Value(userKey{}))}, nil
	})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	if err := svc.Start(ctx); err != nil {
		panic(err)
	}
	defer svc.Stop(ctx)

	c := rpc.NewClient(nc)
	_, err = rpc.Call(ctx, c, sayHello, &HelloRequest{Name: "Bob"})
	fmt.Println(dialtone.CodeOf(err), err)
	_, err = rpc.Call(ctx, c, sayHello, &HelloRequest{Name: "Bob"}, rpc.Header("X-Api-Key", "nope"))
	fmt.Println(err)
	reply, err := rpc.Call(ctx, c, sayHello, &HelloRequest{Name: "Bob"}, rpc.Header("X-Api-Key", "k-123"))
	fmt.Println(reply.Message, err)
	// Output:
	// unauthenticated unauthenticated: missing X-Api-Key header
	// unauthenticated: X-Api-Key: unknown API key
	// hello Bob, from ada <nil>
}
