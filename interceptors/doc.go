// Package interceptors holds interceptors a Dialtone user reaches for, ready to
// install on an rpc.Client or a service:
//
//   - Logging: one structured log/slog record per call, on either end, with
//     levels and sampling;
//   - RateLimit and ConcurrencyLimit: a caller's own limits, so one client cannot
//     flood a service;
//   - HeaderAuth: a service-side hook that reads a header (a bearer token, an API
//     key) and refuses calls without a good one.
//
// They are dialtone.Interceptor values like any a user writes; see
// dialtone.Interceptor for the model and docs/design/sdk.md for the order the
// SDK runs them in:
//
//	c := rpc.NewClient(nc, rpc.WithInterceptors(
//		interceptors.Logging(logger),
//		interceptors.RateLimit(100, 10),
//	))
//	svc, err := service.New(nc, cfg, service.WithInterceptors(
//		interceptors.Logging(logger, interceptors.LogSample(0.01)),
//		interceptors.HeaderAuth("Authorization", checkToken),
//	))
package interceptors
