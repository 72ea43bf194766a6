package server

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// slNewSub returns a subscription on subject, in queue group queue unless it is "".
func slNewSub(subject, queue string) *subscription {
	sub := &subscription{subject: []byte(subject)}
	if queue != "" {
		sub.queue = []byte(queue)
	}
	return sub
}

// slRefMatch is the brute-force oracle: does subscription subject pattern match
// the literal subject subj? It compares '.'-split token lists directly.
func slRefMatch(pattern, subj string) bool {
	pt, st := strings.Split(pattern, "."), strings.Split(subj, ".")
	for i, p := range pt {
		if p == ">" {
			return len(st) > i
		}
		if i >= len(st) || (p != "*" && p != st[i]) {
			return false
		}
	}
	return len(pt) == len(st)
}

// slWant is the expected outcome of one match: plain subscribers, and the
// members of each queue group by name.
type slWant struct {
	plain  map[*subscription]bool
	queues map[string]map[*subscription]bool
}

// slExpect computes, by brute force over subs, what match(subj) must return.
func slExpect(subs []*subscription, subj string) slWant {
	w := slWant{plain: map[*subscription]bool{}, queues: map[string]map[*subscription]bool{}}
	for _, sub := range subs {
		if !slRefMatch(string(sub.subject), subj) {
			continue
		}
		if len(sub.queue) == 0 {
			w.plain[sub] = true
			continue
		}
		q := string(sub.queue)
		if w.queues[q] == nil {
			w.queues[q] = map[*subscription]bool{}
		}
		w.queues[q][sub] = true
	}
	return w
}

// slDiff describes how r differs from w, or returns "" if it matches exactly:
// every subscriber once, queue groups merged by name, no empty groups.
func slDiff(r *matchResult, w slWant) string {
	if r == nil {
		return "nil result"
	}
	seen := map[*subscription]bool{}
	for _, sub := range r.psubs {
		if seen[sub] {
			return fmt.Sprintf("plain sub %q listed twice", sub.subject)
		}
		seen[sub] = true
		if !w.plain[sub] {
			return fmt.Sprintf("unexpected plain sub %q", sub.subject)
		}
	}
	if len(r.psubs) != len(w.plain) {
		return fmt.Sprintf("got %d plain subs, want %d", len(r.psubs), len(w.plain))
	}
	groups := map[string]bool{}
	for _, g := range r.qsubs {
		if len(g) == 0 {
			return "empty queue group in result"
		}
		name := string(g[0].queue)
		if groups[name] {
			return fmt.Sprintf("queue group %q split over several slices", name)
		}
		groups[name] = true
		want := w.queues[name]
		for _, sub := range g {
			if string(sub.queue) != name {
				return fmt.Sprintf("queue group %q holds a member of %q", name, sub.queue)
			}
			if seen[sub] {
				return fmt.Sprintf("queue sub %q listed twice", sub.subject)
			}
			seen[sub] = true
			if !want[sub] {
				return fmt.Sprintf("unexpected member %q of queue group %q", sub.subject, name)
			}
		}
		if len(g) != len(want) {
			return fmt.Sprintf("queue group %q has %d members, want %d", name, len(g), len(want))
		}
	}
	if len(groups) != len(w.queues) {
		return fmt.Sprintf("got %d queue groups, want %d", len(groups), len(w.queues))
	}
	return ""
}

// slCheck fails t unless matching subj agrees with the brute-force oracle over
// subs on every path: first as the sublist stands (a hit on an entry cached
// before the last mutation, say), then from cold twice, once with a scratch
// first (a first miss built in the scratch, a second miss cached on the heap,
// a hit) and once without (a first miss on the heap, a second built in the
// scratch then cached, a hit). The scratch starts dirty, as a client's does.
func slCheck(t testing.TB, s *sublist, subs []*subscription, subj string) {
	t.Helper()
	w := slExpect(subs, subj)
	sc := slDirtyScratch()
	check := func(path string, scratch bool) {
		t.Helper()
		var r *matchResult
		if scratch {
			r = s.matchInto([]byte(subj), sc)
		} else {
			r = s.match([]byte(subj))
		}
		if d := slDiff(r, w); d != "" {
			t.Fatalf("match(%q), %s: %s", subj, path, d)
		}
	}
	check("as the sublist stands", true)
	for _, scratchFirst := range []bool{true, false} {
		slForget(s, subj)
		check("first miss", scratchFirst)
		check("second miss", !scratchFirst)
		check("hit", scratchFirst)
	}
}

// slDirtyScratch returns a scratch holding stale entries past the length of
// its slices, as one reused without release would, so that a match that
// forgets to truncate or overwrite them shows up in slDiff.
func slDirtyScratch() *matchScratch {
	junk, qjunk := slNewSub("junk", ""), slNewSub("junk", "q")
	sc := &matchScratch{}
	sc.r.psubs = []*subscription{junk, junk, junk}[:0]
	sc.r.qsubs = [][]*subscription{{qjunk, qjunk}, {qjunk}, nil, {qjunk}}[:0]
	sc.qnames = []string{"q", "junk"}[:0]
	return sc
}

// slForget drops subj from s's cache and doorkeeper, so that its next match is
// a first miss (not cached) and the one after a second miss (cached).
func slForget(s *sublist, subj string) {
	if s.cacheMax == 0 {
		return
	}
	s.cmu.Lock()
	delete(s.cache, subj)
	s.cmu.Unlock()
	slot, _ := s.doorSlot([]byte(subj))
	slot.Store(0)
}

// slCached reports whether subj has an entry in s's cache.
func slCached(s *sublist, subj string) bool {
	s.cmu.RLock()
	defer s.cmu.RUnlock()
	_, ok := s.cache[subj]
	return ok
}

