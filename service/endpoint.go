package service

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/dialtone-dev/dialtone"
	"github.com/dialtone-dev/dialtone/internal/wire"
	"github.com/nats-io/nats.go"
)

// Request is a request as a handler sees it.
type Request struct {
	Endpoint string      // endpoint name
	Subject  string      // subject it arrived on (balanced, lowest-latency or direct)
	Header   nats.Header // may be nil
	Data     []byte

	codec dialtone.Codec
}

// Decode unmarshals the payload into v with the service's codec. A Content-Type
// header naming another codec, or a payload that does not decode, is an
// *dialtone.Error with CodeInvalidArgument.
func (r *Request) Decode(v any) error {
	if ct := r.Header.Get(dialtone.HeaderContentType); ct != "" && ct != r.codec.Name() {
		return dialtone.Errorf(dialtone.CodeInvalidArgument, "unsupported content type %q (this endpoint speaks %s)", ct, r.codec.Name())
	}
	if err := r.codec.Unmarshal(r.Data, v); err != nil {
		return dialtone.Errorf(dialtone.CodeInvalidArgument, "decode request: %v", err)
	}
	return nil
}

// Response is a handler's answer. Header is sent as the reply's headers.
type Response struct {
	Header nats.Header
	Data   []byte
}

// Handler serves requests of one endpoint. Handlers run concurrently (up to the
// instance's limit); ctx ends when the caller's deadline (Dialtone-Timeout) passes
// or the instance is stopped without finishing in time. A returned error reaches
// the caller with its code (dialtone.CodeOf) and message.
type Handler interface {
	Handle(ctx context.Context, req *Request) (*Response, error)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, req *Request) (*Response, error)

// Handle calls f.
func (f HandlerFunc) Handle(ctx context.Context, req *Request) (*Response, error) { return f(ctx, req) }

// Registrar is what endpoints are added to: a *Service or a *Group.
type Registrar interface {
	// AddEndpoint adds an endpoint served by h.
	AddEndpoint(name string, h Handler, opts ...EndpointOption) error
	// Service returns the service instance the endpoints belong to.
	Service() *Service
}

var (
	_ Registrar = (*Service)(nil)
	_ Registrar = (*Group)(nil)
)

// Handle adds a typed endpoint: the payload is decoded into a Req with the service's
// codec and checked with dialtone.Validate (the Validate interceptor; failures
// answer CodeInvalidArgument with the fields), and the *Resp fn returns is encoded
// as the reply (nil: empty reply). Interceptors see the decoded request as
// dialtone.Request.Msg and the response as dialtone.Response.Msg.
func Handle[Req, Resp any](r Registrar, name string, fn func(ctx context.Context, req *Req) (*Resp, error), opts ...EndpointOption) error {
	if fn == nil {
		return dialtone.Errorf(dialtone.CodeInvalidArgument, "service: nil handler for endpoint %q", name)
	}
	return r.AddEndpoint(name, typedHandler[Req, Resp]{fn: fn, codec: r.Service().opts.codec}, opts...)
}

// typedHandler is the Handler of Handle. The service runs it through unary, so
// that interceptors see typed messages; Handle (as a plain Handler) does the same
// work for a Registrar that only knows Handlers.
type typedHandler[Req, Resp any] struct {
	fn    func(ctx context.Context, req *Req) (*Resp, error)
	codec dialtone.Codec
}

// typedEndpoint is what addEndpoint asks a Handler for to serve it typed.
type typedEndpoint interface {
	// decode returns the request in data, or nil when it does not decode.
	decode(h nats.Header, data []byte) any
	// invoke is the endpoint inside every interceptor.
	invoke(ctx context.Context, req dialtone.Request) (dialtone.Response, error)
}

func (t typedHandler[Req, Resp]) Handle(ctx context.Context, req *Request) (*Response, error) {
	in := new(Req)
	if err := req.Decode(in); err != nil {
		return nil, err
	}
	if err := dialtone.Validate(in); err != nil {
		return nil, err
	}
	resp, err := t.invoke(ctx, dialtone.Request{Header: req.Header, Msg: in, Data: req.Data})
	if err != nil || resp.Data == nil {
		return nil, err
	}
	return &Response{Header: resp.Header, Data: resp.Data}, nil
}

func (t typedHandler[Req, Resp]) decode(h nats.Header, data []byte) any {
	in := new(Req)
	r := Request{Header: h, Data: data, codec: t.codec}
	if r.Decode(in) != nil {
		return nil
	}
	return in
}

