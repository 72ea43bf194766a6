// Package rpc is the client side of the Dialtone SDK: typed request/reply calls to
// Dialtone services over a NATS-protocol bus (busd or nats-server).
//
// A call names an Endpoint, passes a Go value and gets a Go value or an *dialtone.Error
// back:
//
//	c := rpc.NewClient(nc)
//	ep := rpc.Endpoint{Service: "greeter", Name: "SayHello", Subject: "greeter.SayHello"}
//	resp, err := rpc.Call[HelloRequest, HelloReply](ctx, c, ep, &HelloRequest{Name: "Ada"})
//	if errors.Is(err, dialtone.ErrUnavailable) { ... }
//
// # Patterns
//
// How a request finds an instance is chosen per call with a CallOption:
//
//   - Balanced (the default): one request on the endpoint subject; the bus's queue
//     group picks one instance.
//   - LowestLatency: the request goes to _DT.<service>.all.<subject>, which every
//     live instance subscribes to without a queue group; the first reply wins (an
//     error reply too) and later replies are dropped by nats.go's shared response
//     subscription, so they cost no subscription and no memory in the caller. Every
//     instance does the work: use it for cheap, idempotent calls.
//   - Available: the client first asks _DT.<service>.avail; only instances with a
//     free slot answer, each with its own inbox, and the request goes to the first
//     that answered (<inbox>.<subject>). When nobody answers within the availability
//     timeout (WithAvailabilityTimeout, default 250ms, never past the caller's
//     deadline) the call fails with CodeUnavailable: a saturated service pushes back
//     instead of queueing. Every instance that answers a probe holds its slot for
//     the caller (up to a second, by the wire contract) although only the first
//     answer is used, so with several idle instances and little spare capacity one
//     probe can briefly hide free slots from the next.
//   - Direct: the request goes to one instance by id (as listed by discovery), on
//     _DT.<service>.<id>.<subject>.
//
// Generated clients have methods with the plain signature M(ctx, *Req) (*Resp, error);
// they take per-call choices through the context with WithCallOptions. Options given
// to Call directly are applied after (and so override) those in the context, which in
// turn override the client's defaults (WithDefaultCallOptions).
//
// # Deadlines
//
// The caller's context bounds the whole call, including retries and the availability
// probe. Its remaining time travels with every request in the Dialtone-Timeout header
// (milliseconds, at least 1), so the handler's context carries the same deadline. A
// context without a deadline gets the client's default timeout (WithDefaultTimeout,
// 5 seconds unless set). When the deadline passes the call fails with
// CodeDeadlineExceeded; when the context is canceled, with CodeCanceled.
//
// # Errors
//
// Every failed call returns an *dialtone.Error, so errors.Is(err, dialtone.ErrNotFound)
// and dialtone.CodeOf(err) work:
//
//   - an error reply (ADR-32 headers Nats-Service-Error-Code / Nats-Service-Error)
//     becomes an *Error with the code, message and details the handler chose;
//   - no instance subscribed at all (the 503 no-responders status) is CodeUnavailable
//     at once, without waiting for the deadline;
//   - a request that fails validation is CodeInvalidArgument before anything is sent;
//   - a reply that does not decode into the response type is CodeInternal, naming the
//     endpoint, the content type and the Go type, and wrapping the codec's error.
//
// Retries are opt-in, for idempotent calls only: Retry(RetryPolicy{...}) repeats a call
// that failed with CodeUnavailable, with exponential backoff and jitter, never past the
// deadline.
//
// # Encoding
//
// Requests are encoded with the client's Codec (WithCodec; dialtone.JSON by default).
// A codec other than JSON is named in the Content-Type header; replies are decoded with
// the codec their Content-Type names (JSON when absent). With JSON, `nats req` and
// clients in other languages can call the same services.
//
// # Tracing
//
// Each call is an OpenTelemetry span of kind client named "<service>.<endpoint>",
// created from the global TracerProvider or the one given with WithTracerProvider.
// Its context is injected into the request headers (W3C traceparent and tracestate,
// through dialtone.HeaderCarrier), so the service's span is its child. The package
// depends only on the OpenTelemetry API.
package rpc
