package main

import (
	"fmt"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/dialtone-dev/dialtone/cmd/dialtone/internal/fleet"
)

// endpointTotal sums an endpoint's counters over instances.
type endpointTotal struct {
	service, name string
	instances     int
	requests      int64
	errors        int64
	processing    time.Duration
	p50, p99      time.Duration // the highest an instance reports
	lastError     string
}

func (t *endpointTotal) average() time.Duration {
	if t.requests == 0 {
		return 0
	}
	return t.processing / time.Duration(t.requests)
}

func totals(stats []fleet.InstanceStats) []*endpointTotal {
	var out []*endpointTotal
	find := func(svc, name string) *endpointTotal {
		for _, t := range out {
			if t.service == svc && t.name == name {
				return t
			}
		}
		t := &endpointTotal{service: svc, name: name}
		out = append(out, t)
		return t
	}
	for _, is := range stats {
		for _, ep := range is.Endpoints {
			t := find(is.Service, ep.Name)
			t.instances++
			t.requests += ep.Requests
			t.errors += ep.Errors
			t.processing += ep.ProcessingTime
			t.p50 = max(t.p50, ep.Latency.P50)
			t.p99 = max(t.p99, ep.Latency.P99)
			if ep.LastError != "" {
				t.lastError = ep.LastError
			}
		}
	}
	slices.SortStableFunc(out, func(a, b *endpointTotal) int {
		if a.service != b.service {
			if a.service < b.service {
				return -1
			}
			return 1
		}
		return 0
	})
	return out
}

func errorRate(errors, requests int64) string {
	if requests == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(errors)/float64(requests))
}

func (a *app) statsCommand() *cobra.Command {
	var asJSON, perInstance bool
	c := &cobra.Command{
		Use:   "stats [SERVICE]",
		Short: "Show requests, errors and latency per endpoint",
		Long: `stats asks the instances for their ADR-32 counters ($SRV.STATS) and shows, per
endpoint, the requests and errors since each instance started and the average
processing time. Where instances report latency percentiles in the stats' data
field, p50 and p99 are shown too (over instances: the highest).`,
		Example: "  dialtone stats\n  dialtone stats greeter --instances",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, done, err := a.open(cmd.Context(), false)
			if err != nil {
				return err
			}
			defer done()
			name := ""
			if len(args) == 1 {
				name = args[0]
			}
			stats, err := f.Stats(cmd.Context(), name)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(a.stdout, orEmpty(stats))
			}
			if len(stats) == 0 {
				fmt.Fprintf(a.stdout, "no services on %s\n", f.URL())
				return nil
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			if perInstance {
				fmt.Fprintln(tw, "SERVICE\tENDPOINT\tINSTANCE\tREQUESTS\tERRORS\tERROR %\tAVG\tP50\tP99\tLAST ERROR")
				for _, is := range stats {
					for _, ep := range is.Endpoints {
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", is.Service, ep.Name, is.ID,
							count(ep.Requests), count(ep.Errors), errorRate(ep.Errors, ep.Requests),
							latency(ep.Average), latency(ep.Latency.P50), latency(ep.Latency.P99), ep.LastError)
					}
				}
				return tw.Flush()
			}
			fmt.Fprintln(tw, "SERVICE\tENDPOINT\tINSTANCES\tREQUESTS\tERRORS\tERROR %\tAVG\tP50\tP99\tLAST ERROR")
			for _, t := range totals(stats) {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.service, t.name, t.instances,
					count(t.requests), count(t.errors), errorRate(t.errors, t.requests),
					latency(t.average()), latency(t.p50), latency(t.p99), t.lastError)
			}
			return tw.Flush()
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON, for scripts")
	c.Flags().BoolVar(&perInstance, "instances", false, "one line per instance instead of per endpoint")
	return c
}
