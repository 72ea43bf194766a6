// Command workers runs several instances of one service and shows how the bus spreads
// the calls between them.
//
//	go run ./examples/workers      # needs a bus at $NATS_URL (default nats://127.0.0.1:4222)
//	go run ./examples/workers -metrics 127.0.0.1:9464   # then serve the metrics until Ctrl-C
//
// With -metrics, the instances and the client record their calls with an
// OpenTelemetry SDK (package promexport) and, once the jobs are done, the program
// serves them at http://ADDR/metrics for Prometheus until it is interrupted:
// rpc_server_call_duration_seconds and rpc_client_call_duration_seconds, by
// outcome, for the 60 calls.
//
// The instances need no coordination: every instance subscribes to the endpoint
// subject in the queue group "squarer", and the bus gives each request to one member.
// Start more instances (in this process or others) and they take a share at once.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"

	"github.com/dialtone-dev/dialtone/examples/workers/squarer"
	"github.com/dialtone-dev/dialtone/promexport"
	"github.com/dialtone-dev/dialtone/rpc"
	"github.com/dialtone-dev/dialtone/service"
)

const (
	workers     = 3  // instances of the service
	jobs        = 60 // calls made
	concurrency = 6  // calls in flight at once
)

func main() {
	url := os.Getenv("NATS_URL")
	if url == "" {
		url = nats.DefaultURL
	}
	metricsAddr := flag.String("metrics", "", "after the jobs, serve Prometheus metrics at http://`addr`/metrics until interrupted")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := program(ctx, url, *metricsAddr); err != nil {
		fmt.Fprintln(os.Stderr, "workers:", err)
		os.Exit(1)
	}
}

// program runs the example and, with a metrics address, serves the metrics after it.
func program(ctx context.Context, url, metricsAddr string) error {
	if metricsAddr == "" {
		return run(ctx, url, os.Stdout, otel.GetMeterProvider())
	}
	mp, handler, err := promexport.New()
	if err != nil {
		return err
	}
	defer mp.Shutdown(context.Background())
	ln, err := net.Listen("tcp", metricsAddr)
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", handler)
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	defer srv.Close()
	if err := run(ctx, url, os.Stdout, mp); err != nil {
		return err
	}
	fmt.Printf("metrics on http://%s/metrics; Ctrl-C to stop\n", ln.Addr())
	<-ctx.Done()
	return nil
}

// worker implements squarer.Squarer; each instance has its own.
type worker struct{ name string }

func (w worker) Square(ctx context.Context, req *squarer.SquareRequest) (*squarer.SquareReply, error) {
	// Pretend the job takes a little while, so several are in flight at once.
	select {
	case <-time.After(2 * time.Millisecond):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return &squarer.SquareReply{Result: req.N * req.N, Worker: w.name}, nil
}

// run starts the instances, makes the calls and prints how they spread. The
// instances and the client record their metrics with mp.
func run(ctx context.Context, url string, out io.Writer, mp metric.MeterProvider) error {
	// Start the instances, each on its own connection as if in its own process.
	for i := 1; i <= workers; i++ {
		name := fmt.Sprintf("worker-%d", i)
		nc, err := nats.Connect(url, nats.Name(name))
		if err != nil {
			return fmt.Errorf("connect to %s: %w", url, err)
		}
		defer nc.Close()
		svc, err := service.New(nc, service.Config{Name: squarer.SquarerServiceName, Version: "1.0.0", Metadata: map[string]string{"worker": name}},
			service.WithMeterProvider(mp))
		if err != nil {
			return err
		}
		if err := squarer.RegisterSquarer(svc, worker{name: name}); err != nil {
			return err
		}
		if err := svc.Start(ctx); err != nil {
			return err
		}
		defer svc.Stop(context.Background())
	}
	fmt.Fprintf(out, "%d instances of %s are serving in queue group %q\n", workers, squarer.SquarerServiceName, squarer.SquarerServiceName)

	nc, err := nats.Connect(url, nats.Name("workers-client"))
	if err != nil {
		return err
	}
	defer nc.Close()
	client := squarer.NewSquarerClient(rpc.NewClient(nc, rpc.WithMeterProvider(mp)))

	// Make the calls, a few at a time.
	var (
		mu     sync.Mutex
		byName = map[string]int{}
		sum    int
		errs   []error
		wg     sync.WaitGroup
		next   = make(chan int)
	)
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range next {
				reply, err := client.Square(ctx, &squarer.SquareRequest{N: n})
				mu.Lock()
				if err != nil {
					errs = append(errs, fmt.Errorf("Square(%d): %w", n, err))
				} else if reply.Result != n*n {
					errs = append(errs, fmt.Errorf("Square(%d) = %d", n, reply.Result))
				} else {
					byName[reply.Worker]++
					sum += reply.Result
				}
				mu.Unlock()
			}
		}()
	}
	for n := 1; n <= jobs; n++ {
		next <- n
	}
	close(next)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}

	fmt.Fprintf(out, "%d jobs done, sum of squares %d; the work spread like this:\n", jobs, sum)
	names := make([]string, 0, len(byName))
	for name := range byName {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(out, "  %s %3d %s\n", name, byName[name], strings.Repeat("#", byName[name]))
	}
	return nil
}
