package fleet

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/dialtone-dev/dialtone/discovery"
	"github.com/dialtone-dev/dialtone/heartbeat"
	"github.com/dialtone-dev/dialtone/rpc"
)

// Fleet is a live view of the services on one bus, and a way to call them.
type Fleet struct {
	nc     *nats.Conn
	reg    *discovery.Registry
	client *rpc.Client
	url    string
}

// Open starts a registry on nc. It returns once the instances already running
// have answered a "beat now" request, so the first listing is complete.
func Open(ctx context.Context, nc *nats.Conn) (*Fleet, error) {
	reg, err := discovery.New(ctx, nc, discovery.WithStartupWait(250*time.Millisecond))
	if err != nil {
		return nil, err
	}
	return &Fleet{nc: nc, reg: reg, client: rpc.NewClient(nc), url: nc.ConnectedUrlRedacted()}, nil
}

// Close stops the registry. The connection stays the caller's.
func (f *Fleet) Close() { _ = f.reg.Close() }

// URL is the bus the fleet was opened on, without credentials.
func (f *Fleet) URL() string { return f.url }

// Conn is the fleet's connection.
func (f *Fleet) Conn() *nats.Conn { return f.nc }

// Instance is one running instance, as its latest heartbeat describes it.
type Instance struct {
	ID          string            `json:"id"`
	Service     string            `json:"service"`
	Version     string            `json:"version"`
	Description string            `json:"description,omitempty"`
	Metadata    map[string]string `json:"metadata,omitempty"`
	Status      string            `json:"status"` // up, draining, stopped
	InFlight    int               `json:"in_flight"`
	Capacity    int               `json:"capacity"`
	Queued      int               `json:"queued"`
	Started     time.Time         `json:"started"`
	UptimeSec   float64           `json:"uptime_s"`
	LastSeen    time.Time         `json:"last_seen"`
	IntervalMS  int64             `json:"interval_ms"`
	Endpoints   []EndpointRef     `json:"endpoints"`
	Events      []EventRef        `json:"events,omitempty"`
}

// Uptime is how long the instance has been running.
func (i *Instance) Uptime() time.Duration { return time.Duration(i.UptimeSec * float64(time.Second)) }

// EndpointRef is an endpoint as a heartbeat lists it.
type EndpointRef struct {
	Name       string `json:"name"`
	Subject    string `json:"subject"`
	QueueGroup string `json:"queue_group"`
}

// EventRef is an event an instance publishes or consumes, as its heartbeat
// lists it.
type EventRef struct {
	Name       string `json:"name"`
	Subject    string `json:"subject"`               // a consumer's may hold wildcards
	Role       string `json:"role"`                  // publish or consume
	QueueGroup string `json:"queue_group,omitempty"` // consume: "" when every instance gets each event
}

// String is the event in a few characters, for a listing: "pub:Name", or
// "sub:Name(group)", "sub:Name(broadcast)" for a consumer.
func (e EventRef) String() string {
	if e.Role == heartbeat.RolePublish {
		return "pub:" + e.Name
	}
	delivery := e.QueueGroup
	if delivery == "" {
		delivery = "broadcast"
	}
	return "sub:" + e.Name + "(" + delivery + ")"
}

// Service is a service and its live instances, oldest first.
type Service struct {
	Name      string     `json:"name"`
	Versions  []string   `json:"versions"`
	Instances []Instance `json:"instances"`
}

func instanceOf(in discovery.Instance, now time.Time) Instance {
	out := Instance{
		ID: in.ID, Service: in.Name, Version: in.Version, Description: in.Description,
		Metadata: in.Metadata, Status: string(in.Status),
		InFlight: in.Load.InFlight, Capacity: in.Load.Capacity, Queued: in.Load.Queued,
		Started: in.Started, LastSeen: in.LastSeen, IntervalMS: in.IntervalMS,
		Endpoints: make([]EndpointRef, len(in.Endpoints)),
	}
	if !in.Started.IsZero() {
		out.UptimeSec = max(now.Sub(in.Started), 0).Seconds()
	}
	for i, ep := range in.Endpoints {
		out.Endpoints[i] = EndpointRef{Name: ep.Name, Subject: ep.Subject, QueueGroup: ep.QueueGroup}
	}
	for _, ev := range in.Events {
		out.Events = append(out.Events, EventRef{Name: ev.Name, Subject: ev.Subject, Role: ev.Role, QueueGroup: ev.QueueGroup})
	}
	return out
}

// Services lists the services with live instances, by name; with names given,
// only those.
func (f *Fleet) Services(names ...string) []Service {
	now := time.Now()
	var out []Service
	for _, s := range f.reg.Services() {
		if len(names) > 0 && !slices.Contains(names, s.Name) {
			continue
		}
		svc := Service{Name: s.Name, Versions: s.Versions}
		for _, in := range f.reg.Instances(s.Name) {
			svc.Instances = append(svc.Instances, instanceOf(in, now))
		}
		if len(svc.Instances) > 0 {
			out = append(out, svc)
		}
	}
	return out
}

// Instances lists the live instances of one service, oldest first.
func (f *Fleet) Instances(name string) []Instance {
	now := time.Now()
	var out []Instance
	for _, in := range f.reg.Instances(name) {
		out = append(out, instanceOf(in, now))
	}
	return out
}

// ServiceNames lists the names of the services with live instances.
func (f *Fleet) ServiceNames() []string {
	var out []string
	for _, s := range f.reg.Services() {
		out = append(out, s.Name)
	}
	return out
}

// Event is a change in the fleet: an instance joined, changed, started draining,
// left (its final heartbeat) or expired (it stopped beating).
type Event struct {
	Type     string    `json:"type"` // joined, changed, draining, left, expired
	Time     time.Time `json:"time"`
	Instance Instance  `json:"instance"`
	// Dropped counts events lost just before this one because the reader was
	// too slow.
	Dropped int `json:"dropped,omitempty"`
}

// Watch returns the fleet's events: first a "joined" for every instance known
// now, then each change as it happens. The channel closes when ctx ends.
func (f *Fleet) Watch(ctx context.Context) <-chan Event {
	in := f.reg.Watch(ctx)
	out := make(chan Event)
	go func() {
		defer close(out)
		for ev := range in {
			now := time.Now()
			e := Event{Type: ev.Type.String(), Time: now, Instance: instanceOf(ev.Instance, now), Dropped: ev.Dropped}
			if ev.Type == discovery.Left {
				e.Instance.Status = "stopped"
			}
			select {
			case out <- e:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}

// SplitTarget splits "service.endpoint" at its first dot; service names cannot
// hold one.
func SplitTarget(s string) (service, endpoint string, ok bool) {
	service, endpoint, ok = strings.Cut(s, ".")
	return service, endpoint, ok && service != "" && endpoint != ""
}
