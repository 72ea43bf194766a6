package main

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/dialtone-dev/dialtone/internal/bustest"
)

func TestWorkersShareTheLoad(t *testing.T) {
	var out bytes.Buffer
	if err := run(t.Context(), bustest.Busd(t), &out); err != nil {
		t.Fatal(err)
	}
	t.Logf("output:\n%s", out.String())
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	head := []string{
		`3 instances of squarer are serving in queue group "squarer"`,
		"60 jobs done, sum of squares 73810; the work spread like this:",
	}
	if len(lines) != len(head)+workers || lines[0] != head[0] || lines[1] != head[1] {
		t.Fatalf("output:\n%s", out.String())
	}
	// Every worker got a share (the queue group picks at random: the chance that one
	// of 3 gets none of 60 jobs is below 1e-10), and the shares add up.
	row := regexp.MustCompile(`^  worker-(\d) +(\d+) (#+)$`)
	total := 0
	for i, line := range lines[2:] {
		m := row.FindStringSubmatch(line)
		if m == nil || m[1] != strconv.Itoa(i+1) {
			t.Fatalf("line %q, want worker-%d's share", line, i+1)
		}
		n, _ := strconv.Atoi(m[2])
		if n == 0 || len(m[3]) != n {
			t.Errorf("line %q: bar does not match the count", line)
		}
		total += n
	}
	if total != jobs {
		t.Errorf("shares add up to %d, want %d", total, jobs)
	}
}
