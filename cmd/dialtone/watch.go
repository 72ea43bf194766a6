package main

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/spf13/cobra"
)

func (a *app) watchCommand() *cobra.Command {
	var asJSON, quietStart bool
	c := &cobra.Command{
		Use:   "watch [SERVICE...]",
		Short: "Print instances as they join, change, drain, leave and expire",
		Long: `watch follows the heartbeats and prints one line per event until interrupted:
joined (first heartbeat), changed (version, endpoints, metadata...), draining (a
graceful stop began), left (the final heartbeat) and expired (no heartbeat for 3
promised intervals: killed, hung or cut off). It starts with a "joined" line for
every instance already running, unless --new.`,
		Example: "  dialtone watch\n  dialtone watch greeter --json",
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			f, done, err := a.open(ctx, true)
			if err != nil {
				return err
			}
			defer done()
			skip := map[string]bool{}
			if quietStart {
				for _, s := range f.Services() {
					for _, in := range s.Instances {
						skip[in.ID] = true
					}
				}
			}
			if !asJSON {
				fmt.Fprintf(a.stdout, "watching %s (Ctrl-C stops)\n", f.URL())
			}
			enc := json.NewEncoder(a.stdout)
			for ev := range f.Watch(ctx) {
				if len(args) > 0 && !slices.Contains(args, ev.Instance.Service) {
					continue
				}
				if ev.Type == "joined" && skip[ev.Instance.ID] {
					delete(skip, ev.Instance.ID)
					continue
				}
				if asJSON {
					if err := enc.Encode(ev); err != nil {
						return err
					}
					continue
				}
				in := ev.Instance
				if ev.Dropped > 0 {
					fmt.Fprintf(a.stdout, "(%d events dropped: this terminal did not keep up)\n", ev.Dropped)
				}
				fmt.Fprintf(a.stdout, "%s  %-8s  %s %s  version %s  %s  load %d/%d\n",
					ev.Time.Format("15:04:05.000"), ev.Type, in.Service, in.ID, in.Version, in.Status, in.InFlight, in.Capacity)
			}
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per event")
	c.Flags().BoolVar(&quietStart, "new", false, "skip the instances running when watch starts")
	return c
}
