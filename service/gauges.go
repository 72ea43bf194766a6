package service

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Instance gauges, observed when the MeterProvider collects, so they cost nothing
// per request. Each carries rpc.service, dialtone.instance and
// dialtone.version.
const (
	GaugeInFlight = "dialtone.service.in_flight" // handlers running now (and slots reserved for availability calls)
	GaugeQueued   = "dialtone.service.queued"    // requests waiting for a slot (as the heartbeat's load.queued)
	GaugeCapacity = "dialtone.service.capacity"  // WithMaxConcurrent
	GaugeDraining = "dialtone.service.draining"  // 1 while Stop drains the instance, else 0
)

// registerGauges registers the instance gauges with mp. The returned
// registration is undone when the instance stops.
func (s *Service) registerGauges(mp metric.MeterProvider) (metric.Registration, error) {
	m := mp.Meter(instrumentationName)
	inFlight, err1 := m.Int64ObservableGauge(GaugeInFlight, metric.WithUnit("{request}"),
		metric.WithDescription("Handlers of the instance running now."))
	queued, err2 := m.Int64ObservableGauge(GaugeQueued, metric.WithUnit("{request}"),
		metric.WithDescription("Requests of the instance waiting for a free slot."))
	capacity, err3 := m.Int64ObservableGauge(GaugeCapacity, metric.WithUnit("{request}"),
		metric.WithDescription("Handlers the instance runs at most at once."))
	draining, err4 := m.Int64ObservableGauge(GaugeDraining,
		metric.WithDescription("1 while the instance drains (Stop), else 0."))
	for _, err := range []error{err1, err2, err3, err4} {
		if err != nil {
			return nil, err
		}
	}
	attrs := metric.WithAttributeSet(attribute.NewSet(
		attribute.String("rpc.service", s.cfg.Name),
		attribute.String("dialtone.instance", s.id),
		attribute.String("dialtone.version", s.cfg.Version),
	))
	return m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		s.mu.Lock()
		st := s.state
		s.mu.Unlock()
		drain := int64(0)
		if st == stateStopping {
			drain = 1
		}
		o.ObserveInt64(inFlight, s.inFlight.Load(), attrs)
		o.ObserveInt64(queued, int64(s.queued()), attrs)
		o.ObserveInt64(capacity, int64(cap(s.sem)), attrs)
		o.ObserveInt64(draining, drain, attrs)
		return nil
	}, inFlight, queued, capacity, draining)
}
