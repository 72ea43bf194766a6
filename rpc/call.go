package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/dialtone-dev/dialtone"
	"github.com/dialtone-dev/dialtone/internal/wire"
)

// Spec names an endpoint of a service without its types: what CallRaw takes and
// what an Endpoint carries. Subject is the endpoint's subject; when empty it is
// "<Service>.<Name>", the default a service gives an endpoint outside any group.
type Spec struct {
	Service string // service name, e.g. "greeter"
	Name    string // endpoint name, e.g. "SayHello"
	Subject string // e.g. "greeter.SayHello"; empty means Service + "." + Name
}

// subject returns the endpoint subject.
func (s Spec) subject() string {
	if s.Subject != "" {
		return s.Subject
	}
	return s.Service + "." + s.Name
}

// String returns "<Service>.<Name>", the name of the call's span.
func (s Spec) String() string { return s.Service + "." + s.Name }

// check reports a Spec no call with pattern p can be made with. A balanced call
// needs only a subject; the other patterns address the service by name.
func (s Spec) check(p pattern) error {
	if subj := s.subject(); !wire.ValidSubject(subj) {
		return dialtone.Errorf(dialtone.CodeInvalidArgument, "rpc: %s: invalid endpoint subject %q", s, subj)
	}
	if p != patternBalanced && !wire.ValidName(s.Service) {
		return dialtone.Errorf(dialtone.CodeInvalidArgument, "rpc: %s: invalid service name %q", s, s.Service)
	}
	return nil
}

// Endpoint is an endpoint with the types of its request and response, so that Call
// infers them and a request of the wrong type does not compile:
//
//	var sayHello = rpc.NewEndpoint[HelloRequest, HelloReply](rpc.Spec{Service: "greeter", Name: "SayHello"})
//	reply, err := rpc.Call(ctx, c, sayHello, &HelloRequest{Name: "Ada"}) // reply is *HelloReply
//
// Generated code has a function per endpoint that returns its Endpoint. An
// Endpoint is a small value; copy it freely.
type Endpoint[Req, Resp any] struct {
	spec Spec
}

// NewEndpoint returns the Endpoint that spec names, with request type Req and
// response type Resp. The spec is checked by each call: a bad name or subject
// fails it with CodeInvalidArgument.
func NewEndpoint[Req, Resp any](spec Spec) Endpoint[Req, Resp] {
	return Endpoint[Req, Resp]{spec: spec}
}

// Spec returns the service, name and subject of the endpoint.
func (e Endpoint[Req, Resp]) Spec() Spec { return e.spec }

// String returns "<Service>.<Name>".
func (e Endpoint[Req, Resp]) String() string { return e.spec.String() }

