package service

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/dialtone-dev/dialtone/internal/bustest"
)

// The pool keeps one worker parked per queue while idle (so a burst goes to one
// worker, whose replies leave in one write) and one spare, and still finds a
// worker for each request while the others are busy: blocked handlers never hold
// up a request while the instance has free slots.
func TestWorkerPool(t *testing.T) {
	url := bustest.Busd(t)
	nc := bustest.Connect(t, url)
	s, err := New(nc, Config{Name: "pool", Version: "1.0.0"}, WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	const busy = 6
	running := make(chan struct{}, busy)
	release := make(chan struct{})
	if err := s.AddEndpoint("Block", HandlerFunc(func(ctx context.Context, req *Request) (*Response, error) {
		running <- struct{}{}
		<-release
		return &Response{Data: []byte("ok")}, nil
	})); err != nil {
		t.Fatal(err)
	}
	s.reqQ.unused = 50 * time.Millisecond // the spares the burst leaves go soon
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop(context.Background()) })

	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s (workers %d, idle %d, spare %d)", what, s.reqQ.workers.Load(), s.reqQ.idle.Load(), s.reqQ.spare.Load())
			}
			time.Sleep(time.Millisecond) // the pool reports no event to wait on
		}
	}
	settled := func() bool {
		return s.reqQ.workers.Load() == maxIdle+1 && s.reqQ.idle.Load() == maxIdle && s.reqQ.spare.Load() == 1
	}
	waitFor("one parked worker and a spare after Start", settled)

	client := bustest.Connect(t, url)
	var wg sync.WaitGroup
	errs := make(chan error, busy)
	for range busy {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := client.Request("pool.Block", nil, 5*time.Second); err != nil {
				errs <- err
			}
		}()
	}
	for i := range busy {
		select {
		case <-running:
		case <-time.After(5 * time.Second):
			t.Fatalf("%d of %d handlers running: a request waits for a busy handler", i, busy)
		}
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	waitFor("the spares beyond one to leave", settled)

	// A request at a time is served by the parked worker, and the spare takes its
	// place: no worker is started for it.
	before := s.reqQ.started.Load()
	for range 20 {
		if _, err := client.Request("pool.Block", nil, 5*time.Second); err != nil {
			t.Fatal(err)
		}
		<-running
		waitFor("the pool to settle", settled)
	}
	if n := s.reqQ.started.Load() - before; n != 0 {
		t.Errorf("%d workers started for 20 requests one at a time, want 0 (the spare takes the parked worker's place)", n)
	}
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := s.reqQ.workers.Load() + s.directQ.workers.Load(); n != 0 {
		t.Fatalf("%d workers left after Stop", n)
	}
}

// Concurrent callers of a fast endpoint are served by the workers the pool has,
// not by a goroutine started for most requests. With at most one spare, 8
// callers made the pool start a worker for 84% of 20,000 requests: the worker
// that took a request woke the spare, which was often busy itself, so a new one
// was started, and the spare beyond one left when it finished.
func TestWorkerPoolKeepsItsWorkers(t *testing.T) {
	url := bustest.Busd(t)
	nc := bustest.Connect(t, url)
	s, err := New(nc, Config{Name: "keep", Version: "1.0.0"}, WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AddEndpoint("Echo", HandlerFunc(func(ctx context.Context, req *Request) (*Response, error) {
		return &Response{Data: req.Data}, nil
	})); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop(context.Background()) })

	client := bustest.Connect(t, url)
	const callers, each = 8, 500
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				if _, err := client.Request("keep.Echo", []byte("x"), 5*time.Second); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// A worker is started only when no spare is waiting, and stays until Stop or
	// a trim, so however the requests interleave the pool cannot start more than
	// its limit of them here: about 10 in practice, a few more under -race.
	if n := s.reqQ.started.Load(); n > DefaultMaxConcurrent {
		t.Errorf("the pool started %d workers for %d requests from %d callers, want at most %d", n, callers*each, callers, DefaultMaxConcurrent)
	}
}
