package service

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/dialtone-dev/dialtone"
	"github.com/dialtone-dev/dialtone/internal/telemetry"
	"github.com/dialtone-dev/dialtone/internal/wire"
	"github.com/nats-io/nats.go"
)

// Consumer is a subscription whose messages are handled without a reply: the
// service side of package event, which is how applications add one (event.Subscribe).
//
// Its messages go through the instance's workers like requests (or, with
// MaxConcurrent, through workers of its own): under the same concurrency limit
// (WithMaxConcurrent), through the same interceptors (the standard ones, those
// given to New with WithInterceptors, those of the Group it was added to, the
// consumer's own, then the inner ones), and drained by Stop (a message the
// instance received before it unsubscribed is handled before Stop returns).
// Interceptors see dialtone.Request with Spec.Kind dialtone.KindEvent, Spec.Name
// the consumer's name, Spec.Subject its subject and Spec.QueueGroup its queue
// group; the standard Tracing interceptor makes the message an OpenTelemetry
// consumer span, "process <Subject>", a child of the
// trace context in its headers and linked to it.
type Consumer struct {
	Name       string // [A-Za-z0-9_-]+, unique among the instance's consumers
	Subject    string // what to subscribe to; '*' and a last '>' are wildcards
	QueueGroup string // each message goes to one member of the group; "" to every instance
	// New, when set, makes the value each payload is decoded into, with the
	// service's codec, before the interceptors run; they see it as
	// dialtone.Request.Msg (nil when the payload does not decode), and the inner
	// Validate checks it. Package event sets it for typed subscriptions.
	New          func() any
	Handler      ConsumerHandler        // required
	Interceptors []dialtone.Interceptor // after the service's (and the group's), before the inner ones
	Metadata     map[string]string      // shown for the consumer in $SRV.INFO "events"
	// MaxConcurrent, when above 0, gives the consumer a queue and that many
	// workers of its own instead of the instance's shared ones: at most
	// MaxConcurrent of its messages are handled at once. With 1 they are
	// handled one after another in the order the instance received them, on
	// the subscription's own delivery goroutine (a nats.go callback), with no
	// hand-off to a worker. Each handler still takes one of the instance's
	// slots (WithMaxConcurrent), and the queue holds WithQueueLength messages.
	// 0 means the shared workers: concurrently, in no particular order.
	MaxConcurrent int
}

// ConsumerHandler handles one message of a Consumer, inside its interceptors.
// req is the message as they left it (Header, Data), with the consumer's name in
// req.Endpoint and the subject it was published on in req.Subject; msg is their
// dialtone.Request.Msg: for a consumer with New, the decoded payload, or nil. A
// returned error (or a panic) is logged at Warn (Error), counted in the
// consumer's $SRV.STATS errors and given to the error handler
// (WithErrorHandler); there is nobody to answer.
type ConsumerHandler func(ctx context.Context, req Request, msg any) error

// Publication is an event the instance publishes, listed in its heartbeats and
// $SRV.INFO so that registries show who publishes what. Package event adds them
// (event.WithService).
type Publication struct {
	Name     string            // [A-Za-z0-9_-]+
	Subject  string            // literal subject
	Metadata map[string]string // shown in $SRV.INFO "events", e.g. the JSON Schema
}

type consumer struct {
	s        *Service
	c        Consumer
	spec     dialtone.Spec      // what the interceptors see as req.Spec
	chain    dialtone.UnaryFunc // the interceptors around invoke
	lite     dialtone.UnaryFunc // chain without the Idlers, for a message they are all idle for
	idlers   []telemetry.Idler
	wildcard bool               // the subject has wildcards: the handler's req.Subject comes with ctx
	sub      *nats.Subscription // guarded by s.mu; nil until subscribed
	dropped  int64              // guarded by s.mu: sub's dropped count when Stop began (a closed sub has none)
	own      chan *nats.Msg     // c.MaxConcurrent > 1: the consumer's own queue, read by its own workers
	inline   bool               // c.MaxConcurrent == 1: handled on the subscription's delivery goroutine
	taking   atomic.Int32       // inline: messages in take (nats.go counts them pending until take returns)
	working  bool               // guarded by s.mu: the own workers are started

	numEvents atomic.Int64
	numErrors atomic.Int64
	procNanos atomic.Int64
	lastError atomic.Pointer[string]
}