func (t typedHandler[Req, Resp]) invoke(ctx context.Context, req dialtone.Request) (dialtone.Response, error) {
	in, _ := req.Msg.(*Req)
	if in == nil {
		// The request did not decode (or an interceptor put something else in its
		// place): decoding it again gives the caller the reason.
		in = new(Req)
		r := Request{Header: req.Header, Data: req.Data, codec: t.codec}
		if err := r.Decode(in); err != nil {
			return dialtone.Response{}, err
		}
	}
	out, err := t.fn(ctx, in)
	if err != nil || out == nil {
		return dialtone.Response{}, err
	}
	data, err := t.codec.Marshal(out)
	if err != nil {
		return dialtone.Response{}, dialtone.Errorf(dialtone.CodeInternal, "encode response: %v", err)
	}
	resp := dialtone.Response{Msg: out, Data: data}
	if t.codec.Name() != dialtone.JSON.Name() {
		resp.Header = nats.Header{dialtone.HeaderContentType: []string{t.codec.Name()}}
	}
	return resp, nil
}

// endpoint is one registered endpoint with its statistics.
type endpoint struct {
	s        *Service
	name     string
	subject  string
	queue    string
	metadata map[string]string
	spec     dialtone.Spec
	decode   func(h nats.Header, data []byte) any // typed endpoints; nil for raw ones
	chain    dialtone.UnaryFunc                   // the interceptors around the handler
	handler  Handler                              // raw endpoints
	subjects [dialtone.PatternDirect + 1]string   // the subject a request arrives on, by pattern

	numRequests atomic.Int64
	numErrors   atomic.Int64
	procNanos   atomic.Int64
	lastError   atomic.Pointer[string]
	latency     latencyWindow
}

// invokeRaw is the innermost step of a raw endpoint: its Handler.
func (ep *endpoint) invokeRaw(ctx context.Context, req dialtone.Request) (dialtone.Response, error) {
	r := &Request{Endpoint: ep.name, Subject: ep.subjects[req.Pattern], Header: req.Header, Data: req.Data, codec: ep.s.opts.codec}
	if r.Subject == "" {
		r.Subject = ep.subject
	}
	resp, err := ep.handler.Handle(ctx, r)
	if err != nil || resp == nil {
		return dialtone.Response{}, err
	}
	return dialtone.Response{Header: resp.Header, Data: resp.Data}, nil
}

// Group is a set of endpoints under a common subject prefix
// (<service>.<group>.<endpoint>) and, optionally, their own queue group.
type Group struct {
	s            *Service
	prefix       string // subject prefix without trailing dot
	queue        string
	interceptors []dialtone.Interceptor // the enclosing groups' and its own, outer first
	err          error
}

// AddGroup returns a group of endpoints with subjects <service>.<name>.<endpoint>.
// An invalid name is reported by the group's AddEndpoint.
func (s *Service) AddGroup(name string, opts ...GroupOption) *Group {
	return newGroup(s, s.cfg.Name, s.cfg.QueueGroup, nil, name, opts)
}

// AddGroup returns a nested group with subjects <parent prefix>.<name>.<endpoint>.
func (g *Group) AddGroup(name string, opts ...GroupOption) *Group {
	ng := newGroup(g.s, g.prefix, g.queue, g.interceptors, name, opts)
	if g.err != nil {
		ng.err = g.err
	}
	return ng
}

func newGroup(s *Service, parentPrefix, parentQueue string, parentIx []dialtone.Interceptor, name string, opts []GroupOption) *Group {
	var c groupConfig
	for _, o := range opts {
		o.applyGroup(&c)
	}
	g := &Group{s: s, prefix: parentPrefix + "." + name, queue: parentQueue,
		interceptors: append(parentIx[:len(parentIx):len(parentIx)], c.interceptors...)}
	if c.queue != "" {
		g.queue = c.queue
	}
	if err := checkName("group", name); err != nil {
		g.err = err
	} else if c.queue != "" {
		g.err = checkQueue(c.queue)
	}
	return g
}

// Service returns the service instance the group belongs to.
func (g *Group) Service() *Service { return g.s }

// AddEndpoint adds an endpoint to the group.
func (g *Group) AddEndpoint(name string, h Handler, opts ...EndpointOption) error {
	if g.err != nil {
		return g.err
	}
	return g.s.addEndpoint(g.prefix, g.queue, g.interceptors, name, h, opts)
}

// AddEndpoint adds an endpoint with subject <service>.<name> (see WithSubject) in
// the service's queue group (see WithQueueGroup). The name must be
// [A-Za-z0-9_-]+ and unique in the service, and the subject unique; a bad name or
// subject is an error here, not at the first request. Endpoints added after Start
// are subscribed at once.
func (s *Service) AddEndpoint(name string, h Handler, opts ...EndpointOption) error {
	return s.addEndpoint(s.cfg.Name, s.cfg.QueueGroup, nil, name, h, opts)
}

