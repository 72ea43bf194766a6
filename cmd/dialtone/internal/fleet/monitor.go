package fleet

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/dialtone-dev/dialtone/internal/wire"
	"github.com/dialtone-dev/dialtone/service"
)

// GatherWait bounds how long a $SRV request collects replies. It returns sooner,
// as soon as every instance the heartbeats list has answered.
const GatherWait = 750 * time.Millisecond

// gather sends an ADR-32 request on subject and collects the replies: until want
// instances have answered (want > 0), until the bus says nobody listens, or until
// GatherWait has passed.
func (f *Fleet) gather(ctx context.Context, subject string, want int, wait time.Duration) ([][]byte, error) {
	inbox := f.nc.NewInbox()
	ch := make(chan *nats.Msg, 256)
	sub, err := f.nc.ChanSubscribe(inbox, ch)
	if err != nil {
		return nil, fmt.Errorf("subscribe %s: %w", inbox, err)
	}
	defer sub.Unsubscribe()
	if err := f.nc.PublishRequest(subject, inbox, nil); err != nil {
		return nil, fmt.Errorf("request %s: %w", subject, err)
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	var out [][]byte
	for want <= 0 || len(out) < want {
		select {
		case m := <-ch:
			if len(m.Data) == 0 && m.Header.Get("Status") == "503" {
				return out, nil // no responders
			}
			out = append(out, m.Data)
		case <-t.C:
			return out, nil
		case <-ctx.Done():
			return out, ctx.Err()
		}
	}
	return out, nil
}

// ServiceInfo is what $SRV.INFO says of a service, merged over its instances.
type ServiceInfo struct {
	Name        string         `json:"name"`
	Description string         `json:"description,omitempty"`
	Versions    []string       `json:"versions"`
	Instances   []string       `json:"instances"` // IDs that answered
	Endpoints   []EndpointInfo `json:"endpoints"`
	Events      []EventInfo    `json:"events,omitempty"`
}

// EventInfo is an event the service publishes or consumes (package event), from
// the "events" of $SRV.INFO.
type EventInfo struct {
	Name       string            `json:"name"`
	Subject    string            `json:"subject"`
	Role       string            `json:"role"`                  // "publish" or "consume"
	QueueGroup string            `json:"queue_group,omitempty"` // consume: "" when every instance gets each event
	Metadata   map[string]string `json:"metadata,omitempty"`    // without the schema
	Schema     json.RawMessage   `json:"schema,omitempty"`
	Instances  int               `json:"instances"` // how many instances have it
}

// EndpointInfo is one endpoint: where it listens and the JSON Schemas of its
// request and response (absent for endpoints registered without them).
type EndpointInfo struct {
	Service        string            `json:"service"`
	Name           string            `json:"name"`
	Subject        string            `json:"subject"`
	QueueGroup     string            `json:"queue_group"`
	Metadata       map[string]string `json:"metadata,omitempty"` // without the schemas
	RequestSchema  json.RawMessage   `json:"request_schema,omitempty"`
	ResponseSchema json.RawMessage   `json:"response_schema,omitempty"`
	Instances      int               `json:"instances"` // how many instances have it
}

// Info asks every instance of service name for its ADR-32 description. It fails
// with NotFoundError when nothing answers.
func (f *Fleet) Info(ctx context.Context, name string) (*ServiceInfo, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	replies, err := f.gather(ctx, "$SRV.INFO."+name, len(f.reg.Instances(name)), GatherWait)
	if err != nil {
		return nil, err
	}
	si := &ServiceInfo{Name: name}
	byName := map[string]*EndpointInfo{}
	events := map[[2]string]*EventInfo{} // by role and name
	for _, data := range replies {
		var in micro.Info
		if json.Unmarshal(data, &in) != nil || in.Name != name {
			continue
		}
		var ext struct {
			Events []service.EventInfo `json:"events"`
		}
		_ = json.Unmarshal(data, &ext) // an instance without events, or not a Dialtone one, has none
		for _, ev := range ext.Events {
			key := [2]string{ev.Role, ev.Name}
			if e := events[key]; e != nil {
				e.Instances++
				continue
			}
			e := &EventInfo{Name: ev.Name, Subject: ev.Subject, Role: ev.Role, QueueGroup: ev.QueueGroup, Instances: 1}
			for k, v := range ev.Metadata {
				if k == wire.MetadataEventSchema {
					e.Schema = rawJSON(v)
					continue
				}
				if e.Metadata == nil {
					e.Metadata = map[string]string{}
				}
				e.Metadata[k] = v
			}
			events[key] = e
		}
		si.Instances = append(si.Instances, in.ID)
		if !slices.Contains(si.Versions, in.Version) {
			si.Versions = append(si.Versions, in.Version)
		}
		if si.Description == "" {
			si.Description = in.Description
		}
		for _, ep := range in.Endpoints {
			if e := byName[ep.Name]; e != nil {
				e.Instances++
				continue
			}
			e := &EndpointInfo{Service: name, Name: ep.Name, Subject: ep.Subject, QueueGroup: ep.QueueGroup, Instances: 1}
			for k, v := range ep.Metadata {
				switch k {
				case service.MetadataRequestSchema:
					e.RequestSchema = rawJSON(v)
				case service.MetadataResponseSchema:
					e.ResponseSchema = rawJSON(v)
				default:
					if e.Metadata == nil {
						e.Metadata = map[string]string{}
					}
					e.Metadata[k] = v
				}
			}
			byName[ep.Name] = e
		}
	}
	if len(si.Instances) == 0 {
		return nil, &NotFoundError{Service: name, Known: f.ServiceNames()}
	}
	slices.Sort(si.Versions)
	slices.Sort(si.Instances)
	for _, k := range slices.Sorted(maps.Keys(byName)) {
		si.Endpoints = append(si.Endpoints, *byName[k])
	}
	for _, k := range slices.SortedFunc(maps.Keys(events), func(a, b [2]string) int {
		// Published events first, then consumed ones, each by name.
		if c := strings.Compare(b[0], a[0]); c != 0 {
			return c
		}
		return strings.Compare(a[1], b[1])
	}) {
		si.Events = append(si.Events, *events[k])
	}
	return si, nil
}

// rawJSON keeps a schema as JSON when it is valid JSON, and as a JSON string
// otherwise, so a broken schema is shown rather than lost.
func rawJSON(s string) json.RawMessage {
	if json.Valid([]byte(s)) {
		return json.RawMessage(s)
	}
	b, _ := json.Marshal(s)
	return b
}

// Endpoint finds one endpoint of a service.
func (f *Fleet) Endpoint(ctx context.Context, svc, name string) (*EndpointInfo, error) {
	si, err := f.Info(ctx, svc)
	if err != nil {
		return nil, err
	}
	for i := range si.Endpoints {
		if si.Endpoints[i].Name == name {
			return &si.Endpoints[i], nil
		}
	}
	names := make([]string, len(si.Endpoints))
	for i, ep := range si.Endpoints {
		names[i] = ep.Name
	}
	return nil, fmt.Errorf("service %s has no endpoint %q (it has: %s)", svc, name, strings.Join(names, ", "))
}

// NotFoundError says no instance of a service answered.
type NotFoundError struct {
	Service string
	Known   []string // the services the heartbeats list
}

func (e *NotFoundError) Error() string {
	if len(e.Known) == 0 {
		return fmt.Sprintf("no service %q on the bus: no service is running", e.Service)
	}
	return fmt.Sprintf("no service %q on the bus (running: %s)", e.Service, strings.Join(e.Known, ", "))
}

func checkName(name string) error {
	if name == "" {
		return fmt.Errorf("no service name given")
	}
	for _, r := range name {
		if !(r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return fmt.Errorf("%q is not a service name (letters, digits, - and _)", name)
		}
	}
	return nil
}

// InstanceStats are the $SRV.STATS counters of one instance.
type InstanceStats struct {
	Service   string          `json:"service"`
	ID        string          `json:"id"`
	Version   string          `json:"version"`
	Started   time.Time       `json:"started"`
	Endpoints []EndpointStats `json:"endpoints"`
}

// EndpointStats are one endpoint's counters on one instance. Durations are
// nanoseconds in JSON, as in ADR-32. The percentiles are zero unless the
// instance reports them in the endpoint's `data` (see Percentiles).
type EndpointStats struct {
	Name           string        `json:"name"`
	Subject        string        `json:"subject"`
	Requests       int64         `json:"num_requests"`
	Errors         int64         `json:"num_errors"`
	LastError      string        `json:"last_error,omitempty"`
	ProcessingTime time.Duration `json:"processing_time"`
	Average        time.Duration `json:"average_processing_time"`
	Latency        Percentiles   `json:"latency"`
}

// Stats asks the instances of service name (every service when name is empty)
// for their counters.
func (f *Fleet) Stats(ctx context.Context, name string) ([]InstanceStats, error) {
	return f.StatsWithin(ctx, name, GatherWait)
}

// StatsWithin is Stats that waits at most wait for instances that are slow to
// answer (a dashboard polling every second cannot wait longer).
func (f *Fleet) StatsWithin(ctx context.Context, name string, wait time.Duration) ([]InstanceStats, error) {
	subject, want := "$SRV.STATS", 0
	if name != "" {
		if err := checkName(name); err != nil {
			return nil, err
		}
		subject += "." + name
		want = len(f.reg.Instances(name))
	} else {
		for _, s := range f.reg.Services() {
			want += s.Instances
		}
	}
	replies, err := f.gather(ctx, subject, want, wait)
	if err != nil {
		return nil, err
	}
	var out []InstanceStats
	for _, data := range replies {
		var st micro.Stats
		if json.Unmarshal(data, &st) != nil || st.Name == "" {
			continue
		}
		is := InstanceStats{Service: st.Name, ID: st.ID, Version: st.Version, Started: st.Started}
		for _, ep := range st.Endpoints {
			if ep == nil {
				continue
			}
			is.Endpoints = append(is.Endpoints, EndpointStats{
				Name: ep.Name, Subject: ep.Subject, Requests: int64(ep.NumRequests), Errors: int64(ep.NumErrors),
				LastError: ep.LastError, ProcessingTime: ep.ProcessingTime, Average: ep.AverageProcessingTime,
				Latency: ParsePercentiles(ep.Data),
			})
		}
		out = append(out, is)
	}
	if name != "" && len(out) == 0 {
		return nil, &NotFoundError{Service: name, Known: f.ServiceNames()}
	}
	slices.SortFunc(out, func(a, b InstanceStats) int {
		if c := strings.Compare(a.Service, b.Service); c != 0 {
			return c
		}
		if c := a.Started.Compare(b.Started); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// Percentiles are latency percentiles an instance reports for an endpoint over a
// recent window. Zero means not reported.
type Percentiles struct {
	P50 time.Duration `json:"p50,omitempty"`
	P90 time.Duration `json:"p90,omitempty"`
	P99 time.Duration `json:"p99,omitempty"`
}

// Known reports whether any percentile was reported.
func (p Percentiles) Known() bool { return p.P50 > 0 || p.P90 > 0 || p.P99 > 0 }

// ParsePercentiles reads latency percentiles from an ADR-32 endpoint's `data`
// field. ADR-32 leaves `data` to the service; this accepts the keys p50, p90 and
// p99 at the top level or in a "latency" object, each optionally with a unit
// suffix (_ns, _us, _ms, _s), holding a number (nanoseconds without a suffix, as
// ADR-32's own durations are) or a Go duration string ("1.5ms"). Anything else is
// ignored.
func ParsePercentiles(data json.RawMessage) Percentiles {
	var p Percentiles
	if len(data) == 0 {
		return p
	}
	var top map[string]json.RawMessage
	if json.Unmarshal(data, &top) != nil {
		return p
	}
	read := func(m map[string]json.RawMessage) {
		for k, v := range m {
			key, unit := strings.ToLower(k), time.Nanosecond
			for suffix, u := range map[string]time.Duration{"_ns": time.Nanosecond, "_us": time.Microsecond, "_ms": time.Millisecond, "_s": time.Second} {
				if strings.HasSuffix(key, suffix) {
					key, unit = strings.TrimSuffix(key, suffix), u
					break
				}
			}
			key = strings.TrimPrefix(key, "latency_")
			var dst *time.Duration
			switch key {
			case "p50":
				dst = &p.P50
			case "p90":
				dst = &p.P90
			case "p99":
				dst = &p.P99
			default:
				continue
			}
			if d, ok := durationOf(v, unit); ok {
				*dst = d
			}
		}
	}
	if lat, ok := top["latency"]; ok {
		var m map[string]json.RawMessage
		if json.Unmarshal(lat, &m) == nil {
			read(m)
		}
	}
	read(top)
	return p
}

func durationOf(v json.RawMessage, unit time.Duration) (time.Duration, bool) {
	var f float64
	if json.Unmarshal(v, &f) == nil {
		if f <= 0 {
			return 0, false
		}
		return time.Duration(f * float64(unit)), true
	}
	var s string
	if json.Unmarshal(v, &s) == nil {
		if d, err := time.ParseDuration(s); err == nil && d > 0 {
			return d, true
		}
		if n, err := strconv.ParseFloat(s, 64); err == nil && n > 0 {
			return time.Duration(n * float64(unit)), true
		}
	}
	return 0, false
}
