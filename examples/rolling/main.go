// Command rolling replaces every instance of a service with a new version, one at a
// time, while clients keep calling it, and counts the calls that failed: none do.
//
//	go run ./examples/rolling      # needs a bus at $NATS_URL (default nats://127.0.0.1:4222)
//
// Each step starts an instance of the new version, waits until it is subscribed
// (Start returns then), and stops an old one. Stop drains: the old instance leaves the
// queue group first, so the bus sends it nothing new, then answers what it already
// received, then says "stopped" in its last heartbeat. No call is lost and no client
// retries.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/dialtone-dev/dialtone/examples/rolling/version"
	"github.com/dialtone-dev/dialtone/rpc"
	"github.com/dialtone-dev/dialtone/service"
)

const (
	instances = 3
	clients   = 4  // goroutines calling in a loop
	between   = 50 // calls made between two steps of the deploy, at least
	oldV      = "1.0.0"
	newV      = "2.0.0"
)

func main() {
	url := os.Getenv("NATS_URL")
	if url == "" {
		url = nats.DefaultURL
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, url, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "rolling:", err)
		os.Exit(1)
	}
}

// server implements version.Versioner for one version.
type server struct{ version string }

func (s server) Get(ctx context.Context, req *version.GetRequest) (*version.GetReply, error) {
	// A little work, so calls are in flight while instances drain.
	select {
	case <-time.After(time.Millisecond):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return &version.GetReply{Seq: req.Seq, Version: s.version}, nil
}

// instance is one running instance with its own connection, as if a process.
type instance struct {
	nc  *nats.Conn
	svc *service.Service
}

func start(ctx context.Context, url, v string) (*instance, error) {
	nc, err := nats.Connect(url, nats.Name("version-"+v))
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", url, err)
	}
	svc, err := service.New(nc, service.Config{Name: version.VersionerServiceName, Version: v})
	if err == nil {
		err = version.RegisterVersioner(svc, server{version: v})
	}
	if err == nil {
		err = svc.Start(ctx)
	}
	if err != nil {
		nc.Close()
		return nil, err
	}
	return &instance{nc: nc, svc: svc}, nil
}

func (in *instance) stop(ctx context.Context) error {
	defer in.nc.Close()
	return in.svc.Stop(ctx)
}

// tally counts the clients' calls.
type tally struct {
	mu        sync.Mutex
	calls     int
	failures  []error
	byVersion map[string]int
	late      map[string]int // calls made after the deploy finished, by version
	waiters   []waiter
}

type waiter struct {
	at   int
	done chan struct{}
}

// add counts a call; late says it was made after the deploy had finished.
func (t *tally) add(v string, err error, late bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.calls++
	if err != nil {
		t.failures = append(t.failures, err)
	} else {
		t.byVersion[v]++
		if late {
			t.late[v]++
		}
	}
	kept := t.waiters[:0]
	for _, w := range t.waiters {
		if t.calls >= w.at {
			close(w.done)
		} else {
			kept = append(kept, w)
		}
	}
	t.waiters = kept
}

// after returns a channel closed once n more calls have been made.
func (t *tally) after(n int) <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	w := waiter{at: t.calls + n, done: make(chan struct{})}
	t.waiters = append(t.waiters, w)
	return w.done
}

func (t *tally) result() (calls int, failures []error, byVersion, late map[string]int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.calls, t.failures, t.byVersion, t.late
}

func run(ctx context.Context, url string, out io.Writer) error {
	var old []*instance
	defer func() {
		for _, in := range old {
			in.stop(context.Background())
		}
	}()
	for range instances {
		in, err := start(ctx, url, oldV)
		if err != nil {
			return err
		}
		old = append(old, in)
	}
	fmt.Fprintf(out, "%d instances of version %s are serving\n", instances, oldV)

	nc, err := nats.Connect(url, nats.Name("rolling-client"))
	if err != nil {
		return err
	}
	defer nc.Close()
	client := version.NewVersionerClient(rpc.NewClient(nc))

	t := &tally{byVersion: map[string]int{}, late: map[string]int{}}
	var deployed atomic.Bool // set once every old instance has stopped
	callCtx, stopCalls := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := c; callCtx.Err() == nil; seq += clients {
				late := deployed.Load()
				reply, err := client.Get(callCtx, &version.GetRequest{Seq: seq})
				if callCtx.Err() != nil {
					return // the loop was stopped: not a failure of the service
				}
				if err == nil && reply.Seq != seq {
					err = fmt.Errorf("call %d answered as %d", seq, reply.Seq)
				}
				v := ""
				if reply != nil {
					v = reply.Version
				}
				t.add(v, err, late)
			}
		}()
	}
	stopClients := func() {
		stopCalls()
		wg.Wait()
	}
	defer stopClients()

	// waitCalls lets the clients make n more calls.
	waitCalls := func(n int) error {
		timeout := time.NewTimer(30 * time.Second)
		defer timeout.Stop()
		select {
		case <-t.after(n):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-timeout.C:
			calls, failures, _, _ := t.result()
			return fmt.Errorf("the clients made no %d calls within 30s (%d calls, %d failed so far)", n, calls, len(failures))
		}
	}
	if err := waitCalls(between); err != nil {
		return err
	}
	var fresh []*instance
	defer func() {
		for _, in := range fresh {
			in.stop(context.Background())
		}
	}()
	for i := range instances {
		in, err := start(ctx, url, newV)
		if err != nil {
			return err
		}
		fresh = append(fresh, in)
		if err := old[0].stop(ctx); err != nil {
			return fmt.Errorf("draining an old instance: %w", err)
		}
		old = old[1:]
		fmt.Fprintf(out, "step %d: started a %s instance, drained a %s one\n", i+1, newV, oldV)
		if err := waitCalls(between); err != nil {
			return err
		}
	}

	// Every call made from now on is served by the new version.
	deployed.Store(true)
	if err := waitCalls(between); err != nil {
		return err
	}
	stopClients()
	calls, failures, byVersion, late := t.result()
	fmt.Fprintf(out, "after the deploy, calls served by %s: %d, by %s: %d\n", oldV, late[oldV], newV, late[newV])
	fmt.Fprintf(out, "%d calls in all, %d failed (%s served %d, %s served %d)\n",
		calls, len(failures), oldV, byVersion[oldV], newV, byVersion[newV])
	return errors.Join(failures...)
}
