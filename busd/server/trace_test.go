package server

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// lockedBuffer is a log sink safe for the server's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestTraceLogsBothDirections: with Trace, every inbound op and every delivery is logged.
func TestTraceLogsBothDirections(t *testing.T) {
	var logs lockedBuffer
	s, err := New(&Options{Host: "127.0.0.1", Port: -1, Trace: true},
		slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: LevelTrace})))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Shutdown(t.Context()) })
	rc := dial(t, s)
	rc.send("CONNECT {\"verbose\":false,\"user\":\"u\",\"pass\":\"hunter2\"}\r\nSUB foo 1\r\nPUB foo 2\r\nhi\r\n")
	rc.expect("MSG foo 1 2", "hi")
	rc.sync()
	out := logs.String()
	for _, want := range []string{"<<- CONNECT", "<<- SUB", "<<- PUB", "->> MSG foo 1 2", "<<- PING"} {
		if !strings.Contains(out, want) {
			t.Errorf("trace lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "hunter2") {
		t.Error("trace shows a password")
	}
}
