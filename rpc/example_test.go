package rpc_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/dialtone-dev/dialtone"
	"github.com/dialtone-dev/dialtone/busd/server"
	"github.com/dialtone-dev/dialtone/rpc"
	"github.com/dialtone-dev/dialtone/service"
)

type HelloRequest struct {
	Name string `json:"name" validate:"required"`
}

type HelloReply struct {
	Message string `json:"message"`
}

// exampleBus starts an in-process busd on a random loopback port and a greeter
// service instance on it (limited to maxConcurrent handlers at once; 0 means the
// default), and returns a client connection and a function that stops everything.
func exampleBus(maxConcurrent int, hello func(ctx context.Context, req *HelloRequest) (*HelloReply, error)) (*nats.Conn, func()) {
	bus, err := server.New(&server.Options{Host: "127.0.0.1", Port: -1}, slog.New(slog.DiscardHandler))
	if err != nil {
		panic(err)
	}
	if err := bus.Start(); err != nil {
		panic(err)
	}
	snc, err := nats.Connect(bus.ClientURL())
	if err != nil {
		panic(err)
	}
	var opts []service.Option
	if maxConcurrent > 0 {
		opts = append(opts, service.WithMaxConcurrent(maxConcurrent))
	}
	svc, err := service.New(snc, service.Config{Name: "greeter", Version: "1.0.0"}, opts...)
	if err != nil {
		panic(err)
	}
	if hello == nil {
		hello = func(ctx context.Context, req *HelloRequest) (*HelloReply, error) {
			if req.Name == "nobody" {
				return nil, dialtone.Errorf(dialtone.CodeNotFound, "nobody is not here")
			}
			return &HelloReply{Message: "hello " + req.Name}, nil
		}
	}
	if err := service.Handle(svc, "SayHello", hello); err != nil {
		panic(err)
	}
	if err := svc.Start(context.Background()); err != nil {
		panic(err)
	}
	nc, err := nats.Connect(bus.ClientURL())
	if err != nil {
		panic(err)
	}
	return nc, func() {
		nc.Close()
		_ = svc.Stop(context.Background())
		snc.Close()
		_ = bus.Shutdown(context.Background())
	}
}

var greeterSayHello = rpc.NewEndpoint[HelloRequest, HelloReply](rpc.Spec{Service: "greeter", Name: "SayHello"})

func Example() {
	nc, stop := exampleBus(0, nil)
	defer stop()

	c := rpc.NewClient(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()

	reply, err := rpc.Call(ctx, c, greeterSayHello, &HelloRequest{Name: "Ada"})
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	fmt.Println(reply.Message)

	// A failed call is a *dialtone.Error with the code the handler chose.
	_, err = rpc.Call(ctx, c, greeterSayHello, &HelloRequest{Name: "nobody"})
	fmt.Println(errors.Is(err, dialtone.ErrNotFound), err)

	// A request that fails validation is refused before it is sent.
	_, err = rpc.Call(ctx, c, greeterSayHello, &HelloRequest{})
	fmt.Println(dialtone.CodeOf(err), err.(*dialtone.Error).Details()["fields"])
	// Output:
	// hello Ada
	// true not_found: nobody is not here
	// invalid_argument map[name:required]
}

// Per-call patterns travel in the context, so generated clients, whose methods take
// only (ctx, *Req), can use them; options given to Call win over the context's.
func ExampleWithCallOptions() {
	nc, stop := exampleBus(0, nil)
	defer stop()
	c := rpc.NewClient(nc)

	ctx := rpc.WithCallOptions(context.Background(), rpc.LowestLatency())
	reply, err := rpc.Call(ctx, c, greeterSayHello, &HelloRequest{Name: "Grace"})
	fmt.Println(reply.Message, err)
	// Output: hello Grace <nil>
}

// An instance at its concurrency limit does not volunteer for Available calls, so
// the caller learns at once that nobody has room instead of queueing behind the
// busy instance; with Retry it tries again with backoff until its deadline.
func ExampleAvailable() {
	started, release := make(chan struct{}), make(chan struct{})
	nc, stop := exampleBus(1, func(ctx context.Context, req *HelloRequest) (*HelloReply, error) {
		if req.Name == "slow" {
			close(started)
			<-release
		}
		return &HelloReply{Message: "hello " + req.Name}, nil
	})
	defer stop()
	c := rpc.NewClient(nc, rpc.WithAvailabilityTimeout(50*time.Millisecond))

	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = rpc.Call(context.Background(), c, greeterSayHello, &HelloRequest{Name: "slow"})
	}()
	<-started // the only slot is taken

	_, err := rpc.Call(context.Background(), c, greeterSayHello, &HelloRequest{Name: "Ada"}, rpc.Available())
	fmt.Println(dialtone.CodeOf(err))

	close(release)
	<-done
	reply, err := rpc.Call(context.Background(), c, greeterSayHello, &HelloRequest{Name: "Ada"},
		rpc.Available(), rpc.Retry(rpc.RetryPolicy{MaxAttempts: 5}))
	fmt.Println(reply.Message, err)
	// Output:
	// unavailable
	// hello Ada <nil>
}

// CallRaw sends bytes that are already encoded and returns the reply message.
func ExampleClient_CallRaw() {
	nc, stop := exampleBus(0, nil)
	defer stop()
	c := rpc.NewClient(nc)

	msg, err := c.CallRaw(context.Background(), greeterSayHello.Spec(), []byte(`{"name":"Linus"}`), nil)
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	fmt.Println(string(msg.Data))
	// Output: {"message":"hello Linus"}
}
