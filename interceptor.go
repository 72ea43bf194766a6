package dialtone

import (
	"context"
	"strconv"

	"github.com/nats-io/nats.go"
)

// Kind says what kind of exchange an interceptor is looking at.
type Kind uint8

const (
	// KindUnary is a request and its reply: rpc calls and service endpoints.
	KindUnary Kind = iota + 1
	// KindEvent is a message without a reply: an event published or delivered to a
	// subscriber. A Response of an event is empty; its error is what the publisher or
	// the subscriber's handler returned.
	KindEvent
)

// String returns "unary" or "event".
func (k Kind) String() string {
	switch k {
	case KindUnary:
		return "unary"
	case KindEvent:
		return "event"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Pattern is how a request finds (or, on the server, found) an instance. The zero
// Pattern means the call has none (events).
type Pattern uint8

const (
	PatternBalanced      Pattern = iota + 1 // the endpoint subject, one instance of the queue group
	PatternLowestLatency                    // _DT.<service>.all.<subject>: every instance, the first reply wins
	PatternAvailable                        // an availability probe, then a direct request (client side only)
	PatternDirect                           // _DT.<service>.<id>.<subject>: one instance by ID
)

// String returns the pattern's name as used in span and metric attributes:
// "balanced", "lowest_latency", "available", "direct", or "" for none.
func (p Pattern) String() string {
	switch p {
	case 0:
		return ""
	case PatternBalanced:
		return "balanced"
	case PatternLowestLatency:
		return "lowest_latency"
	case PatternAvailable:
		return "available"
	case PatternDirect:
		return "direct"
	}
	return "pattern(" + strconv.Itoa(int(p)) + ")"
}

// Spec describes what a call is for: the same for every call of an endpoint.
type Spec struct {
	Kind     Kind
	IsClient bool   // the caller's side (rpc) rather than the service's
	Service  string // service name, e.g. "greeter"
	Name     string // endpoint (or event) name, e.g. "SayHello"
	Subject  string // the endpoint's subject, e.g. "greeter.SayHello"
	// QueueGroup is, for an event on the subscriber's side, the queue group
	// the subscription shares its events in (the subscribing service's name
	// for per-service delivery); "" for a broadcast subscription and on the
	// publisher's side.
	QueueGroup string
}

// Request is a call as an interceptor sees it. It is passed by value: an
// interceptor that changes a field changes what the interceptors after it and the
// call itself see, and nothing else. Header is a map, so a header set on it is set
// for everyone after.
//
// On the caller's side Msg is the typed request (*Req) of rpc.Call, encoded with the
// client's codec after the last interceptor, and Data is nil; for CallRaw Msg is nil
// and Data is the payload. On the service's side Data is the payload as received
// and, for a typed endpoint (service.Handle), Msg is the request decoded from it, or
// nil when it does not decode (the handler then answers CodeInvalidArgument);
// for a raw endpoint Msg is nil.
type Request struct {
	Spec     Spec
	Pattern  Pattern     // client: the pattern chosen; server: how the request arrived (available arrives as direct)
	Instance string      // server: this instance's ID; client: the instance of a Direct call, else ""
	Header   nats.Header // request headers; on the caller's side never nil
	Msg      any
	Data     []byte
}

// Response is the outcome of a call as an interceptor sees it, passed by value
// like Request. On the caller's side Data and Header are the reply's and Msg is
// nil: rpc.Call decodes Data after the interceptors, unless one of them set Msg to
// the typed response (*Resp), which is then returned as it is. On the service's
// side Msg is the typed response of a typed endpoint, Data its encoding (what is
// sent) and Header the reply headers.
type Response struct {
	Header nats.Header
	Msg    any
	Data   []byte
}

// UnaryFunc is one step of a call: the call itself, or the call wrapped by the
// interceptors inside the one that holds it. A failed call returns an error,
// normally a *Error; the Response is then ignored.
type UnaryFunc func(ctx context.Context, req Request) (Response, error)

// Interceptor wraps calls, in the style of connect-go: WrapUnary returns a
// UnaryFunc that does something before and after calling next, or does not call
// next at all (short-circuit, e.g. with an *Error for a caller that may not call),
// or calls it again (retry). WrapUnary is called once when the chain is built (per
// client, per endpoint), not per call; the function it returns is called
// concurrently and must not keep req, its Header or next past its return.
type Interceptor interface {
	WrapUnary(next UnaryFunc) UnaryFunc
}

// UnaryInterceptorFunc makes a function an Interceptor:
//
//	logCalls := dialtone.UnaryInterceptorFunc(func(next dialtone.UnaryFunc) dialtone.UnaryFunc {
//		return func(ctx context.Context, req dialtone.Request) (dialtone.Response, error) {
//			resp, err := next(ctx, req)
//			log.Printf("%s.%s: %v", req.Spec.Service, req.Spec.Name, dialtone.CodeOf(err))
//			return resp, err
//		}
//	})
type UnaryInterceptorFunc func(next UnaryFunc) UnaryFunc

// WrapUnary calls f.
func (f UnaryInterceptorFunc) WrapUnary(next UnaryFunc) UnaryFunc { return f(next) }

// Chain wraps call in the interceptors, the first outermost: the first sees the
// call first and its outcome last. Nil interceptors are skipped.
func Chain(call UnaryFunc, interceptors ...Interceptor) UnaryFunc {
	for i := len(interceptors) - 1; i >= 0; i-- {
		if interceptors[i] != nil {
			call = interceptors[i].WrapUnary(call)
		}
	}
	return call
}
