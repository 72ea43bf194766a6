// Package service is the server side of Dialtone: a service instance with endpoints
// on queue groups, a per-instance concurrency limit, NATS micro (ADR-32) monitoring,
// heartbeats and a graceful drain.
//
//	svc, err := service.New(nc, service.Config{Name: "greeter", Version: "1.0.0"})
//	err = service.Handle(svc, "SayHello", func(ctx context.Context, req *HelloRequest) (*HelloReply, error) {
//		return &HelloReply{Message: "hello " + req.Name}, nil
//	})
//	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
//	defer stop()
//	err = svc.Run(ctx) // Start, serve until ctx ends, Stop (drain)
//
// The package installs no signal handler: Run stops when its context ends, and the
// program decides which signals end it.
//
// # Subjects
//
// An endpoint listens on its subject (<service>.<endpoint>, or
// <service>.<group>.<endpoint>) in a queue group, by default one per service, so the
// instances of a service share the work. Every instance also listens, without a
// queue, on _DT.<service>.all.<endpoint subject> (lowest-latency calls: every
// instance answers, the caller takes the first), on _DT.<service>.<id>.<endpoint
// subject> (direct calls), on _DT.<service>.avail (availability probe: an instance
// answers only with a free slot, which it then reserves for one second or until the
// caller's request, naming the probe's key, claims it), on _DT.beat (reply with the current heartbeat) and on the
// ADR-32 subjects $SRV.PING, $SRV.INFO and $SRV.STATS, bare, .<name> and
// .<name>.<id>, so `nats micro ls` and friends list and inspect Dialtone services.
// The wire contract is docs/design/sdk.md.
//
// Names that would break subjects (anything but [A-Za-z0-9_-] in service, group and
// endpoint names; wildcards or empty tokens in subjects) are rejected by New and
// AddEndpoint, not at the first request.
//
// # Handlers
//
// Handlers get a context first. It ends when the caller's deadline passes (the
// Dialtone-Timeout header the rpc client sends) or when Stop gives up waiting. They
// run concurrently, up to WithMaxConcurrent handlers per instance across all
// endpoints: the instance's subscriptions deliver into a request queue served by
// an elastic pool of at most that many workers, which always keeps a parked worker
// ready while there is a free slot. A request goes from the connection's reader to
// a parked worker with no goroutine started per request, and a saturated instance
// leaves requests queued (WithQueueLength, then the client drops them as a slow
// consumer) instead of piling up goroutines. A returned error reaches
// the caller as Nats-Service-Error-Code and Nats-Service-Error (plus
// Dialtone-Error-Details) with its code (dialtone.CodeOf: an error that is not a
// *dialtone.Error is CodeUnknown); a panic answers CodeInternal "internal error"
// and the instance keeps serving. A reply the bus cannot carry (larger than its
// max_payload) is answered with CodeResourceExhausted naming both sizes, so the
// caller does not wait for its deadline. Failures a caller may not see (a reply
// the connection refused to send, a panic under any Recover) are counted in the
// endpoint's errors, logged, and given to the handler set with
// WithErrorHandler. The reply is sent after the interceptor chain returns, so
// interceptors may change a successful response, and do not see a send that
// failed (docs/design/sdk.md says why). Handle adds a typed endpoint that decodes with the codec
// and runs dialtone.Validate on the request.
//
// # Interceptors
//
// Every request runs through a chain of dialtone.Interceptor values around its
// handler, outermost first: the standard ones (Deadline, Tracing, Metrics,
// Recover; WithOuterInterceptors replaces them), the service's
// (WithInterceptors given to New), each enclosing group's (to AddGroup), the
// endpoint's (to AddEndpoint or Handle), and the inner ones (Validate;
// WithInnerInterceptors replaces them). An interceptor sees the endpoint, how the
// request arrived, this instance's ID, the headers, the decoded request and the
// response, and may refuse the request (an auth hook: see
// interceptors.HeaderAuth) before validation and the handler run.
//
// # Metrics
//
// The Metrics interceptor records each request's duration in the histogram
// rpc.server.call.duration by endpoint, pattern and outcome code, and each
// instance reports gauges of its load (in flight, queued, capacity, draining),
// through the OpenTelemetry metrics API (WithMeterProvider, else the global
// provider). $SRV.STATS carries each endpoint's p50, p90 and p99 over its recent
// requests in its data field (EndpointData), for tools that only speak ADR-32.
//
// Each request gets (from the Tracing interceptor) an OpenTelemetry server span named <service>.<endpoint>, a child
// of the W3C trace context in the request headers, from the provider given with
// WithTracerProvider or else the global one (which may be installed after New). A
// failed request's span has status Error and the attribute dialtone.error_code (the
// code's name), as the rpc client's span does.
// While the provider cannot record (a no-op provider, or the global one before an
// SDK is installed) no span is started; the handler's context still carries the
// caller's trace context.
//
// # Consumers
//
// Besides endpoints, an instance can have consumers (AddConsumer): subscriptions
// whose messages are handled without a reply, which is how package event delivers
// events (use event.Subscribe rather than AddConsumer). A consumer's messages go
// through the same workers as requests (or, with Consumer.MaxConcurrent, through
// workers of its own), under the same concurrency limit, through the same
// interceptors (with Spec.Kind dialtone.KindEvent; a Group's too, when added
// with Group.AddConsumer), and Stop drains them with the endpoints. Consumers are not
// endpoints: $SRV.INFO, $SRV.STATS and heartbeats list them, with the events the
// instance publishes (AddPublication), under "events".
//
// # Why not nats.go/micro
//
// nats.go's micro package runs an endpoint's handler on the subscription's delivery
// goroutine, so each endpoint serves one request at a time, and measures its stats
// around that call. Dialtone needs handlers to run concurrently under one
// per-instance limit, and a drain that waits for handlers still running after their
// subscription is gone; so this package implements ADR-32 itself: the same JSON
// (io.nats.micro.v1.ping_response, info_response, stats_response), with counters
// kept per endpoint by the handler goroutines.
//
// # Graceful stop
//
// Stop announces "draining" in a heartbeat and stops volunteering for availability
// probes, drains the serving subscriptions (UNSUB, then a PING/PONG proves the
// server has processed it, and requests that reached the client before that still
// run), keeps the direct subscription until every slot it promised to a probe is
// served, released or expired (and, while callers address it by id, for one
// heartbeat interval), waits for running handlers, sends the final "stopped"
// heartbeat and leaves. A rolling restart therefore fails no call, whatever its
// pattern (TestRollingDrainLosesNoCall).
package service
