package telemetry

import (
	"context"
	"testing"

	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/dialtone-dev/dialtone"
	"github.com/nats-io/nats.go"
)

// TestIdle checks when the standard interceptors may be skipped: only when
// they would do nothing for the call.
func TestIdle(t *testing.T) {
	ctx := context.Background()
	sdkTP := sdktrace.NewTracerProvider()
	defer sdkTP.Shutdown(ctx)
	withSpan, span := sdkTP.Tracer("t").Start(ctx, "parent")
	defer span.End()
	noopTP := noop.NewTracerProvider()
	composite := propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	pub := Call{Kind: dialtone.KindEvent, Client: true}
	sub := Call{Kind: dialtone.KindEvent}
	subHdr := Call{Kind: dialtone.KindEvent, Header: nats.Header{"Traceparent": {"x"}}}
	for _, c := range []struct {
		name string
		ix   Idler
		ctx  context.Context
		call Call
		want bool
	}{
		{"tracing: no-op provider, publish without a span", Tracing(noopTP, nil, "t").(Idler), ctx, pub, true},
		{"tracing: no-op provider, publish in a span: inject", Tracing(noopTP, nil, "t").(Idler), withSpan, pub, false},
		{"tracing: no-op provider, baggage propagator", Tracing(noopTP, composite, "t").(Idler), ctx, pub, false},
		{"tracing: SDK provider", Tracing(sdkTP, nil, "t").(Idler), ctx, pub, false},
		{"tracing: no-op provider, consume without headers", Tracing(noopTP, nil, "t").(Idler), ctx, sub, true},
		{"tracing: no-op provider, consume with headers: extract", Tracing(noopTP, nil, "t").(Idler), ctx, subHdr, false},
		{"tracing: SDK provider, consume", Tracing(sdkTP, nil, "t").(Idler), ctx, sub, false},
		{"metrics: no-op provider", Metrics(metricnoop.NewMeterProvider(), "t", false).(Idler), ctx, sub, true},
		{"metrics: SDK provider", Metrics(sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader())), "t", false).(Idler), ctx, sub, false},
	} {
		if got := c.ix.Idle(c.ctx, c.call); got != c.want {
			t.Errorf("%s: idle %v, want %v", c.name, got, c.want)
		}
	}
}
