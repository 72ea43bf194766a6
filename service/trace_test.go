package service_test

import (
	"context"
	"testing"

	"github.com/dialtone-dev/dialtone"
	"github.com/dialtone-dev/dialtone/internal/bustest"
	"github.com/dialtone-dev/dialtone/service"
	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

func TestServerSpanIsChildOfCaller(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		exp := tracetest.NewInMemoryExporter()
		tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
		defer tp.Shutdown(context.Background())
		prop := propagation.TraceContext{}

		seen := make(chan trace.SpanContext, 1)
		s := e.start(service.Config{Name: "traced", Version: "1.0.0"}, func(s *service.Service) {
			_ = service.Handle(s, "Hello", func(ctx context.Context, r *helloReq) (*helloResp, error) {
				seen <- trace.SpanContextFromContext(ctx)
				if r.Name == "missing" {
					return nil, dialtone.Errorf(dialtone.CodeNotFound, "nobody")
				}
				return &helloResp{}, nil
			})
		}, service.WithTracerProvider(tp), service.WithPropagator(prop))

		// The caller's span, injected as a W3C traceparent header.
		ctx, parent := tp.Tracer("test").Start(context.Background(), "caller", trace.WithSpanKind(trace.SpanKindClient))
		hdr := nats.Header{}
		prop.Inject(ctx, dialtone.HeaderCarrier(hdr))
		parent.End()
		if _, derr := call(t, e.Client, "traced.Hello", helloReq{Name: "ann"}, hdr); derr != nil {
			t.Fatal(derr)
		}
		inHandler := <-seen
		if _, derr := call(t, e.Client, "traced.Hello", helloReq{Name: "missing"}, nil); derr == nil {
			t.Fatal("want an error")
		}
		<-seen
		if err := s.Stop(context.Background()); err != nil { // all handlers done: spans ended
			t.Fatal(err)
		}

		var server []tracetest.SpanStub
		for _, sp := range exp.GetSpans() {
			if sp.SpanKind == trace.SpanKindServer {
				server = append(server, sp)
			}
		}
		if len(server) != 2 {
			t.Fatalf("%d server spans, want 2", len(server))
		}
		sp := server[0]
		if sp.Name != "traced.Hello" {
			t.Fatalf("span name %q", sp.Name)
		}
		if sp.Parent.SpanID() != parent.SpanContext().SpanID() || sp.SpanContext.TraceID() != parent.SpanContext().TraceID() {
			t.Fatalf("server span not a child of the caller: parent %v", sp.Parent)
		}
		if inHandler.SpanID() != sp.SpanContext.SpanID() {
			t.Fatal("handler context does not carry the server span")
		}
		if server[1].Parent.IsValid() {
			t.Fatal("request without traceparent got a remote parent")
		}
		if server[1].Status.Code.String() != "Error" {
			t.Fatalf("error span status %v", server[1].Status)
		}
		// The code is named by the same attribute, with the same value, as on the
		// client's span (rpc's TestTracing).
		code := ""
		for _, kv := range server[1].Attributes {
			if kv.Key == "dialtone.error_code" {
				code = kv.Value.AsString()
			}
		}
		if code != "not_found" {
			t.Fatalf("error span: dialtone.error_code = %q, want not_found (attributes %v)", code, server[1].Attributes)
		}
	})
}

var globalInstalled bool

// TestGlobalProviderInstalledLater: a service created before the application
// installs its OpenTelemetry SDK as the global provider still records spans once
// it is installed. The global provider can be installed once per process, so this
// runs on one backend.
func TestGlobalProviderInstalledLater(t *testing.T) {
	if globalInstalled {
		t.Skip("the global provider was installed by an earlier run (-count)")
	}
	globalInstalled = true
	e := &env{&bustest.Env{T: t, URLs: bustest.Backends(t)[0].Start(t)}}
	e.Client = bustest.Connect(t, e.URLs[0])
	s := e.start(service.Config{Name: "lateotel", Version: "1.0.0"}, func(s *service.Service) {
		_ = service.Handle(s, "Hello", greeter)
	})
	if _, derr := call(t, e.Client, "lateotel.Hello", helloReq{Name: "before"}, nil); derr != nil {
		t.Fatal(derr)
	}
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	otel.SetTracerProvider(tp)
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	if _, derr := call(t, e.Client, "lateotel.Hello", helloReq{Name: "after"}, nil); derr != nil {
		t.Fatal(derr)
	}
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	var n int
	for _, sp := range exp.GetSpans() {
		if sp.Name == "lateotel.Hello" && sp.SpanKind == trace.SpanKindServer {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d server spans after installing the SDK, want 1", n)
	}
}
