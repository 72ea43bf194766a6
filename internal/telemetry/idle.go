package telemetry

import (
	"context"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/dialtone-dev/dialtone"
)

// Idler is an interceptor that can tell, before a call, that it would do
// nothing for it but call next with the same ctx and req: Tracing while no
// span can be recorded and there is no trace context to carry, Metrics while
// its instrument is disabled, the service's Deadline for a request without a
// Dialtone-Timeout header. The event paths skip the idle ones (Split), which
// is most of the SDK's cost per event while no provider is installed.
type Idler interface {
	Idle(ctx context.Context, c Call) bool
}

// Call is what an Idler looks at: passed by value, so that asking costs no
// allocation (a *dialtone.Request passed to an interface method escapes).
type Call struct {
	Kind   dialtone.Kind
	Client bool
	Header nats.Header
}

// Split returns the interceptors of ix that are not Idlers, in order, and the
// Idlers: a chain of the first behaves as the chain of ix for a call every
// Idler says it is idle for (AllIdle).
func Split(ix []dialtone.Interceptor) (busy []dialtone.Interceptor, idlers []Idler) {
	for _, x := range ix {
		if i, ok := x.(Idler); ok {
			idlers = append(idlers, i)
		} else if x != nil {
			busy = append(busy, x)
		}
	}
	return busy, idlers
}

// AllIdle reports whether every one of idlers is idle for req.
func AllIdle(ctx context.Context, idlers []Idler, c Call) bool {
	for _, i := range idlers {
		if !i.Idle(ctx, c) {
			return false
		}
	}
	return true
}

// Idle: no span is started (nothing can record) and nothing is read or
// written. On the caller's side the trace context would be injected, so the
// tracer is idle only when its propagator is W3C trace context alone and ctx
// has no span context to inject; on the service's side, when there are no
// headers to read it from.
func (t *tracing) Idle(ctx context.Context, c Call) bool {
	if t.gate.Open() {
		return false
	}
	if c.Client {
		_, tc := t.prop.(propagation.TraceContext)
		return tc && !trace.SpanContextFromContext(ctx).IsValid()
	}
	return c.Header == nil
}

// Idle: the instrument of req's kind is disabled.
func (m *metrics) Idle(ctx context.Context, c Call) bool {
	if c.Kind == dialtone.KindEvent {
		return !m.events.Enabled(ctx)
	}
	return !m.hist.Enabled(ctx)
}
