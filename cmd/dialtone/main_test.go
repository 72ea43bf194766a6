package main

import (
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/dialtone-dev/dialtone/cmd/dialtone/internal/fleet"
)

func TestLs(t *testing.T) {
	backends(t, func(t *testing.T, url string, svcURL func(int) string) {
		out, errOut, code := cli(t, url, "ls")
		if code != 0 || !strings.Contains(out, "no services on") {
			t.Fatalf("empty bus: status %d, out %q, err %q", code, out, errOut)
		}
		a := startGreeter(t, svcURL(0), "1.0.0")
		b := startGreeter(t, svcURL(1), "1.1.0")
		reachable(t, url, a, b)
		out, errOut, code = cli(t, url, "ls")
		if code != 0 {
			t.Fatalf("status %d: %s", code, errOut)
		}
		for _, want := range []string{"greeter: 2 instances, version 1.0.0, 1.1.0", "ID", "VERSION", "STATUS", "LOAD", "QUEUED", "UPTIME", "ENDPOINTS",
			a.svc.ID(), b.svc.ID(), "0/8", "SayHello Fail Hold"} {
			if !strings.Contains(out, want) {
				t.Errorf("ls output lacks %q:\n%s", want, out)
			}
		}
		out, _, code = cli(t, url, "ls", "--json")
		var doc struct {
			Server   string          `json:"server"`
			Services []fleet.Service `json:"services"`
		}
		if code != 0 || json.Unmarshal([]byte(out), &doc) != nil {
			t.Fatalf("ls --json: status %d, %q", code, out)
		}
		if len(doc.Services) != 1 || len(doc.Services[0].Instances) != 2 {
			t.Fatalf("ls --json: %+v", doc)
		}
		in := doc.Services[0].Instances[0]
		if in.ID != a.svc.ID() || in.Version != "1.0.0" || in.Status != "up" || in.Capacity != 8 || len(in.Endpoints) != 3 || in.Started.IsZero() {
			t.Fatalf("ls --json instance: %+v", in)
		}
		_, errOut, code = cli(t, url, "ls", "nosuch")
		if code != 1 || !strings.Contains(errOut, `no service "nosuch"`) {
			t.Fatalf("ls nosuch: status %d, %q", code, errOut)
		}
	})
}

func TestInfo(t *testing.T) {
	backends(t, func(t *testing.T, url string, svcURL func(int) string) {
		a := startGreeter(t, svcURL(0), "1.0.0")
		reachable(t, url, a)
		out, errOut, code := cli(t, url, "info", "greeter")
		if code != 0 {
			t.Fatalf("status %d: %s", code, errOut)
		}
		for _, want := range []string{"greeter: says hello", "versions   1.0.0", "instances  1: " + a.svc.ID(),
			"endpoint SayHello", "subject      greeter.SayHello", "queue group  greeter",
			`"title": "HelloRequest"`, `"maxLength": 64`, `"title": "HelloReply"`, "endpoint Hold", `"maximum": 60000`,
			"endpoint Fail", "(no schema published)"} {
			if !strings.Contains(out, want) {
				t.Errorf("info lacks %q:\n%s", want, out)
			}
		}
		out, _, code = cli(t, url, "info", "greeter", "--json")
		var si fleet.ServiceInfo
		if code != 0 || json.Unmarshal([]byte(out), &si) != nil || len(si.Endpoints) != 3 {
			t.Fatalf("info --json: status %d, %s", code, out)
		}
		if si.Endpoints[2].Name != "SayHello" || !strings.Contains(string(si.Endpoints[2].RequestSchema), `"name"`) {
			t.Fatalf("info --json endpoint: %+v", si.Endpoints[2])
		}
		_, errOut, code = cli(t, url, "info", "nosuch")
		if code != 1 || errOut != "dialtone: no service \"nosuch\" on the bus (running: greeter)\n" {
			t.Fatalf("info nosuch: status %d, %q", code, errOut)
		}
	})
}

