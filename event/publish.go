package event

import (
	"context"
	"errors"
	"sync"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/dialtone-dev/dialtone"
	"github.com/dialtone-dev/dialtone/internal/telemetry"
	"github.com/dialtone-dev/dialtone/internal/wire"
	"github.com/dialtone-dev/dialtone/service"
)

const instrumentationName = "github.com/dialtone-dev/dialtone/event"

// Publisher publishes events over one NATS connection. It is safe for concurrent
// use; one per connection (or per service) is enough.
//
// Every publish runs through the Publisher's interceptors, outermost first: the
// standard ones (Tracing, then Metrics; see WithOuterInterceptors), those of
// WithInterceptors, then the inner ones (WithInnerInterceptors; WithValidation
// adds one). They see a dialtone.Request with Spec.Kind dialtone.KindEvent and
// Spec.IsClient true, Spec.Name and Spec.Subject the event's, Spec.Service the
// publishing service's (WithService) or "", Msg the event (*T) for Publish and
// Data its payload for PublishRaw, and Header the event's headers, never nil
// and reused after the publish. After the last interceptor the event is
// encoded (when Data is nil) and handed to the connection; the Response is
// empty.
type Publisher struct {
	nc      *nats.Conn
	codec   dialtone.Codec
	ctype   string // Content-Type to send: the codec's name, "" for JSON (the default needs no header)
	svc     *service.Service
	chain   dialtone.UnaryFunc
	direct  bool // every interceptor is an Idler (the standard ones only, or none), and JSON
	idlers  []telemetry.Idler
	listed  sync.Map // subject -> struct{}: published or declared on svc
	headers sync.Pool
}

// An Option configures a Publisher (NewPublisher).
type Option interface {
	applyPublisher(*publisherConfig)
}

type publisherConfig struct {
	codec        dialtone.Codec
	tp           trace.TracerProvider
	mp           metric.MeterProvider
	prop         propagation.TextMapPropagator
	svc          *service.Service
	outer        []dialtone.Interceptor
	outerSet     bool
	interceptors []dialtone.Interceptor
	inner        []dialtone.Interceptor
}

type optionFunc func(*publisherConfig)

func (f optionFunc) applyPublisher(c *publisherConfig) { f(c) }

// WithCodec sets the codec events are encoded with (default dialtone.JSON). A
// codec named other than "application/json" is named in each event's
// Content-Type header, and the consuming service must use the same one
// (service.WithCodec).
func WithCodec(c dialtone.Codec) Option {
	return optionFunc(func(cfg *publisherConfig) {
		if c != nil {
			cfg.codec = c
		}
	})
}

// WithTracerProvider sets where producer spans go (default the global provider,
// which records nothing until the application installs an SDK).
func WithTracerProvider(tp trace.TracerProvider) Option {
	return optionFunc(func(c *publisherConfig) { c.tp = tp })
}

// WithPropagator sets how the trace context is written into event headers
// (default W3C trace context, which is what Dialtone services read).
func WithPropagator(prop propagation.TextMapPropagator) Option {
	return optionFunc(func(c *publisherConfig) { c.prop = prop })
}

// WithMeterProvider sets the MeterProvider the Metrics interceptor records
// publish durations with (default the global one, which records nothing until
// the application installs an SDK).
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c *publisherConfig) { c.mp = mp })
}

// WithInterceptors adds interceptors to every publish, after the standard ones
// and before the inner ones. Given more than once, the lists are joined in order;
// the first is the outermost.
func WithInterceptors(interceptors ...dialtone.Interceptor) Option {
	return optionFunc(func(c *publisherConfig) { c.interceptors = append(c.interceptors, interceptors...) })
}

// WithOuterInterceptors replaces the standard interceptors, which are, outermost
// first, Tracing and Metrics with the Publisher's providers.
// WithOuterInterceptors() with nothing turns tracing and metrics off.
func WithOuterInterceptors(interceptors ...dialtone.Interceptor) Option {
	return optionFunc(func(c *publisherConfig) {
		c.outer, c.outerSet = append([]dialtone.Interceptor(nil), interceptors...), true
	})
}

// WithInnerInterceptors adds interceptors after the others, the last before the
// event is encoded and sent.
func WithInnerInterceptors(interceptors ...dialtone.Interceptor) Option {
	return optionFunc(func(c *publisherConfig) { c.inner = append(c.inner, interceptors...) })
}

// WithService makes s the publishing service: the events the Publisher declares
// (Declare, generated publishers) or publishes are listed in s's heartbeats and
// $SRV.INFO as published, so registries show who publishes what, and
// interceptors see s's name as Spec.Service.
func WithService(s *service.Service) Option {
	return optionFunc(func(c *publisherConfig) { c.svc = s })
}

