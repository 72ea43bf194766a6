package main

import (
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/dialtone-dev/dialtone/cmd/dialtone/internal/fleet"
)

func (a *app) lsCommand() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "ls [SERVICE...]",
		Short: "List services and their instances, from heartbeats",
		Long: `ls lists the running services and their instances, as their heartbeats
describe them: id, version, status (up or draining), load (handlers in flight /
capacity), requests queued for a slot, uptime, endpoints and, for an instance
that publishes or consumes events, its events: pub:Name for one it publishes,
sub:Name(queue group) for one it consumes on a queue group, sub:Name(broadcast)
for one every instance receives. --json gives each event's subject too.`,
		Example: "  dialtone ls\n  dialtone ls greeter --json",
		RunE: func(cmd *cobra.Command, args []string) error {
			f, done, err := a.open(cmd.Context(), false)
			if err != nil {
				return err
			}
			defer done()
			svcs := f.Services(args...)
			if asJSON {
				return writeJSON(a.stdout, map[string]any{"server": f.URL(), "services": orEmpty(svcs)})
			}
			if len(args) > 0 && len(svcs) < len(args) {
				for _, name := range args {
					if len(f.Instances(name)) == 0 {
						return fmt.Errorf("no service %q on %s (dialtone ls lists what runs)", name, f.URL())
					}
				}
			}
			if len(svcs) == 0 {
				fmt.Fprintf(a.stdout, "no services on %s\n", f.URL())
				return nil
			}
			for i, s := range svcs {
				if i > 0 {
					fmt.Fprintln(a.stdout)
				}
				fmt.Fprintf(a.stdout, "%s: %d instance%s, version %s\n", s.Name, len(s.Instances), plural(len(s.Instances)), strings.Join(s.Versions, ", "))
				tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
				withEvents := slices.ContainsFunc(s.Instances, func(in fleet.Instance) bool { return len(in.Events) > 0 })
				head := "  ID\tVERSION\tSTATUS\tLOAD\tQUEUED\tUPTIME\tENDPOINTS"
				if withEvents {
					head += "\tEVENTS"
				}
				fmt.Fprintln(tw, head)
				for _, in := range s.Instances {
					eps := make([]string, len(in.Endpoints))
					for i, ep := range in.Endpoints {
						eps[i] = ep.Name
					}
					line := fmt.Sprintf("  %s\t%s\t%s\t%d/%d\t%d\t%s\t%s", in.ID, in.Version, in.Status,
						in.InFlight, in.Capacity, in.Queued, human(in.Uptime().Truncate(time.Second)), strings.Join(eps, " "))
					if withEvents {
						evs := make([]string, len(in.Events))
						for i, ev := range in.Events {
							evs[i] = ev.String()
						}
						line += "\t" + strings.Join(evs, " ")
					}
					fmt.Fprintln(tw, line)
				}
				if err := tw.Flush(); err != nil {
					return err
				}
			}
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON, for scripts")
	return c
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// orEmpty makes a nil slice print as [] in JSON.
func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
