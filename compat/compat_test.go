// Package compat proves that official NATS clients other than nats.go work
// against busd unchanged: nats.js (npm "nats", v2) and the C client (libnats 3.x).
//
// Each client has a program that runs the same checks — publish/subscribe,
// the * and > wildcards, a queue group, request/reply, multi-value headers, no
// responders, flush, drain, max_payload and a 1 MiB message — and exits 0 only
// if all pass: js/compat.mjs and c/compat.c. The tests run both programs against
// an in-process busd and against an in-process nats-server, the reference, so a
// check that busd fails is known to hold for NATS itself.
//
// The programs need what Go cannot fetch:
//
//	apt-get install -y libnats-dev   # the C client
//	npm ci --prefix compat/js        # nats.js, pinned by js/package-lock.json
//
// Without them the tests skip, unless the environment variable CI is "true",
// in which case they fail so that CI cannot pass without running them.
//
// natscli_test.go runs the nats CLI's operator commands (server list, ping,
// info, report connections, req varz, events, account info) against both
// servers given the same accounts configuration; the CLI comes from
// `go install github.com/nats-io/natscli/nats@v0.5.0`.
package compat

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dialtone-dev/dialtone/busd/server"
	natsserver "github.com/nats-io/nats-server/v2/server"
)

// runTimeout bounds one run of a client program; a run normally takes about a
// second. The programs bound themselves too, so this only catches a hang.
const runTimeout = 60 * time.Second

// backend is a server the client programs run against.
type backend struct {
	name  string
	start func(t *testing.T) string // returns the client URL
}

var backends = []backend{
	{"busd", startBusd},
	{"nats-server", startNATSServer},
}

func startBusd(t *testing.T) string {
	t.Helper()
	s, err := server.New(&server.Options{Host: "127.0.0.1", Port: -1}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("busd: new: %v", err)
	}
	if err := s.Start(); err != nil {
		t.Fatalf("busd: start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("busd: shutdown: %v", err)
		}
	})
	return s.ClientURL()
}

func startNATSServer(t *testing.T) string {
	t.Helper()
	s, err := natsserver.NewServer(&natsserver.Options{
		Host:   "127.0.0.1",
		Port:   -1,
		NoLog:  true,
		NoSigs: true,
	})
	if err != nil {
		t.Fatalf("nats-server: %v", err)
	}
	go s.Start()
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server: not ready after 10s")
	}
	return s.ClientURL()
}

// missing reports a prerequisite that is not installed: a failure in CI, where
// .ci/run installs it, and a skip elsewhere.
func missing(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true but "+format, args...)
	}
	t.Skipf(format, args...)
}

// run runs a client program with NATS_URL set to url and fails the test unless
// it exits 0 after printing its PASS line. The output is logged either way, so
// `go test -v` shows every check.
func run(t *testing.T, url string, name string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "NATS_URL="+url)
	cmd.WaitDelay = 5 * time.Second
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	start := time.Now()
	err := cmd.Run()
	elapsed := time.Since(start).Round(time.Millisecond)
	switch {
	case ctx.Err() != nil:
		t.Fatalf("%s did not finish in %v; output:\n%s", name, runTimeout, out.String())
	case err != nil:
		t.Fatalf("%s against %s: %v; output:\n%s", name, url, err, out.String())
	case !strings.Contains(out.String(), "\nPASS "):
		t.Fatalf("%s exited 0 without its PASS line; output:\n%s", name, out.String())
	}
	t.Logf("%s against %s in %v:\n%s", name, url, elapsed, out.String())
}

// TestNatsJS runs js/compat.mjs with nats.js against each backend.
func TestNatsJS(t *testing.T) {
	t.Parallel()
	node, err := exec.LookPath("node")
	if err != nil {
		missing(t, "node is not installed; nats.js checks need Node.js 18 or later")
	}
	if _, err := os.Stat(filepath.Join("js", "node_modules", "nats", "package.json")); err != nil {
		missing(t, "nats.js is not installed: run `npm ci --prefix compat/js` from the repository root (%v)", err)
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			run(t, b.start(t), node, filepath.Join("js", "compat.mjs"))
		})
	}
}

// TestCClient builds c/compat.c with libnats and runs it against each backend.
func TestCClient(t *testing.T) {
	t.Parallel()
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		missing(t, "gcc is not installed; the C client checks need gcc and libnats-dev")
	}
	dir := t.TempDir()
	// A minimal program tells a missing libnats apart from an error in compat.c.
	probe := filepath.Join(dir, "probe.c")
	src := "#include <nats/nats.h>\nint main(void) { return nats_GetVersionNumber() == 0; }\n"
	if err := os.WriteFile(probe, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := buildC(gcc, probe, filepath.Join(dir, "probe")); err != nil {
		missing(t, "libnats is not installed: run `apt-get install -y libnats-dev` (gcc: %v)\n%s", err, out)
	}
	bin := filepath.Join(dir, "compat-c")
	if out, err := buildC(gcc, filepath.Join("c", "compat.c"), bin); err != nil {
		t.Fatalf("building c/compat.c: %v\n%s", err, out)
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			run(t, b.start(t), bin)
		})
	}
}

// buildC compiles one C file against libnats.
func buildC(gcc, src, bin string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, gcc, "-std=gnu11", "-Wall", "-O1", src, "-o", bin, "-lnats", "-lpthread")
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		err = errors.Join(err, ctx.Err())
	}
	return out, err
}
