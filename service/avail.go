package service

import (
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// reservationTTL is how long a slot promised to an availability probe stays
// reserved if the direct request does not come.
const reservationTTL = time.Second

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
	done  atomic.Bool // claimed by a request or expired: the token is accounted for
	timer *time.Timer
}

func (a *availability) init(s *Service) {
	a.s = s
	a.reply, _ = json.Marshal(struct {
		ID    string `json:"id"`
		Inbox string `json:"inbox"`
	}{s.id, s.inbox})
}

func (a *availability) onProbe(m *nats.Msg) {
	if m.Reply == "" {
		return
	}
	select {
	case a.s.sem <- struct{}{}:
	default:
		return // busy: stay silent, someone else answers
	}
	r := &reservation{}
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
