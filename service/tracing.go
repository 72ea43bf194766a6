package service

import (
	"reflect"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// tracing reports whether server spans can be recorded. A no-op provider never
// records, and neither does the global provider before an SDK is installed with
// otel.SetTracerProvider; starting spans then only costs allocations. The handler's
// context carries the caller's trace context either way.
func (s *Service) tracing() bool {
	if s.noTrace {
		return false
	}
	return s.unset == nil || otel.GetTracerProvider() != s.unset
}

func isNoop(tp trace.TracerProvider) bool {
	_, ok := tp.(noop.TracerProvider)
	return ok
}

// isGlobalDelegate reports whether tp is the OpenTelemetry global provider that
// stands in until an SDK is installed (otel.GetTracerProvider returns the SDK's
// own provider after that).
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
