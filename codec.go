package dialtone

import (
	"encoding/json"

	gojson "github.com/goccy/go-json"
)

// Codec turns request and reply values into payloads and back. Its Name is the MIME
// type sent in the Content-Type header; a request without that header is JSON.
// A Codec must be safe for concurrent use.
type Codec interface {
	Name() string // MIME type, e.g. "application/json"
	Marshal(v any) ([]byte, error)
	Unmarshal(data []byte, v any) error
}

// JSON is the default Codec, under the name "application/json". It produces and
// accepts exactly what encoding/json does, and is faster: it encodes and decodes
// with github.com/goccy/go-json, and leaves every failure to encoding/json, which
// so has the last word on what is rejected and says why in its own words. A
// differential test and a fuzz target hold the two to the same output for every
// kind of type codegen supports (docs/performance.md has the figures that chose
// it). Unmarshal of an empty payload leaves v unchanged and succeeds, so a request
// with no fields may be sent as an empty message.
var JSON Codec = jsonCodec{}

// StdJSON is JSON done by encoding/json alone, under the same name, for those who
// want the standard library on the call path (rpc.WithCodec, service.WithCodec).
var StdJSON Codec = stdJSONCodec{}

const jsonName = "application/json"

type jsonCodec struct{}

func (jsonCodec) Name() string { return jsonName }

func (jsonCodec) Marshal(v any) ([]byte, error) {
	data, err := gojson.Marshal(v)
	if err != nil {
		return json.Marshal(v)
	}
	return data, nil
}

func (jsonCodec) Unmarshal(data []byte, v any) error {
	if len(data) == 0 {
		return nil
	}
	if gojson.Unmarshal(data, v) != nil {
		return json.Unmarshal(data, v)
	}
	return nil
}

type stdJSONCodec struct{}

func (stdJSONCodec) Name() string { return jsonName }

func (stdJSONCodec) Marshal(v any) ([]byte, error) { return json.Marshal(v) }

func (stdJSONCodec) Unmarshal(data []byte, v any) error {
	if len(data) == 0 {
		return nil
	}
	return json.Unmarshal(data, v)
}
