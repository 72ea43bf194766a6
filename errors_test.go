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
	err := dialtone.NewError(dialtone.CodeNotFound, errors.New("no such user"))
	if got := err.Error(); got != "not_found: no such user" {
		t.Fatalf("Error() = %q", got)
	}
	if err.Code() != dialtone.CodeNotFound || err.Message() != "no such user" {
		t.Fatalf("Code, Message = %v, %q", err.Code(), err.Message())
	}
	if !errors.Is(err, dialtone.ErrNotFound) {
		t.Fatal("errors.Is(not found, ErrNotFound) = false")
	}
	if errors.Is(err, dialtone.ErrInternal) {
		t.Fatal("errors.Is(not found, ErrInternal) = true")
	}
	wrapped := fmt.Errorf("lookup: %w", err)
	if !errors.Is(wrapped, dialtone.ErrNotFound) {
		t.Fatal("wrapped error lost its code")
	}
	if got := dialtone.ErrUnavailable.Error(); got != "unavailable" {
		t.Fatalf("sentinel Error() = %q", got)
	}
	if got := dialtone.NewError(dialtone.CodeUnavailable, nil).Error(); got != "unavailable" {
		t.Fatalf("Error() without a message = %q", got)
	}
}

func TestNewErrorWraps(t *testing.T) {
	err := dialtone.NewError(dialtone.CodeUnavailable, io.ErrUnexpectedEOF)
	if err.Unwrap() != io.ErrUnexpectedEOF || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatal("the wrapped error is not reachable")
	}
	if err.Message() != "unexpected EOF" {
		t.Fatalf("Message = %q", err.Message())
	}
	for _, code := range []dialtone.Code{0, 418, 65535} {
		if got := dialtone.NewError(code, nil).Code(); got != dialtone.CodeUnknown {
			t.Errorf("NewError(%d).Code() = %v, want unknown: the enum is closed", code, got)
		}
	}
}

func TestErrorfWraps(t *testing.T) {
	err := dialtone.Errorf(dialtone.CodeUnavailable, "read config: %w", io.ErrUnexpectedEOF)
	if err.Message() != "read config: unexpected EOF" {
		t.Fatalf("Message = %q", err.Message())
	}
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatal("cause not reachable through Unwrap")
	}
	if !errors.Is(err, dialtone.ErrUnavailable) {
		t.Fatal("code not matched")
	}
	multi := dialtone.Errorf(dialtone.CodeInternal, "%w and %w", io.EOF, context.Canceled)
	if !errors.Is(multi, io.EOF) || !errors.Is(multi, context.Canceled) {
		t.Fatal("multiple %w not reachable")
	}
	if dialtone.CodeOf(multi) != dialtone.CodeInternal {
		t.Fatal("a wrapped context error changed the code")
	}
}

func TestDetailsAreCopies(t *testing.T) {
	base := dialtone.NewError(dialtone.CodeInvalidArgument, errors.New("bad"))
	withA := base.WithDetail("a", 1)
	withB := withA.WithDetail("b", 2)
	if base.Details() != nil || len(withA.Details()) != 1 || len(withB.Details()) != 2 {
		t.Fatalf("WithDetail changed its receiver: %v %v %v", base.Details(), withA.Details(), withB.Details())
	}
	d := withB.Details()
	d["c"] = 3
	if len(withB.Details()) != 2 {
		t.Fatal("Details returned the error's own map")
	}
	if withB.Code() != dialtone.CodeInvalidArgument || withB.Message() != "bad" {
		t.Fatalf("WithDetail lost the code or message: %v", withB)
	}
}

func TestCodeOf(t *testing.T) {
	cases := []struct {
		err  error
		want dialtone.Code
	}{
		{nil, 0},
		{dialtone.NewError(dialtone.CodeNotFound, errors.New("x")), dialtone.CodeNotFound},
		{fmt.Errorf("a: %w", dialtone.ErrPermissionDenied), dialtone.CodePermissionDenied},
		{dialtone.ErrAlreadyExists, dialtone.CodeAlreadyExists},
		{dialtone.NewError(dialtone.CodeInternal, dialtone.ErrNotFound), dialtone.CodeInternal}, // the outer code
		{errors.Join(io.EOF, dialtone.ErrUnavailable), dialtone.CodeUnavailable},
		{context.Canceled, dialtone.CodeCanceled},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), dialtone.CodeDeadlineExceeded},
		{nats.ErrTimeout, dialtone.CodeUnknown}, // a foreign error: rpc turns nats.go's errors into *Error
		{nats.ErrNoResponders, dialtone.CodeUnknown},
		{io.EOF, dialtone.CodeUnknown},
	}
	for _, c := range cases {
		if got := dialtone.CodeOf(c.err); got != c.want {
			t.Errorf("CodeOf(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

func ExampleCodeOf() {
	err := fmt.Errorf("load profile: %w", dialtone.NewError(dialtone.CodeNotFound, errors.New("no such user")))
	fmt.Println(dialtone.CodeOf(err), int(dialtone.CodeOf(err)))
	fmt.Println(errors.Is(err, dialtone.ErrNotFound))
	fmt.Println(dialtone.CodeOf(context.DeadlineExceeded))
	fmt.Println(dialtone.CodeOf(io.EOF))
	// Output:
	// not_found 404
	// true
	// deadline_exceeded
	// unknown
}
