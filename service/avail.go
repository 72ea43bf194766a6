package service

import (
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
// next direct request uses the oldest live reservation.
type availability struct {
	s     *Service
	reply []byte // {"id": ..., "inbox": ...}, the same for every probe

	mu    sync.Mutex
	queue []*reservation // oldest first; all have the same TTL
}

type reservation struct {
	key   string      // the caller's probe key; its release frees the slot at once
	done  atomic.Bool // claimed by a request, released or expired: the token is accounted for
	timer *time.Timer
}

func (a *availability) init(s *Service) {
	a.s = s
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
	select {
	case a.s.sem <- struct{}{}:
	default:
		return // busy: stay silent, someone else answers
	}
	r := &reservation{key: am.Key}
	a.mu.Lock()
	for len(a.queue) > 0 && a.queue[0].done.Load() {
		a.queue[0] = nil
		a.queue = a.queue[1:]
	}
	a.queue = append(a.queue, r)
	r.timer = time.AfterFunc(reservationTTL, func() {
		if r.done.CompareAndSwap(false, true) {
			<-a.s.sem
		}
	})
	a.mu.Unlock()
	if err := a.s.nc.Publish(m.Reply, a.reply); err != nil && r.done.CompareAndSwap(false, true) {
		r.timer.Stop()
		<-a.s.sem
	}
}

// claim takes the oldest live reservation; true means the caller now owns its
// semaphore token.
func (a *availability) claim() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	for len(a.queue) > 0 {
		r := a.queue[0]
		a.queue[0] = nil
		a.queue = a.queue[1:]
		if r.done.CompareAndSwap(false, true) {
			r.timer.Stop()
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
		}
	}
}
