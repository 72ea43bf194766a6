package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/dialtone-dev/dialtone/cmd/dialtone/internal/fleet"
)

// Exit statuses.
const (
	exitOK    = 0
	exitFail  = 1 // the bus, a service or a call failed
	exitUsage = 2 // the command line is wrong
)

// app is one run of the command: its streams and the connection flags.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	conn           fleet.ConnectOptions
	connectTimeout time.Duration
}

// usageError is a mistake on the command line (exit 2).
type usageError struct{ error }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// exitError ends the command with a status and no further message: the command
// has printed what went wrong.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// run runs the command line args and returns the exit status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr}
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	fmt.Fprintln(stderr, "dialtone: "+oneLine(err.Error()))
	var ue usageError
	if errors.As(err, &ue) || strings.HasPrefix(err.Error(), "unknown command") {
		return exitUsage
	}
	return exitFail
}

// oneLine keeps an error message on one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "dialtone",
		Short: "See and poke the Dialtone services on a NATS bus",
		Long: `dialtone shows the Dialtone services on a bus (busd or nats-server): their
instances from heartbeats, endpoints and JSON Schemas from $SRV.INFO, counters
from $SRV.STATS. It calls and benchmarks endpoints with JSON, and serves a live
dashboard with an endpoint explorer.

Scaffold a new service with: go run github.com/dialtone-dev/dialtone/codegen new`,
		SilenceErrors: true,
		SilenceUsage:  true,
		// No "completion" noise in the first help screen; `dialtone completion` still works.
		CompletionOptions: cobra.CompletionOptions{HiddenDefaultCmd: true},
	}
	pf := root.PersistentFlags()
	pf.StringVarP(&a.conn.Server, "server", "s", "", "NATS server URLs, comma separated (default $NATS_URL, then "+fleet.DefaultServer+")")
	pf.StringVar(&a.conn.User, "user", "", "username or token")
	pf.StringVar(&a.conn.Password, "password", "", "password")
	pf.StringVar(&a.conn.Token, "token", "", "authentication token")
	pf.StringVar(&a.conn.NKey, "nkey", "", "file with an NKey seed")
	pf.StringVar(&a.conn.Creds, "creds", "", "user credentials file (JWT and seed)")
	pf.StringVar(&a.conn.TLSCert, "tlscert", "", "TLS client certificate file")
	pf.StringVar(&a.conn.TLSKey, "tlskey", "", "TLS client key file")
	pf.StringVar(&a.conn.TLSCA, "tlsca", "", "CA file to verify the server's certificate")
	pf.DurationVar(&a.connectTimeout, "connect-timeout", 2*time.Second, "how long to wait for the bus")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usagef("%v (see %s --help)", err, c.CommandPath())
	})
	root.AddCommand(a.lsCommand(), a.infoCommand(), a.callCommand(), a.watchCommand(),
		a.statsCommand(), a.benchCommand(), a.dashCommand())
	for _, c := range root.Commands() {
		c.Args = wrapArgs(c.Args)
	}
	return root
}

// wrapArgs makes an argument-count mistake a usage error.
func wrapArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	if check == nil {
		return nil
	}
	return func(c *cobra.Command, args []string) error {
		if err := check(c, args); err != nil {
			return usagef("%v: usage: %s", err, c.UseLine())
		}
		return nil
	}
}

// open connects to the bus and starts a registry. long is true for the
// commands that keep running (watch, dash, bench): they ride out a bus restart.
func (a *app) open(ctx context.Context, long bool) (*fleet.Fleet, func(), error) {
	o := a.conn
	o.Timeout = a.connectTimeout
	o.Reconnect = long
	nc, err := fleet.Connect(o)
	if err != nil {
		return nil, nil, err
	}
	f, err := fleet.Open(ctx, nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("watch heartbeats on %s: %w", o.URL(), err)
	}
	return f, func() { f.Close(); nc.Close() }, nil
}

// isTerminal reports whether w is a terminal, for the progress bar.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
