// Command importbench measures a service call through an account import
// against the same call inside one account, on any NATS-protocol server
// started with accounts.conf (in this directory): the responder connects as
// svc (account SVC); the requester as svc (same account) or as cli (account
// CLI, through the import). It prints, per mode, the sequential round trip
// (p50, p99) and the throughput with 16 requests in flight, and the
// import/same ratios.
//
//	taskset -c 1 busd -c busd/internal/importbench/accounts.conf -p 34225 &
//	taskset -c 1 nats-server -c busd/internal/importbench/accounts.conf -p 34226 &
//	taskset -c 0 go run ./busd/internal/importbench -addr 127.0.0.1:34225 -vs 127.0.0.1:34226
//
// Rounds alternate the modes (and the servers, with -vs) so that a noisy
// machine shifts them alike; the median round is reported.
package main

import (
	"flag"
	"fmt"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:4222", "server host:port")
	vs := flag.String("vs", "", "a second server host:port, measured alternately")
	n := flag.Int("n", 20000, "sequential requests per round")
	par := flag.Int("par", 16, "requests in flight for the throughput figure")
	rounds := flag.Int("rounds", 5, "rounds; the median is reported")
	flag.Parse()
	addrs := []string{*addr}
	if *vs != "" {
		addrs = append(addrs, *vs)
	}
	type key struct{ addr, mode string }
	p50s, p99s, rates := map[key][]float64{}, map[key][]float64{}, map[key][]float64{}
	for r := 0; r < *rounds; r++ {
		for _, a := range addrs {
			for _, mode := range []string{"same", "import"} {
				p50, p99, rate, err := measure(a, mode, *n, *par)
				if err != nil {
					fmt.Fprintln(os.Stderr, "importbench:", err)
					os.Exit(1)
				}
				k := key{a, mode}
				p50s[k], p99s[k], rates[k] = append(p50s[k], p50), append(p99s[k], p99), append(rates[k], rate)
			}
		}
	}
	for _, a := range addrs {
		for _, mode := range []string{"same", "import"} {
			k := key{a, mode}
			fmt.Printf("%s %s p50_us %.1f p99_us %.1f req_per_s %.0f\n", a, mode, median(p50s[k]), median(p99s[k]), median(rates[k]))
		}
		s, i := key{a, "same"}, key{a, "import"}
		fmt.Printf("%s import/same p50 %.2f p99 %.2f req_per_s %.2f\n", a,
			median(p50s[i])/median(p50s[s]), median(p99s[i])/median(p99s[s]), median(rates[i])/median(rates[s]))
	}
}

// measure runs one round of mode against addr.
func measure(addr, mode string, n, par int) (p50, p99, rate float64, err error) {
	resp, err := nats.Connect("nats://svc:pw@" + addr)
	if err != nil {
		return 0, 0, 0, err
	}
	defer resp.Close()
	if _, err := resp.Subscribe("svc.echo", func(m *nats.Msg) { _ = m.Respond(m.Data) }); err != nil {
		return 0, 0, 0, err
	}
	if err := resp.Flush(); err != nil {
		return 0, 0, 0, err
	}
	user := "svc"
	if mode == "import" {
		user = "cli"
	}
	nc, err := nats.Connect("nats://" + user + ":pw@" + addr)
	if err != nil {
		return 0, 0, 0, err
	}
	defer nc.Close()
	payload := []byte("0123456789abcdef")
	lat := make([]time.Duration, n)
	for i := range lat {
		start := time.Now()
		if _, err := nc.Request("svc.echo", payload, 5*time.Second); err != nil {
			return 0, 0, 0, err
		}
		lat[i] = time.Since(start)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	var done atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for range par {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for done.Add(1) <= int64(n) {
				if _, err := nc.Request("svc.echo", payload, 5*time.Second); err != nil {
					failed.Store(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err, ok := failed.Load().(error); ok {
		return 0, 0, 0, err
	}
	rate = float64(n) / time.Since(start).Seconds()
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	return us(lat[n/2]), us(lat[n*99/100]), rate, nil
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}
