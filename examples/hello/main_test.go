package main

import (
	"bytes"
	"testing"

	"github.com/dialtone-dev/dialtone/internal/bustest"
)

func TestHello(t *testing.T) {
	var out bytes.Buffer
	if err := run(t.Context(), bustest.Busd(t), &out); err != nil {
		t.Fatal(err)
	}
	t.Logf("output:\n%s", out.String())
	want := `greeter is up: endpoint SayHello on greeter.SayHello
SayHello(world): Hello, world!
SayHello(Ada), lowest latency: Hello, Ada!
SayHello(""): invalid_argument: invalid request: name (required) (code 400)
`
	if out.String() != want {
		t.Errorf("output:\n%s\nwant:\n%s", out.String(), want)
	}
}
