package dialtone_test

import (
	"encoding/json"
	"errors"
	"math"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dialtone-dev/dialtone"
)

// The differential test of the JSON codec: for every kind of type codegen
// accepts in a request or response (see codegen/internal/generator/schema.go),
// dialtone.JSON must produce the bytes encoding/json produces, accept exactly
// the payloads encoding/json accepts, decode them into the same value and fail
// with the same error.

// Upper has methods of its own: MarshalJSON/UnmarshalJSON, and MarshalText as a
// map key.
type Upper string

func (u Upper) MarshalJSON() ([]byte, error) { return json.Marshal(strings.ToUpper(string(u))) }
func (u *Upper) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*u = Upper(strings.ToLower(s))
	return nil
}

type Key struct{ A, B string }

func (k Key) MarshalText() ([]byte, error) { return []byte(k.A + ":" + k.B), nil }
func (k *Key) UnmarshalText(b []byte) error {
	a, b2, ok := strings.Cut(string(b), ":")
	if !ok {
		return errors.New("key needs a colon")
	}
	*k = Key{a, b2}
	return nil
}

type Base struct {
	ID      string `json:"id"`
	Version int    `json:"version,omitempty"`
}

type Extra struct {
	Note string `json:"note"`
}

type Item struct {
	SKU   string  `json:"sku" validate:"required"`
	Qty   uint16  `json:"qty"`
	Price float64 `json:"price"`
}

// Everything is the type the differential test decodes into and encodes.
type Everything struct {
	Base          // embedded struct: its fields are promoted
	*Extra        // embedded pointer
	B      bool   `json:"b"`
	S      string `json:"s"`
	I      int    `json:"i"`
	I8     int8   `json:"i8"`
	I16    int16  `json:"i16"`
	I32    int32  `json:"i32"`
	I64    int64  `json:"i64"`
	U      uint   `json:"u"`
	U8     uint8  `json:"u8"`
	U32    uint32 `json:"u32"`
	U64    uint64 `json:"u64"`
	UP     uintptr
	F32    float32                     `json:"f32"`
	F64    float64                     `json:"f64"`
	Ptr    *Item                       `json:"ptr"`
	PtrOE  *Item                       `json:"ptr_oe,omitempty"`
	Items  []Item                      `json:"items"`
	Arr    [3]int                      `json:"arr"`
	Bytes  []byte                      `json:"bytes"`
	Map    map[string]Item             `json:"map"`
	IntMap map[int64]string            `json:"int_map"`
	KeyMap map[Key]int                 `json:"key_map"`
	IPs    map[netip.Addr]bool         `json:"ips"`
	When   time.Time                   `json:"when"`
	WhenP  *time.Time                  `json:"when_p,omitempty"`
	Dur    time.Duration               `json:"dur"`
	Raw    json.RawMessage             `json:"raw"`
	Num    json.Number                 `json:"num"`
	AsStr  int                         `json:"as_str,string"`
	FStr   float64                     `json:"f_str,string,omitempty"`
	BStr   bool                        `json:"b_str,string"`
	OZ     time.Time                   `json:"oz,omitzero"`
	OZS    Item                        `json:"ozs,omitzero"`
	OE     string                      `json:"oe,omitempty"`
	Up     Upper                       `json:"up"`
	Ups    []Upper                     `json:"ups"`
	Nested map[string][]map[string]int `json:"nested"`
	Skip   string                      `json:"-"`
	//lint:ignore SA5008 a field named "-" is one of the cases encoding/json has a rule for
	Dash   string `json:"-,"`
	NoTag  string
	hidden string
}

