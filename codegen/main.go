// Command codegen is dialtone's code generator: it turns a Go interface into a typed
// client and the server wiring of a service, and scaffolds new services.
//
// # Generating a service
//
// Declare the service as an interface whose methods all look like
//
//	//go:generate go run github.com/dialtone-dev/dialtone/codegen -type Greeter
//	type Greeter interface {
//		SayHello(ctx context.Context, req *HelloRequest) (*HelloReply, error)
//	}
//
// where requests and responses are your own structs (json and validate tags are
// honoured). `go generate` then writes greeter_dialtone.go beside it with
//
//   - GreeterServiceName, the subject constants (GreeterSayHelloSubject) and a
//     function per endpoint returning its typed rpc.Endpoint
//     (GreeterSayHelloEndpoint(), for rpc.Call);
//   - GreeterClient, which implements Greeter over the bus (NewGreeterClient), so it
//     swaps with a fake in tests; choose the call pattern per call with
//     rpc.WithCallOptions(ctx, rpc.LowestLatency());
//   - RegisterGreeter(r service.Registrar, impl Greeter, opts ...service.EndpointOption) error,
//     which adds every method as an endpoint of the service or of one of its groups,
//     with the JSON Schemas of its request and response in the ADR-32 metadata
//     (shown by `nats micro info greeter`). Its errors are *dialtone.Error. Each type's schema is
//     written once, as an unexported constant named after it (greeterHelloRequestSchema),
//     however many methods use the type.
//
// Flags:
//
//	-type T      the interface (required)
//	-service S   service name (default: T lower-cased)
//	-output F    output file name (default: t_dialtone.go, t being T lower-cased)
//	-dir D       package directory (default: "."; go generate runs in it)
//
// A method's endpoint subject is "<service>.<Method>"; a doc comment line
// `//dialtone:subject other.subject` on the method overrides it. Bad input is reported
// as "file:line:col: message" lines and exit status 1.
//
// # Generating events
//
// An interface whose methods all look like
//
//	//go:generate go run github.com/dialtone-dev/dialtone/codegen -type OrderEvents -service orders
//	type OrderEvents interface {
//		OrderPlaced(ctx context.Context, ev *OrderPlaced) error
//	}
//
// declares events (package event): each method is one event, published on
// "<service>.<Method>" (or its //dialtone:subject), with its struct as the payload.
// `go generate` writes orderevents_dialtone.go with
//
//   - the subject constants (OrderEventsOrderPlacedSubject) and a function per
//     event returning its typed event.Topic (OrderEventsOrderPlacedTopic(), for
//     event.Publish and event.Subscribe);
//   - OrderEventsPublisher, which implements OrderEvents by publishing
//     (NewOrderEventsPublisher(event.NewPublisher(nc, event.WithService(svc))));
//     given a service, it lists the events in the service's heartbeats and
//     $SRV.INFO as published;
//   - RegisterOrderEvents(r service.Registrar, impl OrderEvents, opts ...event.SubscribeOption) error,
//     which subscribes the consuming service to every event, each handled by the
//     method of impl with its name, once per service unless opts say
//     event.Broadcast();
//   - the JSON Schema of each payload type, listed with the event in $SRV.INFO of
//     the services that publish and consume it.
//
// -service names the publishing service, the first token of the default subjects.
// An interface that mixes endpoints and event handlers is an error.
//
// # Scaffolding a new service
//
//	go run github.com/dialtone-dev/dialtone/codegen new -module example.com/shop -name orders ./orders
//
// writes a new module in ./orders: the interface with its go:generate line, the
// generated code, an implementation, a test against an in-process busd, a main that
// serves until SIGINT or SIGTERM and drains (service.Run under signal.NotifyContext),
// and a README. Flags of new:
//
//	-module M    module path of the new module (required)
//	-name N      service name; the package is N, the interface N capitalised
//	-replace D   add `replace github.com/dialtone-dev/dialtone => D` (a local checkout)
//	-tidy=false  do not complete go.mod (by default: require the latest released
//	             dialtone unless -replace is given, then run `go mod tidy`)
//
// When no release can be found (and -replace is not given), new writes nothing and
// says so; when a later step fails it removes what it wrote. Either way it can be
// run again as it is.
//
// With -replace the new module uses that dialtone checkout, which is how to try a
// service from a clone of this repository:
//
//	go run ./codegen new -module example.com/shop -name orders -replace . ../orders
package main

