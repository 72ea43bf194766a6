package tracegate

import (
	"testing"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// The cases run in order: the last one installs an SDK globally.
func TestGate(t *testing.T) {
	if New(noop.NewTracerProvider()).Open() {
		t.Error("a no-op provider opened the gate")
	}
	if !New(sdktrace.NewTracerProvider()).Open() {
		t.Error("an SDK provider kept the gate shut")
	}
	if !isGlobalDelegate(otel.GetTracerProvider()) {
		// The global provider cannot be uninstalled: a second run in one process
		// (-count=2) finds the first run's SDK.
		t.Skip("an SDK is installed globally already, by an earlier run of this test")
	}
	g := New(otel.GetTracerProvider()) // the global stand-in: nothing installed yet
	if g.Open() {
		t.Fatal("the unset global provider opened the gate")
	}
	tp := sdktrace.NewTracerProvider()
	defer tp.Shutdown(t.Context())
	otel.SetTracerProvider(tp)
	if !g.Open() {
		t.Error("installing an SDK later did not open the gate")
	}
}
