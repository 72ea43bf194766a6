package rpc_test

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/dialtone-dev/dialtone/internal/bustest"
	"github.com/dialtone-dev/dialtone/internal/callbench"
	"github.com/dialtone-dev/dialtone/rpc"
	"github.com/dialtone-dev/dialtone/service"
)

// The benchmarks run on an in-process busd. Each reports latency percentiles of the
// calls it made (p50-µs, p99-µs) next to ns/op; the -parallel variants report
// throughput (calls/s) with GOMAXPROCS*4 concurrent callers.
//
//	go test -run '^$' -bench . -benchtime 20000x ./rpc

var (
	benchReq     = helloReq{Name: "Ada Lovelace", Age: 36}
	benchReqData = mustJSON(benchReq)
	benchResp    = mustJSON(helloResp{Greeting: "hello Ada Lovelace", From: "bench"})
)

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// latencies collects per-call durations from any number of goroutines.
type latencies struct {
	mu  sync.Mutex
	all []time.Duration
}

func (l *latencies) add(d []time.Duration) {
	l.mu.Lock()
	l.all = append(l.all, d...)
	l.mu.Unlock()
}

// percentiles returns p50 and p99 in microseconds.
func (l *latencies) percentiles() (p50, p99 float64) {
	if len(l.all) == 0 {
		return 0, 0
	}
	slices.Sort(l.all)
	pct := func(p float64) float64 {
		return float64(l.all[int(p*float64(len(l.all)-1))].Nanoseconds()) / 1e3
	}
	return pct(0.50), pct(0.99)
}

func (l *latencies) report(b *testing.B) {
	if len(l.all) == 0 {
		return
	}
	p50, p99 := l.percentiles()
	b.ReportMetric(p50, "p50-µs")
	b.ReportMetric(p99, "p99-µs")
}

// benchResponder answers every request on subject (queue group q) with benchResp,
// on its own connection, as a minimal instance would.
func benchResponder(b *testing.B, url, subject, queue string, delay time.Duration) {
	b.Helper()
	nc := bustest.Connect(b, url)
	reply := func(m *nats.Msg) { _ = m.Respond(benchResp) }
	h := reply
	if delay > 0 {
		h = func(m *nats.Msg) {
			go func() {
				time.Sleep(delay) // the workload of a slow instance, not synchronisation
				reply(m)
			}()
		}
	}
	var err error
	if queue != "" {
		_, err = nc.QueueSubscribe(subject, queue, h)
	} else {
		_, err = nc.Subscribe(subject, h)
	}
	if err != nil {
		b.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		b.Fatal(err)
	}
}