import (
	"errors"
	"flag"
	"fmt"
	"go/token"
	"io"
	"os"
	"strconv"

	"github.com/dialtone-dev/dialtone/codegen/internal/generator"
	"github.com/dialtone-dev/dialtone/codegen/internal/scaffold"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the command without the process: it returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "new" {
		return runNew(args[1:], stdout, stderr)
	}
	cfg, ok := parseFlags(args, stderr)
	if !ok {
		return 2
	}
	res, err := generator.Generate(cfg)
	if err != nil {
		var ds generator.Diagnostics
		if errors.As(err, &ds) {
			fmt.Fprintln(stderr, atGenerateLine(ds).Error())
		} else {
			fmt.Fprintln(stderr, "codegen:", err)
		}
		return 1
	}
	if err := os.WriteFile(res.Path, res.Source, 0o644); err != nil {
		fmt.Fprintln(stderr, "codegen:", err)
		return 1
	}
	return 0
}

// atGenerateLine gives diagnostics that have no line (an unknown -type, say) the
// position of the go:generate line that ran the command, when go generate did.
func atGenerateLine(ds generator.Diagnostics) generator.Diagnostics {
	file, line := os.Getenv("GOFILE"), os.Getenv("GOLINE")
	n, err := strconv.Atoi(line)
	if file == "" || err != nil {
		return ds
	}
	out := make(generator.Diagnostics, len(ds))
	for i, d := range ds {
		if d.Pos.Line == 0 {
			d.Pos = token.Position{Filename: file, Line: n, Column: 1}
		}
		out[i] = d
	}
	return out
}

// parseFlags parses the generator's flags; ok is false (and usage printed) when they
// are not usable.
func parseFlags(args []string, stderr io.Writer) (cfg generator.Config, ok bool) {
	fs := flag.NewFlagSet("codegen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Type, "type", "", "the service `interface` (required)")
	fs.StringVar(&cfg.Service, "service", "", "service `name` (default: the interface name lower-cased)")
	fs.StringVar(&cfg.Output, "output", "", "output `file` name (default: <type lower-cased>_dialtone.go)")
	fs.StringVar(&cfg.Dir, "dir", ".", "package `directory`")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: codegen -type Interface [-service name] [-output file] [-dir dir]")
		fmt.Fprintln(stderr, "       codegen new -module path -name service [-replace dir] dir")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return cfg, false
	}
	if cfg.Type == "" || fs.NArg() > 0 {
		fs.Usage()
		return cfg, false
	}
	return cfg, true
}

func runNew(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("codegen new", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var opts scaffold.Options
	fs.StringVar(&opts.Module, "module", "", "module `path` of the new module (required)")
	fs.StringVar(&opts.Name, "name", "", "service `name` (required)")
	fs.StringVar(&opts.Replace, "replace", "", "replace the dialtone module with this local `directory`")
	fs.BoolVar(&opts.Tidy, "tidy", true, "complete the new module's go.mod (require the latest dialtone release unless -replace, go mod tidy)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: codegen new -module path -name service [-replace dir] [-tidy=false] dir")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 || opts.Module == "" || opts.Name == "" {
		fs.Usage()
		return 2
	}
	opts.Dir = fs.Arg(0)
	opts.Log = stdout
	if err := scaffold.Create(opts); err != nil {
		fmt.Fprintln(stderr, "codegen new:", err)
		return 1
	}
	return 0
}
