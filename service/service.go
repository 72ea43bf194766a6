package service

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dialtone-dev/dialtone"
	"github.com/dialtone-dev/dialtone/heartbeat"
	"github.com/dialtone-dev/dialtone/internal/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
)

// Config is the identity of a service.
type Config struct {
	Name        string            // [A-Za-z0-9_-]+
	Version     string            // semver, e.g. 1.2.0
	Description string            // free text
	Metadata    map[string]string // shown in $SRV.INFO and heartbeats
	QueueGroup  string            // default queue group of the endpoints; default Name
}

type state int

const (
	stateNew state = iota
	stateRunning
	stateStopping
	stateStopped
)

// Service is one instance of a service: its endpoints, its ADR-32 monitoring
// subjects and its heartbeat. Create it with New, add endpoints, then Start (or Run).
// It is safe for concurrent use.
type Service struct {
	nc      *nats.Conn
	cfg     Config
	opts    options
	id      string
	inbox   string
	started time.Time
	outer   []dialtone.Interceptor // the standard interceptors of every endpoint
	inner   []dialtone.Interceptor // the last ones before every handler

	sem        chan struct{} // one token per running handler or reserved slot
	inFlight   atomic.Int64
	waiting    atomic.Int64   // workers holding a request while every slot is taken
	lastDirect atomic.Int64   // when the last direct request without a reservation arrived, unix ns
	reqQ       *queue         // endpoint subjects and _DT.<svc>.all.>
	directQ    *queue         // _DT.<svc>.<id>.>, apart so reservations are never stuck behind
	eventQ     *queue         // consumers (package event)
	wg         sync.WaitGroup // workers
	closeOnce  sync.Once
	allSub     *nats.Subscription // _DT.<svc>.all.>, among servSubs
	directSub  *nats.Subscription // _DT.<svc>.<id>.>: drained after the promised slots are served
	availSub   *nats.Subscription // _DT.<svc>.avail: removed with directSub
	baseCtx    context.Context
	cancel     context.CancelFunc

	mu           sync.Mutex
	state        state
	endpoints    []*endpoint
	bySubject    atomic.Pointer[map[string]*endpoint] // endpoint subject -> endpoint, copy on write
	servSubs     []*nats.Subscription                 // endpoint subjects, all and consumers: drained first at Stop
	consumers    []*consumer
	bySub        atomic.Pointer[map[*nats.Subscription]*consumer] // copy on write
	publications []Publication
	eventWorkers bool                 // eventQ has its workers
	monSubs      []*nats.Subscription // $SRV.*: removed last
	stopDone     chan struct{}
	stopErr      error

	hb     *heartbeat.Publisher
	avail  availability
	gauges metric.Registration // the instance gauges; unregistered at Stop

	allPrefix    string // _DT.<svc>.all.
	directPrefix string // _DT.<svc>.<id>.
}

