package interceptors

import (
	"context"
	"errors"

	"github.com/dialtone-dev/dialtone"
)

// HeaderAuth returns a service-side interceptor that reads the request header
// named header and hands its value to verify, which returns the context the
// handler should run with (e.g. carrying the caller's identity) or an error. A
// request without the header, or that verify refuses, is answered
// CodeUnauthenticated (or, when verify returns a *dialtone.Error, with that
// error's code, e.g. CodePermissionDenied) and goes no further: install it before
// interceptors that do work for the request. On the caller's side it does
// nothing; send the header with rpc.Header.
//
//	svc, err := service.New(nc, cfg, service.WithInterceptors(
//		interceptors.HeaderAuth("Authorization", func(ctx context.Context, v string) (context.Context, error) {
//			user, ok := tokens[strings.TrimPrefix(v, "Bearer ")]
//			if !ok {
//				return nil, errors.New("unknown token")
//			}
//			return context.WithValue(ctx, userKey{}, user), nil
//		})))
func HeaderAuth(header string, verify func(ctx context.Context, value string) (context.Context, error)) dialtone.Interceptor {
	return dialtone.UnaryInterceptorFunc(func(next dialtone.UnaryFunc) dialtone.UnaryFunc {
		return func(ctx context.Context, req dialtone.Request) (dialtone.Response, error) {
			if req.Spec.IsClient {
				return next(ctx, req)
			}
			v := req.Header.Get(header)
			if v == "" {
				return dialtone.Response{}, dialtone.Errorf(dialtone.CodeUnauthenticated, "missing %s header", header)
			}
			authed, err := verify(ctx, v)
			if err != nil {
				var de *dialtone.Error
				if errors.As(err, &de) {
					return dialtone.Response{}, de
				}
				return dialtone.Response{}, dialtone.Errorf(dialtone.CodeUnauthenticated, "%s: %v", header, err)
			}
			if authed == nil {
				authed = ctx
			}
			return next(authed, req)
		}
	})
}
