package service

import (
	"context"
	"log/slog"
	"time"

	"github.com/dialtone-dev/dialtone"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// DefaultMaxConcurrent is the default number of handlers an instance runs at once.
const DefaultMaxConcurrent = 64

// DefaultDrainTimeout bounds the graceful stop Run performs when its context ends.
const DefaultDrainTimeout = 30 * time.Second

// DefaultQueueLength is how many requests may wait for a free slot by default.
const DefaultQueueLength = 16 * 1024

type options struct {
	onError       ErrorHandler
	maxConcurrent int
	hbInterval    time.Duration
	logger        *slog.Logger
	codec         dialtone.Codec
	tp            trace.TracerProvider
	mp            metric.MeterProvider
	prop          propagation.TextMapPropagator
	drainTimeout  time.Duration
	queueLen      int
	outer         []dialtone.Interceptor
	outerSet      bool
	interceptors  []dialtone.Interceptor
	inner         []dialtone.Interceptor
	innerSet      bool
}

// An Option configures a Service (New).
type Option interface {
	applyService(*options)
}

type optionFunc func(*options)

func (f optionFunc) applyService(o *options) { f(o) }

// WithMaxConcurrent sets how many handlers of this instance run at once, over all
// endpoints (default DefaultMaxConcurrent). Requests beyond it wait in the
// instance's request queue (WithQueueLength). Values below 1 mean 1.
func WithMaxConcurrent(n int) Option {
	return optionFunc(func(o *options) { o.maxConcurrent = max(n, 1) })
}

// WithHeartbeatInterval sets the heartbeat interval (default 1s).
func WithHeartbeatInterval(d time.Duration) Option {
	return optionFunc(func(o *options) { o.hbInterval = d })
}

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(o *options) {
		if l != nil {
			o.logger = l
		}
	})
}

// WithCodec sets the codec typed handlers (Handle) use (default dialtone.JSON).
func WithCodec(c dialtone.Codec) Option {
	return optionFunc(func(o *options) {
		if c != nil {
			o.codec = c
		}
	})
}

// WithTracerProvider sets where server spans go (default the global provider).
func WithTracerProvider(tp trace.TracerProvider) Option {
	return optionFunc(func(o *options) { o.tp = tp })
}

// WithMeterProvider sets where the Metrics interceptor and the instance's gauges
// record (default the global provider, which records nothing until an SDK is
// installed).
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(o *options) { o.mp = mp })
}

// WithOuterInterceptors replaces the standard interceptors every endpoint has
// before the service's, group's and endpoint's own. They are, outermost first:
// Deadline(), Tracing(tp, prop) and Metrics(mp) with the service's providers, and
// Recover(logger). Give them again in another order, among others of your own, or
// leave some out: without Deadline handlers do not see the caller's deadline,
// without Recover a panic ends the program.
func WithOuterInterceptors(interceptors ...dialtone.Interceptor) Option {
	return optionFunc(func(o *options) {
		o.outer, o.outerSet = append([]dialtone.Interceptor(nil), interceptors...), true
	})
}

// WithInnerInterceptors replaces the interceptors every endpoint has after its
// own, the last before the handler: by default Validate(), so that a request is
// checked after the interceptors that may refuse it (authentication) have run.
// WithInnerInterceptors() with nothing turns validation off.
func WithInnerInterceptors(interceptors ...dialtone.Interceptor) Option {
	return optionFunc(func(o *options) {
		o.inner, o.innerSet = append([]dialtone.Interceptor(nil), interceptors...), true
	})
}

// An InterceptorOption installs interceptors on a service (New), a group
// (AddGroup) or one endpoint (AddEndpoint, Handle).
type InterceptorOption interface {
	Option
	GroupOption
	EndpointOption
}

type interceptorOption []dialtone.Interceptor

func (ix interceptorOption) applyService(o *options) { o.interceptors = append(o.interceptors, ix...) }
func (ix interceptorOption) applyGroup(c *groupConfig) {
	c.interceptors = append(c.interceptors, ix...)
}
func (ix interceptorOption) applyEndpoint(c *endpointConfig) {
	c.interceptors = append(c.interceptors, ix...)
}

