// Command hello runs a greeter service, generated from the Greeter interface in
// ./greeter, and calls it through the generated client.
//
//	go run ./examples/hello        # needs a bus at $NATS_URL (default nats://127.0.0.1:4222)
//
// The service and the client use separate connections: everything between them goes
// over the bus, as it would between two processes.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/nats-io/nats.go"

	"github.com/dialtone-dev/dialtone"
	"github.com/dialtone-dev/dialtone/examples/hello/greeter"
	"github.com/dialtone-dev/dialtone/rpc"
	"github.com/dialtone-dev/dialtone/service"
)

func main() {
	url := os.Getenv("NATS_URL")
	if url == "" {
		url = nats.DefaultURL
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, url, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "hello:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, url string, out io.Writer) error {
	// The service side: one instance of greeter.
	snc, err := nats.Connect(url, nats.Name("hello-service"))
	if err != nil {
		return fmt.Errorf("connect to %s: %w", url, err)
	}
	defer snc.Close()
	svc, err := service.New(snc, service.Config{Name: greeter.GreeterServiceName, Version: "1.0.0", Description: "says hello"})
	if err != nil {
		return err
	}
	if err := greeter.RegisterGreeter(svc, greeter.Server{}); err != nil {
		return err
	}
	if err := svc.Start(ctx); err != nil {
		return err
	}
	defer svc.Stop(context.Background())
	fmt.Fprintf(out, "greeter is up: endpoint SayHello on %s\n", greeter.GreeterSayHelloSubject)

	// The client side: the generated client implements greeter.Greeter.
	cnc, err := nats.Connect(url, nats.Name("hello-client"))
	if err != nil {
		return err
	}
	defer cnc.Close()
	var g greeter.Greeter = greeter.NewGreeterClient(rpc.NewClient(cnc))

	reply, err := g.SayHello(ctx, &greeter.HelloRequest{Name: "world"})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "SayHello(world): %s\n", reply.Message)

	// The pattern is chosen per call, through the context.
	reply, err = g.SayHello(rpc.WithCallOptions(ctx, rpc.LowestLatency()), &greeter.HelloRequest{Name: "Ada"})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "SayHello(Ada), lowest latency: %s\n", reply.Message)

	// Requests are checked against their validate tags: Name is required.
	_, err = g.SayHello(ctx, &greeter.HelloRequest{})
	fmt.Fprintf(out, "SayHello(\"\"): %v (code %d)\n", err, dialtone.CodeOf(err))
	return nil
}