// slNodeCount returns the number of trie nodes under and including n, and
// fails t if a node carries an empty ext (which should have been dropped).
func slNodeCount(t testing.TB, n *slNode) int {
	t.Helper()
	c := 1
	for _, k := range n.kids {
		c += slNodeCount(t, k)
	}
	if e := n.ext; e != nil {
		if e.kidMap == nil && e.pwc == nil && e.fwc == nil && e.queues == nil {
			t.Errorf("node %q keeps an empty ext", n.token)
		}
		if e.kidMap != nil && len(n.kids) != 0 {
			t.Errorf("node %q has children in both the slice and the map", n.token)
		}
		for _, k := range e.kidMap {
			c += slNodeCount(t, k)
		}
		if e.pwc != nil {
			c += slNodeCount(t, e.pwc)
		}
		if e.fwc != nil {
			c += slNodeCount(t, e.fwc)
		}
	}
	return c
}

func TestSublistMatchSemantics(t *testing.T) {
	tests := []struct {
		name string
		subs []string // "subject" or "subject queue"
		pubs []string // subjects to check against the oracle
	}{
		{"literal", []string{"foo", "foo.bar", "foo.bar.baz", "bar"},
			[]string{"foo", "foo.bar", "foo.bar.baz", "foo.baz", "bar", "baz", "foo.bar.baz.qux"}},
		{"pwc", []string{"*", "foo.*", "*.bar", "foo.*.baz", "*.*"},
			[]string{"foo", "foo.bar", "foo.baz", "x.bar", "foo.x.baz", "foo.x.y", "a.b.c"}},
		{"fwc", []string{">", "foo.>", "foo.bar.>"},
			[]string{"foo", "foo.bar", "foo.bar.baz", "foo.bar.baz.qux", "bar", "bar.foo"}},
		{"mixed", []string{"foo.*.>", "*.bar.>", "foo.bar.*", "*.*.baz", "foo.bar.baz"},
			[]string{"foo.bar", "foo.bar.baz", "foo.x.baz", "x.bar.y", "x.bar.y.z", "foo.bar.baz.qux"}},
		{"wildcard chars inside tokens are literal", []string{"foo*", "f>o.bar", "foo.*x", "*.>x"},
			[]string{"foo*", "foox", "f>o.bar", "fo.bar", "foo.*x", "foo.ax", "a.>x", "a.b"}},
		{"queue groups", []string{"foo q1", "foo q1", "foo q2", "foo", "foo.* q1", "> q1", "*.bar q3"},
			[]string{"foo", "foo.bar", "bar", "x.bar"}},
		{"duplicates and overlaps", []string{"foo.bar", "foo.bar", "foo.*", "foo.>", "foo.bar"},
			[]string{"foo.bar", "foo.baz", "foo"}},
		{"deep", []string{"a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r", "a.*.c.*.e.>", "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.v.w.x.y.z.0.1.2.3.4.5.6.7"},
			[]string{"a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r", "a.x.c.x.e.f", "a.b.c.d.e",
				"a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.v.w.x.y.z.0.1.2.3.4.5.6.7"}},
		{"nothing", nil, []string{"foo", "a.b.c"}},
		// Without pedantic checks a client may publish to a subject containing
		// wildcard tokens; they are then matched as ordinary tokens by the
		// subscriptions' wildcards only, as in nats-server.
		{"published wildcard tokens", []string{"foo.*", "foo.>", "foo.bar", "*.*", ">", "foo.x.>"},
			[]string{"foo.*", "foo.>", "*.bar", "*", ">", "foo.*.>"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newSublist()
			var subs []*subscription
			for _, spec := range tc.subs {
				subj, queue, _ := strings.Cut(spec, " ")
				sub := slNewSub(subj, queue)
				if err := s.insert(sub); err != nil {
					t.Fatalf("insert(%q): %v", spec, err)
				}
				subs = append(subs, sub)
			}
			if got := s.count(); got != uint32(len(subs)) {
				t.Fatalf("count() = %d, want %d", got, len(subs))
			}
			for _, p := range tc.pubs {
				slCheck(t, s, subs, p)
			}
		})
	}
}

func TestSublistExplicitMatches(t *testing.T) {
	// Spot checks that do not rely on the oracle.
	s := newSublist()
	lit, pwc, fwc, q1, q2 := slNewSub("foo.bar", ""), slNewSub("foo.*", ""), slNewSub("foo.>", ""),
		slNewSub("foo.bar", "workers"), slNewSub("foo.*", "workers")
	for _, sub := range []*subscription{lit, pwc, fwc, q1, q2} {
		if err := s.insert(sub); err != nil {
			t.Fatal(err)
		}
	}
	r := s.match([]byte("foo.bar"))
	if len(r.psubs) != 3 || len(r.qsubs) != 1 || len(r.qsubs[0]) != 2 {
		t.Fatalf("foo.bar: %d plain, %d groups; want 3 plain and one group of 2", len(r.psubs), len(r.qsubs))
	}
	r = s.match([]byte("foo.bar.baz"))
	if len(r.psubs) != 1 || r.psubs[0] != fwc || len(r.qsubs) != 0 {
		t.Fatalf("foo.bar.baz should match only foo.>, got %d plain %d groups", len(r.psubs), len(r.qsubs))
	}
	if r := s.match([]byte("foo")); len(r.psubs)+len(r.qsubs) != 0 {
		t.Fatalf("foo must not match foo.> or foo.*")
	}
}

func TestSublistInvalid(t *testing.T) {
	s := newSublist()
	for _, subj := range []string{"", ".", "foo.", ".foo", "foo..bar", "foo.>.bar", ">.>", "foo bar", "foo\tbar", "foo\r\n"} {
		if err := s.insert(slNewSub(subj, "")); !errors.Is(err, errInvalidSubject) {
			t.Errorf("insert(%q) = %v, want errInvalidSubject", subj, err)
		}
		if err := s.remove(slNewSub(subj, "")); !errors.Is(err, errNotFound) {
			t.Errorf("remove(%q) = %v, want errNotFound", subj, err)
		}
	}
	if s.count() != 0 {
		t.Fatalf("count() = %d after invalid inserts", s.count())
	}
	if err := s.insert(slNewSub(">", "")); err != nil {
		t.Fatal(err)
	}
	// Publishing to a malformed subject matches nothing, even with ">" present,
	// and is not cached, even on a repeat that the doorkeeper would admit.
	for _, subj := range []string{"", ".", "foo.", ".foo", "foo..bar"} {
		for range 2 {
			if r := s.match([]byte(subj)); len(r.psubs) != 0 {
				t.Errorf("match(%q) returned %d subs, want none", subj, len(r.psubs))
			}
		}
	}
	if n := s.stats().numCache; n != 0 {
		t.Errorf("invalid subjects were cached: numCache = %d", n)
	}
}

