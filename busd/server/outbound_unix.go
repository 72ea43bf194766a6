//go:build linux || darwin || freebsd || netbsd || openbsd

package server

import (
	"errors"
	"net"
	"os"
	"syscall"
	"unsafe"
)

// rawConnOf returns the raw socket of a plain TCP connection, or nil (TLS).
func rawConnOf(conn net.Conn) syscall.RawConn {
	tc, ok := conn.(*net.TCPConn)
	if !ok {
		return nil
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}

type iovec = syscall.Iovec

// writevState is what the non-blocking writev callback leaves behind.
type writevState struct {
	writev func(fd uintptr) bool
	wn     uintptr
	werr   syscall.Errno
}

// maxIov bounds one writev; what is left goes in the next call.
const maxIov = 1024

// trySend writes as much of q as the socket takes right now with one writev,
// never waiting. It reports the bytes written; a full socket is not an error.
func (f *flusher) trySend(rc syscall.RawConn, q [][]byte) (int64, error) {
	f.iov = f.iov[:0]
	for _, b := range q {
		if len(b) == 0 {
			continue
		}
		if len(f.iov) == maxIov {
			break
		}
		f.iov = append(f.iov, syscall.Iovec{Base: &b[0]})
		f.iov[len(f.iov)-1].SetLen(len(b))
	}
	if len(f.iov) == 0 {
		return 0, nil
	}
	if f.writev == nil {
		f.writev = f.doWritev // bound once: a closure per call would allocate per flush
	}
	err := rc.Write(f.writev)
	clear(f.iov) // drop references to the chunks
	n, errno := f.wn, f.werr
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return 0, nil // the writer goroutine owns deadlines
	}
	if err != nil {
		return 0, err
	}
	switch errno {
	case 0:
		return int64(n), nil
	case syscall.EAGAIN, syscall.EINTR:
		return 0, nil
	}
	return 0, errno
}

// doWritev is the RawConn callback: one writev of f.iov, never parking (whatever
// is left goes to the writer goroutine).
func (f *flusher) doWritev(fd uintptr) bool {
	f.wn, _, f.werr = syscall.Syscall(syscall.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&f.iov[0])), uintptr(len(f.iov)))
	return true
}
