package main

import (
	"bytes"
	"testing"

	"github.com/dialtone-dev/dialtone/internal/bustest"
)

func TestInstancesJoinDrainLeaveAndExpire(t *testing.T) {
	var out bytes.Buffer
	if err := run(t.Context(), bustest.Busd(t), &out); err != nil {
		t.Fatalf("%v\noutput:\n%s", err, out.String())
	}
	t.Logf("output:\n%s", out.String())
	want := `watching the greeter instances of this example
start instances a and b
  joined   greeter a (version 1.0.0, status up)   live: a
  joined   greeter b (version 1.0.0, status up)   live: a b
stop a gracefully (drain)
  draining greeter a (version 1.0.0, status draining)   live: a b
  left     greeter a (version 1.0.0, status stopped)   live: b
kill b: close its connection without a word (it expires after 3 x 100ms)
  expired  greeter b (version 1.0.0, status up)   live: none
`
	if out.String() != want {
		t.Errorf("output:\n%s\nwant:\n%s", out.String(), want)
	}
}