// New returns a service instance on nc with identity cfg. It validates cfg: the
// name must be [A-Za-z0-9_-]+ and the version semver. Nothing is subscribed until
// Start.
func New(nc *nats.Conn, cfg Config, opts ...Option) (*Service, error) {
	if nc == nil {
		return nil, dialtone.Errorf(dialtone.CodeInvalidArgument, "service: nil connection")
	}
	if err := checkName("service", cfg.Name); err != nil {
		return nil, err
	}
	if err := checkSemver(cfg.Version); err != nil {
		return nil, err
	}
	if cfg.QueueGroup == "" {
		cfg.QueueGroup = cfg.Name
	}
	if err := checkQueue(cfg.QueueGroup); err != nil {
		return nil, err
	}
	o := options{
		maxConcurrent: DefaultMaxConcurrent,
		hbInterval:    heartbeat.DefaultInterval,
		logger:        slog.Default(),
		codec:         dialtone.JSON,
		drainTimeout:  DefaultDrainTimeout,
		queueLen:      DefaultQueueLength,
	}
	for _, opt := range opts {
		opt.applyService(&o)
	}
	if o.tp == nil {
		o.tp = otel.GetTracerProvider()
	}
	if o.mp == nil {
		o.mp = otel.GetMeterProvider()
	}
	if o.prop == nil {
		o.prop = propagation.TraceContext{} // as rpc's client: W3C traceparent links spans out of the box
	}
	md := make(map[string]string, len(cfg.Metadata))
	for k, v := range cfg.Metadata {
		md[k] = v
	}
	cfg.Metadata = md

	s := &Service{
		nc:      nc,
		cfg:     cfg,
		opts:    o,
		id:      nuid.Next(),
		started: time.Now().UTC(),
		sem:     make(chan struct{}, o.maxConcurrent),
		reqQ:    newQueue(o.queueLen, o.maxConcurrent, false, false),
		directQ: newQueue(max(o.queueLen/8, 64), o.maxConcurrent, true, false),
		eventQ:  newQueue(0, o.maxConcurrent, false, true), // ch: the first AddConsumer's
	}
	s.outer, s.inner = o.outer, o.inner
	if !o.outerSet {
		s.outer = []dialtone.Interceptor{Deadline(), Tracing(o.tp, o.prop), Metrics(o.mp),
			&recoverer{logger: o.logger, report: s.reportError}}
	}
	if !o.innerSet {
		s.inner = []dialtone.Interceptor{Validate()}
	}
	s.inbox = wire.Inbox(cfg.Name, s.id)
	s.allPrefix = wire.AllPrefix(cfg.Name)
	s.directPrefix = s.inbox + "."
	s.baseCtx, s.cancel = context.WithCancel(context.Background())
	empty := map[string]*endpoint{}
	s.bySubject.Store(&empty)
	noConsumers := map[*nats.Subscription]*consumer{}
	s.bySub.Store(&noConsumers)
	s.avail.init(s)
	var err error
	if s.gauges, err = s.registerGauges(o.mp); err != nil {
		return nil, dialtone.Errorf(dialtone.CodeInvalidArgument, "service %s: metrics: %w", cfg.Name, err)
	}
	s.hb = heartbeat.NewPublisher(nc, s.heartbeatSource,
		heartbeat.WithInterval(o.hbInterval), heartbeat.WithLogger(o.logger))
	return s, nil
}

// ID is the instance ID, a nuid unique to this instance.
func (s *Service) ID() string { return s.id }

// Inbox is the instance inbox _DT.<service>.<id>; direct calls go to
// <inbox>.<endpoint subject>.
func (s *Service) Inbox() string { return s.inbox }

// Name is the service name.
func (s *Service) Name() string { return s.cfg.Name }

// Service returns s, so that a *Service is a Registrar like a *Group.
func (s *Service) Service() *Service { return s }

// Start subscribes the endpoints (balanced, lowest-latency and direct subjects),
// the availability probe, the ADR-32 subjects and "beat now", publishes the first
// heartbeat, and returns once the server has processed all of it.
func (s *Service) Start(ctx context.Context) error {
	s.mu.Lock()
	if s.state != stateNew {
		s.mu.Unlock()
		return dialtone.Errorf(dialtone.CodeFailedPrecondition, "service: already started")
	}
	err := s.subscribeLocked()
	if err == nil {
		s.state = stateRunning
	}
	s.mu.Unlock()
	if err != nil {
		s.unsubscribeAll()
		return err
	}
	if err := s.hb.Start(ctx); err != nil {
		s.unsubscribeAll()
		s.cancel()
		s.closeQueues() // ends the workers
		_ = s.gauges.Unregister()
		s.mu.Lock()
		s.state = stateStopped
		s.mu.Unlock()
		return err
	}
	return nil
}

