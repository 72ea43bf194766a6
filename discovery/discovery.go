// Package discovery keeps a live view of Dialtone services and their instances,
// built from the heartbeats every instance publishes (see package heartbeat).
//
//	reg, err := discovery.New(ctx, nc)
//	defer reg.Close()
//	for _, inst := range reg.Instances("greeter", discovery.ByVersion("1.2.0")) { ... }
//	for ev := range reg.Watch(ctx) { ... } // joined, changed, draining, left, expired
//
// A Registry subscribes to service.*.heartbeats. On start it also asks every
// instance for its heartbeat at once (a request on _DT.beat) and collects the
// replies for a short while (WithStartupWait, 100ms by default), so a registry
// started after its services knows them when New returns instead of a heartbeat
// interval later. It asks again whenever its connection is re-established.
//
// An instance is "up" or "draining" until it publishes its final "stopped"
// heartbeat (it left) or has not been heard from for 3 of the intervals it promised
// in its heartbeats (it expired, e.g. it was killed or lost its connection).
// Expiry is scheduled for the earliest deadline, not polled, so it happens on time
// and an idle registry of 1,000 instances wakes about once per interval. A registry
// whose connection may read the bus's disconnect events expires an instance the
// moment its connection closes instead (disconnects.go, WithDisconnectEvents).
//
// A Registry is safe for concurrent use. Heartbeats older than the last one seen from
// an instance (by seq) are ignored, so the periodic heartbeat and a reply to
// _DT.beat can arrive in any order.
package discovery

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/dialtone-dev/dialtone"
	"github.com/dialtone-dev/dialtone/heartbeat"
	"github.com/nats-io/nats.go"
)

// MissedIntervals is how many promised intervals an instance may stay silent
// before it expires.
const MissedIntervals = 3

// DefaultStartupWait is how long New collects replies to its "beat now" request.
const DefaultStartupWait = 100 * time.Millisecond

// DefaultWatchBuffer is how many undelivered events a watcher may have queued
// before the oldest are dropped.
const DefaultWatchBuffer = 1 << 16

// Instance is what a registry knows about one instance: its latest heartbeat and
// when it arrived.
type Instance struct {
	heartbeat.Heartbeat
	LastSeen time.Time // local time the latest heartbeat arrived
}

// ExpiresAt is when the instance expires unless another heartbeat arrives.
func (i *Instance) ExpiresAt() time.Time {
	return i.LastSeen.Add(MissedIntervals * promised(&i.Heartbeat))
}

func promised(h *heartbeat.Heartbeat) time.Duration {
	if h.IntervalMS <= 0 {
		return heartbeat.DefaultInterval
	}
	return h.Interval()
}

// Service summarises the live instances of one service.
type Service struct {
	Name      string
	Versions  []string // distinct versions, sorted
	Instances int
}

// EventType says what happened to an instance.
type EventType int

// The event types.
const (
	Joined   EventType = iota + 1 // first heartbeat seen
	Changed                       // version, description, metadata, endpoints, inbox or interval changed
	Draining                      // the instance announced a graceful stop
	Left                          // the instance's final "stopped" heartbeat
	Expired                       // no heartbeat for MissedIntervals promised intervals
)

func (t EventType) String() string {
	switch t {
	case Joined:
		return "joined"
	case Changed:
		return "changed"
	case Draining:
		return "draining"
	case Left:
		return "left"
	case Expired:
		return "expired"
	}
	return "unknown"
}

// Event is a change in the set of instances.
type Event struct {
	Type     EventType
	Instance Instance // state after the event; for Left and Expired the last known state

	// Dropped is how many events were dropped just before this one because the
	// watcher read too slowly (see WithWatchBuffer). When it is not 0 the events
	// seen so far no longer add up to the registry's state: read the current
	// state again with Instances.
	Dropped int
}

// An Option configures a Registry (New).
type Option interface {
	applyRegistry(*config)
}

type optionFunc func(*config)

func (f optionFunc) applyRegistry(c *config) { f(c) }

type config struct {
	startupWait   time.Duration
	logger        *slog.Logger
	watchBuffer   int
	noDisconnects bool // WithDisconnectEvents(false)
}