func TestCall(t *testing.T) {
	backends(t, func(t *testing.T, url string, svcURL func(int) string) {
		a := startGreeter(t, svcURL(0), "1.0.0")
		reachable(t, url, a, startGreeter(t, svcURL(1), "1.0.0"))
		for _, pattern := range []string{"balanced", "lowest-latency", "available"} {
			out, errOut, code := cli(t, url, "call", "greeter.SayHello", `{"name":"Ada"}`, "--pattern", pattern)
			if code != 0 || out != "{\n  \"message\": \"Hello, Ada!\"\n}\n" || !strings.Contains(errOut, "answered in") {
				t.Fatalf("%s: status %d, out %q, err %q", pattern, code, out, errOut)
			}
		}
		out, _, code := cli(t, url, "call", "greeter.SayHello", `{"name":"Bo"}`, "--instance", a.svc.ID(), "-q", "-H", "x-tenant:acme")
		if code != 0 || !strings.Contains(out, "Hello, Bo!") {
			t.Fatalf("--instance: status %d, %q", code, out)
		}

		// An error reply: code, message and details, status 1.
		out, errOut, code := cli(t, url, "call", "greeter.Fail")
		if code != 1 || out != "" || errOut != "dialtone: greeter.Fail failed: not_found (404): nobody is here\n  details: {\"who\":\"nobody\"}\n" {
			t.Fatalf("Fail: status %d, out %q, err %q", code, out, errOut)
		}
		// The service's own validation still answers what the schema cannot say.
		_, errOut, code = cli(t, url, "call", "greeter.SayHello", `{"name":""}`)
		if code != 1 || !strings.Contains(errOut, "invalid_argument (400)") {
			t.Fatalf("empty name: status %d, err %q", code, errOut)
		}
	})
}

// TestBadInput: every mistake is one line on stderr, with status 2 for the
// command line and 1 for the bus or the service, and never a hang.
func TestBadInput(t *testing.T) {
	backends(t, func(t *testing.T, url string, svcURL func(int) string) {
		reachable(t, url, startGreeter(t, svcURL(0), "1.0.0"))
		cases := []struct {
			args []string
			code int
			want string
		}{
			{[]string{"call", "nosuch.Do", "{}"}, 1, `dialtone: no service "nosuch" on the bus (running: greeter)`},
			{[]string{"call", "greeter.Nope", "{}"}, 1, `dialtone: service greeter has no endpoint "Nope" (it has: Fail, Hold, SayHello)`},
			{[]string{"call", "greeter.SayHello", `{}`}, 2, `dialtone: greeter.SayHello: the request does not match the endpoint's schema: field "name" is required (dialtone info greeter shows the schema)`},
			{[]string{"call", "greeter.SayHello", `{"name":7}`}, 2, `field "name" is a number; want string`},
			{[]string{"call", "greeter.SayHello", `{"name":"` + strings.Repeat("x", 65) + `"}`}, 2, `field "name" is 65 characters; want at most 64`},
			{[]string{"call", "greeter.Hold", `{"ms":-1}`}, 2, `field "ms" is -1; want at least 0`},
			{[]string{"call", "greeter.SayHello", `{name}`}, 2, "dialtone: the request is not JSON: invalid character 'n' looking for beginning of object key string at byte 2"},
			{[]string{"call", "greeter", "{}"}, 2, `dialtone: "greeter": name the endpoint as SERVICE.ENDPOINT, e.g. greeter.SayHello`},
			{[]string{"call"}, 2, "dialtone: accepts between 1 and 2 arg(s), received 0: usage: dialtone call SERVICE.ENDPOINT [JSON|-] [flags]"},
			{[]string{"call", "greeter.SayHello", `{"name":"x"}`, "--pattern", "random"}, 2, `dialtone: unknown pattern "random"`},
			{[]string{"call", "greeter.SayHello", `{"name":"x"}`, "-H", "novalue"}, 2, `dialtone: header "novalue": want key:value`},
			{[]string{"info", "no.dots"}, 1, `dialtone: "no.dots" is not a service name`},
			{[]string{"ls", "--frobnicate"}, 2, "dialtone: unknown flag: --frobnicate (see dialtone ls --help)"},
			{[]string{"frobnicate"}, 2, `dialtone: unknown command "frobnicate" for "dialtone"`},
			{[]string{"bench", "greeter.SayHello", `{"name":"x"}`, "--clients", "0"}, 2, "dialtone: --clients must be at least 1"},
		}
		for _, c := range cases {
			out, errOut, code := cli(t, url, c.args...)
			lines := strings.Split(strings.TrimSuffix(errOut, "\n"), "\n")
			if code != c.code || out != "" || len(lines) != 1 || !strings.HasPrefix(errOut, "dialtone: ") || !strings.Contains(errOut, c.want) {
				t.Errorf("dialtone %s: status %d (want %d), stdout %q, stderr %q (want one line with %q)",
					strings.Join(c.args, " "), code, c.code, out, errOut, c.want)
			}
		}
	})
}

