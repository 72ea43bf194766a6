package rpc

import "time"

// clock is where a client reads the time for deadlines and retry waits. A nil
// clock is package time. Tests put in one they move by hand (export_test.go):
// how many attempts fit before a deadline is then decided by the times the
// test sets, not by how busy the machine is. (A call whose context has no
// deadline gets one at now plus the client's timeout, on this clock: a test
// clock far from real time wants contexts with deadlines.)
type clock interface {
	Now() time.Time
	// NewTimer returns a timer that fires once d has passed on this clock.
	NewTimer(d time.Duration) *time.Timer
}

func (c *Client) now() time.Time {
	if c.clock != nil {
		return c.clock.Now()
	}
	return time.Now()
}

// until is the time left before t.
func (c *Client) until(t time.Time) time.Duration {
	if c.clock != nil {
		return t.Sub(c.clock.Now())
	}
	return time.Until(t)
}

func (c *Client) newTimer(d time.Duration) *time.Timer {
	if c.clock != nil {
		return c.clock.NewTimer(d)
	}
	return time.NewTimer(d)
}
