package fleet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/dialtone-dev/dialtone"
	"github.com/dialtone-dev/dialtone/rpc"
)

// Patterns are the routing patterns a call can take, by the names the command
// uses.
var Patterns = []string{"balanced", "lowest-latency", "available"}

// CallOptions say how one raw call is made.
type CallOptions struct {
	Pattern  string        // one of Patterns; "" is balanced
	Instance string        // send to this instance only (direct)
	Timeout  time.Duration // 0: the client's default (5s)
	Header   nats.Header   // extra request headers
}

// Reply is a successful reply.
type Reply struct {
	Data     []byte
	Header   nats.Header
	Duration time.Duration
}

// ParsePattern checks a pattern name.
func ParsePattern(s string) (string, error) {
	switch strings.ToLower(s) {
	case "", "balanced":
		return "balanced", nil
	case "lowest-latency", "lowest_latency", "latency":
		return "lowest-latency", nil
	case "available", "availability":
		return "available", nil
	}
	return "", fmt.Errorf("unknown pattern %q: use balanced, lowest-latency or available (or --instance ID for one instance)", s)
}

// callOptions turns o into rpc call options.
func callOptions(o CallOptions) ([]rpc.CallOption, error) {
	var opts []rpc.CallOption
	p, err := ParsePattern(o.Pattern)
	if err != nil {
		return nil, err
	}
	switch {
	case o.Instance != "":
		opts = append(opts, rpc.Direct(o.Instance))
	case p == "lowest-latency":
		opts = append(opts, rpc.LowestLatency())
	case p == "available":
		opts = append(opts, rpc.Available())
	}
	return opts, nil
}

// Caller makes raw calls to one endpoint; Bench shares one between clients.
type Caller struct {
	client *rpc.Client
	ep     rpc.Spec
	opts   []rpc.CallOption
	hdr    nats.Header
	tmo    time.Duration
}

// Caller prepares calls to ep with o.
func (f *Fleet) Caller(ep *EndpointInfo, o CallOptions) (*Caller, error) {
	opts, err := callOptions(o)
	if err != nil {
		return nil, err
	}
	return &Caller{client: f.client, ep: rpc.Spec{Service: ep.Service, Name: ep.Name, Subject: ep.Subject},
		opts: opts, hdr: o.Header, tmo: o.Timeout}, nil
}

// Call sends body and waits for the reply. A failed call is a *dialtone.Error.
func (c *Caller) Call(ctx context.Context, body []byte) (*Reply, error) {
	if c.tmo > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.tmo)
		defer cancel()
	}
	start := time.Now()
	msg, err := c.client.CallRaw(ctx, c.ep, body, c.hdr, c.opts...)
	if err != nil {
		return nil, err
	}
	return &Reply{Data: msg.Data, Header: msg.Header, Duration: time.Since(start)}, nil
}

// Call sends body to ep once.
func (f *Fleet) Call(ctx context.Context, ep *EndpointInfo, body []byte, o CallOptions) (*Reply, error) {
	c, err := f.Caller(ep, o)
	if err != nil {
		return nil, err
	}
	return c.Call(ctx, body)
}

// CallError describes a failed call for people and for the dashboard.
type CallError struct {
	Code    int            `json:"code"`
	Name    string         `json:"name"` // e.g. "invalid_argument"
	Message string         `json:"message"`
	Details map[string]any `json:"details,omitempty"`
}

// CallErrorOf describes err.
func CallErrorOf(err error) CallError {
	var de *dialtone.Error
	if errors.As(err, &de) {
		return CallError{Code: int(de.Code()), Name: de.Code().String(), Message: de.Message(), Details: de.Details()}
	}
	c := dialtone.CodeOf(err)
	return CallError{Code: int(c), Name: c.String(), Message: err.Error()}
}

func (e CallError) String() string {
	s := e.Name + " (" + strconv.Itoa(e.Code) + ")"
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// ParseHeader adds a "key:value" header to h, as the nats CLI's -H takes it.
func ParseHeader(h nats.Header, kv string) error {
	k, v, ok := strings.Cut(kv, ":")
	k = strings.TrimSpace(k)
	if !ok || k == "" {
		return fmt.Errorf("header %q: want key:value", kv)
	}
	h.Add(k, strings.TrimSpace(v))
	return nil
}

// Schema is a compiled request schema.
type Schema struct{ s *jsonschema.Schema }

// noLoader refuses every external reference: schemas come from the bus and must
// not make the command read files or the network.
type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("schema references %s; only references inside the schema are followed", url)
}

