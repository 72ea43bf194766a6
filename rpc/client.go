package rpc

import (
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/dialtone-dev/dialtone"
	"github.com/dialtone-dev/dialtone/internal/telemetry"
)

// Defaults of a Client, changed with the options of the same name.
const (
	// DefaultTimeout bounds a call whose context has no deadline.
	DefaultTimeout = 5 * time.Second
	// DefaultAvailabilityTimeout is how long an Available call waits for an instance
	// to volunteer before it fails with CodeUnavailable.
	DefaultAvailabilityTimeout = 250 * time.Millisecond
)

const instrumentationName = "github.com/dialtone-dev/dialtone/rpc"

// Client makes calls to Dialtone services over one NATS connection. It is safe for
// concurrent use and holds no per-call state, so one Client per connection is enough.
type Client struct {
	nc           *nats.Conn
	codec        dialtone.Codec
	codecs       map[string]dialtone.Codec // by Name, for replies
	json         dialtone.Codec            // for replies without Content-Type
	timeout      time.Duration
	availTimeout time.Duration
	defaults     []CallOption
	chain        dialtone.UnaryFunc                 // the interceptors around c.invoke
	byEndpoint   map[endpointKey]dialtone.UnaryFunc // chains of endpoints with interceptors of their own
	scratches    sync.Pool                          // *callScratch
	wires        sync.Pool                          // *wireScratch
	clock        clock                              // nil: package time
}

type endpointKey struct{ service, name string }

// An Option configures a Client.
type Option interface {
	applyClient(*clientConfig)
}

type clientConfig struct {
	codecs       []dialtone.Codec
	tp           trace.TracerProvider
	mp           metric.MeterProvider
	propagator   propagation.TextMapPropagator
	timeout      time.Duration
	availTimeout time.Duration
	defaults     []CallOption
	outer        []dialtone.Interceptor
	outerSet     bool
	interceptors []dialtone.Interceptor
	inner        []dialtone.Interceptor
	byEndpoint   map[endpointKey][]dialtone.Interceptor
}

type clientOptionFunc func(*clientConfig)

func (f clientOptionFunc) applyClient(c *clientConfig) { f(c) }

// WithCodec sets the codec requests are encoded with (dialtone.JSON by default). The
// client also decodes replies whose Content-Type is the codec's name with it; more
// codecs for replies can be added by giving WithCodec again: the last one given
// encodes requests.
func WithCodec(codec dialtone.Codec) Option {
	return clientOptionFunc(func(c *clientConfig) {
		if codec != nil {
			c.codecs = append(c.codecs, codec)
		}
	})
}

// WithTracerProvider sets the TracerProvider call spans come from. Without it the
// client uses the global one (otel.GetTracerProvider), which records nothing until
// the application installs an SDK.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return clientOptionFunc(func(c *clientConfig) { c.tp = tp })
}

// WithPropagator sets how the span context is written into request headers. The
// default is W3C trace context (traceparent, tracestate), which is what Dialtone
// services read.
func WithPropagator(p propagation.TextMapPropagator) Option {
	return clientOptionFunc(func(c *clientConfig) { c.propagator = p })
}

// WithMeterProvider sets the MeterProvider the Metrics interceptor records call
// durations with. Without it the client uses the global one
// (otel.GetMeterProvider), which records nothing until the application installs
// an SDK.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return clientOptionFunc(func(c *clientConfig) { c.mp = mp })
}

// WithInterceptors adds interceptors to every call of the client, after the
// standard ones (see WithOuterInterceptors) and before those of the endpoint
// (WithEndpointInterceptors). Given more than once, the lists are joined in
// order. The first interceptor is the outermost: it sees the call first and its
// outcome last.
func WithInterceptors(interceptors ...dialtone.Interceptor) Option {
	return clientOptionFunc(func(c *clientConfig) { c.interceptors = append(c.interceptors, interceptors...) })
}

// WithEndpointInterceptors adds interceptors to the calls of one endpoint,
// named by its service and name (ep.Spec() of an Endpoint), inside the client's.
func WithEndpointInterceptors(spec Spec, interceptors ...dialtone.Interceptor) Option {
	return clientOptionFunc(func(c *clientConfig) {
		if c.byEndpoint == nil {
			c.byEndpoint = map[endpointKey][]dialtone.Interceptor{}
		}
		k := endpointKey{spec.Service, spec.Name}
		c.byEndpoint[k] = append(c.byEndpoint[k], interceptors...)
	})
}

// WithOuterInterceptors replaces the standard interceptors, which are, outermost
// first, Tracing and Metrics with the client's providers. Give them again, in
// another order, among others or not at all: WithOuterInterceptors() with
// nothing turns tracing and metrics off.
func WithOuterInterceptors(interceptors ...dialtone.Interceptor) Option {
	return clientOptionFunc(func(c *clientConfig) {
		c.outer, c.outerSet = append([]dialtone.Interceptor(nil), interceptors...), true
	})
}

