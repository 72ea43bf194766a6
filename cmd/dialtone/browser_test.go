package main

import (
	"context"
	"encoding/json"
	"flag"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/dialtone-dev/dialtone"
	"github.com/dialtone-dev/dialtone/event"
	"github.com/dialtone-dev/dialtone/examples/hello/greeter"
	"github.com/dialtone-dev/dialtone/internal/bustest"
	"github.com/dialtone-dev/dialtone/rpc"
	"github.com/dialtone-dev/dialtone/service"
)

var screenshotPath = flag.String("screenshot", "", "also save the dashboard screenshot here, relative to the module root (docs/dashboard.png updates the README's)")

// findChromium looks for a Chromium to drive: $DIALTONE_CHROMIUM, then the
// names Debian and others install it under. Without one the test skips, except
// in CI (CI=true), where it fails: .ci/run installs Debian's chromium.
func findChromium(t *testing.T) string {
	if p := os.Getenv("DIALTONE_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no chromium on PATH: CI must run the browser test (apt-get install chromium)")
	}
	t.Skip("no chromium on PATH; install it (apt-get install chromium) to run the browser test")
	return ""
}

// browser starts a headless Chromium with a fresh profile and returns a context
// for chromedp actions.
func browser(t *testing.T) context.Context {
	path := findChromium(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1440, 1000),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("mute-audio", true),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelBrowser := chromedp.NewContext(actx, chromedp.WithErrorf(t.Logf))
	t.Cleanup(func() { cancelBrowser(); cancelAlloc() })
	// The first action starts the browser, which lives as long as ctx: it must
	// not run under a timeout. Each step after it has its own.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", path, err)
	}
	return ctx
}

