package rpc

import (
	"context"
	"time"

	"github.com/dialtone-dev/dialtone"
)

// A CallOption chooses how one call is made: its pattern, retries and extra headers.
type CallOption interface {
	// applyCall returns c changed by the option. It works on values, not a
	// pointer, so the config of a call stays on the caller's stack.
	applyCall(c callConfig) callConfig
}

type callConfig struct {
	pattern  dialtone.Pattern
	instance string // PatternDirect
	retry    RetryPolicy
	retrySet bool
	headers  []headerKV
}

type headerKV struct{ key, value string }

type patternOption struct {
	pattern  dialtone.Pattern
	instance string
}

func (o patternOption) applyCall(c callConfig) callConfig {
	c.pattern = o.pattern
	c.instance = o.instance
	return c
}

// Balanced sends the request on the endpoint subject, where the bus's queue group
// picks one instance. It is the default.
func Balanced() CallOption { return patternOption{pattern: dialtone.PatternBalanced} }

// LowestLatency sends the request to every live instance of the service and returns
// the first reply; later replies are dropped. Use it for cheap, idempotent calls where
// tail latency matters more than total work.
func LowestLatency() CallOption { return patternOption{pattern: dialtone.PatternLowestLatency} }

// Available asks the service's instances which of them has a free slot and sends the
// request to the first that answers. If none answers within the client's availability
// timeout the call fails with CodeUnavailable (and may be retried with Retry).
func Available() CallOption { return patternOption{pattern: dialtone.PatternAvailable} }

// Direct sends the request to the instance with the given id (as listed by
// discovery). If that instance is gone the call fails with CodeUnavailable.
func Direct(instanceID string) CallOption {
	return patternOption{pattern: dialtone.PatternDirect, instance: instanceID}
}

type retryOption struct{ policy RetryPolicy }

func (o retryOption) applyCall(c callConfig) callConfig {
	c.retry = o.policy
	c.retrySet = true
	return c
}

// Retry makes a call that fails with CodeUnavailable try again under policy. Give it
// only for idempotent calls: a request whose reply was lost may have been handled.
// Retry(RetryPolicy{}) uses the defaults documented on RetryPolicy; a policy with
// MaxAttempts 1 turns retries off again.
func Retry(policy RetryPolicy) CallOption { return retryOption{policy: policy} }

type headerOption headerKV

func (o headerOption) applyCall(c callConfig) callConfig {
	c.headers = append(c.headers[:len(c.headers):len(c.headers)], headerKV(o))
	return c
}

// Header adds a header to the request. Dialtone-Timeout is always the client's, and
// so is Content-Type for Call (it names the client's codec); the trace context
// headers are replaced when the call has a span context to send.
func Header(key, value string) CallOption { return headerOption{key: key, value: value} }

type callOptionsKey struct{}

// WithCallOptions returns a context that carries call options, for calls through
// generated clients whose methods take no options:
//
//	ctx = rpc.WithCallOptions(ctx, rpc.LowestLatency())
//	resp, err := greeter.SayHello(ctx, req)
//
// Options add to those already in ctx; options given to Call directly are applied
// after them.
func WithCallOptions(ctx context.Context, opts ...CallOption) context.Context {
	if len(opts) == 0 {
		return ctx
	}
	prev := callOptionsFrom(ctx)
	all := make([]CallOption, 0, len(prev)+len(opts))
	all = append(all, prev...)
	all = append(all, opts...)
	return context.WithValue(ctx, callOptionsKey{}, all)
}

func callOptionsFrom(ctx context.Context) []CallOption {
	opts, _ := ctx.Value(callOptionsKey{}).([]CallOption)
	return opts
}

// RetryPolicy says how often and how patiently a call is repeated after
// CodeUnavailable. Zero fields take the defaults given with each field. The wait before
// attempt n+1 is min(InitialBackoff*Multiplier^(n-1), MaxBackoff), of which a random
// part up to Jitter is taken off, so callers that failed together do not retry together.
// No attempt starts unless, after its wait, the call's deadline leaves it at least
// 10ms or the time the longest attempt so far took, whichever is more; the call
// then returns at once with the last error. A retry that runs out of the call's
// time returns the error of the attempt before it (CodeUnavailable), not
// CodeDeadlineExceeded.
type RetryPolicy struct {
	MaxAttempts    int           // attempts in all, the first included (default 3)
	InitialBackoff time.Duration // wait before the second attempt (default 10ms)
	MaxBackoff     time.Duration // longest wait (default 1s)
	Multiplier     float64       // growth of the wait per attempt (default 2, at least 1)
	Jitter         float64       // fraction of each wait that is random, 0..1 (default 0.5; < 0: none)
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = 3
	}
	if p.InitialBackoff <= 0 {
		p.InitialBackoff = 10 * time.Millisecond
	}
	if p.MaxBackoff <= 0 {
		p.MaxBackoff = time.Second
	}
	if p.MaxBackoff < p.InitialBackoff {
		p.MaxBackoff = p.InitialBackoff
	}
	if p.Multiplier < 1 {
		p.Multiplier = 2
	}
	switch {
	case p.Jitter == 0:
		p.Jitter = 0.5
	case p.Jitter < 0:
		p.Jitter = 0
	case p.Jitter > 1:
		p.Jitter = 1
	}
	return p
}

// backoff is the wait before attempt n+1 (n >= 1 attempts done). rnd is a uniform
// number in [0, 1).
func (p RetryPolicy) backoff(n int, rnd float64) time.Duration {
	d := float64(p.InitialBackoff)
	for i := 1; i < n && d < float64(p.MaxBackoff); i++ {
		d *= p.Multiplier
	}
	if d > float64(p.MaxBackoff) {
		d = float64(p.MaxBackoff)
	}
	return time.Duration(d - d*p.Jitter*rnd)
}
