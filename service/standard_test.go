package service_test

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/dialtone-dev/dialtone"
	"github.com/dialtone-dev/dialtone/rpc"
	"github.com/dialtone-dev/dialtone/service"
)

type plainReq struct {
	Name string `json:"name"`
}

func answer(ctx context.Context, req dialtone.Request) (dialtone.Response, error) {
	return dialtone.Response{Data: req.Data}, nil
}

// The interceptors every client and every endpoint have by default allocate
// nothing per call while nothing records (no SDK installed), so a call without
// interceptors of the user's pays no allocation for them. (A request with a
// Dialtone-Timeout gets one, its deadline context.)
func TestStandardInterceptorsDoNotAllocate(t *testing.T) {
	ctx := context.Background()
	// Explicit no-op providers, not the global ones: another test of this
	// package installs a recording global TracerProvider, and under -count=2
	// it would run first.
	tp, mp := tracenoop.NewTracerProvider(), metricnoop.NewMeterProvider()
	srv := dialtone.Chain(answer, service.Deadline(), service.Tracing(tp, nil),
		service.Metrics(mp), service.Recover(nil), service.Validate())
	cli := dialtone.Chain(answer, rpc.Tracing(tp, nil), rpc.Metrics(mp))
	req := dialtone.Request{Spec: dialtone.Spec{Kind: dialtone.KindUnary, Service: "s", Name: "n", Subject: "s.n"},
		Pattern: dialtone.PatternBalanced, Header: nats.Header{}, Msg: &plainReq{Name: "x"}, Data: []byte(`{"name":"x"}`)}
	if a := testing.AllocsPerRun(1000, func() { _, _ = srv(ctx, req) }); a != 0 {
		t.Errorf("service's standard interceptors: %v allocations per request", a)
	}
	creq := req
	creq.Spec.IsClient = true
	if a := testing.AllocsPerRun(1000, func() { _, _ = cli(ctx, creq) }); a != 0 {
		t.Errorf("client's standard interceptors: %v allocations per call", a)
	}
}

// BenchmarkStandardInterceptors measures the standard interceptors of each end
// around a call that does nothing, with no SDK and with an OpenTelemetry SDK
// MeterProvider recording.
//
//	go test ./service -run '^$' -bench StandardInterceptors -benchmem
func BenchmarkStandardInterceptors(b *testing.B) {
	ctx := context.Background()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	req := dialtone.Request{Spec: dialtone.Spec{Kind: dialtone.KindUnary, Service: "s", Name: "n", Subject: "s.n"},
		Pattern: dialtone.PatternBalanced, Header: nats.Header{dialtone.HeaderTimeout: {"5000"}}, Msg: &helloReq{Name: "x"}, Data: []byte(`{"name":"x"}`)}
	for _, tc := range []struct {
		name string
		call dialtone.UnaryFunc
	}{
		{"none", answer},
		{"service", dialtone.Chain(answer, service.Deadline(), service.Tracing(otel.GetTracerProvider(), nil),
			service.Metrics(otel.GetMeterProvider()), service.Recover(nil), service.Validate())},
		{"service-metrics-sdk", dialtone.Chain(answer, service.Deadline(), service.Tracing(otel.GetTracerProvider(), nil),
			service.Metrics(mp), service.Recover(nil), service.Validate())},
		{"client", dialtone.Chain(answer, rpc.Tracing(otel.GetTracerProvider(), nil), rpc.Metrics(otel.GetMeterProvider()))},
		{"client-metrics-sdk", dialtone.Chain(answer, rpc.Tracing(otel.GetTracerProvider(), nil), rpc.Metrics(mp))},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = tc.call(ctx, req)
			}
		})
	}
}
