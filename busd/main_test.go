package main

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dialtone-dev/dialtone/busd/server"
	"github.com/nats-io/nats.go"
)

// waitLimit bounds every wait of these tests; reaching it is a failure.
const waitLimit = 20 * time.Second

// syncBuffer is a bytes.Buffer safe for the server's goroutines to log into
// while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// writeFile writes content to name in dir and returns its path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// runSync runs busd with args to completion (for invocations that exit
// without serving) and returns the exit code, stdout and stderr.
func runSync(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr syncBuffer
	sig := make(chan os.Signal)
	code := make(chan int, 1)
	go func() { code <- run(args, &stdout, &stderr, sig, nil) }()
	select {
	case c := <-code:
		return c, stdout.String(), stderr.String()
	case <-time.After(waitLimit):
		close(sig)
		t.Fatalf("busd %v did not exit; stderr:\n%s", args, stderr.String())
		return 0, "", ""
	}
}

// TestCommandLine checks that each flag, in each of its spellings, ends up in
// the right Options field, and that nothing else is set.
func TestCommandLine(t *testing.T) {
	tests := []struct {
		args []string
		want server.Options
	}{
		{nil, server.Options{}},
		{[]string{"-a", "127.0.0.2"}, server.Options{Host: "127.0.0.2"}},
		{[]string{"--addr", "127.0.0.3"}, server.Options{Host: "127.0.0.3"}},
		{[]string{"-addr=127.0.0.4"}, server.Options{Host: "127.0.0.4"}},
		{[]string{"--net", "::1"}, server.Options{Host: "::1"}},
		{[]string{"-p", "4333"}, server.Options{Port: 4333}},
		{[]string{"--port=4334"}, server.Options{Port: 4334}},
		{[]string{"--p", "-1"}, server.Options{Port: -1}},
		{[]string{"-n", "hub"}, server.Options{ServerName: "hub"}},
		{[]string{"--name", "hub2"}, server.Options{ServerName: "hub2"}},
		{[]string{"--server_name", "hub3"}, server.Options{ServerName: "hub3"}},
		{[]string{"-m", "8222"}, server.Options{HTTPPort: 8222}},
		{[]string{"--http_port", "-1"}, server.Options{HTTPPort: -1}},
		{[]string{"-D"}, server.Options{Debug: true}},
		{[]string{"--debug"}, server.Options{Debug: true}},
		{[]string{"-V"}, server.Options{Trace: true}},
		{[]string{"--trace"}, server.Options{Trace: true}},
		{[]string{"-DV"}, server.Options{Debug: true, Trace: true}},
		{[]string{"--DV"}, server.Options{Debug: true, Trace: true}},
		{[]string{"-D", "-V"}, server.Options{Debug: true, Trace: true}},
		{[]string{"--user", "u", "--pass", "p"}, server.Options{Username: "u", Password: "p"}},
		{[]string{"-user=u"}, server.Options{Username: "u"}},
		{[]string{"--auth", "s3cret"}, server.Options{Authorization: "s3cret"}},
		{[]string{"-l", "busd.log"}, server.Options{}},
		{[]string{"--log", "busd.log", "-a", "0.0.0.0", "-p", "4222"}, server.Options{Host: "0.0.0.0", Port: 4222}},
	}
	for _, tt := range tests {
		cl, err := parseCommandLine(tt.args)
		if err != nil {
			t.Errorf("%v: %v", tt.args, err)
			continue
		}
		got, err := cl.options()
		if err != nil {
			t.Errorf("%v: %v", tt.args, err)
			continue
		}
		if !reflect.DeepEqual(*got, tt.want) {
			t.Errorf("%v:\n got %+v\nwant %+v", tt.args, *got, tt.want)
		}
	}
	cl, err := parseCommandLine([]string{"-l", "x.log", "-c", "y.conf", "-v", "-h"})
	if err != nil || cl.logFile != "x.log" || cl.config != "y.conf" || !cl.version || !cl.help {
		t.Errorf("-l -c -v -h: %+v, %v", cl, err)
	}
	cl, err = parseCommandLine([]string{"--log=x.log", "--config=y.conf", "--version", "--help"})
	if err != nil || cl.logFile != "x.log" || cl.config != "y.conf" || !cl.version || !cl.help {
		t.Errorf("--log --config --version --help: %+v, %v", cl, err)
	}
}

