package callbench

import (
	"fmt"
	"io"
)

// Report writes the table of one run: latency and throughput per kind, and their
// ratios to raw and to nats-json (the first two kinds; with fewer kinds, to the
// first).
func Report(w io.Writer, lat []Latency, tput []float64) {
	json := min(1, len(lat)-1)
	fmt.Fprintf(w, "%-14s %9s %9s %9s %10s %11s %10s\n", "kind", "p50 µs", "p99 µs", "p50/raw", "p50/json", "calls/s", "tput/raw")
	for i, l := range lat {
		fmt.Fprintf(w, "%-14s %9.1f %9.1f %9.3f %10.3f", l.Name, us(l.P50), us(l.P99),
			float64(l.P50)/float64(lat[0].P50), float64(l.P50)/float64(lat[json].P50))
		if i < len(tput) {
			fmt.Fprintf(w, " %11.0f %10.3f", tput[i], tput[i]/tput[0])
		}
		fmt.Fprintln(w)
	}
}

func us(d interface{ Nanoseconds() int64 }) float64 { return float64(d.Nanoseconds()) / 1e3 }
