package server

// A client's permissions at run time: the compiled set (perms.go) with the
// client's caches of publish and delivery decisions and the reply subjects it
// may answer (allow_responses).

import (
	"encoding/binary"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// clientPerms is one client's view of its permissions: the compiled set plus
// its caches and the reply subjects it may answer. It also carries what the
// client authenticated with (see auth.go), so that a reload can re-check it.
// A client's clientPerms is replaced whole when its permissions change.
//
// Concurrency: pubAllowed and subAllowed run on the client's own reader
// goroutine only, so the publish caches need no lock. deliverAllowed runs on
// the readers of every publishing client: its cache is a fixed table of
// atomic pointers to immutable entries, and the reply table has a mutex.
// set is immutable.
type clientPerms struct {
	set *permSet      // nil: unrestricted
	id  *authIdentity // what the client presented at CONNECT

	pcache map[string]pubDecision    // publish decisions; reader only
	pmemo  *[pubMemoSize]pubDecision // direct-mapped front of pcache; reader only

	// delivery decisions: direct-mapped and lock-free (publishers' readers
	// share it); a slot holds an immutable entry, replaced whole
	dmemo *[pubMemoSize]atomic.Pointer[denyDecision]
	dseed maphash.Seed

	rmu        sync.Mutex
	replies    map[string]replyAllow // reply subjects this client may publish to
	replyBytes int                   // their total length
	sincePrune int
	lastPrune  time.Time
}

// replyAllow is one reply subject a client received and may answer.
type replyAllow struct {
	t time.Time
	n int
}

func newClientPerms(set *permSet, id *authIdentity) *clientPerms {
	p := &clientPerms{set: set, id: id}
	if set != nil {
		if set.pubAllow != nil || set.pubDeny != nil {
			p.pcache = make(map[string]pubDecision) // pmemo comes with the first publish
		}
		if set.subDeny != nil {
			p.dmemo = new([pubMemoSize]atomic.Pointer[denyDecision])
			p.dseed = maphash.MakeSeed()
		}
		if set.resp != nil {
			p.replies = make(map[string]replyAllow)
			p.lastPrune = time.Now()
		}
	}
	return p
}

// pubAllowed reports whether the client may publish to subj. It runs on the
// client's reader goroutine only. The common case, a subject allowed and
// published recently, is answered inline from the memo.
func (p *clientPerms) pubAllowed(subj []byte) bool {
	if m := p.pmemo; m != nil {
		if e := &m[pubMemoSlot(subj)]; e.ok && e.subj == string(subj) {
			return true
		}
	}
	return p.pubCheck(subj)
}

// pubCheck is pubAllowed past the memo.
func (p *clientPerms) pubCheck(subj []byte) bool {
	ps := p.set
	if ps == nil || p.pcache == nil {
		return true
	}
	// The memo answers the subjects published most recently for the price of
	// a cheap hash and a compare; the map behind it holds the rest.
	if p.pmemo == nil {
		p.pmemo = new([pubMemoSize]pubDecision)
	}
	if len(subj) > permCacheSubjMax {
		ok := ps.pubStatic(subj)
		if !ok && ps.resp != nil {
			return p.responseAllowed(subj)
		}
		return ok
	}
	m := &p.pmemo[pubMemoSlot(subj)]
	ok := m.ok
	if m.subj == "" || m.subj != string(subj) {
		d, hit := p.pcache[string(subj)]
		if !hit {
			d = pubDecision{subj: string(subj), ok: ps.pubStatic(subj)}
			if len(p.pcache) >= permCacheMax {
				evictSome(p.pcache)
			}
			p.pcache[d.subj] = d
		}
		*m = d
		ok = d.ok
	}
	if !ok && ps.resp != nil {
		return p.responseAllowed(subj)
	}
	return ok
}

// subAllowed reports whether the client may subscribe to subject (with queue,
// when not nil).
func (p *clientPerms) subAllowed(subject, queue []byte) bool {
	if p.set == nil {
		return true
	}
	return p.set.subOK(subject, queue)
}

// deliverAllowed reports whether a message on subj may be delivered to sub
// (a subscription of this client), and records reply as answerable when the
// client has allow_responses. It runs on other clients' readers.
func (p *clientPerms) deliverAllowed(sub *subscription, subj, reply []byte) bool {
	ps := p.set
	if ps == nil {
		return true
	}
	// A literal plain subscription passed the deny list when it was made and
	// receives only its own subject, so only wildcard and queue
	// subscriptions could be refused here; checking them all costs no more
	// than telling them apart.
	if ps.subDeny != nil && p.deliverDenied(subj, sub.queue) {
		return false
	}
	if ps.resp != nil && len(reply) > 0 {
		p.trackReply(reply)
	}
	return true
}

// deliverDenied reports whether the deny list refuses delivering subj to a
// subscription in queue (nil: plain). Decisions are memoised in a small
// direct-mapped table of atomic pointers to immutable entries: no lock on the
// delivery path, which every publisher's reader takes, and a hit is exact
// (subject and queue compared). A miss walks the deny trie and replaces the
// slot's entry.
func (p *clientPerms) deliverDenied(subj, queue []byte) bool {
	// A full hash under a secret seed picks the slot: a collision here costs
	// a trie walk and an allocation, so publishers must not be able to aim
	// for one.
	if len(subj)+len(queue) > permCacheSubjMax {
		var h permHit
		p.set.subDeny.match(subj, false, &h)
		return h.plain || (queue != nil && h.queueMatches(string(queue)))
	}
	slot := &p.dmemo[maphash.Bytes(p.dseed, subj)>>(64-7)] // pubMemoSize = 1<<7
	if d := slot.Load(); d != nil && d.subj == string(subj) && d.queue == string(queue) {
		return d.denied
	}
	var h permHit
	p.set.subDeny.match(subj, false, &h)
	d := &denyDecision{subj: string(subj), queue: string(queue)}
	d.denied = h.plain || (queue != nil && h.queueMatches(d.queue))
	slot.Store(d)
	return d.denied
}

// denyDecision is a memoised delivery decision for a subject and queue group.
type denyDecision struct {
	subj, queue string
	denied      bool
}

// trackReply lets the client publish to reply, a reply subject of a message it
// is being delivered, unless it may publish there anyway.
func (p *clientPerms) trackReply(reply []byte) {
	if p.set.pubStatic(reply) {
		return
	}
	now := time.Now()
	p.rmu.Lock()
	if _, had := p.replies[string(reply)]; !had {
		p.replyBytes += len(reply)
	}
	p.replies[string(reply)] = replyAllow{t: now}
	p.sincePrune++
	if p.sincePrune > replyPruneEvery || now.Sub(p.lastPrune) > replyPruneAge || len(p.replies) > replyMax || p.replyBytes > replyBytesMax {
		p.pruneReplies(now)
	}
	p.rmu.Unlock()
}

// pruneReplies drops used-up and expired reply subjects and, past replyMax
// or replyBytesMax (a client that never answers), an arbitrary quarter. rmu
// is held.
func (p *clientPerms) pruneReplies(now time.Time) {
	rp := p.set.resp
	for k, r := range p.replies {
		if (rp.max > 0 && r.n >= rp.max) || (rp.expires > 0 && now.Sub(r.t) > rp.expires) {
			p.dropReply(k)
		}
	}
	if len(p.replies) > replyMax || p.replyBytes > replyBytesMax {
		// Drop a quarter at once so a client that never answers does not make
		// every delivery pay for a full prune.
		for k := range p.replies {
			if len(p.replies) <= replyMax*3/4 && p.replyBytes <= replyBytesMax*3/4 {
				break
			}
			p.dropReply(k)
		}
	}
	p.sincePrune, p.lastPrune = 0, now
}

// responseAllowed consumes one use of a tracked reply subject.
func (p *clientPerms) responseAllowed(subj []byte) bool {
	rp := p.set.resp
	p.rmu.Lock()
	defer p.rmu.Unlock()
	r, ok := p.replies[string(subj)]
	if !ok {
		return false
	}
	if rp.expires > 0 && time.Since(r.t) > rp.expires {
		p.dropReply(string(subj))
		return false
	}
	r.n++
	if rp.max > 0 && r.n >= rp.max {
		p.dropReply(string(subj)) // used up
	} else {
		p.replies[string(subj)] = r
	}
	return true
}

// inheritReplies carries the answerable reply subjects of old over to p, so a
// reload does not break requests in flight. p is not yet published.
func (p *clientPerms) inheritReplies(old *clientPerms) {
	if p.replies == nil || old == nil || old.replies == nil {
		return
	}
	old.rmu.Lock()
	for k, r := range old.replies {
		p.replies[k] = r
	}
	p.replyBytes = old.replyBytes
	old.rmu.Unlock()
}

// dropReply forgets one tracked reply subject; rmu is held.
func (p *clientPerms) dropReply(k string) {
	if _, ok := p.replies[k]; ok {
		delete(p.replies, k)
		p.replyBytes -= len(k)
	}
}

// pubDecision is a cached publish decision; it keeps its subject so the memo
// can be refilled from the map without allocating.
type pubDecision struct {
	subj string
	ok   bool
}

// pubMemoSize is the number of direct-mapped memo slots (a power of two).
const pubMemoSize = 128

// pubMemoSlot hashes a subject cheaply from its length and its first, middle
// and last eight bytes (three bytes of shorter ones), where subjects that
// differ usually do. A collision only costs a map lookup.
func pubMemoSlot(s []byte) int {
	n := len(s)
	var h uint64
	if n >= 8 {
		h = binary.LittleEndian.Uint64(s[n-8:]) ^ binary.LittleEndian.Uint64(s[:8])*0xff51afd7ed558ccd ^
			binary.LittleEndian.Uint64(s[(n-8)/2:])*0x94d049bb133111eb
	} else if n > 0 {
		h = uint64(s[0]) | uint64(s[n-1])<<8 | uint64(s[n/2])<<16
	}
	h ^= uint64(n)
	h ^= h >> 29
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 32
	h *= 0x9e3779b97f4a7c15
	return int(h >> (64 - 7)) // pubMemoSize = 1<<7
}

// evictSome drops about a quarter of m; map iteration order makes it a cheap
// pseudo-random sample.
func evictSome[V any](m map[string]V) {
	n := len(m)/4 + 1
	for k := range m {
		delete(m, k)
		if n--; n == 0 {
			return
		}
	}
}
