package service_test

import (
	"context"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/dialtone-dev/dialtone"
	"github.com/dialtone-dev/dialtone/rpc"
	"github.com/dialtone-dev/dialtone/service"
)

var sayHello = rpc.NewEndpoint[helloReq, helloResp](rpc.Spec{Service: "greeter", Name: "SayHello"})

// trail records what interceptors saw, in order, from any goroutine.
type trail struct {
	mu   sync.Mutex
	seen []string
	reqs []dialtone.Request
	resp []dialtone.Response
}

func (tr *trail) add(s string) {
	tr.mu.Lock()
	tr.seen = append(tr.seen, s)
	tr.mu.Unlock()
}

func (tr *trail) String() string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return strings.Join(tr.seen, " ")
}

// mark is an interceptor that writes "name>" into tr before the call and "<name"
// after it, and keeps the request and response it saw.
func (tr *trail) mark(name string) dialtone.Interceptor {
	return dialtone.UnaryInterceptorFunc(func(next dialtone.UnaryFunc) dialtone.UnaryFunc {
		return func(ctx context.Context, req dialtone.Request) (dialtone.Response, error) {
			tr.add(name + ">")
			saved := req
			saved.Header = nats.Header(maps.Clone(req.Header)) // the caller's header map is reused after the call
			resp, err := next(ctx, req)
			tr.mu.Lock()
			tr.seen = append(tr.seen, "<"+name)
			tr.reqs = append(tr.reqs, saved)
			tr.resp = append(tr.resp, resp)
			tr.mu.Unlock()
			return resp, err
		}
	})
}

// The documented order, on both ends: client (outer first) > endpoint's > inner >
// [bus] > service's > group's > endpoint's > handler, and back in reverse.
func TestInterceptorOrder(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		var tr trail
		s := e.start(service.Config{Name: "greeter", Version: "1.0.0"}, func(s *service.Service) {
			g := s.AddGroup("v2", service.WithInterceptors(tr.mark("grp")))
			inner := g.AddGroup("inner", service.WithInterceptors(tr.mark("grp2")))
			if err := service.Handle(inner, "SayHello", func(ctx context.Context, r *helloReq) (*helloResp, error) {
				tr.add("handler")
				return &helloResp{Message: "hi " + r.Name}, nil
			}, service.WithSubject("greeter.SayHello"), service.WithInterceptors(tr.mark("ep"))); err != nil {
				t.Fatal(err)
			}
		}, service.WithInterceptors(tr.mark("svc1"), tr.mark("svc2")))

		c := rpc.NewClient(e.Client,
			rpc.WithInterceptors(tr.mark("c1"), tr.mark("c2")),
			rpc.WithEndpointInterceptors(sayHello.Spec(), tr.mark("cep")),
			rpc.WithInnerInterceptors(tr.mark("cin")))
		resp, err := rpc.Call(context.Background(), c, sayHello, &helloReq{Name: "Ada"}, rpc.Header("X-Who", "me"))
		if err != nil || resp.Message != "hi Ada" {
			t.Fatalf("call: %v, %v", resp, err)
		}
		want := "c1> c2> cep> cin> svc1> svc2> grp> grp2> ep> handler <ep <grp2 <grp <svc2 <svc1 <cin <cep <c2 <c1"
		if got := tr.String(); got != want {
			t.Fatalf("order\n got %s\nwant %s", got, want)
		}

		// What each end saw: the server's requests come first in tr.reqs (they end first).
		srv, cli := tr.reqs[0], tr.reqs[len(tr.reqs)-1]
		if srv.Spec != (dialtone.Spec{Kind: dialtone.KindUnary, Service: "greeter", Name: "SayHello", Subject: "greeter.SayHello"}) ||
			srv.Pattern != dialtone.PatternBalanced || srv.Instance != s.ID() || srv.Header.Get("X-Who") != "me" {
			t.Fatalf("server saw %+v", srv)
		}
		if in, ok := srv.Msg.(*helloReq); !ok || in.Name != "Ada" || string(srv.Data) != `{"name":"Ada"}` {
			t.Fatalf("server saw message %#v, data %s", srv.Msg, srv.Data)
		}
		if out, ok := tr.resp[0].Msg.(*helloResp); !ok || out.Message != "hi Ada" || string(tr.resp[0].Data) != `{"message":"hi Ada"}` {
			t.Fatalf("server's response %#v, data %s", tr.resp[0].Msg, tr.resp[0].Data)
		}
		if !cli.Spec.IsClient || cli.Spec.Service != "greeter" || cli.Spec.Name != "SayHello" || cli.Spec.Subject != "greeter.SayHello" ||
			cli.Pattern != dialtone.PatternBalanced || cli.Header.Get("X-Who") != "me" {
			t.Fatalf("client saw %+v", cli)
		}
		if in, ok := cli.Msg.(*helloReq); !ok || in.Name != "Ada" || cli.Data != nil {
			t.Fatalf("client saw message %#v, data %s", cli.Msg, cli.Data)
		}
		if r := tr.resp[len(tr.resp)-1]; string(r.Data) != `{"message":"hi Ada"}` || r.Msg != nil {
			t.Fatalf("client's response %+v", r)
		}
	})
}

