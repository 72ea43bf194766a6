//go:build !unix

package main

import (
	"os"
	"syscall"
)

// Without Unix signals busd only shuts down (on an interrupt or SIGTERM); there
// is no signal for reload or lame duck mode, so those stay nil and never match.
var (
	notifySignals            = []os.Signal{os.Interrupt, syscall.SIGTERM}
	reloadSignal   os.Signal = nil
	lameDuckSignal os.Signal = nil
)
