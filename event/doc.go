// Package event is the other half of how services talk: a service publishes
// "order placed" once, and every service that cares reacts to it.
//
//	var orderPlaced = event.NewTopic[OrderPlaced](event.Spec{Subject: "orders.OrderPlaced"})
//
//	// in the orders service
//	pub := event.NewPublisher(nc, event.WithService(svc))
//	err := event.Publish(ctx, pub, orderPlaced, &OrderPlaced{ID: "o-1", Total: 4200})
//
//	// in the billing service, before svc.Start or svc.Run
//	err := event.Subscribe(svc, orderPlaced, func(ctx context.Context, ev *OrderPlaced) error {
//		return charge(ctx, ev.ID, ev.Total)
//	})
//
// codegen writes the topics, a typed publisher and the registration of handlers
// from an interface of event handlers; see package codegen.
//
// # Delivery
//
// Each subscription chooses who receives an event:
//
//   - PerService (the default): each subscribing service receives it once, on one
//     of its instances. The instances subscribe in a queue group named after the
//     service, so billing with two instances and mail with one handle every event
//     once each, and starting a third billing instance shares billing's work
//     instead of repeating it.
//   - Broadcast: every instance receives it, for work each instance must do
//     itself (dropping a cache entry, reloading configuration).
//
// # At most once
//
// Events travel on core NATS, which delivers at most once. An event is lost when
// no instance of a service is subscribed at the moment it is published (all
// instances down, or none started yet), when an instance dies with events it had
// received but not yet handled, when a slow instance lets more events wait than
// its queue holds (service.WithQueueLength; the client then drops them as a slow
// consumer, and $SRV.STATS counts them as num_dropped), and when the connection
// breaks before the server had them. Publish
// returning nil means the connection took the event, not that anyone received it.
// A handler that returns an error does not get the event again.
//
// What the SDK does promise: a graceful stop (service.Stop, Run when its context
// ends) loses nothing. A draining instance unsubscribes, proves with a PING/PONG
// that the server has processed that, and handles every event it received before
// it returns; the server gives the events after that to the service's other
// instances. A rolling deploy that starts new instances before it drains old
// ones therefore handles each event exactly once per service.
//
// An application that must not lose events needs them stored. On nats-server
// that is JetStream: a stream that captures the event subjects keeps every event
// the server acknowledged, and a durable consumer per service redelivers until a
// handler acknowledges it. The SDK does not pretend to do this over core NATS;
// publish the same events (same subjects, same payloads and headers, so the
// Schemas and trace context still apply) and read them with nats.go's jetstream
// package. A producer that retries a publish can set a message ID header,
// Header(nats.MsgIdHdr, id), so the stream keeps one copy. busd implements core
// NATS only, not JetStream.
//
// # What a handler gets
//
// A handler runs on the service's workers (or the subscription's own, see
// Concurrency), like an endpoint's, so everything a call gets an event gets:
//
//   - the service's codec (JSON by default, service.WithCodec), with the payload
//     decoded into the topic's type and checked against its validate tags; an
//     event that does not decode or validate is logged and counted, never passed
//     on, and the publisher is not affected;
//   - the service's interceptors, those given to service.New, those of the
//     service.Group subscribed through (see Groups), and the subscription's own
//     (WithSubscriptionInterceptors), with Spec.Kind dialtone.KindEvent and
//     Spec.QueueGroup the subscription's queue group; among the standard ones,
//     an OpenTelemetry consumer span, "process <subject>", a child of the
//     producer's "send <subject>" span (W3C trace context in the event headers)
//     with a link to it, the duration histogram messaging.process.duration, and
//     panic recovery (a panic is logged with its stack and counted, and the
//     instance carries on);
//   - the concurrency limit (service.WithMaxConcurrent), shared with the
//     endpoints (see Concurrency);
//   - graceful drain, as above.
//
// Spans and the duration histograms follow OpenTelemetry's messaging
// conventions: messaging.system "nats", messaging.operation.name and .type
// ("send", "process"), messaging.destination.name (the subject; for a
// wildcard subscription, on its spans the subject the event was published on,
// with the subscription's as messaging.destination.template, and on its
// histogram the subscription's, to keep it few series),
// messaging.consumer.group.name on a consumer's (the queue group; absent for
// Broadcast), error.type (the code's name) on a failure, and on spans
// server.address and server.port of the server the connection uses; plus
// dialtone.event, dialtone.service and, on a consumer's span,
// dialtone.instance.
//
// While no tracer or meter provider can record, an event carries no trace
// context and no deadline, and only the standard interceptors are installed,
// Tracing, Metrics and Deadline have nothing to do, and neither end runs them:
// the publisher sends the event without headers, the consumer skips them. The
// behaviour is the same; only the cost differs.
//
// A Publisher has interceptors too (WithInterceptors): by default Tracing (the
// producer span, and the trace context in the headers) and Metrics
// (messaging.client.operation.duration).
//
// Errors and panics are logged at Warn and Error, given to the service's error
// handler (service.WithErrorHandler), and counted per subscription in
// $SRV.STATS ("events": num_events, num_errors, num_dropped, last_error,
// processing time).
//
// # Concurrency
//
// By default a subscription's handlers run on the instance's shared workers,
// concurrently and in no particular order, up to the instance's limit: one
// busy subscription can take every slot. Two options change that, per
// subscription and per instance:
//
//   - Ordered: the handler runs on the subscription's own delivery goroutine,
//     with a queue of its own, and sees the events one after another in the
//     order the instance received them; a handler never overlaps another of
//     the same subscription. It is also the cheapest way to handle an event:
//     nothing is handed to a worker. Events from one publisher on one subject
//     arrive in the order they were published; per-service delivery shares a
//     service's events out among its instances, so the order is each
//     instance's, not the service's (run one instance, or subscribe Broadcast,
//     for a total order). An event that fails does not stop the next; one that
//     blocks holds up the rest.
//   - MaxConcurrent(n): a queue and n workers of its own, so at most n of its
//     handlers run at once (Ordered is MaxConcurrent(1)).
//
// Either way each handler still takes one of the instance's slots, so
// service.WithMaxConcurrent bounds everything an instance runs; the queue holds
// service.WithQueueLength events, beyond which the client drops them as for
// any subscription (counted in num_dropped); and drain is as above, in order.
// The events waiting in such a queue count in the heartbeat's "queued" load.
//
// # Groups
//
// Subscribe and SubscribeRaw take a service.Registrar, so a subscription can be
// made through a *service.Group: it then runs inside the group's interceptors
// (those given to AddGroup with service.WithInterceptors, the enclosing
// groups' first), between the service's and the subscription's own, as an
// endpoint of the group would. That is where an application puts the
// interceptors of a part of it (an audit log, a tenant check), and events
// belong to those parts as much as endpoints do. The group's subject prefix
// and queue group are not applied: they name endpoints
// (<service>.<group>.<endpoint>, one queue group for the group's endpoints),
// while an event has its own subject, chosen by its publisher, and per-service
// delivery is one queue group per service, whatever group subscribed. A group
// with an invalid name refuses the subscription with its error.
//
// # Who publishes and consumes what
//
// A service lists its subscriptions, and the events its Publisher declares or
// publishes (WithService), in its heartbeats ("events": name, subject, role,
// queue group) and in $SRV.INFO ("events", with each event's JSON Schema in its
// metadata under "dialtone.event_schema", and the subjects in the service metadata
// under "dialtone.events.publishes" and "dialtone.events.consumes", which
// `nats micro info` shows). A discovery.Registry therefore knows who listens to
// what. The wire contract is in docs/design/sdk.md.
package event