// Interceptors are per endpoint where installed so: another endpoint of the same
// service, and calls to it from the same client, do not pass through them.
func TestInterceptorPerEndpoint(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		var tr trail
		s := e.start(service.Config{Name: "greeter", Version: "1.0.0"}, func(s *service.Service) {
			_ = service.Handle(s, "SayHello", greeter, service.WithInterceptors(tr.mark("srv-hello")))
			_ = service.Handle(s, "Other", greeter)
		})
		other := rpc.NewEndpoint[helloReq, helloResp](rpc.Spec{Service: "greeter", Name: "Other"})
		c := rpc.NewClient(e.Client, rpc.WithEndpointInterceptors(sayHello.Spec(), tr.mark("cli-hello")))
		for range 2 {
			if _, err := rpc.Call(context.Background(), c, other, &helloReq{Name: "x"}); err != nil {
				t.Fatal(err)
			}
		}
		if got := tr.String(); got != "" {
			t.Fatalf("calls to Other went through %s", got)
		}
		if _, err := rpc.Call(context.Background(), c, sayHello, &helloReq{Name: "x"}, rpc.Direct(s.ID())); err != nil {
			t.Fatal(err)
		}
		if got := tr.String(); got != "cli-hello> srv-hello> <srv-hello <cli-hello" {
			t.Fatalf("SayHello went through %q", got)
		}
		// A direct call: the client names the instance, the service sees how it came.
		if srv, cli := tr.reqs[0], tr.reqs[1]; srv.Pattern != dialtone.PatternDirect || cli.Pattern != dialtone.PatternDirect || cli.Instance != s.ID() {
			t.Fatalf("patterns: server %v, client %v %q", srv.Pattern, cli.Pattern, cli.Instance)
		}
	})
}

// requireToken is the auth hook of the tests: it reads a header and refuses the
// call before anything else runs.
func requireToken(calls *atomic.Int64) dialtone.Interceptor {
	return dialtone.UnaryInterceptorFunc(func(next dialtone.UnaryFunc) dialtone.UnaryFunc {
		return func(ctx context.Context, req dialtone.Request) (dialtone.Response, error) {
			calls.Add(1)
			if req.Header.Get("Authorization") != "Bearer s3cret" {
				return dialtone.Response{}, dialtone.Errorf(dialtone.CodeUnauthenticated, "a valid Authorization header is required")
			}
			return next(ctx, req)
		}
	})
}

