package fleet

import (
	"encoding/json"
	"errors"
	"testing"
	"time"
)

func TestParsePercentiles(t *testing.T) {
	cases := []struct {
		data string
		want Percentiles
	}{
		{``, Percentiles{}},
		{`null`, Percentiles{}},
		{`"text"`, Percentiles{}},
		{`{"p50":1500000,"p99":9000000}`, Percentiles{P50: 1500 * time.Microsecond, P99: 9 * time.Millisecond}},
		{`{"p50_ms":1.5,"p90_ms":3,"p99_ms":9}`, Percentiles{P50: 1500 * time.Microsecond, P90: 3 * time.Millisecond, P99: 9 * time.Millisecond}},
		{`{"latency":{"p50":"250µs","p99":"2ms"}}`, Percentiles{P50: 250 * time.Microsecond, P99: 2 * time.Millisecond}},
		{`{"latency_p50_us":250}`, Percentiles{P50: 250 * time.Microsecond}},
		{`{"p50":-1,"p99":"soon","other":5}`, Percentiles{}},
	}
	for _, c := range cases {
		got := ParsePercentiles(json.RawMessage(c.data))
		if got != c.want {
			t.Errorf("%s: got %+v, want %+v", c.data, got, c.want)
		}
		if got.Known() != (c.want != Percentiles{}) {
			t.Errorf("%s: Known() = %v", c.data, got.Known())
		}
	}
}

func TestSchemaNamesTheField(t *testing.T) {
	schema := `{
	  "type": "object",
	  "properties": {
	    "name": {"type": "string", "minLength": 1, "maxLength": 4},
	    "age": {"type": "integer", "minimum": 0, "maximum": 150},
	    "grade": {"type": "string", "enum": ["a", "b"]},
	    "id": {"type": "string", "format": "uuid"},
	    "address": {"$ref": "#/$defs/Address"},
	    "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 2}
	  },
	  "required": ["name"],
	  "additionalProperties": false,
	  "$defs": {"Address": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
	}`
	s, err := CompileSchema(json.RawMessage(schema))
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]FieldError{
		`{}`:                                {"name", "is required"},
		`{"name":""}`:                       {"name", "is 0 characters; want at least 1"},
		`{"name":"abcde"}`:                  {"name", "is 5 characters; want at most 4"},
		`{"name":"a","age":-1}`:             {"age", "is -1; want at least 0"},
		`{"name":"a","age":1.5}`:            {"age", "is a number; want integer"},
		`{"name":"a","grade":"c"}`:          {"grade", `is "c"; want one of "a", "b"`},
		`{"name":"a","id":"x"}`:             {"id", "is not a valid uuid"},
		`{"name":"a","address":{}}`:         {"address.city", "is required"},
		`{"name":"a","tags":["x",1]}`:       {"tags[1]", "is a number; want string"},
		`{"name":"a","tags":["x","y","z"]}`: {"tags", "has 3 items; want at most 2"},
		`{"name":"a","nick":"b"}`:           {"nick", "is not in the schema"},
		`[]`:                                {"", "is an array; want object"},
	}
	for body, want := range cases {
		err := s.Validate([]byte(body))
		var se *SchemaError
		if !errors.As(err, &se) || len(se.Fields) == 0 || se.Fields[0] != want {
			t.Errorf("%s: %v, want %+v", body, err, want)
		}
	}
	if err := s.Validate([]byte(`{"name":"ok","address":{"city":"Oslo"},"id":"0b2b8f42-55a1-4bb4-9f4b-1f1d1e2b3c4d"}`)); err != nil {
		t.Errorf("a valid request: %v", err)
	}
	if err := s.Validate([]byte(`{"name":`)); !errors.Is(err, ErrNotJSON) {
		t.Errorf("truncated JSON: %v", err)
	}
	var none *Schema // no schema published: any JSON goes, but it must be JSON
	if err := none.Validate([]byte(`[1]`)); err != nil {
		t.Errorf("no schema: %v", err)
	}
	if err := none.Validate([]byte(`nope`)); !errors.Is(err, ErrNotJSON) {
		t.Errorf("no schema, not JSON: %v", err)
	}
}

// TestSchemaReadsNothingOutside: a schema from the bus cannot make the command
// read a file or the network.
func TestSchemaReadsNothingOutside(t *testing.T) {
	for _, ref := range []string{"file:///etc/passwd", "http://127.0.0.1:1/schema.json", "other.json"} {
		_, err := CompileSchema(json.RawMessage(`{"$ref":"` + ref + `"}`))
		if err == nil {
			t.Errorf("$ref %s compiled", ref)
		}
	}
}

func TestParsePattern(t *testing.T) {
	for in, want := range map[string]string{"": "balanced", "Balanced": "balanced", "lowest_latency": "lowest-latency", "available": "available"} {
		if got, err := ParsePattern(in); err != nil || got != want {
			t.Errorf("%q: %q, %v", in, got, err)
		}
	}
	if _, err := ParsePattern("direct"); err == nil {
		t.Error("direct is --instance, not a pattern")
	}
}
