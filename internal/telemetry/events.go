package telemetry

import (
	"context"

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
	AttrMessagingSystem = "messaging.system"           // "nats"
	AttrOperationType   = "messaging.operation.type"   // "send" or "process"
	AttrOperationName   = "messaging.operation.name"   // "send" or "process"
	AttrDestination     = "messaging.destination.name" // the event's subject (the subscription's, for a consumer)
	AttrEvent           = "dialtone.event"             // the event's (the consumer's) name
	AttrEventService    = "dialtone.service"           // the publishing or consuming service, if any
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
		span.SetAttributes(
			attribute.String(AttrMessagingSystem, MessagingSystem),
			attribute.String(AttrOperationType, op),
			attribute.String(AttrOperationName, op),
			attribute.String(AttrDestination, req.Spec.Subject),
			attribute.String(AttrEvent, req.Spec.Name),
		)
		if req.Spec.Service != "" {
			span.SetAttributes(attribute.String(AttrEventService, req.Spec.Service))
		}
		if !client {
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

// eventAttributes is the attribute set of an event's duration.
func eventAttributes(k attrKey, client bool) attribute.Set {
	op := "process"
	if client {
		op = "send"
	}
	return attribute.NewSet(
		attribute.String(AttrMessagingSystem, MessagingSystem),
		attribute.String(AttrOperationName, op),
		attribute.String(AttrDestination, k.subject),
		attribute.String(AttrEvent, k.name),
		attribute.String(AttrEventService, k.service),
		attribute.String(AttrStatus, k.code.String()),
	)
}
