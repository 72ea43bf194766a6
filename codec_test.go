package dialtone_test

import (
	"testing"

	"github.com/dialtone-dev/dialtone"
)

func TestJSONCodec(t *testing.T) {
	type msg struct {
		A string `json:"a"`
	}
	if dialtone.JSON.Name() != "application/json" {
		t.Fatal(dialtone.JSON.Name())
	}
	b, err := dialtone.JSON.Marshal(&msg{A: "x"})
	if err != nil || string(b) != `{"a":"x"}` {
		t.Fatalf("%s %v", b, err)
	}
	var m msg
	if err := dialtone.JSON.Unmarshal(b, &m); err != nil || m.A != "x" {
		t.Fatalf("%v %v", m, err)
	}
	m2 := msg{A: "keep"}
	if err := dialtone.JSON.Unmarshal(nil, &m2); err != nil || m2.A != "keep" {
		t.Fatalf("empty payload: %v %v", m2, err)
	}
	if err := dialtone.JSON.Unmarshal([]byte("{"), &m); err == nil {
		t.Fatal("bad JSON accepted")
	}
}