// TestFlagsOverrideConfig checks that flags given explicitly win over the
// config file and that the file's other settings stay.
func TestFlagsOverrideConfig(t *testing.T) {
	dir := t.TempDir()
	conf := writeFile(t, dir, "busd.conf", `
port: 5000
server_name: fromfile
http_port: 8000
debug: true
trace: true
authorization { user: u, password: p }
`)
	cl, err := parseCommandLine([]string{"-c", conf, "-p", "6000", "--debug=false", "--pass", "q"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := cl.options()
	if err != nil {
		t.Fatal(err)
	}
	want := server.Options{Port: 6000, ServerName: "fromfile", HTTPPort: 8000, Trace: true,
		Username: "u", Password: "q", ConfigFile: conf}
	if !reflect.DeepEqual(*got, want) {
		t.Errorf("got %+v\nwant %+v", *got, want)
	}

	// A flag that conflicts with the file is caught before anything listens.
	conf2 := writeFile(t, dir, "users.conf", "authorization { users: [ {user: a} ] }\n")
	code, _, stderr := runSync(t, "-c", conf2, "--user", "b")
	if code != exitError || !strings.Contains(stderr, "busd: a single user (\"b\") cannot be combined with a users list") {
		t.Errorf("conflict: exit %d, stderr:\n%s", code, stderr)
	}
}

// TestRunUsage checks the exit codes and output of bad command lines, -v and -h.
func TestRunUsage(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--nope"}, "busd: flag provided but not defined: -nope\n"},
		{[]string{"-p", "x"}, `busd: invalid value "x" for flag -p: parse error`},
		{[]string{"-D", "extra"}, `busd: unexpected argument "extra"`},
		{[]string{"-c"}, "busd: flag needs an argument: -c"},
	} {
		code, stdout, stderr := runSync(t, tt.args...)
		if code != exitUsage || stdout != "" || !strings.HasPrefix(stderr, tt.want) || !strings.Contains(stderr, "Usage: busd [options]") {
			t.Errorf("%v: exit %d, stdout %q, stderr:\n%s", tt.args, code, stdout, stderr)
		}
	}
	for _, v := range []string{"-v", "--version", "-version"} {
		code, stdout, stderr := runSync(t, v)
		if code != exitOK || stdout != "busd version "+server.Version+"\n" || stderr != "" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q", v, code, stdout, stderr)
		}
	}
	for _, h := range []string{"-h", "--help"} {
		code, stdout, stderr := runSync(t, h)
		if code != exitOK || !strings.HasPrefix(stdout, "Usage: busd [options]") || !strings.Contains(stdout, "--http_port") || stderr != "" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q", h, code, stdout, stderr)
		}
	}
}

// TestRunConfigErrors checks that config problems are printed as
// "busd: file:line: message", one per line, with exit code 1.
func TestRunConfigErrors(t *testing.T) {
	dir := t.TempDir()
	bad := writeFile(t, dir, "bad.conf", "port: 4222\n\njetstream: enabled\nauthorization {\n  timeout: \"x\"\n}\n")
	code, stdout, stderr := runSync(t, "-c", bad)
	want := "busd: " + bad + ":3: unknown key \"jetstream\"\n" +
		"busd: " + bad + ":5: authorization.timeout: expected a duration such as \"2m\" or \"10s\", got \"x\"\n"
	if code != exitError || stdout != "" || stderr != want {
		t.Errorf("exit %d, stdout %q, stderr:\n%s\nwant:\n%s", code, stdout, stderr, want)
	}

	missing := filepath.Join(dir, "missing.conf")
	code, _, stderr = runSync(t, "-c", missing)
	if code != exitError || !strings.HasPrefix(stderr, "busd: config file: stat "+missing) {
		t.Errorf("missing file: exit %d, stderr %q", code, stderr)
	}

	code, _, stderr = runSync(t, "-p", "70000")
	if code != exitError || !strings.Contains(stderr, "busd: port 70000 is out of range") {
		t.Errorf("bad port: exit %d, stderr %q", code, stderr)
	}
}

