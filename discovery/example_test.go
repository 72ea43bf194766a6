package discovery_test

import (
	"context"
	"fmt"
	"time"

	"github.com/dialtone-dev/dialtone/discovery"
	"github.com/dialtone-dev/dialtone/internal/bustest"
	"github.com/dialtone-dev/dialtone/service"
	"github.com/nats-io/nats.go"
)

func Example() {
	url, shutdown := bustest.Serve()
	defer shutdown()
	nc, err := nats.Connect(url)
	if err != nil {
		panic(err)
	}
	defer nc.Close()
	ctx := context.Background()

	// A service that runs before the registry exists.
	svc, err := service.New(nc, service.Config{Name: "greeter", Version: "1.2.0"})
	if err != nil {
		panic(err)
	}
	if err := svc.Start(ctx); err != nil {
		panic(err)
	}

	// The registry asks every instance to beat at once, so it knows the service
	// when New returns.
	reg, err := discovery.New(ctx, nc)
	if err != nil {
		panic(err)
	}
	defer reg.Close()
	for _, s := range reg.Services() {
		fmt.Println(s.Name, s.Versions, s.Instances)
	}

	// Watch replays the known instances as joined, then follows changes.
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	events := reg.Watch(wctx)
	fmt.Println((<-events).Type)
	go svc.Stop(ctx)
	fmt.Println((<-events).Type)
	fmt.Println((<-events).Type)
	fmt.Println(len(reg.Instances("greeter")))
	// Output:
	// greeter [1.2.0] 1
	// joined
	// draining
	// left
	// 0
}