// TestNoBus: a URL where nothing listens fails at once, in one line.
func TestNoBus(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "nats://" + l.Addr().String()
	l.Close() // nothing listens there now
	for _, args := range [][]string{{"ls"}, {"info", "greeter"}, {"call", "greeter.SayHello", "{}"}, {"watch"}, {"stats"}, {"bench", "a.b"}, {"dash", "--listen", "127.0.0.1:0"}} {
		start := time.Now()
		out, errOut, code := cli(t, url, args...)
		want := "dialtone: no bus at " + url + " (connection refused): start one with `go run ./busd`, or pass --server or set $NATS_URL\n"
		if code != 1 || out != "" || errOut != want {
			t.Errorf("dialtone %s: status %d, stdout %q, stderr %q", strings.Join(args, " "), code, out, errOut)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("dialtone %s took %v to fail", strings.Join(args, " "), d)
		}
	}
	// Something that is not a NATS server at all: a clear line within the connect timeout.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	_, errOut, code := cli(t, "nats://"+silent.Addr().String(), "ls", "--connect-timeout", "300ms")
	if code != 1 || !strings.HasPrefix(errOut, "dialtone: ") || strings.Count(errOut, "\n") != 1 {
		t.Fatalf("silent server: status %d, %q", code, errOut)
	}
}

func TestWatch(t *testing.T) {
	backends(t, func(t *testing.T, url string, svcURL func(int) string) {
		a := startGreeter(t, svcURL(0), "1.0.0")
		reachable(t, url, a)
		w := startCLI(t, url, "watch", "greeter")
		w.expect(t, 5*time.Second, "joined", "greeter "+a.svc.ID(), "version 1.0.0", "up")
		b := startGreeter(t, svcURL(1), "2.0.0")
		w.expect(t, 5*time.Second, "joined", b.svc.ID(), "version 2.0.0")

		// Drain a while a request is held: draining, then left once it is answered.
		hold := startCLI(t, url, "call", "greeter.Hold", `{"ms":20000}`, "--instance", a.svc.ID(), "--timeout", "30s")
		a.waitHeld(t)
		stopped := make(chan error, 1)
		go func() { stopped <- a.svc.Stop(t.Context()) }()
		w.expect(t, 5*time.Second, "draining", a.svc.ID(), "draining")
		a.unblock()
		w.expect(t, 5*time.Second, "left", a.svc.ID(), "stopped")
		if err := <-stopped; err != nil {
			t.Fatal(err)
		}
		if code := hold.wait(t); code != 0 {
			t.Fatalf("the held call failed during the drain: %s", hold.stderr)
		}

		b.kill()
		w.expect(t, 5*time.Second, "expired", b.svc.ID())
		if code := w.stop(t); code != 0 {
			t.Fatalf("watch ended with status %d: %s", code, w.stderr)
		}
	})
}

func TestWatchJSON(t *testing.T) {
	url := startBus(t)
	a := startGreeter(t, url, "1.0.0")
	w := startCLI(t, url, "watch", "--json")
	line := w.expect(t, 5*time.Second, `"type":"joined"`)
	var ev fleet.Event
	if err := json.Unmarshal([]byte(line), &ev); err != nil || ev.Instance.ID != a.svc.ID() || ev.Instance.Service != "greeter" {
		t.Fatalf("%q: %+v, %v", line, ev, err)
	}
	// --new leaves out what already runs.
	n := startCLI(t, url, "watch", "--new")
	n.expect(t, 5*time.Second, "watching")
	b := startGreeter(t, url, "1.0.0")
	if line := n.expect(t, 5*time.Second, "joined"); !strings.Contains(line, b.svc.ID()) {
		t.Fatalf("watch --new printed %q first, want %s", line, b.svc.ID())
	}
}

