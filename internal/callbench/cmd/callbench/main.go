// Command callbench measures a Dialtone call against a raw nats.go request and a
// hand-written nats.go + encoding/json caller and responder, with the caller and
// the responders in separate processes (see package callbench for the kinds).
// Pinned as busbench is, caller on CPU 0, bus and responders on CPU 1:
//
//	go build -o /tmp/busd ./busd && go build -o /tmp/callbench ./internal/callbench/cmd/callbench
//	taskset -c 1 /tmp/busd -a 127.0.0.1 -p 54222 &
//	taskset -c 1 /tmp/callbench -url nats://127.0.0.1:54222 -serve &
//	taskset -c 0 /tmp/callbench -url nats://127.0.0.1:54222 -rounds 20000 -runs 3
//
// Each run prints p50 and p99 per kind from one interleaved loop, then
// throughput from alternating bursts of 8 concurrent callers. "raw-again" is raw
// a second time: its ratio to raw is the noise of the run.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/dialtone-dev/dialtone/internal/callbench"
)

func main() {
	url := flag.String("url", nats.DefaultURL, "bus URL")
	serve := flag.Bool("serve", false, "run the responders until interrupted, instead of calling")
	rounds := flag.Int("rounds", 20000, "interleaved rounds (one call of each kind per round)")
	workers := flag.Int("workers", 8, "concurrent callers in the throughput bursts")
	trounds := flag.Int("trounds", 10, "throughput rounds (one burst of each kind per round)")
	per := flag.Int("per", 8000, "calls per burst")
	runs := flag.Int("runs", 1, "independent runs, one table each")
	pids := flag.String("pids", "", "comma-separated `pids` (e.g. busd's and the responders') whose CPU time per call to report, with the caller's own")
	detail := flag.Bool("detail", false, "add sdk-client and sdk-service, which split typed's cost between caller and service")
	only := flag.String("only", "", "comma-separated `kinds` to run, e.g. typed to profile one kind alone (default all)")
	cpuprofile := flag.String("cpuprofile", "", "write this process's CPU profile (the caller's, or with -serve the responders') to `file`")
	flag.Parse()
	if *cpuprofile != "" {
		stop := profile(*cpuprofile)
		defer stop()
	}
	log.SetFlags(0)

	// Recording, never collected: what an SDK MeterProvider costs per call.
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	connect := func() (*nats.Conn, error) { return nats.Connect(*url, nats.Name("callbench")) }
	if *serve {
		stop, err := callbench.Serve(connect, mp)
		if err != nil {
			log.Fatal(err)
		}
		ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer cancel()
		fmt.Println("callbench: serving on", *url)
		<-ctx.Done()
		stop()
		return
	}
	nc, err := connect()
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	kinds := callbench.Kinds(nc, mp)
	kinds = append(kinds, callbench.Kind{Name: "raw-again", Call: kinds[0].Call})
	if *detail {
		kinds = append(kinds, callbench.DetailKinds(nc)...)
	}
	if *only != "" {
		want := strings.Split(*only, ",")
		kinds = slices.DeleteFunc(kinds, func(k callbench.Kind) bool { return !slices.Contains(want, k.Name) })
		if len(kinds) == 0 {
			log.Fatalf("-only %s: no such kind", *only)
		}
	}
	for r := range *runs {
		lat, err := callbench.Interleaved(kinds, *rounds, 500)
		if err != nil {
			log.Fatal(err)
		}
		var cpu func() []time.Duration
		if *pids != "" {
			cpu = cpuReader(strings.Split(*pids, ","))
		}
		tput, used, err := callbench.ThroughputCPU(kinds, *workers, *trounds, *per, cpu)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("run %d: %d interleaved rounds; throughput %d rounds of %d calls from %d callers\n", r+1, *rounds, *trounds, *per, *workers)
		callbench.Report(os.Stdout, lat, tput)
		if cpu != nil {
			fmt.Printf("CPU µs per call during the throughput bursts: caller, then pids %s\n", *pids)
			for i, k := range kinds {
				fmt.Printf("%-14s", k.Name)
				for _, d := range used[i] {
					fmt.Printf(" %8.2f", float64(d.Nanoseconds())/1e3)
				}
				fmt.Println()
			}
		}
	}
}

// cpuReader returns a function that reads the CPU time (user and system) used so
// far by this process and by each of pids, from /proc (Linux).
func cpuReader(pids []string) func() []time.Duration {
	const tick = 10 * time.Millisecond // USER_HZ is 100 on Linux
	return func() []time.Duration {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		out := []time.Duration{time.Duration(ru.Utime.Nano() + ru.Stime.Nano())}
		for _, pid := range pids {
			b, err := os.ReadFile("/proc/" + strings.TrimSpace(pid) + "/stat")
			if err != nil {
				log.Fatalf("pid %s: %v", pid, err)
			}
			// Fields after the command name, which is in parentheses: utime is the
			// 14th field of the line, stime the 15th.
			f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
			ut, _ := strconv.ParseInt(f[11], 10, 64)
			st, _ := strconv.ParseInt(f[12], 10, 64)
			out = append(out, time.Duration(ut+st)*tick)
		}
		return out
	}
}

// profile starts a CPU profile written to path, sampled at 1 kHz rather than
// pprof's 100 Hz: a burst of calls is a few seconds.
func profile(path string) (stop func()) {
	f, err := os.Create(path)
	if err != nil {
		log.Fatal(err)
	}
	runtime.SetCPUProfileRate(1000)
	if err := pprof.StartCPUProfile(f); err != nil {
		log.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}
}
