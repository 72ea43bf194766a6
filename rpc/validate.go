package rpc

import (
	"context"

	"github.com/dialtone-dev/dialtone"
)

// ValidateRequests returns the interceptor that checks a typed request against
// its `validate` tags (dialtone.Validate) before it is sent, so an invalid
// request fails with CodeInvalidArgument and its fields without a round trip.
// It is opt-in: the service validates every request anyway, and that check is
// the one that counts. Install it where it should run, e.g. last:
//
//	c := rpc.NewClient(nc, rpc.WithInnerInterceptors(rpc.ValidateRequests()))
//
// Raw calls (CallRaw) have no typed request and pass unchecked.
func ValidateRequests() dialtone.Interceptor {
	return dialtone.UnaryInterceptorFunc(func(next dialtone.UnaryFunc) dialtone.UnaryFunc {
		return func(ctx context.Context, req dialtone.Request) (dialtone.Response, error) {
			if req.Msg != nil {
				if err := dialtone.Validate(req.Msg); err != nil {
					return dialtone.Response{}, err
				}
			}
			return next(ctx, req)
		}
	})
}
