package rpc

import "time"

// SetClock makes c read the time from clk instead of package time, for tests of
// the retry rules that must not depend on scheduling.
func SetClock(c *Client, clk interface {
	Now() time.Time
	NewTimer(d time.Duration) *time.Timer
}) {
	c.clock = clk
}
