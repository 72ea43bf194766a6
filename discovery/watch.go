package discovery

import (
	"context"
	"sync"
)

// Watch returns a channel of events: first a Joined event for every instance known
// now, then every change as it happens, in order. The channel is closed when ctx
// ends or the registry is closed. Events queue up for a slow reader; past the watch
// buffer (WithWatchBuffer) the oldest are dropped, a warning is logged, and the
// next event delivered carries the number dropped in Event.Dropped.
func (r *Registry) Watch(ctx context.Context) <-chan Event {
	w := &watcher{
		out:    make(chan Event),
		notify: make(chan struct{}, 1),
		stop:   make(chan struct{}),
		limit:  r.cfg.watchBuffer,
		r:      r,
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		close(w.out)
		return w.out
	}
	for _, inst := range r.instancesLocked() {
		w.push(Event{Type: Joined, Instance: inst})
	}
	r.watchers[w] = struct{}{}
	r.mu.Unlock()
	go w.run(ctx)
	return w.out
}

func (r *Registry) instancesLocked() []Instance {
	out := make([]Instance, 0, len(r.byID))
	for _, e := range r.byID {
		out = append(out, e.inst)
	}
	return out
}

func (r *Registry) emitLocked(ev Event) {
	for w := range r.watchers {
		w.push(ev)
	}
}

type watcher struct {
	r      *Registry
	out    chan Event
	notify chan struct{}
	stop   chan struct{}
	once   sync.Once
	limit  int

	mu      sync.Mutex
	queue   []Event
	dropped int
}

func (w *watcher) push(ev Event) {
	w.mu.Lock()
	if len(w.queue) >= w.limit {
		w.queue[0] = Event{}
		w.queue = w.queue[1:]
		w.dropped++
	}
	w.queue = append(w.queue, ev)
	w.mu.Unlock()
	select {
	case w.notify <- struct{}{}:
	default:
	}
}

func (w *watcher) close() { w.once.Do(func() { close(w.stop) }) }

func (w *watcher) run(ctx context.Context) {
	defer close(w.out)
	defer func() {
		w.r.mu.Lock()
		delete(w.r.watchers, w)
		w.r.mu.Unlock()
	}()
	var batch []Event
	for {
		w.mu.Lock()
		batch = append(batch[:0], w.queue...)
		clear(w.queue)
		w.queue = w.queue[:0]
		dropped := w.dropped
		w.dropped = 0
		w.mu.Unlock()
		if dropped > 0 {
			w.r.cfg.logger.Warn("discovery: watcher too slow, events dropped", "dropped", dropped)
			if len(batch) > 0 {
				batch[0].Dropped = dropped
			}
		}
		for i, ev := range batch {
			select {
			case w.out <- ev:
				batch[i] = Event{}
			case <-ctx.Done():
				return
			case <-w.stop:
				return
			}
		}
		select {
		case <-w.notify:
		case <-ctx.Done():
			return
		case <-w.stop:
			return
		}
	}
}