// TestRunListenFails checks that a port already in use is an error exit.
func TestRunListenFails(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	code, _, stderr := runSync(t, "-a", "127.0.0.1", "-p", port)
	if code != exitError || !strings.Contains(stderr, "busd failed to start") {
		t.Errorf("exit %d, stderr:\n%s", code, stderr)
	}
}

// busd is one in-process run of the command, driven through its signal channel.
type busd struct {
	t        *testing.T
	sig      chan os.Signal
	code     chan int
	srv      *server.Server
	reloaded chan error
	stderr   *syncBuffer
	closed   bool // the test closed sig
}

// startBusd runs busd with args and waits until it listens.
func startBusd(t *testing.T, args ...string) *busd {
	t.Helper()
	b := &busd{t: t, sig: make(chan os.Signal, 1), code: make(chan int, 1), reloaded: make(chan error, 1), stderr: &syncBuffer{}}
	started := make(chan *server.Server, 1)
	ev := &events{started: func(s *server.Server) { started <- s }, reloaded: func(err error) { b.reloaded <- err }}
	go func() { b.code <- run(args, &syncBuffer{}, b.stderr, b.sig, ev) }()
	select {
	case b.srv = <-started:
	case c := <-b.code:
		t.Fatalf("busd exited with %d before listening; stderr:\n%s", c, b.stderr.String())
	case <-time.After(waitLimit):
		t.Fatalf("busd did not start; stderr:\n%s", b.stderr.String())
	}
	t.Cleanup(func() {
		select {
		case <-b.code:
		default:
			if !b.closed {
				b.sig <- syscall.SIGTERM
			}
			<-b.code
		}
	})
	return b
}

// signal sends s to busd.
func (b *busd) signal(s os.Signal) {
	select {
	case b.sig <- s:
	case <-time.After(waitLimit):
		b.t.Fatalf("busd does not take signal %v", s)
	}
}

// reload sends the reload signal and returns the outcome.
func (b *busd) reload() error {
	b.t.Helper()
	if reloadSignal == nil {
		b.t.Skip("no reload signal on this platform")
	}
	b.signal(reloadSignal)
	select {
	case err := <-b.reloaded:
		return err
	case <-time.After(waitLimit):
		b.t.Fatal("reload not handled")
		return nil
	}
}

// exit waits for busd to exit and returns its code.
func (b *busd) exit() int {
	b.t.Helper()
	select {
	case c := <-b.code:
		b.code <- c // for the cleanup
		return c
	case <-time.After(waitLimit):
		b.t.Fatalf("busd did not exit; stderr:\n%s", b.stderr.String())
		return 0
	}
}

// TestRunEndToEnd starts busd from a config file and flags, serves a NATS
// client, reloads the config on SIGHUP (a good file takes effect, a bad one is
// logged and ignored) and exits 0 on SIGTERM.
func TestRunEndToEnd(t *testing.T) {
	dir := t.TempDir()
	conf := writeFile(t, dir, "busd.conf", "server_name: e2e\nport: 4999\n")
	b := startBusd(t, "-c", conf, "-a", "127.0.0.1", "-p", "-1", "-V")
	url := b.srv.ClientURL()

	nc, err := nats.Connect(url, nats.NoReconnect())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if got := nc.ConnectedServerName(); got != "e2e" {
		t.Errorf("server name %q, want e2e (from the file)", got)
	}
	if _, err := nc.Subscribe("greet", func(m *nats.Msg) { m.Respond([]byte("hello " + string(m.Data))) }); err != nil {
		t.Fatal(err)
	}
	reply, err := nc.Request("greet", []byte("busd"), waitLimit)
	if err != nil || string(reply.Data) != "hello busd" {
		t.Fatalf("request: %v %v", reply, err)
	}
	if !strings.Contains(b.stderr.String(), "level=TRACE") {
		t.Errorf("-V logged no TRACE records:\n%s", b.stderr.String())
	}

	if reloadSignal != nil {
		// A good file is applied (what it changes is checked, with fresh
		// connections, in TestRunReloadAppliesAuth).
		writeFile(t, dir, "busd.conf", "server_name: e2e\ndebug: true\n")
		if err := b.reload(); err != nil {
			t.Fatalf("reload: %v", err)
		}
		if !strings.Contains(b.stderr.String(), "config reloaded") {
			t.Errorf("reload not logged:\n%s", b.stderr.String())
		}

		// A bad file: the error names file and line, busd keeps running.
		writeFile(t, dir, "busd.conf", "server_name: e2e\n\njetstream: true\n")
		err = b.reload()
		want := conf + ":3: unknown key \"jetstream\""
		if err == nil || err.Error() != want {
			t.Errorf("bad reload: got %v, want %s", err, want)
		}
		if !strings.Contains(b.stderr.String(), "config reload failed") || !strings.Contains(b.stderr.String(), strconv.Quote(want)) {
			t.Errorf("bad reload not logged:\n%s", b.stderr.String())
		}
		reply, err := nc.Request("greet", []byte("again"), waitLimit)
		if err != nil || string(reply.Data) != "hello again" {
			t.Errorf("connection broken after reloads: %v %v", reply, err)
		}
	}

	closed := make(chan struct{})
	nc.SetClosedHandler(func(*nats.Conn) { close(closed) })
	b.signal(syscall.SIGTERM)
	if code := b.exit(); code != exitOK {
		t.Errorf("exit code %d after SIGTERM; stderr:\n%s", code, b.stderr.String())
	}
	select {
	case <-closed:
	case <-time.After(waitLimit):
		t.Error("client not disconnected by the shutdown")
	}
	if !strings.Contains(b.stderr.String(), "signal=terminated") {
		t.Errorf("shutdown signal not logged:\n%s", b.stderr.String())
	}
}

