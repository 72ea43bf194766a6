package rpc

import (
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/dialtone-dev/dialtone"
	"github.com/dialtone-dev/dialtone/internal/tracegate"
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
	tracer       trace.Tracer
	trace        tracegate.Gate // whether starting a client span is worth it
	propagator   propagation.TextMapPropagator
	timeout      time.Duration
	availTimeout time.Duration
	defaults     []CallOption
	scratches    sync.Pool // *callScratch
}

// An Option configures a Client.
type Option interface {
	applyClient(*clientConfig)
}

type clientConfig struct {
	codecs       []dialtone.Codec
	tp           trace.TracerProvider
	propagator   propagation.TextMapPropagator
	timeout      time.Duration
	availTimeout time.Duration
	defaults     []CallOption
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
		propagator:   cfg.propagator,
		timeout:      cfg.timeout,
		availTimeout: cfg.availTimeout,
		defaults:     cfg.defaults,
	}
	for _, codec := range cfg.codecs {
		c.codec = codec
		c.codecs[codec.Name()] = codec
	}
	tp := cfg.tp
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	c.tracer = tp.Tracer(instrumentationName)
	c.trace = tracegate.New(tp)
	if c.propagator == nil {
		c.propagator = propagation.TraceContext{}
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