// WithValidation makes Publish check each event against its validate tags
// (dialtone.Validate) before sending it, failing with CodeInvalidArgument: an
// inner interceptor. The consuming services validate every event in any case;
// this only moves the error to the producer, at the cost of a second check.
func WithValidation() Option {
	return WithInnerInterceptors(dialtone.UnaryInterceptorFunc(func(next dialtone.UnaryFunc) dialtone.UnaryFunc {
		return func(ctx context.Context, req dialtone.Request) (dialtone.Response, error) {
			if req.Msg != nil {
				if err := dialtone.Validate(req.Msg); err != nil {
					return dialtone.Response{}, err
				}
			}
			return next(ctx, req)
		}
	}))
}

// Tracing returns the interceptor that makes each publish an OpenTelemetry span
// of kind producer named "send <subject>" and writes its context (or, while tp
// records nothing, the caller's) into the event's headers with prop (W3C trace
// context when nil). A Publisher has one by default.
func Tracing(tp trace.TracerProvider, prop propagation.TextMapPropagator) dialtone.Interceptor {
	return telemetry.Tracing(tp, prop, instrumentationName)
}

// Metrics returns the interceptor that records each publish's duration in the
// histogram messaging.client.operation.duration (seconds) with the attributes
// messaging.system ("nats"), messaging.operation.name ("send"),
// messaging.destination.name (the subject), dialtone.event, dialtone.service and
// rpc.response.status_code (the code's name, "ok" on success). A Publisher has
// one by default.
func Metrics(mp metric.MeterProvider) dialtone.Interceptor {
	return telemetry.Metrics(mp, instrumentationName, true)
}

// NewPublisher returns a Publisher on nc. The connection stays the caller's:
// close it (or drain it, which flushes what was published) when done.
func NewPublisher(nc *nats.Conn, opts ...Option) *Publisher {
	cfg := publisherConfig{codec: dialtone.JSON}
	for _, o := range opts {
		o.applyPublisher(&cfg)
	}
	p := &Publisher{nc: nc, codec: cfg.codec, svc: cfg.svc}
	if name := p.codec.Name(); name != dialtone.JSON.Name() {
		p.ctype = name
	}
	outer := cfg.outer
	if !cfg.outerSet {
		tp, mp := cfg.tp, cfg.mp
		if tp == nil {
			tp = otel.GetTracerProvider()
		}
		if mp == nil {
			mp = otel.GetMeterProvider()
		}
		outer = []dialtone.Interceptor{Tracing(tp, cfg.prop), Metrics(mp)}
	}
	all := make([]dialtone.Interceptor, 0, len(outer)+len(cfg.interceptors)+len(cfg.inner))
	all = append(append(append(all, outer...), cfg.interceptors...), cfg.inner...)
	all = telemetry.BindConn(all, nc) // spans name the server
	p.chain = dialtone.Chain(p.invoke, all...)
	if busy, idlers := telemetry.Split(all); len(busy) == 0 && p.ctype == "" {
		p.direct, p.idlers = true, idlers
	}
	p.headers.New = func() any { return make(nats.Header, 4) }
	return p
}

// Conn returns the connection the Publisher publishes on.
func (p *Publisher) Conn() *nats.Conn { return p.nc }

// Declare lists specs as published by the Publisher's service (WithService) from
// now on, before the first event goes out. Without a service it only checks them.
// Generated publishers declare all their events.
func (p *Publisher) Declare(specs ...Spec) error {
	for _, s := range specs {
		if err := s.check(false); err != nil {
			return err
		}
		if err := p.list(s); err != nil {
			return err
		}
	}
	return nil
}

// list records spec on the service, once per subject.
func (p *Publisher) list(s Spec) error {
	if p.svc == nil {
		return nil
	}
	if _, ok := p.listed.Load(s.Subject); ok {
		return nil
	}
	var md map[string]string
	if s.Schema != "" {
		md = map[string]string{wire.MetadataEventSchema: s.Schema}
	}
	if err := p.svc.AddPublication(service.Publication{Name: s.Name, Subject: s.Subject, Metadata: md}); err != nil {
		return err
	}
	p.listed.Store(s.Subject, struct{}{})
	return nil
}

// A PublishOption changes one Publish.
type PublishOption interface {
	applyPublish(nats.Header)
}

type headerOption struct{ key, value string }

func (o headerOption) applyPublish(h nats.Header) { h.Add(o.key, o.value) }

// Header adds a header to the event. With JetStream capturing the subject,
// Header(nats.MsgIdHdr, id) lets the stream drop a duplicate of an event that a
// producer published twice. Content-Type is the Publisher's for Publish, and the
// trace context headers are replaced when the event has a span context to send.
func Header(key, value string) PublishOption { return headerOption{key: key, value: value} }