func (s *Service) subscribeLocked() error {
	// Endpoint subjects first, monitoring subjects last: across a cluster interest
	// travels in order, so once $SRV.PING answers from elsewhere the endpoints do too.
	for _, ep := range s.endpoints {
		if err := s.subscribeEndpointLocked(ep); err != nil {
			return err
		}
	}
	for _, co := range s.consumers {
		if err := s.subscribeConsumerLocked(co); err != nil {
			return err
		}
	}
	var err error
	if s.allSub, err = s.chanSubscribeLocked(s.allPrefix+">", "", s.reqQ.ch); err != nil {
		return err
	}
	if s.directSub, err = s.nc.ChanSubscribe(s.directPrefix+">", s.directQ.ch); err != nil {
		return dialtone.Errorf(dialtone.CodeUnavailable, "service %s: subscribe %s>: %w", s.cfg.Name, s.directPrefix, err)
	}
	subj := wire.AvailSubject(s.cfg.Name)
	if s.availSub, err = s.nc.Subscribe(subj, s.avail.onProbe); err != nil {
		return dialtone.Errorf(dialtone.CodeUnavailable, "service %s: subscribe %s: %w", s.cfg.Name, subj, err)
	}
	if err := s.subscribeMonitorLocked(); err != nil {
		return err
	}
	for range maxIdle + 1 { // parked and spare
		s.spawn(s.reqQ)
		s.spawn(s.directQ)
	}
	if len(s.consumers) > 0 {
		s.spawnEventWorkersLocked()
	}
	return nil
}

func (s *Service) subscribeEndpointLocked(ep *endpoint) error {
	_, err := s.chanSubscribeLocked(ep.subject, ep.queue, s.reqQ.ch)
	return err
}

// chanSubscribeLocked subscribes subject (in queue, if set) delivering into ch.
func (s *Service) chanSubscribeLocked(subject, queue string, ch chan *nats.Msg) (*nats.Subscription, error) {
	var sub *nats.Subscription
	var err error
	if queue != "" {
		sub, err = s.nc.ChanQueueSubscribe(subject, queue, ch)
	} else {
		sub, err = s.nc.ChanSubscribe(subject, ch)
	}
	if err != nil {
		return nil, dialtone.Errorf(dialtone.CodeUnavailable, "service %s: subscribe %s: %w", s.cfg.Name, subject, err)
	}
	s.servSubs = append(s.servSubs, sub)
	return sub, nil
}

// closeQueues closes the request channels once nothing delivers into them any
// more (every serving subscription is closed or removed); workers then finish
// what is queued and exit.
func (s *Service) closeQueues() {
	s.closeOnce.Do(func() {
		close(s.reqQ.ch)
		close(s.directQ.ch)
		close(s.reqQ.closed)
		close(s.directQ.closed)
		s.mu.Lock()
		if s.eventQ.ch != nil {
			close(s.eventQ.ch)
		}
		s.mu.Unlock()
		close(s.eventQ.closed)
	})
}

func (s *Service) unsubscribeAll() {
	s.mu.Lock()
	subs := append(append([]*nats.Subscription(nil), s.servSubs...), s.monSubs...)
	subs = append(subs, s.directSub, s.availSub)
	s.servSubs, s.monSubs = nil, nil
	s.mu.Unlock()
	for _, sub := range subs {
		if sub != nil {
			_ = sub.Unsubscribe()
		}
	}
}