// TestRunReloadAppliesAuth checks that a config file changed to require a
// token takes effect on SIGHUP: new connections need the token.
func TestRunReloadAppliesAuth(t *testing.T) {
	if reloadSignal == nil {
		t.Skip("no reload signal on this platform")
	}
	dir := t.TempDir()
	conf := writeFile(t, dir, "busd.conf", "server_name: auth\n")
	b := startBusd(t, "-c", conf, "-a", "127.0.0.1", "-p", "-1")
	url := b.srv.ClientURL()
	nc, err := nats.Connect(url, nats.NoReconnect())
	if err != nil {
		t.Fatal(err)
	}
	nc.Close()

	writeFile(t, dir, "busd.conf", "server_name: auth\nauthorization { token: s3cret }\n")
	if err := b.reload(); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if nc, err := nats.Connect(url, nats.NoReconnect()); err == nil {
		nc.Close()
		t.Error("connected without the token the reloaded config requires")
	}
	nc, err = nats.Connect(url, nats.NoReconnect(), nats.Token("s3cret"))
	if err != nil {
		t.Fatalf("connect with the token: %v", err)
	}
	nc.Close()
	b.signal(syscall.SIGTERM)
	if code := b.exit(); code != exitOK {
		t.Errorf("exit code %d", code)
	}
}

// TestRunLameDuck enters lame duck mode with a client connected, checks the
// client is told, then cuts the phase short with SIGTERM: exit 0.
func TestRunLameDuck(t *testing.T) {
	if lameDuckSignal == nil {
		t.Skip("no lame duck signal on this platform")
	}
	dir := t.TempDir()
	conf := writeFile(t, dir, "busd.conf", "lame_duck_duration: \"30s\"\nlame_duck_grace_period: \"20s\"\n")
	b := startBusd(t, "-c", conf, "-a", "127.0.0.1", "-p", "-1")
	ldm := make(chan struct{})
	var once sync.Once
	nc, err := nats.Connect(b.srv.ClientURL(), nats.NoReconnect(), nats.LameDuckModeHandler(func(*nats.Conn) { once.Do(func() { close(ldm) }) }))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()

	b.signal(lameDuckSignal)
	select {
	case <-ldm:
	case <-time.After(waitLimit):
		t.Fatalf("client not told about lame duck mode; stderr:\n%s", b.stderr.String())
	}
	// A second lame duck signal is harmless.
	b.signal(lameDuckSignal)
	b.signal(syscall.SIGTERM)
	if code := b.exit(); code != exitOK {
		t.Errorf("exit code %d; stderr:\n%s", code, b.stderr.String())
	}
}

