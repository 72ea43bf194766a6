package rpc

import (
	"testing"
	"time"
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

func TestValidSubject(t *testing.T) {
	for s, want := range map[string]bool{
		"a": true, "a.b.c": true, "_DT.svc.all.x": true, "a-b_c.D9": true,
		"": false, ".": false, "a.": false, ".a": false, "a..b": false,
		"a.*": false, "a.>": false, "a b": false, "a\tb": false, "a\r\n": false,
	} {
		if got := validSubject(s); got != want {
			t.Errorf("validSubject(%q) = %v", s, got)
		}
	}
}

func TestEndpointSubject(t *testing.T) {
	if s := (Endpoint{Service: "greeter", Name: "SayHello"}).subject(); s != "greeter.SayHello" {
		t.Fatalf("default subject %q", s)
	}
	if s := (Endpoint{Service: "greeter", Name: "SayHello", Subject: "g.v1.hi"}).subject(); s != "g.v1.hi" {
		t.Fatalf("explicit subject %q", s)
	}
}
