// Package heartbeat defines the heartbeat document every Dialtone service instance
// publishes, and the Publisher loop that publishes it.
//
// # The document (stable contract)
//
// An instance publishes a JSON document on the subject service.<name>.heartbeats
// (Subject) every interval, 1s by default, a little early rather than late (up to
// 10% jitter), and replies with the same document to a request on _DT.beat
// (BeatSubject). The schema, "dialtone.heartbeat.v1":
//
//	schema       string  "dialtone.heartbeat.v1"; a reader rejects another major version
//	id           string  instance ID (a nuid), unique per process start
//	name         string  service name, [A-Za-z0-9_-]+
//	version      string  service version (semver)
//	description  string  human description, may be empty
//	metadata     object  string to string, may be absent
//	endpoints    array   {"name", "subject", "queue_group"} per endpoint
//	events       array   optional: {"name", "subject", "role", "queue_group"} per event the
//	                     instance publishes (role "publish") or consumes (role "consume";
//	                     queue_group "" when every instance receives each event)
//	inbox        string  the instance inbox, _DT.<name>.<id>
//	started      string  RFC 3339 time the instance started (UTC, milliseconds)
//	seq          number  1 for the first document, +1 for every document after it
//	status       string  "up", "draining" (graceful stop in progress) or "stopped" (the last)
//	load         object  {"in_flight": handlers running, "capacity": concurrency limit,
//	                     "queued": requests and events received and waiting for a slot}
//	interval_ms  number  the promised interval: the next document comes within it
//	server_id    string  the bus server the instance's connection is on (may be absent)
//	client_id    number  that connection's client id on the server (may be absent)
//
// Readers ignore fields they do not know, so minor versions (dialtone.heartbeat.v1.x)
// may add fields. An instance that has not published for 3 promised intervals is
// considered gone (see package discovery); a registry that can read the bus's
// disconnect events knows sooner, by server_id and client_id.
package heartbeat

import (
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/dialtone-dev/dialtone"
	"github.com/dialtone-dev/dialtone/internal/wire"
)

// Schema is the schema identifier this package writes.
const Schema = "dialtone.heartbeat.v1"

const schemaMajor = "dialtone.heartbeat.v1"

// Subjects.
const (
	// WildcardSubject matches every service's heartbeat subject.
	WildcardSubject = wire.HeartbeatWildcard
	// BeatSubject is the "beat now" request: each instance replies with its current
	// heartbeat document.
	BeatSubject = wire.BeatSubject
)

// Subject is the heartbeat subject of service name: service.<name>.heartbeats.
func Subject(name string) string { return wire.HeartbeatSubject(name) }

// Status is the lifecycle state of an instance.
type Status string

// The statuses.
const (
	StatusUp       Status = "up"
	StatusDraining Status = "draining"
	StatusStopped  Status = "stopped"
)

// Endpoint describes one endpoint of an instance.
type Endpoint struct {
	Name       string `json:"name"`
	Subject    string `json:"subject"`
	QueueGroup string `json:"queue_group"`
}

// Event describes an event an instance publishes or consumes (package event), so
// registries can show who listens to what.
type Event struct {
	Name       string `json:"name"`
	Subject    string `json:"subject"`               // literal for "publish"; may hold wildcards for "consume"
	Role       string `json:"role"`                  // RolePublish or RoleConsume
	QueueGroup string `json:"queue_group,omitempty"` // "consume": the queue group, "" for broadcast
}

// Roles of an Event.
const (
	RolePublish = wire.EventRolePublish
	RoleConsume = wire.EventRoleConsume
)

// Load is how busy an instance is.
type Load struct {
	InFlight int `json:"in_flight"`
	Capacity int `json:"capacity"`
	// Queued counts requests and events the instance has received that wait for
	// a free slot.
	// Added in v1 without a schema change: a reader that predates it ignores it,
	// and a document without it reads as 0.
	Queued int `json:"queued"`
}

// Heartbeat is the heartbeat document.
type Heartbeat struct {
	Schema      string            `json:"schema"`
	ID          string            `json:"id"`
	Name        string            `json:"name"`
	Version     string            `json:"version"`
	Description string            `json:"description"`
	Metadata    map[string]string `json:"metadata,omitempty"`
	Endpoints   []Endpoint        `json:"endpoints"`
	Events      []Event           `json:"events,omitempty"`
	Inbox       string            `json:"inbox"`
	Started     time.Time         `json:"started"`
	Seq         uint64            `json:"seq"`
	Status      Status            `json:"status"`
	Load        Load              `json:"load"`
	IntervalMS  int64             `json:"interval_ms"`
	// ServerID and ClientID name the bus connection the instance publishes on
	// (nats.go's ConnectedServerId and GetClientID), so that a registry that
	// reads the server's disconnect events ($SYS.ACCOUNT.<account>.DISCONNECT)
	// expires the instance the moment that connection closes. The Publisher
	// fills them in; empty when not connected.
	ServerID string `json:"server_id,omitempty"`
	ClientID uint64 `json:"client_id,omitempty"`
}

// Interval is the promised interval as a Duration.
func (h *Heartbeat) Interval() time.Duration { return time.Duration(h.IntervalMS) * time.Millisecond }

// ErrSchema is returned (wrapped in a *dialtone.Error) by Decode for a document of
// another major schema version.
var ErrSchema = errors.New("heartbeat: unsupported schema")

// Encode returns the JSON form of h. It fills in Schema when empty and writes
// Started in UTC with millisecond precision.
func Encode(h *Heartbeat) ([]byte, error) {
	c := *h
	if c.Schema == "" {
		c.Schema = Schema
	}
	c.Started = c.Started.UTC().Truncate(time.Millisecond)
	if c.Endpoints == nil {
		c.Endpoints = []Endpoint{}
	}
	return json.Marshal(&c)
}

// Decode parses a heartbeat document. It rejects a document whose schema is not
// dialtone.heartbeat.v1 (or a v1 minor version such as dialtone.heartbeat.v1.2),
// one without an id or name, and one with an unknown status.
func Decode(data []byte) (*Heartbeat, error) {
	h := new(Heartbeat)
	if err := json.Unmarshal(data, h); err != nil {
		return nil, dialtone.Errorf(dialtone.CodeInvalidArgument, "heartbeat: decode: %w", err)
	}
	if h.Schema != schemaMajor && !strings.HasPrefix(h.Schema, schemaMajor+".") {
		return nil, dialtone.Errorf(dialtone.CodeInvalidArgument, "%w %q (want %s)", ErrSchema, h.Schema, Schema)
	}
	if h.ID == "" || h.Name == "" {
		return nil, dialtone.Errorf(dialtone.CodeInvalidArgument, "heartbeat: document without id or name")
	}
	switch h.Status {
	case StatusUp, StatusDraining, StatusStopped:
	default:
		return nil, dialtone.Errorf(dialtone.CodeInvalidArgument, "heartbeat: unknown status %q", h.Status)
	}
	return h, nil
}
