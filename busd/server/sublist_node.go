package server

// The sublist trie's nodes: children by literal token and wildcard, the
// subscriptions at a node, and the queue groups among them.

import "slices"

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
