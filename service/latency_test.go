package service

import (
	"testing"
	"time"
)

func TestLatencyWindow(t *testing.T) {
	var w latencyWindow
	epoch := time.Unix(1_000_000, 0)
	if l := w.percentiles(epoch, epoch, time.Minute); l.Samples != 0 || l.P50 != 0 {
		t.Fatalf("empty window: %+v", l)
	}
	// 100 old requests of 1s, then 1..100ms at t+2min.
	for range 100 {
		w.record(epoch, epoch, time.Second)
	}
	now := epoch.Add(2 * time.Minute)
	for i := 1; i <= 100; i++ {
		w.record(epoch, now, time.Duration(i)*time.Millisecond)
	}
	l := w.percentiles(epoch, now, time.Minute)
	if l.Samples != 100 || l.P50 != 50*time.Millisecond || l.P90 != 90*time.Millisecond || l.P99 != 99*time.Millisecond {
		t.Fatalf("percentiles %+v", l)
	}
	// The ring keeps the last latencySamples; a duration past the field's range is
	// kept at its largest value.
	for range latencySamples {
		w.record(epoch, now, time.Hour)
	}
	l = w.percentiles(epoch, now, time.Minute)
	if l.Samples != latencySamples || l.P50 != time.Duration(maxSampled) {
		t.Fatalf("after a full turn: %+v", l)
	}
}