// TestRunLameDuckCompletes lets a lame duck phase with no clients run to its
// end, which stops busd with exit 0; it also logs to a file with -l and checks
// that a reload without a config file is refused but harmless.
func TestRunLameDuckCompletes(t *testing.T) {
	if lameDuckSignal == nil {
		t.Skip("no lame duck signal on this platform")
	}
	dir := t.TempDir()
	conf := writeFile(t, dir, "busd.conf", "lame_duck_grace_period: \"10ms\"\n")
	logFile := filepath.Join(dir, "busd.log")
	b := startBusd(t, "-c", conf, "-a", "127.0.0.1", "-p", "-1", "-l", logFile)
	b.signal(lameDuckSignal)
	if code := b.exit(); code != exitOK {
		t.Errorf("exit code %d", code)
	}
	data, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"busd ready", "version=" + server.Version, "entering lame duck mode"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("log file lacks %q:\n%s", want, data)
		}
	}
	if b.stderr.String() != "" {
		t.Errorf("with -l, stderr got %q", b.stderr.String())
	}
}

// TestRunReloadWithoutConfig checks that a reload signal without -c is
// reported and leaves busd serving, and that closing the signal channel stops
// busd cleanly.
func TestRunReloadWithoutConfig(t *testing.T) {
	b := startBusd(t, "-a", "127.0.0.1", "-p", "-1")
	if err := b.reload(); err == nil || !strings.Contains(err.Error(), "no config file") {
		t.Errorf("reload without a config file: %v", err)
	}
	nc, err := nats.Connect(b.srv.ClientURL(), nats.NoReconnect())
	if err != nil {
		t.Fatalf("busd not serving after the refused reload: %v", err)
	}
	nc.Close()
	b.closed = true
	close(b.sig)
	if code := b.exit(); code != exitOK {
		t.Errorf("exit code %d", code)
	}
}

// TestRunReloadTellsTheTruth: a SIGHUP reload that changes the listen port,
// or names TLS files that do not load, is refused with an error naming the
// option (and the file and line, for TLS), and nothing it carried is applied;
// one that turns trace on makes busd trace at once.
func TestRunReloadTellsTheTruth(t *testing.T) {
	if reloadSignal == nil {
		t.Skip("no reload signal on this platform")
	}
	dir := t.TempDir()
	conf := writeFile(t, dir, "busd.conf", "listen: 127.0.0.1:14333\n")
	b := startBusd(t, "-c", conf)

	writeFile(t, dir, "busd.conf", "listen: 127.0.0.1:14222\nmax_payload: 1000\n")
	err := b.reload()
	if err == nil || !strings.Contains(err.Error(), "config reload not supported for port: old=14333, new=14222") {
		t.Errorf("port change: %v", err)
	}
	if got := b.srv.Options().MaxPayload; got != server.DefaultMaxPayload {
		t.Errorf("max_payload %d after a refused reload", got)
	}

	writeFile(t, dir, "busd.conf", "listen: 127.0.0.1:14333\nmax_payload: 1000\n\ntls {\n  cert_file: "+strconv.Quote(filepath.Join(dir, "missing.pem"))+"\n  key_file: "+strconv.Quote(filepath.Join(dir, "missing.key"))+"\n}\n")
	err = b.reload()
	if err == nil || !strings.Contains(err.Error(), conf+":5:") || !strings.Contains(err.Error(), "tls.cert_file") {
		t.Errorf("TLS files that do not load: %v", err)
	}
	if o := b.srv.Options(); o.TLSConfig != nil || o.MaxPayload != server.DefaultMaxPayload {
		t.Errorf("a refused reload changed tls (%v) or max_payload (%d)", o.TLSConfig != nil, o.MaxPayload)
	}

	writeFile(t, dir, "busd.conf", "listen: 127.0.0.1:14333\nmax_payload: 1000\ntrace: true\n")
	if err := b.reload(); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if got := b.srv.Options().MaxPayload; got != 1000 {
		t.Errorf("max_payload %d after reload, want 1000", got)
	}
	if !strings.Contains(b.stderr.String(), "changed=\"max_payload, trace\"") {
		t.Errorf("the reload does not say what changed:\n%s", b.stderr.String())
	}
	nc, err := nats.Connect(b.srv.ClientURL(), nats.NoReconnect())
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	nc.Close()
	if !strings.Contains(b.stderr.String(), "level=TRACE") {
		t.Errorf("trace turned on by reload logged no TRACE records:\n%s", b.stderr.String())
	}
}
