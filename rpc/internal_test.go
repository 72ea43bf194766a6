package rpc

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/dialtone-dev/dialtone"
)

func TestBackoff(t *testing.T) {
	p := RetryPolicy{InitialBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, Multiplier: 3, Jitter: 0.5}.withDefaults()
	for _, tc := range []struct {
		n    int
		rnd  float64
		want time.Duration
	}{
		{1, 0, 10 * time.Millisecond},
		{2, 0, 30 * time.Millisecond},
		{3, 0, 90 * time.Millisecond},
		{4, 0, 100 * time.Millisecond}, // capped
		{40, 0, 100 * time.Millisecond},
		{1, 0.999999, 5 * time.Millisecond}, // at most Jitter of the wait is taken off
		{4, 0.5, 75 * time.Millisecond},
	} {
		got := p.backoff(tc.n, tc.rnd)
		if d := got - tc.want; d < -time.Microsecond || d > time.Microsecond {
			t.Errorf("backoff(%d, %v) = %v, want %v", tc.n, tc.rnd, got, tc.want)
		}
	}
}

func TestRetryPolicyDefaults(t *testing.T) {
	p := RetryPolicy{}.withDefaults()
	want := RetryPolicy{MaxAttempts: 3, InitialBackoff: 10 * time.Millisecond, MaxBackoff: time.Second, Multiplier: 2, Jitter: 0.5}
	if p != want {
		t.Fatalf("defaults = %+v, want %+v", p, want)
	}
	if p := (RetryPolicy{Jitter: -1}).withDefaults(); p.Jitter != 0 {
		t.Fatalf("negative jitter = %v, want none", p.Jitter)
	}
	if p := (RetryPolicy{InitialBackoff: time.Second, MaxBackoff: time.Millisecond}).withDefaults(); p.MaxBackoff != time.Second {
		t.Fatalf("MaxBackoff below InitialBackoff not raised: %v", p.MaxBackoff)
	}
}

func TestEndpointSubject(t *testing.T) {
	if s := (Spec{Service: "greeter", Name: "SayHello"}).subject(); s != "greeter.SayHello" {
		t.Fatalf("default subject %q", s)
	}
	if s := (Spec{Service: "greeter", Name: "SayHello", Subject: "g.v1.hi"}).subject(); s != "g.v1.hi" {
		t.Fatalf("explicit subject %q", s)
	}
}

// The scratch's Dialtone-Timeout must read exactly as dialtone.SetTimeoutHeader
// writes it, whether or not the text is reused from the call before.
func TestScratchTimeoutMatchesSetTimeoutHeader(t *testing.T) {
	ws, hdr := &wireScratch{}, nats.Header{}
	for _, d := range []time.Duration{
		-time.Second, 0, time.Nanosecond, time.Millisecond - 1, time.Millisecond, time.Millisecond + 1,
		5 * time.Second, 5 * time.Second, 5*time.Second - time.Microsecond, time.Hour + 1, time.Millisecond,
	} {
		want := nats.Header{}
		dialtone.SetTimeoutHeader(want, d)
		ws.setTimeout(hdr, d)
		if got := hdr.Get(dialtone.HeaderTimeout); got != want.Get(dialtone.HeaderTimeout) || len(hdr[dialtone.HeaderTimeout]) != 1 {
			t.Errorf("setTimeout(%v) = %q, want %q", d, hdr[dialtone.HeaderTimeout], want.Get(dialtone.HeaderTimeout))
		}
	}
}
