// Command busd is Dialtone's message broker: a server for the NATS client
// protocol, so the official NATS clients (and Dialtone's services) connect to
// it unchanged.
//
// Run it with the defaults (clients on 127.0.0.1:4222, no monitoring, no auth;
// -a 0.0.0.0 accepts other hosts, as nats-server does by default):
//
//	go run ./busd
//
// or with a nats-server style config file and/or flags, which take precedence
// over the file:
//
//	busd -c busd.conf -p 4333 -m 8222 -DV
//
// busd -h lists the flags. They have the names and the short forms of
// nats-server's common flags (-a/--addr, -p/--port, -n/--name, -m/--http_port,
// -c/--config, -D/--debug, -V/--trace, -DV, --user, --pass, --auth, -l/--log,
// -v/--version). Signals: SIGINT and SIGTERM shut down gracefully, SIGHUP
// re-reads the config file and applies every option that can change at run
// time (limits, auth, permissions, TLS, ping, lame duck, debug and trace)
// without a restart; a file that does not load, or that changes where busd
// listens or its name, is refused with an error naming the option, and the
// running configuration is kept. SIGUSR2 enters lame duck mode: clients are
// told to move and closed gradually, then busd exits.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/dialtone-dev/dialtone/busd/server"
)

// shutdownTimeout bounds how long a shutdown may spend flushing clients
// before it cuts the remaining connections.
const shutdownTimeout = 10 * time.Second

// main wires the process to run.
func main() {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, notifySignals...)
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, sig, nil))
}

// events lets tests follow run; main passes nil.
type events struct {
	started  func(*server.Server) // the server listens
	reloaded func(error)          // a reload signal was handled, with its outcome
}

// Exit codes of run.
const (
	exitOK    = 0 // stopped on a signal, or -v/-h
	exitError = 1 // bad configuration, or the server failed
	exitUsage = 2 // bad command line
)

// run is busd: it parses args, loads the config file, starts the server and
// serves until a shutdown or lame duck signal arrives on sig (a closed sig
// counts as a shutdown). It returns the process exit code.
func run(args []string, stdout, stderr io.Writer, sig <-chan os.Signal, ev *events) int {
	if ev == nil {
		ev = &events{}
	}
	cl, err := parseCommandLine(args)
	switch {
	case err != nil:
		fmt.Fprintf(stderr, "busd: %v\n", err)
		usage(stderr)
		return exitUsage
	case cl.help:
		usage(stdout)
		return exitOK
	case cl.version:
		fmt.Fprintf(stdout, "busd version %s\n", server.Version)
		return exitOK
	}

	opts, err := cl.options()
	if err != nil {
		printError(stderr, err)
		return exitError
	}

	logOut := stderr
	if cl.logFile != "" {
		f, err := os.OpenFile(cl.logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			printError(stderr, err)
			return exitError
		}
		defer f.Close()
		logOut = f
	}
	level := new(slog.LevelVar)
	level.Set(logLevel(opts))
	logger := slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: level, ReplaceAttr: nameTraceLevel}))

	s, err := server.New(opts, logger)
	if err == nil {
		err = s.Start()
	}
	if err != nil {
		logger.Error("busd failed to start", "err", err)
		if logOut != stderr {
			printError(stderr, err)
		}
		return exitError
	}
	attrs := []any{"version", server.Version, "clients", s.ClientURL()}
	if ma := s.MonitorAddr(); ma != nil {
		attrs = append(attrs, "monitor", "http://"+ma.String())
	}
	if opts.ConfigFile != "" {
		attrs = append(attrs, "config", opts.ConfigFile)
	}
	logger.Info("busd ready", attrs...)
	if ev.started != nil {
		ev.started(s)
	}

	d := &daemon{cl: cl, srv: s, logger: logger, level: level, ev: ev, lameDuckFor: lameDuckBound(opts)}
	return d.serve(sig)
}

// daemon is a running busd reacting to signals.
type daemon struct {
	cl          *cmdline
	srv         *server.Server
	logger      *slog.Logger
	level       *slog.LevelVar
	ev          *events
	lameDuckFor time.Duration // upper bound on a whole lame duck phase
}

