package generator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/token"
	"go/types"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// SchemaDialect is the JSON Schema dialect of every generated schema.
const SchemaDialect = "https://json-schema.org/draft/2020-12/schema"

// object is a JSON object that keeps its keys in insertion order, so schemas render
// the same way every run.
type object struct {
	keys []string
	vals map[string]any
}

func newObject() *object { return &object{vals: map[string]any{}} }

func (o *object) set(k string, v any) *object {
	if _, ok := o.vals[k]; !ok {
		o.keys = append(o.keys, k)
	}
	o.vals[k] = v
	return o
}

func (o *object) get(k string) any { return o.vals[k] }

// merge sets every key of other in o, in other's order.
func (o *object) merge(other *object) *object {
	for _, k := range other.keys {
		o.set(k, other.vals[k])
	}
	return o
}

func (o *object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		vb, err := json.Marshal(o.vals[k])
		if err != nil {
			return nil, err
		}
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// schemaGen derives JSON Schemas from Go types the way encoding/json encodes them,
// collecting diagnostics for what JSON cannot carry.
type schemaGen struct {
	fset  *token.FileSet
	docs  map[token.Pos]string // doc comments of struct fields and type names, by ident position
	diags *Diagnostics
	seen  map[token.Pos]bool // diagnostics already reported, by position
	// invalid is set when a type did not type-check; the package's type errors are
	// reported then.
	invalid *bool

	root     *types.Named
	inRoot   bool                    // describing the root's fields: the root is "#"
	defs     map[*types.Named]string // named struct types under $defs -> their name there
	defNames map[string]*types.Named
}

func (g *schemaGen) report(pos token.Pos, format string, args ...any) {
	if g.seen[pos] {
		return
	}
	g.seen[pos] = true
	*g.diags = append(*g.diags, Diagnostic{Pos: g.fset.Position(pos), Msg: fmt.Sprintf(format, args...)})
}

// Schema returns the JSON Schema, as indented JSON, of the values encoding/json
// produces for t (usually a named struct), with t's doc comment as its description.
func (g *schemaGen) Schema(t *types.Named) string {
	g.root = t
	g.defs = map[*types.Named]string{}
	g.defNames = map[string]*types.Named{}
	body := g.typeSchema(t, t.Obj().Name(), t.Obj().Pos())
	s := newObject().set("$schema", SchemaDialect).set("title", t.Obj().Name())
	if d := g.docs[t.Obj().Pos()]; d != "" {
		s.set("description", d)
	}
	s.merge(body)
	// Describing a definition may add more.
	defs := newObject()
	for done := map[*types.Named]bool{}; ; {
		var next *types.Named
		for n, name := range g.defs {
			if !done[n] && (next == nil || name < g.defs[next]) {
				next = n
			}
		}
		if next == nil {
			break
		}
		done[next] = true
		d := g.typeSchema(next.Underlying(), next.Obj().Name(), next.Obj().Pos())
		if doc := g.docs[next.Obj().Pos()]; doc != "" {
			d = newObject().set("description", doc).merge(d)
		}
		defs.set(g.defs[next], d)
	}
	if len(defs.keys) > 0 {
		slices.Sort(defs.keys)
		s.set("$defs", defs)
	}
	out, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		panic(err) // only strings, numbers, bools, slices and objects: cannot fail
	}
	return string(out)
}

func hasMethod(t types.Type, name string) bool {
	for _, tt := range []types.Type{t, types.NewPointer(t)} {
		if obj, _, _ := types.LookupFieldOrMethod(tt, true, nil, name); obj != nil {
			if _, ok := obj.(*types.Func); ok {
				return true
			}
		}
	}
	return false
}

func isNamed(t types.Type, pkgPath, name string) bool {
	n, ok := types.Unalias(t).(*types.Named)
	return ok && n.Obj().Pkg() != nil && n.Obj().Pkg().Path() == pkgPath && n.Obj().Name() == name
}

