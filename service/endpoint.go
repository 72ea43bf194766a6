package service

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/dialtone-dev/dialtone"
	"github.com/dialtone-dev/dialtone/internal/wire"
	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
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
// codec and checked with dialtone.Validate (failures answer CodeInvalidArgument with
// the fields), and the *Resp fn returns is encoded as the reply (nil: empty reply).
func Handle[Req, Resp any](r Registrar, name string, fn func(ctx context.Context, req *Req) (*Resp, error), opts ...EndpointOption) error {
	if fn == nil {
		return dialtone.Errorf(dialtone.CodeInvalidArgument, "service: nil handler for endpoint %q", name)
	}
	return r.AddEndpoint(name, HandlerFunc(func(ctx context.Context, req *Request) (*Response, error) {
		in := new(Req)
		if err := req.Decode(in); err != nil {
			return nil, err
		}
		if err := dialtone.Validate(in); err != nil {
			return nil, err
		}
		out, err := fn(ctx, in)
		if err != nil {
			return nil, err
		}
		if out == nil {
			return nil, nil
		}
		data, err := req.codec.Marshal(out)
		if err != nil {
			return nil, dialtone.Errorf(dialtone.CodeInternal, "encode response: %v", err)
		}
		resp := &Response{Data: data}
		if req.codec != dialtone.JSON {
			resp.Header = nats.Header{dialtone.HeaderContentType: []string{req.codec.Name()}}
		}
		return resp, nil
	}), opts...)
}

// endpoint is one registered endpoint with its statistics.
type endpoint struct {
	s        *Service
	name     string
	subject  string
	queue    string
	metadata map[string]string
	handler  Handler
	spanName string
	spanOpts []trace.SpanStartOption

	numRequests atomic.Int64
	numErrors   atomic.Int64
	procNanos   atomic.Int64
	lastError   atomic.Pointer[string]
}

// Group is a set of endpoints under a common subject prefix
// (<service>.<group>.<endpoint>) and, optionally, their own queue group.
type Group struct {
	s      *Service
	prefix string // subject prefix without trailing dot
	queue  string
	err    error
}

// AddGroup returns a group of endpoints with subjects <service>.<name>.<endpoint>.
// An invalid name is reported by the group's AddEndpoint.
func (s *Service) AddGroup(name string, opts ...GroupOption) *Group {
	return newGroup(s, s.cfg.Name, s.cfg.QueueGroup, name, opts)
}

// AddGroup returns a nested group with subjects <parent prefix>.<name>.<endpoint>.
func (g *Group) AddGroup(name string, opts ...GroupOption) *Group {
	ng := newGroup(g.s, g.prefix, g.queue, name, opts)
	if g.err != nil {
		ng.err = g.err
	}
	return ng
}

func newGroup(s *Service, parentPrefix, parentQueue, name string, opts []GroupOption) *Group {
	var c groupConfig
	for _, o := range opts {
		o.applyGroup(&c)
	}
	g := &Group{s: s, prefix: parentPrefix + "." + name, queue: parentQueue}
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
	return g.s.addEndpoint(g.prefix, g.queue, name, h, opts)
}

// AddEndpoint adds an endpoint with subject <service>.<name> (see WithSubject) in
// the service's queue group (see WithQueueGroup). The name must be
// [A-Za-z0-9_-]+ and unique in the service, and the subject unique; a bad name or
// subject is an error here, not at the first request. Endpoints added after Start
// are subscribed at once.
func (s *Service) AddEndpoint(name string, h Handler, opts ...EndpointOption) error {
	return s.addEndpoint(s.cfg.Name, s.cfg.QueueGroup, name, h, opts)
}

func (s *Service) addEndpoint(prefix, queue, name string, h Handler, opts []EndpointOption) error {
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
		spanName: s.cfg.Name + "." + name,
		spanOpts: []trace.SpanStartOption{
			trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(
				attribute.String("rpc.system", "dialtone"),
				attribute.String("rpc.service", s.cfg.Name),
				attribute.String("rpc.method", name),
				attribute.String("dialtone.instance", s.id),
			),
		},
	}

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

// queue is a request channel and its pool of workers. Subscriptions deliver into
// ch; workers take requests from it.
//
// The pool is elastic. A worker that takes a request makes sure another worker is
// parked on ch before it runs the handler (starting one if none is, up to max), so
// a request never waits for a handler to finish while the instance has free
// slots. A worker that finishes takes the next queued request without parking if
// there is one, and leaves if maxIdle others are parked already. So a request goes
// from the connection's reader to an already parked worker (one wake-up, as for a
// subscription callback), bursts are served by workers that are awake, and idle
// instances keep only a couple of goroutines per queue.
type queue struct {
	ch      chan *nats.Msg
	direct  bool // direct requests may use a reserved slot
	max     int32
	idle    atomic.Int32
	workers atomic.Int32
}

const maxIdle = 2

// spawn starts one more worker unless the pool is full.
func (s *Service) spawn(q *queue) {
	for {
		n := q.workers.Load()
		if n >= q.max {
			return
		}
		if q.workers.CompareAndSwap(n, n+1) {
			s.wg.Add(1)
			go s.work(q)
			return
		}
	}
}

