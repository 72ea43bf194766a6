//go:build !(linux || darwin || freebsd || netbsd || openbsd)

package server

import (
	"net"
	"syscall"
)

type iovec struct{}

type writevState struct{}

// rawConnOf: on this platform every write goes through the writer goroutine.
func rawConnOf(net.Conn) syscall.RawConn { return nil }

func (f *flusher) trySend(syscall.RawConn, [][]byte) (int64, error) { return 0, nil }
