// Package examples holds runnable Dialtone examples, one command each. Every example
// connects to the bus at $NATS_URL (default nats://127.0.0.1:4222), so start one first:
//
//	go run ./busd &
//	go run ./examples/hello
//	go run ./examples/workers
//	go run ./examples/discovery
//	go run ./examples/latency
//	go run ./examples/rolling
//
// Each example's main is a thin wrapper around run(ctx, url, out), which its test calls
// against an in-process busd.
package examples