// work is one worker of q. It returns when ch is closed (at Stop) or when enough
// other workers are parked.
func (s *Service) work(q *queue) {
	defer s.wg.Done()
	for {
		var m *nats.Msg
		var ok bool
		select {
		case m, ok = <-q.ch:
		default:
			if q.idle.Load() >= maxIdle {
				q.workers.Add(-1)
				return
			}
			q.idle.Add(1)
			m, ok = <-q.ch // closed at Stop, after delivery into it has ended
			q.idle.Add(-1)
		}
		if !ok {
			q.workers.Add(-1)
			return
		}
		if q.idle.Load() == 0 {
			s.spawn(q)
		}
		ep, rest := s.lookup(m, q.direct)
		if ep == nil {
			s.replyError(m, dialtone.Errorf(dialtone.CodeUnimplemented, "service %s: no endpoint at %s", s.cfg.Name, rest))
			continue
		}
		claimed := q.direct && m.Header != nil && s.avail.claim(m.Header.Get(wire.HeaderReservation))
		if q.direct && !claimed {
			s.lastDirect.Store(time.Now().UnixNano()) // a caller chose this instance by id
		}
		if !claimed {
			select {
			case s.sem <- struct{}{}:
			default:
				s.waiting.Add(1)
				select {
				case s.sem <- struct{}{}:
					s.waiting.Add(-1)
				case <-s.baseCtx.Done():
					s.waiting.Add(-1)
					s.replyError(m, dialtone.Errorf(dialtone.CodeUnavailable, "service %s: stopping", s.cfg.Name))
					continue
				}
			}
		}
		s.inFlight.Add(1)
		ep.serve(m)
	}
}

// queued counts the requests received but not yet given a slot: those in the
// request channels and those a worker holds while every slot is taken. Requests
// still in the connection's buffers are not counted.
func (s *Service) queued() int {
	return len(s.reqQ.ch) + len(s.directQ.ch) + int(s.waiting.Load())
}

// lookup finds the endpoint a request is for: by subject for an endpoint
// subscription, by the subject after the prefix for _DT.<svc>.all.> and
// _DT.<svc>.<id>.>. rest is the subject it looked up.
func (s *Service) lookup(m *nats.Msg, direct bool) (ep *endpoint, rest string) {
	rest = m.Subject
	switch {
	case direct:
		rest = strings.TrimPrefix(rest, s.directPrefix)
	case m.Sub == s.allSub:
		rest = strings.TrimPrefix(rest, s.allPrefix)
	}
	return (*s.bySubject.Load())[rest], rest
}

// serve runs the handler for m on the calling worker, which holds a slot. The
// slot is given back before the reply goes out, so a caller that got its answer
// and probes availability at once finds the slot free.
func (ep *endpoint) serve(m *nats.Msg) {
	s := ep.s
	start := time.Now()
	ctx := s.baseCtx
	if d, ok := dialtone.TimeoutFromHeader(m.Header); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	if m.Header != nil {
		ctx = s.opts.prop.Extract(ctx, dialtone.HeaderCarrier(m.Header))
	}
	var span trace.Span
	if s.trace.Open() {
		ctx, span = s.tracer.Start(ctx, ep.spanName, ep.spanOpts...)
		defer span.End()
	} else {
		span = trace.SpanFromContext(ctx) // non-recording; carries the caller's context
	}

	req := Request{Endpoint: ep.name, Subject: m.Subject, Header: m.Header, Data: m.Data, codec: s.opts.codec}
	resp, err := ep.call(ctx, &req)

	ep.numRequests.Add(1)
	ep.procNanos.Add(int64(time.Since(start)))
	s.inFlight.Add(-1)
	<-s.sem

	if err != nil {
		ep.failed(span, err)
		s.replyError(m, err)
		return
	}
	if m.Reply == "" {
		return
	}
	var perr error
	if resp == nil {
		perr = s.nc.Publish(m.Reply, nil)
	} else if resp.Header == nil {
		perr = s.nc.Publish(m.Reply, resp.Data)
	} else {
		perr = s.nc.PublishMsg(&nats.Msg{Subject: m.Reply, Data: resp.Data, Header: resp.Header})
	}
	if perr != nil {
		ep.replyFailed(ctx, span, m, resp, perr)
	}
}

// failed records a request that failed: the span's status and code, and the
// endpoint's error count and last error.
func (ep *endpoint) failed(span trace.Span, err error) {
	span.SetStatus(codes.Error, err.Error())
	span.SetAttributes(attribute.String(wire.AttrErrorCode, dialtone.CodeOf(err).String()))
	ep.numErrors.Add(1)
	msg := err.Error()
	ep.lastError.Store(&msg)
}

// replyFailed handles a reply the connection refused to send. A reply over the
// bus's max_payload becomes a ResourceExhausted error reply, which is small, so
// the caller learns at once instead of waiting for its deadline; any other
// failure (the connection is closed or its buffer full) leaves the caller
// without an answer. Either way the endpoint counts an error, it is logged at
// Warn and the error handler sees it.
func (ep *endpoint) replyFailed(ctx context.Context, span trace.Span, m *nats.Msg, resp *Response, perr error) {
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
	ep.failed(span, err)
	s.opts.logger.Warn("service: reply not sent", "service", s.cfg.Name, "endpoint", ep.name, "subject", m.Subject, "err", err.Error())
	s.reportError(ctx, ErrorEvent{Endpoint: ep.name, Subject: m.Subject, Err: err})
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

// call runs the handler, turning a panic into CodeInternal "internal error".
func (ep *endpoint) call(ctx context.Context, req *Request) (resp *Response, err error) {
	defer func() {
		if r := recover(); r != nil {
			ep.s.opts.logger.Error("service: handler panic",
				"service", ep.s.cfg.Name, "endpoint", ep.name, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			ep.s.reportError(ctx, ErrorEvent{Endpoint: ep.name, Subject: req.Subject,
				Err: dialtone.Errorf(dialtone.CodeInternal, "service %s: %s: handler panic: %v", ep.s.cfg.Name, ep.name, r)})
			resp, err = nil, dialtone.Errorf(dialtone.CodeInternal, "internal error")
		}
	}()
	return ep.handler.Handle(ctx, req)
}
