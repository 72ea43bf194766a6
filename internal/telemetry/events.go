package telemetry

import (
	"context"
	"net/url"
	"strconv"

	"github.com/nats-io/nats.go"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/dialtone-dev/dialtone"
	"github.com/dialtone-dev/dialtone/internal/wire"
)

// Events (Spec.Kind == dialtone.KindEvent) follow OpenTelemetry's messaging
// conventions rather than the RPC ones: the publisher's span is a producer span
// "send <subject>", the consumer's a consumer span "process <subject>" (the
// subject subscribed to), a child of the producer's and linked to it, and the
// durations go to the messaging histograms.
const (
	AttrMessagingSystem = "messaging.system"               // "nats"
	AttrOperationType   = "messaging.operation.type"       // "send" or "process"
	AttrOperationName   = "messaging.operation.name"       // "send" or "process"
	AttrDestination     = "messaging.destination.name"     // the event's subject (on a metric, the subscription's)
	AttrTemplate        = "messaging.destination.template" // a wildcard subscription's subject, on its spans
	AttrEvent           = "dialtone.event"                 // the event's (the consumer's) name
	AttrEventService    = "dialtone.service"               // the publishing or consuming service, if any
	AttrConsumerGroup   = "messaging.consumer.group.name"  // a consumer's queue group; absent for broadcast
	AttrErrorType       = "error.type"                     // a failure's code name ("invalid_argument"); absent on success
	AttrServerAddress   = "server.address"                 // the host of the server the connection uses
	AttrServerPort      = "server.port"                    // and its port
	MessagingSystem     = "nats"

	// ProducerDuration is the time a publish took: encoding, interceptors and
	// handing the event to the connection (seconds).
	ProducerDuration = "messaging.client.operation.duration"
	// ConsumerDuration is the time a consumer took to handle an event, from the
	// moment it had a slot (seconds).
	ConsumerDuration = "messaging.process.duration"
)

var (
	producerSpan = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindProducer)}
	consumerSpan = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindConsumer)}
)

// subjectKey carries the subject an event of a wildcard subscription was
// published on, from the consumer to its handler past the interceptors.
type subjectKey struct{}

// ContextWithSubject returns ctx carrying subject, the subject an event of a
// wildcard subscription arrived on.
func ContextWithSubject(ctx context.Context, subject string) context.Context {
	return context.WithValue(ctx, subjectKey{}, subject)
}

// SubjectFromContext returns the subject ContextWithSubject put in ctx.
func SubjectFromContext(ctx context.Context) (string, bool) {
	s, ok := ctx.Value(subjectKey{}).(string)
	return s, ok
}

// ConnBinder is an interceptor that can say more about an event when it knows
// the connection the event travels on: Tracing names the server in its spans
// (server.address, server.port). A consumer's chain and a Publisher's are built
// with the interceptors bound to their connection (BindConn).
type ConnBinder interface {
	WithConn(nc *nats.Conn) dialtone.Interceptor
}

// WithConn returns a copy of t whose event spans name nc's server.
func (t *tracing) WithConn(nc *nats.Conn) dialtone.Interceptor {
	c := *t
	c.nc = nc
	return &c
}

// BindConn returns ix with every ConnBinder among them bound to nc; ix itself
// is not modified.
func BindConn(ix []dialtone.Interceptor, nc *nats.Conn) []dialtone.Interceptor {
	out := make([]dialtone.Interceptor, len(ix))
	for i, x := range ix {
		if b, ok := x.(ConnBinder); ok && nc != nil {
			x = b.WithConn(nc)
		}
		out[i] = x
	}
	return out
}

// serverAttributes are server.address and server.port of the server nc is
// connected to, as its URL names it (a host name is not looked up); none while
// it is not connected. Asked only for a recording span: it parses the URL.
func serverAttributes(nc *nats.Conn) []attribute.KeyValue {
	if nc == nil {
		return nil
	}
	u, err := url.Parse(nc.ConnectedUrlRedacted())
	if err != nil || u.Hostname() == "" {
		return nil
	}
	kv := []attribute.KeyValue{attribute.String(AttrServerAddress, u.Hostname())}
	if p, err := strconv.Atoi(u.Port()); err == nil {
		kv = append(kv, attribute.Int(AttrServerPort, p))
	}
	return kv
}

// event is the Tracing interceptor for an event: on the publisher's side it
// starts a producer span and writes the trace context into the event's headers
// (even while nothing records, so the caller's own trace travels); on the
// consumer's it reads the trace context and starts a consumer span that is its
// child and links to it.
func (t *tracing) event(ctx context.Context, req dialtone.Request, next dialtone.UnaryFunc) (dialtone.Response, error) {
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
	var span trace.Span
	op := "process"
	if client {
		op = "send"
		ctx, span = t.tracer.Start(ctx, wire.SendSpanName(req.Spec.Subject), producerSpan...)
	} else {
		opts := consumerSpan
		if link := trace.LinkFromContext(ctx); link.SpanContext.IsValid() {
			opts = append(opts[:len(opts):len(opts)], trace.WithLinks(link))
		}
		ctx, span = t.tracer.Start(ctx, wire.ProcessSpanName(req.Spec.Subject), opts...)
	}
	defer span.End()
	if span.IsRecording() {
		dest := req.Spec.Subject
		if subject, ok := SubjectFromContext(ctx); ok && !client {
			// A wildcard subscription: the subject it matched names the event, the
			// subscription's (the span's name) is the template.
			dest = subject
			span.SetAttributes(attribute.String(AttrTemplate, req.Spec.Subject))
		}
		span.SetAttributes(
			attribute.String(AttrMessagingSystem, MessagingSystem),
			attribute.String(AttrOperationType, op),
			attribute.String(AttrOperationName, op),
			attribute.String(AttrDestination, dest),
			attribute.String(AttrEvent, req.Spec.Name),
		)
		if req.Spec.Service != "" {
			span.SetAttributes(attribute.String(AttrEventService, req.Spec.Service))
		}
		if !client {
			span.SetAttributes(attribute.String(AttrInstance, req.Instance))
			if req.Spec.QueueGroup != "" {
				span.SetAttributes(attribute.String(AttrConsumerGroup, req.Spec.QueueGroup))
			}
		}
		span.SetAttributes(serverAttributes(t.nc)...)
	}
	if client && req.Header != nil {
		t.prop.Inject(ctx, dialtone.HeaderCarrier(req.Header))
	}
	resp, err := next(ctx, req)
	if err != nil {
		code := dialtone.CodeOf(err).String()
		span.SetStatus(codes.Error, err.Error())
		span.SetAttributes(attribute.String(wire.AttrErrorCode, code), attribute.String(AttrErrorType, code))
	}
	return resp, err
}

// eventAttributes is the attribute set of an event's duration: with the
// consumer's queue group, if it has one, and error.type for a failure.
func eventAttributes(k attrKey, client bool) attribute.Set {
	op := "process"
	if client {
		op = "send"
	}
	kv := []attribute.KeyValue{
		attribute.String(AttrMessagingSystem, MessagingSystem),
		attribute.String(AttrOperationName, op),
		attribute.String(AttrDestination, k.subject),
		attribute.String(AttrEvent, k.name),
		attribute.String(AttrEventService, k.service),
		attribute.String(AttrStatus, k.code.String()),
	}
	if k.queue != "" {
		kv = append(kv, attribute.String(AttrConsumerGroup, k.queue))
	}
	if k.code != 0 { // 0: no error
		kv = append(kv, attribute.String(AttrErrorType, k.code.String()))
	}
	return attribute.NewSet(kv...)
}
