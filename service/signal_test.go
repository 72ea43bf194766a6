package service_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dialtone-dev/dialtone/heartbeat"
	"github.com/dialtone-dev/dialtone/internal/bustest"
	"github.com/dialtone-dev/dialtone/service"
	"github.com/nats-io/nats.go"
)

// TestRunStopsOnSIGTERM runs a service in a child process (this test binary) the
// way the scaffolded main does (Run under signal.NotifyContext) and sends it
// SIGTERM: Run drains, publishes "stopped" and returns nil.
func TestRunStopsOnSIGTERM(t *testing.T) {
	if os.Getenv("DIALTONE_SIGNAL_CHILD") != "" {
		t.Skip("child")
	}
	url := bustest.Busd(t)
	nc := bustest.Connect(t, url)
	beats, err := nc.SubscribeSync(heartbeat.Subject("sigterm"))
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestSignalChild$", "-test.v")
	cmd.Env = append(os.Environ(), "DIALTONE_SIGNAL_CHILD="+url)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(out)
	var id string
	for lines.Scan() {
		if rest, ok := strings.CutPrefix(lines.Text(), "READY "); ok {
			id = rest
			break
		}
	}
	if id == "" {
		_ = cmd.Process.Kill()
		t.Fatalf("child never got ready: %v", lines.Err())
	}
	go func() { // keep the pipe drained
		for lines.Scan() {
		}
	}()
	waitStatus(t, beats, id, heartbeat.StatusUp)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, beats, id, heartbeat.StatusStopped)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v", err)
	}
}

// TestSignalChild is the child of TestRunStopsOnSIGTERM.
func TestSignalChild(t *testing.T) {
	url := os.Getenv("DIALTONE_SIGNAL_CHILD")
	if url == "" {
		t.Skip("only as the child of TestRunStopsOnSIGTERM")
	}
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	s, err := service.New(nc, service.Config{Name: "sigterm", Version: "1.0.0"},
		service.WithHeartbeatInterval(50*time.Millisecond), service.WithDrainTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	_ = service.Handle(s, "Hello", greeter)
	// Ready once the service has started: the first periodic heartbeat (seq 2)
	// comes after Start returned. The signal handler is in place before that.
	sub, err := nc.SubscribeSync(heartbeat.Subject("sigterm"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	for {
		m, err := sub.NextMsg(10 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if h, err := heartbeat.Decode(m.Data); err == nil && h.Seq >= 2 {
			break
		}
	}
	fmt.Printf("READY %s\n", s.ID())
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
