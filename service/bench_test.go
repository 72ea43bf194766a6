package service_test

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dialtone-dev/dialtone/internal/bustest"
	"github.com/dialtone-dev/dialtone/service"
	"github.com/nats-io/nats.go"
)

// echoReq is helloReq without validation rules: the same work as the raw
// responder does (decode, answer, encode).
type echoReq struct {
	Name string `json:"name"`
}

// BenchmarkEndpointVsRaw compares an SDK endpoint (typed handler: decode, encode,
// span, concurrency limit, stats) with a raw nats.go queue responder doing the same
// JSON decode and encode, both on an in-process busd, client and responder on
// separate connections. "sdk-validated" adds a validate:"required" rule to the
// request, work the raw responder does not do.
// Sub-benchmarks: serial requests (latency; p50 reported) and parallel requests
// (throughput, req/s reported).
func BenchmarkEndpointVsRaw(b *testing.B) {
	url := bustest.Busd(b)
	payload := []byte(`{"name":"benchmark"}`)

	setups := []struct {
		name  string
		start func(b *testing.B, nc *nats.Conn) string
	}{
		{"raw", func(b *testing.B, nc *nats.Conn) string {
			// The same work a hand-written responder does: decode, answer, encode.
			_, err := nc.QueueSubscribe("raw.Echo", "raw", func(m *nats.Msg) {
				var r helloReq
				if err := json.Unmarshal(m.Data, &r); err != nil {
					b.Error(err)
					return
				}
				data, err := json.Marshal(&helloResp{Message: r.Name})
				if err != nil {
					b.Error(err)
					return
				}
				_ = m.Respond(data)
			})
			if err != nil {
				b.Fatal(err)
			}
			if err := nc.Flush(); err != nil {
				b.Fatal(err)
			}
			return "raw.Echo"
		}},
		{"sdk", func(b *testing.B, nc *nats.Conn) string { return benchService[echoReq](b, nc, "bench") }},
		{"sdk-validated", func(b *testing.B, nc *nats.Conn) string { return benchService[helloReq](b, nc, "benchv") }},
	}
	for _, st := range setups {
		b.Run(st.name+"/serial", func(b *testing.B) {
			srv := bustest.Connect(b, url)
			cli := bustest.Connect(b, url)
			subject := st.start(b, srv)
			lat := make([]time.Duration, 0, 1<<16)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				t0 := time.Now()
				if _, err := cli.Request(subject, payload, 5*time.Second); err != nil {
					b.Fatal(err)
				}
				if len(lat) < cap(lat) {
					lat = append(lat, time.Since(t0))
				}
			}
			b.StopTimer()
			slices.Sort(lat)
			if len(lat) > 0 {
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
			}
		})
		b.Run(st.name+"/parallel", func(b *testing.B) {
			srv := bustest.Connect(b, url)
			cli := bustest.Connect(b, url)
			subject := st.start(b, srv)
			var mu sync.Mutex
			var lat []time.Duration
			b.ReportAllocs()
			b.SetParallelism(8)
			start := time.Now()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				local := make([]time.Duration, 0, 4096)
				for pb.Next() {
					t0 := time.Now()
					if _, err := cli.Request(subject, payload, 5*time.Second); err != nil {
						b.Error(err)
						return
					}
					if len(local) < cap(local) {
						local = append(local, time.Since(t0))
					}
				}
				mu.Lock()
				lat = append(lat, local...)
				mu.Unlock()
			})
			b.StopTimer()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
			slices.Sort(lat)
			if len(lat) > 0 {
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			}
		})
	}
}

