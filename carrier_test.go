package dialtone_test

import (
	"context"
	"testing"

	"github.com/dialtone-dev/dialtone"
	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

func TestHeaderCarrierPropagatesTraceContext(t *testing.T) {
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled, Remote: true})
	ctx := trace.ContextWithSpanContext(context.Background(), sc)

	prop := propagation.TraceContext{}
	h := nats.Header{}
	prop.Inject(ctx, dialtone.HeaderCarrier(h))
	if got := h.Get("traceparent"); got != "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" {
		t.Fatalf("traceparent = %q", got)
	}
	out := trace.SpanContextFromContext(prop.Extract(context.Background(), dialtone.HeaderCarrier(h)))
	if out.TraceID() != tid || out.SpanID() != sid || !out.IsRemote() {
		t.Fatalf("extracted %v", out)
	}

	// A header written by another client with different case is still found.
	h2 := nats.Header{"Traceparent": {h.Get("traceparent")}}
	if got := dialtone.HeaderCarrier(h2).Get("traceparent"); got == "" {
		t.Fatal("case-insensitive fallback failed")
	}
	if keys := dialtone.HeaderCarrier(h).Keys(); len(keys) != 1 || keys[0] != "traceparent" {
		t.Fatalf("Keys = %v", keys)
	}
}
