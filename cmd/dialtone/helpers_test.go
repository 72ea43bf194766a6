package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/dialtone-dev/dialtone"
	"github.com/dialtone-dev/dialtone/examples/hello/greeter"
	"github.com/dialtone-dev/dialtone/internal/bustest"
	"github.com/dialtone-dev/dialtone/service"
)

// holdSchema is the request schema of the test endpoint Hold.
const holdSchema = `{"type":"object","properties":{"ms":{"type":"integer","minimum":0,"maximum":60000}},"required":["ms"]}`

// instance is one running instance of the test service "greeter": the generated
// SayHello, plus Fail (always a not_found error with details) and Hold (waits
// until released, for drain tests).
type instance struct {
	t       testing.TB
	nc      *nats.Conn
	svc     *service.Service
	release chan struct{}
	held    chan struct{}
	once    sync.Once
}

type holdRequest struct {
	MS int `json:"ms"`
}

type empty struct{}

// startGreeter starts an instance on url with heartbeats every 100ms, so a
// killed one expires within 300ms.
func startGreeter(t testing.TB, url, version string) *instance {
	t.Helper()
	nc := bustest.Connect(t, url)
	svc, err := service.New(nc, service.Config{Name: "greeter", Version: version, Description: "says hello"},
		service.WithHeartbeatInterval(100*time.Millisecond), service.WithMaxConcurrent(8))
	if err != nil {
		t.Fatal(err)
	}
	in := &instance{t: t, nc: nc, svc: svc, release: make(chan struct{}), held: make(chan struct{}, 16)}
	if err := greeter.RegisterGreeter(svc, greeter.Server{}); err != nil {
		t.Fatal(err)
	}
	err = service.Handle(svc, "Fail", func(ctx context.Context, _ *empty) (*empty, error) {
		return nil, dialtone.NewError(dialtone.CodeNotFound, errors.New("nobody is here")).WithDetail("who", "nobody")
	})
	if err != nil {
		t.Fatal(err)
	}
	err = service.Handle(svc, "Hold", func(ctx context.Context, req *holdRequest) (*empty, error) {
		in.held <- struct{}{}
		select {
		case <-in.release:
		case <-time.After(time.Duration(req.MS) * time.Millisecond):
		case <-ctx.Done():
		}
		return &empty{}, nil
	}, service.WithSchema(holdSchema, `{"type":"object"}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		in.unblock()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = svc.Stop(ctx)
	})
	return in
}

func (in *instance) unblock() { in.once.Do(func() { close(in.release) }) }

// waitHeld waits until a Hold request is in the handler.
func (in *instance) waitHeld(t testing.TB) {
	t.Helper()
	select {
	case <-in.held:
	case <-time.After(10 * time.Second):
		t.Fatalf("no Hold request reached %s within 10s", in.svc.ID())
	}
}

// kill drops the instance's connection without a word: it expires.
func (in *instance) kill() { in.nc.Close() }

// cli runs the command against url and returns its output and status.
func cli(t testing.TB, url string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	code = run(ctx, append(args, "--server", url), strings.NewReader(""), &out, &errb)
	if ctx.Err() != nil {
		t.Fatalf("dialtone %s did not finish in 30s", strings.Join(args, " "))
	}
	return out.String(), errb.String(), code
}

// background runs a long-running subcommand (watch, dash) and hands its output
// lines over a channel. stop ends it and returns its status.
type background struct {
	lines  chan string
	cancel context.CancelFunc
	done   chan int
	stderr *bustest.Buffer
}

func startCLI(t testing.TB, url string, args ...string) *background {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	b := &background{lines: make(chan string, 1024), cancel: cancel, done: make(chan int, 1), stderr: &bustest.Buffer{}}
	go func() {
		code := run(ctx, append(args, "--server", url), strings.NewReader(""), pw, b.stderr)
		pw.Close()
		b.done <- code
	}()
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			b.lines <- sc.Text()
		}
		close(b.lines)
	}()
	t.Cleanup(func() { b.stop(t) })
	return b
}

func (b *background) stop(t testing.TB) int {
	b.cancel()
	select {
	case code := <-b.done:
		b.done <- code
		return code
	case <-time.After(10 * time.Second):
		t.Fatal("command did not stop within 10s of its context ending")
		return -1
	}
}

// wait waits for the command to end by itself.
func (b *background) wait(t testing.TB) int {
	t.Helper()
	select {
	case code := <-b.done:
		b.done <- code
		return code
	case <-time.After(10 * time.Second):
		t.Fatal("command did not end within 10s")
		return -1
	}
}

// expect reads lines until one contains every part, and fails after timeout.
func (b *background) expect(t testing.TB, timeout time.Duration, parts ...string) string {
	t.Helper()
	deadline := time.After(timeout)
	var seen []string
	for {
		select {
		case line, ok := <-b.lines:
			if !ok {
				t.Fatalf("output ended without a line with %q; saw:\n%s\nstderr: %s", parts, strings.Join(seen, "\n"), b.stderr)
			}
			seen = append(seen, line)
			if containsAll(line, parts...) {
				return line
			}
		case <-deadline:
			t.Fatalf("no line with %q within %v; saw:\n%s", parts, timeout, strings.Join(seen, "\n"))
		}
	}
}

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// backends runs fn on an in-process busd and on a 3-node nats-server cluster.
// The command connects to the first node; on the cluster, instances connect to
// the others, so everything crosses routes.
func backends(t *testing.T, fn func(t *testing.T, cliURL string, svcURL func(i int) string)) {
	for _, b := range bustest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			urls := b.Start(t)
			fn(t, urls[0], func(i int) string { return urls[(i+1)%len(urls)] })
		})
	}
}

// startBus starts a busd for the tests that need only one backend.
func startBus(t testing.TB) string { return bustest.Busd(t) }

// reachable waits until every instance answers $SRV.PING through url. On a
// cluster, an instance started on one node is reachable from another only once
// its subscriptions have crossed the routes.
func reachable(t testing.TB, url string, ins ...*instance) {
	t.Helper()
	svcs := make([]*service.Service, len(ins))
	for i, in := range ins {
		svcs[i] = in.svc
	}
	reachableServices(t, url, svcs...)
}

// reachableServices is reachable for instances of any service.
func reachableServices(t testing.TB, url string, svcs ...*service.Service) {
	t.Helper()
	nc := bustest.Connect(t, url)
	deadline := time.Now().Add(10 * time.Second)
	for _, svc := range svcs {
		subject := "$SRV.PING." + svc.Name() + "." + svc.ID()
		for {
			if _, err := nc.Request(subject, nil, 200*time.Millisecond); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("instance %s not reachable through %s within 10s", svc.ID(), url)
			}
			time.Sleep(10 * time.Millisecond) // no responders comes back at once: do not spin
		}
	}
}