func TestStats(t *testing.T) {
	backends(t, func(t *testing.T, url string, svcURL func(int) string) {
		reachable(t, url, startGreeter(t, svcURL(0), "1.0.0"), startGreeter(t, svcURL(1), "1.0.0"))
		for range 3 {
			if _, errOut, code := cli(t, url, "call", "greeter.SayHello", `{"name":"x"}`); code != 0 {
				t.Fatal(errOut)
			}
		}
		cli(t, url, "call", "greeter.Fail")
		out, errOut, code := cli(t, url, "stats", "greeter")
		if code != 0 {
			t.Fatalf("status %d: %s", code, errOut)
		}
		var say, fail string
		for _, line := range strings.Split(out, "\n") {
			f := strings.Fields(line)
			switch {
			case len(f) > 1 && f[1] == "SayHello":
				say = line
			case len(f) > 1 && f[1] == "Fail":
				fail = line
			}
		}
		if f := strings.Fields(say); len(f) < 9 || f[2] != "2" || f[3] != "3" || f[4] != "0" || f[6] == "-" {
			t.Errorf("SayHello line %q in\n%s", say, out)
		}
		if f := strings.Fields(fail); len(f) < 9 || f[3] != "1" || f[4] != "1" || f[5] != "100.0%" || !strings.Contains(fail, "nobody is here") {
			t.Errorf("Fail line %q in\n%s", fail, out)
		}
		out, _, code = cli(t, url, "stats", "--json")
		var stats []fleet.InstanceStats
		if code != 0 || json.Unmarshal([]byte(out), &stats) != nil || len(stats) != 2 {
			t.Fatalf("stats --json: status %d, %s", code, out)
		}
		out, _, _ = cli(t, url, "stats", "--instances")
		if strings.Count(out, "greeter  SayHello") != 2 {
			t.Errorf("stats --instances:\n%s", out)
		}
		_, errOut, code = cli(t, url, "stats", "nosuch")
		if code != 1 || !strings.Contains(errOut, `no service "nosuch"`) {
			t.Fatalf("stats nosuch: %d %q", code, errOut)
		}
	})
}

func TestBench(t *testing.T) {
	backends(t, func(t *testing.T, url string, svcURL func(int) string) {
		reachable(t, url, startGreeter(t, svcURL(0), "1.0.0"), startGreeter(t, svcURL(1), "1.0.0"))
		out, errOut, code := cli(t, url, "bench", "greeter.SayHello", `{"name":"x"}`, "--calls", "400", "--clients", "4", "--progress", "always")
		if code != 0 {
			t.Fatalf("status %d: %s", code, errOut)
		}
		for _, want := range []string{"bench greeter.SayHello: 4 clients, 400 calls, balanced", "calls      400 in ", "errors     0", "latency    p50 ", " p90 ", " p99 ", " max ", "(of 400 successful calls)", "│█"} {
			if !strings.Contains(out, want) {
				t.Errorf("bench output lacks %q:\n%s", want, out)
			}
		}
		if !strings.Contains(errOut, "] 100%") && !strings.Contains(errOut, "calls") {
			t.Errorf("no progress bar on stderr: %q", errOut)
		}
		// Histogram bars add up to the calls.
		total := 0
		for _, line := range strings.Split(out, "\n") {
			if i := strings.Index(line, "│"); i >= 0 {
				f := strings.Fields(line[i:])
				n := strings.ReplaceAll(f[len(f)-2], ",", "")
				var v int
				for _, r := range n {
					v = v*10 + int(r-'0')
				}
				total += v
			}
		}
		if total != 400 {
			t.Errorf("histogram counts add to %d, want 400:\n%s", total, out)
		}

		// Errors are counted by code, and a run where every call fails exits 1.
		out, _, code = cli(t, url, "bench", "greeter.Fail", "--calls", "50", "--clients", "2")
		if code != 1 || !strings.Contains(out, "errors     50 (100.0%): not_found 50") || !strings.Contains(out, "no call succeeded") {
			t.Fatalf("bench Fail: status %d:\n%s", code, out)
		}
		// A run by duration.
		out, _, code = cli(t, url, "bench", "greeter.SayHello", `{"name":"x"}`, "--duration", "300ms", "--pattern", "available")
		if code != 0 || !strings.Contains(out, "for 300ms, available") || !strings.Contains(out, "errors     0") {
			t.Fatalf("bench --duration: status %d:\n%s", code, out)
		}
	})
}
