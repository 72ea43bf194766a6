package generator

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/format"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/dialtone-dev/dialtone/codegen/internal/templates"
	"github.com/dialtone-dev/dialtone/internal/wire"
)

// Config says what to generate.
type Config struct {
	Dir     string // directory of the package declaring the interface; "" is "."
	Type    string // the interface, e.g. "Greeter"
	Service string // service name; "" is the interface name lower-cased
	Output  string // file name in Dir; "" is the interface name lower-cased + "_dialtone.go"
}

// Result is a generated file.
type Result struct {
	Path   string // Dir joined with the output file name
	Source []byte // gofmt'd Go source
}

// Directive prefix of the comments the generator reads on interface methods:
//
//	//dialtone:subject orders.v2.create
//
// gives the method's endpoint that subject instead of "<service>.<Method>".
const Directive = "//dialtone:"

// Generate loads the package in cfg.Dir, checks the interface cfg.Type and renders
// its client and server wiring. Problems with the input are returned as Diagnostics.
func Generate(cfg Config) (*Result, error) {
	if cfg.Dir == "" {
		cfg.Dir = "."
	}
	if !token.IsIdentifier(cfg.Type) {
		return nil, Diagnostics{{Msg: fmt.Sprintf("-type %q: want the name of an interface type declared in %s", cfg.Type, cfg.Dir)}}
	}
	if cfg.Service == "" {
		cfg.Service = strings.ToLower(cfg.Type)
	}
	if !wire.ValidName(cfg.Service) {
		return nil, Diagnostics{{Msg: fmt.Sprintf("-service %q: a service name is letters, digits, '_' and '-' only", cfg.Service)}}
	}
	if cfg.Output == "" {
		cfg.Output = strings.ToLower(cfg.Type) + "_dialtone.go"
	}
	if filepath.Base(cfg.Output) != cfg.Output || !strings.HasSuffix(cfg.Output, ".go") || strings.HasSuffix(cfg.Output, "_test.go") {
		return nil, Diagnostics{{Msg: fmt.Sprintf("-output %q: want a non-test .go file name (it is written beside the interface)", cfg.Output)}}
	}
	out := filepath.Join(cfg.Dir, cfg.Output)
	if src, err := os.ReadFile(out); err == nil && !isGenerated(src) {
		return nil, Diagnostics{{Pos: token.Position{Filename: out}, Msg: "exists and was not written by dialtone codegen; not overwriting it (choose another -output)"}}
	}

	p, err := loadPackage(cfg.Dir)
	if err != nil {
		return nil, err
	}
	g := &gen{cfg: cfg, p: p, docs: docComments(p.files)}
	data, tmpl := g.file()
	if len(g.diags) > 0 {
		sortDiags(g.diags)
		return nil, g.diags
	}
	var buf bytes.Buffer
	if err := templates.Codegen.ExecuteTemplate(&buf, tmpl, data); err != nil {
		return nil, fmt.Errorf("codegen: rendering: %v", err)
	}
	src, err := format.Source(buf.Bytes())
	if err != nil {
		return nil, fmt.Errorf("codegen: generated code does not parse (a bug): %v\n%s", err, buf.Bytes())
	}
	return &Result{Path: out, Source: src}, nil
}

func sortDiags(ds Diagnostics) {
	slices.SortStableFunc(ds, func(a, b Diagnostic) int {
		if c := strings.Compare(a.Pos.Filename, b.Pos.Filename); c != 0 {
			return c
		}
		return a.Pos.Offset - b.Pos.Offset
	})
}

type gen struct {
	cfg   Config
	p     *pkg
	docs  map[token.Pos]string
	diags Diagnostics

	invalid bool              // a type the interface uses did not type-check
	used    map[string]string // identifiers of the generated file's scope -> what they are
	imports map[string]string // import path -> name in the generated file
}

func (g *gen) errorf(pos token.Pos, format string, args ...any) {
	g.diags = append(g.diags, Diagnostic{Pos: g.p.fset.Position(pos), Msg: fmt.Sprintf(format, args...)})
}

// position renders pos for messages that point elsewhere.
func (g *gen) position(pos token.Pos) string {
	p := g.p.fset.Position(pos)
	return fmt.Sprintf("%s:%d:%d", filepath.Base(p.Filename), p.Line, p.Column)
}

