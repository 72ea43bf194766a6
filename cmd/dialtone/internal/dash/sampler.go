package dash

import (
	"time"

	"github.com/dialtone-dev/dialtone/cmd/dialtone/internal/fleet"
)

// Sample is one point of an endpoint's charts: rates over the last interval and
// the latency of the requests served in it. Latencies are milliseconds; nil
// means no request finished in the interval, or no instance reports the
// percentile.
type Sample struct {
	T      int64    `json:"t"`   // Unix milliseconds
	RPS    float64  `json:"rps"` // requests per second
	EPS    float64  `json:"eps"` // errors per second
	AvgMS  *float64 `json:"avg_ms"`
	P50MS  *float64 `json:"p50_ms"`
	P99MS  *float64 `json:"p99_ms"`
	Total  int64    `json:"total"`  // requests counted by the live instances
	Errors int64    `json:"errors"` // errors counted by the live instances
}

// Series is the recent history of one endpoint.
type Series struct {
	Key       string   `json:"key"` // service.endpoint
	Service   string   `json:"service"`
	Endpoint  string   `json:"endpoint"`
	Subject   string   `json:"subject"`
	LastError string   `json:"last_error,omitempty"`
	Samples   []Sample `json:"samples"`
	unseen    int      // ticks without stats from any instance
}

type counters struct {
	requests, errors int64
	processing       time.Duration
}

// sampler turns successive $SRV.STATS answers into per-endpoint rates.
type sampler struct {
	window int // samples kept per series
	prev   map[string]counters
	last   time.Time
	series map[string]*Series
	order  []string
}

func newSampler(window int) *sampler {
	return &sampler{window: window, prev: map[string]counters{}, series: map[string]*Series{}}
}

// add folds one poll's stats, taken at now, into the series and returns the new
// sample of every series.
func (s *sampler) add(stats []fleet.InstanceStats, now time.Time) map[string]Sample {
	dt := now.Sub(s.last).Seconds()
	first := s.last.IsZero()
	type acc struct {
		dreq, derr int64
		dproc      time.Duration
		total, err int64
		p50, p99   time.Duration
		lastError  string
		subject    string
	}
	accs := map[string]*acc{}
	seen := map[string]bool{}
	for _, is := range stats {
		for _, ep := range is.Endpoints {
			key := is.Service + "." + ep.Name
			a := accs[key]
			if a == nil {
				a = &acc{subject: ep.Subject}
				accs[key] = a
				if s.series[key] == nil {
					s.series[key] = &Series{Key: key, Service: is.Service, Endpoint: ep.Name, Subject: ep.Subject}
					s.order = append(s.order, key)
				}
			}
			id := is.ID + "/" + ep.Name
			seen[id] = true
			cur := counters{ep.Requests, ep.Errors, ep.ProcessingTime}
			prev, known := s.prev[id]
			switch {
			case known && cur.requests >= prev.requests:
				a.dreq += cur.requests - prev.requests
				a.derr += max(cur.errors-prev.errors, 0)
				a.dproc += max(cur.processing-prev.processing, 0)
			case !first && (known || is.Started.After(s.last)):
				// A new instance, or counters that went back: all of it is recent.
				a.dreq += cur.requests
				a.derr += cur.errors
				a.dproc += cur.processing
			}
			s.prev[id] = cur
			a.total += ep.Requests
			a.err += ep.Errors
			a.p50 = max(a.p50, ep.Latency.P50)
			a.p99 = max(a.p99, ep.Latency.P99)
			if ep.LastError != "" {
				a.lastError = ep.LastError
			}
		}
	}
	for id := range s.prev {
		if !seen[id] {
			delete(s.prev, id)
		}
	}
	s.last = now
	out := map[string]Sample{}
	keep := s.order[:0]
	for _, key := range s.order {
		sr := s.series[key]
		smp := Sample{T: now.UnixMilli()}
		if a := accs[key]; a != nil {
			sr.unseen = 0
			sr.Subject = a.subject
			sr.LastError = a.lastError
			smp.Total, smp.Errors = a.total, a.err
			if !first && dt > 0 {
				smp.RPS = float64(a.dreq) / dt
				smp.EPS = float64(a.derr) / dt
			}
			if a.dreq > 0 {
				smp.AvgMS = ms(a.dproc / time.Duration(a.dreq))
			}
			if a.p50 > 0 {
				smp.P50MS = ms(a.p50)
			}
			if a.p99 > 0 {
				smp.P99MS = ms(a.p99)
			}
		} else {
			sr.unseen++
		}
		if sr.unseen > s.window {
			delete(s.series, key)
			continue
		}
		keep = append(keep, key)
		sr.Samples = append(sr.Samples, smp)
		if over := len(sr.Samples) - s.window; over > 0 {
			sr.Samples = append(sr.Samples[:0], sr.Samples[over:]...)
		}
		out[key] = smp
	}
	s.order = keep
	return out
}

func ms(d time.Duration) *float64 {
	v := float64(d) / float64(time.Millisecond)
	return &v
}

// snapshot copies every series.
func (s *sampler) snapshot() []Series {
	out := make([]Series, 0, len(s.order))
	for _, key := range s.order {
		sr := *s.series[key]
		sr.Samples = append([]Sample(nil), sr.Samples...)
		out = append(out, sr)
	}
	return out
}