func everything() []Everything {
	when := time.Date(2026, 11, 21, 10, 0, 0, 123456789, time.FixedZone("X", 3600))
	return []Everything{
		{},
		{Base: Base{ID: "id-1", Version: 3}, Extra: &Extra{Note: "<b>&amp;</b>"}, B: true, S: "héllo \"q\" \\ \n\t\u2028\u2029\x00\xff <>&",
			I: -1, I8: math.MinInt8, I16: math.MaxInt16, I32: math.MinInt32, I64: math.MaxInt64, U: 7, U8: 255, U32: math.MaxUint32,
			U64: math.MaxUint64, UP: 9, F32: math.MaxFloat32, F64: -1e21, Ptr: &Item{SKU: "a", Qty: 2, Price: 0.1},
			PtrOE: &Item{}, Items: []Item{{SKU: "x"}, {}}, Arr: [3]int{1, -2, 3}, Bytes: []byte{0, 1, 2, 255},
			Map: map[string]Item{"z": {}, "a": {SKU: "s"}}, IntMap: map[int64]string{-5: "m", 10: "t", 2: "two"},
			KeyMap: map[Key]int{{"a", "b"}: 1, {"", ""}: 0}, IPs: map[netip.Addr]bool{netip.MustParseAddr("10.0.0.1"): true, netip.MustParseAddr("::1"): false},
			When: when, WhenP: &when, Dur: 1500 * time.Millisecond, Raw: json.RawMessage(`{"k": [1, 2]}`), Num: "-12.5e3",
			AsStr: 42, FStr: 2.5, BStr: true, OZ: when, OZS: Item{Qty: 1}, OE: "x", Up: "shout", Ups: []Upper{"a", "b"},
			Nested: map[string][]map[string]int{"n": {{"x": 1}, nil}}, Skip: "never", Dash: "dash", NoTag: "nt", hidden: "h"},
		{F32: 1e-7, F64: 1e-7, Items: []Item{}, Map: map[string]Item{}, Bytes: []byte{}, Raw: json.RawMessage(`null`)},
		{F64: 123456789.125, F32: 3.4028235e38},
		{F64: math.SmallestNonzeroFloat64, Num: "0"},
	}
}

// payloads are JSON texts, valid and not, that a request may carry.
var payloads = []string{
	``, `{}`, `null`, `[]`, `"s"`, `1`, ` {"s" : "sp" } `,
	`{"s":"x","S":"y"}`, `{"S":"case-insensitive"}`, `{"ID":"promoted","note":"through the pointer"}`,
	`{"s":"\xff\xfe"}`, `{"s":"\u0000\ud800\udc00\ud800"}`, `{"s":"a\/b\u00e9"}`, `{"s":'x'}`, `{"s":"unterminated}`,
	`{"i8":300}`, `{"i":1.5}`, `{"u":-1}`, `{"i":01}`, `{"i":-0}`, `{"f64":1e400}`, `{"f64":-0.0}`, `{"f32":1e39}`, `{"f64":1E2}`,
	`{"u64":18446744073709551616}`, `{"i64":-9223372036854775809}`, `{"UP":5}`,
	`{"s":null,"i":null,"items":null,"ptr":null,"map":null}`, `{"s":"a"} x`, `{"s":"a"}{}`, `{"s":"a",}`, `{"s" "a"}`,
	`{"bytes":"AAEC/w=="}`, `{"bytes":"!!"}`, `{"bytes":[1,2]}`, `{"bytes":null}`,
	`{"when":"2020-01-01T00:00:00Z"}`, `{"when":"2020-01-01"}`, `{"when":0}`, `{"dur":5}`, `{"dur":"5s"}`,
	`{"raw":{"x":[1, 2]}}`, `{"raw":nul}`, `{"num":12.5e3}`, `{"num":"1"}`, `{"num":"x"}`, `{"num":true}`,
	`{"as_str":"42"}`, `{"as_str":42}`, `{"as_str":"x"}`, `{"b_str":"true"}`, `{"b_str":true}`, `{"f_str":"1.5"}`,
	`{"arr":[1,2,3,4]}`, `{"arr":[1]}`, `{"map":{"a":{"sku":"1"},"a":{"qty":2}}}`, `{"int_map":{"1":"x","-2":"y"}}`, `{"int_map":{"y":"z"}}`,
	`{"key_map":{"a:b":1}}`, `{"key_map":{"nocolon":1}}`, `{"ips":{"10.0.0.1":true,"::1":false}}`, `{"ips":{"nope":true}}`,
	`{"ptr":{"sku":"a","qty":70000}}`, `{"items":[{"sku":"1"},{}, null]}`, `{"up":"LOUD"}`, `{"up":5}`, `{"ups":["A",null]}`,
	`{"nested":{"n":[{"x":1},null,{}]}}`, `{"Skip":"no","-":"dash","NoTag":"t","hidden":"h"}`, `{"oz":"2020-01-01T00:00:00Z"}`,
	`{"unknown":{"deep":[1,{"x":2}]}}`, `{"b":"true"}`, `{"b":1}`, `{"s":1}`, `{"items":{}}`, `{"map":[]}`,
	`{"a":` + strings.Repeat(`[`, 20) + strings.Repeat(`]`, 20) + `}`,
}

