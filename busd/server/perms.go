package server

import (
	"strings"
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