func TestSublistRemoveAndPrune(t *testing.T) {
	s := newSublist()
	var subs []*subscription
	for i := range 100 {
		for _, f := range []string{"foo.%d.bar", "foo.%d.*", "foo.*.%d", "foo.%d.>", "%d"} {
			subs = append(subs, slNewSub(fmt.Sprintf(f, i), ""))
		}
		subs = append(subs, slNewSub(fmt.Sprintf("foo.%d.bar", i), "q"), slNewSub(fmt.Sprintf("foo.%d.bar", i), fmt.Sprint("q", i)))
	}
	for _, sub := range subs {
		if err := s.insert(sub); err != nil {
			t.Fatal(err)
		}
	}
	if s.count() != uint32(len(subs)) {
		t.Fatalf("count() = %d, want %d", s.count(), len(subs))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	rng.Shuffle(len(subs), func(i, j int) { subs[i], subs[j] = subs[j], subs[i] })
	for i, sub := range subs {
		if err := s.remove(sub); err != nil {
			t.Fatalf("remove(%q): %v", sub.subject, err)
		}
		if err := s.remove(sub); !errors.Is(err, errNotFound) {
			t.Fatalf("second remove(%q) = %v, want errNotFound", sub.subject, err)
		}
		if i%37 == 0 {
			rest := subs[i+1:]
			slCheck(t, s, rest, "foo.7.bar")
			slCheck(t, s, rest, "foo.7.7")
			slCheck(t, s, rest, "7")
		}
	}
	if s.count() != 0 {
		t.Fatalf("count() = %d after removing everything", s.count())
	}
	if n := slNodeCount(t, s.root); n != 1 {
		t.Fatalf("%d nodes left after removing everything, want only the root", n)
	}
	// A subscription that was never inserted, on an existing path, or with the
	// wrong queue, is not found.
	a := slNewSub("a.b", "")
	if err := s.insert(a); err != nil {
		t.Fatal(err)
	}
	for _, sub := range []*subscription{slNewSub("a.b", ""), slNewSub("a.b", "q"), slNewSub("a", ""), slNewSub("a.b.c", "")} {
		if err := s.remove(sub); !errors.Is(err, errNotFound) {
			t.Fatalf("remove of absent %q/%q = %v", sub.subject, sub.queue, err)
		}
	}
	if err := s.remove(a); err != nil {
		t.Fatal(err)
	}
	if n := slNodeCount(t, s.root); n != 1 {
		t.Fatalf("%d nodes left, want 1", n)
	}
}

func TestSublistInsertIdempotent(t *testing.T) {
	s := newSublist()
	for _, sub := range []*subscription{slNewSub("foo", ""), slNewSub("foo", "q")} {
		for range 3 {
			if err := s.insert(sub); err != nil {
				t.Fatal(err)
			}
		}
		r := s.match([]byte("foo"))
		if n := len(r.psubs) + len(r.qsubs); n > 2 || s.count() > 2 {
			t.Fatalf("re-inserting the same subscription duplicated it: count %d", s.count())
		}
	}
	if s.count() != 2 {
		t.Fatalf("count() = %d, want 2", s.count())
	}
}

// TestSublistLargeNodes drives the slice-to-map transitions (children, plain
// subs, queue groups, queue members) up and back down, checking results and
// pruning on the way.
func TestSublistLargeNodes(t *testing.T) {
	s := newSublist()
	var subs []*subscription
	for i := range 300 {
		subs = append(subs,
			slNewSub("big.x", ""),                           // many plain subs on one node
			slNewSub("big.x", "g"+strconv.Itoa(i%40)),       // many groups, many members
			slNewSub("kids."+strconv.Itoa(i), ""),           // many children
			slNewSub("kids."+strconv.Itoa(i)+".>", "g"+"0"), // wildcard under many children
			slNewSub("big.*", "g"+strconv.Itoa(i%7)),        // same group names on another node
			slNewSub("big.>", "h"+strconv.Itoa(i)),          // many single-member groups
		)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	rng.Shuffle(len(subs), func(i, j int) { subs[i], subs[j] = subs[j], subs[i] })
	for _, sub := range subs {
		if err := s.insert(sub); err != nil {
			t.Fatal(err)
		}
	}
	pubs := []string{"big.x", "big.y", "kids.5", "kids.5.a", "kids.299.a.b"}
	for _, p := range pubs {
		slCheck(t, s, subs, p)
	}
	for len(subs) > 0 {
		k := min(len(subs), 97)
		for _, sub := range subs[:k] {
			if err := s.remove(sub); err != nil {
				t.Fatal(err)
			}
		}
		subs = subs[k:]
		for _, p := range pubs {
			slCheck(t, s, subs, p)
		}
	}
	if n := slNodeCount(t, s.root); n != 1 {
		t.Fatalf("%d nodes left, want 1", n)
	}
}

func TestSublistRemoveBatch(t *testing.T) {
	for _, nwild := range []int{0, 3, slBatchWildcardLimit + 5} {
		t.Run(fmt.Sprint("wildcards=", nwild), func(t *testing.T) {
			s := newSublist()
			var keep, drop []*subscription
			for i := range 50 {
				keep = append(keep, slNewSub(fmt.Sprintf("keep.%d", i), ""), slNewSub(fmt.Sprintf("a.%d", i), "q"))
				drop = append(drop, slNewSub(fmt.Sprintf("a.%d", i), ""))
			}
			for i := range nwild {
				drop = append(drop, slNewSub(fmt.Sprintf("a.%d.>", i), ""), slNewSub("*."+strconv.Itoa(i), ""))
			}
			all := append(slices.Clone(keep), drop...)
			for _, sub := range all {
				if err := s.insert(sub); err != nil {
					t.Fatal(err)
				}
			}
			pubs := []string{"a.1", "a.1.x", "keep.1", "x.2", "zzz"}
			for _, p := range pubs {
				slCheck(t, s, all, p) // populate the cache
			}
			// Absent subscriptions in the batch are ignored.
			s.removeBatch(append(drop, slNewSub("never.inserted", ""), drop[0]))
			if s.count() != uint32(len(keep)) {
				t.Fatalf("count() = %d, want %d", s.count(), len(keep))
			}
			for _, p := range pubs {
				slCheck(t, s, keep, p)
			}
		})
	}
}

func TestSublistCacheInvalidation(t *testing.T) {
	s := newSublist()
	lit := slNewSub("foo.bar", "")
	var subs []*subscription
	insert := func(sub *subscription) {
		t.Helper()
		if err := s.insert(sub); err != nil {
			t.Fatal(err)
		}
		subs = append(subs, sub)
	}
	remove := func(sub *subscription) {
		t.Helper()
		if err := s.remove(sub); err != nil {
			t.Fatal(err)
		}
		subs = slices.DeleteFunc(subs, func(x *subscription) bool { return x == sub })
	}
	pubs := []string{"foo.bar", "foo.baz", "foo.bar.baz", "other"}
	check := func() {
		t.Helper()
		for _, p := range pubs {
			slCheck(t, s, subs, p)
		}
	}

	check() // caches empty results
	insert(lit)
	check()
	pwc, fwc, all := slNewSub("foo.*", ""), slNewSub("foo.>", "q"), slNewSub(">", "")
	insert(pwc) // a wildcard inserted after the literal match was cached
	check()
	insert(fwc)
	check()
	insert(all)
	check()
	remove(pwc)
	check()
	remove(lit)
	check()
	remove(all)
	check()
	remove(fwc)
	check()

	// Targeted invalidation: a literal insert leaves other entries cached, a
	// wildcard insert drops only the subjects it matches.
	for _, p := range pubs {
		s.match([]byte(p))
	}
	before := s.stats().numCache
	insert(slNewSub("other", ""))
	if got := s.stats().numCache; got != before-1 {
		t.Fatalf("literal insert changed numCache %d -> %d, want one entry dropped", before, got)
	}
	insert(slNewSub("foo.*.baz", ""))
	if got := s.stats().numCache; got != before-2 {
		t.Fatalf("wildcard insert changed numCache %d -> %d, want one more entry dropped", before, got)
	}
	check()
}

func TestSublistCacheBounded(t *testing.T) {
	s := newSublist()
	if err := s.insert(slNewSub("foo.>", "")); err != nil {
		t.Fatal(err)
	}
	for i := range 5 * slCacheSize {
		for range 2 { // the second miss is cached
			r := s.match([]byte("foo." + strconv.Itoa(i)))
			if len(r.psubs) != 1 {
				t.Fatalf("foo.%d: %d subs", i, len(r.psubs))
			}
		}
		s.cmu.RLock()
		n := len(s.cache)
		s.cmu.RUnlock()
		if n > slCacheSize {
			t.Fatalf("cache grew to %d entries, bound is %d", n, slCacheSize)
		}
	}
	// Results taken out of a cache that has since evicted them are unaffected.
	if r := s.match([]byte("foo.1")); len(r.psubs) != 1 {
		t.Fatal("lost match after eviction")
	}

	off := newSublistCache(0)
	off.insert(slNewSub("foo", ""))
	for range 3 {
		if r := off.match([]byte("foo")); len(r.psubs) != 1 {
			t.Fatal("uncached sublist lost match")
		}
	}
	if st := off.stats(); st.numCache != 0 || st.cacheHitRate != 0 {
		t.Fatalf("disabled cache reports %+v", st)
	}
}

func TestSublistMatchDoesNotRetainSubject(t *testing.T) {
	s := newSublist()
	sub := slNewSub("foo.bar", "")
	s.insert(sub)
	buf := []byte("foo.bar")
	for range 2 { // the second miss is cached, keyed by buf's contents
		if r := s.match(buf); len(r.psubs) != 1 {
			t.Fatal("no match")
		}
	}
	if !slCached(s, "foo.bar") {
		t.Fatal("foo.bar not cached after two misses")
	}
	copy(buf, "foo.baz") // the caller reuses its read buffer
	if r := s.match([]byte("foo.baz")); len(r.psubs) != 0 {
		t.Fatal("cache key aliased the caller's buffer")
	}
	if r := s.match([]byte("foo.bar")); len(r.psubs) != 1 {
		t.Fatal("cached foo.bar lost")
	}
}

func TestSublistResultImmutable(t *testing.T) {
	s := newSublist()
	var subs []*subscription
	for i := range 40 {
		sub := slNewSub("foo", "")
		if i%2 == 1 {
			sub = slNewSub("foo", "q")
		}
		subs = append(subs, sub)
		s.insert(sub)
	}
	r := s.match([]byte("foo"))
	snapshot := slices.Clone(r.psubs)
	qsnap := slices.Clone(r.qsubs[0])
	for _, sub := range subs[:30] {
		s.remove(sub)
	}
	for range 10 {
		s.insert(slNewSub("foo", ""))
		s.insert(slNewSub("foo", "q"))
	}
	if !slices.Equal(snapshot, r.psubs) || !slices.Equal(qsnap, r.qsubs[0]) {
		t.Fatal("a returned result changed after later inserts and removes")
	}
}

func TestSublistMatchCachedNoAllocs(t *testing.T) {
	if raceEnabled() {
		t.Skip("the race detector's instrumentation allocates")
	}
	s := newSublist()
	s.insert(slNewSub("foo.*", ""))
	s.insert(slNewSub("foo.bar", "q"))
	subj := []byte("foo.bar")
	s.match(subj)
	s.match(subj) // the second miss is cached
	if allocs := testing.AllocsPerRun(1000, func() { s.match(subj) }); allocs != 0 {
		t.Fatalf("cached match allocates %v times, want 0", allocs)
	}
}

// TestSublistDoorkeeper checks that a subject is cached only when it misses a
// second time, so that a flood of subjects published once (replies to unique
// inboxes) neither fills the cache nor evicts the entries that are hot.
func TestSublistDoorkeeper(t *testing.T) {
	s := newSublist()
	s.insert(slNewSub("foo.bar", "q"))
	s.insert(slNewSub("_INBOX.x.*", ""))
	if s.match([]byte("foo.bar")); slCached(s, "foo.bar") {
		t.Fatal("foo.bar cached on its first miss")
	}
	if s.match([]byte("foo.bar")); !slCached(s, "foo.bar") {
		t.Fatal("foo.bar not cached on its second miss")
	}
	var sc matchScratch
	for i := range 10 * slCacheSize {
		subj := []byte("_INBOX.x." + strconv.Itoa(i))
		var r *matchResult
		if i%2 == 0 {
			r = s.matchInto(subj, &sc)
		} else {
			r = s.match(subj)
		}
		if len(r.psubs) != 1 || len(r.qsubs) != 0 {
			t.Fatalf("%s: %d plain subs and %d groups, want the inbox subscription only", subj, len(r.psubs), len(r.qsubs))
		}
		sc.release()
	}
	// With a 64-bit tag per slot, a subject published once is admitted only
	// if its slot holds another subject with the same tag: never, in practice.
	if n := s.stats().numCache; n != 1 {
		t.Fatalf("numCache = %d after a flood of subjects published once, want 1 (foo.bar)", n)
	}
	misses := s.misses.Load()
	if r := s.match([]byte("foo.bar")); len(r.qsubs) != 1 || s.misses.Load() != misses {
		t.Fatal("foo.bar was pushed out of the cache by subjects published once")
	}
}

// TestSublistMatchScratchNoAllocs checks that a miss that is not cached
// allocates nothing when the caller passes a scratch: the reply path of
// request/reply traffic, where every subject is new.
func TestSublistMatchScratchNoAllocs(t *testing.T) {
	if raceEnabled() {
		t.Skip("the race detector's instrumentation allocates")
	}
	for _, tc := range []struct {
		name   string
		subs   []string // "subject" or "subject queue"
		fanout int      // plain subscribers plus queue groups
	}{
		{"plain", []string{"_INBOX.x.*", "_INBOX.x.*", "_INBOX.>", "*.x.*"}, 4},
		// Queue member slices are reused too, including a group merged from
		// two nodes.
		{"queue groups", []string{"_INBOX.x.*", "_INBOX.x.* q1", "_INBOX.> q1", "_INBOX.x.* q2"}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSublist()
			for _, spec := range tc.subs {
				subj, queue, _ := strings.Cut(spec, " ")
				if err := s.insert(slNewSub(subj, queue)); err != nil {
					t.Fatal(err)
				}
			}
			var sc matchScratch
			buf := make([]byte, 0, 64) // reused like a read buffer
			i, wrong := 0, 0
			allocs := testing.AllocsPerRun(1000, func() {
				i++
				buf = strconv.AppendInt(append(buf[:0], "_INBOX.x."...), int64(i), 10)
				r := s.matchInto(buf, &sc)
				if len(r.psubs)+len(r.qsubs) != tc.fanout || r != &sc.r {
					wrong++
				}
				sc.release()
			})
			if wrong > 0 {
				t.Fatalf("%d of %d matches did not return a result of fanout %d built in the scratch", wrong, i, tc.fanout)
			}
			if allocs != 0 {
				t.Fatalf("uncached match with a scratch allocates %v times, want 0", allocs)
			}
			if n := s.stats().numCache; n != 0 {
				t.Fatalf("numCache = %d, want 0: every subject was new", n)
			}
		})
	}
}

// TestSublistScratchOwnership checks what a result built in a scratch shares
// with whom: it does not change when the trie does (deliver removes an
// auto-unsubscribed subscription while route still iterates the result), a
// result cached from a scratch keeps its own copy when the scratch is reused,
// and release leaves no reference to a subscription behind.
func TestSublistScratchOwnership(t *testing.T) {
	s := newSublist()
	var subs []*subscription
	add := func(subject, queue string) {
		t.Helper()
		sub := slNewSub(subject, queue)
		if err := s.insert(sub); err != nil {
			t.Fatal(err)
		}
		subs = append(subs, sub)
	}
	for i := range 40 {
		add("foo", []string{"", "q1", "q2"}[i%3])
		add("*", []string{"", "q1", "q3"}[i%3])
	}
	var sc matchScratch
	r := s.matchInto([]byte("foo"), &sc) // a first miss, built in sc
	if r != &sc.r {
		t.Fatal("first miss was not built in the scratch")
	}
	if d := slDiff(r, slExpect(subs, "foo")); d != "" {
		t.Fatal(d)
	}
	psnap := slices.Clone(r.psubs)
	qsnap := make([][]*subscription, len(r.qsubs))
	for i, g := range r.qsubs {
		qsnap[i] = slices.Clone(g)
	}
	same := func(r *matchResult) bool {
		return slices.Equal(psnap, r.psubs) && slices.EqualFunc(qsnap, r.qsubs, slices.Equal)
	}
	for _, sub := range subs[:50] {
		if err := s.remove(sub); err != nil {
			t.Fatal(err)
		}
	}
	subs = subs[50:]
	add("foo", "")
	add("foo", "q1")
	if !same(r) {
		t.Fatal("a result in the scratch changed when the trie did")
	}

	// The second miss is cached, copied out of the scratch it was built in.
	r = s.matchInto([]byte("foo"), &sc)
	if r == &sc.r || !slCached(s, "foo") {
		t.Fatal("second miss was not cached")
	}
	w := slExpect(subs, "foo")
	if d := slDiff(r, w); d != "" {
		t.Fatal(d)
	}
	psnap = slices.Clone(r.psubs)
	qsnap = qsnap[:0]
	for _, g := range r.qsubs {
		qsnap = append(qsnap, slices.Clone(g))
	}
	// Refill the scratch's member slices with another subject's groups.
	if other := s.matchInto([]byte("bar"), &sc); other != &sc.r || len(other.qsubs) != 2 {
		t.Fatalf("bar: want a result with 2 groups in the scratch, got %d groups", len(other.qsubs))
	}
	if !same(r) || slDiff(r, w) != "" {
		t.Fatal("a result cached from a scratch changed when the scratch was reused")
	}

	// release clears every slot the scratch kept, and gives back what a large
	// fanout grew.
	sc.release()
	if slices.ContainsFunc(sc.r.psubs[:cap(sc.r.psubs)], func(s *subscription) bool { return s != nil }) ||
		slices.ContainsFunc(sc.qnames[:cap(sc.qnames)], func(n string) bool { return n != "" }) {
		t.Fatal("release left references in the scratch")
	}
	for _, g := range sc.r.qsubs[:cap(sc.r.qsubs)] {
		if slices.ContainsFunc(g[:cap(g)], func(s *subscription) bool { return s != nil }) {
			t.Fatal("release left references in a queue member slice")
		}
	}
	for range slScratchKeep {
		add("big", "")
	}
	if d := slDiff(s.matchInto([]byte("big"), &sc), slExpect(subs, "big")); d != "" {
		t.Fatalf("big: %s", d)
	}
	sc.release()
	if cap(sc.r.psubs) != 0 {
		t.Fatalf("release kept a buffer of %d entries, above slScratchKeep", cap(sc.r.psubs))
	}
}

func TestSublistStats(t *testing.T) {
	s := newSublist()
	a, b, c := slNewSub("foo.*", ""), slNewSub("foo.bar", ""), slNewSub("foo.bar", "q")
	for _, sub := range []*subscription{a, b, c} {
		s.insert(sub)
	}
	s.match([]byte("foo.bar")) // first miss, not cached
	s.match([]byte("foo.bar")) // second miss, cached with fanout 3
	s.match([]byte("foo.bar")) // hit
	s.match([]byte("foo.x"))   // first miss
	s.match([]byte("foo.x"))   // second miss, cached with fanout 1
	s.match([]byte("foo.x"))   // hit
	st := s.stats()
	want := sublistStats{numSubs: 3, numCache: 2, numInserts: 3, numMatches: 6,
		cacheHitRate: 2.0 / 6, maxFanout: 3, avgFanout: 2}
	if st != want {
		t.Fatalf("stats() = %+v, want %+v", st, want)
	}
	s.remove(b) // drops only the foo.bar entry
	st = s.stats()
	want = sublistStats{numSubs: 2, numCache: 1, numInserts: 3, numRemoves: 1, numMatches: 6,
		cacheHitRate: 2.0 / 6, maxFanout: 1, avgFanout: 1}
	if st != want {
		t.Fatalf("after remove: stats() = %+v, want %+v", st, want)
	}
	s.remove(a) // drops foo.x
	if n := s.stats().numCache; n != 0 {
		t.Fatalf("numCache = %d after removing foo.*, want 0", n)
	}
}

// TestSublistConcurrent runs writers and readers together. Each writer owns its
// subscriptions, so right after its insert (or remove) returns, its own match
// must (or must not) see the subscription, even though readers are hammering
// the cache for the same subjects. At the end every subject is checked against
// the brute-force oracle, which would catch a stale result left in the cache.
func TestSublistConcurrent(t *testing.T) {
	patterns := []string{"a.b.c", "a.b.*", "a.*.c", "a.>", "*.b.c", ">", "a.b", "a.*", "x.y.z", "*.*.*", "a.b.c.>"}
	pubs := []string{"a.b.c", "a.b.d", "a.x.c", "a.b", "a.c", "z.b.c", "x.y.z", "a.b.c.d", "a"}
	const writers, readers, rounds = 4, 4, 300
	s := newSublist()
	var (
		wg     sync.WaitGroup
		errMu  sync.Mutex
		errs   []string
		liveMu sync.Mutex
		live   = map[*subscription]bool{}
	)
	fail := func(format string, args ...any) {
		errMu.Lock()
		errs = append(errs, fmt.Sprintf(format, args...))
		errMu.Unlock()
	}
	contains := func(r *matchResult, sub *subscription) bool {
		if slices.Contains(r.psubs, sub) {
			return true
		}
		for _, g := range r.qsubs {
			if slices.Contains(g, sub) {
				return true
			}
		}
		return false
	}
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 99))
			var mine []*subscription
			for i := range rounds {
				if len(mine) > 0 && rng.IntN(3) == 0 {
					k := rng.IntN(len(mine))
					sub := mine[k]
					mine = slices.Delete(mine, k, k+1)
					if err := s.remove(sub); err != nil {
						fail("remove: %v", err)
						return
					}
					liveMu.Lock()
					delete(live, sub)
					liveMu.Unlock()
					for _, p := range pubs {
						if slRefMatch(string(sub.subject), p) && contains(s.match([]byte(p)), sub) {
							fail("%q still matched %q after remove", p, sub.subject)
						}
					}
					continue
				}
				queue := ""
				if i%4 == 0 {
					queue = "q" + strconv.Itoa(rng.IntN(2))
				}
				sub := slNewSub(patterns[rng.IntN(len(patterns))], queue)
				if err := s.insert(sub); err != nil {
					fail("insert: %v", err)
					return
				}
				mine = append(mine, sub)
				liveMu.Lock()
				live[sub] = true
				liveMu.Unlock()
				for _, p := range pubs {
					if slRefMatch(string(sub.subject), p) && !contains(s.match([]byte(p)), sub) {
						fail("%q did not match %q right after insert", p, sub.subject)
					}
				}
			}
			if rng.IntN(2) == 0 {
				s.removeBatch(mine)
				liveMu.Lock()
				for _, sub := range mine {
					delete(live, sub)
				}
				liveMu.Unlock()
			}
		}()
	}
	for r := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var sc matchScratch // half the readers build their misses in a scratch, as clients do
			for i := range rounds * 20 {
				var res *matchResult
				if r%2 == 0 {
					res = s.matchInto([]byte(pubs[(i+r)%len(pubs)]), &sc)
				} else {
					res = s.match([]byte(pubs[(i+r)%len(pubs)]))
				}
				_ = len(res.psubs) + len(res.qsubs)
				for _, g := range res.qsubs {
					_ = len(g)
				}
				sc.release()
				if i%50 == 0 {
					s.stats()
				}
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d failures, first: %s", len(errs), errs[0])
	}
	var final []*subscription
	for sub := range live {
		final = append(final, sub)
	}
	if s.count() != uint32(len(final)) {
		t.Fatalf("count() = %d, want %d", s.count(), len(final))
	}
	for _, p := range pubs {
		slCheck(t, s, final, p)
	}
	s.removeBatch(final)
	if n := slNodeCount(t, s.root); n != 1 || s.count() != 0 {
		t.Fatalf("%d nodes and %d subs left after removing everything", n, s.count())
	}
}

