package heartbeat

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/dialtone-dev/dialtone"
	"github.com/nats-io/nats.go"
)

// DefaultInterval is how often a Publisher publishes when not told otherwise.
const DefaultInterval = time.Second

// DefaultJitter is the default fraction of the interval by which a heartbeat may come
// early, so that instances started together do not beat in lockstep.
const DefaultJitter = 0.1

// An Option configures a Publisher.
type Option interface {
	applyPublisher(*Publisher)
}

type optionFunc func(*Publisher)

func (f optionFunc) applyPublisher(p *Publisher) { f(p) }

// WithInterval sets the heartbeat interval (default 1s). Values below 1ms are raised
// to 1ms.
func WithInterval(d time.Duration) Option {
	return optionFunc(func(p *Publisher) { p.interval = max(d, time.Millisecond) })
}

// WithJitter sets the fraction of the interval (0 to 0.5) by which each heartbeat
// comes early at random. Heartbeats never come late, so the promise holds.
func WithJitter(fraction float64) Option {
	return optionFunc(func(p *Publisher) { p.jitter = min(max(fraction, 0), 0.5) })
}

// WithLogger sets the logger for publish failures (default slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(p *Publisher) {
		if l != nil {
			p.logger = l
		}
	})
}

// Publisher publishes an instance's heartbeats: one at Start, one every interval,
// one whenever the status changes (SetStatus), and a final "stopped" one at Stop. It also
// answers "beat now" requests on BeatSubject. It is safe for concurrent use.
type Publisher struct {
	nc       *nats.Conn
	source   func() Heartbeat
	interval time.Duration
	jitter   float64
	logger   *slog.Logger

	mu      sync.Mutex // orders documents: seq and publish happen together
	seq     uint64
	status  Status
	started bool
	running bool // the loop goroutine runs
	stopped bool
	beatSub *nats.Subscription
	quit    chan struct{}
	done    chan struct{}
}

// NewPublisher returns a Publisher for the instance that source describes. source
// is called for every document and returns the identity, endpoints and load; the
// Publisher fills in Schema, Seq, Status, IntervalMS and the connection's ServerID
// and ClientID. source must be safe to call
// from any goroutine and must not call back into the Publisher.
func NewPublisher(nc *nats.Conn, source func() Heartbeat, opts ...Option) *Publisher {
	p := &Publisher{
		nc:       nc,
		source:   source,
		interval: DefaultInterval,
		jitter:   DefaultJitter,
		logger:   slog.Default(),
		status:   StatusUp,
		quit:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	for _, o := range opts {
		o.applyPublisher(p)
	}
	return p
}

// Start subscribes to BeatSubject, publishes the first "up" heartbeat, waits until
// the server has both (a flush bounded by ctx) and starts the periodic loop.
func (p *Publisher) Start(ctx context.Context) error {
	p.mu.Lock()
	if p.started {
		p.mu.Unlock()
		return dialtone.Errorf(dialtone.CodeFailedPrecondition, "heartbeat: publisher already started")
	}
	p.started = true
	sub, err := p.nc.Subscribe(BeatSubject, p.onBeat)
	if err != nil {
		p.mu.Unlock()
		return dialtone.Errorf(dialtone.CodeUnavailable, "heartbeat: subscribe %s: %w", BeatSubject, err)
	}
	p.beatSub = sub
	perr := p.publishLocked()
	p.mu.Unlock()
	if perr != nil {
		return perr
	}
	if err := p.flush(ctx); err != nil {
		return dialtone.Errorf(dialtone.CodeUnavailable, "heartbeat: flush: %w", err)
	}
	p.mu.Lock()
	if !p.stopped {
		p.running = true
		go p.loop()
	}
	p.mu.Unlock()
	return nil
}

// SetStatus changes the status and publishes a heartbeat with it at once.
func (p *Publisher) SetStatus(ctx context.Context, s Status) error {
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		return nil
	}
	p.status = s
	err := p.publishLocked()
	p.mu.Unlock()
	if err != nil {
		return err
	}
	if err := p.flush(ctx); err != nil {
		return dialtone.Errorf(dialtone.CodeUnavailable, "heartbeat: flush: %w", err)
	}
	return nil
}

// Stop ends the loop, stops answering BeatSubject, publishes the final "stopped"
// heartbeat and flushes it (bounded by ctx). Calling Stop again does nothing.
func (p *Publisher) Stop(ctx context.Context) error {
	p.mu.Lock()
	if p.stopped || !p.started {
		p.stopped = true
		p.mu.Unlock()
		return nil
	}
	p.stopped = true
	running := p.running
	close(p.quit)
	if p.beatSub != nil {
		_ = p.beatSub.Unsubscribe()
	}
	p.status = StatusStopped
	err := p.publishLocked()
	p.mu.Unlock()
	if running {
		<-p.done
	}
	if err != nil {
		return err
	}
	if ferr := p.flush(ctx); ferr != nil {
		return dialtone.Errorf(dialtone.CodeUnavailable, "heartbeat: flush: %w", ferr)
	}
	return nil
}

func (p *Publisher) fill(h *Heartbeat, seq uint64) {
	h.Schema = Schema
	h.Seq = seq
	h.Status = p.status
	h.IntervalMS = p.interval.Milliseconds()
	h.ServerID, h.ClientID = p.nc.ConnectedServerId(), 0
	if id, err := p.nc.GetClientID(); err == nil && h.ServerID != "" {
		h.ClientID = id
	}
}

// next builds the next document; p.mu is held.
func (p *Publisher) nextLocked() ([]byte, string, error) {
	h := p.source()
	p.seq++
	p.fill(&h, p.seq)
	data, err := Encode(&h)
	return data, Subject(h.Name), err
}

func (p *Publisher) publishLocked() error {
	data, subject, err := p.nextLocked()
	if err != nil {
		return dialtone.Errorf(dialtone.CodeInternal, "heartbeat: encode: %w", err)
	}
	if err := p.nc.Publish(subject, data); err != nil {
		return dialtone.Errorf(dialtone.CodeUnavailable, "heartbeat: publish %s: %w", subject, err)
	}
	return nil
}

func (p *Publisher) onBeat(m *nats.Msg) {
	if m.Reply == "" {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return
	}
	data, _, err := p.nextLocked()
	if err != nil {
		p.logger.Error("heartbeat: encode", "err", err)
		return
	}
	if err := m.Respond(data); err != nil {
		p.logger.Debug("heartbeat: reply to beat request", "err", err)
	}
}

func (p *Publisher) wait() time.Duration {
	d := p.interval
	if p.jitter > 0 {
		d -= time.Duration(rand.Float64() * p.jitter * float64(p.interval))
	}
	return d
}

func (p *Publisher) loop() {
	defer close(p.done)
	t := time.NewTimer(p.wait())
	defer t.Stop()
	for {
		select {
		case <-p.quit:
			return
		case <-t.C:
		}
		p.mu.Lock()
		var err error
		if !p.stopped {
			err = p.publishLocked()
		}
		p.mu.Unlock()
		if err != nil {
			// While the connection is down nats.go buffers publishes; an error here
			// means the buffer is full or the connection is closed. The next tick
			// tries again.
			p.logger.Debug("heartbeat: publish", "err", err)
		}
		t.Reset(p.wait())
	}
}

// flush waits until the server has processed everything sent so far. nats.go needs a
// deadline for that; without one in ctx, 10s is the bound.
func (p *Publisher) flush(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
	}
	return p.nc.FlushWithContext(ctx)
}