// Call encodes req with the client's codec, sends it to ep and decodes the reply into
// a new Resp. req is validated first (dialtone.Validate); a nil req is sent as the
// zero Req. Every error is an *dialtone.Error; see the package documentation for the
// codes.
func Call[Req, Resp any](ctx context.Context, c *Client, ep Endpoint[Req, Resp], req *Req, opts ...CallOption) (*Resp, error) {
	spec := ep.spec
	if req == nil {
		req = new(Req)
	}
	if err := dialtone.Validate(req); err != nil {
		return nil, err
	}
	data, err := c.codec.Marshal(req)
	if err != nil {
		return nil, dialtone.Errorf(dialtone.CodeInternal, "rpc: %s: encode %T as %s: %w", spec, req, c.codec.Name(), err)
	}
	sc := c.scratch()
	msg, err := c.call(ctx, spec, data, sc, opts, true)
	c.release(sc)
	if err != nil {
		return nil, err
	}
	resp := new(Resp)
	if err := c.decode(spec, msg, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

// CallRaw sends data, already encoded, with the headers in hdr (which it does not
// modify) to the endpoint spec names and returns the reply message. Patterns, deadlines, retries and
// tracing work as for Call; an error reply is returned as an *dialtone.Error, not as a
// message. There is no validation, and the client's codec plays no part: a payload
// that is not JSON is named by a Content-Type header in hdr.
func (c *Client) CallRaw(ctx context.Context, spec Spec, data []byte, hdr nats.Header, opts ...CallOption) (*nats.Msg, error) {
	sc := c.scratch()
	for k, v := range hdr {
		sc.hdr[k] = v[:len(v):len(v)] // clipped: an Add must not write into the caller's array
	}
	msg, err := c.call(ctx, spec, data, sc, opts, false)
	c.release(sc)
	return msg, err
}

// callScratch is what one call borrows instead of allocating: the request's header
// map and message, and the text of its Dialtone-Timeout. nats.go encodes a request's
// header before RequestMsg returns and keeps neither, so both can be reused by the
// next call once this one is over.
type callScratch struct {
	hdr     nats.Header
	msg     nats.Msg
	timeout [1]string // the Dialtone-Timeout value slice
	lastMS  int64     // the milliseconds timeout[0] was last formatted from
	lastTxt string
}

func (c *Client) scratch() *callScratch {
	if sc, ok := c.scratches.Get().(*callScratch); ok {
		return sc
	}
	return &callScratch{hdr: make(nats.Header, 4)}
}

func (c *Client) release(sc *callScratch) {
	clear(sc.hdr)
	sc.msg = nats.Msg{}
	c.scratches.Put(sc)
}

// setTimeout writes the caller's remaining time d as Dialtone-Timeout, as
// dialtone.SetTimeoutHeader does (whole milliseconds rounded up, at least 1), without
// allocating when the value is the one this scratch sent last: calls without a
// deadline of their own all send the client's default timeout.
func (sc *callScratch) setTimeout(d time.Duration) {
	ms := int64((d + time.Millisecond - 1) / time.Millisecond)
	if ms < 1 {
		ms = 1
	}
	if ms != sc.lastMS || sc.lastTxt == "" {
		sc.lastMS, sc.lastTxt = ms, strconv.FormatInt(ms, 10)
	}
	sc.timeout[0] = sc.lastTxt
	sc.hdr[dialtone.HeaderTimeout] = sc.timeout[:]
}

// Decode decodes a reply returned by CallRaw into v with the codec named by its
// Content-Type header (JSON when absent). A failure is CodeInternal and wraps the
// codec's error.
func (c *Client) Decode(spec Spec, msg *nats.Msg, v any) error { return c.decode(spec, msg, v) }

func (c *Client) decode(ep Spec, msg *nats.Msg, v any) error {
	codec := dialtone.JSON
	if ct := msg.Header.Get(dialtone.HeaderContentType); ct != "" && ct != codec.Name() {
		var ok bool
		if codec, ok = c.codecs[ct]; !ok {
			return dialtone.Errorf(dialtone.CodeInternal,
				"rpc: %s: cannot decode reply into %T: unsupported content type %q", ep, v, ct)
		}
	}
	if err := codec.Unmarshal(msg.Data, v); err != nil {
		return dialtone.Errorf(dialtone.CodeInternal,
			"rpc: %s: decode reply (%s, %d bytes) into %T: %w", ep, codec.Name(), len(msg.Data), v, err)
	}
	return nil
}

// clientSpan are the options of every call span, built once.
var clientSpan = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient)}

// invocation is the state of one call, shared by its attempts.
type invocation struct {
	ctx       context.Context
	deadline  time.Time // the caller's, or now + the client's default timeout
	blocking  bool      // ctx can never be done: wait with timeouts instead of ctx
	cfg       callConfig
	ep        Spec
	data      []byte
	sc        *callScratch // the request's header and message
	span      trace.Span
	recording bool
}

// call is the body of every call: options, deadline, span, attempts. sc holds the
// request headers given so far and is written to. typed means data was encoded with
// the client's codec, which then names the Content-Type.
func (c *Client) call(ctx context.Context, ep Spec, data []byte, sc *callScratch, opts []CallOption, typed bool) (*nats.Msg, error) {
	hdr := sc.hdr
	inv := invocation{ep: ep, data: data, sc: sc}
	for _, o := range c.defaults {
		inv.cfg = o.applyCall(inv.cfg)
	}
	for _, o := range callOptionsFrom(ctx) {
		inv.cfg = o.applyCall(inv.cfg)
	}
	for _, o := range opts {
		inv.cfg = o.applyCall(inv.cfg)
	}
	if err := ep.check(inv.cfg.pattern); err != nil {
		return nil, err
	}
	for _, kv := range inv.cfg.headers {
		hdr.Add(kv.key, kv.value)
	}
	if typed {
		if c.codec == dialtone.JSON {
			hdr.Del(dialtone.HeaderContentType) // absent means JSON
		} else {
			hdr.Set(dialtone.HeaderContentType, c.codec.Name())
		}
	}

	// A context that can never be done (Background, or values on it) costs nothing
	// to bound: requests then wait with nats.go's pooled timers. Any other context
	// without a deadline gets one.
	var ok bool
	if inv.deadline, ok = ctx.Deadline(); !ok {
		inv.deadline = time.Now().Add(c.timeout)
		if ctx.Done() == nil {
			inv.blocking = true
		} else {
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(ctx, inv.deadline)
			defer cancel()
		}
	}

	var span trace.Span
	if c.trace.Open() {
		ctx, span = c.tracer.Start(ctx, ep.String(), clientSpan...)
		defer span.End()
	} else {
		// Nothing records: no span, but the caller's own trace context still travels.
		span = trace.SpanFromContext(ctx)
	}
	inv.ctx, inv.span, inv.recording = ctx, span, span.IsRecording()
	if inv.recording {
		span.SetAttributes(
			attribute.String("rpc.system", "dialtone"),
			attribute.String("rpc.service", ep.Service),
			attribute.String("rpc.method", ep.Name),
			attribute.String("messaging.system", "nats"),
			attribute.String("dialtone.pattern", inv.cfg.pattern.String()),
		)
	}
	c.propagator.Inject(ctx, dialtone.HeaderCarrier(hdr))

	msg, err := c.attempts(&inv)
	if err != nil && inv.recording {
		span.SetStatus(codes.Error, err.Error())
		span.SetAttributes(attribute.String(wire.AttrErrorCode, dialtone.CodeOf(err).String()))
	}
	return msg, err
}

