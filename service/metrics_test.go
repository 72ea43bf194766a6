package service_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/micro"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/dialtone-dev/dialtone/rpc"
	"github.com/dialtone-dev/dialtone/service"
)

// collectMetrics reads everything reader has, as a map from metric name to its data.
func collectMetrics(t *testing.T, reader *sdkmetric.ManualReader) map[string]metricdata.Aggregation {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]metricdata.Aggregation{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			out[m.Name] = m.Data
		}
	}
	return out
}

// histCount returns the count and the bucket counts of the data point of h whose
// attributes include want.
func histCount(t *testing.T, data metricdata.Aggregation, want ...attribute.KeyValue) (uint64, []uint64) {
	t.Helper()
	h, ok := data.(metricdata.Histogram[float64])
	if !ok {
		t.Fatalf("not a float64 histogram: %T", data)
	}
	for _, dp := range h.DataPoints {
		match := true
		for _, kv := range want {
			if v, ok := dp.Attributes.Value(kv.Key); !ok || v != kv.Value {
				match = false
			}
		}
		if match {
			return dp.Count, dp.BucketCounts
		}
	}
	return 0, nil
}

func gauge(t *testing.T, data metricdata.Aggregation) int64 {
	t.Helper()
	g, ok := data.(metricdata.Gauge[int64])
	if !ok || len(g.DataPoints) != 1 {
		t.Fatalf("gauge %#v", data)
	}
	return g.DataPoints[0].Value
}

// Per endpoint on both ends: a duration histogram whose counts by status are the
// calls made; per instance: in flight, queued, capacity and draining.
func TestMetrics(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		srvReader, cliReader := sdkmetric.NewManualReader(), sdkmetric.NewManualReader()
		srvMP := sdkmetric.NewMeterProvider(sdkmetric.WithReader(srvReader))
		cliMP := sdkmetric.NewMeterProvider(sdkmetric.WithReader(cliReader))
		release := make(chan struct{})
		started := make(chan struct{}, 8)
		s := e.start(service.Config{Name: "greeter", Version: "1.2.3"}, func(s *service.Service) {
			_ = service.Handle(s, "SayHello", greeter)
			_ = service.Handle(s, "Slow", func(ctx context.Context, r *helloReq) (*helloResp, error) {
				started <- struct{}{}
				<-release
				return &helloResp{}, nil
			})
		}, service.WithMeterProvider(srvMP), service.WithMaxConcurrent(1))
		c := rpc.NewClient(e.Client, rpc.WithMeterProvider(cliMP))
		ctx := context.Background()
		for _, name := range []string{"a", "b", "c", "missing"} {
			_, _ = rpc.Call(ctx, c, sayHello, &helloReq{Name: name})
		}
		_, _ = rpc.Call(ctx, c, sayHello, &helloReq{Name: "d"}, rpc.LowestLatency())

		base := []attribute.KeyValue{attribute.String("rpc.system", "dialtone"), attribute.String("rpc.service", "greeter"),
			attribute.String("rpc.method", "SayHello")}
		status := func(code string, pattern string) []attribute.KeyValue {
			return append(base[:3:3], attribute.String("rpc.response.status_code", code), attribute.String("dialtone.pattern", pattern))
		}
		for side, m := range map[string]map[string]metricdata.Aggregation{
			"rpc.server.call.duration": collectMetrics(t, srvReader), "rpc.client.call.duration": collectMetrics(t, cliReader),
		} {
			for _, tc := range []struct {
				code, pattern string
				want          uint64
			}{{"ok", "balanced", 3}, {"not_found", "balanced", 1}, {"ok", "lowest_latency", 1}, {"invalid_argument", "balanced", 0}} {
				n, buckets := histCount(t, m[side], status(tc.code, tc.pattern)...)
				if n != tc.want {
					t.Errorf("%s{%s, %s} count = %d, want %d", side, tc.code, tc.pattern, n, tc.want)
				}
				var sum uint64
				for _, b := range buckets {
					sum += b
				}
				if sum != n {
					t.Errorf("%s{%s}: buckets %v do not add up to %d", side, tc.code, buckets, n)
				}
			}
		}

		// Instance gauges: one handler blocks the only slot, two more requests wait.
		for range 3 {
			go func() { _, _ = rpc.Call(ctx, c, slow, &helloReq{Name: "x"}) }()
		}
		<-started
		m := collectMetrics(t, srvReader)
		deadline := time.Now().Add(5 * time.Second)
		for gauge(t, m["dialtone.service.queued"]) != 2 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond) // the two requests are on their way through the bus
			m = collectMetrics(t, srvReader)
		}
		if q, f, cp, d := gauge(t, m["dialtone.service.queued"]), gauge(t, m["dialtone.service.in_flight"]),
			gauge(t, m["dialtone.service.capacity"]), gauge(t, m["dialtone.service.draining"]); q != 2 || f != 1 || cp != 1 || d != 0 {
			t.Fatalf("queued %d, in flight %d, capacity %d, draining %d; want 2, 1, 1, 0", q, f, cp, d)
		}
		g := m["dialtone.service.capacity"].(metricdata.Gauge[int64]).DataPoints[0].Attributes
		if v, _ := g.Value("dialtone.instance"); v.AsString() != s.ID() {
			t.Fatalf("gauge attributes %v", g.ToSlice())
		}
		// Draining while Stop waits for the handlers.
		stopped := make(chan error, 1)
		go func() { stopped <- s.Stop(context.Background()) }()
		for gauge(t, collectMetrics(t, srvReader)["dialtone.service.draining"]) != 1 {
			if time.Now().After(deadline) {
				t.Fatal("draining never reported")
			}
			time.Sleep(5 * time.Millisecond) // Stop is on its way to draining
		}
		close(release)
		if err := <-stopped; err != nil {
			t.Fatal(err)
		}
		if _, ok := collectMetrics(t, srvReader)["dialtone.service.draining"]; ok {
			t.Fatal("a stopped instance still reports its gauges")
		}
	})
}

