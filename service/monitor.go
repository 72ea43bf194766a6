package service

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/dialtone-dev/dialtone"
	"github.com/dialtone-dev/dialtone/internal/wire"
	"github.com/nats-io/nats.go"
)

// ADR-32 response types.
const (
	PingResponseType  = "io.nats.micro.v1.ping_response"
	InfoResponseType  = "io.nats.micro.v1.info_response"
	StatsResponseType = "io.nats.micro.v1.stats_response"
)

// Identity is the part every ADR-32 response starts with.
type Identity struct {
	Name     string            `json:"name"`
	ID       string            `json:"id"`
	Version  string            `json:"version"`
	Metadata map[string]string `json:"metadata"`
}

// Ping is the $SRV.PING response.
type Ping struct {
	Identity
	Type string `json:"type"`
}

// EndpointInfo describes an endpoint in $SRV.INFO.
type EndpointInfo struct {
	Name       string            `json:"name"`
	Subject    string            `json:"subject"`
	QueueGroup string            `json:"queue_group"`
	Metadata   map[string]string `json:"metadata"`
}

// EventInfo describes in $SRV.INFO an event the instance publishes or consumes
// (a Dialtone addition to ADR-32; tools that do not know it ignore it).
type EventInfo struct {
	Name       string            `json:"name"`
	Subject    string            `json:"subject"`
	Role       string            `json:"role"`                  // "publish" or "consume"
	QueueGroup string            `json:"queue_group,omitempty"` // "consume": "" when every instance gets each event
	Metadata   map[string]string `json:"metadata,omitempty"`    // e.g. "dialtone.event_schema"
}

// Info is the $SRV.INFO response. Its Metadata is the service's, plus, when the
// instance publishes or consumes events, "dialtone.events.publishes" and
// "dialtone.events.consumes": the subjects, comma separated.
type Info struct {
	Identity
	Type        string         `json:"type"`
	Description string         `json:"description"`
	Endpoints   []EndpointInfo `json:"endpoints"`
	Events      []EventInfo    `json:"events,omitempty"`
}

// EndpointStats are an endpoint's counters in $SRV.STATS. Durations are
// nanoseconds on the wire, as in ADR-32.
type EndpointStats struct {
	Name                  string        `json:"name"`
	Subject               string        `json:"subject"`
	QueueGroup            string        `json:"queue_group"`
	NumRequests           int64         `json:"num_requests"`
	NumErrors             int64         `json:"num_errors"`
	LastError             string        `json:"last_error"`
	ProcessingTime        time.Duration `json:"processing_time"`
	AverageProcessingTime time.Duration `json:"average_processing_time"`
	Data                  *EndpointData `json:"data,omitempty"` // ADR-32's free-form data
}

// EndpointData is what a Dialtone endpoint puts in the data field of its
// $SRV.STATS entry, which ADR-32 leaves to the service: tools that speak only
// ADR-32 (`nats micro stats`) show it as it is.
//
//	"data": {"latency": {"p50": 41000, "p90": 87000, "p99": 230000, "samples": 2048, "window": 60000000000}}
type EndpointData struct {
	Latency Latency `json:"latency"`
}

// EventStats are a consumer's counters in $SRV.STATS (a Dialtone addition to
// ADR-32): events handled, of which failed (decode, validation, handler error or
// panic), time spent in the handler, and events the client dropped because the
// instance's queue was full (WithQueueLength), which no handler saw.
type EventStats struct {
	Name                  string        `json:"name"`
	Subject               string        `json:"subject"`
	QueueGroup            string        `json:"queue_group,omitempty"`
	NumEvents             int64         `json:"num_events"`
	NumErrors             int64         `json:"num_errors"`
	NumDropped            int64         `json:"num_dropped"`
	LastError             string        `json:"last_error"`
	ProcessingTime        time.Duration `json:"processing_time"`
	AverageProcessingTime time.Duration `json:"average_processing_time"`
}

// Stats is the $SRV.STATS response.
type Stats struct {
	Identity
	Type      string          `json:"type"`
	Started   time.Time       `json:"started"`
	Endpoints []EndpointStats `json:"endpoints"`
	Events    []EventStats    `json:"events,omitempty"`
}

func (s *Service) identity() Identity {
	return Identity{Name: s.cfg.Name, ID: s.id, Version: s.cfg.Version, Metadata: s.cfg.Metadata}
}