// typeSchema describes t; path names the value for diagnostics (e.g.
// "HelloRequest.Tags") and pos is where it is declared.
func (g *schemaGen) typeSchema(t types.Type, path string, pos token.Pos) *object {
	t = types.Unalias(t)
	s := newObject()
	switch {
	case isNamed(t, "time", "Time"):
		return s.set("type", "string").set("format", "date-time")
	case isNamed(t, "time", "Duration"):
		return s.set("type", "integer").set("description", "nanoseconds")
	case isNamed(t, "encoding/json", "RawMessage"), isNamed(t, "encoding/json", "Number"):
		return s // any JSON value
	}
	if _, isPtr := t.(*types.Pointer); !isPtr {
		if hasMethod(t, "MarshalJSON") {
			return s // the type encodes itself: any JSON value
		}
		if hasMethod(t, "MarshalText") {
			return s.set("type", "string")
		}
	}
	// Named struct types other than the root are described once, under $defs.
	if n, ok := t.(*types.Named); ok {
		if _, isStruct := n.Underlying().(*types.Struct); isStruct {
			if n != g.root {
				return s.set("$ref", "#/$defs/"+g.defName(n))
			}
			if g.inRoot {
				return s.set("$ref", "#")
			}
			g.inRoot = true
			defer func() { g.inRoot = false }()
		}
	}
	switch u := t.Underlying().(type) {
	case *types.Basic:
		switch {
		case u.Info()&types.IsBoolean != 0:
			return s.set("type", "boolean")
		case u.Info()&types.IsInteger != 0:
			s.set("type", "integer")
			if u.Info()&types.IsUnsigned != 0 {
				s.set("minimum", 0)
			}
			return s
		case u.Info()&types.IsFloat != 0:
			return s.set("type", "number")
		case u.Info()&types.IsString != 0:
			return s.set("type", "string")
		case u.Kind() == types.Invalid:
			if g.invalid != nil {
				*g.invalid = true
			}
			return s
		}
		g.report(pos, "%s: unsupported type %s (encoding/json cannot encode it)", path, t)
		return s
	case *types.Pointer:
		return g.typeSchema(u.Elem(), path, pos)
	case *types.Slice:
		if b, ok := types.Unalias(u.Elem()).Underlying().(*types.Basic); ok && b.Kind() == types.Byte && !hasMethod(u.Elem(), "MarshalJSON") && !hasMethod(u.Elem(), "MarshalText") {
			return s.set("type", "string").set("contentEncoding", "base64")
		}
		return s.set("type", "array").set("items", g.typeSchema(u.Elem(), path+"[i]", pos))
	case *types.Array:
		return s.set("type", "array").set("items", g.typeSchema(u.Elem(), path+"[i]", pos)).
			set("minItems", u.Len()).set("maxItems", u.Len())
	case *types.Map:
		key := types.Unalias(u.Key())
		kb, _ := key.Underlying().(*types.Basic)
		s.set("type", "object")
		switch {
		case kb != nil && kb.Info()&types.IsString != 0:
		case hasMethod(key, "MarshalText"):
		case kb != nil && kb.Info()&types.IsInteger != 0:
			s.set("propertyNames", newObject().set("pattern", "^-?[0-9]+$"))
		default:
			g.report(pos, "%s: unsupported map key type %s (JSON object keys are strings, integers or encoding.TextMarshaler)", path, u.Key())
		}
		return s.set("additionalProperties", g.typeSchema(u.Elem(), path+"[k]", pos))
	case *types.Struct:
		return g.structSchema(u, path, s)
	case *types.Interface:
		g.report(pos, "%s: unsupported type %s: an interface has no JSON Schema; use a concrete type", path, t)
		return s
	case *types.Chan, *types.Signature:
		g.report(pos, "%s: unsupported type %s (encoding/json cannot encode it)", path, t)
		return s
	default:
		g.report(pos, "%s: unsupported type %s", path, t)
		return s
	}
}

func (g *schemaGen) defName(n *types.Named) string {
	if name, ok := g.defs[n]; ok {
		return name
	}
	name := n.Obj().Name()
	for i := 2; g.defNames[name] != nil; i++ {
		name = n.Obj().Name() + strconv.Itoa(i)
	}
	g.defNames[name] = n
	g.defs[n] = name
	return name
}

// jsonField is one field of a struct's JSON object.
type jsonField struct {
	name     string
	tagged   bool
	depth    int
	v        *types.Var
	omit     bool // omitempty or omitzero
	asString bool // ",string"
	validate string
}

// jsonFields lists the fields encoding/json writes for st, embedded structs flattened
// and name conflicts resolved by its rules (shallowest wins, then the tagged one,
// else none).
func jsonFields(st *types.Struct) []jsonField {
	var all []jsonField
	var walk func(st *types.Struct, depth int, visiting []*types.Struct)
	walk = func(st *types.Struct, depth int, visiting []*types.Struct) {
		if slices.Contains(visiting, st) {
			return
		}
		visiting = append(visiting, st)
		for i := range st.NumFields() {
			f := st.Field(i)
			tag := reflect.StructTag(st.Tag(i))
			jtag := tag.Get("json")
			if jtag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(jtag, ",")
			if f.Embedded() && name == "" {
				et := types.Unalias(f.Type())
				if p, ok := et.(*types.Pointer); ok {
					et = types.Unalias(p.Elem())
				}
				if est, ok := et.Underlying().(*types.Struct); ok && !hasMethod(et, "MarshalJSON") && !hasMethod(et, "MarshalText") {
					walk(est, depth+1, visiting)
					continue
				}
			}
			if !f.Exported() {
				continue
			}
			jf := jsonField{name: name, tagged: name != "", depth: depth, v: f, validate: tag.Get("validate")}
			if !validName(name) {
				jf.name, jf.tagged = f.Name(), false
			}
			for _, o := range strings.Split(opts, ",") {
				switch o {
				case "omitempty", "omitzero":
					jf.omit = true
				case "string":
					jf.asString = true
				}
			}
			all = append(all, jf)
		}
	}
	walk(st, 0, nil)

	byName := map[string][]int{}
	for i, f := range all {
		byName[f.name] = append(byName[f.name], i)
	}
	var out []jsonField
	for i, f := range all {
		if dominant(all, byName[f.name]) == i {
			out = append(out, f)
		}
	}
	return out
}

