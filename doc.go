// Package dialtone is the shared vocabulary of the Dialtone SDK: the one error type
// (*Error with a closed Code enum), the header names used on the wire, the Codec
// that turns requests and replies into payloads, request validation and the
// OpenTelemetry carrier over NATS headers.
//
// The packages that do the work build on it: service (server side), heartbeat
// (the instance heartbeat document), discovery (a live registry of instances),
// rpc (client side) and event (typed events, delivered once per service or to
// every instance). The wire formats they share are described in
// docs/design/sdk.md and are a stable contract.
//
// Errors travel on the NATS header block as in NATS ADR-32: the numeric Code in
// Nats-Service-Error-Code and the message in Nats-Service-Error, with optional
// JSON details in Dialtone-Error-Details. SetErrorHeader writes them and
// ErrorFromHeader reads them back, so an error returned by a handler reaches the
// caller as an *Error with the same Code:
//
//	if errors.Is(err, dialtone.ErrNotFound) { ... }
//	switch dialtone.CodeOf(err) { case dialtone.CodeUnavailable: ... }
package dialtone
