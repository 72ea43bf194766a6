package scaffold

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/dialtone-dev/dialtone/internal/bustest"
)

// offline is the environment of the go commands the test runs in the scaffolded
// module: dependencies come from the module cache only (the checkout under test
// already needs them all), so the test needs no network.
var offline = []string{"GOPROXY=off", "GOSUMDB=off", "GOFLAGS=-mod=mod", "GOWORK=off"}

func goCmd(t *testing.T, ctx context.Context, dir string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), offline...)
	return cmd
}

func mustRun(t *testing.T, cmd *exec.Cmd) string {
	t.Helper()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, out)
	}
	return string(out)
}

// The scaffold is a module that builds, passes its test, regenerates to the same code
// and runs: an instance serves until SIGTERM, then drains; -call calls it.
func TestScaffoldBuildsTestsAndRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module: not in -short mode")
	}
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "orders")
	var log bytes.Buffer
	err = Create(Options{Dir: dir, Module: "example.com/shop", Name: "orders", Replace: root, Tidy: true, Log: &log, Env: offline,
		// Offline, tidy cannot fetch the test-only dependencies of dependencies (which
		// nothing here builds); -e lets it write go.mod anyway.
		TidyFlags: []string{"-e"}})
	if err != nil {
		t.Fatalf("Create: %v\n%s", err, log.String())
	}
	for _, want := range []string{"wrote go.mod", "wrote orders/orders.go", "generated orders/orders_dialtone.go", "ran go mod tidy -e", "go run ./cmd/orders"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log.String())
		}
	}
	// Every command of the test is bounded: a hung build or server fails the test.
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()

	generated := filepath.Join(dir, "orders", "orders_dialtone.go")
	before, err := os.ReadFile(generated)
	if err != nil {
		t.Fatal(err)
	}
	mustRun(t, goCmd(t, ctx, dir, "generate", "./..."))
	if after, _ := os.ReadFile(generated); !bytes.Equal(before, after) {
		t.Error("go generate ./... in the scaffold changes its generated code")
	}
	mustRun(t, goCmd(t, ctx, dir, "vet", "./..."))
	if out := mustRun(t, goCmd(t, ctx, dir, "test", "-count=1", "./...")); !strings.Contains(out, "ok  \texample.com/shop/orders") {
		t.Errorf("go test output:\n%s", out)
	}
	bin := filepath.Join(t.TempDir(), "orders")
	mustRun(t, goCmd(t, ctx, dir, "build", "-o", bin, "./cmd/orders"))

	// Run the instance against a bus, as the scaffold's README says.
	url := bustest.Busd(t)
	server := exec.CommandContext(ctx, bin, "-metrics", "127.0.0.1:0")
	server.Env = append(os.Environ(), "NATS_URL="+url)
	stdout, err := server.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	server.Stderr = &stderr
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() {
		t.Fatalf("server printed nothing; stderr:\n%s", stderr.String())
	}
	m := regexp.MustCompile(`^orders instance (\S+) serving on `).FindStringSubmatch(lines.Text())
	if m == nil {
		t.Fatalf("first line %q, want 'orders instance <id> serving on ...'", lines.Text())
	}
	id := m[1]
	if !lines.Scan() || !strings.HasPrefix(lines.Text(), "metrics on http://127.0.0.1:") {
		t.Fatalf("second line %q, want 'metrics on http://127.0.0.1:<port>/metrics'", lines.Text())
	}
	metricsURL := strings.TrimPrefix(lines.Text(), "metrics on ")

	client := exec.CommandContext(ctx, bin, "-call", "Ada")
	client.Env = server.Env
	out, err := client.CombinedOutput()
	if err != nil {
		t.Fatalf("-call: %v\n%s", err, out)
	}
	if want := "Hello, Ada! (from " + id + ")\n"; string(out) != want {
		t.Errorf("-call printed %q, want %q", out, want)
	}

	// The call shows in the instance's metrics, as Prometheus reads them.
	fams := scrape(t, metricsURL)
	if n := okCount(fams, "orders", "Hello"); n != 1 {
		t.Errorf("rpc_server_call_duration_seconds_count{ok} = %d after one call, want 1", n)
	}

	// -call "" calls with an empty name (which the service refuses); it must not
	// start a second server.
	empty := exec.CommandContext(ctx, bin, "-call", "")
	empty.Env = server.Env
	empty.WaitDelay = time.Second
	done := make(chan struct{})
	timer := time.AfterFunc(10*time.Second, func() {
		select {
		case <-done:
		default:
			_ = empty.Process.Kill() // it serves instead of calling
		}
	})
	out, err = empty.CombinedOutput()
	close(done)
	timer.Stop()
	if err == nil || !strings.Contains(string(out), "invalid_argument") || strings.Contains(string(out), "serving") {
		t.Errorf("-call \"\": %v\n%s\nwant a failed call (invalid_argument: name required), not a server", err, out)
	}

	list := exec.CommandContext(ctx, bin, "-list")
	list.Env = server.Env
	out, err = list.CombinedOutput()
	if err != nil {
		t.Fatalf("-list: %v\n%s", err, out)
	}
	if want := "orders: 1 instance(s)\n  " + id + "  version 0.1.0  up  in flight 0/"; !strings.HasPrefix(string(out), want) {
		t.Errorf("-list printed %q, want it to start with %q", out, want)
	}

	if err := server.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(stdout)
	if err := server.Wait(); err != nil {
		t.Fatalf("server after SIGTERM: %v\nstderr:\n%s", err, stderr.String())
	}
	if string(rest) != "orders drained and stopped\n" {
		t.Errorf("after SIGTERM the server printed %q", rest)
	}
}

func TestCreateRefusesNonEmptyDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	err := Create(Options{Dir: dir, Module: "example.com/x", Name: "x"})
	if err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("Create in a non-empty dir: %v", err)
	}
}

func TestProjectNames(t *testing.T) {
	for _, tc := range []struct{ name, pkg, iface string }{
		{"orders", "orders", "Orders"},
		{"order-book", "orderbook", "OrderBook"},
		{"user_profile2", "userprofile2", "UserProfile2"},
	} {
		p, err := Project(Options{Module: "example.com/shop", Name: tc.name})
		if err != nil {
			t.Fatal(err)
		}
		if p.Package != tc.pkg || p.Interface != tc.iface || p.Service != tc.name {
			t.Errorf("%s: package %s interface %s service %s", tc.name, p.Package, p.Interface, p.Service)
		}
	}
	for _, bad := range []Options{{Module: "m", Name: "Orders"}, {Module: "m", Name: "9lives"}, {Module: "m", Name: ""}, {Module: "", Name: "x"}, {Module: "a b", Name: "x"}} {
		if _, err := Project(bad); err == nil {
			t.Errorf("Project(%+v) accepted", bad)
		}
	}
}

// Without -replace the scaffold requires the latest released dialtone; when that
// cannot be fetched, Create says what to do and writes nothing, so running it
// again (here with -replace) in the same directory works.
func TestCreateWithoutReplaceNeedsARelease(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "orders")
	var log bytes.Buffer
	err := Create(Options{Dir: dir, Module: "example.com/shop", Name: "orders", Tidy: true, Log: &log, Env: offline})
	if err == nil || !strings.Contains(err.Error(), "github.com/dialtone-dev/dialtone@latest") ||
		!strings.Contains(err.Error(), "-replace") || !strings.Contains(err.Error(), "-tidy=false") {
		t.Fatalf("Create offline without -replace: %v", err)
	}
	if _, serr := os.Stat(dir); !os.IsNotExist(serr) {
		t.Fatalf("Create failed but left %s behind (%v)", dir, serr)
	}
	root, _ := filepath.Abs("../../..")
	if err := Create(Options{Dir: dir, Module: "example.com/shop", Name: "orders", Replace: root, Env: offline}); err != nil {
		t.Fatalf("second Create in the same directory: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "orders", "orders_dialtone.go")); err != nil {
		t.Error(err)
	}
}

// Without -tidy the module is written without a dialtone requirement, and the log
// says how to add it.
func TestCreateWithoutTidy(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "orders")
	var log bytes.Buffer
	if err := Create(Options{Dir: dir, Module: "example.com/shop", Name: "orders", Log: &log, Env: offline}); err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if string(gomod) != "module example.com/shop\n\ngo "+goVersion()+"\n" {
		t.Errorf("go.mod:\n%s", gomod)
	}
	if !strings.Contains(log.String(), "go get github.com/dialtone-dev/dialtone@latest") {
		t.Errorf("log does not say how to complete go.mod:\n%s", log.String())
	}
}

// A failure after Create has begun writing (here go mod tidy, with a -replace
// that is not a dialtone checkout) removes what it wrote: the directory it made,
// or the contents of the empty directory it was given.
func TestCreateCleansUpOnFailure(t *testing.T) {
	notDialtone := t.TempDir()
	for _, existed := range []bool{false, true} {
		dir := filepath.Join(t.TempDir(), "orders")
		if existed {
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		err := Create(Options{Dir: dir, Module: "example.com/shop", Name: "orders", Replace: notDialtone, Tidy: true, Env: offline})
		if err == nil || !strings.Contains(err.Error(), "go mod tidy") || !strings.Contains(err.Error(), "nothing was left") {
			t.Fatalf("Create with a bad -replace: %v", err)
		}
		entries, serr := os.ReadDir(dir)
		switch {
		case existed && (serr != nil || len(entries) != 0):
			t.Errorf("the given directory is not left empty: %v %v", entries, serr)
		case !existed && !os.IsNotExist(serr):
			t.Errorf("the directory Create made is left behind: %v", serr)
		}
	}
}

func TestGoVersion(t *testing.T) {
	if v := goVersion(); !regexp.MustCompile(`^1\.\d+\.0$`).MatchString(v) {
		t.Errorf("goVersion() = %q, want 1.N.0", v)
	}
}

// scrape fetches url and parses it with Prometheus' own text parser.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	return fams
}

// okCount is the count of successful requests to service.method in fams.
func okCount(fams map[string]*dto.MetricFamily, service, method string) uint64 {
	for _, m := range fams["rpc_server_call_duration_seconds"].GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["rpc_service"] == service && labels["rpc_method"] == method && labels["rpc_response_status_code"] == "ok" {
			return m.GetHistogram().GetSampleCount()
		}
	}
	return 0
}