var slow = rpc.NewEndpoint[helloReq, helloResp](rpc.Spec{Service: "greeter", Name: "Slow"})

// $SRV.STATS carries each endpoint's latency percentiles in its data field, as
// nats.go's micro types read it.
func TestStatsPercentiles(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		e.start(service.Config{Name: "lat", Version: "1.0.0"}, func(s *service.Service) {
			_ = service.Handle(s, "Work", func(ctx context.Context, r *helloReq) (*helloResp, error) {
				if r.Name == "slow" {
					time.Sleep(30 * time.Millisecond) // the work of a slow request, not synchronisation
				}
				return &helloResp{}, nil
			})
		})
		// 17 fast requests and 3 slow: p50 is fast, p90 (rank 18 of 20) and p99 slow.
		var wg sync.WaitGroup
		for i := range 20 {
			name := "fast"
			if i%6 == 5 {
				name = "slow"
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				call(t, e.Client, "lat.Work", helloReq{Name: name}, nil)
			}()
		}
		wg.Wait()
		m, err := e.Client.Request("$SRV.STATS.lat", nil, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var stats micro.Stats
		if err := json.Unmarshal(m.Data, &stats); err != nil || len(stats.Endpoints) != 1 {
			t.Fatalf("stats %s: %v", m.Data, err)
		}
		var data service.EndpointData
		if err := json.Unmarshal(stats.Endpoints[0].Data, &data); err != nil {
			t.Fatalf("data %s: %v", stats.Endpoints[0].Data, err)
		}
		l := data.Latency
		if l.Samples != 20 || l.Window != service.LatencyWindow || l.P50 <= 0 || l.P50 >= 10*time.Millisecond ||
			l.P90 < 30*time.Millisecond || l.P99 < l.P90 {
			t.Fatalf("latency %+v", l)
		}
	})
}