// AddConsumer adds a consumer; once the instance is started it is subscribed at
// once. Its name must be unique among the instance's consumers and its subject
// and queue group valid; anything else is an *dialtone.Error with
// CodeInvalidArgument or CodeAlreadyExists.
func (s *Service) AddConsumer(c Consumer) error {
	if err := checkName("consumer", c.Name); err != nil {
		return err
	}
	if c.Handler == nil {
		return dialtone.Errorf(dialtone.CodeInvalidArgument, "service: nil handler for consumer %q", c.Name)
	}
	if p := wire.FilterProblem(c.Subject); p != "" {
		return dialtone.Errorf(dialtone.CodeInvalidArgument, "service: consumer %q: invalid subject %q: %s", c.Name, c.Subject, p)
	}
	if c.QueueGroup != "" {
		if err := checkQueue(c.QueueGroup); err != nil {
			return err
		}
	}
	if c.MaxConcurrent < 0 {
		return dialtone.Errorf(dialtone.CodeInvalidArgument, "service: consumer %q: MaxConcurrent %d: want 0 (the shared workers) or more", c.Name, c.MaxConcurrent)
	}
	md := make(map[string]string, len(c.Metadata))
	for k, v := range c.Metadata {
		md[k] = v
	}
	c.Metadata = md
	co := &consumer{s: s, c: c, wildcard: wire.SubjectProblem(c.Subject) != ""}
	switch {
	case c.MaxConcurrent == 1:
		co.inline = true
	case c.MaxConcurrent > 1:
		co.own = make(chan *nats.Msg, s.opts.queueLen)
	}
	co.spec = dialtone.Spec{Kind: dialtone.KindEvent, Service: s.cfg.Name, Name: c.Name, Subject: c.Subject, QueueGroup: c.QueueGroup}
	all := make([]dialtone.Interceptor, 0, len(s.outer)+len(s.opts.interceptors)+len(c.Interceptors)+len(s.inner))
	all = append(append(append(append(all, s.outer...), s.opts.interceptors...), c.Interceptors...), s.inner...)
	all = telemetry.BindConn(all, s.nc) // spans name the server
	co.chain = dialtone.Chain(co.invoke, all...)
	busy, idlers := telemetry.Split(all)
	co.lite, co.idlers = dialtone.Chain(co.invoke, busy...), idlers

	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.state {
	case stateStopping, stateStopped:
		return dialtone.Errorf(dialtone.CodeFailedPrecondition, "service: stopped")
	}
	for _, other := range s.consumers {
		if other.c.Name == c.Name {
			return dialtone.Errorf(dialtone.CodeAlreadyExists, "service %s: consumer %q exists already", s.cfg.Name, c.Name)
		}
		if other.c.Subject == c.Subject && other.c.QueueGroup == c.QueueGroup {
			return dialtone.Errorf(dialtone.CodeAlreadyExists, "service %s: consumer %q already takes %s in queue group %q",
				s.cfg.Name, other.c.Name, c.Subject, c.QueueGroup)
		}
	}
	if s.eventQ.ch == nil {
		// closeQueues closes it; the workers of consumers with their own queue
		// stop on eventQ.closed.
		s.eventQ.ch = make(chan *nats.Msg, s.opts.queueLen)
	}
	s.consumers = append(s.consumers, co)
	if s.state == stateRunning {
		if err := s.subscribeConsumerLocked(co); err != nil {
			s.consumers = s.consumers[:len(s.consumers)-1]
			return err
		}
		s.spawnEventWorkersLocked()
		if err := s.nc.Flush(); err != nil {
			return dialtone.Errorf(dialtone.CodeUnavailable, "service %s: flush: %w", s.cfg.Name, err)
		}
	}
	return nil
}

// AddConsumer adds a consumer to the group's service, inside the group's
// interceptors (those given to AddGroup with WithInterceptors, its parents'
// first): after the service's, before the consumer's own. The group's subject
// prefix and queue group are for its endpoints and do not apply: a consumer
// subscribes to its own Subject in its own QueueGroup.
func (g *Group) AddConsumer(c Consumer) error {
	if g.err != nil {
		return g.err
	}
	if len(g.interceptors) > 0 {
		c.Interceptors = append(g.interceptors[:len(g.interceptors):len(g.interceptors)], c.Interceptors...)
	}
	return g.s.AddConsumer(c)
}