// run calls call b.N times, serially or from parallel callers, and reports
// latency percentiles and, for parallel runs, throughput.
func run(b *testing.B, parallel bool, call func() error) {
	b.Helper()
	for i := 0; i < 100; i++ { // warm up connections, the response mux, caches
		if err := call(); err != nil {
			b.Fatal(err)
		}
	}
	var lat latencies
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	if parallel {
		b.SetParallelism(4)
		b.RunParallel(func(pb *testing.PB) {
			var mine []time.Duration
			for pb.Next() {
				t0 := time.Now()
				if err := call(); err != nil {
					b.Error(err)
					return
				}
				mine = append(mine, time.Since(t0))
			}
			lat.add(mine)
		})
	} else {
		mine := make([]time.Duration, 0, b.N)
		for i := 0; i < b.N; i++ {
			t0 := time.Now()
			if err := call(); err != nil {
				b.Fatal(err)
			}
			mine = append(mine, time.Since(t0))
		}
		lat.add(mine)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	lat.report(b)
	if parallel {
		b.ReportMetric(float64(b.N)/elapsed.Seconds(), "calls/s")
	}
}

// BenchmarkBalanced compares a typed balanced call with a raw nats.go Request
// carrying the same payload to the same responder.
func BenchmarkBalanced(b *testing.B) {
	url := bustest.Busd(b)
	benchResponder(b, url, "greeter.SayHello", "greeter", 0)
	nc := bustest.Connect(b, url)
	c := rpc.NewClient(nc)
	ctx := context.Background()

	raw := func() error {
		_, err := nc.Request("greeter.SayHello", benchReqData, 5*time.Second)
		return err
	}
	typed := func() error {
		_, err := rpc.Call(ctx, c, sayHello, &benchReq)
		return err
	}
	rawHdr := func() error {
		m := &nats.Msg{Subject: "greeter.SayHello", Data: benchReqData, Header: nats.Header{"Dialtone-Timeout": {"5000"}}}
		_, err := nc.RequestMsg(m, 5*time.Second)
		return err
	}
	b.Run("raw", func(b *testing.B) { run(b, false, raw) })
	b.Run("raw-header", func(b *testing.B) { run(b, false, rawHdr) })
	b.Run("typed", func(b *testing.B) { run(b, false, typed) })
	// On a shared machine the load drifts between sub-benchmarks; alternating the
	// kinds of call in one loop compares them under the same conditions. CallRaw
	// (same bytes, no codec, no validation) separates what the call path costs from
	// what encoding, decoding and validating cost.
	callRaw := func() error {
		_, err := c.CallRaw(ctx, sayHello.Spec(), benchReqData, nil)
		return err
	}
	// What a nats.go user writes by hand for the same exchange: encoding/json both
	// ways around a Request. The gap between it and typed is what the SDK itself
	// adds (validation, the timeout header, the call's bookkeeping).
	natsJSON := func() error {
		data, err := json.Marshal(&benchReq)
		if err != nil {
			return err
		}
		m, err := nc.Request("greeter.SayHello", data, 5*time.Second)
		if err != nil {
			return err
		}
		var resp helloResp
		return json.Unmarshal(m.Data, &resp)
	}
	b.Run("interleaved", func(b *testing.B) {
		kinds := []struct {
			name string
			call func() error
			lat  latencies
		}{
			{name: "raw", call: raw}, {name: "raw-header", call: rawHdr}, {name: "nats-json", call: natsJSON},
			{name: "callraw", call: callRaw}, {name: "typed", call: typed},
		}
		order := make([]int, len(kinds))
		for i := range kinds {
			order[i] = i
			kinds[i].lat.all = make([]time.Duration, 0, b.N)
			for j := 0; j < 100; j++ {
				if err := kinds[i].call(); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			// A fresh order each round: no kind always follows the same other kind.
			rand.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
			for _, k := range order {
				t0 := time.Now()
				if err := kinds[k].call(); err != nil {
					b.Fatal(err)
				}
				kinds[k].lat.all = append(kinds[k].lat.all, time.Since(t0))
			}
		}
		b.StopTimer()
		rawP50, _ := kinds[0].lat.percentiles()
		for k := range kinds {
			p50, p99 := kinds[k].lat.percentiles()
			if k > 0 {
				b.ReportMetric(p50/rawP50, kinds[k].name+"/raw-p50")
			}
			b.ReportMetric(p50, kinds[k].name+"-p50-µs")
			b.ReportMetric(p99, kinds[k].name+"-p99-µs")
		}
	})
	// Throughput the same way: rounds of parallel raw calls and parallel typed calls
	// alternate, so both see the same share of a shared machine.
	b.Run("parallel-interleaved", func(b *testing.B) {
		const workers, rounds = 8, 10
		burst := func(n int, call func() error) time.Duration {
			var wg sync.WaitGroup
			start := time.Now()
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < n/workers; i++ {
						if err := call(); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			return time.Since(start)
		}
		per := b.N / rounds
		if per < workers {
			per = workers
		}
		kinds := []struct {
			name string
			call func() error
			took time.Duration
		}{
			{name: "raw", call: raw}, {name: "raw-header", call: rawHdr}, {name: "nats-json", call: natsJSON},
			{name: "callraw", call: callRaw}, {name: "typed", call: typed},
		}
		for _, k := range kinds {
			burst(800, k.call)
		}
		b.ResetTimer()
		for r := 0; r < rounds; r++ {
			for k := range kinds {
				kinds[k].took += burst(per, kinds[k].call)
			}
		}
		b.StopTimer()
		calls := float64(per / workers * workers * rounds)
		for _, k := range kinds {
			b.ReportMetric(calls/k.took.Seconds(), k.name+"-calls/s")
			if k.name != "raw" {
				b.ReportMetric(kinds[0].took.Seconds()/k.took.Seconds(), k.name+"/raw-throughput")
			}
		}
	})
	b.Run("raw-parallel", func(b *testing.B) { run(b, true, raw) })
	b.Run("raw-header-parallel", func(b *testing.B) { run(b, true, rawHdr) })
	b.Run("callraw-parallel", func(b *testing.B) { run(b, true, callRaw) })
	b.Run("typed-parallel", func(b *testing.B) { run(b, true, typed) })
}

// BenchmarkLowestLatency runs three instances, one of them 10ms slower than the
// others, and compares the tail latency of balanced and lowest-latency calls.
func BenchmarkLowestLatency(b *testing.B) {
	url := bustest.Busd(b)
	for _, delay := range []time.Duration{0, 0, 10 * time.Millisecond} {
		benchResponder(b, url, "greeter.SayHello", "greeter", delay)
		benchResponder(b, url, "_DT.greeter.all.greeter.SayHello", "", delay)
	}
	nc := bustest.Connect(b, url)
	c := rpc.NewClient(nc)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		opt  rpc.CallOption
	}{{"balanced", rpc.Balanced()}, {"lowest-latency", rpc.LowestLatency()}} {
		b.Run(tc.name, func(b *testing.B) {
			run(b, false, func() error {
				_, err := rpc.Call(ctx, c, sayHello, &benchReq, tc.opt)
				return err
			})
		})
	}
}

// BenchmarkAvailable measures what the availability probe adds to a call, against
// a real service instance.
func BenchmarkAvailable(b *testing.B) {
	url := bustest.Busd(b)
	snc := bustest.Connect(b, url)
	svc, err := service.New(snc, service.Config{Name: "greeter", Version: "1.0.0"})
	if err != nil {
		b.Fatal(err)
	}
	if err := service.Handle(svc, "SayHello", func(ctx context.Context, req *helloReq) (*helloResp, error) {
		return &helloResp{Greeting: "hello " + req.Name, From: "bench"}, nil
	}); err != nil {
		b.Fatal(err)
	}
	if err := svc.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = svc.Stop(context.Background()) })
	nc := bustest.Connect(b, url)
	c := rpc.NewClient(nc)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		opt  rpc.CallOption
	}{{"balanced", rpc.Balanced()}, {"available", rpc.Available()}, {"direct", rpc.Direct(svc.ID())}} {
		b.Run(tc.name, func(b *testing.B) {
			run(b, false, func() error {
				_, err := rpc.Call(ctx, c, sayHello, &benchReq, tc.opt)
				return err
			})
		})
	}
}

