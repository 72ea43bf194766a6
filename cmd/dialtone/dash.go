package main

import (
	"fmt"
	"net"
	"time"

	"github.com/spf13/cobra"

	"github.com/dialtone-dev/dialtone/cmd/dialtone/internal/dash"
)

func (a *app) dashCommand() *cobra.Command {
	var listen string
	var interval, history time.Duration
	c := &cobra.Command{
		Use:   "dash",
		Short: "Serve a live dashboard of the fleet, with an endpoint explorer",
		Long: `dash serves a web page, on loopback unless told otherwise, that shows every
service with its instances (version, status, load, queued requests, uptime),
the request rate, error rate and latency of every endpoint over the last five
minutes, and an event log; it updates live. Its endpoint explorer builds a form
from the request JSON Schema and shows the reply or the typed error.

The explorer calls your services on your bus: listen on another address than
loopback only on a network you trust.`,
		Example: "  dialtone dash\n  dialtone dash --listen 127.0.0.1:8081",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if interval < 10*time.Millisecond || history < interval {
				return usagef("--interval must be at least 10ms, and --history at least one interval")
			}
			l, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("listen on %s: %w (pick another with --listen)", listen, err)
			}
			f, done, err := a.open(ctx, true)
			if err != nil {
				l.Close()
				return err
			}
			defer done()
			host, _, _ := net.SplitHostPort(listen)
			if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
				fmt.Fprintf(a.stderr, "dialtone: warning: %s is reachable from other machines, and the explorer calls services on %s\n", listen, f.URL())
			}
			fmt.Fprintf(a.stdout, "dashboard for %s on http://%s (Ctrl-C stops it)\n", f.URL(), l.Addr())
			return dash.New(f, dash.Options{Interval: interval, Window: int(history / interval)}).Serve(ctx, l)
		},
	}
	c.Flags().StringVar(&listen, "listen", "127.0.0.1:8080", "address to serve the dashboard on")
	c.Flags().DurationVar(&interval, "interval", dash.DefaultInterval, "how often to poll the instances' counters ($SRV.STATS)")
	c.Flags().DurationVar(&history, "history", 5*time.Minute, "how far back the charts go")
	return c
}
