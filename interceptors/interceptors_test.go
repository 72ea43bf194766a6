package interceptors_test

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/dialtone-dev/dialtone"
	"github.com/dialtone-dev/dialtone/interceptors"
	"github.com/dialtone-dev/dialtone/internal/bustest"
	"github.com/dialtone-dev/dialtone/rpc"
	"github.com/dialtone-dev/dialtone/service"
)

type HelloRequest struct {
	Name string `json:"name" validate:"required"`
}

type HelloReply struct {
	Message string `json:"message"`
}

var sayHello = rpc.NewEndpoint[HelloRequest, HelloReply](rpc.Spec{Service: "greeter", Name: "SayHello"})

// serve starts a greeter on its own connection to url, with opts, whose handler
// runs h (when not nil) before answering.
func serve(t *testing.T, url string, h func(ctx context.Context, r *HelloRequest) error, opts ...service.Option) *service.Service {
	t.Helper()
	nc := bustest.Connect(t, url)
	opts = append([]service.Option{service.WithLogger(slog.New(slog.DiscardHandler))}, opts...)
	s, err := service.New(nc, service.Config{Name: "greeter", Version: "1.0.0"}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	err = service.Handle(s, "SayHello", func(ctx context.Context, r *HelloRequest) (*HelloReply, error) {
		if h != nil {
			if err := h(ctx, r); err != nil {
				return nil, err
			}
		}
		return &HelloReply{Message: "hello " + r.Name}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop(context.Background()) })
	return s
}

func forEachBackend(t *testing.T, f func(t *testing.T, url string)) {
	for _, b := range bustest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) { f(t, b.Start(t)[0]) })
	}
}

func TestLogging(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		var srvLog, cliLog bustest.Buffer
		s := serve(t, url, nil, service.WithInterceptors(
			interceptors.Logging(slog.New(slog.NewJSONHandler(&srvLog, nil)), interceptors.LogLevels(slog.LevelDebug, slog.LevelError),
				interceptors.LogAttrs(func(ctx context.Context, req dialtone.Request) []slog.Attr {
					return []slog.Attr{slog.String("user", req.Header.Get("X-User"))}
				}))))
		c := rpc.NewClient(bustest.Connect(t, url), rpc.WithInterceptors(
			interceptors.Logging(slog.New(slog.NewJSONHandler(&cliLog, nil)), interceptors.LogSample(0))))
		ctx := context.Background()
		if _, err := rpc.Call(ctx, c, sayHello, &HelloRequest{Name: "Ada"}, rpc.Header("X-User", "u1")); err != nil {
			t.Fatal(err)
		}
		if _, err := rpc.Call(ctx, c, sayHello, &HelloRequest{}, rpc.Direct(s.ID())); dialtone.CodeOf(err) != dialtone.CodeInvalidArgument {
			t.Fatalf("invalid request: %v", err)
		}

		// The service logs successes at Debug, below its handler's Info, so only the
		// failure, at Error, is written.
		srv := srvLog.JSONLines(t)
		if len(srv) != 1 || srv[0]["level"] != "ERROR" || srv[0]["msg"] != "rpc request" || srv[0]["service"] != "greeter" ||
			srv[0]["endpoint"] != "SayHello" || srv[0]["pattern"] != "direct" || srv[0]["instance"] != s.ID() ||
			srv[0]["code"] != "invalid_argument" || srv[0]["duration"] == nil || !strings.Contains(srv[0]["error"].(string), "name (required)") {
			t.Fatalf("service records %v", srv)
		}
		// The client samples no success; its failure is logged at Warn.
		cli := cliLog.JSONLines(t)
		if len(cli) != 1 || cli[0]["level"] != "WARN" || cli[0]["msg"] != "rpc call" || cli[0]["code"] != "invalid_argument" ||
			cli[0]["instance"] != s.ID() {
			t.Fatalf("client records %v", cli)
		}

		// Everything at Info, with the extra attribute.
		srvLog = bustest.Buffer{}
		c2 := rpc.NewClient(bustest.Connect(t, url), rpc.WithInterceptors(interceptors.Logging(slog.New(slog.NewJSONHandler(&srvLog, nil)),
			interceptors.LogAttrs(func(ctx context.Context, req dialtone.Request) []slog.Attr {
				return []slog.Attr{slog.String("user", req.Header.Get("X-User"))}
			}))))
		if _, err := rpc.Call(ctx, c2, sayHello, &HelloRequest{Name: "Ada"}, rpc.Header("X-User", "u1")); err != nil {
			t.Fatal(err)
		}
		if r := srvLog.JSONLines(t); len(r) != 1 || r[0]["level"] != "INFO" || r[0]["code"] != "ok" || r[0]["user"] != "u1" || r[0]["pattern"] != "balanced" {
			t.Fatalf("records %v", r)
		}
	})
}