// serve handles signals until busd is down and returns the exit code.
func (d *daemon) serve(sig <-chan os.Signal) int {
	var (
		ldDone   <-chan error // non-nil while in lame duck mode
		ldCancel context.CancelFunc
	)
	for {
		select {
		case err := <-ldDone:
			ldCancel()
			if err != nil {
				d.logger.Error("lame duck mode ended with an error", "err", err)
				return exitError
			}
			return exitOK
		case s, ok := <-sig:
			switch {
			case ok && s == reloadSignal:
				d.reload()
			case ok && s == lameDuckSignal:
				if ldDone != nil {
					d.logger.Info("already in lame duck mode")
					continue
				}
				d.logger.Info("entering lame duck mode", "signal", s.String())
				ldDone, ldCancel = d.lameDuck()
			default:
				name := "closed signal channel"
				if ok {
					name = s.String()
				}
				d.logger.Info("shutting down", "signal", name)
				code := d.shutdown()
				if ldDone != nil {
					// Shutdown has closed everything; stop lame duck's timers.
					ldCancel()
					<-ldDone
				}
				return code
			}
		}
	}
}

// lameDuck starts lame duck mode in the background, bounded by lameDuckFor.
// The channel delivers LameDuck's result; the function cuts it short.
func (d *daemon) lameDuck() (<-chan error, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), d.lameDuckFor)
	done := make(chan error, 1)
	go func() { done <- d.srv.LameDuck(ctx) }()
	return done, cancel
}

// shutdown stops the server within shutdownTimeout.
func (d *daemon) shutdown() int {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := d.srv.Shutdown(ctx); err != nil {
		d.logger.Error("shutdown did not finish cleanly", "err", err)
		return exitError
	}
	return exitOK
}

// reload re-reads the config file, applies the flags given on the command line
// over it again, and hands the result to the running server. Failures are
// logged and leave the server as it was.
func (d *daemon) reload() {
	err := d.tryReload()
	if err != nil {
		d.logger.Error("config reload failed; keeping the running configuration", "err", err)
	}
	if d.ev.reloaded != nil {
		d.ev.reloaded(err)
	}
}

// tryReload does the work of reload.
func (d *daemon) tryReload() error {
	if d.cl.config == "" {
		return errors.New("no config file to reload (start busd with -c)")
	}
	opts, err := d.cl.options()
	if err != nil {
		return err
	}
	if err := d.srv.Reload(opts); err != nil {
		return err
	}
	d.level.Set(logLevel(opts)) // the server logs what changed
	return nil
}

// lameDuckBound is how long a lame duck phase may take before it is cut
// short: the configured duration plus the time a shutdown may take.
func lameDuckBound(o *server.Options) time.Duration {
	ld, grace := o.LameDuckDuration, o.LameDuckGracePeriod
	if ld == 0 {
		ld = server.DefaultLameDuckDur
	}
	if grace == 0 {
		grace = server.DefaultLameDuckGrace
	}
	return ld + grace + shutdownTimeout
}

// logLevel is the slog level the options ask for: trace (-V) shows
// everything, debug (-D) connection events, otherwise informational messages.
func logLevel(o *server.Options) slog.Level {
	switch {
	case o.Trace:
		return server.LevelTrace
	case o.Debug:
		return slog.LevelDebug
	default:
		return slog.LevelInfo
	}
}

// nameTraceLevel makes the text handler print server.LevelTrace as TRACE
// rather than slog's DEBUG-4.
func nameTraceLevel(_ []string, a slog.Attr) slog.Attr {
	if a.Key == slog.LevelKey {
		if l, ok := a.Value.Any().(slog.Level); ok && l == server.LevelTrace {
			a.Value = slog.StringValue("TRACE")
		}
	}
	return a
}

// printError writes err to w, one "busd: " line per joined error, so each
// config problem shows as "busd: file:line: message".
func printError(w io.Writer, err error) {
	for _, line := range strings.Split(err.Error(), "\n") {
		fmt.Fprintf(w, "busd: %s\n", line)
	}
}