// Stop takes the instance out gracefully and blocks until it is out:
//
//  1. publish a "draining" heartbeat, so registries and clients stop choosing it,
//     and stop volunteering for availability probes;
//  2. drain the endpoint and lowest-latency subscriptions: unsubscribe, flush so
//     the server has processed that (PING/PONG), and let the requests that reached
//     the client before it do so go through dispatch;
//  3. keep the direct subscription until every slot the instance promised to an
//     availability probe is claimed by its request, released by its caller or
//     expired (at most a second) and, when callers address the instance by id,
//     until one heartbeat interval has passed since the announcement (callers that
//     chose it from discovery just before still reach it); then drain it too;
//  4. wait for the running handlers, including those requests;
//  5. publish the final "stopped" heartbeat and remove the monitoring subscriptions.
//
// So a drain fails no call: balanced and lowest-latency callers are served by the
// other instances from step 2, and a caller this instance volunteered for still
// finds it. ctx bounds steps 2 to 4: when it ends first, the handlers' contexts are
// cancelled, the "stopped" heartbeat is still sent, and Stop returns an error with
// CodeDeadlineExceeded. Stop does not close the connection; on a connection closed
// already it just releases the instance and returns nil. Calling Stop again
// waits for the first call and returns its result.
func (s *Service) Stop(ctx context.Context) error {
	s.mu.Lock()
	switch s.state {
	case stateNew:
		s.state = stateStopped
		s.mu.Unlock()
		s.cancel()
		_ = s.gauges.Unregister()
		return nil
	case stateStopping, stateStopped:
		done := s.stopDone
		s.mu.Unlock()
		if done == nil {
			return nil
		}
		select {
		case <-done:
			return s.stopErr
		case <-ctx.Done():
			return dialtone.Errorf(dialtone.CodeDeadlineExceeded, "service %s: stop: %w", s.cfg.Name, ctx.Err())
		}
	}
	s.state = stateStopping
	s.stopDone = make(chan struct{})
	servSubs := s.servSubs
	s.servSubs = nil
	s.mu.Unlock()

	err := s.drain(ctx, servSubs)

	_ = s.gauges.Unregister()
	s.mu.Lock()
	s.state = stateStopped
	s.stopErr = err
	close(s.stopDone)
	s.mu.Unlock()
	return err
}

func (s *Service) drain(ctx context.Context, servSubs []*nats.Subscription) error {
	var errs []error
	// Stop volunteering before the heartbeat says "draining": a caller that has
	// seen that heartbeat must not get a promise from this instance.
	s.avail.stopVolunteering()
	if err := s.hb.SetStatus(ctx, heartbeat.StatusDraining); err != nil {
		errs = append(errs, err)
	}
	announced := time.Now()

	// Drain: the client keeps delivering what the server sent before it processed
	// the UNSUB (the PING/PONG after it proves that) into the request channels, then
	// reports the subscription closed. Once all are closed nothing more arrives:
	// closing the channels lets the workers finish what is queued and exit, and
	// when they have, every request that reached this instance has been answered.
	s.recordDropped()
	timedOut := !s.drainSubs(ctx, servSubs)
	if !timedOut && !s.nc.IsClosed() && s.avail.waitSettled(ctx) != nil {
		timedOut = true
	}
	if !timedOut && !s.nc.IsClosed() {
		timedOut = !s.directGrace(ctx, announced)
	}
	if !timedOut {
		timedOut = !s.drainSubs(ctx, []*nats.Subscription{s.directSub})
	}
	_ = s.availSub.Unsubscribe()
	if timedOut {
		// Give up on the drain: remove the subscriptions outright, which stops
		// delivery into the queues at once, so they can be closed.
		s.recordDiscarded()
		for _, sub := range servSubs {
			_ = sub.Unsubscribe()
		}
		_ = s.directSub.Unsubscribe()
		s.cancel()
	}
	s.closeQueues()
	if !timedOut {
		workersDone := make(chan struct{})
		go func() {
			s.wg.Wait()
			close(workersDone)
		}()
		select {
		case <-workersDone:
		case <-ctx.Done():
			timedOut = true
		}
	}
	if timedOut {
		n := s.inFlight.Load()
		s.cancel() // handlers still running see their context end
		errs = append(errs, dialtone.Errorf(dialtone.CodeDeadlineExceeded,
			"service %s: stop: drain incomplete, %d handlers still running: %w", s.cfg.Name, n, ctx.Err()))
	}
	s.cancel()

	// The final heartbeat goes out even when ctx ended, with a short bound of its own.
	hctx, hcancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer hcancel()
	if err := s.hb.Stop(hctx); err != nil {
		errs = append(errs, err)
	}
	s.mu.Lock()
	monSubs := s.monSubs
	s.monSubs = nil
	s.mu.Unlock()
	for _, sub := range monSubs {
		_ = sub.Unsubscribe()
	}
	if s.nc.IsClosed() {
		// The connection is gone, and with it every subscription: the instance is out
		// and registries expire it. Publish failures on the way say nothing more.
		return nil
	}
	_ = s.nc.FlushWithContext(hctx)
	return errors.Join(errs...)
}