func TestRateLimit(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		var handled atomic.Int64
		serve(t, url, func(context.Context, *HelloRequest) error { handled.Add(1); return nil })
		c := rpc.NewClient(bustest.Connect(t, url), rpc.WithInterceptors(interceptors.RateLimit(rate.Every(time.Hour), 2)))
		for range 2 {
			if _, err := rpc.Call(context.Background(), c, sayHello, &HelloRequest{Name: "x"}); err != nil {
				t.Fatal(err)
			}
		}
		// The third would wait an hour: with a 50ms deadline it fails at once.
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := rpc.Call(ctx, c, sayHello, &HelloRequest{Name: "x"})
		if dialtone.CodeOf(err) != dialtone.CodeResourceExhausted || !strings.Contains(err.Error(), "rate limit") {
			t.Fatalf("third call: %v", err)
		}
		if time.Since(start) > 40*time.Millisecond || handled.Load() != 2 {
			t.Fatalf("waited %v, %d handled: the refused call waited or was sent", time.Since(start), handled.Load())
		}
	})
}

func TestConcurrencyLimit(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		var handled atomic.Int64
		release, started := make(chan struct{}), make(chan struct{}, 1)
		serve(t, url, func(context.Context, *HelloRequest) error {
			handled.Add(1)
			started <- struct{}{}
			<-release
			return nil
		})
		c := rpc.NewClient(bustest.Connect(t, url), rpc.WithInterceptors(interceptors.ConcurrencyLimit(1)))
		first := make(chan error, 1)
		go func() {
			_, err := rpc.Call(context.Background(), c, sayHello, &HelloRequest{Name: "x"})
			first <- err
		}()
		<-started
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		if _, err := rpc.Call(ctx, c, sayHello, &HelloRequest{Name: "y"}); dialtone.CodeOf(err) != dialtone.CodeResourceExhausted {
			t.Fatalf("second call: %v", err)
		}
		close(release)
		if err := <-first; err != nil {
			t.Fatal(err)
		}
		// The slot is free again.
		if _, err := rpc.Call(context.Background(), c, sayHello, &HelloRequest{Name: "z"}); err != nil {
			t.Fatal(err)
		}
		if handled.Load() != 2 {
			t.Fatalf("%d handled, want 2", handled.Load())
		}
	})
}

func TestHeaderAuth(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		type userKey struct{}
		var handled atomic.Int64
		auth := interceptors.HeaderAuth("Authorization", func(ctx context.Context, v string) (context.Context, error) {
			switch v {
			case "Bearer ada":
				return context.WithValue(ctx, userKey{}, "ada"), nil
			case "Bearer banned":
				return nil, dialtone.Errorf(dialtone.CodePermissionDenied, "banned")
			}
			return nil, context.Canceled // any other error: unauthenticated
		})
		serve(t, url, func(ctx context.Context, r *HelloRequest) error {
			handled.Add(1)
			if ctx.Value(userKey{}) != "ada" {
				t.Errorf("handler's context has user %v", ctx.Value(userKey{}))
			}
			return nil
		}, service.WithInterceptors(auth))
		c := rpc.NewClient(bustest.Connect(t, url), rpc.WithInterceptors(auth)) // on the client it passes through
		ctx := context.Background()
		for _, tc := range []struct {
			hdr  string
			code dialtone.Code
		}{{"", dialtone.CodeUnauthenticated}, {"Bearer nobody", dialtone.CodeUnauthenticated},
			{"Bearer banned", dialtone.CodePermissionDenied}, {"Bearer ada", 0}} {
			var opts []rpc.CallOption
			if tc.hdr != "" {
				opts = append(opts, rpc.Header("Authorization", tc.hdr))
			}
			if _, err := rpc.Call(ctx, c, sayHello, &HelloRequest{Name: "x"}, opts...); dialtone.CodeOf(err) != tc.code {
				t.Errorf("%q: %v, want %v", tc.hdr, err, tc.code)
			}
		}
		if handled.Load() != 1 {
			t.Fatalf("%d handled, want 1", handled.Load())
		}
	})
}