func (s *Service) addEndpoint(prefix, queue string, groupIx []dialtone.Interceptor, name string, h Handler, opts []EndpointOption) error {
	if err := checkName("endpoint", name); err != nil {
		return err
	}
	if h == nil {
		return dialtone.Errorf(dialtone.CodeInvalidArgument, "service: nil handler for endpoint %q", name)
	}
	c := endpointConfig{subject: prefix + "." + name, queue: queue}
	for _, o := range opts {
		o.applyEndpoint(&c)
	}
	if err := checkSubject("subject", c.subject); err != nil {
		return err
	}
	if err := checkQueue(c.queue); err != nil {
		return err
	}
	ep := &endpoint{
		s:        s,
		name:     name,
		subject:  c.subject,
		queue:    c.queue,
		metadata: c.metadata,
		handler:  h,
		spec:     dialtone.Spec{Kind: dialtone.KindUnary, Service: s.cfg.Name, Name: name, Subject: c.subject},
	}
	ep.subjects[dialtone.PatternBalanced] = c.subject
	ep.subjects[dialtone.PatternLowestLatency] = s.allPrefix + c.subject
	ep.subjects[dialtone.PatternDirect] = s.directPrefix + c.subject
	invoke := ep.invokeRaw
	if t, ok := h.(typedEndpoint); ok {
		ep.decode, invoke = t.decode, t.invoke
	}
	all := make([]dialtone.Interceptor, 0, len(s.outer)+len(s.opts.interceptors)+len(groupIx)+len(c.interceptors)+len(s.inner))
	all = append(append(append(append(append(all, s.outer...), s.opts.interceptors...), groupIx...), c.interceptors...), s.inner...)
	ep.chain = dialtone.Chain(ep.fitReply(invoke), all...)

	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.state {
	case stateStopping, stateStopped:
		return dialtone.Errorf(dialtone.CodeFailedPrecondition, "service: stopped")
	}
	for _, other := range s.endpoints {
		if other.name == name {
			return dialtone.Errorf(dialtone.CodeAlreadyExists, "service %s: endpoint %q exists already", s.cfg.Name, name)
		}
		if other.subject == ep.subject {
			return dialtone.Errorf(dialtone.CodeAlreadyExists, "service %s: subject %q is taken by endpoint %q", s.cfg.Name, ep.subject, other.name)
		}
	}
	if s.state == stateRunning {
		if err := s.subscribeEndpointLocked(ep); err != nil {
			return err
		}
	}
	s.endpoints = append(s.endpoints, ep)
	old := *s.bySubject.Load()
	next := make(map[string]*endpoint, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[ep.subject] = ep
	s.bySubject.Store(&next)
	if s.state == stateRunning {
		if err := s.nc.Flush(); err != nil {
			return dialtone.Errorf(dialtone.CodeUnavailable, "service %s: flush: %w", s.cfg.Name, err)
		}
	}
	return nil
}

// lookup finds the endpoint a request is for: by subject for an endpoint
// subscription, by the subject after the prefix for _DT.<svc>.all.> and
// _DT.<svc>.<id>.>. rest is the subject it looked up, pattern how the request
// came.
func (s *Service) lookup(m *nats.Msg, direct bool) (ep *endpoint, rest string, pattern dialtone.Pattern) {
	rest, pattern = m.Subject, dialtone.PatternBalanced
	switch {
	case direct:
		rest, pattern = strings.TrimPrefix(rest, s.directPrefix), dialtone.PatternDirect
	case m.Sub == s.allSub:
		rest, pattern = strings.TrimPrefix(rest, s.allPrefix), dialtone.PatternLowestLatency
	}
	return (*s.bySubject.Load())[rest], rest, pattern
}

// serve runs the endpoint's chain for m on the calling worker, which holds a
// slot. The slot is given back before the reply goes out, so a caller that got
// its answer and probes availability at once finds the slot free.
func (ep *endpoint) serve(m *nats.Msg, pattern dialtone.Pattern) {
	s := ep.s
	start := time.Now()
	req := dialtone.Request{Spec: ep.spec, Pattern: pattern, Instance: s.id, Header: m.Header, Data: m.Data}
	if ep.decode != nil {
		req.Msg = ep.decode(m.Header, m.Data)
	}
	resp, err := ep.chain(s.baseCtx, req)

	took := time.Since(start)
	ep.numRequests.Add(1)
	ep.procNanos.Add(int64(took))
	ep.latency.record(s.started, start, took)
	s.inFlight.Add(-1)
	<-s.sem

	if err != nil {
		ep.failed(err)
		s.replyError(m, err)
		return
	}
	if m.Reply == "" {
		return
	}
	var perr error
	if resp.Header == nil {
		perr = s.nc.Publish(m.Reply, resp.Data)
	} else {
		perr = s.nc.PublishMsg(&nats.Msg{Subject: m.Reply, Data: resp.Data, Header: resp.Header})
	}
	if perr != nil {
		ep.replyFailed(m, resp, perr)
	}
}

// failed records a request that failed: the endpoint's error count and last
// error. (Its span and metrics are the interceptors'.)
func (ep *endpoint) failed(err error) {
	ep.numErrors.Add(1)
	msg := err.Error()
	ep.lastError.Store(&msg)
}

// fitReply is the step inside every interceptor of an endpoint: it runs the
// handler and refuses a reply the bus cannot carry (larger than its
// max_payload) with CodeResourceExhausted naming both sizes, so the caller
// learns at once instead of waiting for its deadline, and the interceptors
// (tracing, metrics, logging) see the failure. It is logged at Warn and the
// error handler sees it.
func (ep *endpoint) fitReply(invoke dialtone.UnaryFunc) dialtone.UnaryFunc {
	return func(ctx context.Context, req dialtone.Request) (dialtone.Response, error) {
		resp, err := invoke(ctx, req)
		if err != nil {
			return resp, err
		}
		s := ep.s
		size := len(resp.Data) + headerSize(resp.Header)
		if limit := s.nc.MaxPayload(); int64(size) > limit && limit > 0 {
			err := dialtone.Errorf(dialtone.CodeResourceExhausted, "service %s: %s: reply of %s bytes exceeds the bus's max_payload of %s",
				s.cfg.Name, ep.name, thousands(int64(size)), thousands(limit))
			s.opts.logger.Warn("service: reply not sent", "service", s.cfg.Name, "endpoint", ep.name, "subject", arrivalSubject(req), "err", err.Error())
			s.reportError(ctx, ErrorEvent{Endpoint: ep.name, Subject: arrivalSubject(req), Err: err})
			return dialtone.Response{}, err
		}
		return resp, nil
	}
}

// replyFailed handles a reply the connection refused to send although it fit
// (the connection is closed or its buffer full, or the bus's max_payload
// shrank): the caller is left without an answer, or, for a reply that no
// longer fits, gets ResourceExhausted. Either way the endpoint counts an error,
// it is logged at Warn and the error handler sees it.
func (ep *endpoint) replyFailed(m *nats.Msg, resp dialtone.Response, perr error) {
	s := ep.s
	var err *dialtone.Error
	if errors.Is(perr, nats.ErrMaxPayload) {
		size := len(resp.Data) + headerSize(resp.Header)
		err = dialtone.Errorf(dialtone.CodeResourceExhausted, "service %s: %s: reply of %s bytes exceeds the bus's max_payload of %s",
			s.cfg.Name, ep.name, thousands(int64(size)), thousands(s.nc.MaxPayload()))
		s.replyError(m, err)
	} else {
		err = dialtone.Errorf(dialtone.CodeUnavailable, "service %s: %s: reply not sent: %w", s.cfg.Name, ep.name, perr)
	}
	ep.failed(err)
	s.opts.logger.Warn("service: reply not sent", "service", s.cfg.Name, "endpoint", ep.name, "subject", m.Subject, "err", err.Error())
	s.reportError(s.baseCtx, ErrorEvent{Endpoint: ep.name, Subject: m.Subject, Err: err})
}

// arrivalSubject is the subject req arrived on: the endpoint's, or its
// lowest-latency or direct form.
func arrivalSubject(req dialtone.Request) string {
	switch req.Pattern {
	case dialtone.PatternLowestLatency:
		return wire.AllSubject(req.Spec.Service, req.Spec.Subject)
	case dialtone.PatternDirect:
		return wire.DirectSubject(req.Spec.Service, req.Instance, req.Spec.Subject)
	}
	return req.Spec.Subject
}

// reportError hands ev to the error handler, if there is one.
func (s *Service) reportError(ctx context.Context, ev ErrorEvent) {
	if s.opts.onError != nil {
		s.opts.onError(ctx, ev)
	}
}

// headerSize is the length of h as nats.go writes it on the wire.
func headerSize(h nats.Header) int {
	if len(h) == 0 {
		return 0
	}
	n := len("NATS/1.0\r\n\r\n")
	for k, vs := range h {
		for _, v := range vs {
			n += len(k) + len(": ") + len(v) + len("\r\n")
		}
	}
	return n
}

// thousands formats n with commas between groups of three digits: 1,048,576.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
