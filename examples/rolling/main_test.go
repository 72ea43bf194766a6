package main

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/dialtone-dev/dialtone/internal/bustest"
)

func TestRollingDeployLosesNoCall(t *testing.T) {
	var out bytes.Buffer
	if err := run(t.Context(), bustest.Busd(t), &out); err != nil {
		t.Fatalf("%v\noutput:\n%s", err, out.String())
	}
	t.Logf("output:\n%s", out.String())
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	wantHead := []string{
		"3 instances of version 1.0.0 are serving",
		"step 1: started a 2.0.0 instance, drained a 1.0.0 one",
		"step 2: started a 2.0.0 instance, drained a 1.0.0 one",
		"step 3: started a 2.0.0 instance, drained a 1.0.0 one",
	}
	if len(lines) != len(wantHead)+2 || strings.Join(lines[:4], "\n") != strings.Join(wantHead, "\n") {
		t.Fatalf("output:\n%s", out.String())
	}
	if m := regexp.MustCompile(`^after the deploy, calls served by 1\.0\.0: 0, by 2\.0\.0: (\d+)$`).FindStringSubmatch(lines[4]); m == nil {
		t.Errorf("line %q: want every call after the deploy served by 2.0.0", lines[4])
	}
	m := regexp.MustCompile(`^(\d+) calls in all, 0 failed \(1\.0\.0 served (\d+), 2\.0\.0 served (\d+)\)$`).FindStringSubmatch(lines[5])
	if m == nil {
		t.Fatalf("line %q: want 0 failed", lines[5])
	}
	calls, _ := strconv.Atoi(m[1])
	v1, _ := strconv.Atoi(m[2])
	v2, _ := strconv.Atoi(m[3])
	if calls < 5*between || v1 < between || v2 < between || v1+v2 != calls {
		t.Errorf("counts: %d calls, %d by 1.0.0, %d by 2.0.0", calls, v1, v2)
	}
}
