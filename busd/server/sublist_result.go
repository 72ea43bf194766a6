package server

// Building match results: the walk over the trie collects plain subscribers
// and queue groups into a result, kept in the cache or in a caller's scratch.

import "slices"

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
