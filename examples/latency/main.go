// Command latency compares the call patterns on a service with one deliberately slow
// instance: balanced (the default), available and lowest latency.
//
//	go run ./examples/latency      # needs a bus at $NATS_URL (default nats://127.0.0.1:4222)
//
// Three instances serve "quote": fast-1 and fast-2 answer at once; slow takes 200ms a
// call and takes one call at a time (service.WithMaxConcurrent(1)). Each pattern makes
// the same burst of calls at once:
//
//   - balanced: the queue group picks an instance at random, so about a third of the
//     calls queue up behind the slow one;
//   - available: only instances with a free slot answer the probe, so the slow one
//     gets at most the one call it has room for;
//   - lowest latency: every instance gets every call and the first answer wins, so the
//     slow one never decides how long a call takes (at the price of doing all the
//     work everywhere).
//
// The pattern is chosen per call through the context, with the generated client:
//
//	ctx = rpc.WithCallOptions(ctx, rpc.Available())
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/dialtone-dev/dialtone/examples/latency/quote"
	"github.com/dialtone-dev/dialtone/rpc"
	"github.com/dialtone-dev/dialtone/service"
)

const (
	burst     = 9                      // calls made at once, per pattern
	slowDelay = 200 * time.Millisecond // how long the slow instance takes per call
)

func main() {
	url := os.Getenv("NATS_URL")
	if url == "" {
		url = nats.DefaultURL
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, url, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "latency:", err)
		os.Exit(1)
	}
}

// quoter implements quote.Quoter; delay makes an instance slow.
type quoter struct {
	name  string
	delay time.Duration
}

func (q quoter) Quote(ctx context.Context, req *quote.QuoteRequest) (*quote.QuoteReply, error) {
	if q.delay > 0 {
		select {
		case <-time.After(q.delay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	var cents int64 = 100
	for _, c := range req.Symbol {
		cents += int64(c)
	}
	return &quote.QuoteReply{Symbol: req.Symbol, Cents: cents, Instance: q.name}, nil
}

func run(ctx context.Context, url string, out io.Writer) error {
	for _, q := range []quoter{{name: "fast-1"}, {name: "fast-2"}, {name: "slow", delay: slowDelay}} {
		nc, err := nats.Connect(url, nats.Name(q.name))
		if err != nil {
			return fmt.Errorf("connect to %s: %w", url, err)
		}
		defer nc.Close()
		var opts []service.Option
		if q.delay > 0 {
			opts = append(opts, service.WithMaxConcurrent(1))
		}
		svc, err := service.New(nc, service.Config{Name: quote.QuoterServiceName, Version: "1.0.0", Metadata: map[string]string{"instance": q.name}}, opts...)
		if err != nil {
			return err
		}
		if err := quote.RegisterQuoter(svc, q); err != nil {
			return err
		}
		if err := svc.Start(ctx); err != nil {
			return err
		}
		defer svc.Stop(context.Background())
	}
	fmt.Fprintf(out, "quote instances: fast-1, fast-2 (answer at once) and slow (%v a call, one at a time)\n", slowDelay)

	nc, err := nats.Connect(url, nats.Name("latency-client"))
	if err != nil {
		return err
	}
	defer nc.Close()
	client := quote.NewQuoterClient(rpc.NewClient(nc))

	fmt.Fprintf(out, "%-15s %5s %7s %12s\n", "pattern", "calls", "on slow", "slowest call")
	for _, p := range []struct {
		name string
		opts []rpc.CallOption
	}{
		{"balanced", []rpc.CallOption{rpc.Balanced()}},
		// When no instance has a free slot the call fails fast with unavailable; a
		// caller that would rather wait retries.
		{"available", []rpc.CallOption{rpc.Available(), rpc.Retry(rpc.RetryPolicy{})}},
		{"lowest-latency", []rpc.CallOption{rpc.LowestLatency()}},
	} {
		onSlow, slowest, err := round(rpc.WithCallOptions(ctx, p.opts...), client)
		if err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
		fmt.Fprintf(out, "%-15s %5d %7d %10dms\n", p.name, burst, onSlow, slowest.Round(10*time.Millisecond).Milliseconds())
	}
	return nil
}

// round makes burst calls at once and reports how many the slow instance answered
// and how long the slowest call took.
func round(ctx context.Context, client quote.Quoter) (onSlow int, slowest time.Duration, err error) {
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	for range burst {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			reply, err := client.Quote(ctx, &quote.QuoteRequest{Symbol: "DTL"})
			took := time.Since(start)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			if reply.Instance == "slow" {
				onSlow++
			}
			slowest = max(slowest, took)
		}()
	}
	wg.Wait()
	return onSlow, slowest, errors.Join(errs...)
}
