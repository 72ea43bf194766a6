package interceptors

import (
	"context"

	"golang.org/x/time/rate"

	"github.com/dialtone-dev/dialtone"
)

// RateLimit returns an interceptor that lets calls through at most at r per
// second on average, with bursts of up to burst calls (golang.org/x/time/rate):
// a call waits for its turn. A call whose context ends first, or whose deadline
// comes before its turn would, fails at once with CodeResourceExhausted and is
// not sent. Install it on an rpc.Client to limit what that caller sends (one
// limiter for all its calls), or per endpoint with rpc.WithEndpointInterceptors.
func RateLimit(r rate.Limit, burst int) dialtone.Interceptor {
	lim := rate.NewLimiter(r, burst)
	return dialtone.UnaryInterceptorFunc(func(next dialtone.UnaryFunc) dialtone.UnaryFunc {
		return func(ctx context.Context, req dialtone.Request) (dialtone.Response, error) {
			if !lim.Allow() {
				if err := lim.Wait(ctx); err != nil {
					return dialtone.Response{}, dialtone.Errorf(dialtone.CodeResourceExhausted,
						"%s.%s: client rate limit of %g calls/s (burst %d): %v", req.Spec.Service, req.Spec.Name, float64(r), burst, err)
				}
			}
			return next(ctx, req)
		}
	})
}

// ConcurrencyLimit returns an interceptor that lets at most n calls be in flight
// at once (n < 1 means 1); a call waits for one of them to end. A call whose
// context ends before it gets its turn fails with CodeResourceExhausted and is
// not sent. A context without a deadline or cancel waits as long as it takes.
func ConcurrencyLimit(n int) dialtone.Interceptor {
	n = max(n, 1)
	slots := make(chan struct{}, n)
	return dialtone.UnaryInterceptorFunc(func(next dialtone.UnaryFunc) dialtone.UnaryFunc {
		return func(ctx context.Context, req dialtone.Request) (dialtone.Response, error) {
			select {
			case slots <- struct{}{}:
			default:
				select {
				case slots <- struct{}{}:
				case <-ctx.Done():
					return dialtone.Response{}, dialtone.Errorf(dialtone.CodeResourceExhausted,
						"%s.%s: client concurrency limit of %d calls in flight: %v", req.Spec.Service, req.Spec.Name, n, ctx.Err())
				}
			}
			defer func() { <-slots }()
			return next(ctx, req)
		}
	})
}