// file checks the interface and returns the data of the file to generate and the
// name of its template: "service.go.tmpl" for a service (methods
// (ctx, *Req) (*Resp, error)), "events.go.tmpl" for event handlers (methods
// (ctx, *Event) error).
func (g *gen) file() (data any, template string) {
	const serviceTemplate = "service.go.tmpl"
	scope := g.p.types.Scope()
	obj := scope.Lookup(g.cfg.Type)
	if obj == nil {
		g.diags = append(g.diags, Diagnostic{Pos: token.Position{Filename: g.cfg.Dir},
			Msg: fmt.Sprintf("-type %s: no such type in package %s%s", g.cfg.Type, g.p.types.Name(), g.interfacesHint())})
		return nil, serviceTemplate
	}
	tn, ok := obj.(*types.TypeName)
	if !ok {
		g.errorf(obj.Pos(), "-type %s: %s is a %s, not an interface type", g.cfg.Type, obj.Name(), kindOf(obj))
		return nil, serviceTemplate
	}
	named, _ := types.Unalias(tn.Type()).(*types.Named)
	iface, ok := tn.Type().Underlying().(*types.Interface)
	if !ok || named == nil {
		g.errorf(obj.Pos(), "-type %s: %s is %s, not an interface", g.cfg.Type, obj.Name(), describe(tn.Type().Underlying()))
		return nil, serviceTemplate
	}
	if !tn.Exported() {
		g.errorf(obj.Pos(), "interface %s is unexported; a service interface must be exported so other packages can call it", tn.Name())
	}
	if named.TypeParams().Len() > 0 {
		g.errorf(obj.Pos(), "interface %s has type parameters; a service interface cannot be generic", tn.Name())
		return nil, serviceTemplate
	}
	if !iface.IsMethodSet() {
		g.errorf(obj.Pos(), "interface %s is a type constraint (it has a type set), not a set of methods", tn.Name())
		return nil, serviceTemplate
	}
	if iface.NumMethods() == 0 {
		g.errorf(obj.Pos(), "interface %s has no methods; declare one per endpoint, e.g. SayHello(ctx context.Context, req *HelloRequest) (*HelloReply, error), "+
			"or one per event, e.g. OrderPlaced(ctx context.Context, ev *OrderPlaced) error", tn.Name())
		return nil, serviceTemplate
	}
	if eventHandlers(iface) {
		return g.eventsFile(obj), "events.go.tmpl"
	}

	T := g.cfg.Type
	f := &templates.File{
		Header:           templates.Header,
		Source:           filepath.Base(g.p.fset.Position(obj.Pos()).Filename),
		Command:          fmt.Sprintf("dialtone codegen -type %s -service %s", T, g.cfg.Service),
		Package:          g.p.types.Name(),
		Interface:        T,
		Service:          g.cfg.Service,
		ServiceNameConst: T + "ServiceName",
		ClientType:       T + "Client",
		NewClient:        "New" + T + "Client",
		Register:         "Register" + T,
	}
	g.used = map[string]string{}
	g.declare(obj.Pos(), f.ServiceNameConst, f.ClientType, f.NewClient, f.Register)

	methods := g.sortedMethods(obj, iface)
	astMethods := g.interfaceMethods(obj)
	subjects := map[string]*types.Func{}
	for _, m := range methods {
		if mm, ok := g.method(f, m, astMethods[m.Pos()], subjects); ok {
			f.Methods = append(f.Methods, mm)
		}
	}

	// The generated file's imports: the names must not collide with the package's
	// declarations or the generated identifiers.
	f.Context = g.importName("context", "context")
	f.Dialtone = g.importName("github.com/dialtone-dev/dialtone", "dialtone")
	f.RPC = g.importName("github.com/dialtone-dev/dialtone/rpc", "rpc")
	f.ServicePkg = g.importName("github.com/dialtone-dev/dialtone/service", "service")
	qual := g.qualifier
	g.messages(f, methods, astMethods, qual)
	f.StdImports, f.Imports = g.importLists()

	if g.invalid {
		g.typeErrors()
	}
	return f, serviceTemplate
}

// sortedMethods returns the interface's methods in the order its source lists
// them (by name where that does not decide).
func (g *gen) sortedMethods(obj types.Object, iface *types.Interface) []*types.Func {
	methods := make([]*types.Func, iface.NumMethods())
	for i := range methods {
		methods[i] = iface.Method(i)
	}
	order := g.methodOrder(obj)
	slices.SortStableFunc(methods, func(a, b *types.Func) int {
		if c := order(a) - order(b); c != 0 {
			return c
		}
		return strings.Compare(a.Name(), b.Name())
	})
	return methods
}

// importLists returns the imports the generated file needs, standard library
// first, each list sorted by path.
func (g *gen) importLists() (std, other []templates.Import) {
	for path, name := range g.imports {
		im := templates.Import{Path: path}
		if last := path[strings.LastIndex(path, "/")+1:]; name != last {
			im.Name = name
		}
		if first, _, _ := strings.Cut(path, "/"); strings.Contains(first, ".") {
			other = append(other, im)
		} else {
			std = append(std, im)
		}
	}
	byPath := func(a, b templates.Import) int { return strings.Compare(a.Path, b.Path) }
	slices.SortFunc(std, byPath)
	slices.SortFunc(other, byPath)
	return std, other
}