// raceEnabled reports whether the test binary was built with -race; the build
// info records the flag, so no build-tagged file is needed.
func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, st := range bi.Settings {
		if st.Key == "-race" {
			return st.Value == "true"
		}
	}
	return false
}

// slScaleN is the number of subscriptions the scale tests use: one million
// normally; a fifth of that under -race (about 10x slower and with shadow
// memory), so the package's race run stays quick on a shared 2-core machine;
// and a tenth with -short.
func slScaleN() int {
	switch {
	case testing.Short():
		return 100_000
	case raceEnabled():
		return 200_000
	}
	return 1_000_000
}

// slHeap returns the live heap after a full collection.
func slHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// slCheckReleased fails t if the heap, measured from base, still holds more
// than 5% of used (what the full sublist took) once everything is removed. The
// caller keeps the sublist alive past this call, so what it retains counts.
func slCheckReleased(t *testing.T, base, used uint64) {
	t.Helper()
	left := int64(slHeap()) - int64(base)
	t.Logf("after removing all: %d bytes retained", left)
	// Relative bound: other tests' leftover goroutines may allocate meanwhile.
	if left > int64(used/20) {
		t.Errorf("%d bytes still held after removing every subscription (%d used while full)", left, used)
	}
}

func TestSublistScaleDistinctSubjects(t *testing.T) {
	n := slScaleN()
	subs := make([]*subscription, n)
	for i := range subs {
		subs[i] = slNewSub("foo."+strconv.Itoa(i)+".bar", "")
	}
	s := newSublist()
	base := slHeap()
	for _, sub := range subs {
		if err := s.insert(sub); err != nil {
			t.Fatal(err)
		}
	}
	used := slHeap() - base
	perSub := float64(used) / float64(n)
	t.Logf("%d distinct literal subjects: %.0f bytes/sub of sublist memory (excluding the subscriptions)", n, perSub)
	if perSub > 400 {
		t.Errorf("sublist uses %.0f bytes per subscription, want < 400", perSub)
	}
	if s.count() != uint32(n) {
		t.Fatalf("count() = %d, want %d", s.count(), n)
	}
	for _, i := range []int{0, 1, n / 2, n - 1} {
		r := s.match([]byte("foo." + strconv.Itoa(i) + ".bar"))
		if len(r.psubs) != 1 || r.psubs[0] != subs[i] {
			t.Fatalf("match foo.%d.bar: %d subs", i, len(r.psubs))
		}
	}
	for _, sub := range subs {
		if err := s.remove(sub); err != nil {
			t.Fatal(err)
		}
	}
	if nodes := slNodeCount(t, s.root); nodes != 1 {
		t.Fatalf("%d nodes left after removing all", nodes)
	}
	slCheckReleased(t, base, used)
	runtime.KeepAlive(s)
	runtime.KeepAlive(subs)
}

