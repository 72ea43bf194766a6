// Package promexport serves the SDK's OpenTelemetry metrics to Prometheus: it
// builds an OpenTelemetry SDK MeterProvider whose metrics are read, at each
// scrape, by the OpenTelemetry Prometheus exporter, and the http.Handler that
// answers the scrape in Prometheus' text format.
//
//	mp, metrics, err := promexport.New()
//	svc, err := service.New(nc, cfg, service.WithMeterProvider(mp))
//	http.Handle("/metrics", metrics)
//
// What a Dialtone service or client records (see service.Metrics, rpc.Metrics and
// the instance gauges) then reads in Prometheus as, for example:
//
//	rpc_server_call_duration_seconds_bucket{rpc_service="greeter",rpc_method="SayHello",rpc_response_status_code="ok",...}
//	rpc_server_call_duration_seconds_count{...}    calls by outcome
//	dialtone_service_in_flight{rpc_service="greeter",dialtone_instance="..."}
//
// Each New has a registry of its own, so two in one process (or one per test) do
// not collide, and the Go runtime and process collectors of Prometheus' client
// are registered with it too.
package promexport

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// New returns a MeterProvider to give the SDK (service.WithMeterProvider,
// rpc.WithMeterProvider, or otel.SetMeterProvider for everything) and the handler
// to serve at /metrics. Shut the provider down (Shutdown) when the program ends.
func New() (*sdkmetric.MeterProvider, http.Handler, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	exp, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return nil, nil, err
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
	return mp, promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}), nil
}
