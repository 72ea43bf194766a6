package service

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dialtone-dev/dialtone/internal/wire"
	"github.com/nats-io/nats.go"
)

// reservationTTL is how long a slot promised to an availability probe stays
// reserved if the direct request does not come.
const reservationTTL = wire.ReservationTTL

// availability answers the probe on _DT.<svc>.avail: only when a concurrency slot
// is free, and then it takes that slot (a token in the semaphore) for the caller
// for up to reservationTTL, so two callers are not both sent to the last slot. The
// caller's request names the reservation (wire.HeaderReservation) and gets its
// slot; the caller's release frees the slots other instances reserved for it.
type availability struct {
	s     *Service
	reply []byte // {"id": ..., "inbox": ...}, the same for every probe

	live    atomic.Int64  // reservations not yet claimed, released or expired
	settled chan struct{} // a reservation ended with live at 0

	mu       sync.Mutex
	draining bool           // volunteer no more (Stop)
	queue    []*reservation // oldest first; all have the same TTL
}

type reservation struct {
	key   string      // the caller's probe key; its release frees the slot at once
	done  atomic.Bool // claimed by a request, released or expired: the token is accounted for
	timer *time.Timer
}

func (a *availability) init(s *Service) {
	a.s = s
	a.settled = make(chan struct{}, 1)
	a.reply, _ = json.Marshal(wire.AvailReply{ID: s.id, Inbox: s.inbox})
}

func (a *availability) onProbe(m *nats.Msg) {
	var am wire.AvailProbe
	if len(m.Data) > 0 {
		_ = json.Unmarshal(m.Data, &am) // an empty or foreign payload is a probe without a key
	}
	if m.Reply == "" {
		if am.Key != "" && am.Keep != a.s.id {
			a.release(am.Key)
		}
		return
	}
	a.mu.Lock()
	if a.draining {
		a.mu.Unlock()
		return // stopping: promise nothing new
	}
	select {
	case a.s.sem <- struct{}{}:
	default:
		a.mu.Unlock()
		return // busy: stay silent, someone else answers
	}
	r := &reservation{key: am.Key}
	for len(a.queue) > 0 && a.queue[0].done.Load() {
		a.queue[0] = nil
		a.queue = a.queue[1:]
	}
	a.queue = append(a.queue, r)
	a.live.Add(1)
	r.timer = time.AfterFunc(reservationTTL, func() {
		if r.done.CompareAndSwap(false, true) {
			<-a.s.sem
			a.ended()
		}
	})
	a.mu.Unlock()
	if err := a.s.nc.Publish(m.Reply, a.reply); err != nil && r.done.CompareAndSwap(false, true) {
		r.timer.Stop()
		<-a.s.sem
		a.ended()
	}
}

// ended accounts for a reservation that was claimed, released or expired.
func (a *availability) ended() {
	if a.live.Add(-1) == 0 {
		select {
		case a.settled <- struct{}{}:
		default:
		}
	}
}

// stopVolunteering makes the instance ignore probes from now on; releases are
// still handled.
func (a *availability) stopVolunteering() {
	a.mu.Lock()
	a.draining = true
	a.mu.Unlock()
}

// waitSettled returns once no reservation is live (after stopVolunteering, none
// is made again), or with ctx's error.
func (a *availability) waitSettled(ctx context.Context) error {
	for a.live.Load() > 0 {
		select {
		case <-a.settled:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// claim takes the live reservation made for key (the Dialtone-Reservation header
// of a direct request); true means the caller now owns its semaphore token. A
// request without a key, or whose reservation is gone, claims nothing.
func (a *availability) claim(key string) bool {
	if key == "" {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, r := range a.queue {
		if r.key == key && r.done.CompareAndSwap(false, true) {
			r.timer.Stop()
			a.ended()
			return true
		}
	}
	return false
}

// release frees the slots reserved for key: the caller went to another instance.
func (a *availability) release(key string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, r := range a.queue {
		if r.key == key && r.done.CompareAndSwap(false, true) {
			r.timer.Stop()
			<-a.s.sem
			a.ended()
		}
	}
}