// WithStartupWait sets how long New collects replies to its "beat now" request
// (default 100ms). Zero skips the request.
func WithStartupWait(d time.Duration) Option {
	return optionFunc(func(c *config) { c.startupWait = max(d, 0) })
}

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) {
		if l != nil {
			c.logger = l
		}
	})
}

// WithWatchBuffer sets how many events a slow watcher may have queued before the
// oldest are dropped (default DefaultWatchBuffer); the next event delivered says
// how many were (Event.Dropped).
func WithWatchBuffer(n int) Option {
	return optionFunc(func(c *config) { c.watchBuffer = max(n, 1) })
}

// A Filter selects instances in Instances: an instance is listed when every
// filter given returns true for it.
type Filter func(*Instance) bool

// ByVersion selects instances of exactly this version.
func ByVersion(v string) Filter {
	return func(i *Instance) bool { return i.Version == v }
}

// ByStatus selects instances with this status ("up" or "draining").
func ByStatus(s heartbeat.Status) Filter {
	return func(i *Instance) bool { return i.Status == s }
}

type entry struct {
	inst Instance
}

// tombstone remembers an instance that left or expired, so a late heartbeat
// (lower or equal seq) does not bring it back.
type tombstone struct {
	seq   uint64
	until time.Time
}

// Registry is a live view of services and instances. Create it with New.
type Registry struct {
	nc   *nats.Conn
	cfg  config
	now  func() time.Time
	sub  *nats.Subscription
	wake chan struct{} // an earlier deadline appeared

	beatInbox    string
	beatSub      *nats.Subscription
	discSub      *nats.Subscription // disconnect events, when the connection may read them
	noResponders chan struct{}
	reconnected  chan nats.Status
	reconnDone   chan struct{}

	quit chan struct{}
	done chan struct{}

	mu        sync.RWMutex
	byID      map[string]*entry
	byService map[string]map[string]*entry
	tombs     map[string]tombstone
	nextWake  time.Time
	watchers  map[*watcher]struct{}
	closed    bool
}

// New subscribes to every service's heartbeats, asks the running instances to beat
// now, and returns once their replies are collected (WithStartupWait, bounded by
// ctx).
func New(ctx context.Context, nc *nats.Conn, opts ...Option) (*Registry, error) {
	cfg := config{startupWait: DefaultStartupWait, logger: slog.Default(), watchBuffer: DefaultWatchBuffer}
	for _, o := range opts {
		o.applyRegistry(&cfg)
	}
	r := newRegistry(nc, cfg, time.Now)
	sub, err := nc.Subscribe(heartbeat.WildcardSubject, r.onMsg)
	if err != nil {
		return nil, dialtone.Errorf(dialtone.CodeUnavailable, "discovery: subscribe %s: %w", heartbeat.WildcardSubject, err)
	}
	r.sub = sub
	if err := r.subscribeBeatReplies(); err != nil {
		_ = sub.Unsubscribe()
		return nil, err
	}
	r.watchDisconnects(ctx)
	r.reconnected = nc.StatusChanged(nats.CONNECTED)
	go r.askOnReconnect(r.reconnected)
	go r.sweep()
	if cfg.startupWait > 0 {
		if err := r.askAll(ctx); err != nil {
			r.Close()
			return nil, err
		}
	}
	return r, nil
}

func newRegistry(nc *nats.Conn, cfg config, now func() time.Time) *Registry {
	return &Registry{
		nc:           nc,
		cfg:          cfg,
		now:          now,
		wake:         make(chan struct{}, 1),
		noResponders: make(chan struct{}, 1),
		reconnDone:   make(chan struct{}),
		quit:         make(chan struct{}),
		done:         make(chan struct{}),
		byID:         make(map[string]*entry),
		byService:    make(map[string]map[string]*entry),
		tombs:        make(map[string]tombstone),
		watchers:     make(map[*watcher]struct{}),
	}
}

// subscribeBeatReplies sets up the inbox that replies to "beat now" come to. It
// stays for the registry's life: the registry asks again after every reconnect.
func (r *Registry) subscribeBeatReplies() error {
	r.beatInbox = r.nc.NewRespInbox()
	sub, err := r.nc.Subscribe(r.beatInbox, func(m *nats.Msg) {
		if len(m.Data) == 0 && m.Header.Get("Status") == "503" {
			select { // nobody listens on _DT.beat
			case r.noResponders <- struct{}{}:
			default:
			}
			return
		}
		r.onMsg(m)
	})
	if err != nil {
		return dialtone.Errorf(dialtone.CodeUnavailable, "discovery: subscribe %s: %w", r.beatInbox, err)
	}
	r.beatSub = sub
	return nil
}

