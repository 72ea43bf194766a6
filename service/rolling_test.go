package service_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dialtone-dev/dialtone/discovery"
	"github.com/dialtone-dev/dialtone/heartbeat"
	"github.com/dialtone-dev/dialtone/rpc"
	"github.com/dialtone-dev/dialtone/service"
)

// The rolling-deploy promise: while instances are replaced one by one (start a new
// one, wait until discovery lists it, then drain an old one), no call fails,
// whatever its pattern. Eight callers, two per pattern, call without retries while
// rollDrains drains happen, each after every pattern has made rollCalls/rollDrains
// more calls, so every pattern makes at least rollCalls calls with drains among
// them. Direct callers pick an instance that discovery lists as up, as a user would.
const (
	rollCalls  = 5000
	rollDrains = 10
)

func TestRollingDrainLosesNoCall(t *testing.T) {
	if testing.Short() {
		t.Skip("a fault run of 20,000 calls: not in -short mode")
	}
	forEachBackend(t, func(t *testing.T, e *env) {
		work := func(s *service.Service) {
			if err := service.Handle(s, "Work", func(ctx context.Context, r *helloReq) (*helloResp, error) {
				return &helloResp{Message: s.ID()}, nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		cfg := service.Config{Name: "roll", Version: "1.0.0"}
		// The machine running the test may stall for a few hundred milliseconds
		// (other tests, -race): heartbeats at 500ms (expiry after 1.5s) and a 2s
		// availability timeout keep such stalls from failing calls, which is not
		// what this test is about. A drain then keeps direct calls for 500ms.
		hb := service.WithHeartbeatInterval(500 * time.Millisecond)
		start := func() *service.Service { return e.start(cfg, work, hb) }
		live := []*service.Service{start(), start(), start()}

		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		reg, err := discovery.New(ctx, e.Client)
		if err != nil {
			t.Fatal(err)
		}
		defer reg.Close()
		events := reg.Watch(ctx)

		c := rpc.NewClient(e.Client, rpc.WithAvailabilityTimeout(2*time.Second))
		ep := rpc.NewEndpoint[helloReq, helloResp](rpc.Spec{Service: "roll", Name: "Work"})
		patterns := []struct {
			name string
			opt  func() (rpc.CallOption, bool)
		}{
			{"balanced", func() (rpc.CallOption, bool) { return rpc.Balanced(), true }},
			{"lowest-latency", func() (rpc.CallOption, bool) { return rpc.LowestLatency(), true }},
			{"available", func() (rpc.CallOption, bool) { return rpc.Available(), true }},
			{"direct", func() (rpc.CallOption, bool) {
				up := reg.Instances("roll", discovery.ByStatus(heartbeat.StatusUp))
				if len(up) == 0 {
					return nil, false
				}
				return rpc.Direct(up[rand.IntN(len(up))].ID), true
			}},
		}
		calls := make([]atomic.Int64, len(patterns))
		fails := make([]atomic.Int64, len(patterns))
		var mu sync.Mutex
		var firstFails []string
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for i := range 2 * len(patterns) {
			p := i % len(patterns)
			wg.Add(1)
			go func() {
				defer wg.Done()
				for n := 0; ; n++ {
					select {
					case <-stop:
						return
					default:
					}
					opt, ok := patterns[p].opt()
					if !ok { // cannot be: two instances are up at any time
						t.Errorf("%s: discovery lists no instance of roll as up", patterns[p].name)
						return
					}
					cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
					_, err := rpc.Call(cctx, c, ep, &helloReq{Name: "x"}, opt)
					ccancel()
					calls[p].Add(1)
					if err != nil {
						fails[p].Add(1)
						mu.Lock()
						if len(firstFails) < 10 {
							firstFails = append(firstFails, fmt.Sprintf("%s: %v", patterns[p].name, err))
						}
						mu.Unlock()
					}
				}
			}()
		}

		// joined waits until discovery lists instance id as up.
		joined := func(id string) {
			t.Helper()
			timeout := time.After(10 * time.Second)
			for {
				if in, ok := reg.Instance(id); ok && in.Status == heartbeat.StatusUp {
					return
				}
				select {
				case <-events:
				case <-timeout:
					t.Fatalf("discovery does not list the new instance %s", id)
				}
			}
		}
		// calledSince waits until every pattern has made n calls since base.
		calledSince := func(base []int64, n int64) bool {
			timeout := time.After(time.Minute)
			tick := time.NewTicker(5 * time.Millisecond) // progress of the callers has no signal of its own
			defer tick.Stop()
			for {
				ok := true
				for p := range patterns {
					ok = ok && calls[p].Load()-base[p] >= n
				}
				if ok {
					return true
				}
				select {
				case <-tick.C:
				case <-timeout:
					t.Errorf("calls per pattern %v: fewer than %d more in a minute", counts(calls), n)
					return false
				}
			}
		}
		drains := 0
		for ; drains < rollDrains; drains++ {
			if !calledSince(counts(calls), rollCalls/rollDrains+1) {
				break
			}
			next := start() // start the new instance first
			joined(next.ID())
			live = append(live, next)
			old := live[0]
			live = live[1:]
			sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := old.Stop(sctx); err != nil {
				t.Errorf("drain %d: %v", drains, err)
			}
			scancel()
		}
		calledSince(counts(calls), 100) // calls after the last drain too
		close(stop)
		wg.Wait()
		t.Logf("%d drains; calls per pattern %v; failures %v", drains, counts(calls), counts(fails))
		for p := range patterns {
			if n := fails[p].Load(); n != 0 {
				t.Errorf("%s: %d of %d calls failed", patterns[p].name, n, calls[p].Load())
			}
			if n := calls[p].Load(); n < rollCalls {
				t.Errorf("%s: %d calls, want at least %d", patterns[p].name, n, rollCalls)
			}
		}
		for _, f := range firstFails {
			t.Log(f)
		}
	})
}

func counts(a []atomic.Int64) []int64 {
	out := make([]int64, len(a))
	for i := range a {
		out[i] = a[i].Load()
	}
	return out
}