// declare reserves generated package-level identifiers, reporting those the package
// already declares.
func (g *gen) declare(at token.Pos, names ...string) {
	for _, name := range names {
		if obj := g.p.types.Scope().Lookup(name); obj != nil {
			g.errorf(obj.Pos(), "%s %s clashes with the identifier codegen generates for interface %s (at %s); rename it, or the interface",
				kindOf(obj), name, g.cfg.Type, g.position(at))
		} else if what, dup := g.used[name]; dup {
			g.errorf(at, "generated identifier %s is needed twice (for %s); rename a method", name, what)
		}
		g.used[name] = g.cfg.Type
	}
}

// qualifier names a package in the generated file's type expressions: nothing
// for the interface's own package, else its import name.
func (g *gen) qualifier(pkg *types.Package) string {
	if pkg == g.p.types {
		return ""
	}
	return g.importName(pkg.Path(), pkg.Name())
}

// importName gives the package path a name in the generated file, preferring want.
func (g *gen) importName(path, want string) string {
	if g.imports == nil {
		g.imports = map[string]string{}
	}
	if name, ok := g.imports[path]; ok {
		return name
	}
	name := g.free(want)
	g.imports[path] = name
	return name
}

// free returns want, or want with the smallest number from 2 appended, whichever is
// not yet a name in the generated file's scope: not declared by the package, not
// generated, not an import name.
func (g *gen) free(want string) string {
	taken := func(name string) bool {
		if g.p.types.Scope().Lookup(name) != nil || g.used[name] != "" {
			return true
		}
		for _, n := range g.imports {
			if n == name {
				return true
			}
		}
		return false
	}
	name := want
	for i := 2; taken(name); i++ {
		name = fmt.Sprintf("%s%d", want, i)
	}
	return name
}

// methodOrder ranks methods as the interface's source lists them: a declared method
// by its line, an embedded interface's methods at the line that embeds it.
func (g *gen) methodOrder(obj types.Object) func(*types.Func) int {
	var fields []*ast.Field
	for _, file := range g.p.files {
		ast.Inspect(file, func(n ast.Node) bool {
			if ts, ok := n.(*ast.TypeSpec); ok && ts.Name.Pos() == obj.Pos() {
				if it, ok := ts.Type.(*ast.InterfaceType); ok {
					fields = it.Methods.List
				}
				return false
			}
			return true
		})
	}
	return func(m *types.Func) int {
		for i, f := range fields {
			for _, name := range f.Names {
				if name.Pos() == m.Pos() {
					return i
				}
			}
			if len(f.Names) == 0 {
				if tv, ok := g.p.info.Types[f.Type]; ok {
					if it, ok := tv.Type.Underlying().(*types.Interface); ok {
						for j := range it.NumMethods() {
							if it.Method(j) == m {
								return i
							}
						}
					}
				}
			}
		}
		return len(fields)
	}
}

// interfaceMethods maps the positions of the methods declared in the interface's own
// source to their AST, for doc comments and directives.
func (g *gen) interfaceMethods(obj types.Object) map[token.Pos]*ast.Field {
	out := map[token.Pos]*ast.Field{}
	for _, file := range g.p.files {
		ast.Inspect(file, func(n ast.Node) bool {
			ts, ok := n.(*ast.TypeSpec)
			if !ok || ts.Name.Pos() != obj.Pos() {
				return true
			}
			if it, ok := ts.Type.(*ast.InterfaceType); ok {
				for _, field := range it.Methods.List {
					for _, name := range field.Names {
						out[name.Pos()] = field
					}
				}
			}
			return false
		})
	}
	return out
}

func (g *gen) method(f *templates.File, m *types.Func, field *ast.Field, subjects map[string]*types.Func) (templates.Method, bool) {
	c := &methodCheck{g: g, m: m, ok: true}
	bad := c.bad
	want := "want (ctx context.Context, req *Request) (*Response, error)"
	sig, _ := g.checkMethod(c, "a service interface", "endpoint", "the request", want)
	if sig == nil {
		return templates.Method{}, false
	}
	results := sig.Results()
	switch {
	case results.Len() == 1 && types.Identical(results.At(0).Type(), types.Universe.Lookup("error").Type()):
		bad(m.Pos(), "returns only error, like an event handler, but the other methods of %s are endpoints (%s); "+
			"declare event handlers, (ctx context.Context, ev *Event) error, in an interface of their own", g.cfg.Type, want)
	case results.Len() != 2:
		bad(m.Pos(), "has %s; %s", plural(results.Len(), "result"), want)
	default:
		g.messageType(results.At(0).Type(), results.At(0).Pos(), "first result (the response)", want, bad)
		if t := results.At(1).Type(); !types.Identical(t, types.Universe.Lookup("error").Type()) {
			g.noteInvalid(t)
			bad(results.At(1).Pos(), "second result is %s; it must be error (%s)", g.typeString(t), want)
		}
	}

	mm := templates.Method{
		Name:         m.Name(),
		Subject:      g.cfg.Service + "." + m.Name(),
		SubjectConst: f.Interface + m.Name() + "Subject",
		EndpointFunc: f.Interface + m.Name() + "Endpoint",
	}
	mm.Doc, mm.Subject = g.directives(m, field, mm.Subject, bad)
	if prev, dup := subjects[mm.Subject]; dup {
		bad(m.Pos(), "subject %s is already the subject of method %s (%s); two endpoints cannot share a subject", mm.Subject, prev.Name(), g.position(prev.Pos()))
	} else {
		subjects[mm.Subject] = m
	}
	if c.ok {
		g.declare(m.Pos(), mm.SubjectConst, mm.EndpointFunc)
	}
	return mm, c.ok
}

