package server

import (
	"strings"
	"testing"
)

// slRefValid is an independent, deliberately naive statement of the subject
// rules used as the oracle for the validation helpers: split on '.', then
// check each token.
func slRefValid(subj string, literal bool) bool {
	if subj == "" || strings.ContainsAny(subj, " \t\r\n\f") {
		return false
	}
	toks := strings.Split(subj, ".")
	for i, t := range toks {
		switch {
		case t == "":
			return false
		case t == "*" && literal:
			return false
		case t == ">" && (literal || i != len(toks)-1):
			return false
		}
	}
	return true
}

// slRefHasWildcard reports whether any '.'-separated token is "*" or ">".
func slRefHasWildcard(subj string) bool {
	for _, t := range strings.Split(subj, ".") {
		if t == "*" || t == ">" {
			return true
		}
	}
	return false
}

func TestSubjectValidity(t *testing.T) {
	tests := []struct {
		subj     string
		valid    bool // validSubject
		literal  bool // validLiteralSubject
		wildcard bool // subjectHasWildcard
	}{
		{"foo", true, true, false},
		{"foo.bar", true, true, false},
		{"foo.bar.baz.qux", true, true, false},
		{"$SYS.REQ.SERVER.PING", true, true, false},
		{"_INBOX.abc123.1", true, true, false},
		{"foo-bar_baz:1/2", true, true, false},
		{"*", true, false, true},
		{">", true, false, true},
		{"foo.*", true, false, true},
		{"foo.>", true, false, true},
		{"*.bar", true, false, true},
		{"*.*.*", true, false, true},
		{"foo.*.bar.>", true, false, true},
		{"foo*", true, true, false}, // '*' inside a token is literal
		{"*foo", true, true, false},
		{"f>o", true, true, false},
		{"foo.>bar", true, true, false},
		{"foo.**", true, true, false},
		{"foo.>>", true, true, false},
		{"ünïcode.subject", true, true, false},
		{"", false, false, false},
		{".", false, false, false},
		{"..", false, false, false},
		{".foo", false, false, false},
		{"foo.", false, false, false},
		{"foo..bar", false, false, false},
		{">.foo", false, false, true},
		{"foo.>.bar", false, false, true},
		{"foo.>.", false, false, true},
		{">.>", false, false, true},
		{"foo bar", false, false, false},
		{"foo\tbar", false, false, false},
		{"foo\r", false, false, false},
		{"\nfoo", false, false, false},
		{"foo.\f", false, false, false},
		{" ", false, false, false},
		{"foo. .bar", false, false, false},
		{"foo.* ", false, false, false}, // the token is "* ", not "*"
	}
	for _, tc := range tests {
		b := []byte(tc.subj)
		if got := validSubject(b); got != tc.valid {
			t.Errorf("validSubject(%q) = %v, want %v", tc.subj, got, tc.valid)
		}
		if got := validLiteralSubject(b); got != tc.literal {
			t.Errorf("validLiteralSubject(%q) = %v, want %v", tc.subj, got, tc.literal)
		}
		if got := subjectHasWildcard(b); got != tc.wildcard {
			t.Errorf("subjectHasWildcard(%q) = %v, want %v", tc.subj, got, tc.wildcard)
		}
		// The table and the reference implementation must agree too, so the
		// fuzz oracle is itself checked.
		if ref := slRefValid(tc.subj, false); ref != tc.valid {
			t.Errorf("reference validity of %q = %v, table says %v", tc.subj, ref, tc.valid)
		}
	}
}

func TestSubjectHelpersDoNotAllocate(t *testing.T) {
	subj := []byte("foo.bar.*.baz.>")
	allocs := testing.AllocsPerRun(100, func() {
		validSubject(subj)
		validLiteralSubject(subj)
		subjectHasWildcard(subj)
	})
	if allocs != 0 {
		t.Fatalf("subject helpers allocate %v times per run, want 0", allocs)
	}
}

// FuzzSubjectValidity checks the validation helpers against the naive
// reference rules and against each other.
func FuzzSubjectValidity(f *testing.F) {
	for _, s := range []string{
		"foo", "foo.bar", "*", ">", "foo.*", "foo.>", "foo.>.bar", "foo..bar",
		".foo", "foo.", "foo bar", "foo*", "f>o", "*.*.>", "", "a.b.c.d.e.f",
		"foo\t", "\r\n", "..", ">.>",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := []byte(s)
		valid, literal, wild := validSubject(b), validLiteralSubject(b), subjectHasWildcard(b)
		if want := slRefValid(s, false); valid != want {
			t.Fatalf("validSubject(%q) = %v, reference says %v", s, valid, want)
		}
		if want := slRefValid(s, true); literal != want {
			t.Fatalf("validLiteralSubject(%q) = %v, reference says %v", s, literal, want)
		}
		if want := slRefHasWildcard(s); wild != want {
			t.Fatalf("subjectHasWildcard(%q) = %v, reference says %v", s, wild, want)
		}
		if literal != (valid && !wild) {
			t.Fatalf("%q: literal=%v but valid=%v wildcard=%v", s, literal, valid, wild)
		}
		if string(b) != s {
			t.Fatalf("helpers modified their input")
		}
	})
}