// cmdline is the parsed command line.
type cmdline struct {
	host, name, config, user, pass, token, logFile string
	port, httpPort                                 int
	debug, trace, debugTrace                       bool
	version, help                                  bool

	// set holds the options given explicitly, by canonical name (the first
	// name registered for the option), so they override the config file.
	set map[string]bool
}

// parseCommandLine parses args; the caller prints errors and the usage.
func parseCommandLine(args []string) (*cmdline, error) {
	cl := &cmdline{set: map[string]bool{}}
	fs := flag.NewFlagSet("busd", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	canon := map[string]string{}
	str := func(p *string, names ...string) {
		for _, n := range names {
			fs.StringVar(p, n, "", "")
			canon[n] = names[0]
		}
	}
	integer := func(p *int, names ...string) {
		for _, n := range names {
			fs.IntVar(p, n, 0, "")
			canon[n] = names[0]
		}
	}
	boolean := func(p *bool, names ...string) {
		for _, n := range names {
			fs.BoolVar(p, n, false, "")
			canon[n] = names[0]
		}
	}
	str(&cl.host, "addr", "a", "net")
	integer(&cl.port, "port", "p")
	str(&cl.name, "name", "n", "server_name")
	integer(&cl.httpPort, "http_port", "m")
	str(&cl.config, "config", "c")
	str(&cl.logFile, "log", "l")
	boolean(&cl.debug, "debug", "D")
	boolean(&cl.trace, "trace", "V")
	boolean(&cl.debugTrace, "DV")
	str(&cl.user, "user")
	str(&cl.pass, "pass")
	str(&cl.token, "auth")
	boolean(&cl.version, "version", "v")
	boolean(&cl.help, "help", "h")

	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	fs.Visit(func(f *flag.Flag) { cl.set[canon[f.Name]] = true })
	return cl, nil
}

// options loads the config file, if any, applies the explicitly given flags
// over it and validates the result.
func (cl *cmdline) options() (*server.Options, error) {
	opts := &server.Options{}
	if cl.config != "" {
		var err error
		if opts, err = server.ProcessConfigFile(cl.config); err != nil {
			return nil, err
		}
	}
	cl.apply(opts)
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	return opts, nil
}

// apply sets the options given on the command line in o.
func (cl *cmdline) apply(o *server.Options) {
	if cl.set["addr"] {
		o.Host = cl.host
	}
	if cl.set["port"] {
		o.Port = cl.port
	}
	if cl.set["name"] {
		o.ServerName = cl.name
	}
	if cl.set["http_port"] {
		o.HTTPPort = cl.httpPort
	}
	if cl.set["debug"] {
		o.Debug = cl.debug
	}
	if cl.set["trace"] {
		o.Trace = cl.trace
	}
	if cl.set["DV"] && cl.debugTrace {
		o.Debug, o.Trace = true, true
	}
	if cl.set["user"] {
		o.Username = cl.user
	}
	if cl.set["pass"] {
		o.Password = cl.pass
	}
	if cl.set["auth"] {
		o.Authorization = cl.token
	}
}

// usage writes the flag summary to w.
func usage(w io.Writer) {
	fmt.Fprint(w, `Usage: busd [options]

busd is Dialtone's NATS-protocol message broker. Flags given on the command
line take precedence over the config file; both -p and --port style work.

Server:
  -a, --addr, --net <host>           host to listen on for clients (default 127.0.0.1)
  -p, --port <port>                  client port (default 4222; -1 picks a free one)
  -n, --name, --server_name <name>   server name reported to clients (default: server ID)
  -m, --http_port <port>             monitoring port (default: no monitoring)
  -c, --config <file>                nats-server style config file (re-read on SIGHUP)

Logging:
  -l, --log <file>                   append the log to file instead of stderr
  -D, --debug                        log connection events
  -V, --trace                        log every protocol operation
  -DV                                both -D and -V

Authorization:
      --user <user>                  user clients must connect as
      --pass <password>              password for --user
      --auth <token>                 token clients must present

Other:
  -v, --version                      print the version and exit
  -h, --help                         print this help and exit

Signals: SIGINT/SIGTERM stop, SIGHUP reloads the config file,
SIGUSR2 enters lame duck mode and then stops.
`)
}
