// Command discovery watches a service's instances come and go: two instances join,
// one drains and leaves, the other is killed and expires.
//
//	go run ./examples/discovery    # needs a bus at $NATS_URL (default nats://127.0.0.1:4222)
//
// A discovery.Registry builds its view from the heartbeats every instance publishes on
// service.<name>.heartbeats. A graceful stop is announced ("draining", then a final
// "stopped" heartbeat); an instance that dies silently is expired once it has missed
// 3 of the heartbeat intervals it promised (here 100ms, so after about 300ms).
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/dialtone-dev/dialtone/discovery"
	"github.com/dialtone-dev/dialtone/examples/hello/greeter"
	"github.com/dialtone-dev/dialtone/service"
)

// interval is the heartbeat interval the instances promise.
const interval = 100 * time.Millisecond

func main() {
	url := os.Getenv("NATS_URL")
	if url == "" {
		url = nats.DefaultURL
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, url, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "discovery:", err)
		os.Exit(1)
	}
}

// instance is a greeter instance on its own connection, as if its own process.
type instance struct {
	name string
	nc   *nats.Conn
	svc  *service.Service
}

func start(ctx context.Context, url, name string) (*instance, error) {
	nc, err := nats.Connect(url, nats.Name("greeter-"+name))
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", url, err)
	}
	svc, err := service.New(nc,
		service.Config{Name: greeter.GreeterServiceName, Version: "1.0.0", Metadata: map[string]string{"example": "discovery", "instance": name}},
		service.WithHeartbeatInterval(interval),
		// The instance that is killed logs its failing heartbeats; keep them out of the output.
		service.WithLogger(slog.New(slog.DiscardHandler)))
	if err == nil {
		err = greeter.RegisterGreeter(svc, greeter.Server{})
	}
	if err == nil {
		err = svc.Start(ctx)
	}
	if err != nil {
		nc.Close()
		return nil, err
	}
	return &instance{name: name, nc: nc, svc: svc}, nil
}

func run(ctx context.Context, url string, out io.Writer) error {
	nc, err := nats.Connect(url, nats.Name("discovery-watcher"))
	if err != nil {
		return fmt.Errorf("connect to %s: %w", url, err)
	}
	defer nc.Close()
	reg, err := discovery.New(ctx, nc)
	if err != nil {
		return err
	}
	defer reg.Close()
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	events := reg.Watch(watchCtx)
	fmt.Fprintln(out, "watching the greeter instances of this example")

	// live is the set of instances as the events tell it.
	var live []string
	// await prints events until the one wanted (type and instance) has been seen.
	await := func(want discovery.EventType, name string) error {
		timeout := time.NewTimer(10 * time.Second)
		defer timeout.Stop()
		for {
			select {
			case ev, ok := <-events:
				if !ok {
					return fmt.Errorf("watch ended before %s %s", name, want)
				}
				md := ev.Instance.Metadata
				if ev.Instance.Name != greeter.GreeterServiceName || md["example"] != "discovery" {
					continue // not one of ours
				}
				who := md["instance"]
				switch ev.Type {
				case discovery.Joined:
					live = append(live, who)
				case discovery.Left, discovery.Expired:
					live = slices.DeleteFunc(live, func(s string) bool { return s == who })
				}
				shown := strings.Join(live, " ")
				if shown == "" {
					shown = "none"
				}
				fmt.Fprintf(out, "  %-8s %s %s (version %s, status %s)   live: %s\n",
					ev.Type, ev.Instance.Name, who, ev.Instance.Version, ev.Instance.Status, shown)
				if ev.Type == want && who == name {
					return nil
				}
			case <-ctx.Done():
				return fmt.Errorf("waiting for %s %s: %w", name, want, ctx.Err())
			case <-timeout.C:
				return fmt.Errorf("no %s event for %s within 10s", want, name)
			}
		}
	}

	fmt.Fprintln(out, "start instances a and b")
	a, err := start(ctx, url, "a")
	if err != nil {
		return err
	}
	defer a.nc.Close()
	if err := await(discovery.Joined, "a"); err != nil {
		return err
	}
	b, err := start(ctx, url, "b")
	if err != nil {
		return err
	}
	defer b.nc.Close()
	if err := await(discovery.Joined, "b"); err != nil {
		return err
	}

	fmt.Fprintln(out, "stop a gracefully (drain)")
	if err := a.svc.Stop(ctx); err != nil {
		return err
	}
	if err := await(discovery.Left, "a"); err != nil {
		return err
	}

	fmt.Fprintf(out, "kill b: close its connection without a word (it expires after 3 x %v)\n", interval)
	b.nc.Close()
	if err := await(discovery.Expired, "b"); err != nil {
		return err
	}
	_ = b.svc.Stop(ctx) // releases b's goroutines; its connection is gone already
	return nil
}
