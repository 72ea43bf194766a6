package telemetry

import (
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/dialtone-dev/dialtone"
)

// Metric names, after OpenTelemetry's RPC semantic conventions.
const (
	ClientDuration = "rpc.client.call.duration" // seconds, one per call (retries included)
	ServerDuration = "rpc.server.call.duration" // seconds, one per request served
)

// DurationBuckets are the histogram bucket bounds, in seconds: from 50µs (a call on
// one machine) to 10s.
var DurationBuckets = []float64{
	0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
	0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
}

// clockBase makes a duration two reads of the monotonic clock only: time.Now
// reads the wall clock too, which costs several times as much on some VMs.
var clockBase = time.Now()

// metrics is the Metrics interceptor.
type metrics struct {
	hist   metric.Float64Histogram
	events metric.Float64Histogram // KindEvent: ProducerDuration or ConsumerDuration
	client bool
	attrs  sync.Map // attrKey -> []metric.RecordOption
}

type attrKey struct {
	kind                   dialtone.Kind
	service, name, subject string // subject: events only
	queue                  string // events: the consumer's queue group
	pattern                dialtone.Pattern
	code                   dialtone.Code
}

// Metrics returns the interceptor that records each call's duration, in seconds,
// in the histogram rpc.client.call.duration (client true) or
// rpc.server.call.duration, with the attributes rpc.system, rpc.service,
// rpc.method, rpc.response.status_code (the code's name, "ok" for success) and
// dialtone.pattern. The histogram's count per status is the count of calls by
// outcome. While the instrument is not enabled (no SDK installed) it only asks
// whether it is.
func Metrics(mp metric.MeterProvider, scope string, client bool) dialtone.Interceptor {
	name, desc := ServerDuration, "Duration of requests served by a Dialtone service endpoint."
	if client {
		name, desc = ClientDuration, "Duration of calls made with the Dialtone rpc client."
	}
	hist, err := mp.Meter(scope).Float64Histogram(name,
		metric.WithUnit("s"), metric.WithDescription(desc),
		metric.WithExplicitBucketBoundaries(DurationBuckets...))
	if err != nil {
		return nil // the API returns a working no-op instrument with the error; nothing to record to
	}
	evName, evDesc := ConsumerDuration, "Duration of events handled by a Dialtone service's subscription."
	if client {
		evName, evDesc = ProducerDuration, "Duration of events published with a Dialtone event publisher."
	}
	events, err := mp.Meter(scope).Float64Histogram(evName,
		metric.WithUnit("s"), metric.WithDescription(evDesc),
		metric.WithExplicitBucketBoundaries(DurationBuckets...))
	if err != nil {
		return nil
	}
	return &metrics{hist: hist, events: events, client: client}
}

func (m *metrics) WrapUnary(next dialtone.UnaryFunc) dialtone.UnaryFunc {
	return func(ctx context.Context, req dialtone.Request) (dialtone.Response, error) {
		hist := m.hist
		if req.Spec.Kind == dialtone.KindEvent {
			hist = m.events
		}
		if !hist.Enabled(ctx) {
			return next(ctx, req)
		}
		start := time.Since(clockBase)
		resp, err := next(ctx, req)
		hist.Record(ctx, (time.Since(clockBase) - start).Seconds(), m.options(&req, dialtone.CodeOf(err))...)
		return resp, err
	}
}

// options returns the attribute set of a call as record options, built once per
// endpoint, pattern and code.
func (m *metrics) options(req *dialtone.Request, code dialtone.Code) []metric.RecordOption {
	k := attrKey{kind: req.Spec.Kind, service: req.Spec.Service, name: req.Spec.Name, pattern: req.Pattern, code: code}
	if k.kind == dialtone.KindEvent {
		k.subject, k.queue = req.Spec.Subject, req.Spec.QueueGroup
	}
	if v, ok := m.attrs.Load(k); ok {
		return v.([]metric.RecordOption)
	}
	if k.kind == dialtone.KindEvent {
		opts := []metric.RecordOption{metric.WithAttributeSet(eventAttributes(k, m.client))}
		v, _ := m.attrs.LoadOrStore(k, opts)
		return v.([]metric.RecordOption)
	}
	set := attribute.NewSet(
		attribute.String(AttrSystem, System),
		attribute.String(AttrService, k.service),
		attribute.String(AttrMethod, k.name),
		attribute.String(AttrStatus, code.String()),
		attribute.String(AttrPattern, k.pattern.String()),
	)
	opts := []metric.RecordOption{metric.WithAttributeSet(set)}
	v, _ := m.attrs.LoadOrStore(k, opts)
	return v.([]metric.RecordOption)
}
