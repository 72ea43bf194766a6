package dialtone

import (
	"cmp"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// A fast check answers "valid" for the common requests without
// go-playground/validator's reflection walk, which costs about half a
// microsecond per request on the service's hot path. It is compiled once per
// struct type, and only for types whose every rule is one it knows exactly
// (the ones codegen also turns into JSON Schema keywords): required, omitempty,
// and min, max, len, gte, lte, gt, lt, eq, ne with a number, on strings (counted
// in runes, as the validator counts), integers, unsigned integers, floats and
// bools. A type with any other rule, a rule on a pointer, slice, map, struct or
// time.Duration field, or nested rules has no fast check and goes to the
// validator as before.
//
// The fast check only ever accepts. When it finds a request invalid, the
// validator runs and decides (and writes the error), so the validator stays
// the one authority: the fast check is right as long as "the fast check accepts"
// implies "the validator accepts", which TestFastValidateMatchesValidator and
// FuzzFastValidate hold it to.

// fastPlan is the fast check of one struct type: one entry per field with rules.
type fastPlan struct {
	fields []fastField
}

type fastField struct {
	index int
	kind  reflect.Kind
	rules []fastRule
}

type fastOp uint8

const (
	opRequired fastOp = iota
	opOmitEmpty
	opMin // >= (min, gte)
	opMax // <= (max, lte)
	opLen
	opGt
	opLt
	opEq
	opNe
)

// fastRule is one rule with its parameter parsed for the field's kind.
type fastRule struct {
	op fastOp
	i  int64   // strings (rune count) and signed integers
	u  uint64  // unsigned integers
	f  float64 // floats
	b  bool    // bools (eq, ne)
}

var durationType = reflect.TypeFor[time.Duration]()

// compileFast returns the fast check of struct type t, or nil when it has none.
func compileFast(t reflect.Type) *fastPlan {
	if t.Kind() != reflect.Struct {
		return nil
	}
	p := &fastPlan{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag, has := f.Tag.Lookup("validate")
		if !has || tag == "" || tag == "-" {
			if tag != "-" && scanRules(f.Type, map[reflect.Type]bool{}) {
				return nil // nested rules: the validator's walk
			}
			continue
		}
		if !f.IsExported() || f.Anonymous {
			return nil
		}
		ff, ok := compileField(i, f.Type, tag)
		if !ok {
			return nil
		}
		p.fields = append(p.fields, ff)
	}
	return p
}

func compileField(index int, t reflect.Type, tag string) (fastField, bool) {
	ff := fastField{index: index, kind: t.Kind()}
	if t == durationType {
		return ff, false // the validator reads its parameters as durations
	}
	switch ff.kind {
	case reflect.String, reflect.Bool,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64:
	default:
		return ff, false
	}
	for rule := range strings.SplitSeq(tag, ",") {
		name, param, hasParam := strings.Cut(rule, "=")
		var r fastRule
		switch name {
		case "required", "omitempty":
			if hasParam {
				return ff, false
			}
			r.op = opRequired
			if name == "omitempty" {
				r.op = opOmitEmpty
			}
			ff.rules = append(ff.rules, r)
			continue
		case "min", "gte":
			r.op = opMin
		case "max", "lte":
			r.op = opMax
		case "len":
			r.op = opLen
		case "gt":
			r.op = opGt
		case "lt":
			r.op = opLt
		case "eq":
			r.op = opEq
		case "ne":
			r.op = opNe
		default:
			return ff, false
		}
		if !hasParam || !r.parse(ff.kind, param) {
			return ff, false
		}
		ff.rules = append(ff.rules, r)
	}
	return ff, true
}

// parse reads param as the validator does for a field of kind k (the same
// strconv call, so the same number); false when the rule is not one the fast
// check takes on, and the validator then decides (or panics, as it would have).
func (r *fastRule) parse(k reflect.Kind, param string) bool {
	var err error
	switch k {
	case reflect.String:
		if r.op == opEq || r.op == opNe {
			return false // compares the text, not its length
		}
		r.i, err = strconv.ParseInt(param, 0, 64)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		r.i, err = strconv.ParseInt(param, 0, 64)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		r.u, err = strconv.ParseUint(param, 0, 64)
	case reflect.Float32:
		r.f, err = strconv.ParseFloat(param, 32) // as the validator reads it for a float32
	case reflect.Float64:
		r.f, err = strconv.ParseFloat(param, 64)
	case reflect.Bool:
		if r.op != opEq && r.op != opNe {
			return false
		}
		r.b, err = strconv.ParseBool(param)
	default:
		return false
	}
	return err == nil
}

// ok reports whether the struct rv passes every rule. false means "ask the
// validator", not "invalid".
func (p *fastPlan) ok(rv reflect.Value) bool {
	for i := range p.fields {
		f := &p.fields[i]
		if !f.ok(rv.Field(f.index)) {
			return false
		}
	}
	return true
}

func (f *fastField) ok(v reflect.Value) bool {
	for i := range f.rules {
		r := &f.rules[i]
		switch r.op {
		case opRequired:
			if v.IsZero() {
				return false
			}
			continue
		case opOmitEmpty:
			if v.IsZero() {
				return true
			}
			continue
		}
		var pass bool
		switch f.kind {
		case reflect.String:
			pass = r.cmpInt(int64(utf8.RuneCountInString(v.String())))
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			pass = r.cmpInt(v.Int())
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
			pass = compare(r.op, v.Uint(), r.u)
		case reflect.Float32, reflect.Float64:
			pass = compare(r.op, v.Float(), r.f)
		case reflect.Bool:
			switch r.op {
			case opEq:
				pass = v.Bool() == r.b
			case opNe:
				pass = v.Bool() != r.b
			}
		}
		if !pass {
			return false
		}
	}
	return true
}

func (r *fastRule) cmpInt(n int64) bool { return compare(r.op, n, r.i) }

// compare applies a comparison rule to x against the rule's bound.
func compare[T cmp.Ordered](op fastOp, x, bound T) bool {
	switch op {
	case opMin:
		return x >= bound
	case opMax:
		return x <= bound
	case opLen, opEq:
		return x == bound
	case opNe:
		return x != bound
	case opGt:
		return x > bound
	case opLt:
		return x < bound
	}
	return false
}
