package service

import (
	"slices"
	"sync/atomic"
	"time"
)

// Latency window of an endpoint, for the percentiles in $SRV.STATS: the last
// latencySamples requests, of which those that ended less than LatencyWindow ago
// count.
const (
	latencySamples = 2048
	LatencyWindow  = time.Minute
)

// A sample packs, into one word that is written atomically, when a request
// started (seconds since the instance started, 26 bits: two years) and how long it
// took (nanoseconds, 38 bits: up to 274s; longer is written as 274s).
const (
	durationBits = 38
	maxSampled   = 1<<durationBits - 1
)

// latencyWindow is a ring of recent samples. Recording is an atomic add and an
// atomic store; percentiles are worked out when someone asks.
type latencyWindow struct {
	next    atomic.Uint64
	samples [latencySamples]atomic.Uint64 // 0: empty
}

func (w *latencyWindow) record(epoch, start time.Time, took time.Duration) {
	d := uint64(max(took, 1))
	if d > maxSampled {
		d = maxSampled
	}
	sec := uint64(start.Sub(epoch)/time.Second) & (1<<(64-durationBits) - 1)
	i := w.next.Add(1) - 1
	w.samples[i%latencySamples].Store(sec<<durationBits | d)
}

// Latency is an endpoint's latency in $SRV.STATS, in the data field of its
// stats: percentiles of the processing time (as ADR-32's processing_time counts
// it) of its recent requests. Durations are nanoseconds on the wire.
type Latency struct {
	P50     time.Duration `json:"p50"`
	P90     time.Duration `json:"p90"`
	P99     time.Duration `json:"p99"`
	Samples int           `json:"samples"` // the requests they were worked out from
	Window  time.Duration `json:"window"`  // how far back those go at most (LatencyWindow)
}

// percentiles works out the latency of the requests that started within window
// before now.
func (w *latencyWindow) percentiles(epoch, now time.Time, window time.Duration) Latency {
	l := Latency{Window: window}
	oldest := now.Add(-window).Sub(epoch) / time.Second
	ds := make([]time.Duration, 0, latencySamples)
	for i := range w.samples {
		v := w.samples[i].Load()
		if v == 0 {
			continue
		}
		if sec := time.Duration(v >> durationBits); sec < oldest {
			continue
		}
		ds = append(ds, time.Duration(v&maxSampled))
	}
	if len(ds) == 0 {
		return l
	}
	slices.Sort(ds)
	rank := func(p float64) time.Duration { // nearest rank
		i := int(p*float64(len(ds))+0.999999) - 1
		return ds[min(max(i, 0), len(ds)-1)]
	}
	l.P50, l.P90, l.P99, l.Samples = rank(0.50), rank(0.90), rank(0.99), len(ds)
	return l
}