// minAttemptTime is the least time a retry must have left, after its wait, to be
// started at all: less is not enough for a request and its reply.
const minAttemptTime = 10 * time.Millisecond

func (c *Client) attempts(inv *invocation) (*nats.Msg, error) {
	if !inv.cfg.retrySet {
		return c.attempt(inv)
	}
	start := time.Now()
	msg, err := c.attempt(inv)
	if err == nil {
		return msg, nil
	}
	longest := time.Since(start) // how long an attempt may need, as far as we know
	policy := inv.cfg.retry.withDefaults()
	for n := 1; n < policy.MaxAttempts; n++ {
		if dialtone.CodeOf(err) != dialtone.CodeUnavailable {
			return nil, err
		}
		wait := policy.backoff(n, rand.Float64())
		if time.Until(inv.deadline)-wait < max(minAttemptTime, longest) {
			return nil, err // the next attempt could not finish in time: stop now
		}
		if inv.recording {
			inv.span.AddEvent("retry", trace.WithAttributes(
				attribute.Int("attempt", n+1),
				attribute.Int64("backoff_ms", wait.Milliseconds()),
				attribute.String("cause", err.Error()),
			))
		}
		t := time.NewTimer(wait)
		select {
		case <-inv.ctx.Done(): // nil, so never ready, when inv.blocking
			t.Stop()
			return nil, contextError(inv.ctx, inv.ep)
		case <-t.C:
		}
		start = time.Now()
		m, aerr := c.attempt(inv)
		longest = max(longest, time.Since(start))
		if aerr == nil {
			return m, nil
		}
		if dialtone.CodeOf(aerr) == dialtone.CodeDeadlineExceeded && !time.Now().Before(inv.deadline) {
			// The retry ran out of the call's time: why the call failed is still
			// the last real error, not the deadline the retry used up.
			if inv.recording {
				inv.span.AddEvent("retry ran out of time", trace.WithAttributes(attribute.Int("attempt", n+1)))
			}
			return nil, err
		}
		err = aerr
	}
	return nil, err
}

// request sends one request and waits for the first reply until the deadline.
func (c *Client) request(inv *invocation, m *nats.Msg, wait time.Duration) (*nats.Msg, error) {
	if inv.blocking {
		return c.nc.RequestMsg(m, wait)
	}
	if wait < time.Until(inv.deadline) {
		ctx, cancel := context.WithTimeout(inv.ctx, wait)
		defer cancel()
		return c.nc.RequestMsgWithContext(ctx, m)
	}
	return c.nc.RequestMsgWithContext(inv.ctx, m)
}

// attempt sends the request once with the configured pattern.
func (c *Client) attempt(inv *invocation) (*nats.Msg, error) {
	ep := inv.ep
	subject := ep.subject()
	switch inv.cfg.pattern {
	case patternBalanced:
	case patternLowestLatency:
		subject = wire.AllSubject(ep.Service, subject)
	case patternDirect:
		if !wire.ValidToken(inv.cfg.instance) {
			return nil, dialtone.Errorf(dialtone.CodeInvalidArgument, "rpc: %s: invalid instance id %q", ep, inv.cfg.instance)
		}
		subject = wire.DirectSubject(ep.Service, inv.cfg.instance, subject)
	case patternAvailable:
		id, inbox, key, err := c.probe(inv)
		if err != nil {
			return nil, err
		}
		inv.sc.hdr[wire.HeaderReservation] = []string{key} // the slot id reserved for this call
		if inv.recording {
			inv.span.AddEvent("available", trace.WithAttributes(attribute.String("dialtone.instance", id)))
		}
		subject = inbox + "." + subject
	default:
		return nil, dialtone.Errorf(dialtone.CodeInvalidArgument, "rpc: %s: unknown pattern %d", ep, inv.cfg.pattern)
	}

	remaining := time.Until(inv.deadline)
	if remaining <= 0 {
		return nil, dialtone.Errorf(dialtone.CodeDeadlineExceeded, "rpc: %s: %w", ep, context.DeadlineExceeded)
	}
	inv.sc.setTimeout(remaining)

	m := &inv.sc.msg
	m.Subject, m.Header, m.Data = subject, inv.sc.hdr, inv.data
	msg, err := c.request(inv, m, remaining)
	if err != nil {
		return nil, c.transportError(inv, subject, err)
	}
	if e := dialtone.ErrorFromHeader(msg.Header); e != nil {
		return nil, e
	}
	return msg, nil
}

