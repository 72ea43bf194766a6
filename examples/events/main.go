// Command events shows events delivered once per service while instances come and
// go: the orders service publishes OrderPlaced, and billing (two instances) and
// mail (one instance) each handle every order exactly once, while, one at a time,
// every one of their instances is replaced by a new one.
//
//	go run ./examples/events      # needs a bus at $NATS_URL (default nats://127.0.0.1:4222)
//
// Each step starts the new instance (Start returns once the bus has its
// subscription) and then stops an old one. Stop drains: the old instance leaves
// its service's queue group, so the bus gives the events after that to the other
// instances, and it handles the events it had already received before it
// returns. No event is lost and none is handled twice.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/dialtone-dev/dialtone/event"
	"github.com/dialtone-dev/dialtone/examples/events/orders"
	"github.com/dialtone-dev/dialtone/service"
)

const between = 100 // events published between two steps, at least

func main() {
	url := os.Getenv("NATS_URL")
	if url == "" {
		url = nats.DefaultURL
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, url, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "events:", err)
		os.Exit(1)
	}
}

// ledger records which instance of which service handled which order.
type ledger struct {
	mu      sync.Mutex
	handled map[string]map[int][]string // service -> order ID -> instances that handled it
	changed chan struct{}               // closed and replaced at every entry
}

func newLedger() *ledger {
	return &ledger{handled: map[string]map[int][]string{}, changed: make(chan struct{})}
}

func (l *ledger) add(svc, instance string, id int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.handled[svc] == nil {
		l.handled[svc] = map[int][]string{}
	}
	l.handled[svc][id] = append(l.handled[svc][id], instance)
	close(l.changed)
	l.changed = make(chan struct{})
}

// waitAll waits until every service in svcs has handled orders 1 to n.
func (l *ledger) waitAll(ctx context.Context, n int, svcs ...string) error {
	timeout := time.NewTimer(30 * time.Second)
	defer timeout.Stop()
	for {
		l.mu.Lock()
		done := true
		for _, s := range svcs {
			done = done && len(l.handled[s]) >= n
		}
		changed := l.changed
		l.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		case <-timeout.C:
			return fmt.Errorf("not every service handled the %d orders within 30s", n)
		}
	}
}

// consumer handles OrderPlaced for one instance of a service. It implements
// orders.Events.
type consumer struct {
	svc, name string
	l         *ledger
}

func (c consumer) OrderPlaced(ctx context.Context, ev *orders.OrderPlaced) error {
	time.Sleep(200 * time.Microsecond) // a little work, so events are in hand while instances drain
	c.l.add(c.svc, c.name, ev.ID)
	return nil
}

// instance is one running instance with its own connection, as if a process.
type instance struct {
	name string
	nc   *nats.Conn
	svc  *service.Service
}