func TestSublistScaleOneSubject(t *testing.T) {
	n := slScaleN()
	const groups = 1000
	subs := make([]*subscription, n)
	names := make([]string, groups)
	for i := range names {
		names[i] = "g" + strconv.Itoa(i)
	}
	for i := range subs {
		switch i % 4 {
		case 0:
			subs[i] = slNewSub("one.subject", "") // plain subscribers
		default:
			subs[i] = slNewSub("one.subject", names[(i/4)%groups])
		}
	}
	s := newSublist()
	base := slHeap()
	for _, sub := range subs {
		if err := s.insert(sub); err != nil {
			t.Fatal(err)
		}
	}
	used := slHeap() - base
	perSub := float64(used) / float64(n)
	t.Logf("%d subs on one subject (1/4 plain, the rest in %d queue groups): %.0f bytes/sub", n, groups, perSub)
	if perSub > 400 {
		t.Errorf("sublist uses %.0f bytes per subscription, want < 400", perSub)
	}
	r := s.match([]byte("one.subject"))
	members := 0
	for _, g := range r.qsubs {
		members += len(g)
	}
	if len(r.psubs) != n/4 || members != n-n/4 || len(r.qsubs) != groups {
		t.Fatalf("got %d plain, %d queued in %d groups", len(r.psubs), members, len(r.qsubs))
	}
	// Remove in random order: each removal is O(1) however full the node is.
	rng := rand.New(rand.NewPCG(5, 6))
	rng.Shuffle(len(subs), func(i, j int) { subs[i], subs[j] = subs[j], subs[i] })
	for _, sub := range subs[:n-10] {
		if err := s.remove(sub); err != nil {
			t.Fatal(err)
		}
	}
	slCheck(t, s, subs[n-10:], "one.subject")
	s.removeBatch(subs[n-10:])
	if nodes := slNodeCount(t, s.root); nodes != 1 || s.count() != 0 {
		t.Fatalf("%d nodes and %d subs left", nodes, s.count())
	}
	slCheckReleased(t, base, used)
	runtime.KeepAlive(s)
	runtime.KeepAlive(subs)
}

