package compat

// The nats CLI (natscli v0.5.0) against busd and against nats-server given
// the same accounts configuration: the operator commands that speak to the
// system account must give the same outcome on both.
//
// The CLI is found through NATS_CLI, then PATH, then $(go env GOPATH)/bin;
// .ci/run installs it with `go install github.com/nats-io/natscli/nats@v0.5.0`.
// Without it the test skips, and fails under CI=true.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dialtone-dev/dialtone/busd/server"
	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// natscliConf: a system account for the operator, an application account.
const natscliConf = `
accounts {
  SYS: { users: [ {user: sys, password: pw} ] }
  APP: { users: [ {user: app, password: pw} ] }
}
system_account: SYS
`

// cliTimeout bounds one CLI command.
const cliTimeout = 30 * time.Second

func natsCLI(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("NATS_CLI"); p != "" {
		return p
	}
	if p, err := exec.LookPath("nats"); err == nil {
		return p
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		p := filepath.Join(strings.TrimSpace(string(out)), "bin", "nats")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	missing(t, "the nats CLI is not installed: go install github.com/nats-io/natscli/nats@v0.5.0")
	return ""
}

// confBackend starts a server of one kind from natscliConf and returns its
// address (host:port).
type confBackend struct {
	name  string
	start func(t *testing.T, path string) string
}

var confBackends = []confBackend{
	{"busd", func(t *testing.T, path string) string {
		o, err := server.ProcessConfigFile(path)
		if err != nil {
			t.Fatal(err)
		}
		o.Host, o.Port = "127.0.0.1", -1
		s, err := server.New(o, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = s.Shutdown(ctx)
		})
		return s.Addr().String()
	}},
	{"nats-server", func(t *testing.T, path string) string {
		o, err := natsserver.ProcessConfigFile(path)
		if err != nil {
			t.Fatal(err)
		}
		o.Host, o.Port, o.NoLog, o.NoSigs = "127.0.0.1", -1, true, true
		s, err := natsserver.NewServer(o)
		if err != nil {
			t.Fatal(err)
		}
		go s.Start()
		t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
		if !s.ReadyForConnections(10 * time.Second) {
			t.Fatal("nats-server: not ready after 10s")
		}
		return s.Addr().String()
	}},
}

// cli runs the nats CLI as user with args and returns its output; it fails
// the test unless the command exits 0. HOME is a fresh directory, so no
// saved context of the machine's user interferes.
func cli(t *testing.T, bin, home, addr, user string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	full := append([]string{"--server", "nats://" + addr, "--user", user, "--password", "pw", "--timeout", "5s"}, args...)
	cmd := exec.CommandContext(ctx, bin, full...)
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"), "NO_COLOR=1")
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("nats %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func mustContain(t *testing.T, what, out string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("%s: output lacks %q:\n%s", what, w, out)
		}
	}
}

