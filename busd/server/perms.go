package server

import (
	"encoding/binary"
	"hash/maphash"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Permissions, as nats-server applies them.
//
// Publish: with an allow list, a subject must match one of its entries; with a
// deny list, it must match none (deny wins). An allow list that is present but
// empty allows nothing, which is how allow_responses without a publish allow
// list reads ("may only answer").
//
// Subscribe: allow and deny entries are subjects, optionally followed by a
// queue group ("orders.* workers"). A plain subscription needs a plain allow
// entry; a queue subscription needs a queue entry for that queue when the
// subject has queue entries, and a plain entry otherwise. An empty subscribe
// allow list allows everything (nats-server reads it so). A subscription is
// denied when a deny entry covers its subject; a wildcard subscription that
// merely overlaps a deny entry ("foo.*" against a deny of "foo.secret") is
// allowed, and the denied subjects are filtered out at delivery.
//
// Where busd is stricter than nats-server: a subscription is allowed only when
// an allow entry covers everything it could receive. nats-server matches the
// subscription subject against the allow entries as if its wildcards were
// literal tokens, so an allow of "foo.*" admits a subscription to "foo.>"
// (which then receives "foo.a.b"); busd refuses it. The same applies to
// publishing to a subject that contains wildcard tokens.
//
// Matching is a small token trie per list, built once per configuration and
// shared by every client with the same permissions; each client keeps a
// bounded cache of publish decisions, since the same few subjects are
// published again and again.

// Every per-client cache is bounded in entries and in bytes, so that a client
// publishing to many long distinct subjects costs a few KiB, not MiB.
const (
	permCacheMax     = 128  // publish decisions cached per client, as nats-server
	permCacheSubjMax = 256  // longer subjects are checked every time, never cached
	replyPruneEvery  = 4096 // reply subjects tracked between two prunes
	replyPruneAge    = time.Second
	replyMax         = 1 << 16 // reply subjects tracked per client, at most
	replyBytesMax    = 1 << 20 // and their total length
)

// permNode is one level of a permission trie. An entry ends at a node: plain
// marks an entry without a queue, queues lists the queue groups of entries
// with one.
type permNode struct {
	next   map[string]*permNode
	pwc    *permNode // "*"
	fwc    *permNode // ">"
	plain  bool
	queues []string
}

// permTrie is an immutable set of permission entries.
type permTrie struct {
	root permNode
}

func newPermTrie(entries []string, withQueues bool) *permTrie {
	t := &permTrie{}
	for _, e := range entries {
		f := strings.Fields(e)
		var subject, queue string
		switch {
		case len(f) == 1:
			subject = f[0]
		case len(f) == 2 && withQueues:
			subject, queue = f[0], f[1]
		default:
			continue // conf_auth.go rejects these; an API caller gets no entry
		}
		if !validSubject([]byte(subject)) || (queue != "" && !validQueue([]byte(queue))) {
			continue
		}
		t.add(subject, queue)
	}
	return t
}

func (t *permTrie) add(subject, queue string) {
	n := &t.root
	for tok := range strings.SplitSeq(subject, ".") {
		var next **permNode
		switch tok {
		case "*":
			next = &n.pwc
		case ">":
			next = &n.fwc
		default:
			if n.next == nil {
				n.next = make(map[string]*permNode)
			}
			c := n.next[tok]
			if c == nil {
				c = &permNode{}
				n.next[tok] = c
			}
			n = c
			continue
		}
		if *next == nil {
			*next = &permNode{}
		}
		n = *next
	}
	if queue == "" {
		n.plain = true
	} else {
		n.queues = append(n.queues, queue)
	}
}

// permHit collects the entries that cover a subject.
type permHit struct {
	plain  bool
	queues []string
}

func (h *permHit) add(n *permNode) {
	h.plain = h.plain || n.plain
	h.queues = append(h.queues, n.queues...)
}

// queueMatches reports whether queue is one of the queues the hit collected.
// A queue entry with wildcard tokens covers the queue names it matches.
func (h *permHit) queueMatches(queue string) bool {
	for _, q := range h.queues {
		if q == queue || (subjectHasWildcard([]byte(q)) && tokensCover(q, queue, true)) {
			return true
		}
	}
	return false
}

// match collects the entries covering subj. Wildcard tokens in subj are what a
// subscription may receive: an entry token "*" covers a subject token "*" and,
// unless strict, a subject token ">" as well (the nats-server reading, used
// for deny lists; allow lists are matched strictly). Literal entry tokens
// never cover wildcard subject tokens.
func (t *permTrie) match(subj []byte, strict bool, h *permHit) {
	var buf [32][]byte
	toks := buf[:0]
	for start, i := 0, 0; i <= len(subj); i++ {
		if i < len(subj) && subj[i] != subjSep {
			continue
		}
		if i == start {
			return // empty token: not a subject, nothing covers it
		}
		toks = append(toks, subj[start:i])
		start = i + 1
	}
	permWalk(&t.root, toks, strict, h)
}

func permWalk(n *permNode, toks [][]byte, strict bool, h *permHit) {
	if len(toks) == 0 {
		h.add(n)
		return
	}
	if n.fwc != nil {
		h.add(n.fwc) // ">" covers one or more tokens, whatever they are
	}
	tok := toks[0]
	if n.pwc != nil && !(strict && isFWCToken(tok)) {
		permWalk(n.pwc, toks[1:], strict, h)
	}
	if isPWCToken(tok) || isFWCToken(tok) {
		return
	}
	if c := n.next[string(tok)]; c != nil {
		permWalk(c, toks[1:], strict, h)
	}
}

// tokensCover reports whether pattern covers subj token by token (both strings;
// used for queue names, which are few and short).
func tokensCover(pattern, subj string, strict bool) bool {
	pt, st := strings.Split(pattern, "."), strings.Split(subj, ".")
	for i, p := range pt {
		if p == ">" {
			return len(st) > i
		}
		if i >= len(st) {
			return false
		}
		s := st[i]
		switch {
		case p == "*":
			if strict && s == ">" {
				return false
			}
		case s == "*" || s == ">" || p != s:
			return false
		}
	}
	return len(pt) == len(st)
}

// permSet is a compiled Permissions: immutable, shared by all clients of a
// user (or of the default permissions) under one configuration.
type permSet struct {
	pubAllow, pubDeny *permTrie // nil: no such list
	subAllow, subDeny *permTrie
	resp              *respPerm    // allow_responses, or nil
	src               *Permissions // what was configured, for $SYS.REQ.USER.INFO
}

// respPerm is a normalised ResponsePermission.
type respPerm struct {
	max     int           // replies per request; <0 unlimited
	expires time.Duration // 0: never
}

// compilePerms builds the matcher for p; nil means unrestricted.
func compilePerms(p *Permissions) *permSet {
	if p == nil {
		return nil
	}
	ps := &permSet{src: p}
	if pub := p.Publish; pub != nil {
		if pub.Allow != nil {
			ps.pubAllow = newPermTrie(pub.Allow, false)
		}
		if len(pub.Deny) > 0 {
			// A queue qualifier has no meaning here; as nats-server does, keep
			// the subject's scope rather than dropping the deny.
			deny := make([]string, 0, len(pub.Deny))
			for _, d := range pub.Deny {
				if f := strings.Fields(d); len(f) > 0 {
					deny = append(deny, f[0])
				}
			}
			ps.pubDeny = newPermTrie(deny, false)
		}
	}
	if sub := p.Subscribe; sub != nil {
		if len(sub.Allow) > 0 {
			ps.subAllow = newPermTrie(sub.Allow, true)
		}
		if len(sub.Deny) > 0 {
			ps.subDeny = newPermTrie(sub.Deny, true)
		}
	}
	if r := p.Response; r != nil {
		ps.resp = &respPerm{max: r.MaxMsgs, expires: r.Expires}
		if ps.resp.max == 0 {
			ps.resp.max = 1 // nats-server's default
		}
		if ps.resp.expires < 0 {
			ps.resp.expires = 0
		}
		if ps.pubAllow == nil {
			// Allowing responses turns off the implicit "publish anywhere".
			ps.pubAllow = &permTrie{}
		}
	}
	return ps
}

// pubStatic is the configured publish decision, without reply tracking.
func (ps *permSet) pubStatic(subj []byte) bool {
	if ps.pubAllow != nil {
		var h permHit
		ps.pubAllow.match(subj, true, &h)
		if !h.plain {
			return false
		}
	}
	if ps.pubDeny != nil {
		var h permHit
		ps.pubDeny.match(subj, false, &h)
		if h.plain {
			return false
		}
	}
	return true
}

// subOK is the subscribe decision for subject and queue (nil: plain).
func (ps *permSet) subOK(subject, queue []byte) bool {
	if ps.subAllow != nil {
		var h permHit
		ps.subAllow.match(subject, true, &h)
		ok := h.plain
		if queue != nil && len(h.queues) > 0 {
			ok = h.queueMatches(string(queue))
		}
		if !ok {
			return false
		}
	}
	if ps.subDeny != nil {
		var h permHit
		ps.subDeny.match(subject, false, &h)
		if h.plain || (queue != nil && h.queueMatches(string(queue))) {
			return false
		}
	}
	return true
}

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