// same reports how dialtone.JSON and encoding/json differ on one payload
// decoded into a fresh *Everything and encoded again, or "".
func same(data []byte) string {
	var std, got Everything
	stdErr := dialtone.StdJSON.Unmarshal(data, &std)
	gotErr := dialtone.JSON.Unmarshal(data, &got)
	switch {
	case (stdErr == nil) != (gotErr == nil):
		return "accepted by one only: encoding/json: " + errText(stdErr) + "; JSON: " + errText(gotErr)
	case stdErr != nil && stdErr.Error() != gotErr.Error():
		return "different errors: " + stdErr.Error() + " | " + gotErr.Error()
	case stdErr != nil:
		return ""
	case !reflect.DeepEqual(std, got):
		return "decoded differently"
	}
	return sameEncoding(&std)
}

func sameEncoding(v any) string {
	want, wantErr := json.Marshal(v)
	have, haveErr := dialtone.JSON.Marshal(v)
	if string(want) != string(have) || errText(wantErr) != errText(haveErr) {
		return "encoded differently:\n  encoding/json " + string(want) + " " + errText(wantErr) + "\n  JSON          " + string(have) + " " + errText(haveErr)
	}
	return ""
}

func errText(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

func TestJSONMatchesEncodingJSON(t *testing.T) {
	for _, v := range everything() {
		if d := sameEncoding(&v); d != "" {
			t.Errorf("%+v: %s", v, d)
		}
		if d := sameEncoding(v); d != "" { // by value too: MarshalJSON on value receivers
			t.Errorf("value %+v: %s", v, d)
		}
		data, err := json.Marshal(&v)
		if err != nil {
			t.Fatal(err)
		}
		if d := same(data); d != "" {
			t.Errorf("round trip of %s: %s", data, d)
		}
	}
	for _, p := range payloads {
		if d := same([]byte(p)); d != "" {
			t.Errorf("%q: %s", p, d)
		}
	}
	// Values encoding/json refuses to encode are refused alike.
	for _, v := range []any{math.NaN(), math.Inf(1), map[bool]int{true: 1}, make(chan int), func() {}, Upper("x")} {
		if d := sameEncoding(v); d != "" {
			t.Errorf("%T: %s", v, d)
		}
	}
}

// FuzzJSONMatchesEncodingJSON holds dialtone.JSON to encoding/json on any
// payload decoded into Everything. The seed corpus is the payloads above and
// testdata/fuzz/FuzzJSONMatchesEncodingJSON.
func FuzzJSONMatchesEncodingJSON(f *testing.F) {
	for _, p := range payloads {
		f.Add([]byte(p))
	}
	for _, v := range everything() {
		data, _ := json.Marshal(&v)
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if d := same(data); d != "" {
			t.Fatalf("%q: %s", data, d)
		}
	})
}

// BenchmarkJSONCodec compares dialtone.JSON with encoding/json (StdJSON) on a
// small request like the benchmarks' and on Everything.
//
//	go test -run '^$' -bench JSONCodec -benchmem .
func BenchmarkJSONCodec(b *testing.B) {
	type request struct {
		Name string `json:"name" validate:"required,max=64"`
		Age  int    `json:"age" validate:"lte=150"`
	}
	small := &request{Name: "Ada Lovelace", Age: 36}
	smallData, _ := json.Marshal(small)
	big := everything()[1]
	big.F32 = 1.5 // goccy rejects MaxFloat32, and JSON then decodes twice (see the differential test)
	bigData, _ := json.Marshal(&big)
	for _, c := range []struct {
		name  string
		codec dialtone.Codec
	}{{"encoding-json", dialtone.StdJSON}, {"JSON", dialtone.JSON}} {
		b.Run("small/marshal/"+c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = c.codec.Marshal(small)
			}
		})
		b.Run("small/unmarshal/"+c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var r request
				_ = c.codec.Unmarshal(smallData, &r)
			}
		})
		b.Run("everything/marshal/"+c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = c.codec.Marshal(&big)
			}
		})
		b.Run("everything/unmarshal/"+c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var r Everything
				_ = c.codec.Unmarshal(bigData, &r)
			}
		})
	}
}
