package service

import (
	"context"

	"github.com/dialtone-dev/dialtone"
	"github.com/nats-io/nats.go"
)

// Request is a request as a handler sees it.
type Request struct {
	Endpoint string      // endpoint name
	Subject  string      // subject it arrived on (balanced, lowest-latency or direct)
	Header   nats.Header // may be nil
	Data     []byte

	codec dialtone.Codec
}

// Decode unmarshals the payload into v with the service's codec. A Content-Type
// header naming another codec, or a payload that does not decode, is an
// *dialtone.Error with CodeInvalidArgument.
func (r *Request) Decode(v any) error {
	if ct := r.Header.Get(dialtone.HeaderContentType); ct != "" && ct != r.codec.Name() {
		return dialtone.Errorf(dialtone.CodeInvalidArgument, "unsupported content type %q (this endpoint speaks %s)", ct, r.codec.Name())
	}
	if err := r.codec.Unmarshal(r.Data, v); err != nil {
		return dialtone.Errorf(dialtone.CodeInvalidArgument, "decode request: %v", err)
	}
	return nil
}

// Response is a handler's answer. Header is sent as the reply's headers.
type Response struct {
	Header nats.Header
	Data   []byte
}

// Handler serves requests of one endpoint. Handlers run concurrently (up to the
// instance's limit); ctx ends when the caller's deadline (Dialtone-Timeout) passes
// or the instance is stopped without finishing in time. A returned error reaches
// the caller with its code (dialtone.CodeOf) and message.
type Handler interface {
	Handle(ctx context.Context, req *Request) (*Response, error)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, req *Request) (*Response, error)

// Handle calls f.
func (f HandlerFunc) Handle(ctx context.Context, req *Request) (*Response, error) { return f(ctx, req) }

// Handle adds a typed endpoint: the payload is decoded into a Req with the service's
// codec and checked with dialtone.Validate (the Validate interceptor; failures
// answer CodeInvalidArgument with the fields), and the *Resp fn returns is encoded
// as the reply (nil: empty reply). Interceptors see the decoded request as
// dialtone.Request.Msg and the response as dialtone.Response.Msg.
func Handle[Req, Resp any](r Registrar, name string, fn func(ctx context.Context, req *Req) (*Resp, error), opts ...EndpointOption) error {
	if fn == nil {
		return dialtone.Errorf(dialtone.CodeInvalidArgument, "service: nil handler for endpoint %q", name)
	}
	return r.AddEndpoint(name, typedHandler[Req, Resp]{fn: fn, codec: r.Service().opts.codec}, opts...)
}

// typedHandler is the Handler of Handle. The service runs it through unary, so
// that interceptors see typed messages; Handle (as a plain Handler) does the same
// work for a Registrar that only knows Handlers.
type typedHandler[Req, Resp any] struct {
	fn    func(ctx context.Context, req *Req) (*Resp, error)
	codec dialtone.Codec
}

// typedEndpoint is what addEndpoint asks a Handler for to serve it typed.
type typedEndpoint interface {
	// decode returns the request in data, or nil when it does not decode.
	decode(h nats.Header, data []byte) any
	// invoke is the endpoint inside every interceptor.
	invoke(ctx context.Context, req dialtone.Request) (dialtone.Response, error)
}

func (t typedHandler[Req, Resp]) Handle(ctx context.Context, req *Request) (*Response, error) {
	in := new(Req)
	if err := req.Decode(in); err != nil {
		return nil, err
	}
	if err := dialtone.Validate(in); err != nil {
		return nil, err
	}
	resp, err := t.invoke(ctx, dialtone.Request{Header: req.Header, Msg: in, Data: req.Data})
	if err != nil || resp.Data == nil {
		return nil, err
	}
	return &Response{Header: resp.Header, Data: resp.Data}, nil
}

func (t typedHandler[Req, Resp]) decode(h nats.Header, data []byte) any {
	in := new(Req)
	r := Request{Header: h, Data: data, codec: t.codec}
	if r.Decode(in) != nil {
		return nil
	}
	return in
}

func (t typedHandler[Req, Resp]) invoke(ctx context.Context, req dialtone.Request) (dialtone.Response, error) {
	in, _ := req.Msg.(*Req)
	if in == nil {
		// The request did not decode (or an interceptor put something else in its
		// place): decoding it again gives the caller the reason.
		in = new(Req)
		r := Request{Header: req.Header, Data: req.Data, codec: t.codec}
		if err := r.Decode(in); err != nil {
			return dialtone.Response{}, err
		}
	}
	out, err := t.fn(ctx, in)
	if err != nil || out == nil {
		return dialtone.Response{}, err
	}
	data, err := t.codec.Marshal(out)
	if err != nil {
		return dialtone.Response{}, dialtone.Errorf(dialtone.CodeInternal, "encode response: %v", err)
	}
	resp := dialtone.Response{Msg: out, Data: data}
	if t.codec.Name() != dialtone.JSON.Name() {
		resp.Header = nats.Header{dialtone.HeaderContentType: []string{t.codec.Name()}}
	}
	return resp, nil
}
