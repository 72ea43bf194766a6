package generator

// The message types of an interface's methods: each gets one
// JSON Schema constant, named after the type, however many methods use it.

import (
	"go/ast"
	"go/token"
	"go/types"
	"slices"
	"strings"

	"github.com/dialtone-dev/dialtone/codegen/internal/templates"
)

// message is one request or response type of the interface. Its JSON Schema is
// written once, to the constant name, however many endpoints use the type.
type message struct {
	t         *types.Named
	typ       string   // t as written in the generated file
	name      string   // the schema constant
	requests  []string // the methods taking t
	responses []string // the methods returning t
	events    []string // the event handlers taking t
}

// messages fills in the request and response types of f's methods and f.Schemas, one
// schema per distinct type, in the order the methods first use them.
func (g *gen) messages(f *templates.File, methods []*types.Func, astMethods map[token.Pos]*ast.Field, qual types.Qualifier) {
	var msgs []*message
	of := func(t *types.Named) *message {
		for _, m := range msgs {
			if types.Identical(m.t, t) {
				return m
			}
		}
		m := &message{t: t, typ: types.TypeString(t, qual)}
		msgs = append(msgs, m)
		return m
	}
	reqs, resps := make([]*message, len(f.Methods)), make([]*message, len(f.Methods))
	for i, m := range f.Methods {
		req, resp := g.reqResp(m.Name, methods, astMethods)
		reqs[i], resps[i] = of(req), of(resp)
		reqs[i].requests = append(reqs[i].requests, m.Name)
		resps[i].responses = append(resps[i].responses, m.Name)
	}
	g.nameSchemas(msgs)
	for i := range f.Methods {
		f.Methods[i].Request, f.Methods[i].RequestSchemaConst = reqs[i].typ, reqs[i].name
		f.Methods[i].Response, f.Methods[i].ResponseSchemaConst = resps[i].typ, resps[i].name
	}
	sg := &schemaGen{fset: g.p.fset, docs: g.docs, diags: &g.diags, seen: map[token.Pos]bool{}, invalid: &g.invalid}
	for _, m := range msgs {
		f.Schemas = append(f.Schemas, templates.Schema{Const: m.name, Type: m.typ, Uses: m.uses(), JSON: sg.Schema(m.t)})
	}
}

// nameSchemas names the schema constants after their types, e.g.
// greeterHelloRequestSchema for HelloRequest of interface Greeter. A type from
// another package whose name another message type also has gets its package name
// in the constant too (storeLegacyItemSchema for legacy.Item beside Item), and a
// name still taken, by the package, an import or another generated identifier, gets
// a number (echoMessageSchema2).
func (g *gen) nameSchemas(msgs []*message) {
	count := map[string]int{}
	for _, m := range msgs {
		count[typeIdent(m.t)]++
	}
	for _, m := range msgs {
		id := typeIdent(m.t)
		if pkg := m.t.Obj().Pkg(); count[id] > 1 && pkg != g.p.types {
			id = upperFirst(pkg.Name()) + id
		}
		m.name = g.free(lowerFirst(g.cfg.Type) + id + "Schema")
		g.used[m.name] = g.cfg.Type
	}
}

// typeIdent spells t as part of an identifier: its name followed by those of its
// type arguments, so Page[Product] is PageProduct. Type arguments that are not
// named or basic types are left out.
func typeIdent(t types.Type) string {
	switch t := types.Unalias(t).(type) {
	case *types.Named:
		id := upperFirst(t.Obj().Name())
		for arg := range t.TypeArgs().Types() {
			id += typeIdent(arg)
		}
		return id
	case *types.Basic:
		return upperFirst(t.Name())
	case *types.Pointer:
		return typeIdent(t.Elem())
	}
	return ""
}

// uses says which endpoints use the type, for the doc comment of its schema: "the
// request of Get and Tree", "the request and response of Echo", "the request of Put
// and the response of Get".
func (m *message) uses() string {
	if len(m.events) > 0 {
		return "the payload of " + andList(m.events)
	}
	if slices.Equal(m.requests, m.responses) {
		return "the request and response of " + andList(m.requests)
	}
	var parts []string
	if len(m.requests) > 0 {
		parts = append(parts, "the request of "+andList(m.requests))
	}
	if len(m.responses) > 0 {
		parts = append(parts, "the response of "+andList(m.responses))
	}
	return strings.Join(parts, " and ")
}

// andList joins words as English lists them: "A", "A and B", "A, B and C".
func andList(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " and " + words[len(words)-1]
}
