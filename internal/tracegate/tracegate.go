// Package tracegate tells the SDK whether starting a span is worth it. A no-op
// provider never records, and neither does OpenTelemetry's global provider before
// an SDK is installed with otel.SetTracerProvider; starting spans then only costs
// allocations on every call. Installing an SDK later opens the gate.
package tracegate

import (
	"reflect"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Gate is decided once per provider and asked once per call.
type Gate struct {
	never bool                 // the provider is a no-op
	unset trace.TracerProvider // the global stand-in while no SDK is installed, else nil
}

// New returns the gate for tp, the provider a service or client was given or,
// when none was, otel.GetTracerProvider().
func New(tp trace.TracerProvider) Gate {
	if _, ok := tp.(noop.TracerProvider); ok {
		return Gate{never: true}
	}
	if isGlobalDelegate(tp) {
		return Gate{unset: tp}
	}
	return Gate{}
}

// Open reports whether spans can be recorded now.
func (g Gate) Open() bool {
	if g.never {
		return false
	}
	return g.unset == nil || otel.GetTracerProvider() != g.unset
}

// isGlobalDelegate reports whether tp is the global provider that stands in until
// an SDK is installed (otel.GetTracerProvider returns the SDK's own provider after).
func isGlobalDelegate(tp trace.TracerProvider) bool {
	t := reflect.TypeOf(tp)
	if t == nil {
		return false
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.PkgPath() == "go.opentelemetry.io/otel/internal/global"
}
