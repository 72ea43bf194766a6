package service_test

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/dialtone-dev/dialtone/internal/bustest"
	"github.com/dialtone-dev/dialtone/service"
	"github.com/nats-io/nats.go"
)

// BenchmarkEndpointVsRaw compares an SDK endpoint (typed handler: decode, validate,
// encode, span, concurrency limit, stats) with a raw nats.go queue responder doing
// the same JSON decode and encode, both on an in-process busd, client and
// responder on separate connections.
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
		{"sdk", func(b *testing.B, nc *nats.Conn) string {
			s, err := service.New(nc, service.Config{Name: "bench", Version: "1.0.0"})
			if err != nil {
				b.Fatal(err)
			}
			if err := service.Handle(s, "Echo", func(ctx context.Context, r *helloReq) (*helloResp, error) {
				return &helloResp{Message: r.Name}, nil
			}); err != nil {
				b.Fatal(err)
			}
			if err := s.Start(context.Background()); err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = s.Stop(context.Background()) })
			return "bench.Echo"
		}},
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
