package event

import (
	"context"
	"maps"
	"slices"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/dialtone-dev/dialtone"
	"github.com/dialtone-dev/dialtone/internal/wire"
	"github.com/dialtone-dev/dialtone/service"
)

// Event is an event as a raw handler (SubscribeRaw) sees it.
type Event struct {
	Name    string      // the subscription's event name
	Subject string      // the subject it was published on
	Header  nats.Header // may be nil
	Data    []byte

	req service.Request // for Decode; a copy, as the service reuses its own
	set bool            // req is set: the Event came from a subscription
}

// Decode unmarshals the payload into v with the service's codec
// (service.WithCodec). A Content-Type header naming another codec, or a payload
// that does not decode, is an *dialtone.Error with CodeInvalidArgument. An Event
// made by hand (in a test of a handler) decodes as JSON.
func (e *Event) Decode(v any) error {
	var err error
	if e.set {
		err = e.req.Decode(v)
	} else {
		err = dialtone.JSON.Unmarshal(e.Data, v)
	}
	if err != nil {
		return invalid(e.Name, err)
	}
	return nil
}

// invalid returns err, a decode or validation failure, as CodeInvalidArgument
// with the event's name in front of its message and its details kept. A
// validation failure's message is rebuilt from its fields, "event OrderPlaced
// is invalid: customer (email)", as dialtone.Validate words it for a request.
func invalid(name string, err error) error {
	msg := err.Error()
	var details map[string]any
	if de, ok := err.(*dialtone.Error); ok {
		msg, details = de.Message(), de.Details()
	}
	var out *dialtone.Error
	if fields, ok := details["fields"].(map[string]string); ok && len(fields) > 0 {
		names := slices.Sorted(maps.Keys(fields))
		parts := make([]string, len(names))
		for i, f := range names {
			parts[i] = f + " (" + fields[f] + ")"
		}
		out = dialtone.Errorf(dialtone.CodeInvalidArgument, "event %s is invalid: %s", name, strings.Join(parts, ", "))
	} else {
		out = dialtone.Errorf(dialtone.CodeInvalidArgument, "event %s: %s", name, msg)
	}
	for k, v := range details {
		out = out.WithDetail(k, v)
	}
	return out
}

// Handler handles one event of a raw subscription. A returned error (or a panic)
// is logged at Warn and counted in the consumer's errors in $SRV.STATS; the
// publisher never sees it.
type Handler func(ctx context.Context, ev *Event) error

// A SubscribeOption configures one subscription (Subscribe, SubscribeRaw).
type SubscribeOption interface {
	applySubscribe(*subscribeConfig)
}

type subscribeConfig struct {
	queue        string
	broadcast    bool
	name         string
	metadata     map[string]string
	interceptors []dialtone.Interceptor
	concurrency  int // 0: the service's shared workers; n: n workers of its own (1: ordered)
}

type subscribeOptionFunc func(*subscribeConfig)

func (f subscribeOptionFunc) applySubscribe(c *subscribeConfig) { f(c) }

// PerService delivers each event to one instance of the subscribing service: the
// instances share a queue group named after the service, so starting more of
// them shares the work instead of repeating it. It is the default.
func PerService() SubscribeOption {
	return subscribeOptionFunc(func(c *subscribeConfig) { c.broadcast, c.queue = false, "" })
}

// Broadcast delivers each event to every instance of the subscribing service:
// for work each instance must do itself, such as dropping a cache entry or
// reloading configuration.
func Broadcast() SubscribeOption {
	return subscribeOptionFunc(func(c *subscribeConfig) { c.broadcast, c.queue = true, "" })
}

// WithQueueGroup delivers each event to one member of queue group q, instead of
// one instance of the subscribing service: instances of several services (or
// versions) that subscribe in the same group share the events between them.
func WithQueueGroup(q string) SubscribeOption {
	return subscribeOptionFunc(func(c *subscribeConfig) { c.broadcast, c.queue = false, q })
}

// WithName names the subscription (default the event's name), for a service that
// subscribes to one event twice, e.g. per service and broadcast.
func WithName(name string) SubscribeOption {
	return subscribeOptionFunc(func(c *subscribeConfig) { c.name = name })
}

// WithMetadata adds metadata shown for the subscription in $SRV.INFO.
func WithMetadata(md map[string]string) SubscribeOption {
	return subscribeOptionFunc(func(c *subscribeConfig) {
		if c.metadata == nil {
			c.metadata = make(map[string]string, len(md))
		}
		for k, v := range md {
			c.metadata[k] = v
		}
	})
}

// WithSubscriptionInterceptors adds interceptors to one subscription: inside the
// service's own (those given to service.New with service.WithInterceptors) and
// before the inner ones (service.Validate by default). They see the event as a
// dialtone.Request with Spec.Kind dialtone.KindEvent.
func WithSubscriptionInterceptors(interceptors ...dialtone.Interceptor) SubscribeOption {
	return subscribeOptionFunc(func(c *subscribeConfig) { c.interceptors = append(c.interceptors, interceptors...) })
}