// FuzzSublistMatch inserts the '|'-separated patterns (a pattern may carry a
// queue name after a space) and checks that match(subject) agrees with the
// brute-force matcher on every path (see slCheck), before and after removing
// every other subscription.
func FuzzSublistMatch(f *testing.F) {
	f.Add("foo.bar", "foo.bar")
	f.Add("foo.bar", "foo.*|foo.>|>|*.bar q")
	f.Add("foo.bar.baz", "foo.*|foo.>|*.*.baz q|foo.bar.* q|foo.bar")
	f.Add("foo", "foo.>|*.>|foo.*|*")
	f.Add("foo*.b>r", "foo*.*|*.b>r|foo.>")
	f.Add("a.b.c.d", "a.b.c.d q1|a.b.c.d q2|a.*.c.> q1|>|*.*.*.*")
	f.Add("a", "")
	f.Fuzz(func(t *testing.T, subject, patterns string) {
		if !validSubject([]byte(subject)) {
			s := newSublist()
			if r := s.match([]byte(subject)); len(r.psubs)+len(r.qsubs) != 0 {
				t.Fatalf("invalid subject %q matched", subject)
			}
			if r := s.matchInto([]byte(subject), slDirtyScratch()); len(r.psubs)+len(r.qsubs) != 0 {
				t.Fatalf("invalid subject %q matched with a scratch", subject)
			}
			return
		}
		s := newSublist()
		var subs []*subscription
		for _, spec := range strings.Split(patterns, "|") {
			pat, queue, _ := strings.Cut(spec, " ")
			sub := slNewSub(pat, queue)
			err := s.insert(sub)
			if valid := validSubject([]byte(pat)); valid != (err == nil) {
				t.Fatalf("insert(%q) = %v, valid = %v", pat, err, valid)
			}
			if err == nil {
				subs = append(subs, sub)
			}
		}
		check := func() {
			slCheck(t, s, subs, subject) // every path: cached, uncached, with and without a scratch
			for _, sub := range subs {
				if got, want := slPatternMatches(sub.subject, subject), slRefMatch(string(sub.subject), subject); got != want {
					t.Fatalf("slPatternMatches(%q, %q) = %v, want %v", sub.subject, subject, got, want)
				}
			}
		}
		check()
		var kept []*subscription
		for i, sub := range subs {
			if i%2 == 0 {
				if err := s.remove(sub); err != nil {
					t.Fatal(err)
				}
			} else {
				kept = append(kept, sub)
			}
		}
		subs = kept
		check()
		s.removeBatch(subs)
		if n := slNodeCount(t, s.root); n != 1 {
			t.Fatalf("%d nodes left after removing all", n)
		}
	})
}

