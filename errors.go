package dialtone

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
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
// caller sees; the rpc client returns it for every failed call. Its fields are
// reached through methods, so an error that has been created cannot be changed by
// the code it is passed to.
type Error struct {
	code    Code
	err     error // the underlying error; its text is the message
	details map[string]any
}

// NewError returns an *Error with the given code that wraps err: the message is
// err.Error(), and errors.Is and errors.As see err through Unwrap. err may be nil
// for an error with a code only. A code outside the enum (0 included) becomes
// CodeUnknown.
//
//	return nil, dialtone.NewError(dialtone.CodeNotFound, fmt.Errorf("no user %q", id))
func NewError(code Code, err error) *Error {
	if !code.known() {
		code = CodeUnknown
	}
	return &Error{code: code, err: err}
}

// Errorf returns NewError(code, fmt.Errorf(format, args...)): the message is
// formatted as by fmt.Errorf, and a %w verb wraps its argument.
func Errorf(code Code, format string, args ...any) *Error {
	return NewError(code, fmt.Errorf(format, args...))
}

// Code returns the error's code.
func (e *Error) Code() Code { return e.code }

// Message returns the error's message without the code: the text of the wrapped
// error, or "" when there is none.
func (e *Error) Message() string {
	if e.err == nil {
		return ""
	}
	return e.err.Error()
}

// Details returns a copy of the structured data sent with the error as JSON, for
// example {"fields": {"name": "required"}} for a validation failure, or nil. After a
// trip over the wire, nested values are the types encoding/json produces.
func (e *Error) Details() map[string]any {
	if len(e.details) == 0 {
		return nil
	}
	return maps.Clone(e.details)
}

// WithDetail returns a copy of e whose details have key set to value. The value must
// encode as JSON to reach the caller.
func (e *Error) WithDetail(key string, value any) *Error {
	c := *e
	c.details = make(map[string]any, len(e.details)+1)
	maps.Copy(c.details, e.details)
	c.details[key] = value
	return &c
}

// Error returns "<code>: <message>", e.g. "not_found: no such user", or only the code
// name when the message is empty.
func (e *Error) Error() string {
	if msg := e.Message(); msg != "" {
		return e.code.String() + ": " + msg
	}
	return e.code.String()
}

// Unwrap returns the wrapped error, if any.
func (e *Error) Unwrap() error { return e.err }

// Is makes errors.Is(err, dialtone.ErrNotFound) true for every *Error with code
// CodeNotFound, whatever its message.
func (e *Error) Is(target error) bool {
	s, ok := target.(sentinel)
	return ok && Code(s) == e.code
}

// CodeOf returns the code that describes err: 0 for nil; the code of the first
// *Error (or sentinel) in the chain; CodeCanceled for context.Canceled;
// CodeDeadlineExceeded for context.DeadlineExceeded; CodeUnknown for any other
// error.
func CodeOf(err error) Code {
	if err == nil {
		return 0
	}
	if de := asError(err); de != nil {
		return de.code
	}
	switch {
	case errors.Is(err, context.Canceled):
		return CodeCanceled
	case errors.Is(err, context.DeadlineExceeded):
		return CodeDeadlineExceeded
	}
	return CodeUnknown
}

// asError returns the first *Error in err's chain, or, for a sentinel, an *Error
// with its code.
func asError(err error) *Error {
	var de *Error
	if errors.As(err, &de) {
		return de
	}
	var s sentinel
	if errors.As(err, &s) {
		return &Error{code: Code(s)}
	}
	return nil
}

// sentinel is the type of the Err* constants: a code as an error.
type sentinel Code

func (s sentinel) Error() string { return Code(s).String() }

// Sentinels for errors.Is, one per code: errors.Is(err, dialtone.ErrNotFound) is true
// for every *Error with CodeNotFound. They are constants, so nothing can change what
// they match. A handler may return one as is, for an error with a code and no
// message.
const (
	ErrInvalidArgument    = sentinel(CodeInvalidArgument)
	ErrUnauthenticated    = sentinel(CodeUnauthenticated)
	ErrPermissionDenied   = sentinel(CodePermissionDenied)
	ErrNotFound           = sentinel(CodeNotFound)
	ErrAlreadyExists      = sentinel(CodeAlreadyExists)
	ErrFailedPrecondition = sentinel(CodeFailedPrecondition)
	ErrResourceExhausted  = sentinel(CodeResourceExhausted)
	ErrCanceled           = sentinel(CodeCanceled)
	ErrInternal           = sentinel(CodeInternal)
	ErrUnimplemented      = sentinel(CodeUnimplemented)
	ErrUnavailable        = sentinel(CodeUnavailable)
	ErrDeadlineExceeded   = sentinel(CodeDeadlineExceeded)
	ErrUnknown            = sentinel(CodeUnknown)
)