// AddPublication lists an event the instance publishes. Adding the same name and
// subject again changes nothing; the same name with another subject is an error.
func (s *Service) AddPublication(p Publication) error {
	if err := checkName("event", p.Name); err != nil {
		return err
	}
	if err := checkSubject("event subject", p.Subject); err != nil {
		return err
	}
	md := make(map[string]string, len(p.Metadata))
	for k, v := range p.Metadata {
		md[k] = v
	}
	p.Metadata = md
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, other := range s.publications {
		if other.Name == p.Name {
			if other.Subject != p.Subject {
				return dialtone.Errorf(dialtone.CodeAlreadyExists, "service %s: event %q is published on %s already, not %s",
					s.cfg.Name, p.Name, other.Subject, p.Subject)
			}
			return nil
		}
	}
	s.publications = append(s.publications, p)
	return nil
}

func (s *Service) subscribeConsumerLocked(co *consumer) error {
	var sub *nats.Subscription
	var err error
	if co.inline {
		sub, err = s.inlineSubscribeLocked(co)
	} else {
		ch := s.eventQ.ch
		if co.own != nil {
			ch = co.own
		}
		sub, err = s.chanSubscribeLocked(co.c.Subject, co.c.QueueGroup, ch)
	}
	if err != nil {
		return err
	}
	old := *s.bySub.Load()
	next := make(map[*nats.Subscription]*consumer, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[sub] = co
	s.bySub.Store(&next)
	co.sub = sub
	return nil
}

// inlineSubscribeLocked subscribes an ordered consumer with a callback: nats.go
// runs it on the subscription's own goroutine, one message after another in
// arrival order, so the handler needs no hand-off to a worker. The
// subscription holds as many messages as a queue would (WithQueueLength);
// nats.go drops the ones beyond as a slow consumer. Its drain completes once
// the callback has returned for the last message it received, so Stop's wait
// for the serving subscriptions covers the handlers.
func (s *Service) inlineSubscribeLocked(co *consumer) (*nats.Subscription, error) {
	sub, err := s.nc.QueueSubscribe(co.c.Subject, co.c.QueueGroup, co.take)
	if err == nil {
		if err = sub.SetPendingLimits(s.opts.queueLen, -1); err != nil {
			_ = sub.Unsubscribe()
		}
	}
	if err != nil {
		return nil, dialtone.Errorf(dialtone.CodeUnavailable, "service %s: subscribe %s: %w", s.cfg.Name, co.c.Subject, err)
	}
	s.servSubs = append(s.servSubs, sub)
	return sub, nil
}

// consume runs the consumer of m, a message of the shared queue, on the
// calling worker once it has a slot.
func (s *Service) consume(m *nats.Msg) {
	co := (*s.bySub.Load())[m.Sub]
	if co == nil {
		return // cannot happen: every subscription into eventQ is in bySub first
	}
	co.take(m)
}

// take runs m on the calling worker once it has one of the instance's slots. A
// message that waits for a slot while Stop gives up is dropped, and logged.
func (co *consumer) take(m *nats.Msg) {
	s := co.s
	co.taking.Add(1)
	defer co.taking.Add(-1)
	select {
	case s.sem <- struct{}{}:
	default:
		s.waiting.Add(1)
		select {
		case s.sem <- struct{}{}:
			s.waiting.Add(-1)
		case <-s.baseCtx.Done():
			s.waiting.Add(-1)
			co.numEvents.Add(1)
			co.failed(m, dialtone.Errorf(dialtone.CodeUnavailable, "service %s: %s: event dropped: stop gave up before a slot was free", s.cfg.Name, co.c.Name))
			return
		}
	}
	s.inFlight.Add(1)
	co.serve(m)
}

// work is one of the own workers of a consumer with MaxConcurrent: it handles
// the messages of the consumer's queue, in the order they arrived, until Stop
// has closed the consumer's subscription (eventQ.closed is closed after every
// serving subscription is) and the queue is empty. With one worker nothing
// else takes from the queue, so the messages are handled in arrival order.
func (co *consumer) work() {
	s := co.s
	defer s.wg.Done()
	for {
		select {
		case m := <-co.own:
			co.take(m)
		case <-s.eventQ.closed:
			for {
				select {
				case m := <-co.own:
					co.take(m)
				default:
					return
				}
			}
		}
	}
}

// clockBase makes time.Since read only the monotonic clock, which costs a
// fraction of what time.Now does: it matters at the rate events arrive.
var clockBase = time.Now()

func (co *consumer) serve(m *nats.Msg) {
	s := co.s
	start := time.Since(clockBase)
	req := dialtone.Request{Spec: co.spec, Instance: s.id, Header: m.Header, Data: m.Data}
	if co.c.New != nil {
		v := co.c.New()
		r := Request{Header: m.Header, Data: m.Data, codec: s.opts.codec}
		if r.Decode(v) == nil {
			req.Msg = v
		}
	}
	ctx := s.baseCtx
	if co.wildcard {
		ctx = telemetry.ContextWithSubject(ctx, m.Subject) // for invoke, and the consumer's span
	}
	chain := co.chain
	if m.Header == nil && telemetry.AllIdle(ctx, co.idlers, telemetry.Call{Kind: dialtone.KindEvent}) {
		// No trace context, no deadline, nothing recording: the standard
		// interceptors would only pass the event on.
		chain = co.lite
	}
	_, err := chain(ctx, req)

	co.numEvents.Add(1)
	co.procNanos.Add(int64(time.Since(clockBase) - start))
	s.inFlight.Add(-1)
	<-s.sem
	if err != nil {
		co.failed(m, err)
	}
}

// invoke is the step inside every interceptor: the handler.
func (co *consumer) invoke(ctx context.Context, req dialtone.Request) (dialtone.Response, error) {
	subject := co.c.Subject
	if co.wildcard {
		if v, ok := telemetry.SubjectFromContext(ctx); ok {
			subject = v
		}
	}
	r := Request{Endpoint: co.c.Name, Subject: subject, Header: req.Header, Data: req.Data, codec: co.s.opts.codec}
	return dialtone.Response{}, co.c.Handler(ctx, r, req.Msg)
}

// failed records a message that failed: the consumer's error count and last
// error, a line at Warn (a panic has its line at Error from Recover already),
// and the error handler. Nobody else hears of it.
func (co *consumer) failed(m *nats.Msg, err error) {
	s := co.s
	co.numErrors.Add(1)
	msg := err.Error()
	co.lastError.Store(&msg)
	var hp *handlerPanic
	if !errors.As(err, &hp) {
		s.opts.logger.Warn("service: event not handled",
			"service", s.cfg.Name, "consumer", co.c.Name, "subject", m.Subject, "code", dialtone.CodeOf(err).String(), "err", err)
	}
	s.reportError(s.baseCtx, ErrorEvent{Endpoint: co.c.Name, Subject: m.Subject, Err: err})
}

// spawnEventWorkersLocked starts, once, the workers of the shared queue when a
// consumer uses it, and the own workers of each consumer with MaxConcurrent:
// an instance without consumers keeps no goroutine for them.
func (s *Service) spawnEventWorkersLocked() {
	for _, co := range s.consumers {
		if co.inline {
			continue
		}
		if co.own == nil {
			if !s.eventWorkers {
				s.eventWorkers = true
				for range maxIdle {
					s.spawn(s.eventQ)
				}
			}
			continue
		}
		if !co.working {
			co.working = true
			for range co.c.MaxConcurrent {
				s.wg.Add(1)
				go co.work()
			}
		}
	}
}

// recordDropped keeps each consumer's count of dropped messages before Stop
// closes the subscriptions, which takes the count with them.
// recordDiscarded is recordDropped for a Stop that gave up: the messages an
// ordered consumer's subscription still holds, which nats.go discards when it
// is removed, are counted as dropped too.
func (s *Service) recordDiscarded() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, co := range s.consumers {
		if co.sub == nil {
			continue
		}
		if n, err := co.sub.Dropped(); err == nil {
			co.dropped = int64(n)
		}
		if co.inline {
			if n, _, err := co.sub.Pending(); err == nil {
				co.dropped += int64(max(n-int(co.taking.Load()), 0))
			}
		}
	}
}

func (s *Service) recordDropped() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, co := range s.consumers {
		if co.sub != nil {
			if n, err := co.sub.Dropped(); err == nil {
				co.dropped = int64(n)
			}
		}
	}
}