// WithInterceptors installs interceptors: given to New, on every endpoint of the
// service; to AddGroup, on every endpoint of the group (inside the service's and
// the enclosing group's); to AddEndpoint or Handle, on that endpoint (inside its
// group's). The whole chain of an endpoint is, outermost first:
//
//	standard (WithOuterInterceptors) > service > groups, outer first > endpoint > inner (WithInnerInterceptors) > handler
//
// Within one list, the first interceptor is the outermost: it sees the request
// first and the outcome last.
func WithInterceptors(interceptors ...dialtone.Interceptor) InterceptorOption {
	return interceptorOption(append([]dialtone.Interceptor(nil), interceptors...))
}

// WithPropagator sets how the trace context is read from request headers (default
// W3C trace context, as rpc's client writes it, so spans link with no setup).
func WithPropagator(p propagation.TextMapPropagator) Option {
	return optionFunc(func(o *options) { o.prop = p })
}

// WithQueueLength sets how many requests may wait for a free slot (default
// DefaultQueueLength; direct requests have a queue of an eighth of that). Beyond
// it the connection drops requests as a slow consumer and their callers time out
// (or, with the rpc client's Available pattern, go elsewhere). Values below 1
// mean 1.
func WithQueueLength(n int) Option {
	return optionFunc(func(o *options) { o.queueLen = max(n, 1) })
}

// WithDrainTimeout bounds the graceful stop that Run performs (default 30s).
func WithDrainTimeout(d time.Duration) Option {
	return optionFunc(func(o *options) { o.drainTimeout = d })
}

// ErrorEvent is a failure of the instance that its callers may not see, or not
// see in full: a reply that could not be sent, a handler that panicked, and
// every failure of a consumer (package event), whose publisher never hears of it.
type ErrorEvent struct {
	Endpoint string // endpoint name, or the consumer's (the event's) name
	Subject  string // the subject the request arrived on
	Err      error  // what went wrong, a *dialtone.Error
}

// An ErrorHandler is told about every ErrorEvent of an instance, as nats micro's
// ErrorHandler is. It runs on the goroutine that served the request, so it must
// not block for long.
type ErrorHandler func(ctx context.Context, ev ErrorEvent)

// WithErrorHandler sets the function told about failures callers may not see
// (default none: they are logged, at Warn or Error, and counted in the endpoint's
// errors).
func WithErrorHandler(h ErrorHandler) Option {
	return optionFunc(func(o *options) { o.onError = h })
}

type endpointConfig struct {
	subject      string
	queue        string
	metadata     map[string]string
	interceptors []dialtone.Interceptor
}

// An EndpointOption configures one endpoint (AddEndpoint, Handle).
type EndpointOption interface {
	applyEndpoint(*endpointConfig)
}

type endpointOptionFunc func(*endpointConfig)

func (f endpointOptionFunc) applyEndpoint(c *endpointConfig) { f(c) }

// WithSubject replaces the endpoint's subject (default <service>.<endpoint>, or
// <service>.<group>.<endpoint> in a group). The subject is used as given, without a
// group prefix; it must be a literal subject (no wildcards).
func WithSubject(subject string) EndpointOption {
	return endpointOptionFunc(func(c *endpointConfig) { c.subject = subject })
}

// A QueueGroupOption is both an EndpointOption and a GroupOption.
type QueueGroupOption interface {
	EndpointOption
	GroupOption
}

type queueGroupOption string

func (q queueGroupOption) applyEndpoint(c *endpointConfig) { c.queue = string(q) }
func (q queueGroupOption) applyGroup(c *groupConfig)       { c.queue = string(q) }

// WithQueueGroup sets the queue group of an endpoint, or of every endpoint of a
// group (default the enclosing group's, else Config.QueueGroup, else the service
// name).
func WithQueueGroup(queue string) QueueGroupOption { return queueGroupOption(queue) }

// WithMetadata adds metadata shown for the endpoint in $SRV.INFO.
func WithMetadata(md map[string]string) EndpointOption {
	return endpointOptionFunc(func(c *endpointConfig) { c.addMetadata(md) })
}

func (c *endpointConfig) addMetadata(md map[string]string) {
	if c.metadata == nil {
		c.metadata = make(map[string]string, len(md))
	}
	for k, v := range md {
		c.metadata[k] = v
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
	return endpointOptionFunc(func(c *endpointConfig) {
		md := map[string]string{}
		if request != "" {
			md[MetadataRequestSchema] = request
		}
		if response != "" {
			md[MetadataResponseSchema] = response
		}
		c.addMetadata(md)
	})
}

type groupConfig struct {
	queue        string
	interceptors []dialtone.Interceptor
}

// A GroupOption configures a Group (AddGroup). WithQueueGroup is one.
type GroupOption interface {
	applyGroup(*groupConfig)
}
