package dialtone

import (
	"errors"
	"reflect"
	"sort"
	"strings"
	"sync"

	"github.com/go-playground/validator/v10"
)

var (
	validateOnce sync.Once
	validatorV   *validator.Validate
	rulesCache   sync.Map // reflect.Type -> typeRules
)

// typeRules is what Validate knows of a struct type: whether it or a struct it
// contains (as a field, a pointer field or an embedded struct) has a validate
// tag, so that types without rules skip the validator altogether, and its fast
// check (validate_fast.go; nil when it has none).
type typeRules struct {
	any  bool
	fast *fastPlan
}

// rulesOf returns what Validate knows of struct type t, worked out once.
func rulesOf(t reflect.Type) typeRules {
	if v, ok := rulesCache.Load(t); ok {
		return v.(typeRules)
	}
	r := typeRules{any: scanRules(t, map[reflect.Type]bool{})}
	if r.any {
		r.fast = compileFast(t)
	}
	rulesCache.Store(t, r)
	return r
}

func scanRules(t reflect.Type, seen map[reflect.Type]bool) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || seen[t] {
		return false
	}
	seen[t] = true
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if tag, ok := f.Tag.Lookup("validate"); ok && tag != "" && tag != "-" {
			return true
		}
		if scanRules(f.Type, seen) {
			return true
		}
	}
	return false
}

func structValidator() *validator.Validate {
	validateOnce.Do(func() {
		validatorV = validator.New(validator.WithRequiredStructEnabled())
	})
	return validatorV
}

// Validate checks v against its go-playground/validator struct tags
// (`validate:"required,email"`). It returns nil when v is valid, is nil, or is not a
// struct or pointer to a struct. On failure it returns an *Error with
// CodeInvalidArgument whose Details are {"fields": {"<field>": "<tag>"}}, where
// <field> is the field's namespace below the top-level type (e.g. "Name" or
// "Address.City") and <tag> the failed rule; the message lists the same pairs.
func Validate(v any) error {
	if v == nil {
		return nil
	}
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return nil
		}
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct {
		return nil
	}
	rules := rulesOf(rv.Type())
	if !rules.any || (rules.fast != nil && rules.fast.ok(rv)) {
		return nil
	}
	err := structValidator().Struct(v)
	if err == nil {
		return nil
	}
	var verrs validator.ValidationErrors
	if !errors.As(err, &verrs) {
		return Errorf(CodeInvalidArgument, "invalid request: %v", err)
	}
	fields := make(map[string]string, len(verrs))
	names := make([]string, 0, len(verrs))
	for _, fe := range verrs {
		name := jsonPath(rv.Type(), fe.StructNamespace())
		if _, dup := fields[name]; !dup {
			names = append(names, name)
		}
		fields[name] = fe.Tag()
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("invalid request: ")
	for i, n := range names {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(n)
		b.WriteString(" (")
		b.WriteString(fields[n])
		b.WriteString(")")
	}
	return &Error{
		code:    CodeInvalidArgument,
		err:     errors.New(b.String()),
		details: map[string]any{"fields": fields},
	}
}

// jsonPath turns the Go namespace of a field ("createUser.Address.City",
// "order.Lines[0].SKU") into its path as encoding/json names it ("address.city",
// "lines[0].sku"), starting below the top-level type t: each field by its json
// tag name, or its Go name without one; an embedded struct without a tag name
// adds no segment, as its fields are promoted.
func jsonPath(t reflect.Type, ns string) string {
	_, rest, ok := strings.Cut(ns, ".")
	if !ok {
		return ns
	}
	var out []string
	for seg := range strings.SplitSeq(rest, ".") {
		name, index, _ := strings.Cut(seg, "[")
		if index != "" {
			index = "[" + index
		}
		for t != nil && t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		var f reflect.StructField
		found := false
		if t != nil && t.Kind() == reflect.Struct {
			f, found = t.FieldByName(name)
		}
		if !found {
			out = append(out, seg) // not a struct field we can see: as the validator says
			t = nil
			continue
		}
		tagName, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case f.Anonymous && tagName == "" && index == "":
			// promoted fields: no segment of its own
		case tagName == "" || tagName == "-":
			out = append(out, f.Name+index)
		default:
			out = append(out, tagName+index)
		}
		t = f.Type
		for n := strings.Count(index, "["); n > 0 && t != nil; n-- {
			for t.Kind() == reflect.Pointer {
				t = t.Elem()
			}
			switch t.Kind() {
			case reflect.Slice, reflect.Array, reflect.Map:
				t = t.Elem()
			default:
				t = nil
			}
		}
	}
	return strings.Join(out, ".")
}
