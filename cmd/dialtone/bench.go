package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/dialtone-dev/dialtone/cmd/dialtone/internal/fleet"
)

// benchResult is what a bench run measured.
type benchResult struct {
	elapsed   time.Duration
	calls     int64
	errors    int64
	byCode    map[string]int64
	latencies []time.Duration // successful calls, sorted
}

func (r *benchResult) percentile(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(r.latencies)))) - 1
	return r.latencies[min(max(i, 0), len(r.latencies)-1)]
}

// runBench calls c from clients goroutines until ctx ends or calls calls have
// been made (calls <= 0: no limit). progress, if set, is called about ten times a
// second with the calls and errors so far.
func runBench(ctx context.Context, c *fleet.Caller, body []byte, clients int, calls int64, progress func(done, errs int64, elapsed time.Duration)) *benchResult {
	var issued, finished, failed atomic.Int64
	var mu sync.Mutex
	res := &benchResult{byCode: map[string]int64{}}
	var wg sync.WaitGroup
	start := time.Now()
	// A call cut short by the end of the run is not counted. The context's
	// deadline can pass a moment before ctx.Err() says so, and calls fail at once
	// in that moment, so look at the clock too.
	deadline, hasDeadline := ctx.Deadline()
	over := func() bool { return ctx.Err() != nil || hasDeadline && !time.Now().Before(deadline) }
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := make([]time.Duration, 0, 1024)
			codes := map[string]int64{}
			for !over() {
				if calls > 0 && issued.Add(1) > calls {
					break
				}
				reply, err := c.Call(ctx, body)
				if err != nil {
					if over() {
						break // the run ended during this call: not the service's error
					}
					failed.Add(1)
					codes[fleet.CallErrorOf(err).Name]++
				} else {
					lat = append(lat, reply.Duration)
				}
				finished.Add(1)
			}
			mu.Lock()
			res.latencies = append(res.latencies, lat...)
			for k, v := range codes {
				res.byCode[k] += v
			}
			mu.Unlock()
		}()
	}
	stop, stopped := make(chan struct{}), make(chan struct{})
	if progress != nil {
		go func() {
			defer close(stopped)
			t := time.NewTicker(100 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-t.C:
					progress(finished.Load(), failed.Load(), time.Since(start))
				case <-stop:
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	if progress != nil {
		<-stopped
		progress(finished.Load(), failed.Load(), time.Since(start)) // the bar at its end
	}
	res.elapsed = time.Since(start)
	res.calls = finished.Load()
	res.errors = failed.Load()
	slices.Sort(res.latencies)
	return res
}

// progressBar draws one line, rewritten in place: the share of the run done,
// calls, rate and errors.
func progressBar(w io.Writer, frac float64, done, errs int64, elapsed time.Duration) {
	const width = 30
	frac = min(max(frac, 0), 1)
	n := int(frac * width)
	rate := 0.0
	if elapsed > 0 {
		rate = float64(done) / elapsed.Seconds()
	}
	fmt.Fprintf(w, "\r[%s%s] %3.0f%%  %s calls  %s/s  %s errors ", strings.Repeat("█", n), strings.Repeat("░", width-n),
		frac*100, count(done), count(int64(rate)), count(errs))
}

// printBench writes the summary: throughput, percentiles, errors by code and a
// latency histogram.
func printBench(w io.Writer, r *benchResult) {
	secs := r.elapsed.Seconds()
	fmt.Fprintf(w, "calls      %s in %s: %s calls/s\n", count(r.calls), human(r.elapsed.Round(time.Millisecond)), count(int64(float64(r.calls)/math.Max(secs, 1e-9))))
	if r.errors == 0 {
		fmt.Fprintf(w, "errors     0\n")
	} else {
		codes := make([]string, 0, len(r.byCode))
		for k := range r.byCode {
			codes = append(codes, k)
		}
		sort.Slice(codes, func(i, j int) bool { return r.byCode[codes[i]] > r.byCode[codes[j]] })
		parts := make([]string, len(codes))
		for i, k := range codes {
			parts[i] = fmt.Sprintf("%s %s", k, count(r.byCode[k]))
		}
		fmt.Fprintf(w, "errors     %s (%s): %s\n", count(r.errors), errorRate(r.errors, r.calls), strings.Join(parts, ", "))
	}
	if len(r.latencies) == 0 {
		fmt.Fprintln(w, "latency    no call succeeded")
		return
	}
	fmt.Fprintf(w, "latency    p50 %s  p90 %s  p99 %s  max %s  (of %s successful calls)\n",
		human(r.percentile(50)), human(r.percentile(90)), human(r.percentile(99)), human(r.latencies[len(r.latencies)-1]), count(len(r.latencies)))
	fmt.Fprintln(w)
	writeHistogram(w, r.latencies, 12, 40)
}

// writeHistogram draws sorted latencies in buckets spaced evenly on a log scale
// from the fastest to the slowest call, one bar per bucket.
func writeHistogram(w io.Writer, sorted []time.Duration, buckets, width int) {
	lo, hi := float64(max(sorted[0], 1)), float64(max(sorted[len(sorted)-1], 1))
	if hi <= lo*1.0001 {
		buckets = 1
	}
	bounds := make([]time.Duration, buckets)
	for i := range bounds {
		bounds[i] = time.Duration(lo * math.Pow(hi/lo, float64(i+1)/float64(buckets)))
	}
	bounds[buckets-1] = sorted[len(sorted)-1]
	counts := make([]int, buckets)
	b := 0
	for _, d := range sorted {
		for b < buckets-1 && d > bounds[b] {
			b++
		}
		counts[b]++
	}
	most := slices.Max(counts)
	label := make([]string, buckets)
	lw := 0
	for i, bd := range bounds {
		label[i] = "≤ " + human(bd)
		lw = max(lw, len([]rune(label[i])))
	}
	for i, n := range counts {
		bar := int(math.Round(float64(n) / float64(most) * float64(width)))
		if n > 0 && bar == 0 {
			bar = 1
		}
		pad := strings.Repeat(" ", lw-len([]rune(label[i])))
		fmt.Fprintf(w, "  %s%s │%s%s %s (%.1f%%)\n", pad, label[i], strings.Repeat("█", bar), strings.Repeat(" ", width-bar),
			count(n), 100*float64(n)/float64(len(sorted)))
	}
}

func (a *app) benchCommand() *cobra.Command {
	var cf callFlags
	var clients int
	var duration time.Duration
	var calls int64
	var progress string
	c := &cobra.Command{
		Use:   "bench SERVICE.ENDPOINT [JSON|-]",
		Short: "Load an endpoint and report throughput, latency percentiles and errors",
		Long: `bench calls an endpoint from --clients concurrent callers, each waiting for its
reply before the next call, for --duration or until --calls calls are made. It
shows a progress bar while it runs, then the throughput, p50/p90/p99/max latency
of the successful calls, errors by code, and a latency histogram. The request is
checked against the endpoint's schema once, before the run.`,
		Example: `  dialtone bench greeter.SayHello '{"name":"Ada"}' --clients 8 --duration 10s
  dialtone bench greeter.SayHello '{"name":"Ada"}' --calls 10000 --pattern available`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := cf.options()
			if err != nil {
				return err
			}
			if clients < 1 {
				return usagef("--clients must be at least 1")
			}
			if calls < 0 || duration < 0 {
				return usagef("--calls and --duration cannot be negative")
			}
			if calls == 0 && duration == 0 {
				duration = 10 * time.Second
			}
			var showProgress bool
			switch progress {
			case "auto":
				showProgress = isTerminal(a.stderr)
			case "always":
				showProgress = true
			case "never":
			default:
				return usagef("--progress %q: use auto, always or never", progress)
			}
			ctx := cmd.Context()
			f, done, err := a.open(ctx, true)
			if err != nil {
				return err
			}
			defer done()
			ep, body, err := a.target(ctx, f, args[0], args[1:])
			if err != nil {
				return err
			}
			caller, err := f.Caller(ep, o)
			if err != nil {
				return err
			}
			runCtx := ctx
			if duration > 0 {
				var cancel context.CancelFunc
				runCtx, cancel = context.WithTimeout(ctx, duration)
				defer cancel()
			}
			pattern, _ := fleet.ParsePattern(cf.pattern)
			if cf.instance != "" {
				pattern = "instance " + cf.instance
			}
			limit := "for " + human(duration)
			if calls > 0 {
				limit = count(calls) + " calls"
				if duration > 0 {
					limit += " or " + human(duration)
				}
			}
			fmt.Fprintf(a.stdout, "bench %s.%s: %d client%s, %s, %s\n", ep.Service, ep.Name, clients, plural(clients), limit, pattern)
			var onProgress func(int64, int64, time.Duration)
			if showProgress {
				onProgress = func(n, errs int64, elapsed time.Duration) {
					frac := 0.0
					if duration > 0 {
						frac = elapsed.Seconds() / duration.Seconds()
					}
					if calls > 0 {
						frac = max(frac, float64(n)/float64(calls))
					}
					progressBar(a.stderr, frac, n, errs, elapsed)
				}
			}
			res := runBench(runCtx, caller, body, clients, calls, onProgress)
			if showProgress {
				fmt.Fprint(a.stderr, "\r\033[K")
			}
			if ctx.Err() != nil {
				fmt.Fprintln(a.stdout, "interrupted: the figures cover the calls made until then")
			}
			printBench(a.stdout, res)
			if res.calls > 0 && res.errors == res.calls {
				return exitError{exitFail}
			}
			return nil
		},
	}
	cf.add(c)
	c.Flags().IntVarP(&clients, "clients", "c", 4, "concurrent callers")
	c.Flags().DurationVarP(&duration, "duration", "d", 0, "how long to run (default 10s unless --calls)")
	c.Flags().Int64VarP(&calls, "calls", "n", 0, "stop after this many calls")
	c.Flags().StringVar(&progress, "progress", "auto", "progress bar: auto (when stderr is a terminal), always or never")
	return c
}
