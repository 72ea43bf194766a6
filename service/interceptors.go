package service

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/dialtone-dev/dialtone"
	"github.com/dialtone-dev/dialtone/internal/telemetry"
)

// The service's own work around a handler is done by interceptors, the same kind
// a user installs with WithInterceptors, so that each can be moved, replaced or
// left out (WithOuterInterceptors, WithInnerInterceptors). Every endpoint has, in
// this order: Deadline, Tracing, Metrics, Recover, then the user's interceptors,
// then Validate. So does every consumer (package event), whose requests have
// Spec.Kind dialtone.KindEvent.

const instrumentationName = "github.com/dialtone-dev/dialtone/service"

// Deadline returns the interceptor that gives the handler's context the caller's
// deadline, read from the Dialtone-Timeout header. A request without the header
// runs under the service's context only. The context starts a timer only when
// something waits on its Done channel, so a handler that never does costs no
// timer.
func Deadline() dialtone.Interceptor { return deadline{} }

type deadline struct{}

func (deadline) WrapUnary(next dialtone.UnaryFunc) dialtone.UnaryFunc {
	return func(ctx context.Context, req dialtone.Request) (dialtone.Response, error) {
		if d, ok := dialtone.TimeoutFromHeader(req.Header); ok {
			var dc *deadlineCtx
			ctx, dc = withDeadline(ctx, d)
			defer dc.release()
		}
		return next(ctx, req)
	}
}

// Idle reports a request without a deadline, for which the interceptor does
// nothing (telemetry.Idler).
func (deadline) Idle(_ context.Context, c telemetry.Call) bool {
	_, ok := dialtone.TimeoutFromHeader(c.Header)
	return !ok
}

// Tracing returns the interceptor that reads the caller's trace context from the
// request headers with prop (W3C trace context when nil) and makes the request a
// span of kind server named <service>.<endpoint>, a child of the caller's span.
// While tp cannot record no span is started, and the handler's context still
// carries the caller's trace context. A failed request's span has status Error
// and the attribute dialtone.error_code.
func Tracing(tp trace.TracerProvider, prop propagation.TextMapPropagator) dialtone.Interceptor {
	return telemetry.Tracing(tp, prop, instrumentationName)
}

// Metrics returns the interceptor that records each request's duration, from the
// moment it has a slot to its reply, in the histogram rpc.server.call.duration
// (seconds) with the attributes rpc.system ("dialtone"), rpc.service, rpc.method,
// rpc.response.status_code (the code's name, "ok" on success) and
// dialtone.pattern (how the request arrived). The count of the histogram is the
// count of requests by outcome.
func Metrics(mp metric.MeterProvider) dialtone.Interceptor {
	return telemetry.Metrics(mp, instrumentationName, false)
}

// Recover returns the interceptor that turns a panic of what it wraps into the
// reply CodeInternal "internal error", logged at Error with the stack on logger
// (slog.Default() when nil), so the instance keeps serving. On an endpoint, the
// default one and one installed in any list (WithOuterInterceptors,
// WithInterceptors, a group's, an endpoint's, WithInnerInterceptors) also tell
// the service's error handler (WithErrorHandler) what panicked, once per panic.
// One Recover may be shared by several services: each tells its own.
func Recover(logger *slog.Logger) dialtone.Interceptor {
	if logger == nil {
		logger = slog.Default()
	}
	return &recoverer{logger: logger}
}

type recoverer struct {
	logger *slog.Logger
	report func(ctx context.Context, ev ErrorEvent) // the service's error handler; set by the service on its copy
}

// bindRecover makes every Recover in chain (an endpoint's interceptors, a list
// of its own) tell the service's error handler: each *recoverer without a
// report function is replaced by a copy with s's, so the user's value, which
// may serve other services too, is left as it was.
func (s *Service) bindRecover(chain []dialtone.Interceptor) {
	for i, ix := range chain {
		if r, ok := ix.(*recoverer); ok && r.report == nil {
			bound := *r
			bound.report = s.reportError
			chain[i] = &bound
		}
	}
}

func (r *recoverer) WrapUnary(next dialtone.UnaryFunc) dialtone.UnaryFunc {
	return func(ctx context.Context, req dialtone.Request) (resp dialtone.Response, err error) {
		defer func() {
			if p := recover(); p != nil {
				r.logger.Error("service: handler panic",
					"service", req.Spec.Service, "endpoint", req.Spec.Name, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				if req.Spec.Kind == dialtone.KindEvent {
					// No caller to keep the details from: the error says what
					// happened, and the consumer reports it like its other failures.
					resp, err = dialtone.Response{}, dialtone.NewError(dialtone.CodeInternal,
						&handlerPanic{service: req.Spec.Service, name: req.Spec.Name, value: p})
					return
				}
				if r.report != nil {
					r.report(ctx, ErrorEvent{Endpoint: req.Spec.Name, Subject: arrivalSubject(req),
						Err: dialtone.Errorf(dialtone.CodeInternal, "service %s: %s: handler panic: %v", req.Spec.Service, req.Spec.Name, p)})
				}
				resp, err = dialtone.Response{}, dialtone.Errorf(dialtone.CodeInternal, "internal error")
			}
		}()
		return next(ctx, req)
	}
}

// handlerPanic is the error of an event handler that panicked.
type handlerPanic struct {
	service, name string
	value         any
}

func (h *handlerPanic) Error() string {
	return fmt.Sprintf("service %s: %s: handler panic: %v", h.service, h.name, h.value)
}

// Validate returns the interceptor that checks a typed request against its
// `validate` tags (dialtone.Validate): a failure answers CodeInvalidArgument with
// the fields in the details, and the handler does not run. Raw endpoints have no
// typed request and pass unchecked. It is the default inner interceptor, so it
// runs after the interceptors that may refuse a request.
func Validate() dialtone.Interceptor {
	return dialtone.UnaryInterceptorFunc(func(next dialtone.UnaryFunc) dialtone.UnaryFunc {
		return func(ctx context.Context, req dialtone.Request) (dialtone.Response, error) {
			if req.Msg != nil {
				if err := dialtone.Validate(req.Msg); err != nil {
					if req.Spec.Kind == dialtone.KindEvent {
						err = invalidEvent(req.Spec.Name, err)
					}
					return dialtone.Response{}, err
				}
			}
			return next(ctx, req)
		}
	})
}

// invalidEvent words a validation failure for an event: "event OrderPlaced:
// invalid request: id (required)" becomes "event OrderPlaced is invalid: id
// (required)", with the same details.
func invalidEvent(name string, err error) error {
	de, ok := err.(*dialtone.Error)
	if !ok {
		return err
	}
	msg := strings.TrimPrefix(de.Message(), "invalid request: ")
	out := dialtone.Errorf(dialtone.CodeInvalidArgument, "event %s is invalid: %s", name, msg)
	for k, v := range de.Details() {
		out = out.WithDetail(k, v)
	}
	return out
}
