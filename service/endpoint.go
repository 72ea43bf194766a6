package service

import (
	"context"
	"sync/atomic"

	"github.com/dialtone-dev/dialtone"
	"github.com/nats-io/nats.go"
)

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
	s.bindRecover(all)
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
