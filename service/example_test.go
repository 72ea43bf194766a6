package service_test

import (
	"context"
	"fmt"
	"time"

	"github.com/dialtone-dev/dialtone"
	"github.com/dialtone-dev/dialtone/internal/bustest"
	"github.com/dialtone-dev/dialtone/service"
	"github.com/nats-io/nats.go"
)

type HelloRequest struct {
	Name string `json:"name" validate:"required"`
}

type HelloReply struct {
	Message string `json:"message"`
}

func Example() {
	url, shutdown := bustest.Serve()
	defer shutdown()
	nc, err := nats.Connect(url)
	if err != nil {
		panic(err)
	}
	defer nc.Close()

	svc, err := service.New(nc, service.Config{Name: "greeter", Version: "1.0.0", Description: "says hello"})
	if err != nil {
		panic(err)
	}
	err = service.Handle(svc, "SayHello", func(ctx context.Context, req *HelloRequest) (*HelloReply, error) {
		return &HelloReply{Message: "hello " + req.Name}, nil
	})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	if err := svc.Start(ctx); err != nil {
		panic(err)
	}
	defer svc.Stop(ctx)

	msg, err := nc.Request("greeter.SayHello", []byte(`{"name":"Ada"}`), time.Second)
	if err != nil {
		panic(err)
	}
	fmt.Println(string(msg.Data))

	// Validation failures come back as an error code and message in headers.
	msg, err = nc.Request("greeter.SayHello", []byte(`{}`), time.Second)
	if err != nil {
		panic(err)
	}
	fmt.Println(msg.Header.Get(dialtone.HeaderErrorCode), msg.Header.Get(dialtone.HeaderError))
	// Output:
	// {"message":"hello Ada"}
	// 400 invalid request: name (required)
}

func ExampleService_Stop() {
	url, shutdown := bustest.Serve()
	defer shutdown()
	nc, err := nats.Connect(url)
	if err != nil {
		panic(err)
	}
	defer nc.Close()

	svc, err := service.New(nc, service.Config{Name: "worker", Version: "1.0.0"})
	if err != nil {
		panic(err)
	}
	started := make(chan struct{})
	err = svc.AddEndpoint("Work", service.HandlerFunc(func(ctx context.Context, req *service.Request) (*service.Response, error) {
		close(started)
		time.Sleep(50 * time.Millisecond) // some work in flight while Stop runs
		return &service.Response{Data: []byte("done")}, nil
	}))
	if err != nil {
		panic(err)
	}
	if err := svc.Start(context.Background()); err != nil {
		panic(err)
	}
	reply := make(chan string)
	go func() {
		msg, err := nc.Request("worker.Work", nil, 5*time.Second)
		if err != nil {
			reply <- err.Error()
			return
		}
		reply <- string(msg.Data)
	}()
	<-started
	// Stop returns once the request in flight has been answered.
	if err := svc.Stop(context.Background()); err != nil {
		panic(err)
	}
	fmt.Println(<-reply)
	_, err = nc.Request("worker.Work", nil, time.Second)
	fmt.Println(err == nats.ErrNoResponders)
	// Output:
	// done
	// true
}
