package event_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/dialtone-dev/dialtone/event"
	"github.com/dialtone-dev/dialtone/heartbeat"
	"github.com/dialtone-dev/dialtone/internal/bustest"
	"github.com/dialtone-dev/dialtone/service"
)

// OrderPlaced is the event most tests publish.
type OrderPlaced struct {
	ID    string `json:"id" validate:"required"`
	Total int    `json:"total" validate:"min=0"`
}

var orderPlaced = event.NewTopic[OrderPlaced](event.Spec{Subject: "orders.OrderPlaced"})

// forEachBackend runs f on busd and on a nats-server cluster (bustest.Env); on
// a cluster, instances connect to other nodes than the client.
func forEachBackend(t *testing.T, f func(t *testing.T, e *env)) {
	t.Helper()
	bustest.ForEachBackend(t, func(t *testing.T, be *bustest.Env) { f(t, &env{be}) })
}

type env struct{ *bustest.Env }

// oneBusd is an env on a fresh busd, with no client connection yet.
func oneBusd(t *testing.T) *env {
	return &env{&bustest.Env{T: t, URLs: []string{bustestURL(t)}}}
}

// instance is a started service instance and its connection.
type instance struct {
	*service.Service
	nc *nats.Conn
}

// start creates an instance of service name, lets setup subscribe, starts it,
// stops it on cleanup and waits until the client's server knows its
// subscriptions.
func (e *env) start(name string, setup func(s *service.Service), opts ...service.Option) *instance {
	e.T.Helper()
	nc := e.Conn()
	opts = append([]service.Option{service.WithHeartbeatInterval(100 * time.Millisecond),
		service.WithLogger(slog.New(slog.DiscardHandler))}, opts...)
	s, err := service.New(nc, service.Config{Name: name, Version: "1.0.0"}, opts...)
	if err != nil {
		e.T.Fatal(err)
	}
	if setup != nil {
		setup(s)
	}
	if err := s.Start(context.Background()); err != nil {
		e.T.Fatal(err)
	}
	e.T.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Stop(ctx)
	})
	e.Reachable(s.Name(), s.ID())
	return &instance{Service: s, nc: nc}
}

// tally counts the events each service and each instance handled, by order ID,
// and signals when a target is reached.
type tally struct {
	mu     sync.Mutex
	byKey  map[string]map[string]int // key (service or instance) -> order ID -> times handled
	want   map[string]int            // key -> distinct IDs that complete it
	done   chan struct{}
	closed bool
}

func newTally() *tally {
	return &tally{byKey: map[string]map[string]int{}, want: map[string]int{}, done: make(chan struct{})}
}

// expect makes wait return once key has seen n distinct IDs (and every other
// expected key its own).
func (t *tally) expect(key string, n int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.want[key] = n
	t.checkLocked() // the events may all have been handled already
}

func (t *tally) add(id string, keys ...string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, k := range keys {
		if t.byKey[k] == nil {
			t.byKey[k] = map[string]int{}
		}
		t.byKey[k][id]++
	}
	t.checkLocked()
}

// checkLocked closes done once every expected key is complete.
func (t *tally) checkLocked() {
	if t.closed || len(t.want) == 0 {
		return
	}
	for k, n := range t.want {
		if len(t.byKey[k]) < n {
			return
		}
	}
	t.closed = true
	close(t.done)
}

// wait waits until every expected key is complete, failing after d.
func (t *tally) wait(tb testing.TB, d time.Duration) {
	tb.Helper()
	select {
	case <-t.done:
	case <-time.After(d):
		t.mu.Lock()
		defer t.mu.Unlock()
		for k, n := range t.want {
			tb.Errorf("%s: %d distinct events handled, want %d", k, len(t.byKey[k]), n)
		}
		tb.FailNow()
	}
}

// distinct and total report how many IDs key saw, and how many events in all.
func (t *tally) counts(key string) (distinct, total int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, n := range t.byKey[key] {
		total += n
	}
	return len(t.byKey[key]), total
}

// stop stops an instance within 10s and fails the test on an error.
func stop(t testing.TB, s *service.Service) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		t.Fatalf("stop %s: %v", s.ID(), err)
	}
}

// bustestConn connects to a fresh busd, for tests that need only one connection.
func bustestConn(t *testing.T) *nats.Conn {
	t.Helper()
	return bustest.Connect(t, bustest.Busd(t))
}

// bustestURL starts a busd and returns its URL.
func bustestURL(t *testing.T) string {
	t.Helper()
	return bustest.Busd(t)
}

// watchDraining returns a channel closed when instance id of service says in a
// heartbeat that it is draining. It is watching when watchDraining returns.
func watchDraining(t *testing.T, nc *nats.Conn, service, id string) <-chan struct{} {
	t.Helper()
	draining := make(chan struct{})
	var once sync.Once
	// A drain that takes longer than a heartbeat interval says so again: once.
	sub, err := nc.Subscribe(heartbeat.Subject(service), func(m *nats.Msg) {
		if h, err := heartbeat.Decode(m.Data); err == nil && h.ID == id && h.Status == heartbeat.StatusDraining {
			once.Do(func() { close(draining) })
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return draining
}

// startedExactly waits for n handlers to say they started, then fails if one
// more does within 50ms: the limit they run under is n.
func startedExactly(t *testing.T, started <-chan struct{}, n int) {
	t.Helper()
	for range n {
		select {
		case <-started:
		case <-time.After(10 * time.Second):
			t.Fatal("handlers did not start")
		}
	}
	select {
	case <-started:
		t.Fatalf("a handler started beyond the limit of %d", n)
	case <-time.After(50 * time.Millisecond): // a negative: nothing can signal it
	}
}
