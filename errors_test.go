package dialtone_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/dialtone-dev/dialtone"
	"github.com/nats-io/nats.go"
)

func TestCodeString(t *testing.T) {
	cases := map[dialtone.Code]string{
		0:                               "ok",
		dialtone.CodeInvalidArgument:    "invalid_argument",
		dialtone.CodeUnauthenticated:    "unauthenticated",
		dialtone.CodePermissionDenied:   "permission_denied",
		dialtone.CodeNotFound:           "not_found",
		dialtone.CodeAlreadyExists:      "already_exists",
		dialtone.CodeFailedPrecondition: "failed_precondition",
		dialtone.CodeResourceExhausted:  "resource_exhausted",
		dialtone.CodeCanceled:           "canceled",
		dialtone.CodeInternal:           "internal",
		dialtone.CodeUnimplemented:      "unimplemented",
		dialtone.CodeUnavailable:        "unavailable",
		dialtone.CodeDeadlineExceeded:   "deadline_exceeded",
		dialtone.CodeUnknown:            "unknown",
		777:                             "code(777)",
	}
	for c, want := range cases {
		if got := c.String(); got != want {
			t.Errorf("Code(%d).String() = %q, want %q", c, got, want)
		}
	}
}

func TestErrorMessageAndIs(t *testing.T) {
	err := dialtone.NewError(dialtone.CodeNotFound, "no such user")
	if got := err.Error(); got != "not_found: no such user" {
		t.Fatalf("Error() = %q", got)
	}
	if !errors.Is(err, dialtone.ErrNotFound) {
		t.Fatal("errors.Is(not found, ErrNotFound) = false")
	}
	if errors.Is(err, dialtone.ErrInternal) {
		t.Fatal("errors.Is(not found, ErrInternal) = true")
	}
	if errors.Is(err, dialtone.NewError(dialtone.CodeNotFound, "other")) {
		t.Fatal("a target with a different message matched")
	}
	wrapped := fmt.Errorf("lookup: %w", err)
	if !errors.Is(wrapped, dialtone.ErrNotFound) {
		t.Fatal("wrapped error lost its code")
	}
	if got := dialtone.ErrUnavailable.Error(); got != "unavailable" {
		t.Fatalf("sentinel Error() = %q", got)
	}
}

func TestErrorfWraps(t *testing.T) {
	err := dialtone.Errorf(dialtone.CodeUnavailable, "read config: %w", io.ErrUnexpectedEOF)
	if err.Message != "read config: unexpected EOF" {
		t.Fatalf("Message = %q", err.Message)
	}
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatal("cause not reachable through Unwrap")
	}
	if !errors.Is(err, dialtone.ErrUnavailable) {
		t.Fatal("code not matched")
	}
	plain := dialtone.Errorf(dialtone.CodeInternal, "n=%d", 3)
	if plain.Unwrap() != nil {
		t.Fatal("Errorf without %w has a cause")
	}
	multi := dialtone.Errorf(dialtone.CodeInternal, "%w and %w", io.EOF, context.Canceled)
	if !errors.Is(multi, io.EOF) || !errors.Is(multi, context.Canceled) {
		t.Fatal("multiple %w not reachable")
	}
}

func TestCodeOf(t *testing.T) {
	cases := []struct {
		err  error
		want dialtone.Code
	}{
		{nil, 0},
		{dialtone.NewError(dialtone.CodeNotFound, "x"), dialtone.CodeNotFound},
		{fmt.Errorf("a: %w", dialtone.ErrPermissionDenied), dialtone.CodePermissionDenied},
		{context.Canceled, dialtone.CodeCanceled},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), dialtone.CodeDeadlineExceeded},
		{nats.ErrTimeout, dialtone.CodeDeadlineExceeded},
		{nats.ErrNoResponders, dialtone.CodeUnavailable},
		{io.EOF, dialtone.CodeInternal},
	}
	for _, c := range cases {
		if got := dialtone.CodeOf(c.err); got != c.want {
			t.Errorf("CodeOf(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

func ExampleCodeOf() {
	err := fmt.Errorf("load profile: %w", dialtone.NewError(dialtone.CodeNotFound, "no such user"))
	fmt.Println(dialtone.CodeOf(err), int(dialtone.CodeOf(err)))
	fmt.Println(errors.Is(err, dialtone.ErrNotFound))
	fmt.Println(dialtone.CodeOf(context.DeadlineExceeded))
	// Output:
	// not_found 404
	// true
	// deadline_exceeded
}
