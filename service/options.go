package service

import (
	"log/slog"
	"time"

	"github.com/dialtone-dev/dialtone"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// DefaultMaxConcurrent is the default number of handlers an instance runs at once.
const DefaultMaxConcurrent = 64

// DefaultDrainTimeout bounds the graceful stop Run performs on a signal.
const DefaultDrainTimeout = 30 * time.Second

// DefaultQueueLength is how many requests may wait for a free slot by default.
const DefaultQueueLength = 16 * 1024

type options struct {
	maxConcurrent int
	hbInterval    time.Duration
	logger        *slog.Logger
	codec         dialtone.Codec
	tp            trace.TracerProvider
	prop          propagation.TextMapPropagator
	drainTimeout  time.Duration
	queueLen      int
}

// Option configures a Service.
type Option func(*options)

// WithMaxConcurrent sets how many handlers of this instance run at once, over all
// endpoints (default DefaultMaxConcurrent). Requests beyond it wait in the
// subscription's pending queue. Values below 1 mean 1.
func WithMaxConcurrent(n int) Option {
	return func(o *options) { o.maxConcurrent = max(n, 1) }
}

// WithHeartbeatInterval sets the heartbeat interval (default 1s).
func WithHeartbeatInterval(d time.Duration) Option {
	return func(o *options) { o.hbInterval = d }
}

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}

// WithCodec sets the codec typed handlers (Handle) use (default dialtone.JSON).
func WithCodec(c dialtone.Codec) Option {
	return func(o *options) {
		if c != nil {
			o.codec = c
		}
	}
}

// WithTracerProvider sets where server spans go (default the global provider).
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(o *options) { o.tp = tp }
}

// WithPropagator sets how the trace context is read from request headers (default
// W3C trace context, as rpc's client writes it, so spans link with no setup).
func WithPropagator(p propagation.TextMapPropagator) Option {
	return func(o *options) { o.prop = p }
}

// WithQueueLength sets how many requests may wait for a free slot (default
// DefaultQueueLength; direct requests have a queue of an eighth of that). Beyond
// it the connection drops requests as a slow consumer and their callers time out
// (or, with the rpc client's Available pattern, go elsewhere). Values below 1
// mean 1.
func WithQueueLength(n int) Option {
	return func(o *options) { o.queueLen = max(n, 1) }
}

// WithDrainTimeout bounds the graceful stop that Run performs (default 30s).
func WithDrainTimeout(d time.Duration) Option {
	return func(o *options) { o.drainTimeout = d }
}

type endpointConfig struct {
	subject  string
	queue    string
	metadata map[string]string
}

// EndpointOption configures one endpoint.
type EndpointOption func(*endpointConfig)

// WithSubject replaces the endpoint's subject (default <service>.<endpoint>, or
// <service>.<group>.<endpoint> in a group). The subject is used as given, without a
// group prefix; it must be a literal subject (no wildcards).
func WithSubject(subject string) EndpointOption {
	return func(c *endpointConfig) { c.subject = subject }
}

// WithQueueGroup sets the endpoint's queue group (default the group's, else the
// service's, else the service name).
func WithQueueGroup(queue string) EndpointOption {
	return func(c *endpointConfig) { c.queue = queue }
}

// WithMetadata adds metadata shown for the endpoint in $SRV.INFO.
func WithMetadata(md map[string]string) EndpointOption {
	return func(c *endpointConfig) {
		if c.metadata == nil {
			c.metadata = make(map[string]string, len(md))
		}
		for k, v := range md {
			c.metadata[k] = v
		}
	}
}

// Endpoint metadata keys WithSchema writes.
const (
	MetadataRequestSchema  = "dialtone.request_schema"
	MetadataResponseSchema = "dialtone.response_schema"
)

// WithSchema records the JSON Schemas of the request and the response in the
// endpoint's ADR-32 metadata (MetadataRequestSchema, MetadataResponseSchema). An
// empty string leaves that one out.
func WithSchema(request, response string) EndpointOption {
	return func(c *endpointConfig) {
		md := map[string]string{}
		if request != "" {
			md[MetadataRequestSchema] = request
		}
		if response != "" {
			md[MetadataResponseSchema] = response
		}
		WithMetadata(md)(c)
	}
}

type groupConfig struct {
	queue string
}

// GroupOption configures a Group.
type GroupOption func(*groupConfig)

// WithGroupQueueGroup sets the queue group of the group's endpoints (default the
// service's).
func WithGroupQueueGroup(queue string) GroupOption {
	return func(c *groupConfig) { c.queue = queue }
}
