package rpc_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestEndpointTypesAreChecked builds testdata/mismatch, which calls an
// Endpoint[HelloRequest, HelloReply] with an *OtherRequest: the compiler must
// refuse that line, and only that line.
func TestEndpointTypesAreChecked(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	out, err := exec.Command("go", "vet", "./testdata/mismatch").CombinedOutput()
	if err == nil {
		t.Fatalf("a call with a mismatched request type compiled:\n%s", out)
	}
	var errs []string
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "mismatch.go:") {
			errs = append(errs, line)
		}
	}
	if len(errs) != 1 || !strings.Contains(errs[0], "mismatch.go:22:") || !strings.Contains(errs[0], "OtherRequest") {
		t.Fatalf("want one type error, at the Bad call (mismatch.go:22); go vet said:\n%s", out)
	}
}
