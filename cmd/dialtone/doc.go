// Command dialtone is the operator's view of a Dialtone fleet: what runs, how
// loaded, what fails, and a way to poke an endpoint by hand. It works against busd
// and nats-server alike.
//
//	dialtone ls                                  services and instances, from heartbeats
//	dialtone info greeter                        endpoints, subjects, queue groups, JSON Schemas
//	dialtone call greeter.SayHello '{"name":"Ada"}'
//	dialtone watch [greeter]                     joined / changed / draining / left / expired
//	dialtone stats [greeter]                     requests, errors and latency per endpoint
//	dialtone bench greeter.SayHello '{"name":"Ada"}' --clients 8 --duration 10s
//	dialtone dash                                a live dashboard on http://127.0.0.1:8080
//
// The connection flags are the nats CLI's: --server (default $NATS_URL, then
// nats://127.0.0.1:4222), --user, --password, --token, --nkey, --creds,
// --tlscert, --tlskey, --tlsca.
//
// Exit status: 0 on success, 1 when the bus, a service or a call fails, 2 for a
// usage error. Errors are one line on stderr, prefixed "dialtone: ".
//
// # Why cobra
//
// The command line is built with github.com/spf13/cobra (and its pflag). The
// standard library's flag package stops at the first argument that is not a
// flag, so `dialtone call greeter.SayHello '{}' --pattern available` would
// silently treat the flag as an argument; nats CLI users put flags anywhere, and
// write -H for a header and --server with two dashes. Cobra gives that, per
// subcommand help and shell completion, and is the library kubectl, the GitHub
// CLI and Hugo use, so it is well kept and familiar. Its only dependencies are
// pflag and (on Windows) mousetrap.
//
// The subcommands work on package fleet, the one place that talks to the SDK
// (discovery for heartbeats, $SRV.INFO and $SRV.STATS for endpoints, schemas and
// counters, rpc for calls); the dashboard is package dash.
package main
