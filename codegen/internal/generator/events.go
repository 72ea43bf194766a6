package generator

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"path/filepath"

	"github.com/dialtone-dev/dialtone/codegen/internal/templates"
)

// eventHandlers reports whether iface is an interface of event handlers: every
// method returns a single result (which the checks then require to be error).
// An interface that mixes them with endpoints is a service interface, whose
// check says what is wrong with the odd ones.
func eventHandlers(iface *types.Interface) bool {
	for i := range iface.NumMethods() {
		if iface.Method(i).Type().(*types.Signature).Results().Len() != 1 {
			return false
		}
	}
	return true
}

// eventsFile checks an interface of event handlers and returns the data of its
// generated file: a topic per method, a publisher that implements the interface,
// and the registration of an implementation's methods as subscriptions.
func (g *gen) eventsFile(obj types.Object) *templates.EventsFile {
	iface := obj.Type().Underlying().(*types.Interface)
	T := g.cfg.Type
	f := &templates.EventsFile{
		Header:        templates.Header,
		Source:        filepath.Base(g.p.fset.Position(obj.Pos()).Filename),
		Command:       fmt.Sprintf("dialtone codegen -type %s -service %s", T, g.cfg.Service),
		Package:       g.p.types.Name(),
		Interface:     T,
		Service:       g.cfg.Service,
		PublisherType: T + "Publisher",
		NewPublisher:  "New" + T + "Publisher",
		Register:      "Register" + T,
	}
	g.used = map[string]string{}
	g.declare(obj.Pos(), f.PublisherType, f.NewPublisher, f.Register)

	methods := g.sortedMethods(obj, iface)
	astMethods := g.interfaceMethods(obj)
	subjects := map[string]*types.Func{}
	var payloads []*types.Named
	for _, m := range methods {
		if ev, t, ok := g.event(m, astMethods[m.Pos()], subjects); ok {
			f.Events = append(f.Events, ev)
			payloads = append(payloads, t)
		}
	}

	f.Context = g.importName("context", "context")
	f.Dialtone = g.importName("github.com/dialtone-dev/dialtone", "dialtone")
	f.Event = g.importName("github.com/dialtone-dev/dialtone/event", "event")
	f.ServicePkg = g.importName("github.com/dialtone-dev/dialtone/service", "service")
	qual := g.qualifier

	// One schema per distinct payload type, in the order the events first use them.
	var msgs []*message
	of := make([]*message, len(payloads))
	for i, t := range payloads {
		for _, m := range msgs {
			if types.Identical(m.t, t) {
				of[i] = m
			}
		}
		if of[i] == nil {
			of[i] = &message{t: t, typ: types.TypeString(t, qual)}
			msgs = append(msgs, of[i])
		}
		of[i].events = append(of[i].events, f.Events[i].Name)
	}
	g.nameSchemas(msgs)
	for i := range f.Events {
		f.Events[i].Type, f.Events[i].SchemaConst = of[i].typ, of[i].name
	}
	sg := &schemaGen{fset: g.p.fset, docs: g.docs, diags: &g.diags, seen: map[token.Pos]bool{}, invalid: &g.invalid}
	for _, m := range msgs {
		f.Schemas = append(f.Schemas, templates.Schema{Const: m.name, Type: m.typ, Uses: m.uses(), JSON: sg.Schema(m.t)})
	}
	f.StdImports, f.Imports = g.importLists()
	if g.invalid {
		g.typeErrors()
	}
	return f
}

// event checks one event handler method, OrderPlaced(ctx context.Context, ev
// *OrderPlaced) error, and returns its event and payload type.
func (g *gen) event(m *types.Func, field *ast.Field, subjects map[string]*types.Func) (templates.Event, *types.Named, bool) {
	c := &methodCheck{g: g, m: m, ok: true}
	bad := c.bad
	const want = "want (ctx context.Context, ev *Event) error"
	sig, msgOK := g.checkMethod(c, "an events interface", "event", "the event", want)
	if sig == nil {
		return templates.Event{}, nil, false
	}
	var payload *types.Named
	if msgOK {
		payload, _ = types.Unalias(sig.Params().At(1).Type().(*types.Pointer).Elem()).(*types.Named)
	}
	results := sig.Results()
	if t := results.At(0).Type(); !types.Identical(t, types.Universe.Lookup("error").Type()) {
		g.noteInvalid(t)
		bad(results.At(0).Pos(), "returns %s; an event handler returns error (%s)", g.typeString(t), want)
	}

	ev := templates.Event{
		Name:         m.Name(),
		Subject:      g.cfg.Service + "." + m.Name(),
		SubjectConst: g.cfg.Type + m.Name() + "Subject",
		TopicFunc:    g.cfg.Type + m.Name() + "Topic",
	}
	ev.Doc, ev.Subject = g.directives(m, field, ev.Subject, bad)
	if prev, dup := subjects[ev.Subject]; dup {
		bad(m.Pos(), "subject %s is already the subject of event %s (%s); give each event its own subject", ev.Subject, prev.Name(), g.position(prev.Pos()))
	} else {
		subjects[ev.Subject] = m
	}
	if c.ok {
		g.declare(m.Pos(), ev.SubjectConst, ev.TopicFunc)
		ev.TopicVar = g.free(lowerFirst(ev.TopicFunc))
		g.used[ev.TopicVar] = g.cfg.Type
	}
	return ev, payload, c.ok && payload != nil
}