// BenchmarkCallCost is the comparison in one process, on an in-process
// busd: a typed call to a typed service, with default settings, against a raw
// nats.go request to a responder that answers fixed bytes and against a
// hand-written nats.go + encoding/json caller and responder (package callbench).
// The cross-process run, pinned like busbench, is cmd/callbench.
//
//	go test ./rpc -run '^$' -bench CallCost -benchtime 20000x
func BenchmarkCallCost(b *testing.B) {
	url := bustest.Busd(b)
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	stop, err := callbench.Serve(func() (*nats.Conn, error) { return nats.Connect(url) }, mp)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(stop)
	nc := bustest.Connect(b, url)
	kinds := callbench.Kinds(nc, mp)
	for _, k := range append(kinds, callbench.DetailKinds(nc)...) {
		b.Run(k.Name, func(b *testing.B) { run(b, false, k.Call) })
		b.Run(k.Name+"-parallel", func(b *testing.B) { run(b, true, k.Call) })
	}
	b.Run("interleaved", func(b *testing.B) {
		lat, err := callbench.Interleaved(kinds, b.N, 200)
		if err != nil {
			b.Fatal(err)
		}
		for _, l := range lat {
			b.ReportMetric(float64(l.P50)/float64(lat[0].P50), l.Name+"/raw-p50")
		}
		b.ReportMetric(float64(lat[2].P50)/float64(lat[1].P50), "typed/json-p50")
	})
	b.Run("throughput", func(b *testing.B) {
		tput, err := callbench.Throughput(kinds, 8, 10, max(b.N/10, 80))
		if err != nil {
			b.Fatal(err)
		}
		for i, k := range kinds {
			b.ReportMetric(tput[i]/tput[0], k.Name+"/raw-tput")
		}
	})
}