// Ordered makes the subscription handle its events one after another, in the
// order the instance received them, on the subscription's own delivery
// goroutine: a handler never runs concurrently with another of the same
// subscription on that instance, and sees its events in the order they
// arrived. Nothing is handed to a worker, so it is also the cheapest way to
// handle an event. It is MaxConcurrent(1).
//
// The order is the instance's. With per-service delivery the server shares a
// service's events out among its instances, so each instance sees its share in
// order, not the service all events in order; a service that must handle every
// event in publishing order runs one instance (or subscribes Broadcast and
// leaves the events it does not own). Events from one publisher on one
// subject arrive in publishing order; NATS orders nothing across publishers.
//
// A handler that returns an error (or panics) does not stop the ones after it,
// and one that blocks holds them all up: bound slow work with a context
// deadline.
func Ordered() SubscribeOption { return MaxConcurrent(1) }

// MaxConcurrent makes the subscription handle at most n of its events at once
// on each instance, on n workers of its own with a queue of its own, instead of
// on the service's shared workers (where its handlers may take every slot the
// instance has, service.WithMaxConcurrent). Every handler still takes one of
// the instance's slots, so the instance's limit holds across endpoints and
// subscriptions. n below 1 is an error. MaxConcurrent(1) is Ordered.
func MaxConcurrent(n int) SubscribeOption {
	return subscribeOptionFunc(func(c *subscribeConfig) {
		c.concurrency = n
		if n < 1 {
			c.concurrency = -1 // refused by subscribe
		}
	})
}

// Subscribe makes the service r belongs to handle the events of t with fn: each
// event is decoded into a new T with the service's codec and checked against its
// validate tags (the service's inner Validate interceptor) before fn sees it. An
// event that does not decode or validate, like an error fn returns, is logged at
// Warn, counted in the consumer's errors ($SRV.STATS) and given to the service's
// error handler (service.WithErrorHandler); the publisher never sees it.
//
// By default each event reaches one instance of the service (PerService);
// Broadcast gives it to every instance. fn runs on the service's workers, under
// its concurrency limit (service.WithMaxConcurrent), inside its interceptors
// (tracing, metrics, panic recovery, the user's, and those of r when r is a
// *service.Group), with events handled concurrently and in no particular order;
// Ordered handles them one at a time in arrival order, MaxConcurrent(n) at most
// n at a time. Stop drains the subscription with the endpoints: events the
// instance received before it unsubscribed are handled before Stop returns.
//
// A subscription added before Start is subscribed by Start; after Start, at once.
func Subscribe[T any](r service.Registrar, t Topic[T], fn func(ctx context.Context, ev *T) error, opts ...SubscribeOption) error {
	if t.err != nil {
		return t.err
	}
	if fn == nil {
		return dialtone.Errorf(dialtone.CodeInvalidArgument, "event %s: nil handler", t.spec.Name)
	}
	name := t.spec.Name
	newT := func() any { return new(T) }
	return subscribe(r, t.spec, newT, func(ctx context.Context, req service.Request, msg any) error {
		ev, ok := msg.(*T)
		if !ok {
			// The payload did not decode (or an interceptor put something else in
			// its place): decoding it again says why.
			ev = new(T)
			if err := req.Decode(ev); err != nil {
				return invalid(name, err)
			}
		}
		return fn(ctx, ev)
	}, opts)
}

// SubscribeRaw makes the service r belongs to handle the events on spec's subject
// with h, which decodes them itself (Event.Decode). The subject may have
// wildcards ("orders.>"). Delivery, concurrency, interceptors, errors and drain
// are as for Subscribe; interceptors see Msg nil.
func SubscribeRaw(r service.Registrar, spec Spec, h Handler, opts ...SubscribeOption) error {
	if err := spec.check(true); err != nil {
		return err
	}
	if h == nil {
		return dialtone.Errorf(dialtone.CodeInvalidArgument, "event %s: nil handler", spec.Name)
	}
	return subscribe(r, spec, nil, func(ctx context.Context, req service.Request, _ any) error {
		return h(ctx, &Event{Name: req.Endpoint, Subject: req.Subject, Header: req.Header, Data: req.Data, req: req, set: true})
	}, opts)
}

// consumerAdder is a Registrar that adds consumers itself: a *service.Service,
// or a *service.Group, which puts its interceptors around them.
type consumerAdder interface {
	AddConsumer(c service.Consumer) error
}

func subscribe(r service.Registrar, spec Spec, newMsg func() any, h service.ConsumerHandler, opts []SubscribeOption) error {
	if r == nil || r.Service() == nil {
		return dialtone.Errorf(dialtone.CodeInvalidArgument, "event %s: nil service", spec.Name)
	}
	svc := r.Service()
	var cfg subscribeConfig
	for _, o := range opts {
		o.applySubscribe(&cfg)
	}
	if cfg.concurrency < 0 {
		return dialtone.Errorf(dialtone.CodeInvalidArgument, "event %s: MaxConcurrent must be 1 or more", spec.Name)
	}
	queue := cfg.queue
	if queue == "" && !cfg.broadcast {
		queue = wire.EventQueue(svc.Name())
	}
	name := spec.Name
	if cfg.name != "" {
		name = cfg.name
	}
	md := make(map[string]string, len(cfg.metadata)+1)
	if spec.Schema != "" {
		md[wire.MetadataEventSchema] = spec.Schema
	}
	for k, v := range cfg.metadata {
		md[k] = v
	}
	c := service.Consumer{Name: name, Subject: spec.Subject, QueueGroup: queue,
		New: newMsg, Handler: h, Interceptors: cfg.interceptors, Metadata: md, MaxConcurrent: cfg.concurrency}
	if a, ok := r.(consumerAdder); ok {
		return a.AddConsumer(c)
	}
	return svc.AddConsumer(c)
}
