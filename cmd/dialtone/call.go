package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"github.com/dialtone-dev/dialtone/cmd/dialtone/internal/fleet"
)

// callFlags are the flags call and bench share.
type callFlags struct {
	pattern  string
	instance string
	timeout  time.Duration
	headers  []string
}

func (cf *callFlags) add(c *cobra.Command) {
	c.Flags().StringVar(&cf.pattern, "pattern", "balanced", "how the call finds an instance: balanced, lowest-latency or available")
	c.Flags().StringVar(&cf.instance, "instance", "", "send to this instance only (an id from dialtone ls)")
	c.Flags().DurationVar(&cf.timeout, "timeout", 5*time.Second, "how long a call may take")
	c.Flags().StringArrayVarP(&cf.headers, "header", "H", nil, "request header key:value (repeatable)")
}

func (cf *callFlags) options() (fleet.CallOptions, error) {
	o := fleet.CallOptions{Pattern: cf.pattern, Instance: cf.instance, Timeout: cf.timeout}
	if _, err := fleet.ParsePattern(cf.pattern); err != nil {
		return o, usageError{err}
	}
	if cf.timeout <= 0 {
		return o, usagef("--timeout must be positive")
	}
	if len(cf.headers) > 0 {
		o.Header = nats.Header{}
		for _, kv := range cf.headers {
			if err := fleet.ParseHeader(o.Header, kv); err != nil {
				return o, usageError{err}
			}
		}
	}
	return o, nil
}

// target resolves SERVICE.ENDPOINT and the JSON body, and checks the body
// against the endpoint's request schema.
func (a *app) target(ctx context.Context, f *fleet.Fleet, spec string, args []string) (*fleet.EndpointInfo, []byte, error) {
	svc, name, ok := fleet.SplitTarget(spec)
	if !ok {
		return nil, nil, usagef("%q: name the endpoint as SERVICE.ENDPOINT, e.g. greeter.SayHello", spec)
	}
	body := []byte("{}")
	if len(args) > 0 {
		body = []byte(args[0])
		if args[0] == "-" {
			b, err := io.ReadAll(io.LimitReader(a.stdin, 64<<20))
			if err != nil {
				return nil, nil, fmt.Errorf("read the request from stdin: %w", err)
			}
			body = b
		}
	}
	ep, err := f.Endpoint(ctx, svc, name)
	if err != nil {
		return nil, nil, err
	}
	schema, err := fleet.CompileSchema(ep.RequestSchema)
	if err != nil {
		return nil, nil, fmt.Errorf("%s.%s publishes a request schema that does not compile: %v", svc, name, err)
	}
	if err := schema.Validate(body); err != nil {
		if errors.Is(err, fleet.ErrNotJSON) {
			return nil, nil, usagef("%v (quote it for the shell: '{\"name\":\"Ada\"}')", err)
		}
		return nil, nil, usagef("%s.%s: %v (dialtone info %s shows the schema)", svc, name, err, svc)
	}
	return ep, body, nil
}

func (a *app) callCommand() *cobra.Command {
	var cf callFlags
	var quiet bool
	c := &cobra.Command{
		Use:   "call SERVICE.ENDPOINT [JSON|-]",
		Short: "Call an endpoint with JSON and print the reply",
		Long: `call checks the JSON against the endpoint's request schema (naming the field
that fails), sends it and prints the reply, indented. A failed call prints its
error code, message and details and exits with status 1. JSON "-" reads the
request from stdin; without JSON the request is {}.`,
		Example: `  dialtone call greeter.SayHello '{"name":"Ada"}'
  dialtone call greeter.SayHello '{"name":"Ada"}' --pattern lowest-latency -H tenant:acme
  echo '{"name":"Ada"}' | dialtone call greeter.SayHello -`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := cf.options()
			if err != nil {
				return err
			}
			f, done, err := a.open(cmd.Context(), false)
			if err != nil {
				return err
			}
			defer done()
			ep, body, err := a.target(cmd.Context(), f, args[0], args[1:])
			if err != nil {
				return err
			}
			reply, err := f.Call(cmd.Context(), ep, body, o)
			if err != nil {
				ce := fleet.CallErrorOf(err)
				fmt.Fprintf(a.stderr, "dialtone: %s.%s failed: %s\n", ep.Service, ep.Name, oneLine(ce.String()))
				if len(ce.Details) > 0 {
					d, _ := json.Marshal(ce.Details)
					fmt.Fprintf(a.stderr, "  details: %s\n", d)
				}
				return exitError{exitFail}
			}
			fmt.Fprintln(a.stdout, prettyJSON(reply.Data, ""))
			if !quiet {
				fmt.Fprintf(a.stderr, "(%s.%s answered in %s)\n", ep.Service, ep.Name, human(reply.Duration))
			}
			return nil
		},
	}
	cf.add(c)
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only the reply")
	return c
}
