//go:build unix

package main

import (
	"os"
	"syscall"
)

// The signals busd handles on Unix, as nats-server does: SIGINT and SIGTERM
// shut down, SIGHUP reloads the config file, SIGUSR2 enters lame duck mode.
var (
	notifySignals            = []os.Signal{os.Interrupt, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGUSR2}
	reloadSignal   os.Signal = syscall.SIGHUP
	lameDuckSignal os.Signal = syscall.SIGUSR2
)
