package dialtone_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/dialtone-dev/dialtone"
	"github.com/nats-io/nats.go"
)

func TestErrorHeaderRoundTrip(t *testing.T) {
	h := nats.Header{}
	in := dialtone.NewError(dialtone.CodeInvalidArgument, errors.New("bad\nname")).
		WithDetail("fields", map[string]string{"Name": "required"})
	dialtone.SetErrorHeader(h, in)
	if got := h.Get(dialtone.HeaderErrorCode); got != "400" {
		t.Fatalf("code header = %q", got)
	}
	if got := h.Get(dialtone.HeaderError); got != "bad name" {
		t.Fatalf("message header = %q (line breaks must go)", got)
	}
	out := dialtone.ErrorFromHeader(h)
	if out == nil || out.Code() != dialtone.CodeInvalidArgument || out.Message() != "bad name" {
		t.Fatalf("ErrorFromHeader = %#v", out)
	}
	fields, ok := out.Details()["fields"].(map[string]any)
	if !ok || fields["Name"] != "required" {
		t.Fatalf("details = %#v", out.Details())
	}
	dialtone.SetErrorHeader(h, nil)
	if dialtone.ErrorFromHeader(h) != nil {
		t.Fatal("SetErrorHeader(nil) left an error behind")
	}
}

func TestErrorFromHeaderForeign(t *testing.T) {
	if dialtone.ErrorFromHeader(nil) != nil || dialtone.ErrorFromHeader(nats.Header{"X": {"y"}}) != nil {
		t.Fatal("error from a header without error fields")
	}
	cases := []struct {
		code string
		want dialtone.Code
	}{
		{"404", dialtone.CodeNotFound},
		{"418", dialtone.CodeUnknown},
		{"abc", dialtone.CodeUnknown},
		{"0", dialtone.CodeUnknown},
		{"520", dialtone.CodeUnknown},
	}
	for _, c := range cases {
		h := nats.Header{}
		h.Set(dialtone.HeaderErrorCode, c.code)
		h.Set(dialtone.HeaderErrorDetails, "not json")
		e := dialtone.ErrorFromHeader(h)
		if e == nil || e.Code() != c.want || e.Details() != nil {
			t.Errorf("code %q: got %#v, want code %v and no details", c.code, e, c.want)
		}
	}
	h := nats.Header{}
	h.Set(dialtone.HeaderError, "only a message")
	if e := dialtone.ErrorFromHeader(h); e == nil || e.Code() != dialtone.CodeUnknown || e.Message() != "only a message" {
		t.Fatalf("message only: %#v", e)
	}
}

func TestSetErrorHeaderPlainError(t *testing.T) {
	h := nats.Header{}
	dialtone.SetErrorHeader(h, errors.New("boom"))
	e := dialtone.ErrorFromHeader(h)
	if e.Code() != dialtone.CodeUnknown || e.Message() != "boom" {
		t.Fatalf("got %#v", e)
	}
}

func TestTimeoutHeader(t *testing.T) {
	h := nats.Header{}
	if _, ok := dialtone.TimeoutFromHeader(h); ok {
		t.Fatal("timeout from an empty header")
	}
	dialtone.SetTimeoutHeader(h, 1500*time.Microsecond)
	if got := h.Get(dialtone.HeaderTimeout); got != "2" {
		t.Fatalf("header = %q, want rounded up to 2", got)
	}
	dialtone.SetTimeoutHeader(h, -time.Second)
	if d, ok := dialtone.TimeoutFromHeader(h); !ok || d != time.Millisecond {
		t.Fatalf("negative remaining: %v %v, want 1ms", d, ok)
	}
	for _, bad := range []string{"0", "-5", "x", "99999999999999999999"} {
		h.Set(dialtone.HeaderTimeout, bad)
		if _, ok := dialtone.TimeoutFromHeader(h); ok {
			t.Errorf("%q accepted", bad)
		}
	}
}

func ExampleSetErrorHeader() {
	h := nats.Header{}
	dialtone.SetErrorHeader(h, dialtone.NewError(dialtone.CodeNotFound, errors.New("no such user")))
	fmt.Println(h.Get(dialtone.HeaderErrorCode), h.Get(dialtone.HeaderError))

	err := dialtone.ErrorFromHeader(h)
	fmt.Println(err, errors.Is(err, dialtone.ErrNotFound))
	// Output:
	// 404 no such user
	// not_found: no such user true
}