// slBenchSubs returns subscriptions on "bench.<i>.<j>" literal subjects plus
// some wildcards, a realistic mix for the match benchmarks.
func slBenchSubs() []*subscription {
	var subs []*subscription
	for i := range 100 {
		for j := range 10 {
			subs = append(subs, slNewSub(fmt.Sprintf("bench.%d.%d", i, j), ""))
		}
		subs = append(subs, slNewSub(fmt.Sprintf("bench.%d.*", i), "q"))
	}
	subs = append(subs, slNewSub("bench.>", ""), slNewSub("*.*.*", ""))
	return subs
}

func BenchmarkSublistMatchCached(b *testing.B) {
	s := newSublist()
	for _, sub := range slBenchSubs() {
		s.insert(sub)
	}
	subj := []byte("bench.42.7")
	s.match(subj)
	s.match(subj) // the second miss is cached
	b.ReportAllocs()
	for b.Loop() {
		s.match(subj)
	}
}

func BenchmarkSublistMatchCachedParallel(b *testing.B) {
	s := newSublist()
	for _, sub := range slBenchSubs() {
		s.insert(sub)
	}
	subj := []byte("bench.42.7")
	s.match(subj)
	s.match(subj) // the second miss is cached
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			s.match(subj)
		}
	})
}

func BenchmarkSublistMatchUncached(b *testing.B) {
	s := newSublistCache(0)
	for _, sub := range slBenchSubs() {
		s.insert(sub)
	}
	subj := []byte("bench.42.7")
	b.ReportAllocs()
	for b.Loop() {
		s.match(subj)
	}
}

