//go:build !linux

package server

// Where there is no procfs, CPU time is unknown and resident memory is what
// the Go runtime holds from the OS.

import (
	"runtime"
	"time"
)

// processCPUTime is unknown without procfs.
func processCPUTime() time.Duration { return -1 }

// processRSS is the memory the Go runtime holds from the OS.
func processRSS() int64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.Sys)
}