// askAll sends "beat now" and lets the replies come in until the startup wait
// ends, or at once when the bus says nobody listens.
func (r *Registry) askAll(ctx context.Context) error {
	if err := r.nc.PublishRequest(heartbeat.BeatSubject, r.beatInbox, nil); err != nil {
		return dialtone.Errorf(dialtone.CodeUnavailable, "discovery: request %s: %w", heartbeat.BeatSubject, err)
	}
	t := time.NewTimer(r.cfg.startupWait)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.noResponders:
	case <-ctx.Done():
		return dialtone.Errorf(dialtone.CodeOf(ctx.Err()), "discovery: start: %w", ctx.Err())
	}
	return nil
}

// askOnReconnect asks every instance to beat again whenever the connection comes
// back, so the registry catches up at once rather than a heartbeat interval later.
func (r *Registry) askOnReconnect(ch chan nats.Status) {
	defer close(r.reconnDone)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
			if err := r.nc.PublishRequest(heartbeat.BeatSubject, r.beatInbox, nil); err != nil {
				r.cfg.logger.Debug("discovery: beat request after reconnect", "err", err)
			}
		case <-r.quit:
			return
		}
	}
}

// Close stops the registry: no more updates, and every Watch channel is closed.
func (r *Registry) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	ws := slices.Collect(maps.Keys(r.watchers))
	r.watchers = map[*watcher]struct{}{}
	r.mu.Unlock()
	var err error
	if r.sub != nil {
		err = r.sub.Unsubscribe()
		if r.nc.IsClosed() {
			err = nil
		}
	}
	if r.beatSub != nil {
		_ = r.beatSub.Unsubscribe()
	}
	if r.discSub != nil {
		_ = r.discSub.Unsubscribe()
	}
	close(r.quit)
	<-r.done
	if r.reconnected != nil {
		r.nc.RemoveStatusListener(r.reconnected)
		<-r.reconnDone
	}
	for _, w := range ws {
		w.close()
	}
	return err
}

func (r *Registry) onMsg(m *nats.Msg) {
	h, err := heartbeat.Decode(m.Data)
	if err != nil {
		r.cfg.logger.Debug("discovery: ignoring heartbeat", "subject", m.Subject, "err", err)
		return
	}
	if strings.HasPrefix(m.Subject, "service.") && m.Subject != heartbeat.Subject(h.Name) {
		r.cfg.logger.Debug("discovery: heartbeat on the wrong subject", "subject", m.Subject, "name", h.Name)
		return
	}
	r.apply(h, r.now())
}

// apply folds one heartbeat into the registry.
func (r *Registry) apply(h *heartbeat.Heartbeat, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	e := r.byID[h.ID]
	if e == nil {
		if t, ok := r.tombs[h.ID]; ok && h.Seq <= t.seq {
			return
		}
		if h.Status == heartbeat.StatusStopped {
			r.tombs[h.ID] = tombstone{seq: h.Seq, until: now.Add(MissedIntervals * promised(h))}
			return
		}
		delete(r.tombs, h.ID)
		e = &entry{inst: Instance{Heartbeat: *h, LastSeen: now}}
		r.byID[h.ID] = e
		r.indexLocked(h.Name, e)
		r.scheduleLocked(e.inst.ExpiresAt())
		r.emitLocked(Event{Type: Joined, Instance: e.inst})
		return
	}
	if h.Seq <= e.inst.Seq {
		return // stale or repeated
	}
	prev := e.inst
	if prev.Name != h.Name { // not something an instance does; keep the index right anyway
		r.removeLocked(e)
		r.byID[h.ID] = e
		r.indexLocked(h.Name, e)
	}
	e.inst = Instance{Heartbeat: *h, LastSeen: now}
	switch {
	case h.Status == heartbeat.StatusStopped:
		r.removeLocked(e)
		r.tombs[h.ID] = tombstone{seq: h.Seq, until: now.Add(MissedIntervals * promised(h))}
		r.emitLocked(Event{Type: Left, Instance: e.inst})
	case h.Status == heartbeat.StatusDraining && prev.Status != heartbeat.StatusDraining:
		r.emitLocked(Event{Type: Draining, Instance: e.inst})
	case changed(&prev.Heartbeat, h):
		r.emitLocked(Event{Type: Changed, Instance: e.inst})
	}
	if h.IntervalMS < prev.IntervalMS {
		r.scheduleLocked(e.inst.ExpiresAt())
	}
}

