//go:build !unix

package event_test

import "time"

// cpuTime is not measured here: the CPU figures of the benchmarks read 0.
func cpuTime() time.Duration { return 0 }
