// Package wire is the one place the SDK's wire contract is written in Go: the
// _DT. subjects, the availability messages, the heartbeat subjects and the rules
// for names and subjects. rpc, service, heartbeat and discovery build their
// subjects and check their names here, so the two ends cannot drift apart.
// docs/design/sdk.md is the specification this package implements; change both
// in the same commit.
package wire

import (
	"strings"
	"time"
)

// Prefix starts every subject the SDK uses for its own routing.
const Prefix = "_DT."

// BeatSubject is the "beat now" request: every instance replies with its current
// heartbeat document.
const BeatSubject = Prefix + "beat"

// HeartbeatWildcard matches the heartbeat subject of every service.
const HeartbeatWildcard = "service.*.heartbeats"

// HeartbeatSubject is service.<name>.heartbeats, where instances of name beat.
func HeartbeatSubject(name string) string { return "service." + name + ".heartbeats" }

// Inbox is the instance inbox _DT.<service>.<id>. Direct calls go to
// <inbox>.<endpoint subject>.
func Inbox(service, id string) string { return Prefix + service + "." + id }

// DirectSubject is _DT.<service>.<id>.<subject>: a direct call to one instance.
func DirectSubject(service, id, subject string) string {
	return Inbox(service, id) + "." + subject
}

// AllPrefix is _DT.<service>.all. : with an endpoint subject after it, every
// instance of the service answers (lowest-latency calls).
func AllPrefix(service string) string { return Prefix + service + ".all." }

// AllSubject is _DT.<service>.all.<subject>.
func AllSubject(service, subject string) string { return AllPrefix(service) + subject }

// AvailSubject is _DT.<service>.avail, the availability probe (with a reply
// subject) and its release (without one).
func AvailSubject(service string) string { return Prefix + service + ".avail" }

// ReservationTTL is how long an instance keeps a slot it promised to an
// availability probe when the request does not come.
const ReservationTTL = time.Second

// AvailProbe is the payload on AvailSubject. With a reply subject it is a probe,
// {"key": <the caller's nuid>} (an empty payload is a probe without a key). Without
// one it is a release, {"key": ..., "keep": <instance id>}: the caller went to
// instance keep, so every other instance frees the slot it reserved for key.
type AvailProbe struct {
	Key  string `json:"key,omitempty"`
	Keep string `json:"keep,omitempty"`
}

// AvailReply is an instance's answer to a probe: it has a slot for the caller,
// who sends the request to <Inbox>.<endpoint subject>.
type AvailReply struct {
	ID    string `json:"id"`
	Inbox string `json:"inbox"`
}

// HeaderReservation is the header of the request an availability caller sends to
// the instance it chose: the key of its probe, so the instance gives the request
// the slot it reserved for that key. A direct request without it takes a free slot
// like any other.
const HeaderReservation = "Dialtone-Reservation"

// AttrErrorCode is the span attribute both ends set on a failed call: the code's
// name, e.g. "not_found".
const AttrErrorCode = "dialtone.error_code"

// ValidName reports whether s matches [A-Za-z0-9_-]+, the rule for service,
// endpoint and group names: one subject token that is safe everywhere.
func ValidName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// SubjectProblem says what is wrong with s as a literal NATS subject (non-empty
// tokens separated by dots; no wildcards, whitespace or control characters in a
// token), or "" when nothing is.
func SubjectProblem(s string) string {
	if s == "" {
		return "empty"
	}
	for tok := range strings.SplitSeq(s, ".") {
		if p := tokenProblem(tok); p != "" {
			return p
		}
	}
	return ""
}

// ValidSubject reports whether s is a literal NATS subject (see SubjectProblem).
func ValidSubject(s string) bool {
	if s == "" {
		return false
	}
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '.' {
			if tokenProblem(s[start:i]) != "" {
				return false
			}
			start = i + 1
		}
	}
	return true
}

// ValidToken reports whether s is one token of a literal subject: not empty, no
// dot, wildcard, whitespace or control character.
func ValidToken(s string) bool { return tokenProblem(s) == "" && !strings.Contains(s, ".") }

func tokenProblem(tok string) string {
	if tok == "" {
		return "empty token (leading, trailing or double dot)"
	}
	for i := 0; i < len(tok); i++ {
		switch c := tok[i]; {
		case c == '*' || c == '>':
			return "wildcards are not allowed"
		case c <= ' ' || c == 0x7f:
			return "whitespace or control character"
		}
	}
	return ""
}

// Events (package event). An event is published on a literal subject with no reply
// subject; consumers subscribe per service (queue group EventQueue(service)) or on
// every instance (no queue group).

// Roles of an event in the heartbeat document and $SRV.INFO: the instance publishes
// it or consumes it.
const (
	EventRolePublish = "publish"
	EventRoleConsume = "consume"
)

// Metadata keys for events. MetadataEventSchema is in the metadata of one event in
// $SRV.INFO "events": the JSON Schema of its payload. The two others are in the
// service metadata of the $SRV.INFO response, so `nats micro info` shows them: the
// subjects the instance publishes and consumes, comma separated, each once, in
// the order they were added.
const (
	MetadataEventSchema     = "dialtone.event_schema"
	MetadataEventsPublishes = "dialtone.events.publishes"
	MetadataEventsConsumes  = "dialtone.events.consumes"
)

// EventQueue is the queue group of a per-service subscription: the subscribing
// service's name, so each service receives an event once, on one of its instances.
func EventQueue(service string) string { return service }

// SendSpanName names the producer's span of an event, after OpenTelemetry's
// messaging conventions: "send <subject>".
func SendSpanName(subject string) string { return "send " + subject }

// ProcessSpanName names the consumer's span of an event: "process <subject
// subscribed to>", wildcards included, so span names stay few.
func ProcessSpanName(subject string) string { return "process " + subject }

// FilterProblem says what is wrong with s as a subject to subscribe to (tokens as
// for a literal subject, where a token may also be "*", any one token, and the
// last may be ">", one or more tokens), or "" when nothing is.
func FilterProblem(s string) string {
	if s == "" {
		return "empty"
	}
	toks := strings.Split(s, ".")
	for i, tok := range toks {
		switch {
		case tok == "*":
		case tok == ">":
			if i != len(toks)-1 {
				return "'>' must be the last token"
			}
		default:
			if p := tokenProblem(tok); p != "" {
				if p == "wildcards are not allowed" {
					return "a wildcard must be a whole token ('*' or a last '>')"
				}
				return p
			}
		}
	}
	return ""
}