func start(ctx context.Context, url, svcName, name string, l *ledger) (*instance, error) {
	nc, err := nats.Connect(url, nats.Name(name))
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", url, err)
	}
	svc, err := service.New(nc, service.Config{Name: svcName, Version: "1.0.0"})
	if err == nil {
		err = orders.RegisterEvents(svc, consumer{svc: svcName, name: name, l: l})
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

func (in *instance) stop(ctx context.Context) error {
	defer in.nc.Close()
	return in.svc.Stop(ctx)
}

func run(ctx context.Context, url string, out io.Writer) error {
	l := newLedger()
	live := map[string]*instance{}
	defer func() {
		for _, in := range live {
			in.stop(context.Background())
		}
	}()
	for _, s := range [][2]string{{"billing", "billing-1"}, {"billing", "billing-2"}, {"mail", "mail-1"}} {
		in, err := start(ctx, url, s[0], s[1], l)
		if err != nil {
			return err
		}
		live[s[1]] = in
	}

	// The orders service: it publishes, so its heartbeats and $SRV.INFO list the event.
	onc, err := nats.Connect(url, nats.Name("orders"))
	if err != nil {
		return err
	}
	defer onc.Close()
	osvc, err := service.New(onc, service.Config{Name: "orders", Version: "1.0.0"})
	if err != nil {
		return err
	}
	pub := orders.NewEventsPublisher(event.NewPublisher(onc, event.WithService(osvc)))
	if err := osvc.Start(ctx); err != nil {
		return err
	}
	defer osvc.Stop(context.Background())
	fmt.Fprintln(out, "orders publishes OrderPlaced; billing (billing-1, billing-2) and mail (mail-1) handle it once per service")

	// Publish orders at a steady pace until told to stop.
	var published int
	var pubMu sync.Mutex
	pubErr := make(chan error, 1)
	stopPub := make(chan struct{})
	go func() {
		tick := time.NewTicker(500 * time.Microsecond)
		defer tick.Stop()
		for {
			select {
			case <-stopPub:
				pubErr <- nil
				return
			case <-ctx.Done():
				pubErr <- ctx.Err()
				return
			case <-tick.C:
			}
			pubMu.Lock()
			published++
			id := published
			pubMu.Unlock()
			if err := pub.OrderPlaced(ctx, &orders.OrderPlaced{ID: id, Customer: "ada@example.com", Total: int64(100 * id)}); err != nil {
				pubErr <- err
				return
			}
		}
	}()
	var stopOnce sync.Once
	stopPublishing := func() (int, error) {
		var err error
		stopOnce.Do(func() {
			close(stopPub)
			err = <-pubErr
		})
		if err != nil {
			return 0, err
		}
		pubMu.Lock()
		defer pubMu.Unlock()
		return published, nil
	}
	defer stopPublishing()
	waitPublished := func(n int) error {
		pubMu.Lock()
		target := published + n
		pubMu.Unlock()
		return l.waitAll(ctx, target, "billing", "mail")
	}

	if err := waitPublished(between); err != nil {
		return err
	}
	steps := []struct{ svc, start, drain string }{
		{"billing", "billing-3", "billing-1"},
		{"mail", "mail-2", "mail-1"},
		{"billing", "billing-4", "billing-2"},
	}
	for i, st := range steps {
		in, err := start(ctx, url, st.svc, st.start, l)
		if err != nil {
			return err
		}
		live[st.start] = in
		if err := live[st.drain].stop(ctx); err != nil {
			return fmt.Errorf("draining %s: %w", st.drain, err)
		}
		delete(live, st.drain)
		fmt.Fprintf(out, "step %d: started %s, drained %s\n", i+1, st.start, st.drain)
		if err := waitPublished(between); err != nil {
			return err
		}
	}

	n, err := stopPublishing()
	if err != nil {
		return err
	}
	if err := l.waitAll(ctx, n, "billing", "mail"); err != nil {
		return err
	}
	for name, in := range live { // drain the rest: every delivered event handled
		if err := in.stop(ctx); err != nil {
			return fmt.Errorf("draining %s: %w", name, err)
		}
		delete(live, name)
	}
	fmt.Fprintf(out, "%d orders published\n", n)
	var errs []error
	for _, svc := range []string{"billing", "mail"} {
		l.mu.Lock()
		byInstance := map[string]int{}
		missing, twice := 0, 0
		for id := 1; id <= n; id++ {
			ins := l.handled[svc][id]
			switch {
			case len(ins) == 0:
				missing++
			case len(ins) > 1:
				twice++
			}
			for _, in := range ins {
				byInstance[in]++
			}
		}
		l.mu.Unlock()
		names := make([]string, 0, len(byInstance))
		for in := range byInstance {
			names = append(names, in)
		}
		slices.Sort(names)
		line := fmt.Sprintf("%-7s handled %d once, missed %d, twice %d:", svc, n-missing-twice, missing, twice)
		for _, in := range names {
			line += fmt.Sprintf(" %s %d", in, byInstance[in])
		}
		fmt.Fprintln(out, line)
		if missing > 0 || twice > 0 {
			errs = append(errs, fmt.Errorf("%s missed %d orders and handled %d twice", svc, missing, twice))
		}
	}
	return errors.Join(errs...)
}
