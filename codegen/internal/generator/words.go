package generator

// Words for diagnostics and generated comments: what kind of thing an object
// is, plurals, capitals, and the doc comments of a file.

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"strings"
	"unicode"
	"unicode/utf8"
)

func kindOf(obj types.Object) string {
	switch obj.(type) {
	case *types.Const:
		return "constant"
	case *types.Var:
		return "variable"
	case *types.Func:
		return "function"
	case *types.TypeName:
		return "type"
	}
	return "declaration"
}

func describe(t types.Type) string {
	switch t.(type) {
	case *types.Struct:
		return "a struct type"
	case *types.Interface:
		return "an interface"
	case *types.Signature:
		return "a func type"
	case *types.Map:
		return "a map type"
	case *types.Slice:
		return "a slice type"
	case *types.Pointer:
		return "a pointer type"
	}
	return "type " + t.String()
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func lowerFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToLower(r)) + s[n:]
}

func upperFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}

func commentLines(groups ...*ast.CommentGroup) []*ast.Comment {
	var out []*ast.Comment
	for _, cg := range groups {
		if cg != nil {
			out = append(out, cg.List...)
		}
	}
	return out
}

// docComments maps the name positions of declared types and struct fields to their
// doc (or line) comments, as one line of text.
func docComments(files []*ast.File) map[token.Pos]string {
	out := map[token.Pos]string{}
	text := func(groups ...*ast.CommentGroup) string {
		for _, cg := range groups {
			if cg != nil {
				if t := strings.Join(strings.Fields(cg.Text()), " "); t != "" {
					return t
				}
			}
		}
		return ""
	}
	for _, file := range files {
		for _, decl := range file.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.TYPE {
				continue
			}
			for _, spec := range gd.Specs {
				ts := spec.(*ast.TypeSpec)
				doc := ts.Doc
				if doc == nil && len(gd.Specs) == 1 {
					doc = gd.Doc
				}
				if t := text(doc); t != "" {
					out[ts.Name.Pos()] = t
				}
			}
		}
		ast.Inspect(file, func(n ast.Node) bool {
			if st, ok := n.(*ast.StructType); ok {
				for _, field := range st.Fields.List {
					if t := text(field.Doc, field.Comment); t != "" {
						for _, name := range field.Names {
							out[name.Pos()] = t
						}
					}
				}
			}
			return true
		})
	}
	return out
}
