package service

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dialtone-dev/dialtone"
	"github.com/dialtone-dev/dialtone/internal/wire"
	"github.com/nats-io/nats.go"
)

// queue is a request channel and its pool of workers. Subscriptions deliver into
// ch; workers take requests from it.
//
// The pool is elastic. A worker that takes a request makes sure another worker is
// parked on ch before it runs the handler (waking a spare, or starting one if
// there is none, up to max), so a request never waits for a handler to finish
// while the instance has free slots. A worker that finishes takes the next
// queued request without parking if there is one; otherwise it parks on ch
// unless another worker is parked there already, in which case it becomes a
// spare. So a request goes from the connection's reader to an already parked
// worker (one wake-up, as for a subscription callback), and bursts are served
// by workers that are awake.
//
// One worker parked on ch, not two: the reader hands each message of a read to a
// parked worker directly, so with two parked the first two requests of a burst
// went to two workers, each of which woke nats.go's flusher when it replied,
// and a burst's replies left in two writes instead of one (twice the write
// system calls per request across processes: about 1 µs of the service's CPU
// and some of the bus's per request, see docs/performance.md).
//
// Spares wait apart, on standby, so that the worker that takes the parked one's
// place is woken rather than started. There are as many spares as the recent
// concurrency needs: with one spare at most, 8 concurrent callers made the pool
// start and end a goroutine for 84% of requests (TestWorkerPoolKeepsItsWorkers).
// A spare is listed, with a channel of its own, before it waits, so a wake-up
// cannot miss a spare that is about to wait. Spares beyond one that go unwoken
// for spareIdle leave (scheduleTrim).
type queue struct {
	ch      chan *nats.Msg
	closed  chan struct{} // closed with ch, so the spares leave too
	direct  bool          // direct requests may use a reserved slot
	events  bool          // consumers' messages: no endpoint, no reply
	max     int32
	idle    atomic.Int32 // workers parked on ch
	workers atomic.Int32
	started atomic.Int64  // workers started so far
	woken   atomic.Int64  // spares woken so far; trimming leaves the spares alone while it moves
	trimmer atomic.Bool   // a trim is scheduled
	unused  time.Duration // how long spares beyond one may go unwoken before they leave

	mu     sync.Mutex
	spares []chan bool  // the spares' channels, the latest last: true takes the parked place, false leaves
	spare  atomic.Int32 // len(spares), to read without mu
}

func newQueue(length, max int, direct, events bool) *queue {
	q := &queue{closed: make(chan struct{}), max: int32(max), direct: direct, events: events, unused: spareIdle}
	if length > 0 {
		q.ch = make(chan *nats.Msg, length)
	}
	return q
}

const (
	maxIdle   = 1               // workers parked on ch
	spareIdle = 5 * time.Second // how long spares beyond one may go unwoken before they leave
)

// spawn starts one more worker unless the pool is full.
func (s *Service) spawn(q *queue) {
	for {
		n := q.workers.Load()
		if n >= q.max {
			return
		}
		if q.workers.CompareAndSwap(n, n+1) {
			q.started.Add(1)
			s.wg.Add(1)
			go s.work(q)
			return
		}
	}
}

// replenish makes sure a worker will park on ch: it wakes the latest spare, or
// starts a worker when there is none.
func (s *Service) replenish(q *queue) {
	q.mu.Lock()
	if n := len(q.spares); n > 0 {
		wake := q.spares[n-1]
		q.spares = q.spares[:n-1]
		q.spare.Store(int32(n - 1))
		q.mu.Unlock()
		wake <- true // buffered: the spare takes it whenever it gets to wait
		q.woken.Add(1)
		return
	}
	q.mu.Unlock()
	s.spawn(q)
}

// standBy lists wake as a spare's channel and reports whether there are other
// spares.
func (q *queue) standBy(wake chan bool) (others bool) {
	q.mu.Lock()
	q.spares = append(q.spares, wake)
	n := len(q.spares)
	q.spare.Store(int32(n))
	q.mu.Unlock()
	return n > 1
}

// scheduleTrim arranges for spares beyond one to leave if none of them is
// woken for q.unused.
func (q *queue) scheduleTrim() {
	if !q.trimmer.CompareAndSwap(false, true) {
		return
	}
	seen := q.woken.Load()
	var check func()
	check = func() {
		if now := q.woken.Load(); now != seen {
			seen = now
			time.AfterFunc(q.unused, check) // still in use: look again later
			return
		}
		q.trimmer.Store(false)
		q.mu.Lock()
		leave := slices.Clone(q.spares[:max(len(q.spares)-1, 0)]) // the oldest: the latest is woken first
		q.spares = append(q.spares[:0], q.spares[len(leave):]...)
		q.spare.Store(int32(len(q.spares)))
		q.mu.Unlock()
		for _, wake := range leave {
			wake <- false
		}
	}
	time.AfterFunc(q.unused, check)
}

// work is one worker of q. It returns when ch is closed (at Stop) or when it is
// a spare that went unused (trim).
func (s *Service) work(q *queue) {
	defer s.wg.Done()
	wake := make(chan bool, 1) // this worker's, while it is a spare
	for {
		var m *nats.Msg
		var ok bool
		select {
		case m, ok = <-q.ch:
		default:
			if q.idle.Load() >= maxIdle {
				if q.standBy(wake) {
					q.scheduleTrim()
				}
				select {
				case stay := <-wake:
					if stay {
						continue
					}
				case <-q.closed:
				}
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
			s.replenish(q)
		}
		if q.events {
			s.consume(m)
			continue
		}
		ep, rest, pattern := s.lookup(m, q.direct)
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
		ep.serve(m, pattern)
	}
}

// queued counts the requests and events received but not yet given a slot:
// those in the channels (the shared ones and consumers' own), those an ordered
// consumer's subscription holds for its callback, and those a worker holds
// while every slot is taken. Messages still in the connection's buffers are not
// counted.
func (s *Service) queued() int {
	s.mu.Lock()
	events := len(s.eventQ.ch) // made by the first AddConsumer, under mu
	for _, co := range s.consumers {
		switch {
		case co.own != nil:
			events += len(co.own)
		case co.inline && co.sub != nil:
			if n, _, err := co.sub.Pending(); err == nil {
				events += max(n-int(co.taking.Load()), 0) // those in take are in flight or waiting
			}
		}
	}
	s.mu.Unlock()
	return len(s.reqQ.ch) + len(s.directQ.ch) + events + int(s.waiting.Load())
}
