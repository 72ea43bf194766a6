package main

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/dialtone-dev/dialtone/internal/bustest"
)

func TestPatternsWithASlowInstance(t *testing.T) {
	var out bytes.Buffer
	if err := run(t.Context(), bustest.Busd(t), &out); err != nil {
		t.Fatalf("%v\noutput:\n%s", err, out.String())
	}
	t.Logf("output:\n%s", out.String())
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 5 ||
		lines[0] != "quote instances: fast-1, fast-2 (answer at once) and slow (200ms a call, one at a time)" ||
		lines[1] != "pattern         calls on slow slowest call" {
		t.Fatalf("output:\n%s", out.String())
	}
	row := regexp.MustCompile(`^(\S+) +9 +(\d+) +(\d+)ms$`)
	onSlow := map[string]int{}
	for _, line := range lines[2:] {
		m := row.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("row %q", line)
		}
		onSlow[m[1]], _ = strconv.Atoi(m[2])
	}
	// Lowest latency: a fast instance always answers first.
	if onSlow["lowest-latency"] != 0 {
		t.Errorf("lowest-latency: the slow instance answered %d calls, want 0\n%s", onSlow["lowest-latency"], out.String())
	}
	// Available: the slow instance has one slot, and a burst is over long before it
	// frees it (allow a second call for a very slow machine).
	if onSlow["available"] > 2 {
		t.Errorf("available: the slow instance answered %d calls, want at most 1 or 2\n%s", onSlow["available"], out.String())
	}
	if _, ok := onSlow["balanced"]; !ok {
		t.Errorf("no balanced row\n%s", out.String())
	}
}
