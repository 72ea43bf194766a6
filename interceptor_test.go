package dialtone_test

import (
	"context"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/dialtone-dev/dialtone"
)

// passThrough is the cheapest interceptor there is: it only calls next.
var passThrough = dialtone.UnaryInterceptorFunc(func(next dialtone.UnaryFunc) dialtone.UnaryFunc {
	return func(ctx context.Context, req dialtone.Request) (dialtone.Response, error) { return next(ctx, req) }
})

func answer(ctx context.Context, req dialtone.Request) (dialtone.Response, error) {
	return dialtone.Response{Data: req.Data}, nil
}

func TestChainOrder(t *testing.T) {
	var seen []string
	mark := func(name string) dialtone.Interceptor {
		return dialtone.UnaryInterceptorFunc(func(next dialtone.UnaryFunc) dialtone.UnaryFunc {
			return func(ctx context.Context, req dialtone.Request) (dialtone.Response, error) {
				seen = append(seen, name+">")
				req.Header.Set("X-Seen", req.Header.Get("X-Seen")+name)
				resp, err := next(ctx, req)
				seen = append(seen, "<"+name)
				return resp, err
			}
		})
	}
	call := dialtone.Chain(func(ctx context.Context, req dialtone.Request) (dialtone.Response, error) {
		seen = append(seen, "call:"+req.Header.Get("X-Seen"))
		return dialtone.Response{}, nil
	}, mark("a"), nil, mark("b"), mark("c"))
	if _, err := call(context.Background(), dialtone.Request{Header: nats.Header{}}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(seen, " "); got != "a> b> c> call:abc <c <b <a" {
		t.Fatalf("order: %s", got)
	}
	if dialtone.Chain(answer) == nil {
		t.Fatal("a chain of nothing is nil")
	}
}

// A chain is built once; calling through it allocates nothing, however many
// interceptors it has.
func TestChainDoesNotAllocate(t *testing.T) {
	req := dialtone.Request{Spec: dialtone.Spec{Kind: dialtone.KindUnary, Service: "s", Name: "n"}, Header: nats.Header{}, Data: []byte("x")}
	ctx := context.Background()
	for _, n := range []int{0, 1, 8} {
		ix := make([]dialtone.Interceptor, n)
		for i := range ix {
			ix[i] = passThrough
		}
		call := dialtone.Chain(answer, ix...)
		if a := testing.AllocsPerRun(1000, func() { _, _ = call(ctx, req) }); a != 0 {
			t.Errorf("%d interceptors: %v allocations per call", n, a)
		}
	}
}

// BenchmarkChain measures what an interceptor costs of its own: the time of a
// call through n pass-through interceptors. (ns/op at 8 - ns/op at 0) / 8 is the
// cost of one.
//
//	go test -run '^$' -bench Chain -benchmem .
func BenchmarkChain(b *testing.B) {
	req := dialtone.Request{Spec: dialtone.Spec{Kind: dialtone.KindUnary, Service: "s", Name: "n"}, Header: nats.Header{}, Data: []byte("x")}
	ctx := context.Background()
	for _, n := range []int{0, 1, 8} {
		ix := make([]dialtone.Interceptor, n)
		for i := range ix {
			ix[i] = passThrough
		}
		call := dialtone.Chain(answer, ix...)
		b.Run(strings.Repeat("i", n)+"|", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = call(ctx, req)
			}
		})
	}
}