// Short-circuit on both ends: a server interceptor refuses before validation and
// the handler; a client interceptor refuses before anything is sent, or answers
// itself with a typed response.
func TestInterceptorShortCircuit(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		var handled, checked atomic.Int64
		e.start(service.Config{Name: "greeter", Version: "1.0.0"}, func(s *service.Service) {
			_ = service.Handle(s, "SayHello", func(ctx context.Context, r *helloReq) (*helloResp, error) {
				handled.Add(1)
				return &helloResp{Message: "hi " + r.Name}, nil
			})
		}, service.WithInterceptors(requireToken(&checked)))
		c := rpc.NewClient(e.Client)
		ctx := context.Background()

		// An invalid request without a token: refused as unauthenticated, not as
		// invalid (validation runs inside the user's interceptors).
		_, err := rpc.Call(ctx, c, sayHello, &helloReq{})
		if dialtone.CodeOf(err) != dialtone.CodeUnauthenticated {
			t.Fatalf("no token: %v, want unauthenticated", err)
		}
		_, err = rpc.Call(ctx, c, sayHello, &helloReq{}, rpc.Header("Authorization", "Bearer s3cret"))
		if dialtone.CodeOf(err) != dialtone.CodeInvalidArgument {
			t.Fatalf("token, invalid request: %v, want invalid_argument", err)
		}
		resp, err := rpc.Call(ctx, c, sayHello, &helloReq{Name: "Ada"}, rpc.Header("Authorization", "Bearer s3cret"))
		if err != nil || resp.Message != "hi Ada" {
			t.Fatalf("token: %v %v", resp, err)
		}
		if handled.Load() != 1 || checked.Load() != 3 {
			t.Fatalf("handler ran %d times, auth %d, want 1 and 3", handled.Load(), checked.Load())
		}

		// Client side: refuse, or answer from a cache, without sending.
		deny := dialtone.UnaryInterceptorFunc(func(next dialtone.UnaryFunc) dialtone.UnaryFunc {
			return func(ctx context.Context, req dialtone.Request) (dialtone.Response, error) {
				if req.Msg.(*helloReq).Name == "cached" {
					return dialtone.Response{Msg: &helloResp{Message: "from cache"}}, nil
				}
				return dialtone.Response{}, dialtone.Errorf(dialtone.CodePermissionDenied, "not today")
			}
		})
		c = rpc.NewClient(e.Client, rpc.WithInterceptors(deny))
		out := e.Client.Stats().OutMsgs
		if _, err := rpc.Call(ctx, c, sayHello, &helloReq{Name: "x"}); dialtone.CodeOf(err) != dialtone.CodePermissionDenied {
			t.Fatalf("client refusal: %v", err)
		}
		if resp, err := rpc.Call(ctx, c, sayHello, &helloReq{Name: "cached"}); err != nil || resp.Message != "from cache" {
			t.Fatalf("client cache: %v %v", resp, err)
		}
		if e.Client.Stats().OutMsgs != out || handled.Load() != 1 {
			t.Fatal("a short-circuited call was sent")
		}
	})
}

// An interceptor may call next again: a client retry, and a server interceptor
// that sees the handler's error and answers instead.
func TestInterceptorRetries(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		var n atomic.Int64
		e.start(service.Config{Name: "greeter", Version: "1.0.0"}, func(s *service.Service) {
			_ = service.Handle(s, "SayHello", func(ctx context.Context, r *helloReq) (*helloResp, error) {
				if n.Add(1)%2 == 1 {
					return nil, dialtone.Errorf(dialtone.CodeUnavailable, "odd call")
				}
				return &helloResp{Message: "hi"}, nil
			})
		})
		var attempts atomic.Int64
		retry := dialtone.UnaryInterceptorFunc(func(next dialtone.UnaryFunc) dialtone.UnaryFunc {
			return func(ctx context.Context, req dialtone.Request) (dialtone.Response, error) {
				for {
					attempts.Add(1)
					resp, err := next(ctx, req)
					if dialtone.CodeOf(err) != dialtone.CodeUnavailable || attempts.Load() >= 3 {
						return resp, err
					}
				}
			}
		})
		c := rpc.NewClient(e.Client, rpc.WithInterceptors(retry))
		resp, err := rpc.Call(context.Background(), c, sayHello, &helloReq{Name: "x"})
		if err != nil || resp.Message != "hi" || attempts.Load() != 2 || n.Load() != 2 {
			t.Fatalf("retry: %v %v, %d attempts, %d requests", resp, err, attempts.Load(), n.Load())
		}
	})
}

