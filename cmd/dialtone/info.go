package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/spf13/cobra"
)

func (a *app) infoCommand() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "info SERVICE",
		Short: "Show a service's endpoints, events, subjects, queue groups, metadata and JSON Schemas",
		Long: `info asks every instance of a service for its ADR-32 description ($SRV.INFO) and
shows each endpoint: its subject, queue group, metadata and the JSON Schemas of its
request and response; then each event it publishes or consumes: its subject, how it
is delivered and the JSON Schema of its payload.`,
		Example: "  dialtone info greeter\n  dialtone info greeter --json | jq '.endpoints[].request_schema'",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, done, err := a.open(cmd.Context(), false)
			if err != nil {
				return err
			}
			defer done()
			si, err := f.Info(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(a.stdout, si)
			}
			w := a.stdout
			fmt.Fprintf(w, "%s", si.Name)
			if si.Description != "" {
				fmt.Fprintf(w, ": %s", si.Description)
			}
			fmt.Fprintf(w, "\n  versions   %s\n", strings.Join(si.Versions, ", "))
			fmt.Fprintf(w, "  instances  %d: %s\n", len(si.Instances), strings.Join(si.Instances, ", "))
			for _, ep := range si.Endpoints {
				fmt.Fprintf(w, "\nendpoint %s\n", ep.Name)
				fmt.Fprintf(w, "  subject      %s\n", ep.Subject)
				fmt.Fprintf(w, "  queue group  %s\n", ep.QueueGroup)
				if ep.Instances != len(si.Instances) {
					fmt.Fprintf(w, "  served by    %d of %d instances\n", ep.Instances, len(si.Instances))
				}
				for _, k := range slices.Sorted(maps.Keys(ep.Metadata)) {
					fmt.Fprintf(w, "  metadata     %s = %s\n", k, ep.Metadata[k])
				}
				if len(ep.RequestSchema) > 0 {
					fmt.Fprintf(w, "  request      %s\n", prettyJSON(ep.RequestSchema, "  "))
				} else {
					fmt.Fprintf(w, "  request      (no schema published)\n")
				}
				if len(ep.ResponseSchema) > 0 {
					fmt.Fprintf(w, "  response     %s\n", prettyJSON(ep.ResponseSchema, "  "))
				}
			}
			for _, ev := range si.Events {
				verb := "publishes"
				if ev.Role == "consume" {
					verb = "consumes"
				}
				fmt.Fprintf(w, "\n%s event %s\n", verb, ev.Name)
				fmt.Fprintf(w, "  subject      %s\n", ev.Subject)
				switch {
				case ev.Role != "consume":
				case ev.QueueGroup == "":
					fmt.Fprintf(w, "  delivery     every instance (broadcast)\n")
				default:
					fmt.Fprintf(w, "  delivery     one instance of queue group %s\n", ev.QueueGroup)
				}
				if ev.Instances != len(si.Instances) {
					fmt.Fprintf(w, "  instances    %d of %d\n", ev.Instances, len(si.Instances))
				}
				for _, k := range slices.Sorted(maps.Keys(ev.Metadata)) {
					fmt.Fprintf(w, "  metadata     %s = %s\n", k, ev.Metadata[k])
				}
				if len(ev.Schema) > 0 {
					fmt.Fprintf(w, "  schema       %s\n", prettyJSON(ev.Schema, "  "))
				}
			}
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON, for scripts")
	return c
}