// startInventory starts an instance of a second service, "inventory", whose
// Reserve endpoint has a richer schema and fails one call in ten. It consumes
// the event OrderPlaced on its queue group and publishes StockLow.
func startInventory(t *testing.T, url string) {
	nc := bustest.Connect(t, url)
	svc, err := service.New(nc, service.Config{Name: "inventory", Version: "2.3.1"}, service.WithMaxConcurrent(16))
	if err != nil {
		t.Fatal(err)
	}
	type reserve struct {
		SKU      string `json:"sku"`
		Quantity int    `json:"quantity"`
		Express  bool   `json:"express,omitempty"`
	}
	type reserved struct {
		Left int `json:"left"`
	}
	var n atomic.Int64
	err = service.Handle(svc, "Reserve", func(ctx context.Context, r *reserve) (*reserved, error) {
		time.Sleep(time.Duration(200+rand.IntN(600)) * time.Microsecond)
		if n.Add(1)%10 == 0 {
			return nil, dialtone.Errorf(dialtone.CodeResourceExhausted, "out of stock: %s", r.SKU)
		}
		return &reserved{Left: 41}, nil
	}, service.WithSchema(`{"type":"object","properties":{"sku":{"type":"string","minLength":1,"description":"Stock keeping unit."},`+
		`"quantity":{"type":"integer","minimum":1,"maximum":100},"express":{"type":"boolean"}},"required":["sku","quantity"]}`,
		`{"type":"object","properties":{"left":{"type":"integer"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	placed := event.NewTopic[orderPlaced](event.Spec{Name: "OrderPlaced", Subject: "orders.OrderPlaced"})
	if err := event.Subscribe(svc, placed, func(context.Context, *orderPlaced) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if err := event.NewPublisher(nc, event.WithService(svc)).Declare(event.Spec{Name: "StockLow", Subject: "inventory.StockLow"}); err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Stop(context.Background()) })
}

// load calls the services at a rate that changes every two seconds, so the
// charts have a shape: greeter.SayHello, greeter.Fail (one call in 20) and
// inventory.Reserve. It runs until stop is called.
func load(t *testing.T, url string) (stop func()) {
	nc := bustest.Connect(t, url)
	c := greeter.NewGreeterClient(rpc.NewClient(nc))
	rc := rpc.NewClient(nc)
	done := make(chan struct{})
	var wg sync.WaitGroup
	call := func(i int) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		switch {
		case i%20 == 0:
			_, _ = rc.CallRaw(ctx, rpc.Spec{Service: "greeter", Name: "Fail"}, []byte("{}"), nil)
		case i%4 == 1:
			_, _ = rc.CallRaw(ctx, rpc.Spec{Service: "inventory", Name: "Reserve"}, []byte(`{"sku":"A-1","quantity":2}`), nil)
		default:
			_, _ = c.SayHello(ctx, &greeter.HelloRequest{Name: "load"})
		}
	}
	rates := []int{150, 320, 220, 420, 260, 360} // calls per second, two seconds each, then again
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			for i := w; ; i += 4 {
				rate := rates[int(time.Since(start)/(2*time.Second))%len(rates)]
				select {
				case <-done:
					return
				case <-time.After(4 * time.Second / time.Duration(rate)):
				}
				call(i)
			}
		}()
	}
	var once sync.Once
	stop = func() { once.Do(func() { close(done); wg.Wait() }) }
	t.Cleanup(stop)
	return stop
}

// TestDashboardInBrowser drives the dashboard in headless Chromium and checks
// what a person would: the services and instances appear, an instance that
// drains shows draining and then leaves, a killed one expires, charts move when
// load runs, and a call made in the explorer shows its reply or its error.
func TestDashboardInBrowser(t *testing.T) {
	ctx := browser(t)
	url := bustest.Busd(t)
	a := startGreeter(t, url, "1.0.0")
	b := startGreeter(t, url, "1.1.0")
	doomed := startGreeter(t, url, "1.1.0")
	startInventory(t, url)

	// Polled ten times a second with 12 seconds of history, the charts fill
	// within the test; the defaults are 1s and 5 minutes.
	d := startCLI(t, url, "dash", "--listen", "127.0.0.1:0", "--interval", "100ms", "--history", "12s")
	line := d.expect(t, 10*time.Second, "dashboard for", "on http://")
	page := strings.Fields(line[strings.Index(line, "http://"):])[0]

	card := func(id string) string { return `[data-instance="` + id + `"].instance` }
	step := func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, 20*time.Second) }
	wait := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := step()
		defer cancel()
		if err := chromedp.Do(sctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	pollJS := func(sctx context.Context, js string) error {
		_, err := chromedp.Run(sctx, chromedp.Poll[chromedp.Void](js, chromedp.WithPollingTimeout(15*time.Second), chromedp.WithPollingInterval(50*time.Millisecond)))
		return err
	}
	poll := func(what, js string) {
		t.Helper()
		sctx, cancel := step()
		defer cancel()
		if err := pollJS(sctx, js); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	// shows waits until the text of the element sel passes test, a JavaScript
	// expression of t (the element's innerText), and otherwise fails with the
	// text the element last had. The page is live: a tick or an event may
	// re-render any part of it at any moment, so the element is looked up and
	// read in one evaluation each time, never through a node found earlier.
	shows := func(what, sel, test string) {
		t.Helper()
		q, _ := json.Marshal(sel)
		read := `(() => { const e = document.querySelector(` + string(q) + `); return e ? e.innerText : null; })()`
		sctx, cancel := step()
		defer cancel()
		if err := pollJS(sctx, `(() => { const t = `+read+`; return t !== null && (`+test+`); })()`); err != nil {
			rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
			defer rcancel()
			got, rerr := chromedp.Run(rctx, chromedp.Evaluate[*string](read))
			switch {
			case rerr != nil:
				t.Errorf("%s: %v (and reading %s: %v)", what, err, sel, rerr)
			case got == nil:
				t.Errorf("%s: no element %s", what, sel)
			default:
				t.Errorf("%s: %q", what, *got)
			}
		}
	}
	// has is a test for shows: the text holds every part.
	has := func(parts ...string) string {
		b, _ := json.Marshal(parts)
		return string(b) + `.every((p) => t.includes(p))`
	}
	is := func(s string) string { b, _ := json.Marshal(s); return "t === " + string(b) }
	startsWith := func(s string) string { b, _ := json.Marshal(s); return "t.startsWith(" + string(b) + ")" }
	visible := func(sel string) chromedp.Action[chromedp.Void] { return chromedp.WaitVisible(chromedp.CSS(sel)) }
	gone := func(sel string) chromedp.Action[chromedp.Void] { return chromedp.WaitNotPresent(chromedp.CSS(sel)) }
	js := func(expr string) chromedp.Action[chromedp.Void] { return chromedp.Evaluate[chromedp.Void](expr) }
	click := func(sel string) chromedp.Action[chromedp.Void] { return chromedp.Click(chromedp.CSS(sel)) }
	typeIn := func(sel, v string) chromedp.Action[chromedp.Void] { return chromedp.SendKeys(chromedp.CSS(sel), v) }

	// Services and instances appear, each with its version, status and load.
	wait("open the dashboard", chromedp.Navigate(page),
		visible(`article[data-service="greeter"]`),
		visible(card(a.svc.ID())),
		visible(card(b.svc.ID())),
		visible(card(doomed.svc.ID())))
	for _, c := range []struct {
		in      *instance
		version string
	}{{a, "v1.0.0"}, {b, "v1.1.0"}} {
		shows("the card of "+c.in.svc.ID(), card(c.in.svc.ID()), has(c.in.svc.ID(), c.version, "up", "load 0/8", "0 queued", "up "))
	}
	shows("the summary", "#summary", startsWith("2 services · 4 instances"))
	shows("the live badge", "#live", is("live"))

	// A service's card shows the events it publishes and consumes, and the
	// "who listens to what" panel lists each subject's publishers and consumers.
	consumed := `article[data-service="inventory"] .svc-events li[data-event-role="consume"][data-event-name="OrderPlaced"]`
	wait("inventory's events", visible(consumed),
		visible(`article[data-service="inventory"] .svc-events li[data-event-role="publish"][data-event-name="StockLow"]`))
	shows("inventory's OrderPlaced", consumed, has("consumes", "OrderPlaced", "orders.OrderPlaced", "queue inventory"))
	shows("who listens to orders.OrderPlaced", `#wiring li[data-subject="orders.OrderPlaced"]`, has("no publisher running", "inventory (queue inventory)"))
	shows("who listens to inventory.StockLow", `#wiring li[data-subject="inventory.StockLow"]`, has("inventory", "nobody listens"))

	// A tick that changes nothing rebuilds nothing: the cards, the event lists
	// and the endpoint rows stay the same elements, so a selection, a hovered
	// tooltip or a node a script holds survives it (only the charts are
	// redrawn). Five ticks are watched; the fleet does not change meanwhile.
	wait("watch the page for five ticks", js(`window.rebuilt = [];
		window.untilTick = state.now + 5 * state.interval;
		window.watcher = new MutationObserver((ms) => { for (const m of ms) for (const n of m.removedNodes)
			if (n.nodeType === 1 && !(n instanceof SVGElement)) rebuilt.push(n.outerHTML.slice(0, 100)); });
		for (const id of ['fleet', 'wiring', 'events']) watcher.observe(document.getElementById(id), { childList: true, subtree: true });`))
	poll("five ticks", `state.now >= window.untilTick`)
	if rebuilt, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`watcher.disconnect(); rebuilt`)); err != nil || len(rebuilt) > 0 {
		t.Errorf("five ticks that changed nothing removed %d elements (%v), first %q", len(rebuilt), err, rebuilt[:min(len(rebuilt), 3)])
	}

	// An instance that joins now appears, and the log says so.
	joiner := startGreeter(t, url, "1.1.0")
	wait("a new instance's card", visible(card(joiner.svc.ID())),
		visible(`#events li[data-event="joined"][data-instance="`+joiner.svc.ID()+`"]`))

	// Charts move when load runs: the rate goes above zero and the line climbs.
	stopLoad := load(t, url)
	row := `tr[data-endpoint="greeter.SayHello"]`
	poll("the request rate rises", `Number(document.querySelector('`+row+`')?.dataset.rps) > 50`)
	poll("the rate chart draws a line", `(() => { const p = document.querySelector('`+row+` polyline.rate');
		return p && p.points.length >= 2 && Number(p.closest('svg').dataset.max) > 50; })()`)
	poll("the latency chart draws a line", `!!document.querySelector('`+row+` polyline.avg')`)
	poll("errors show on Fail", `(() => { const r = document.querySelector('tr[data-endpoint="greeter.Fail"]');
		return r && r.textContent.includes('last error: not_found'); })()`)

	// The explorer: a form from the request schema; a call shows its reply.
	choose := func(endpoint string) chromedp.Action[chromedp.Void] {
		return js(`(() => { const s = document.getElementById('ex-endpoint'); s.value = '` + endpoint + `';
			s.dispatchEvent(new Event('change')); })()`)
	}
	wait("the endpoints of greeter in the explorer", chromedp.WaitReady(chromedp.CSS(`#ex-endpoint option[value="SayHello"]`)))
	wait("the explorer's form", choose("SayHello"), visible(`#ex-form input[name="name"]`))
	shows("the name field's hint", `#ex-form [data-field="name"]`, has("Name is who to greet; at most 64 characters"))
	wait("call SayHello", typeIn(`#ex-form input[name="name"]`, "Ada"),
		click(`#ex-send`))
	poll("the reply shows", `document.getElementById('ex-result').textContent.includes('"message": "Hello, Ada!"')`)
	shows("the status after a good call", "#ex-status", startsWith("✓ reply in"))
	// A request that fails the schema is not sent; the field is marked.
	wait("call with no name", js(`document.querySelector('#ex-form input[name="name"]').value = '';
		document.getElementById('ex-form').dispatchEvent(new Event('input'))`), click(`#ex-send`))
	poll("the schema error shows", `document.getElementById('ex-result').textContent.includes('field "name" is required')`)
	poll("the field is marked", `document.querySelector('#ex-form [data-field="name"]').classList.contains('invalid')`)
	// A typed error shows its code, message and details.
	wait("call Fail", choose("Fail"), click(`#ex-send`))
	poll("the typed error shows", `(() => { const t = document.getElementById('ex-result').textContent;
		return t.includes('not_found (404)') && t.includes('nobody is here') && t.includes('"who": "nobody"'); })()`)

	// A killed instance expires.
	doomed.kill()
	wait("the killed instance expires", visible(`#events li[data-event="expired"][data-instance="`+doomed.svc.ID()+`"]`),
		gone(card(doomed.svc.ID())))

	// An instance that drains shows draining, then leaves. A request held in
	// its handler keeps it draining until released (a.unblock below; the
	// handler's own limit, a minute, only ends a test that failed to get there).
	held := startCLI(t, url, "call", "greeter.Hold", `{"ms":60000}`, "--instance", a.svc.ID(), "--timeout", "90s")
	a.waitHeld(t)
	stopped := make(chan error, 1)
	go func() { stopped <- a.svc.Stop(context.Background()) }()
	wait("the draining instance", visible(card(a.svc.ID())+`[data-status="draining"]`),
		visible(`#events li[data-event="draining"][data-instance="`+a.svc.ID()+`"]`))

	// The moment to photograph: load running long enough to draw the charts,
	// one instance draining, a reply in the explorer, events in the log.
	// Ten seconds by the samples' own times, not a count of ticks: a busy
	// machine may tick less often than asked.
	poll("ten seconds of load on the chart", `(() => { const l = state.series.get('greeter.SayHello').samples.filter((p) => p.rps > 0);
		return l.length >= 2 && l[l.length - 1].t - l[0].t >= 10000; })()`)
	wait("call SayHello again", choose("SayHello"),
		visible(`#ex-form input[name="name"]`),
		typeIn(`#ex-form input[name="name"]`, "Ada"),
		click(`#ex-send`))
	poll("the reply shows again", `document.getElementById('ex-result').textContent.includes('"message": "Hello, Ada!"')`)
	sctx, cancel := step()
	png, err := chromedp.Run(sctx, chromedp.CaptureScreenshot())
	cancel()
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	out := filepath.Join(t.TempDir(), "dashboard.png")
	if *screenshotPath != "" {
		out = *screenshotPath
		if !filepath.IsAbs(out) {
			out = filepath.Join("..", "..", out) // tests run in cmd/dialtone
		}
	}
	if err := os.WriteFile(out, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", out, len(png))

	a.unblock()
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	if code := held.wait(t); code != 0 {
		t.Errorf("the held call failed during the drain: %s", held.stderr)
	}
	wait("the drained instance leaves", visible(`#events li[data-event="left"][data-instance="`+a.svc.ID()+`"]`),
		gone(card(a.svc.ID())))
	stopLoad()
	if code := d.stop(t); code != 0 {
		t.Errorf("dash ended with status %d: %s", code, d.stderr)
	}
}