func TestNatsCLI(t *testing.T) {
	bin := natsCLI(t)
	conf := filepath.Join(t.TempDir(), "accounts.conf")
	if err := os.WriteFile(conf, []byte(natscliConf), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, b := range confBackends {
		t.Run(b.name, func(t *testing.T) {
			addr := b.start(t, conf)
			home := t.TempDir()
			// An application connection for the reports to find.
			app, err := nats.Connect("nats://app:pw@"+addr, nats.Name("natscli-test-app"))
			if err != nil {
				t.Fatal(err)
			}
			defer app.Close()
			if err := app.Flush(); err != nil {
				t.Fatal(err)
			}
			id := app.ConnectedServerId()

			mustContain(t, "server list", cli(t, bin, home, addr, "sys", "server", "list"), "Server Overview", id)
			mustContain(t, "server ping", cli(t, bin, home, addr, "sys", "server", "ping"), id, "1 replies")
			mustContain(t, "server info", cli(t, bin, home, addr, "sys", "server", "info"),
				"Server information for "+id, "Auth Required: true", "Maximum Payload: 1.0 MiB")
			mustContain(t, "server report connections", cli(t, bin, home, addr, "sys", "server", "report", "connections"),
				"natscli-test-app", "APP", "SYS", "Connections per server")

			var varz struct {
				Data struct {
					ID            string `json:"server_id"`
					SystemAccount string `json:"system_account"`
					Connections   int    `json:"connections"`
				} `json:"data"`
			}
			out := cli(t, bin, home, addr, "sys", "server", "req", "varz")
			if err := json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &varz); err != nil {
				t.Fatalf("server req varz: %v\n%s", err, out)
			}
			if varz.Data.ID != id || varz.Data.SystemAccount != "SYS" || varz.Data.Connections != 2 {
				t.Errorf("server req varz: %+v", varz.Data)
			}

			info := cli(t, bin, home, addr, "app", "account", "info")
			// busd reports the 2.10 protocol, so the CLI asks $SYS.REQ.USER.INFO and
			// shows who the user is.
			mustContain(t, "account info", info, "Account Information", "Connected Server ID: "+id, "Client ID:", "User: app", "Account: APP")
			var ui struct {
				Data struct {
					User    string `json:"user"`
					Account string `json:"account"`
				} `json:"data"`
			}
			out = cli(t, bin, home, addr, "app", "request", "$SYS.REQ.USER.INFO", "")
			if i := strings.Index(out, "{"); i < 0 || json.Unmarshal([]byte(out[i:strings.LastIndex(out, "}")+1]), &ui) != nil || ui.Data.Account != "APP" || ui.Data.User != "app" {
				t.Errorf("$SYS.REQ.USER.INFO as app: %+v\n%s", ui.Data, out)
			}

			checkEvents(t, bin, home, addr)
		})
	}
}

// checkEvents runs `nats events`, connects and disconnects a client, and
// waits for both events in the CLI's output.
func checkEvents(t *testing.T, bin, home, addr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--server", "nats://"+addr, "--user", "sys", "--password", "pw", "events")
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"), "NO_COLOR=1")
	cmd.WaitDelay = 5 * time.Second
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); _ = pw.Close() }()

	var mu sync.Mutex
	var out bytes.Buffer
	lines := make(chan string, 1024)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			mu.Lock()
			out.WriteString(sc.Text() + "\n")
			mu.Unlock()
			select {
			case lines <- sc.Text():
			default:
			}
		}
		close(lines)
	}()
	waitLine := func(what string, match func(string) bool) {
		t.Helper()
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					mu.Lock()
					defer mu.Unlock()
					t.Fatalf("nats events ended before %s:\n%s", what, out.String())
				}
				if match(l) {
					return
				}
			case <-ctx.Done():
				mu.Lock()
				defer mu.Unlock()
				t.Fatalf("nats events: no %s:\n%s", what, out.String())
			}
		}
	}
	waitLine("subscription", func(l string) bool { return strings.Contains(l, "Authentication Errors events on") })
	// The CLI prints that line before its subscriptions reach the server: a
	// client connects again every 250ms (bounded by ctx) until one is seen.
	var conns []*nats.Conn
	defer func() {
		for _, nc := range conns {
			nc.Close()
		}
	}()
	connectOne := func() {
		nc, err := nats.Connect("nats://app:pw@"+addr, nats.Name("natscli-event-client"))
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, nc)
	}
	connectOne()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for seen := false; !seen; {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("nats events ended before any connect event")
			}
			seen = strings.Contains(l, "] Client Connection")
		case <-tick.C:
			connectOne()
		case <-ctx.Done():
			mu.Lock()
			defer mu.Unlock()
			t.Fatalf("nats events: no connect event:\n%s", out.String())
		}
	}
	waitLine("its client name", func(l string) bool { return strings.Contains(l, "natscli-event-client") })
	waitLine("its account", func(l string) bool { return strings.Contains(l, "Account: APP") })
	for _, nc := range conns {
		nc.Close()
	}
	conns = nil
	waitLine("disconnect event", func(l string) bool { return strings.Contains(l, "] Client Disconnection") })
	waitLine("the reason", func(l string) bool { return strings.Contains(l, "Reason: Client Closed") })
}