// BenchmarkEndpointVsRawPaired runs the raw responder and the SDK endpoint (the
// "sdk" case above) side by side on one busd and alternates between them, so that load from elsewhere on the
// machine hits both alike: serial alternates request by request and reports both
// p50s and their ratio; parallel switches all clients between the two every 20ms
// and reports both throughputs and their ratio.
func BenchmarkEndpointVsRawPaired(b *testing.B) {
	url := bustest.Busd(b)
	payload := []byte(`{"name":"benchmark"}`)
	srv := bustest.Connect(b, url)
	rawSrv := bustest.Connect(b, url)
	cli := bustest.Connect(b, url)
	_, err := rawSrv.QueueSubscribe("raw.Echo", "raw", func(m *nats.Msg) {
		var r helloReq
		if err := json.Unmarshal(m.Data, &r); err != nil {
			return
		}
		data, _ := json.Marshal(&helloResp{Message: r.Name})
		_ = m.Respond(data)
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := rawSrv.Flush(); err != nil {
		b.Fatal(err)
	}
	s, err := service.New(srv, service.Config{Name: "bench", Version: "1.0.0"})
	if err != nil {
		b.Fatal(err)
	}
	if err := service.Handle(s, "Echo", func(ctx context.Context, r *echoReq) (*helloResp, error) {
		return &helloResp{Message: r.Name}, nil
	}); err != nil {
		b.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Stop(context.Background()) })
	subjects := [2]string{"raw.Echo", "bench.Echo"}

	b.Run("serial", func(b *testing.B) {
		var lat [2][]time.Duration
		i := 0
		for b.Loop() {
			for k := range 2 {
				which := (i + k) % 2 // alternate who goes first
				t0 := time.Now()
				if _, err := cli.Request(subjects[which], payload, 5*time.Second); err != nil {
					b.Fatal(err)
				}
				if len(lat[which]) < 1<<16 {
					lat[which] = append(lat[which], time.Since(t0))
				}
			}
			i++
		}
		b.StopTimer()
		var p50 [2]float64
		for k := range 2 {
			slices.Sort(lat[k])
			if len(lat[k]) == 0 {
				return
			}
			p50[k] = float64(lat[k][len(lat[k])/2].Nanoseconds()) / 1e3
		}
		b.ReportMetric(p50[0], "raw-p50-µs")
		b.ReportMetric(p50[1], "sdk-p50-µs")
		b.ReportMetric(p50[1]/p50[0], "sdk/raw-p50")
	})

	b.Run("parallel", func(b *testing.B) {
		var phase atomic.Int32 // 0 raw, 1 sdk
		var count [2]atomic.Int64
		var spent [2]time.Duration
		stop := make(chan struct{})
		switched := make(chan struct{})
		go func() {
			defer close(switched)
			t := time.NewTicker(20 * time.Millisecond)
			defer t.Stop()
			last := time.Now()
			for {
				select {
				case <-stop:
					spent[phase.Load()] += time.Since(last)
					return
				case now := <-t.C:
					p := phase.Load()
					spent[p] += now.Sub(last)
					last = now
					phase.Store(1 - p)
				}
			}
		}()
		b.SetParallelism(8)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				p := phase.Load()
				if _, err := cli.Request(subjects[p], payload, 5*time.Second); err != nil {
					b.Error(err)
					return
				}
				if phase.Load() == p { // count only requests wholly inside one phase
					count[p].Add(1)
				}
			}
		})
		close(stop)
		<-switched
		if spent[0] > 0 && spent[1] > 0 {
			raw := float64(count[0].Load()) / spent[0].Seconds()
			sdk := float64(count[1].Load()) / spent[1].Seconds()
			b.ReportMetric(raw, "raw-req/s")
			b.ReportMetric(sdk, "sdk-req/s")
			b.ReportMetric(sdk/raw, "sdk/raw-req/s")
		}
	})
}

// benchService starts an SDK service named name whose Echo endpoint decodes a Req
// (helloReq carries a validate rule, echoReq none) and returns its subject.
func benchService[Req interface{ echoReq | helloReq }](b *testing.B, nc *nats.Conn, name string) string {
	s, err := service.New(nc, service.Config{Name: name, Version: "1.0.0"})
	if err != nil {
		b.Fatal(err)
	}
	if err := service.Handle(s, "Echo", func(ctx context.Context, r *Req) (*helloResp, error) {
		return &helloResp{Message: reqName(r)}, nil
	}); err != nil {
		b.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Stop(context.Background()) })
	return name + ".Echo"
}

func reqName[Req interface{ echoReq | helloReq }](r *Req) string {
	switch v := any(r).(type) {
	case *echoReq:
		return v.Name
	case *helloReq:
		return v.Name
	}
	return ""
}