// CompileSchema compiles an endpoint's request schema. A nil Schema (no schema
// published) accepts everything.
func CompileSchema(raw json.RawMessage) (*Schema, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("request schema is not JSON: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.UseLoader(noLoader{})
	c.AssertFormat()
	if err := c.AddResource("request.json", doc); err != nil {
		return nil, fmt.Errorf("request schema: %w", err)
	}
	s, err := c.Compile("request.json")
	if err != nil {
		return nil, fmt.Errorf("request schema: %w", err)
	}
	return &Schema{s: s}, nil
}

// FieldError says which field of a request fails the schema, and how.
type FieldError struct {
	Field   string `json:"field"` // e.g. "name", "address.city", "items[2]"; "" for the whole request
	Message string `json:"message"`
}

// SchemaError lists what is wrong with a request. Its message names the first
// field.
type SchemaError struct {
	Fields []FieldError
}

func (e *SchemaError) Error() string {
	if len(e.Fields) == 0 {
		return "the request does not match the endpoint's schema"
	}
	f := e.Fields[0]
	s := "the request does not match the endpoint's schema: "
	if f.Field != "" {
		s += "field " + strconv.Quote(f.Field) + " " + f.Message
	} else {
		s += f.Message
	}
	if n := len(e.Fields) - 1; n > 0 {
		s += fmt.Sprintf(" (and %d more)", n)
	}
	return s
}

// ErrNotJSON wraps a request body that is not JSON.
var ErrNotJSON = errors.New("the request is not JSON")

// Validate checks body against the schema: a *SchemaError names the offending
// fields. Invalid JSON is ErrNotJSON, with the position.
func (s *Schema) Validate(body []byte) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return fmt.Errorf("%w: %v at byte %d", ErrNotJSON, syn, syn.Offset)
		}
		return fmt.Errorf("%w: %v", ErrNotJSON, err)
	}
	if s == nil {
		return nil
	}
	err = s.s.Validate(inst)
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	se := &SchemaError{}
	leaves(ve, func(l *jsonschema.ValidationError) {
		field := fieldName(l.InstanceLocation)
		if r, ok := l.ErrorKind.(*kind.Required); ok {
			for _, m := range r.Missing {
				se.Fields = append(se.Fields, FieldError{Field: joinField(field, m), Message: "is required"})
			}
			return
		}
		if ap, ok := l.ErrorKind.(*kind.AdditionalProperties); ok {
			for _, p := range ap.Properties {
				se.Fields = append(se.Fields, FieldError{Field: joinField(field, p), Message: "is not in the schema"})
			}
			return
		}
		se.Fields = append(se.Fields, FieldError{Field: field, Message: describe(l.ErrorKind)})
	})
	return se
}

var printer = message.NewPrinter(language.English)

// describe says what is wrong with a value in words that follow its field name:
// `field "name" is 65 characters; want at most 64`.
func describe(k jsonschema.ErrorKind) string {
	switch k := k.(type) {
	case *kind.Type:
		return fmt.Sprintf("is %s %s; want %s", article(k.Got), k.Got, strings.Join(k.Want, " or "))
	case *kind.MinLength:
		return fmt.Sprintf("is %d characters; want at least %d", k.Got, k.Want)
	case *kind.MaxLength:
		return fmt.Sprintf("is %d characters; want at most %d", k.Got, k.Want)
	case *kind.Minimum:
		return fmt.Sprintf("is %s; want at least %s", k.Got.FloatString(precision(k.Got)), k.Want.FloatString(precision(k.Want)))
	case *kind.Maximum:
		return fmt.Sprintf("is %s; want at most %s", k.Got.FloatString(precision(k.Got)), k.Want.FloatString(precision(k.Want)))
	case *kind.MinItems:
		return fmt.Sprintf("has %d items; want at least %d", k.Got, k.Want)
	case *kind.MaxItems:
		return fmt.Sprintf("has %d items; want at most %d", k.Got, k.Want)
	case *kind.Enum:
		want := make([]string, len(k.Want))
		for i, w := range k.Want {
			b, _ := json.Marshal(w)
			want[i] = string(b)
		}
		got, _ := json.Marshal(k.Got)
		return fmt.Sprintf("is %s; want one of %s", got, strings.Join(want, ", "))
	case *kind.Format:
		return fmt.Sprintf("is not a valid %s", k.Want)
	case *kind.Pattern:
		return fmt.Sprintf("does not match the pattern %s", k.Want)
	}
	return strings.TrimPrefix(k.LocalizedString(printer), "value ")
}

func article(typ string) string {
	switch typ {
	case "array", "object", "integer":
		return "an"
	case "null":
		return ""
	}
	return "a"
}

// precision is how many decimals a number needs, up to 6.
func precision(r interface{ IsInt() bool }) int {
	if r.IsInt() {
		return 0
	}
	return 6
}

func leaves(e *jsonschema.ValidationError, fn func(*jsonschema.ValidationError)) {
	if len(e.Causes) == 0 {
		fn(e)
		return
	}
	for _, c := range e.Causes {
		leaves(c, fn)
	}
}

// fieldName writes an instance location as a path people read: a.b[2].c.
func fieldName(loc []string) string {
	var b strings.Builder
	for _, tok := range loc {
		if _, err := strconv.Atoi(tok); err == nil {
			b.WriteString("[" + tok + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(tok)
	}
	return b.String()
}

func joinField(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "." + name
}