func changed(a, b *heartbeat.Heartbeat) bool {
	return a.Version != b.Version || a.Description != b.Description || a.Inbox != b.Inbox ||
		a.IntervalMS != b.IntervalMS || a.Status != b.Status || a.Name != b.Name ||
		!maps.Equal(a.Metadata, b.Metadata) || !slices.Equal(a.Endpoints, b.Endpoints)
}

func (r *Registry) indexLocked(name string, e *entry) {
	svc := r.byService[name]
	if svc == nil {
		svc = make(map[string]*entry)
		r.byService[name] = svc
	}
	svc[e.inst.ID] = e
}

func (r *Registry) removeLocked(e *entry) {
	delete(r.byID, e.inst.ID)
	if svc := r.byService[e.inst.Name]; svc != nil {
		delete(svc, e.inst.ID)
		if len(svc) == 0 {
			delete(r.byService, e.inst.Name)
		}
	}
}

// scheduleLocked makes sure the sweeper wakes by t.
func (r *Registry) scheduleLocked(t time.Time) {
	if r.nextWake.IsZero() || t.Before(r.nextWake) {
		r.nextWake = t
		select {
		case r.wake <- struct{}{}:
		default:
		}
	}
}

// sweep expires instances at their deadlines. It sleeps until the earliest
// deadline; heartbeats only move deadlines later, and an earlier one (a new
// instance, a shorter interval) wakes it through r.wake.
func (r *Registry) sweep() {
	defer close(r.done)
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		r.mu.Lock()
		now := r.now()
		next := r.expireLocked(now)
		r.nextWake = next
		r.mu.Unlock()
		d := time.Hour
		if !next.IsZero() {
			d = max(next.Sub(now), time.Millisecond)
		}
		t.Reset(d)
		select {
		case <-r.quit:
			return
		case <-r.wake:
			if !t.Stop() {
				select {
				case <-t.C:
				default:
				}
			}
		case <-t.C:
		}
	}
}

// expireLocked removes instances past their deadline and returns the earliest
// remaining deadline (zero when there is none).
func (r *Registry) expireLocked(now time.Time) time.Time {
	var next time.Time
	for _, e := range r.byID {
		exp := e.inst.ExpiresAt()
		if !now.Before(exp) {
			r.removeLocked(e)
			r.tombs[e.inst.ID] = tombstone{seq: e.inst.Seq, until: now.Add(MissedIntervals * promised(&e.inst.Heartbeat))}
			r.emitLocked(Event{Type: Expired, Instance: e.inst})
			continue
		}
		if next.IsZero() || exp.Before(next) {
			next = exp
		}
	}
	for id, t := range r.tombs {
		if now.After(t.until) {
			delete(r.tombs, id)
		} else if next.IsZero() || t.until.Before(next) {
			next = t.until
		}
	}
	return next
}

// Services lists the services with live instances, sorted by name.
func (r *Registry) Services() []Service {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]Service, 0, len(r.byService))
	for name, insts := range r.byService {
		s := Service{Name: name, Instances: len(insts)}
		for _, e := range insts {
			if !slices.Contains(s.Versions, e.inst.Version) {
				s.Versions = append(s.Versions, e.inst.Version)
			}
		}
		sort.Strings(s.Versions)
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Instances lists the live instances of service name that pass every filter,
// oldest first (by start time, then ID).
func (r *Registry) Instances(name string, filters ...Filter) []Instance {
	r.mu.RLock()
	out := make([]Instance, 0, len(r.byService[name]))
next:
	for _, e := range r.byService[name] {
		for _, f := range filters {
			if !f(&e.inst) {
				continue next
			}
		}
		out = append(out, e.inst)
	}
	r.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Started.Equal(out[j].Started) {
			return out[i].Started.Before(out[j].Started)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// Instance returns the live instance with this ID.
func (r *Registry) Instance(id string) (Instance, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if e := r.byID[id]; e != nil {
		return e.inst, true
	}
	return Instance{}, false
}
