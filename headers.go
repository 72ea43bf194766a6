package dialtone

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// Header names. All are on the NATS header block; NATS header names are case
// sensitive, so use these constants.
const (
	HeaderErrorCode    = "Nats-Service-Error-Code" // ADR-32: decimal Code
	HeaderError        = "Nats-Service-Error"      // ADR-32: message
	HeaderErrorDetails = "Dialtone-Error-Details"  // JSON object, optional
	HeaderTimeout      = "Dialtone-Timeout"        // caller's remaining time, decimal milliseconds (>= 1)
	HeaderContentType  = "Content-Type"            // codec name; absent means application/json
)

// ErrorFromHeader returns the error carried by h, or nil when h has neither
// Nats-Service-Error-Code nor Nats-Service-Error. A code that is missing, not a
// number or not in the enum becomes CodeUnknown; details that are not a JSON object
// are dropped.
func ErrorFromHeader(h nats.Header) *Error {
	if h == nil {
		return nil
	}
	codes, hasCode := h[HeaderErrorCode]
	msgs, hasMsg := h[HeaderError]
	if !hasCode && !hasMsg {
		return nil
	}
	e := &Error{code: CodeUnknown}
	if hasCode && len(codes) > 0 {
		e.code = codeFromWire(strings.TrimSpace(codes[0]))
	}
	if hasMsg && len(msgs) > 0 && msgs[0] != "" {
		e.err = errors.New(msgs[0])
	}
	if d := h.Get(HeaderErrorDetails); d != "" {
		var details map[string]any
		if json.Unmarshal([]byte(d), &details) == nil && len(details) > 0 {
			e.details = details
		}
	}
	return e
}

// SetErrorHeader writes err into h: its code (CodeOf), its message and, for an
// *Error with details, the details as JSON. The message of an *Error is its
// Message(); for any other error it is err.Error(). Line breaks are replaced by spaces, as a
// header value cannot hold them. A nil err removes the error headers.
func SetErrorHeader(h nats.Header, err error) {
	if h == nil {
		return
	}
	if err == nil {
		h.Del(HeaderErrorCode)
		h.Del(HeaderError)
		h.Del(HeaderErrorDetails)
		return
	}
	code := CodeOf(err)
	msg := err.Error()
	de := asError(err)
	if de != nil {
		msg = de.Message()
	}
	h.Set(HeaderErrorCode, strconv.Itoa(int(code)))
	h.Set(HeaderError, headerSafe(msg))
	h.Del(HeaderErrorDetails)
	if de != nil && len(de.details) > 0 {
		if b, jerr := json.Marshal(de.details); jerr == nil {
			h.Set(HeaderErrorDetails, string(b))
		}
	}
}

func headerSafe(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.NewReplacer("\r\n", " ", "\r", " ", "\n", " ").Replace(s)
}

// SetTimeoutHeader writes the caller's remaining time d into h as Dialtone-Timeout,
// in whole milliseconds rounded up and at least 1.
func SetTimeoutHeader(h nats.Header, d time.Duration) {
	ms := (d + time.Millisecond - 1) / time.Millisecond
	if ms < 1 {
		ms = 1
	}
	h.Set(HeaderTimeout, strconv.FormatInt(int64(ms), 10))
}

// TimeoutFromHeader reads Dialtone-Timeout from h. It reports false when the header
// is absent or is not a positive decimal number of milliseconds.
func TimeoutFromHeader(h nats.Header) (time.Duration, bool) {
	if h == nil {
		return 0, false
	}
	v := h.Get(HeaderTimeout)
	if v == "" {
		return 0, false
	}
	ms, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || ms < 1 || ms > int64(time.Duration(1<<63-1)/time.Millisecond) {
		return 0, false
	}
	return time.Duration(ms) * time.Millisecond, true
}
