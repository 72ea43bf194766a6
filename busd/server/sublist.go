package server

import (
	"bytes"
	"errors"
	"hash/maphash"
	"math/bits"
	"strings"
	"sync"
	"sync/atomic"
)

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
