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
func (s Spec) check(p dialtone.Pattern, subj string) error {
	if !wire.ValidSubject(subj) {
		return dialtone.Errorf(dialtone.CodeInvalidArgument, "rpc: %s: invalid endpoint subject %q", s, subj)
	}
	if p != dialtone.PatternBalanced && !wire.ValidName(s.Service) {
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
	spec.Subject = spec.subject() // once, not per call
	return Endpoint[Req, Resp]{spec: spec}
}

// Spec returns the service, name and subject of the endpoint.
func (e Endpoint[Req, Resp]) Spec() Spec { return e.spec }

// String returns "<Service>.<Name>".
func (e Endpoint[Req, Resp]) String() string { return e.spec.String() }

// Call encodes req with the client's codec, sends it to ep and decodes the reply into
// a new Resp. A nil req is sent as the zero Req. The client's interceptors see the
// call first (dialtone.Request.Msg is req); the service validates the request, and
// so does the caller when ValidateRequests is installed. Every error is an
// *dialtone.Error; see the package documentation for the codes.
func Call[Req, Resp any](ctx context.Context, c *Client, ep Endpoint[Req, Resp], req *Req, opts ...CallOption) (*Resp, error) {
	if req == nil {
		req = new(Req)
	}
	resp, err := c.do(ctx, ep.spec, req, nil, nil, opts)
	if err != nil {
		return nil, err
	}
	if resp.Msg != nil {
		if out, ok := resp.Msg.(*Resp); ok && out != nil {
			return out, nil
		}
		return nil, dialtone.Errorf(dialtone.CodeInternal, "rpc: %s: an interceptor returned a %T as the response, want %T", ep.spec, resp.Msg, (*Resp)(nil))
	}
	out := new(Resp)
	if err := c.decode(ep.spec, resp.Header, resp.Data, out); err != nil {
		return nil, err
	}
	return out, nil
}

// CallRaw sends data, already encoded, with the headers in hdr (which it does not
// modify) to the endpoint spec names and returns the reply message. Patterns,
// deadlines, retries, interceptors and tracing work as for Call; an error reply is
// returned as an *dialtone.Error, not as a message. The client's codec plays no
// part: a payload that is not JSON is named by a Content-Type header in hdr.
func (c *Client) CallRaw(ctx context.Context, spec Spec, data []byte, hdr nats.Header, opts ...CallOption) (*nats.Msg, error) {
	resp, err := c.do(ctx, spec, nil, data, hdr, opts)
	if err != nil {
		return nil, err
	}
	if resp.Msg != nil && resp.Data == nil {
		return nil, dialtone.Errorf(dialtone.CodeInternal, "rpc: %s: an interceptor returned a %T as the response of a raw call, which has no codec to encode it", spec, resp.Msg)
	}
	return &nats.Msg{Header: resp.Header, Data: resp.Data}, nil
}

// callScratch is what one call borrows instead of allocating: the request's
// header map. nats.go encodes a request's header before RequestMsg returns and
// keeps nothing of it, so the map can be reused by the next call once this one
// is over.
type callScratch struct {
	hdr nats.Header
}

func (c *Client) scratch() *callScratch {
	if sc, ok := c.scratches.Get().(*callScratch); ok {
		return sc
	}
	return &callScratch{hdr: make(nats.Header, 4)}
}

func (c *Client) release(sc *callScratch) {
	clear(sc.hdr)
	c.scratches.Put(sc)
}

// wireScratch is what one attempt borrows: the request message and the text of
// its Dialtone-Timeout.
type wireScratch struct {
	msg     nats.Msg
	timeout [1]string // the Dialtone-Timeout value slice
	lastMS  int64     // the milliseconds timeout[0] was last formatted from
	lastTxt string
}

func (c *Client) wireScratch() *wireScratch {
	if ws, ok := c.wires.Get().(*wireScratch); ok {
		return ws
	}
	return &wireScratch{}
}

func (c *Client) releaseWire(ws *wireScratch) {
	ws.msg = nats.Msg{}
	c.wires.Put(ws)
}

// setTimeout writes the caller's remaining time d into h as Dialtone-Timeout, as
// dialtone.SetTimeoutHeader does (whole milliseconds rounded up, at least 1),
// without allocating when the value is the one this scratch sent last: calls
// without a deadline of their own all send the client's default timeout.
func (ws *wireScratch) setTimeout(h nats.Header, d time.Duration) {
	ms := int64((d + time.Millisecond - 1) / time.Millisecond)
	if ms < 1 {
		ms = 1
	}
	if ms != ws.lastMS || ws.lastTxt == "" {
		ws.lastMS, ws.lastTxt = ms, strconv.FormatInt(ms, 10)
	}
	ws.timeout[0] = ws.lastTxt
	h[dialtone.HeaderTimeout] = ws.timeout[:]
}

// Decode decodes a reply returned by CallRaw into v with the codec named by its
// Content-Type header (JSON when absent). A failure is CodeInternal and wraps the
// codec's error.
func (c *Client) Decode(spec Spec, msg *nats.Msg, v any) error {
	return c.decode(spec, msg.Header, msg.Data, v)
}

func (c *Client) decode(ep Spec, h nats.Header, data []byte, v any) error {
	codec := c.json
	if ct := h.Get(dialtone.HeaderContentType); ct != "" && ct != codec.Name() {
		var ok bool
		if codec, ok = c.codecs[ct]; !ok {
			return dialtone.Errorf(dialtone.CodeInternal,
				"rpc: %s: cannot decode reply into %T: unsupported content type %q", ep, v, ct)
		}
	}
	if err := codec.Unmarshal(data, v); err != nil {
		return dialtone.Errorf(dialtone.CodeInternal,
			"rpc: %s: decode reply (%s, %d bytes) into %T: %w", ep, codec.Name(), len(data), v, err)
	}
	return nil
}

// do is the body of every call: options, the request as interceptors see it, the
// chain. msg is the typed request of Call, data the payload of CallRaw and hdr
// its headers.
func (c *Client) do(ctx context.Context, spec Spec, msg any, data []byte, hdr nats.Header, opts []CallOption) (dialtone.Response, error) {
	var cfg callConfig
	for _, o := range c.defaults {
		cfg = o.applyCall(cfg)
	}
	for _, o := range callOptionsFrom(ctx) {
		cfg = o.applyCall(cfg)
	}
	for _, o := range opts {
		cfg = o.applyCall(cfg)
	}
	if cfg.pattern == 0 {
		cfg.pattern = dialtone.PatternBalanced
	}
	subject := spec.subject()
	if err := spec.check(cfg.pattern, subject); err != nil {
		return dialtone.Response{}, err
	}
	sc := c.scratch()
	defer c.release(sc)
	for k, v := range hdr {
		sc.hdr[k] = v[:len(v):len(v)] // clipped: an Add must not write into the caller's array
	}
	for _, kv := range cfg.headers {
		sc.hdr.Add(kv.key, kv.value)
	}
	if msg != nil {
		if c.codec.Name() == c.json.Name() {
			sc.hdr.Del(dialtone.HeaderContentType) // absent means JSON
		} else {
			sc.hdr.Set(dialtone.HeaderContentType, c.codec.Name())
		}
	}
	if cfg.retrySet {
		ctx = context.WithValue(ctx, retryKey{}, cfg.retry)
	}
	req := dialtone.Request{
		Spec:     dialtone.Spec{Kind: dialtone.KindUnary, IsClient: true, Service: spec.Service, Name: spec.Name, Subject: subject},
		Pattern:  cfg.pattern,
		Instance: cfg.instance,
		Header:   sc.hdr,
		Msg:      msg,
		Data:     data,
	}
	chain := c.chain
	if c.byEndpoint != nil {
		if f, ok := c.byEndpoint[endpointKey{spec.Service, spec.Name}]; ok {
			chain = f
		}
	}
	return chain(ctx, req)
}

// retryKey carries a call's RetryPolicy from its options to c.invoke, past the
// interceptors.
type retryKey struct{}

// invocation is the state of one call inside the interceptors, shared by its
// attempts.
type invocation struct {
	ctx       context.Context
	deadline  time.Time     // the caller's, or now + the client's default timeout; zero: see budget
	budget    time.Duration // with no deadline: the whole time of a single attempt
	blocking  bool          // ctx can never be done: wait with timeouts instead of ctx
	retry     RetryPolicy
	retrySet  bool
	pattern   dialtone.Pattern
	instance  string      // PatternDirect
	header    nats.Header // the request's
	ep        Spec
	data      []byte
	ws        *wireScratch
	span      trace.Span
	recording bool
}

// invoke is the call inside every interceptor: encode, deadline, attempts.
func (c *Client) invoke(ctx context.Context, req dialtone.Request) (dialtone.Response, error) {
	ep := Spec{Service: req.Spec.Service, Name: req.Spec.Name, Subject: req.Spec.Subject}
	data := req.Data
	if req.Msg != nil {
		var err error
		if data, err = c.codec.Marshal(req.Msg); err != nil {
			return dialtone.Response{}, dialtone.Errorf(dialtone.CodeInternal, "rpc: %s: encode %T as %s: %w", ep, req.Msg, c.codec.Name(), err)
		}
	}
	if req.Header == nil {
		req.Header = nats.Header{}
	}
	inv := invocation{pattern: req.Pattern, instance: req.Instance, header: req.Header, ep: ep, data: data}

	inv.retry, inv.retrySet = ctx.Value(retryKey{}).(RetryPolicy)

	// A context that can never be done (Background, or values on it) costs nothing
	// to bound: requests then wait with nats.go's pooled timers. A single attempt
	// then does not even read the clock: it has the client's whole timeout. Any
	// other context without a deadline gets one.
	var ok bool
	if inv.deadline, ok = ctx.Deadline(); !ok {
		if ctx.Done() == nil {
			inv.blocking = true
			if !inv.retrySet && req.Pattern != dialtone.PatternAvailable {
				inv.budget = c.timeout
			} else {
				inv.deadline = c.now().Add(c.timeout)
			}
		} else {
			inv.deadline = c.now().Add(c.timeout)
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(ctx, inv.deadline)
			defer cancel()
		}
	}
	inv.ctx = ctx
	inv.span = trace.SpanFromContext(ctx) // the Tracing interceptor's, if it records
	inv.recording = inv.span.IsRecording()
	inv.ws = c.wireScratch()
	defer c.releaseWire(inv.ws)

	msg, err := c.attempts(&inv)
	if err != nil {
		return dialtone.Response{}, err
	}
	return dialtone.Response{Header: msg.Header, Data: msg.Data}, nil
}

// minAttemptTime is the least time a retry must have left, after its wait, to be
// started at all: less is not enough for a request and its reply.
const minAttemptTime = 10 * time.Millisecond

func (c *Client) attempts(inv *invocation) (*nats.Msg, error) {
	if !inv.retrySet {
		return c.attempt(inv)
	}
	start := c.now()
	msg, err := c.attempt(inv)
	if err == nil {
		return msg, nil
	}
	longest := c.now().Sub(start) // how long an attempt may need, as far as we know
	policy := inv.retry.withDefaults()
	for n := 1; n < policy.MaxAttempts; n++ {
		if dialtone.CodeOf(err) != dialtone.CodeUnavailable {
			return nil, err
		}
		wait := policy.backoff(n, rand.Float64())
		if c.until(inv.deadline)-wait < max(minAttemptTime, longest) {
			return nil, err // the next attempt could not finish in time: stop now
		}
		if inv.recording {
			inv.span.AddEvent("retry", trace.WithAttributes(
				attribute.Int("attempt", n+1),
				attribute.Int64("backoff_ms", wait.Milliseconds()),
				attribute.String("cause", err.Error()),
			))
		}
		t := c.newTimer(wait)
		select {
		case <-inv.ctx.Done(): // nil, so never ready, when inv.blocking
			t.Stop()
			return nil, contextError(inv.ctx, inv.ep)
		case <-t.C:
		}
		start = c.now()
		m, aerr := c.attempt(inv)
		longest = max(longest, c.now().Sub(start))
		if aerr == nil {
			return m, nil
		}
		if dialtone.CodeOf(aerr) == dialtone.CodeDeadlineExceeded && !c.now().Before(inv.deadline) {
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
	if wait < c.until(inv.deadline) {
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
	switch inv.pattern {
	case dialtone.PatternBalanced:
	case dialtone.PatternLowestLatency:
		subject = wire.AllSubject(ep.Service, subject)
	case dialtone.PatternDirect:
		if !wire.ValidToken(inv.instance) {
			return nil, dialtone.Errorf(dialtone.CodeInvalidArgument, "rpc: %s: invalid instance id %q", ep, inv.instance)
		}
		subject = wire.DirectSubject(ep.Service, inv.instance, subject)
	case dialtone.PatternAvailable:
		id, inbox, key, err := c.probe(inv)
		if err != nil {
			return nil, err
		}
		inv.header[wire.HeaderReservation] = []string{key} // the slot id reserved for this call
		if inv.recording {
			inv.span.AddEvent("available", trace.WithAttributes(attribute.String("dialtone.instance", id)))
		}
		subject = inbox + "." + subject
	default:
		return nil, dialtone.Errorf(dialtone.CodeInvalidArgument, "rpc: %s: unknown pattern %d", ep, inv.pattern)
	}

	remaining := inv.budget
	if remaining == 0 {
		remaining = c.until(inv.deadline)
	}
	if remaining <= 0 {
		return nil, dialtone.Errorf(dialtone.CodeDeadlineExceeded, "rpc: %s: %w", ep, context.DeadlineExceeded)
	}
	inv.ws.setTimeout(inv.header, remaining)

	m := &inv.ws.msg
	m.Subject, m.Header, m.Data = subject, inv.header, inv.data
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
	remaining := c.until(inv.deadline)
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
