package server

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"
)

// blockingRaw is a socket whose write waits for release and then fails, as a
// write to a socket closed meanwhile does.
type blockingRaw struct{ entered, release chan struct{} }

func (b *blockingRaw) Control(func(uintptr)) error   { return nil }
func (b *blockingRaw) Read(func(uintptr) bool) error { return nil }
func (b *blockingRaw) Write(func(uintptr) bool) error {
	close(b.entered)
	<-b.release
	return errors.New("write on a closed socket")
}

// TestInlineFlushFailingAfterCloseEndsWriter: a publisher is flushing to a
// subscriber inline when the subscriber closes; the subscriber's writer wakes,
// finds the inline flush under way and waits for it; the inline flush then
// fails on the closed socket. The writer must still end. (It used to wait for
// a signal nobody sent, one goroutine leaked per such close, and Shutdown
// never returned.)
func TestInlineFlushFailingAfterCloseEndsWriter(t *testing.T) {
	s, err := New(&Options{Host: "127.0.0.1", Port: -1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	sub := dial(t, s)
	sub.send("CONNECT {\"verbose\":false}\r\nSUB x 1\r\n")
	sub.sync()
	cs := s.snapshotClients()
	if len(cs) != 1 {
		t.Fatalf("%d clients", len(cs))
	}
	c := cs[0]
	raw := &blockingRaw{entered: make(chan struct{}), release: make(chan struct{})}
	c.mu.Lock()
	c.raw = raw
	c.mu.Unlock()

	pub := dial(t, s)
	pub.send("CONNECT {\"verbose\":false}\r\nPUB x 1\r\nx\r\n")
	select {
	case <-raw.entered: // the publisher's reader is inside flushInline
	case <-time.After(10 * time.Second):
		t.Fatal("no inline flush")
	}
	c.close(closeClient, false)
	// Let the writer take the close signal, see the inline flush, and park.
	deadline := time.Now().Add(10 * time.Second)
	for len(c.flushCh) > 0 || parkedWriters() < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the writer did not park")
		}
		runtime.Gosched()
	}
	close(raw.release)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Shutdown(ctx) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("shutdown: %v (a client goroutine did not end)", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("shutdown hangs: the closed client's writer never ended")
	}
}

// parkedWriters counts the client writers parked on their signal.
func parkedWriters() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "[chan receive") && strings.Contains(g, ").writeLoop(") {
			n++
		}
	}
	return n
}