// WithInnerInterceptors adds interceptors after the endpoint's, the last before
// the request is encoded and sent, such as ValidateRequests.
func WithInnerInterceptors(interceptors ...dialtone.Interceptor) Option {
	return clientOptionFunc(func(c *clientConfig) { c.inner = append(c.inner, interceptors...) })
}

// WithDefaultTimeout bounds calls whose context has no deadline (DefaultTimeout, 5s,
// unless set). A value <= 0 restores the default: a call is never unbounded.
func WithDefaultTimeout(d time.Duration) Option {
	return clientOptionFunc(func(c *clientConfig) { c.timeout = d })
}

// WithAvailabilityTimeout sets how long an Available call waits for an instance with
// free capacity to answer (DefaultAvailabilityTimeout, 250ms, unless set). The wait
// never goes past the call's deadline. A value <= 0 restores the default.
func WithAvailabilityTimeout(d time.Duration) Option {
	return clientOptionFunc(func(c *clientConfig) { c.availTimeout = d })
}

// WithDefaultCallOptions sets call options applied to every call before those in the
// context (WithCallOptions) and those given to the call.
func WithDefaultCallOptions(opts ...CallOption) Option {
	return clientOptionFunc(func(c *clientConfig) { c.defaults = append(c.defaults, opts...) })
}

// NewClient returns a Client that calls over nc. The connection stays the caller's:
// closing or draining it ends the client's calls.
func NewClient(nc *nats.Conn, opts ...Option) *Client {
	cfg := clientConfig{}
	for _, o := range opts {
		o.applyClient(&cfg)
	}
	c := &Client{
		nc:           nc,
		codec:        dialtone.JSON,
		codecs:       map[string]dialtone.Codec{dialtone.JSON.Name(): dialtone.JSON},
		timeout:      cfg.timeout,
		availTimeout: cfg.availTimeout,
		defaults:     cfg.defaults,
	}
	for _, codec := range cfg.codecs {
		c.codec = codec
		c.codecs[codec.Name()] = codec
	}
	c.json = c.codecs[dialtone.JSON.Name()]
	outer := cfg.outer
	if !cfg.outerSet {
		tp, mp := cfg.tp, cfg.mp
		if tp == nil {
			tp = otel.GetTracerProvider()
		}
		if mp == nil {
			mp = otel.GetMeterProvider()
		}
		outer = []dialtone.Interceptor{Tracing(tp, cfg.propagator), Metrics(mp)}
	}
	chain := func(endpoint []dialtone.Interceptor) dialtone.UnaryFunc {
		all := make([]dialtone.Interceptor, 0, len(outer)+len(cfg.interceptors)+len(endpoint)+len(cfg.inner))
		all = append(append(append(append(all, outer...), cfg.interceptors...), endpoint...), cfg.inner...)
		return dialtone.Chain(c.invoke, all...)
	}
	c.chain = chain(nil)
	if len(cfg.byEndpoint) > 0 {
		c.byEndpoint = make(map[endpointKey]dialtone.UnaryFunc, len(cfg.byEndpoint))
		for k, ix := range cfg.byEndpoint {
			c.byEndpoint[k] = chain(ix)
		}
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if c.availTimeout <= 0 {
		c.availTimeout = DefaultAvailabilityTimeout
	}
	return c
}

// Conn returns the connection the client calls over.
func (c *Client) Conn() *nats.Conn { return c.nc }

// Codec returns the codec requests are encoded with.
func (c *Client) Codec() dialtone.Codec { return c.codec }

// Tracing returns the interceptor that makes each call an OpenTelemetry span of
// kind client named <service>.<endpoint> and writes its context (or, while tp
// records nothing, the caller's) into the request headers with prop (W3C trace
// context when nil). A client has one by default; see WithOuterInterceptors.
func Tracing(tp trace.TracerProvider, prop propagation.TextMapPropagator) dialtone.Interceptor {
	return telemetry.Tracing(tp, prop, instrumentationName)
}

// Metrics returns the interceptor that records each call's duration, retries
// included, in the histogram rpc.client.call.duration (seconds) with the
// attributes rpc.system ("dialtone"), rpc.service, rpc.method,
// rpc.response.status_code (the code's name, "ok" on success) and
// dialtone.pattern. The count of the histogram is the count of calls by outcome.
// A client has one by default, with the global MeterProvider; see
// WithMeterProvider and WithOuterInterceptors.
func Metrics(mp metric.MeterProvider) dialtone.Interceptor {
	return telemetry.Metrics(mp, instrumentationName, true)
}