// BenchmarkSublistMatchNewSubjects publishes to a fresh subject every time
// (like replies to unique inboxes) with the cache on: every match misses and
// the doorkeeper keeps it out of the cache. With a scratch, as clients match,
// the result is built there; without, on the heap.
func BenchmarkSublistMatchNewSubjects(b *testing.B) {
	for _, scratch := range []bool{false, true} {
		name := "heap"
		if scratch {
			name = "scratch"
		}
		b.Run(name, func(b *testing.B) {
			s := newSublist()
			for _, sub := range slBenchSubs() {
				s.insert(sub)
			}
			s.insert(slNewSub("_INBOX.abc.*", ""))
			var sc *matchScratch
			if scratch {
				sc = &matchScratch{}
			}
			buf := make([]byte, 0, 64) // reused like a read buffer
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				buf = strconv.AppendInt(append(buf[:0], "_INBOX.abc."...), int64(i), 10)
				s.matchInto(buf, sc)
				if sc != nil {
					sc.release()
				}
			}
		})
	}
}

func BenchmarkSublistMatchWildcards(b *testing.B) {
	s := newSublistCache(0)
	for _, p := range []string{"a.>", "a.*.c.>", "*.b.*.d", "a.b.c.d", "a.*.*.*", ">", "*.*.*.*", "x.>"} {
		s.insert(slNewSub(p, ""))
		s.insert(slNewSub(p, "q"))
	}
	subj := []byte("a.b.c.d")
	b.ReportAllocs()
	for b.Loop() {
		s.match(subj)
	}
}

func BenchmarkSublistInsertRemove(b *testing.B) {
	s := newSublist()
	for _, sub := range slBenchSubs() {
		s.insert(sub)
	}
	subs := []*subscription{slNewSub("bench.42.new", ""), slNewSub("bench.*.new", ""), slNewSub("bench.42.7", "w")}
	b.ReportAllocs()
	for b.Loop() {
		for _, sub := range subs {
			s.insert(sub)
		}
		for _, sub := range subs {
			s.remove(sub)
		}
	}
}
