package dialtone

import (
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The types the fast check takes on: every rule it knows, on every kind it knows.
type fastStrings struct {
	Req   string `validate:"required"`
	Max   string `validate:"max=3"`
	Min   string `validate:"omitempty,min=2"`
	Len   string `validate:"len=2"`
	Range string `validate:"gte=1,lte=4"`
	Open  string `validate:"gt=0,lt=5"`

	Hex    string `validate:"max=0x4"`
	After  string `validate:"min=1,omitempty,max=2"`
	Plain  string
	Nested struct{ A int }
}

type fastInts struct {
	I   int     `validate:"required,lte=150"`
	I8  int8    `validate:"gte=-3,lt=100"`
	I16 int16   `validate:"omitempty,gt=10"`
	I32 int32   `validate:"eq=7"`
	I64 int64   `validate:"ne=0,min=-1_000"`
	U   uint    `validate:"max=9"`
	U8  uint8   `validate:"len=1"`
	U16 uint16  `validate:"omitempty,min=3,max=0o20"`
	U32 uint32  `validate:"gt=1,lt=1000"`
	U64 uint64  `validate:"required,ne=5"`
	Ptr uintptr `validate:"eq=0"`
}

type fastFloats struct {
	F32  float32 `validate:"gte=0.1,lte=1.5"`
	F64  float64 `validate:"gt=-0.5,lt=1e3"`
	Req  float64 `validate:"required"`
	Eq   float32 `validate:"omitempty,eq=0.3"`
	Ne   float64 `validate:"ne=2.5"`
	B    bool    `validate:"eq=true"`
	NotB bool    `validate:"ne=true"`
	BReq bool    `validate:"omitempty"`
}

// The kinds of types that must go to the validator.
type (
	slowEmail struct {
		E string `validate:"email"`
	}
	slowOr struct {
		S string `validate:"len=2|len=4"`
	}
	slowPtr struct {
		P *int `validate:"omitempty,min=1"`
	}
	slowSlice struct {
		S []int `validate:"max=2,dive,min=1"`
	}
	slowDuration struct {
		D time.Duration `validate:"max=1s"`
	}
	slowNested struct{ A fastStrings }
	slowEqText struct {
		S string `validate:"eq=abc"`
	}
	slowFloatInt struct {
		I int `validate:"max=1.5"`
	}
	slowBoolMin struct {
		B bool `validate:"min=1"`
	}
	slowHidden struct {
		s string `validate:"required"`
	}
	slowEmbedded struct {
		fastInts `validate:"required"`
	}
)

func TestFastCheckCompiles(t *testing.T) {
	for _, v := range []any{fastStrings{}, fastInts{}, fastFloats{}} {
		if compileFast(reflect.TypeOf(v)) == nil {
			t.Errorf("%T: no fast check", v)
		}
	}
	for _, v := range []any{slowEmail{}, slowOr{}, slowPtr{}, slowSlice{}, slowDuration{},
		slowNested{}, slowEqText{}, slowFloatInt{}, slowBoolMin{}, slowHidden{s: "x"}, slowEmbedded{}} {
		if compileFast(reflect.TypeOf(v)) != nil {
			t.Errorf("%T: has a fast check, want the validator", v)
		}
	}
}

var (
	fastTexts  = []string{"", "a", "ab", "abc", "abcd", "abcde", "1", "é", "éé", "日本語", "日本語x", strings.Repeat("x", 70)}
	fastInts64 = []int64{0, 1, -1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 16, 17, 99, 100, 101, 150, 151, -3, -4, -999, -1000, -1001, 1000, 999, 127, -128, math.MaxInt64, math.MinInt64}
	fastFl64   = []float64{0, math.Copysign(0, -1), 0.1, 0.09999999, 0.10000000149011612, 0.3, 0.30000001192092896, 1.5, 1.50001, -0.5, -0.49, 2.5, 999.99, 1000, math.NaN(), math.Inf(1), math.Inf(-1), 1e-45}
)

// check holds the fast check of v's type to the validator on v: they agree
// exactly (so the fast check neither lets through what the validator refuses,
// nor sends to the validator what it could have accepted itself).
func check(t *testing.T, v any) {
	t.Helper()
	rv := reflect.ValueOf(v)
	p := compileFast(rv.Type())
	if p == nil {
		t.Fatalf("%T: no fast check", v)
	}
	fast := p.ok(rv)
	slow := structValidator().Struct(v) == nil
	if fast != slow {
		t.Fatalf("%#v: fast check says valid=%v, the validator %v", v, fast, slow)
	}
}

func TestFastCheckMatchesValidator(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	text := func() string { return fastTexts[r.IntN(len(fastTexts))] }
	num := func() int64 { return fastInts64[r.IntN(len(fastInts64))] }
	fl := func() float64 { return fastFl64[r.IntN(len(fastFl64))] }
	for range 20000 {
		check(t, fastStrings{Req: text(), Max: text(), Min: text(), Len: text(), Range: text(),
			Open: text(), Hex: text(), After: text(), Plain: text()})
		check(t, fastInts{I: int(num()), I8: int8(num()), I16: int16(num()), I32: int32(num()), I64: num(),
			U: uint(num()), U8: uint8(num()), U16: uint16(num()), U32: uint32(num()), U64: uint64(num()), Ptr: uintptr(num() & 1)})
		check(t, fastFloats{F32: float32(fl()), F64: fl(), Req: fl(), Eq: float32(fl()), Ne: fl(),
			B: r.IntN(2) == 0, NotB: r.IntN(2) == 0, BReq: r.IntN(2) == 0})
	}
	// Valid values, so that both answers are seen.
	check(t, fastStrings{Req: "x", Len: "ab", Range: "a", Open: "a", After: "a"})
	check(t, fastInts{I: 1, I8: 0, I32: 7, I64: 5, U8: 1, U32: 2, U64: 1})
	check(t, fastFloats{F32: 0.1, F64: 0, Req: 1, Ne: 0, B: true})
}

// Validate answers through the fast check as the validator does, error included.
func TestValidateFastAndSlowAgree(t *testing.T) {
	if err := Validate(&fastInts{I: 1, I32: 7, I64: 5, U8: 1, U32: 2, U64: 1}); err != nil {
		t.Fatalf("valid: %v", err)
	}
	err := Validate(&fastInts{I: 200, I32: 7, I64: 5, U8: 1, U32: 2, U64: 1})
	if de := asError(err); de == nil || de.Code() != CodeInvalidArgument || de.Message() != "invalid request: I (lte)" {
		t.Fatalf("invalid: %v", err)
	}
	if n := testing.AllocsPerRun(100, func() { _ = Validate(&fastInts{I: 1, I32: 7, I64: 5, U8: 1, U32: 2, U64: 1}) }); n > 1 {
		t.Errorf("a valid request through the fast check: %v allocations, want at most 1 (the request)", n)
	}
}

func FuzzFastCheck(f *testing.F) {
	f.Add("ab", int64(7), uint64(1), 0.1, true)
	f.Add("", int64(0), uint64(0), 0.0, false)
	f.Add("日本語", int64(-1000), uint64(5), 1.5, false)
	f.Fuzz(func(t *testing.T, s string, i int64, u uint64, x float64, b bool) {
		check(t, fastStrings{Req: s, Max: s, Min: s, Len: s, Range: s, Open: s, Hex: s, After: s})
		check(t, fastInts{I: int(i), I8: int8(i), I16: int16(i), I32: int32(i), I64: i,
			U: uint(u), U8: uint8(u), U16: uint16(u), U32: uint32(u), U64: u, Ptr: uintptr(u & 1)})
		check(t, fastFloats{F32: float32(x), F64: x, Req: x, Eq: float32(x), Ne: x, B: b, NotB: b, BReq: b})
	})
}

func BenchmarkValidate(b *testing.B) {
	type request struct {
		Name string `json:"name" validate:"required,max=64"`
		Age  int    `json:"age" validate:"lte=150"`
	}
	req := &request{Name: "Ada Lovelace", Age: 36}
	b.Run("fast", func(b *testing.B) {
		for b.Loop() {
			_ = Validate(req)
		}
	})
	b.Run("validator", func(b *testing.B) {
		for b.Loop() {
			_ = structValidator().Struct(req)
		}
	})
}
