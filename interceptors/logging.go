package interceptors

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/dialtone-dev/dialtone"
)

// A LogOption configures Logging.
type LogOption func(*logConfig)

type logConfig struct {
	ok, failed slog.Level
	sample     float64
	attrs      func(ctx context.Context, req dialtone.Request) []slog.Attr
}

// LogLevels sets the level of the record of a call that succeeded (default
// slog.LevelInfo) and of one that failed (default slog.LevelWarn).
func LogLevels(ok, failed slog.Level) LogOption {
	return func(c *logConfig) { c.ok, c.failed = ok, failed }
}

// LogSample logs only this fraction of the calls that succeed, chosen at random
// (default 1: all). Failed calls are always logged. A fraction <= 0 logs no
// success.
func LogSample(fraction float64) LogOption {
	return func(c *logConfig) { c.sample = fraction }
}

// LogAttrs adds the attributes f returns for a call to its record, e.g. a
// header or a value from the context. f runs only for calls that are logged.
func LogAttrs(f func(ctx context.Context, req dialtone.Request) []slog.Attr) LogOption {
	return func(c *logConfig) { c.attrs = f }
}

// Logging returns an interceptor that writes one record per call to logger
// (slog.Default() when nil), after the call, with the message "rpc call" on the
// caller's side and "rpc request" on the service's, and the attributes:
//
//	service, endpoint, pattern  what was called and how
//	instance                    the serving instance (service side; client side for Direct calls)
//	code                        the outcome: "ok" or the error's code name
//	duration                    how long the rest of the chain took
//	error                       the error's message, for failures
//
// Records of calls the logger does not want at their level are not built, so a
// disabled level costs a check per call.
func Logging(logger *slog.Logger, opts ...LogOption) dialtone.Interceptor {
	if logger == nil {
		logger = slog.Default()
	}
	cfg := logConfig{ok: slog.LevelInfo, failed: slog.LevelWarn, sample: 1}
	for _, o := range opts {
		o(&cfg)
	}
	return dialtone.UnaryInterceptorFunc(func(next dialtone.UnaryFunc) dialtone.UnaryFunc {
		return func(ctx context.Context, req dialtone.Request) (dialtone.Response, error) {
			logOK := cfg.sample > 0 && logger.Enabled(ctx, cfg.ok) && (cfg.sample >= 1 || rand.Float64() < cfg.sample)
			logFailed := logger.Enabled(ctx, cfg.failed)
			if !logOK && !logFailed {
				return next(ctx, req)
			}
			start := time.Now()
			resp, err := next(ctx, req)
			took := time.Since(start)
			if (err == nil && !logOK) || (err != nil && !logFailed) {
				return resp, err
			}
			level, msg := cfg.ok, "rpc request"
			if err != nil {
				level = cfg.failed
			}
			if req.Spec.IsClient {
				msg = "rpc call"
			}
			attrs := make([]slog.Attr, 0, 8)
			attrs = append(attrs,
				slog.String("service", req.Spec.Service),
				slog.String("endpoint", req.Spec.Name),
				slog.String("pattern", req.Pattern.String()),
			)
			if req.Instance != "" {
				attrs = append(attrs, slog.String("instance", req.Instance))
			}
			attrs = append(attrs, slog.String("code", dialtone.CodeOf(err).String()), slog.Duration("duration", took))
			if err != nil {
				attrs = append(attrs, slog.String("error", err.Error()))
			}
			if cfg.attrs != nil {
				attrs = append(attrs, cfg.attrs(ctx, req)...)
			}
			logger.LogAttrs(ctx, level, msg, attrs...)
			return resp, err
		}
	})
}