// dominant returns which of the same-named fields idx encoding/json keeps, or -1.
func dominant(all []jsonField, idx []int) int {
	minDepth := all[idx[0]].depth
	for _, i := range idx {
		minDepth = min(minDepth, all[i].depth)
	}
	var shallow, tagged []int
	for _, i := range idx {
		if all[i].depth == minDepth {
			shallow = append(shallow, i)
			if all[i].tagged {
				tagged = append(tagged, i)
			}
		}
	}
	switch {
	case len(shallow) == 1:
		return shallow[0]
	case len(tagged) == 1:
		return tagged[0]
	}
	return -1
}

// validName is encoding/json's rule for a usable tag name.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		switch {
		case strings.ContainsRune("!#$%&()*+-./:;<=>?@[]^_{|}~ ", c):
		case c == '\\' || c == '"' || c == '\'' || c == '`' || c == ',':
			return false
		case c < ' ' || c == 0x7f:
			return false
		}
	}
	return true
}

func (g *schemaGen) structSchema(st *types.Struct, path string, s *object) *object {
	s.set("type", "object")
	props := newObject()
	var required []string
	for _, f := range jsonFields(st) {
		fs := g.typeSchema(f.v.Type(), path+"."+f.v.Name(), f.v.Pos())
		if f.asString {
			if b, ok := types.Unalias(f.v.Type()).Underlying().(*types.Basic); ok && b.Info()&(types.IsBoolean|types.IsNumeric|types.IsString) != 0 {
				fs = newObject().set("type", "string")
			}
		}
		if d := g.docs[f.v.Pos()]; d != "" {
			fs.set("description", d)
		}
		req := applyValidate(fs, f.validate)
		if req || !f.omit {
			required = append(required, f.name)
		}
		props.set(f.name, fs)
	}
	s.set("properties", props)
	if len(required) > 0 {
		s.set("required", required)
	}
	return s
}

// applyValidate adds the JSON Schema keywords that say what a go-playground/validator
// tag says, as far as JSON Schema can, and reports whether the tag requires the field.
func applyValidate(s *object, tag string) (required bool) {
	typ, _ := s.get("type").(string)
	for _, rule := range strings.Split(tag, ",") {
		name, param, _ := strings.Cut(rule, "=")
		if name == "dive" || name == "keys" {
			break // the rest applies to elements
		}
		if strings.Contains(rule, "|") {
			continue
		}
		switch name {
		case "required":
			required = true
		case "min", "gte", "max", "lte", "len", "gt", "lt":
			n, err := strconv.ParseFloat(param, 64)
			if err != nil {
				continue
			}
			var num any = n
			if n == float64(int64(n)) {
				num = int64(n)
			}
			var lo, hi string
			switch typ {
			case "string":
				lo, hi = "minLength", "maxLength"
			case "array":
				lo, hi = "minItems", "maxItems"
			case "object":
				lo, hi = "minProperties", "maxProperties"
			case "integer", "number":
				lo, hi = "minimum", "maximum"
				if name == "gt" {
					lo = "exclusiveMinimum"
				}
				if name == "lt" {
					hi = "exclusiveMaximum"
				}
			default:
				continue
			}
			if (name == "gt" || name == "lt") && typ != "integer" && typ != "number" {
				continue
			}
			switch name {
			case "min", "gte", "gt":
				s.set(lo, num)
			case "max", "lte", "lt":
				s.set(hi, num)
			case "len":
				s.set(lo, num).set(hi, num)
			}
		case "oneof":
			var enum []any
			for _, w := range strings.Fields(param) {
				switch typ {
				case "integer", "number":
					if n, err := strconv.ParseFloat(w, 64); err == nil {
						if n == float64(int64(n)) {
							enum = append(enum, int64(n))
						} else {
							enum = append(enum, n)
						}
					}
				default:
					enum = append(enum, w)
				}
			}
			if len(enum) > 0 {
				s.set("enum", enum)
			}
		case "email":
			s.set("format", "email")
		case "url", "uri", "http_url":
			s.set("format", "uri")
		case "uuid", "uuid4", "uuid_rfc4122", "uuid4_rfc4122":
			s.set("format", "uuid")
		case "hostname", "hostname_rfc1123":
			s.set("format", "hostname")
		case "ipv4":
			s.set("format", "ipv4")
		case "ipv6":
			s.set("format", "ipv6")
		}
	}
	return required
}
