package dialtone

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go"
)

// Code classifies an error. It is a closed enum: the numeric value is what is sent
// on the wire in the Nats-Service-Error-Code header, and any number not listed
// here decodes to CodeUnknown. The numbers follow HTTP status codes so that ADR-32
// tooling shows something familiar.
type Code uint16

// The codes. The zero Code means "no error" and is never sent.
const (
	CodeInvalidArgument    Code = 400 // the request is malformed or fails validation
	CodeUnauthenticated    Code = 401 // the caller is not authenticated
	CodePermissionDenied   Code = 403 // the caller may not do this
	CodeNotFound           Code = 404 // the thing asked for does not exist
	CodeAlreadyExists      Code = 409 // the thing to create exists already
	CodeFailedPrecondition Code = 412 // the system is not in the state the call needs
	CodeResourceExhausted  Code = 429 // a limit or quota is used up; retry later
	CodeCanceled           Code = 499 // the caller gave up
	CodeInternal           Code = 500 // a bug or an unexpected failure in the server
	CodeUnimplemented      Code = 501 // the endpoint does not do this
	CodeUnavailable        Code = 503 // nobody can serve the call right now; retry
	CodeDeadlineExceeded   Code = 504 // the call ran out of time
	CodeUnknown            Code = 520 // any wire number not listed above decodes to this
)

// String returns the snake_case name of c, e.g. "invalid_argument". The zero Code is
// "ok"; a number outside the enum prints as "code(N)".
func (c Code) String() string {
	switch c {
	case 0:
		return "ok"
	case CodeInvalidArgument:
		return "invalid_argument"
	case CodeUnauthenticated:
		return "unauthenticated"
	case CodePermissionDenied:
		return "permission_denied"
	case CodeNotFound:
		return "not_found"
	case CodeAlreadyExists:
		return "already_exists"
	case CodeFailedPrecondition:
		return "failed_precondition"
	case CodeResourceExhausted:
		return "resource_exhausted"
	case CodeCanceled:
		return "canceled"
	case CodeInternal:
		return "internal"
	case CodeUnimplemented:
		return "unimplemented"
	case CodeUnavailable:
		return "unavailable"
	case CodeDeadlineExceeded:
		return "deadline_exceeded"
	case CodeUnknown:
		return "unknown"
	}
	return "code(" + strconv.Itoa(int(c)) + ")"
}

// known reports whether c is one of the listed codes (not zero).
func (c Code) known() bool {
	switch c {
	case CodeInvalidArgument, CodeUnauthenticated, CodePermissionDenied, CodeNotFound,
		CodeAlreadyExists, CodeFailedPrecondition, CodeResourceExhausted, CodeCanceled,
		CodeInternal, CodeUnimplemented, CodeUnavailable, CodeDeadlineExceeded, CodeUnknown:
		return true
	}
	return false
}

// codeFromWire maps a wire number to a Code: listed numbers map to themselves,
// everything else (including 0 and unparsable text) to CodeUnknown.
func codeFromWire(s string) Code {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil {
		return CodeUnknown
	}
	if c := Code(n); c.known() {
		return c
	}
	return CodeUnknown
}

// Error is the one error type of the SDK. Handlers return it to choose the code the
// caller sees; the rpc client returns it for every failed call.
type Error struct {
	Code    Code
	Message string
	// Details is optional structured data sent with the error as JSON, for example
	// {"fields": {"Name": "required"}} for a validation failure. After a trip over
	// the wire, nested values are the types encoding/json produces.
	Details map[string]any

	cause error
}

// NewError returns an *Error with the given code and message.
func NewError(code Code, msg string) *Error {
	return &Error{Code: code, Message: msg}
}

// Errorf returns an *Error whose message is formatted as by fmt.Errorf. A %w verb
// wraps its argument, which errors.Is and errors.As then see through Unwrap.
func Errorf(code Code, format string, args ...any) *Error {
	err := fmt.Errorf(format, args...)
	e := &Error{Code: code, Message: err.Error()}
	if errors.Unwrap(err) != nil || isMultiWrap(err) {
		e.cause = err
	}
	return e
}

func isMultiWrap(err error) bool {
	u, ok := err.(interface{ Unwrap() []error })
	return ok && len(u.Unwrap()) > 0
}

// Error returns "<code>: <message>", e.g. "not_found: no such user", or only the code
// name when the message is empty.
func (e *Error) Error() string {
	if e.Message == "" {
		return e.Code.String()
	}
	return e.Code.String() + ": " + e.Message
}

// Unwrap returns the error wrapped with %w in Errorf, if any.
func (e *Error) Unwrap() error {
	if e.cause == nil {
		return nil
	}
	// fmt.Errorf produced the cause; hand back what it wraps so the chain does not
	// show the formatted message twice.
	if u := errors.Unwrap(e.cause); u != nil {
		return u
	}
	return e.cause
}

// Is makes errors.Is(err, dialtone.ErrNotFound) true for every *Error with code
// CodeNotFound. A target with a message matches only errors with the same code and
// the same message; sentinels have no message and match on the code alone.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	if !ok || t == nil {
		return false
	}
	return t.Code == e.Code && (t.Message == "" || t.Message == e.Message)
}

// CodeOf returns the code that describes err: 0 for nil; the Code of the first
// *Error in the chain; CodeCanceled for context.Canceled; CodeDeadlineExceeded for
// context.DeadlineExceeded and nats.ErrTimeout; CodeUnavailable for
// nats.ErrNoResponders; CodeInternal for anything else.
func CodeOf(err error) Code {
	if err == nil {
		return 0
	}
	var de *Error
	if errors.As(err, &de) {
		return de.Code
	}
	switch {
	case errors.Is(err, context.Canceled):
		return CodeCanceled
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout):
		return CodeDeadlineExceeded
	case errors.Is(err, nats.ErrNoResponders):
		return CodeUnavailable
	}
	return CodeInternal
}

// Sentinels for errors.Is, one per code. They carry no message, so they match every
// *Error with their code. Do not modify them.
var (
	ErrInvalidArgument    = &Error{Code: CodeInvalidArgument}
	ErrUnauthenticated    = &Error{Code: CodeUnauthenticated}
	ErrPermissionDenied   = &Error{Code: CodePermissionDenied}
	ErrNotFound           = &Error{Code: CodeNotFound}
	ErrAlreadyExists      = &Error{Code: CodeAlreadyExists}
	ErrFailedPrecondition = &Error{Code: CodeFailedPrecondition}
	ErrResourceExhausted  = &Error{Code: CodeResourceExhausted}
	ErrCanceled           = &Error{Code: CodeCanceled}
	ErrInternal           = &Error{Code: CodeInternal}
	ErrUnimplemented      = &Error{Code: CodeUnimplemented}
	ErrUnavailable        = &Error{Code: CodeUnavailable}
	ErrDeadlineExceeded   = &Error{Code: CodeDeadlineExceeded}
	ErrUnknown            = &Error{Code: CodeUnknown}
)
