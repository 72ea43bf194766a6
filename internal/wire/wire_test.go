package wire

import "testing"

func TestSubjects(t *testing.T) {
	for got, want := range map[string]string{
		Inbox("greeter", "ID1"):                      "_DT.greeter.ID1",
		DirectSubject("greeter", "ID1", "greeter.X"): "_DT.greeter.ID1.greeter.X",
		AllSubject("greeter", "greeter.X"):           "_DT.greeter.all.greeter.X",
		AvailSubject("greeter"):                      "_DT.greeter.avail",
		HeartbeatSubject("greeter"):                  "service.greeter.heartbeats",
		BeatSubject:                                  "_DT.beat",
	} {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}

func TestNamesAndSubjects(t *testing.T) {
	for _, c := range []struct {
		s                 string
		name, token, subj bool
	}{
		{"greeter", true, true, true},
		{"a_b-C9", true, true, true},
		{"", false, false, false},
		{"a.b", false, false, true},
		{"a b", false, false, false},
		{"a*", false, false, false},
		{"a.>", false, false, false},
		{"a..b", false, false, false},
		{".a", false, false, false},
		{"a.", false, false, false},
		{"a\tb", false, false, false},
		{"a\x7fb", false, false, false},
		{"ünï", false, true, true},
		{"a:b", false, true, true},
	} {
		if got := ValidName(c.s); got != c.name {
			t.Errorf("ValidName(%q) = %v", c.s, got)
		}
		if got := ValidToken(c.s); got != c.token {
			t.Errorf("ValidToken(%q) = %v", c.s, got)
		}
		if got := ValidSubject(c.s); got != c.subj {
			t.Errorf("ValidSubject(%q) = %v", c.s, got)
		}
		if got := SubjectProblem(c.s) == ""; got != c.subj {
			t.Errorf("SubjectProblem(%q) = %q, want valid=%v", c.s, SubjectProblem(c.s), c.subj)
		}
	}
}

func TestFilterProblem(t *testing.T) {
	for s, want := range map[string]string{
		"orders.OrderPlaced": "",
		"orders.*":           "",
		"orders.>":           "",
		"*.placed.>":         "",
		">":                  "",
		"":                   "empty",
		"orders.>.x":         "'>' must be the last token",
		"orders.a*":          "a wildcard must be a whole token ('*' or a last '>')",
		"orders..x":          "empty token (leading, trailing or double dot)",
		"orders.a b":         "whitespace or control character",
	} {
		if got := FilterProblem(s); got != want {
			t.Errorf("FilterProblem(%q) = %q, want %q", s, got, want)
		}
	}
	if EventQueue("billing") != "billing" || SendSpanName("a.b") != "send a.b" || ProcessSpanName("a.>") != "process a.>" {
		t.Error("event names")
	}
}
