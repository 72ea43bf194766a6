// Package telemetry is the OpenTelemetry side of a call, shared by the rpc client
// and the service: the tracing and metrics interceptors both install by default.
// One implementation serves both ends; Spec.IsClient picks the span kind, the
// metric name and whether the trace context is injected or extracted.
//
// Both depend on the OpenTelemetry API only. While nothing can record (a no-op
// provider, or the global one before an SDK is installed) they cost a check per
// call and no allocation.
package telemetry

import (
	"context"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/dialtone-dev/dialtone"
	"github.com/dialtone-dev/dialtone/internal/tracegate"
	"github.com/dialtone-dev/dialtone/internal/wire"
)

// Attribute keys, after OpenTelemetry's RPC semantic conventions where they fit.
const (
	AttrSystem   = "rpc.system"               // always "dialtone"
	AttrService  = "rpc.service"              // service name
	AttrMethod   = "rpc.method"               // endpoint name
	AttrStatus   = "rpc.response.status_code" // the code's name: "ok", "not_found", ...
	AttrPattern  = "dialtone.pattern"         // balanced, lowest_latency, available, direct
	AttrInstance = "dialtone.instance"        // the serving instance's ID
	System       = "dialtone"
)

// tracing is the Tracing interceptor.
type tracing struct {
	tracer trace.Tracer
	gate   tracegate.Gate
	prop   propagation.TextMapPropagator
	nc     *nats.Conn // events: the connection, for server.address (WithConn); may be nil
}

// Tracing returns the interceptor that makes each call a span named
// <service>.<endpoint>: of kind client on the caller's side, where it also writes
// the trace context into the request headers (even while no span is recorded, so
// the caller's own trace travels), and of kind server on the service's side, where
// it reads the caller's trace context from them first. scope names the tracer.
func Tracing(tp trace.TracerProvider, prop propagation.TextMapPropagator, scope string) dialtone.Interceptor {
	if prop == nil {
		prop = propagation.TraceContext{}
	}
	return &tracing{tracer: tp.Tracer(scope), gate: tracegate.New(tp), prop: prop}
}

var (
	clientSpan = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient)}
	serverSpan = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer)}
)

func (t *tracing) WrapUnary(next dialtone.UnaryFunc) dialtone.UnaryFunc {
	return func(ctx context.Context, req dialtone.Request) (dialtone.Response, error) {
		if req.Spec.Kind == dialtone.KindEvent {
			return t.event(ctx, req, next)
		}
		client := req.Spec.IsClient
		if !client && req.Header != nil {
			ctx = t.prop.Extract(ctx, dialtone.HeaderCarrier(req.Header))
		}
		if !t.gate.Open() {
			if client && req.Header != nil {
				t.prop.Inject(ctx, dialtone.HeaderCarrier(req.Header))
			}
			return next(ctx, req)
		}
		opts := serverSpan
		if client {
			opts = clientSpan
		}
		ctx, span := t.tracer.Start(ctx, req.Spec.Service+"."+req.Spec.Name, opts...)
		defer span.End()
		if span.IsRecording() {
			span.SetAttributes(
				attribute.String(AttrSystem, System),
				attribute.String(AttrService, req.Spec.Service),
				attribute.String(AttrMethod, req.Spec.Name),
				attribute.String(AttrPattern, req.Pattern.String()),
			)
			if client {
				span.SetAttributes(attribute.String("messaging.system", "nats"))
			} else {
				span.SetAttributes(attribute.String(AttrInstance, req.Instance))
			}
		}
		if client && req.Header != nil {
			t.prop.Inject(ctx, dialtone.HeaderCarrier(req.Header))
		}
		resp, err := next(ctx, req)
		if err != nil {
			span.SetStatus(codes.Error, err.Error())
			span.SetAttributes(attribute.String(wire.AttrErrorCode, dialtone.CodeOf(err).String()))
		}
		return resp, err
	}
}
