package server

// Subject mapping for imports: an import's local subject and the exporter's
// subject may differ, and wildcards carry tokens from one to the other.

import (
	"fmt"
	"strconv"
	"strings"
)

// subjectMap rewrites a literal subject matching the pattern src into dst.
// The i-th "*" of dst takes the token matched by the i-th "*" of src; "$N"
// takes the N-th (1-based) instead, as in nats-server's mappings; a trailing
// ">" takes the tokens matched by src's ">". Literal tokens of dst are copied.
type subjectMap struct {
	src  []string
	dst  []string
	pwcs []int // positions in src of its "*" tokens, in order
	fwc  bool  // src ends in ">" (and so does dst)
	same bool  // dst == src: the subject is kept as published
}

// newSubjectMap checks that dst can be built from whatever src matches.
func newSubjectMap(src, dst string) (*subjectMap, error) {
	if !confSubject(src) || !confSubject(dst) {
		return nil, fmt.Errorf("%q to %q: not valid subjects", src, dst)
	}
	m := &subjectMap{src: strings.Split(src, "."), dst: strings.Split(dst, "."), same: src == dst}
	for i, t := range m.src {
		switch t {
		case "*":
			m.pwcs = append(m.pwcs, i)
		case ">":
			m.fwc = true
		}
	}
	next := 0
	dfwc := false
	for _, t := range m.dst {
		switch {
		case t == "*":
			next++
			if next > len(m.pwcs) {
				return nil, fmt.Errorf("%q has more '*' wildcards than %q", dst, src)
			}
		case t == ">":
			dfwc = true
		case isWildcardRef(t):
			n, err := strconv.Atoi(t[1:])
			if err != nil || n < 1 || n > len(m.pwcs) {
				return nil, fmt.Errorf("%q: %s does not name one of the %d '*' wildcards of %q", dst, t, len(m.pwcs), src)
			}
		}
	}
	if dfwc != m.fwc {
		return nil, fmt.Errorf("%q and %q must both end in '>' or neither", src, dst)
	}
	return m, nil
}

// literal reports whether the mapping always produces the same subject.
func (m *subjectMap) literal() bool { return len(m.pwcs) == 0 && !m.fwc }

// apply appends to buf the mapping of subj, which matches src.
func (m *subjectMap) apply(buf, subj []byte) []byte {
	if m.same {
		return append(buf, subj...)
	}
	if m.literal() {
		return appendJoined(buf, m.dst)
	}
	// Tokens of subj at the wildcard positions of src.
	var tb [16][]byte
	toks := tb[:0]
	rest := subj
	for i := 0; ; i++ {
		if i < len(m.src) && m.src[i] == ">" {
			toks = append(toks, rest)
			break
		}
		j := indexByte(rest, subjSep)
		if j < 0 {
			toks = append(toks, rest)
			break
		}
		toks = append(toks, rest[:j])
		rest = rest[j+1:]
	}
	next := 0
	for i, t := range m.dst {
		if i > 0 {
			buf = append(buf, subjSep)
		}
		switch {
		case t == "*":
			buf = append(buf, toks[m.pwcs[next]]...)
			next++
		case t == ">":
			buf = append(buf, toks[len(m.src)-1]...)
		case isWildcardRef(t):
			n, _ := strconv.Atoi(t[1:])
			buf = append(buf, toks[m.pwcs[n-1]]...)
		default:
			buf = append(buf, t...)
		}
	}
	return buf
}

// isWildcardRef reports whether a token is "$N", a reference to a wildcard.
func isWildcardRef(t string) bool {
	if len(t) < 2 || t[0] != '$' {
		return false
	}
	for _, c := range t[1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func appendJoined(buf []byte, toks []string) []byte {
	for i, t := range toks {
		if i > 0 {
			buf = append(buf, subjSep)
		}
		buf = append(buf, t...)
	}
	return buf
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}