// Info returns what $SRV.INFO answers.
func (s *Service) Info() Info {
	s.mu.Lock()
	defer s.mu.Unlock()
	info := Info{Identity: s.identity(), Type: InfoResponseType, Description: s.cfg.Description,
		Endpoints: make([]EndpointInfo, 0, len(s.endpoints))}
	for _, ep := range s.endpoints {
		info.Endpoints = append(info.Endpoints, EndpointInfo{Name: ep.name, Subject: ep.subject, QueueGroup: ep.queue, Metadata: ep.metadata})
	}
	if len(s.publications)+len(s.consumers) == 0 {
		return info
	}
	var pubs, cons []string
	for _, p := range s.publications {
		info.Events = append(info.Events, EventInfo{Name: p.Name, Subject: p.Subject, Role: wire.EventRolePublish, Metadata: p.Metadata})
		if !slices.Contains(pubs, p.Subject) {
			pubs = append(pubs, p.Subject)
		}
	}
	for _, co := range s.consumers {
		info.Events = append(info.Events, EventInfo{Name: co.c.Name, Subject: co.c.Subject, Role: wire.EventRoleConsume,
			QueueGroup: co.c.QueueGroup, Metadata: co.c.Metadata})
		if !slices.Contains(cons, co.c.Subject) {
			cons = append(cons, co.c.Subject)
		}
	}
	md := make(map[string]string, len(s.cfg.Metadata)+2)
	maps.Copy(md, s.cfg.Metadata)
	if len(pubs) > 0 {
		md[wire.MetadataEventsPublishes] = strings.Join(pubs, ",")
	}
	if len(cons) > 0 {
		md[wire.MetadataEventsConsumes] = strings.Join(cons, ",")
	}
	info.Metadata = md
	return info
}

// Stats returns what $SRV.STATS answers. Counts cover every way an endpoint is
// reached (balanced, lowest-latency, direct); processing time runs from the moment a
// request has a slot to the moment its interceptors and handler return. Each
// endpoint's data carries the percentiles of its recent processing times
// (EndpointData).
func (s *Service) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{Identity: s.identity(), Type: StatsResponseType, Started: s.started,
		Endpoints: make([]EndpointStats, 0, len(s.endpoints))}
	now := time.Now()
	for _, ep := range s.endpoints {
		es := EndpointStats{
			Name:           ep.name,
			Subject:        ep.subject,
			QueueGroup:     ep.queue,
			NumRequests:    ep.numRequests.Load(),
			NumErrors:      ep.numErrors.Load(),
			ProcessingTime: time.Duration(ep.procNanos.Load()),
			Data:           &EndpointData{Latency: ep.latency.percentiles(s.started, now, LatencyWindow)},
		}
		if p := ep.lastError.Load(); p != nil {
			es.LastError = *p
		}
		if es.NumRequests > 0 {
			es.AverageProcessingTime = es.ProcessingTime / time.Duration(es.NumRequests)
		}
		st.Endpoints = append(st.Endpoints, es)
	}
	for _, co := range s.consumers {
		es := EventStats{
			Name:           co.c.Name,
			Subject:        co.c.Subject,
			QueueGroup:     co.c.QueueGroup,
			NumEvents:      co.numEvents.Load(),
			NumErrors:      co.numErrors.Load(),
			ProcessingTime: time.Duration(co.procNanos.Load()),
		}
		if p := co.lastError.Load(); p != nil {
			es.LastError = *p
		}
		if co.sub != nil {
			if n, err := co.sub.Dropped(); err == nil {
				es.NumDropped = int64(n)
			} else {
				es.NumDropped = co.dropped // the subscription is closed: its count as it was
			}
		}
		if es.NumEvents > 0 {
			es.AverageProcessingTime = es.ProcessingTime / time.Duration(es.NumEvents)
		}
		st.Events = append(st.Events, es)
	}
	return st
}

// subscribeMonitorLocked subscribes $SRV.<VERB>, $SRV.<VERB>.<name> and
// $SRV.<VERB>.<name>.<id> for PING, INFO and STATS.
func (s *Service) subscribeMonitorLocked() error {
	verbs := []struct {
		verb string
		body func() any
	}{
		{"PING", func() any { return Ping{Identity: s.identity(), Type: PingResponseType} }},
		{"INFO", func() any { return s.Info() }},
		{"STATS", func() any { return s.Stats() }},
	}
	for _, v := range verbs {
		body := v.body
		cb := func(m *nats.Msg) {
			if m.Reply == "" {
				return
			}
			data, err := json.Marshal(body())
			if err != nil {
				s.replyError(m, dialtone.Errorf(dialtone.CodeInternal, "encode: %v", err))
				return
			}
			_ = s.nc.Publish(m.Reply, data)
		}
		for _, subj := range []string{"$SRV." + v.verb, "$SRV." + v.verb + "." + s.cfg.Name, "$SRV." + v.verb + "." + s.cfg.Name + "." + s.id} {
			sub, err := s.nc.Subscribe(subj, cb)
			if err != nil {
				return dialtone.Errorf(dialtone.CodeUnavailable, "service %s: subscribe %s: %w", s.cfg.Name, subj, err)
			}
			s.monSubs = append(s.monSubs, sub)
		}
	}
	return nil
}