// probe asks the service who has a free slot and returns the first volunteer and
// the probe's key, which names the slot it reserved.
func (c *Client) probe(inv *invocation) (id, inbox, key string, err error) {
	ep := inv.ep
	subject := wire.AvailSubject(ep.Service)
	wait := c.availTimeout
	remaining := time.Until(inv.deadline)
	if remaining <= 0 {
		return "", "", "", dialtone.Errorf(dialtone.CodeDeadlineExceeded, "rpc: %s: %w", ep, context.DeadlineExceeded)
	}
	bounded := remaining > wait // the probe, not the call, may run out of time
	if !bounded {
		wait = remaining
	}
	key = nuid.Next()
	probe, _ := json.Marshal(wire.AvailProbe{Key: key})
	msg, err := c.request(inv, &nats.Msg{Subject: subject, Data: probe}, wait)
	if err != nil {
		if bounded && inv.ctx.Err() == nil && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout)) {
			return "", "", "", dialtone.Errorf(dialtone.CodeUnavailable,
				"rpc: %s: no instance of %q has free capacity (no answer on %s within %v)",
				ep, ep.Service, subject, c.availTimeout)
		}
		return "", "", "", c.transportError(inv, subject, err)
	}
	if e := dialtone.ErrorFromHeader(msg.Header); e != nil {
		return "", "", "", e
	}
	var r wire.AvailReply
	if err := json.Unmarshal(msg.Data, &r); err != nil {
		return "", "", "", dialtone.Errorf(dialtone.CodeInternal,
			"rpc: %s: decode availability reply (%d bytes) from %s into %T: %w", ep, len(msg.Data), subject, &r, err)
	}
	if !wire.ValidSubject(r.Inbox) {
		return "", "", "", dialtone.Errorf(dialtone.CodeInternal,
			"rpc: %s: availability reply from instance %q has invalid inbox %q", ep, r.ID, r.Inbox)
	}
	// Other volunteers reserved a slot for this call too: let them go at once.
	// Sent on the probe subject without a reply, so each instance sees it in
	// order with the probes that follow.
	release, _ := json.Marshal(wire.AvailProbe{Key: key, Keep: r.ID})
	_ = c.nc.Publish(subject, release)
	return r.ID, r.Inbox, key, nil
}

// transportError turns an error of nats.go's request into an *dialtone.Error.
func (c *Client) transportError(inv *invocation, subject string, err error) error {
	ep := inv.ep
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return dialtone.Errorf(dialtone.CodeUnavailable, "rpc: %s: no instance listens on %s: %w", ep, subject, err)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return contextError(inv.ctx, ep)
	case errors.Is(err, nats.ErrTimeout):
		// Only the blocking path waits with a timer; its deadline is the call's.
		return dialtone.Errorf(dialtone.CodeDeadlineExceeded, "rpc: %s: %w (%w)", ep, context.DeadlineExceeded, err)
	case errors.Is(err, nats.ErrConnectionClosed), errors.Is(err, nats.ErrConnectionDraining),
		errors.Is(err, nats.ErrDisconnected), errors.Is(err, nats.ErrConnectionReconnecting),
		errors.Is(err, nats.ErrInvalidConnection):
		return dialtone.Errorf(dialtone.CodeUnavailable, "rpc: %s: %w", ep, err)
	case errors.Is(err, nats.ErrMaxPayload):
		return dialtone.Errorf(dialtone.CodeResourceExhausted, "rpc: %s: %w", ep, err)
	}
	return dialtone.Errorf(dialtone.CodeInternal, "rpc: %s: request on %s: %w", ep, subject, err)
}

// contextError reports why ctx is done.
func contextError(ctx context.Context, ep Spec) error {
	err := ctx.Err()
	if errors.Is(err, context.Canceled) {
		return dialtone.Errorf(dialtone.CodeCanceled, "rpc: %s: %w", ep, err)
	}
	return dialtone.Errorf(dialtone.CodeDeadlineExceeded, "rpc: %s: %w", ep, context.DeadlineExceeded)
}