// directives reads a method's doc comment and its //dialtone: directives: the
// doc text, and the subject (subject unless a directive sets another).
func (g *gen) directives(m *types.Func, field *ast.Field, subject string, bad func(token.Pos, string, ...any)) (doc, subj string) {
	subj = subject
	if field == nil {
		return "", subj
	}
	if field.Doc != nil {
		doc = strings.TrimSpace(field.Doc.Text())
	}
	for _, c := range commentLines(field.Doc, field.Comment) {
		if !strings.HasPrefix(c.Text, Directive) {
			continue
		}
		key, val, _ := strings.Cut(strings.TrimPrefix(c.Text, Directive), " ")
		val = strings.TrimSpace(val)
		switch key {
		case "subject":
			if !wire.ValidSubject(val) {
				bad(c.Pos(), "%ssubject %q: want a NATS subject without wildcards, e.g. %s.%s", Directive, val, g.cfg.Service, m.Name())
				continue
			}
			subj = val
		default:
			bad(c.Pos(), "unknown directive %s%s (known: %ssubject)", Directive, key, Directive)
		}
	}
	return doc, subj
}

// messageType checks that t is a pointer to a named struct type usable as a request
// or response.
func (g *gen) messageType(t types.Type, pos token.Pos, what, want string, bad func(token.Pos, string, ...any)) {
	g.noteInvalid(t)
	ptr, isPtr := types.Unalias(t).(*types.Pointer)
	var named *types.Named
	if isPtr {
		named, _ = types.Unalias(ptr.Elem()).(*types.Named)
	}
	if named == nil {
		bad(pos, "%s is %s; it must be a pointer to a named struct type (%s)", what, g.typeString(t), want)
		return
	}
	if _, ok := named.Underlying().(*types.Struct); !ok {
		bad(pos, "%s is %s; %s is %s, not a struct (%s)", what, g.typeString(t), g.typeString(named), describe(named.Underlying()), want)
		return
	}
	if !named.Obj().Exported() {
		bad(pos, "%s type %s is unexported; callers in other packages could not build it", what, named.Obj().Name())
	}
}

func (g *gen) reqResp(name string, methods []*types.Func, _ map[token.Pos]*ast.Field) (req, resp *types.Named) {
	for _, m := range methods {
		if m.Name() == name {
			sig := m.Type().(*types.Signature)
			req = types.Unalias(sig.Params().At(1).Type().(*types.Pointer).Elem()).(*types.Named)
			resp = types.Unalias(sig.Results().At(0).Type().(*types.Pointer).Elem()).(*types.Named)
		}
	}
	return req, resp
}

func (g *gen) typeString(t types.Type) string {
	return types.TypeString(t, func(p *types.Package) string {
		if p == g.p.types {
			return ""
		}
		return p.Name()
	})
}

// noteInvalid remembers that t did not type-check, so the type errors are reported.
func (g *gen) noteInvalid(t types.Type) {
	if strings.Contains(types.TypeString(t, nil), "invalid type") {
		g.invalid = true
	}
}

// typeErrors reports the package's type errors, except uses of the identifiers
// about to be generated.
func (g *gen) typeErrors() {
	for _, te := range g.p.typeErrs {
		if name, ok := strings.CutPrefix(te.Msg, "undefined: "); ok && g.used[name] != "" {
			continue
		}
		g.diags = append(g.diags, Diagnostic{Pos: te.Fset.Position(te.Pos), Msg: te.Msg})
	}
}

func (g *gen) interfacesHint() string {
	var names []string
	for _, name := range g.p.types.Scope().Names() {
		if tn, ok := g.p.types.Scope().Lookup(name).(*types.TypeName); ok {
			if _, ok := tn.Type().Underlying().(*types.Interface); ok {
				names = append(names, name)
			}
		}
	}
	if len(names) == 0 {
		return " (it declares no interfaces)"
	}
	return " (its interfaces: " + strings.Join(names, ", ") + ")"
}
