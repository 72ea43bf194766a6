package server

import (
	"bytes"
	"errors"
	"hash/maphash"
	"math/bits"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// The sublist is busd's subscription index: a trie keyed by subject token, with
// one child per literal token plus a "*" child and a ">" child per node, and a
// bounded cache of match results keyed by published subject.
//
// Locking. mu guards the trie; cmu guards the cache. The lock order is mu, then
// cmu. A cache hit takes only cmu.RLock. A cache miss walks the trie under
// mu.RLock and stores its result while still holding mu.RLock (taking cmu for
// the store), so no insert or remove can run between computing the result and
// caching it: every mutation holds mu exclusively while it changes the trie and
// while it evicts the cache entries it affects, so a result computed before the
// mutation is either not yet cached (and will be computed afresh) or already
// cached and then evicted by the mutation. A stale result is never left behind.
//
// Match results are immutable once returned: the subscriber slices are copied
// out of the trie, which keeps mutating its own slices in place.
//
// Admission. Most subjects that miss are never published again: request/reply
// traffic sends every reply to a fresh inbox subject. Caching those would cost
// allocations on every reply and fill the cache with dead entries whose
// evictions push hot subjects out. So a miss is cached only if the same subject
// missed shortly before (a TinyLFU-style doorkeeper): door remembers the hashes
// of recent misses, direct-mapped, so newer misses overwrite older ones. door
// is read and written with atomics under no lock; it is only a hint. A lost or
// colliding store merely caches one result more or one less, and whatever is
// cached is still computed and stored under mu.RLock as above, so the argument
// against stale results does not depend on it.
//
// A result that is not cached is built in the caller's matchScratch when it
// passes one (a client passes its own, used only by its reader goroutine), so
// a miss on a subject published once allocates nothing. Such a result is valid
// until the caller's next match on that scratch. It is a copy like any other:
// a mutation after the match (deliver removing an auto-unsubscribed
// subscription while the caller still iterates the result) does not change it.
//
// Memory. Nodes with few children keep them in a slice, and nodes with few
// subscribers keep them in a slice without an index; both switch to maps only
// when large, so removal stays O(1) without paying for a map per node. Empty
// nodes are pruned on removal, and maps and slices are rebuilt smaller once
// most of their entries are gone, so memory is returned.

var (
	// errInvalidSubject is returned by insert for a subject that validSubject rejects.
	errInvalidSubject = errors.New("busd: invalid subject")
	// errNotFound is returned by remove for a subscription that is not in the sublist.
	errNotFound = errors.New("busd: subscription not found")
)

const (
	// slCacheSize is the default number of match results the cache holds.
	slCacheSize = 1024
	// slSmallKids is the number of literal children a node keeps in a slice;
	// above it they move into a map.
	slSmallKids = 8
	// slSmallSet is the number of subscriptions (or queue groups) a node keeps
	// in a plain slice searched linearly; above it an index map is added so that
	// removal stays O(1).
	slSmallSet = 16
	// slDoorPerEntry is the number of doorkeeper slots per cache entry (4096
	// slots, 32 KiB, for slCacheSize). A subject that misses again within
	// fewer other misses than door has slots likely finds its tag still there
	// and is cached; one published once (a reply) ages out as later misses
	// overwrite its slot.
	slDoorPerEntry = 4
	// slScratchKeep is the capacity above which a matchScratch gives a buffer
	// back on release rather than keep it for the next match, so that one
	// publish with a huge fanout does not pin that much memory per client.
	slScratchKeep = 1024
)

// matchResult is what a published subject matches. It is shared (the cache
// hands the same value to every caller) and must be treated as read-only.
type matchResult struct {
	psubs []*subscription   // plain subscribers
	qsubs [][]*subscription // one slice per queue group (the broker picks one member at random)
}

// slEmptyResult is returned for subjects that match nothing.
var slEmptyResult = &matchResult{}

// sublistStats is a snapshot of sublist counters for monitoring.
type sublistStats struct {
	numSubs      uint32  // subscriptions in the sublist
	numCache     uint32  // match results cached
	numInserts   uint64  // successful inserts since creation
	numRemoves   uint64  // successful removes since creation
	numMatches   uint64  // match calls since creation
	cacheHitRate float64 // fraction of matches answered from the cache
	maxFanout    uint32  // largest fanout (plain subs + queue groups) among cached results
	avgFanout    float64 // mean fanout among cached results
}

// sublist indexes subscriptions by subject and answers "who gets a message
// published on this subject". It is safe for concurrent use.
type sublist struct {
	mu   sync.RWMutex // guards the trie
	root *slNode

	cmu      sync.RWMutex // guards cache; taken after mu when both are held
	cache    map[string]*matchResult
	cacheMax int // 0 disables the cache

	// door holds the tags of recent misses (see doorSlot), a power of two of
	// them; nil when the cache is disabled. It is accessed under no lock.
	door []atomic.Uint64
	seed maphash.Seed

	nsubs   atomic.Uint32
	inserts atomic.Uint64
	removes atomic.Uint64
	matches atomic.Uint64
	misses  atomic.Uint64 // matches not answered from the cache; counted on the slow path only
}

// newSublist returns an empty sublist with a result cache of slCacheSize entries.
func newSublist() *sublist { return newSublistCache(slCacheSize) }

// newSublistCache returns an empty sublist whose result cache holds at most
// size entries; size 0 disables caching.
func newSublistCache(size int) *sublist {
	s := &sublist{root: &slNode{}, cacheMax: size}
	if size > 0 {
		s.cache = make(map[string]*matchResult, size)
		s.door = make([]atomic.Uint64, 1<<bits.Len(uint(size*slDoorPerEntry-1)))
		s.seed = maphash.MakeSeed()
	}
	return s
}

// insert adds sub under sub.subject (and sub.queue, if set). It returns
// errInvalidSubject if the subject is not valid. Inserting a subscription that
// is already present is a no-op. sub.subject and sub.queue must not change
// while sub is in the sublist: remove finds it by them.
func (s *sublist) insert(sub *subscription) error {
	subj := sub.subject
	if !validSubject(subj) {
		return errInvalidSubject
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.root
	for start, i := 0, 0; i <= len(subj); i++ {
		if i < len(subj) && subj[i] != subjSep {
			continue
		}
		n = n.childForInsert(subj[start:i])
		start = i + 1
	}
	if !n.addSub(sub) {
		return nil
	}
	s.nsubs.Add(1)
	s.inserts.Add(1)
	if s.cacheMax > 0 {
		s.cmu.Lock()
		s.invalidateLocked(subj)
		s.cmu.Unlock()
	}
	return nil
}

// remove deletes sub, pruning nodes left empty. It returns errNotFound if sub
// is not in the sublist.
func (s *sublist) remove(sub *subscription) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.removeLocked(sub) {
		return errNotFound
	}
	if s.cacheMax > 0 {
		s.cmu.Lock()
		s.invalidateLocked(sub.subject)
		s.cmu.Unlock()
	}
	return nil
}

// slBatchWildcardLimit is the number of wildcard subscriptions in one
// removeBatch above which the whole cache is dropped instead of checking every
// cached subject against every wildcard.
const slBatchWildcardLimit = 16

// removeBatch removes every subscription in subs that is present (absent ones
// are ignored) under one lock, then purges the cache once. It is meant for a
// closing client.
func (s *sublist) removeBatch(subs []*subscription) {
	if len(subs) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var wild [][]byte
	var literal [][]byte
	for _, sub := range subs {
		if !s.removeLocked(sub) {
			continue
		}
		if subjectHasWildcard(sub.subject) {
			wild = append(wild, sub.subject)
		} else {
			literal = append(literal, sub.subject)
		}
	}
	if s.cacheMax == 0 || len(wild)+len(literal) == 0 {
		return
	}
	s.cmu.Lock()
	defer s.cmu.Unlock()
	if len(wild) > slBatchWildcardLimit {
		clear(s.cache)
		return
	}
	for _, subj := range literal {
		delete(s.cache, string(subj))
	}
	if len(wild) == 0 {
		return
	}
	for k := range s.cache {
		for _, w := range wild {
			if slPatternMatches(w, k) {
				delete(s.cache, k)
				break
			}
		}
	}
}

// removeLocked removes sub from the trie and prunes empty nodes. mu must be
// held for writing. It reports whether sub was present.
func (s *sublist) removeLocked(sub *subscription) bool {
	subj := sub.subject
	if !validSubject(subj) {
		return false
	}
	var pathBuf [16]*slNode
	path := append(pathBuf[:0], s.root)
	n := s.root
	for start, i := 0, 0; i <= len(subj); i++ {
		if i < len(subj) && subj[i] != subjSep {
			continue
		}
		tok := subj[start:i]
		start = i + 1
		switch {
		case isPWCToken(tok):
			n = n.pwcChild()
		case isFWCToken(tok):
			n = n.fwcChild()
		default:
			n = n.child(tok)
		}
		if n == nil {
			return false
		}
		path = append(path, n)
	}
	if !n.removeSub(sub) {
		return false
	}
	for i := len(path) - 1; i > 0 && path[i].isEmpty(); i-- {
		path[i-1].deleteChild(path[i])
	}
	s.nsubs.Add(^uint32(0))
	s.removes.Add(1)
	return true
}

// invalidateLocked evicts the cached results that a subscription on subj
// affects: for a literal subject only its own entry, for a wildcard subject
// every cached subject it matches. cmu must be held for writing.
func (s *sublist) invalidateLocked(subj []byte) {
	if len(s.cache) == 0 {
		return
	}
	if !subjectHasWildcard(subj) {
		delete(s.cache, string(subj))
		return
	}
	for k := range s.cache {
		if slPatternMatches(subj, k) {
			delete(s.cache, k)
		}
	}
}

// match returns the subscriptions interested in a message published on
// subject. subject may alias the caller's read buffer: it is copied if kept.
// An invalid subject (empty, or with empty tokens) matches nothing. The result
// is shared and must not be modified.
func (s *sublist) match(subject []byte) *matchResult { return s.matchInto(subject, nil) }

// matchInto is match, except that a result that is not cached is built in sc
// instead of on the heap, when sc is not nil. Such a result is only valid until
// the next matchInto or release on sc; a cached one stays valid as with match.
func (s *sublist) matchInto(subject []byte, sc *matchScratch) *matchResult {
	s.matches.Add(1)
	if s.cacheMax > 0 {
		s.cmu.RLock()
		r, ok := s.cache[string(subject)]
		s.cmu.RUnlock()
		if ok {
			return r
		}
	}
	s.misses.Add(1)

	var tokBuf [32][]byte
	toks := tokBuf[:0]
	for start, i := 0, 0; i <= len(subject); i++ {
		if i < len(subject) && subject[i] != subjSep {
			continue
		}
		if i == start {
			return slEmptyResult
		}
		toks = append(toks, subject[start:i])
		start = i + 1
	}
	cache := s.cacheMax > 0 && s.admit(subject)
	if sc != nil {
		return s.missInto(subject, toks, cache, sc)
	}

	var (
		pbuf [16]*subscription
		qbuf [4][]*subscription
		nbuf [4]string
		b    slResultBuilder
	)
	b.r.psubs, b.r.qsubs, b.qnames = pbuf[:0], qbuf[:0], nbuf[:0]
	s.mu.RLock()
	b = b.matchFrom(s.root, toks)
	r := b.result(false)
	if cache {
		s.storeRLocked(subject, r)
	}
	s.mu.RUnlock()
	return r
}

// missInto is matchInto's miss path with a scratch. It is a separate
// function because the builder's slices flow into sc, which would move the
// stack buffers of the path without a scratch to the heap.
func (s *sublist) missInto(subject []byte, toks [][]byte, cache bool, sc *matchScratch) *matchResult {
	sc.release() // a no-op if the caller released; else the old result's tail must not linger
	b := slResultBuilder{r: matchResult{psubs: sc.r.psubs[:0], qsubs: sc.r.qsubs[:0]}, qnames: sc.qnames[:0]}
	s.mu.RLock()
	b = b.matchFrom(s.root, toks)
	sc.r, sc.qnames = b.r, b.qnames // keep what the buffers grew to
	if cache {
		r := b.result(true)
		s.storeRLocked(subject, r)
		s.mu.RUnlock()
		return r
	}
	s.mu.RUnlock()
	if len(sc.r.psubs) == 0 && len(sc.r.qsubs) == 0 {
		return slEmptyResult
	}
	return &sc.r
}

// storeRLocked caches r as the result for subject. mu must be held for reading
// (not cmu): no mutation can then slip in between computing r and caching it
// (see the locking notes at the top of the file).
func (s *sublist) storeRLocked(subject []byte, r *matchResult) {
	s.cmu.Lock()
	if len(s.cache) >= s.cacheMax {
		s.evictLocked()
	}
	s.cache[string(subject)] = r // the map key conversion copies subject
	s.cmu.Unlock()
}

// admit reports whether a subject that missed should now be cached: whether it
// already missed recently, so that its tag is still in its doorkeeper slot. If
// not, the subject takes the slot, to be admitted if it misses again soon.
func (s *sublist) admit(subject []byte) bool {
	slot, tag := s.doorSlot(subject)
	if slot.Load() == tag {
		return true
	}
	slot.Store(tag)
	return false
}

// doorSlot returns subject's doorkeeper slot and the tag that marks it there:
// the subject's hash, whose low bits also pick the slot, with the lowest bit
// set so that a tag is never 0, the value of an empty slot.
func (s *sublist) doorSlot(subject []byte) (*atomic.Uint64, uint64) {
	h := maphash.Bytes(s.seed, subject)
	return &s.door[h&uint64(len(s.door)-1)], h | 1
}

// evictLocked drops about a quarter of the cache. Go randomises the starting
// point of map iteration, so this evicts a cheap pseudo-random sample. cmu
// must be held for writing.
func (s *sublist) evictLocked() {
	n := s.cacheMax/4 + 1
	for k := range s.cache {
		delete(s.cache, k)
		n--
		if n == 0 {
			return
		}
	}
}

// count returns the number of subscriptions in the sublist.
func (s *sublist) count() uint32 { return s.nsubs.Load() }

// stats returns a snapshot of the sublist's counters.
func (s *sublist) stats() sublistStats {
	st := sublistStats{
		numSubs:    s.nsubs.Load(),
		numInserts: s.inserts.Load(),
		numRemoves: s.removes.Load(),
		numMatches: s.matches.Load(),
	}
	// misses is read after matches, so under concurrency it may be ahead of it.
	if misses := s.misses.Load(); st.numMatches > misses {
		st.cacheHitRate = float64(st.numMatches-misses) / float64(st.numMatches)
	}
	s.cmu.RLock()
	defer s.cmu.RUnlock()
	st.numCache = uint32(len(s.cache))
	var total uint64
	for _, r := range s.cache {
		f := uint32(len(r.psubs) + len(r.qsubs))
		total += uint64(f)
		st.maxFanout = max(st.maxFanout, f)
	}
	if st.numCache > 0 {
		st.avgFanout = float64(total) / float64(st.numCache)
	}
	return st
}

// slPatternMatches reports whether the subscription subject pattern (which
// may contain wildcards) matches the literal subject subj. Both must be valid.
func slPatternMatches(pattern []byte, subj string) bool {
	for {
		pt, prest, pmore := bytes.Cut(pattern, []byte{subjSep})
		if isFWCToken(pt) {
			return true // subj still has at least one token
		}
		st, srest, smore := strings.Cut(subj, string(rune(subjSep)))
		if !isPWCToken(pt) && string(pt) != st {
			return false
		}
		if !pmore || !smore {
			return pmore == smore
		}
		pattern, subj = prest, srest
	}
}

// slResultBuilder accumulates a matchResult while walking the trie. match
// keeps it on the stack, with small stack arrays behind its slices; result
// copies them into exactly sized slices, so a typical miss allocates little.
type slResultBuilder struct {
	r      matchResult
	qnames []string       // queue group name of each r.qsubs entry
	qpos   map[string]int // index of qnames, built once there are many groups
}

// matchFrom adds the subscriptions of every node under n matched by toks. The
// builder is passed and returned by value so that escape analysis can keep
// match's stack buffers on the stack.
func (b slResultBuilder) matchFrom(n *slNode, toks [][]byte) slResultBuilder {
	for i, t := range toks {
		if e := n.ext; e != nil {
			if e.fwc != nil {
				b = b.addNode(e.fwc)
			}
			if e.pwc != nil {
				b = b.matchFrom(e.pwc, toks[i+1:])
			}
		}
		if n = n.child(t); n == nil {
			return b
		}
	}
	return b.addNode(n)
}

// addNode copies n's subscribers into the result, merging queue groups of the
// same name found at different nodes into one slice.
func (b slResultBuilder) addNode(n *slNode) slResultBuilder {
	b.r.psubs = append(b.r.psubs, n.psubs.list...)
	q := n.queueSubs()
	if q == nil {
		return b
	}
	fresh := len(b.qnames) == 0 // names within one node are distinct
	for _, g := range q.groups {
		if !fresh {
			if i := b.findQueue(g.name); i >= 0 {
				b.r.qsubs[i] = append(b.r.qsubs[i], g.subs.list...)
				continue
			}
		}
		b.qnames = append(b.qnames, g.name)
		if k := len(b.r.qsubs); k < cap(b.r.qsubs) {
			// Refill the member slice that a scratch kept from an earlier
			// match; in a fresh builder it is nil, and append copies as
			// Clone would.
			b.r.qsubs = b.r.qsubs[:k+1]
			b.r.qsubs[k] = append(b.r.qsubs[k][:0], g.subs.list...)
		} else {
			b.r.qsubs = append(b.r.qsubs, slices.Clone(g.subs.list))
		}
		if b.qpos != nil {
			b.qpos[g.name] = len(b.qnames) - 1
		}
	}
	return b
}

// findQueue returns the index of queue group name in the result, or -1.
func (b *slResultBuilder) findQueue(name string) int {
	if b.qpos == nil && len(b.qnames) > slSmallSet {
		b.qpos = make(map[string]int, len(b.qnames))
		for i, q := range b.qnames {
			b.qpos[q] = i
		}
	}
	if b.qpos != nil {
		if i, ok := b.qpos[name]; ok {
			return i
		}
		return -1
	}
	for i, q := range b.qnames {
		if q == name {
			return i
		}
	}
	return -1
}

// result returns the accumulated result on the heap, or the shared empty
// result. Without a scratch the queue member slices are already fresh copies
// (addNode made them); a builder that started from a matchScratch shares them
// with it, so scratch must be set to copy them too, all into one allocation.
func (b *slResultBuilder) result(scratch bool) *matchResult {
	if len(b.r.psubs) == 0 && len(b.r.qsubs) == 0 {
		return slEmptyResult
	}
	r := &matchResult{}
	if len(b.r.psubs) > 0 {
		r.psubs = slices.Clip(slices.Clone(b.r.psubs))
	}
	if len(b.r.qsubs) > 0 {
		r.qsubs = slices.Clip(slices.Clone(b.r.qsubs))
		if scratch {
			n := 0
			for _, g := range r.qsubs {
				n += len(g)
			}
			all := make([]*subscription, 0, n)
			for i, g := range r.qsubs {
				all = append(all, g...)
				r.qsubs[i] = all[len(all)-len(g) : len(all) : len(all)]
			}
		}
	}
	return r
}

// matchScratch is caller-owned space in which matchInto builds a result that
// it does not cache, so that a miss on a subject published once (a reply to a
// request inbox) allocates nothing. The zero value is ready to use. A scratch
// must not be used concurrently: a client's belongs to its reader goroutine.
type matchScratch struct {
	// r is the last result built here. Its queue member slices are kept past
	// len(r.qsubs), emptied, to be refilled by the next match.
	r      matchResult
	qnames []string // the builder's queue names, kept for their capacity
}

// release tells sc that the caller is done with the result of its last match.
// It clears the references that result held, so that a client that stops
// publishing does not keep closed subscribers' memory alive through its
// scratch, and gives back buffers larger than slScratchKeep. A scratch is
// reusable without release (the next match releases first); release only
// bounds what an idle scratch retains.
func (sc *matchScratch) release() {
	clear(sc.r.psubs)
	sc.r.psubs = sc.r.psubs[:0]
	if cap(sc.r.psubs) > slScratchKeep {
		sc.r.psubs = nil
	}
	for i, g := range sc.r.qsubs {
		clear(g)
		if cap(g) > slScratchKeep {
			sc.r.qsubs[i] = nil
		} else {
			sc.r.qsubs[i] = g[:0]
		}
	}
	sc.r.qsubs = sc.r.qsubs[:0]
	clear(sc.qnames)
	sc.qnames = sc.qnames[:0]
	if cap(sc.r.qsubs) > slScratchKeep {
		sc.r.qsubs, sc.qnames = nil, nil
	}
}

// slNode is one trie node: the subscriptions whose subject ends here and the
// children for the next token. It is kept small (80 bytes) because a
// subscription on a fresh subject typically costs a node per token; the parts
// most nodes never need live behind ext.
type slNode struct {
	token string     // literal token leading here from the parent ("" for root and wildcards)
	kids  []*slNode  // literal children while there are few (nil once ext.kidMap is used)
	psubs slSubSet   // plain subscriptions
	ext   *slNodeExt // nil unless one of its fields is set
}

// slNodeExt holds the rarely needed parts of an slNode. A node's ext is
// dropped again as soon as all of its fields are empty.
type slNodeExt struct {
	kidMap  map[string]*slNode // literal children once there are many
	kidPeak int                // largest len(kidMap) since it was built; Go maps never shrink
	pwc     *slNode            // child for "*"
	fwc     *slNode            // child for ">"
	queues  *slQueueSubs       // queue subscriptions
}

// extra returns n.ext, creating it if needed.
func (n *slNode) extra() *slNodeExt {
	if n.ext == nil {
		n.ext = &slNodeExt{}
	}
	return n.ext
}

// tidyExt drops n.ext once nothing is left in it.
func (n *slNode) tidyExt() {
	if e := n.ext; e != nil && e.kidMap == nil && e.pwc == nil && e.fwc == nil && e.queues == nil {
		n.ext = nil
	}
}

// pwcChild returns the "*" child, or nil.
func (n *slNode) pwcChild() *slNode {
	if n.ext == nil {
		return nil
	}
	return n.ext.pwc
}

// fwcChild returns the ">" child, or nil.
func (n *slNode) fwcChild() *slNode {
	if n.ext == nil {
		return nil
	}
	return n.ext.fwc
}

// queueSubs returns the queue subscriptions, or nil.
func (n *slNode) queueSubs() *slQueueSubs {
	if n.ext == nil {
		return nil
	}
	return n.ext.queues
}

// child returns the literal child for tok, or nil.
func (n *slNode) child(tok []byte) *slNode {
	if n.ext != nil && n.ext.kidMap != nil {
		return n.ext.kidMap[string(tok)]
	}
	for _, k := range n.kids {
		if k.token == string(tok) {
			return k
		}
	}
	return nil
}

// childForInsert returns the child for tok, creating it if needed.
func (n *slNode) childForInsert(tok []byte) *slNode {
	switch {
	case isPWCToken(tok):
		e := n.extra()
		if e.pwc == nil {
			e.pwc = &slNode{}
		}
		return e.pwc
	case isFWCToken(tok):
		e := n.extra()
		if e.fwc == nil {
			e.fwc = &slNode{}
		}
		return e.fwc
	}
	if c := n.child(tok); c != nil {
		return c
	}
	c := &slNode{token: string(tok)}
	if e := n.ext; e != nil && e.kidMap != nil {
		e.kidMap[c.token] = c
		e.kidPeak = max(e.kidPeak, len(e.kidMap))
		return c
	}
	n.kids = append(n.kids, c)
	if len(n.kids) > slSmallKids {
		m := make(map[string]*slNode, len(n.kids))
		for _, k := range n.kids {
			m[k.token] = k
		}
		e := n.extra()
		e.kidMap, e.kidPeak = m, len(m)
		n.kids = nil
	}
	return c
}

// deleteChild unlinks the child c.
func (n *slNode) deleteChild(c *slNode) {
	e := n.ext
	switch {
	case e != nil && c == e.pwc:
		e.pwc = nil
	case e != nil && c == e.fwc:
		e.fwc = nil
	case e != nil && e.kidMap != nil:
		delete(e.kidMap, c.token)
		switch {
		case len(e.kidMap) <= slSmallKids/2:
			n.kids = make([]*slNode, 0, len(e.kidMap))
			for _, k := range e.kidMap {
				n.kids = append(n.kids, k)
			}
			e.kidMap, e.kidPeak = nil, 0
		case len(e.kidMap) < e.kidPeak/4:
			e.kidMap = slShrinkMap(e.kidMap)
			e.kidPeak = len(e.kidMap)
		}
	default:
		if i := slices.Index(n.kids, c); i >= 0 {
			last := len(n.kids) - 1
			n.kids[i] = n.kids[last]
			n.kids[last] = nil
			n.kids = n.kids[:last]
			if last == 0 {
				n.kids = nil
			}
		}
	}
	n.tidyExt()
}

// slShrinkMap copies m into a new map sized for its current length (maps.Clone
// would keep the old capacity).
func slShrinkMap[K comparable, V any](m map[K]V) map[K]V {
	c := make(map[K]V, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// isEmpty reports whether n has neither subscriptions nor children.
func (n *slNode) isEmpty() bool {
	return len(n.psubs.list) == 0 && len(n.kids) == 0 && n.ext == nil
}

// addSub adds sub to n's plain or queue subscriptions. It reports false if
// sub was already there.
func (n *slNode) addSub(sub *subscription) bool {
	if len(sub.queue) == 0 {
		return n.psubs.add(sub)
	}
	e := n.extra()
	if e.queues == nil {
		e.queues = &slQueueSubs{}
	}
	return e.queues.group(sub.queue).subs.add(sub)
}

// removeSub removes sub from n. It reports false if sub was not there.
func (n *slNode) removeSub(sub *subscription) bool {
	if len(sub.queue) == 0 {
		return n.psubs.remove(sub)
	}
	q := n.queueSubs()
	if q == nil {
		return false
	}
	i := q.find(sub.queue)
	if i < 0 || !q.groups[i].subs.remove(sub) {
		return false
	}
	if len(q.groups[i].subs.list) == 0 {
		q.removeGroup(i)
		if len(q.groups) == 0 {
			n.ext.queues = nil
			n.tidyExt()
		}
	}
	return true
}

// slQueueSubs holds the queue groups of one node.
type slQueueSubs struct {
	groups []*slQueueGroup
	byName map[string]int // index into groups, once there are many groups
	peak   int            // largest len(byName) since it was built
}

// slQueueGroup is the members of one queue group at one node.
type slQueueGroup struct {
	name string
	subs slSubSet
}

// find returns the index of the group called name, or -1.
func (q *slQueueSubs) find(name []byte) int {
	if q.byName != nil {
		if i, ok := q.byName[string(name)]; ok {
			return i
		}
		return -1
	}
	for i, g := range q.groups {
		if g.name == string(name) {
			return i
		}
	}
	return -1
}

// group returns the group called name, creating it if needed.
func (q *slQueueSubs) group(name []byte) *slQueueGroup {
	if i := q.find(name); i >= 0 {
		return q.groups[i]
	}
	g := &slQueueGroup{name: string(name)}
	q.groups = append(q.groups, g)
	if q.byName != nil {
		q.byName[g.name] = len(q.groups) - 1
		q.peak = max(q.peak, len(q.byName))
	} else if len(q.groups) > slSmallSet {
		q.reindex()
	}
	return g
}

// reindex rebuilds byName from groups.
func (q *slQueueSubs) reindex() {
	q.byName = make(map[string]int, len(q.groups))
	for i, g := range q.groups {
		q.byName[g.name] = i
	}
	q.peak = len(q.groups)
}

// removeGroup deletes the group at index i by moving the last group into its place.
func (q *slQueueSubs) removeGroup(i int) {
	last := len(q.groups) - 1
	if q.byName != nil {
		delete(q.byName, q.groups[i].name)
		if i != last {
			q.byName[q.groups[last].name] = i
		}
	}
	q.groups[i] = q.groups[last]
	q.groups[last] = nil
	q.groups = q.groups[:last]
	q.groups = slShrinkSlice(q.groups)
	switch {
	case q.byName == nil:
	case len(q.groups) <= slSmallSet/2:
		q.byName, q.peak = nil, 0
	case len(q.groups) < q.peak/4:
		q.reindex()
	}
}

// slSubSet is a set of subscriptions with O(1) add and remove. Small sets are
// a bare slice searched linearly (at most slSmallSet entries); larger ones add
// an index from subscription to slice position.
type slSubSet struct {
	list []*subscription
	idx  *slSubIndex // nil while the set is small
}

// slSubIndex maps each subscription of a large slSubSet to its position.
type slSubIndex struct {
	m    map[*subscription]int
	peak int // largest len(m) since the map was built; Go maps never shrink
}

// add inserts sub, reporting false if it was already present.
func (s *slSubSet) add(sub *subscription) bool {
	if s.idx != nil {
		if _, ok := s.idx.m[sub]; ok {
			return false
		}
		s.idx.m[sub] = len(s.list)
		s.idx.peak = max(s.idx.peak, len(s.idx.m))
		s.list = append(s.list, sub)
		return true
	}
	if slices.Contains(s.list, sub) {
		return false
	}
	s.list = append(s.list, sub)
	if len(s.list) > slSmallSet {
		s.reindex()
	}
	return true
}

// reindex rebuilds the index from list.
func (s *slSubSet) reindex() {
	m := make(map[*subscription]int, len(s.list))
	for i, x := range s.list {
		m[x] = i
	}
	s.idx = &slSubIndex{m: m, peak: len(m)}
}

// remove deletes sub, reporting false if it was absent. The last element
// takes the removed one's place, so order is not preserved.
func (s *slSubSet) remove(sub *subscription) bool {
	var i int
	if s.idx != nil {
		j, ok := s.idx.m[sub]
		if !ok {
			return false
		}
		delete(s.idx.m, sub)
		i = j
	} else if i = slices.Index(s.list, sub); i < 0 {
		return false
	}
	last := len(s.list) - 1
	if i != last {
		moved := s.list[last]
		s.list[i] = moved
		if s.idx != nil {
			s.idx.m[moved] = i
		}
	}
	s.list[last] = nil
	s.list = slShrinkSlice(s.list[:last])
	switch {
	case s.idx == nil:
	case len(s.list) <= slSmallSet/2:
		s.idx = nil
	case len(s.list) < s.idx.peak/4:
		s.reindex()
	}
	return true
}

// slShrinkSlice returns a right-sized copy of l once it uses under a quarter of
// its capacity (so repeated removal costs amortised O(1)), and nil when empty.
func slShrinkSlice[T any](l []T) []T {
	switch {
	case len(l) == 0:
		return nil
	case cap(l) > 32 && len(l) < cap(l)/4:
		return slices.Clone(l)
	}
	return l
}