// directGrace keeps the direct subscription for one heartbeat interval after the
// "draining" announcement when callers address this instance by id (it had a
// direct request within the last interval): one that chose it from discovery just
// before the announcement still reaches it. discovery is never staler than one
// interval. An instance nobody calls directly does not wait. false means ctx
// ended first.
func (s *Service) directGrace(ctx context.Context, announced time.Time) bool {
	last := s.lastDirect.Load()
	if last == 0 || time.Since(time.Unix(0, last)) >= s.opts.hbInterval {
		return true
	}
	wait := time.Until(announced.Add(s.opts.hbInterval))
	if wait <= 0 {
		return true
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// drainSubs drains subs and waits until each is closed, the connection is closed
// or ctx ends; false means ctx ended first.
func (s *Service) drainSubs(ctx context.Context, subs []*nats.Subscription) bool {
	closed := make([]<-chan nats.SubStatus, 0, len(subs))
	for _, sub := range subs {
		ch := sub.StatusChanged(nats.SubscriptionClosed)
		if err := sub.Drain(); err != nil {
			_ = sub.Unsubscribe()
		}
		closed = append(closed, ch)
	}
	ncClosed := s.nc.StatusChanged(nats.CLOSED)
	defer s.nc.RemoveStatusListener(ncClosed)
	for _, ch := range closed {
		if s.nc.IsClosed() {
			return true // the client closed every subscription with the connection
		}
		select {
		case <-ch:
		case <-ncClosed:
		case <-ctx.Done():
			return false
		}
	}
	return true
}

// Run starts the service, serves until ctx ends, then stops it gracefully (Stop)
// within the drain timeout (WithDrainTimeout) and returns Stop's result.
//
// Run does not catch signals itself: a program that should drain on SIGINT or
// SIGTERM gives Run a context that ends on them, as the scaffolded main does:
//
//	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
//	defer stop()
//	err := svc.Run(ctx)
func (s *Service) Run(ctx context.Context) error {
	if err := s.Start(ctx); err != nil {
		return err
	}
	<-ctx.Done()
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.drainTimeout)
	defer cancel()
	return s.Stop(stopCtx)
}

// heartbeatSource describes the instance for the heartbeat publisher.
func (s *Service) heartbeatSource() heartbeat.Heartbeat {
	s.mu.Lock()
	eps := make([]heartbeat.Endpoint, len(s.endpoints))
	for i, ep := range s.endpoints {
		eps[i] = heartbeat.Endpoint{Name: ep.name, Subject: ep.subject, QueueGroup: ep.queue}
	}
	var events []heartbeat.Event
	for _, p := range s.publications {
		events = append(events, heartbeat.Event{Name: p.Name, Subject: p.Subject, Role: heartbeat.RolePublish})
	}
	for _, co := range s.consumers {
		events = append(events, heartbeat.Event{Name: co.c.Name, Subject: co.c.Subject, Role: heartbeat.RoleConsume, QueueGroup: co.c.QueueGroup})
	}
	s.mu.Unlock()
	return heartbeat.Heartbeat{
		ID:          s.id,
		Name:        s.cfg.Name,
		Version:     s.cfg.Version,
		Description: s.cfg.Description,
		Metadata:    s.cfg.Metadata,
		Endpoints:   eps,
		Events:      events,
		Inbox:       s.inbox,
		Started:     s.started,
		Load:        heartbeat.Load{InFlight: int(s.inFlight.Load()), Capacity: cap(s.sem), Queued: s.queued()},
	}
}

// replyError sends an error reply to m, if it has a reply subject.
func (s *Service) replyError(m *nats.Msg, err error) {
	if m.Reply == "" {
		return
	}
	h := nats.Header{}
	dialtone.SetErrorHeader(h, err)
	if perr := s.nc.PublishMsg(&nats.Msg{Subject: m.Reply, Header: h}); perr != nil {
		s.opts.logger.Debug("service: reply", "service", s.cfg.Name, "err", perr)
	}
}