// The standard interceptors can be reordered, replaced and left out.
func TestStandardInterceptorsReplaceable(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		var sawPanic atomic.Value
		outside := dialtone.UnaryInterceptorFunc(func(next dialtone.UnaryFunc) dialtone.UnaryFunc {
			return func(ctx context.Context, req dialtone.Request) (dialtone.Response, error) {
				resp, err := next(ctx, req)
				if err != nil {
					sawPanic.Store(err.Error())
				}
				return resp, err
			}
		})
		var hadDeadline atomic.Bool
		e.start(service.Config{Name: "greeter", Version: "1.0.0"}, func(s *service.Service) {
			_ = service.Handle(s, "SayHello", func(ctx context.Context, r *helloReq) (*helloResp, error) {
				_, ok := ctx.Deadline()
				hadDeadline.Store(ok)
				if r.Name == "panic" {
					panic("boom")
				}
				return &helloResp{Message: "hi " + r.Name}, nil
			})
		},
			// No Deadline, no tracing or metrics; Recover inside our own interceptor,
			// which so sees the panic as an error. No validation.
			service.WithOuterInterceptors(outside, service.Recover(slog.New(slog.DiscardHandler))),
			service.WithInnerInterceptors())
		c := rpc.NewClient(e.Client)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if resp, err := rpc.Call(ctx, c, sayHello, &helloReq{}); err != nil || resp.Message != "hi " {
			t.Fatalf("without validation an empty name is served: %v %v", resp, err)
		}
		if hadDeadline.Load() {
			t.Fatal("the handler had a deadline without the Deadline interceptor")
		}
		if _, err := rpc.Call(ctx, c, sayHello, &helloReq{Name: "panic"}); dialtone.CodeOf(err) != dialtone.CodeInternal {
			t.Fatalf("panic: %v", err)
		}
		if got, _ := sawPanic.Load().(string); got != "internal: internal error" {
			t.Fatalf("the interceptor outside Recover saw %q", got)
		}
	})
}

// A request that does not decode still passes through the interceptors, with a
// nil Msg, and is answered CodeInvalidArgument by the endpoint.
func TestUndecodableRequestThroughInterceptors(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		var tr trail
		e.start(service.Config{Name: "greeter", Version: "1.0.0"}, func(s *service.Service) {
			_ = service.Handle(s, "SayHello", greeter)
		}, service.WithInterceptors(tr.mark("svc")))
		m, err := e.Client.Request("greeter.SayHello", []byte("{not json"), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		de := dialtone.ErrorFromHeader(m.Header)
		if de == nil || de.Code() != dialtone.CodeInvalidArgument || !strings.Contains(de.Message(), "decode request") {
			t.Fatalf("reply error %v", de)
		}
		if got := tr.String(); got != "svc> <svc" || tr.reqs[0].Msg != nil || string(tr.reqs[0].Data) != "{not json" {
			t.Fatalf("interceptor saw %s, %+v", got, tr.reqs)
		}
	})
}

// Raw endpoints and CallRaw pass their bytes through the same chain.
func TestInterceptorRaw(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		var tr trail
		e.start(service.Config{Name: "raw", Version: "1.0.0"}, func(s *service.Service) {
			_ = s.AddEndpoint("Echo", service.HandlerFunc(func(ctx context.Context, r *service.Request) (*service.Response, error) {
				return &service.Response{Data: append([]byte("echo:"), r.Data...), Header: nats.Header{"X-Sub": {r.Subject}}}, nil
			}))
		}, service.WithInterceptors(tr.mark("svc")))
		c := rpc.NewClient(e.Client, rpc.WithInterceptors(tr.mark("cli")))
		m, err := c.CallRaw(context.Background(), rpc.Spec{Service: "raw", Name: "Echo"}, []byte("x"), nil, rpc.LowestLatency())
		if err != nil || string(m.Data) != "echo:x" || m.Header.Get("X-Sub") != "_DT.raw.all.raw.Echo" {
			t.Fatalf("CallRaw: %+v %v", m, err)
		}
		if got := tr.String(); got != "cli> svc> <svc <cli" {
			t.Fatalf("order %s", got)
		}
		srv, cli := tr.reqs[0], tr.reqs[1]
		if srv.Msg != nil || string(srv.Data) != "x" || srv.Pattern != dialtone.PatternLowestLatency ||
			cli.Msg != nil || string(cli.Data) != "x" || cli.Pattern != dialtone.PatternLowestLatency {
			t.Fatalf("saw server %+v, client %+v", srv, cli)
		}
		if got := tr.resp[0].Header.Get("X-Sub"); got != "_DT.raw.all.raw.Echo" {
			t.Fatalf("server interceptor saw reply header %q", got)
		}
	})
}