// Publish encodes ev with the Publisher's codec and publishes it on t's subject,
// through the Publisher's interceptors.
//
// Delivery is at most once, as core NATS is: a nil error means the connection
// took the event (it is on its way to the server, or buffered while the client
// reconnects), not that anyone received it. An event published while no
// instance of a service is subscribed is never seen by that service. See the
// package documentation for what to do when events must not be lost.
//
// Every error is an *dialtone.Error: CodeInvalidArgument for a nil ev, a bad
// topic or (WithValidation) an invalid event; CodeInternal when ev does not
// encode; CodeResourceExhausted when the event is larger than the server's
// max_payload; CodeUnavailable when the connection is closed or draining, or its
// reconnect buffer is full; CodeCanceled or CodeDeadlineExceeded when ctx ended
// first.
func Publish[T any](ctx context.Context, p *Publisher, t Topic[T], ev *T, opts ...PublishOption) error {
	if t.err != nil {
		return t.err
	}
	if ev == nil {
		return dialtone.Errorf(dialtone.CodeInvalidArgument, "event %s: nil *%T", t.spec.Name, *new(T))
	}
	return p.publish(ctx, t.spec, ev, nil, nil, opts)
}

// PublishRaw publishes data, already encoded, with the headers in hdr (which it
// does not modify) on spec's subject. Interceptors, errors and delivery are as
// for Publish, with Msg nil and Data the payload; the codec plays no part, so a
// payload that is not JSON needs a Content-Type header in hdr.
func (p *Publisher) PublishRaw(ctx context.Context, spec Spec, data []byte, hdr nats.Header, opts ...PublishOption) error {
	if err := spec.check(false); err != nil {
		return err
	}
	if data == nil {
		data = []byte{} // nil Data means "encode Msg" to invoke
	}
	return p.publish(ctx, spec, nil, data, hdr, opts)
}

func (p *Publisher) publish(ctx context.Context, spec Spec, msg any, data []byte, hdr nats.Header, opts []PublishOption) error {
	if err := ctx.Err(); err != nil {
		return dialtone.NewError(dialtone.CodeOf(err), err)
	}
	if p.svc != nil {
		if err := p.list(spec); err != nil {
			return err
		}
	}
	req := dialtone.Request{
		Spec: dialtone.Spec{Kind: dialtone.KindEvent, IsClient: true, Name: spec.Name, Subject: spec.Subject},
		Msg:  msg,
		Data: data,
	}
	if p.svc != nil {
		req.Spec.Service = p.svc.Name()
	}
	if p.direct && len(hdr) == 0 && len(opts) == 0 && telemetry.AllIdle(ctx, p.idlers, telemetry.Call{Kind: dialtone.KindEvent, Client: true}) {
		// Only the standard interceptors, none with anything to do (nothing
		// records, no trace context to carry), and no header to send: encode and
		// publish, without a header to fill.
		_, err := p.invoke(ctx, req)
		return err
	}
	h := p.headers.Get().(nats.Header)
	defer func() {
		clear(h)
		p.headers.Put(h)
	}()
	for k, v := range hdr {
		h[k] = v[:len(v):len(v)] // clipped: an Add must not write into the caller's array
	}
	for _, o := range opts {
		o.applyPublish(h)
	}
	req.Header = h
	_, err := p.chain(ctx, req)
	return err
}

// invoke is the step inside every interceptor: encode (when Data is nil) and
// hand the event to the connection.
func (p *Publisher) invoke(ctx context.Context, req dialtone.Request) (dialtone.Response, error) {
	data := req.Data
	if data == nil {
		var err error
		if data, err = p.codec.Marshal(req.Msg); err != nil {
			return dialtone.Response{}, dialtone.Errorf(dialtone.CodeInternal, "event %s: encode %T as %s: %w", req.Spec.Name, req.Msg, p.codec.Name(), err)
		}
		if p.ctype != "" {
			req.Header.Set(dialtone.HeaderContentType, p.ctype)
		}
	}
	var err error
	if len(req.Header) == 0 {
		err = p.nc.Publish(req.Spec.Subject, data)
	} else {
		err = p.nc.PublishMsg(&nats.Msg{Subject: req.Spec.Subject, Header: req.Header, Data: data})
	}
	if err != nil {
		return dialtone.Response{}, p.publishError(req.Spec.Name, len(data), err)
	}
	return dialtone.Response{}, nil
}

// publishError turns a nats.go publish error into an *dialtone.Error that says
// what to do.
func (p *Publisher) publishError(name string, size int, err error) error {
	switch {
	case errors.Is(err, nats.ErrMaxPayload):
		return dialtone.Errorf(dialtone.CodeResourceExhausted,
			"event %s: %d bytes exceed the server's max_payload of %d: %w", name, size, p.nc.MaxPayload(), err)
	case errors.Is(err, nats.ErrConnectionClosed), errors.Is(err, nats.ErrConnectionDraining):
		return dialtone.Errorf(dialtone.CodeUnavailable, "event %s: cannot publish: %w", name, err)
	case errors.Is(err, nats.ErrReconnectBufExceeded):
		return dialtone.Errorf(dialtone.CodeUnavailable,
			"event %s: the connection is reconnecting and its buffer is full; retry later: %w", name, err)
	case errors.Is(err, nats.ErrBadSubject), errors.Is(err, nats.ErrHeadersNotSupported):
		return dialtone.Errorf(dialtone.CodeInvalidArgument, "event %s: %w", name, err)
	}
	return dialtone.Errorf(dialtone.CodeUnavailable, "event %s: publish: %w", name, err)
}
