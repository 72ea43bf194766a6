package dialtone

import "encoding/json"

// Codec turns request and reply values into payloads and back. Its Name is the MIME
// type sent in the Content-Type header; a request without that header is JSON.
// A Codec must be safe for concurrent use.
type Codec interface {
	Name() string // MIME type, e.g. "application/json"
	Marshal(v any) ([]byte, error)
	Unmarshal(data []byte, v any) error
}

// JSON is the default Codec, encoding/json under the name "application/json".
// Unmarshal of an empty payload leaves v unchanged and succeeds, so a request with
// no fields may be sent as an empty message.
var JSON Codec = jsonCodec{}

type jsonCodec struct{}

func (jsonCodec) Name() string { return "application/json" }

func (jsonCodec) Marshal(v any) ([]byte, error) { return json.Marshal(v) }

func (jsonCodec) Unmarshal(data []byte, v any) error {
	if len(data) == 0 {
		return nil
	}
	return json.Unmarshal(data, v)
}
