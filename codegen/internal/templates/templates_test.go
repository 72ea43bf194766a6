package templates

import (
	"bytes"
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"strings"
	"testing"
)

// Every scaffold template renders, and every Go one renders to Go that parses.
func TestScaffoldRendersGo(t *testing.T) {
	p := &Project{Module: "example.com/shop", Package: "orders", Service: "orders", Interface: "Orders",
		Dialtone: "github.com/dialtone-dev/dialtone", Version: "v1.2.3", Replace: "/src/dialtone", GoVersion: "1.26"}
	names := map[string]bool{}
	for _, f := range ScaffoldFiles {
		names[f.Template] = true
		var buf bytes.Buffer
		if err := Scaffold.ExecuteTemplate(&buf, f.Template, p); err != nil {
			t.Fatalf("%s: %v", f.Template, err)
		}
		if strings.Contains(buf.String(), "<no value>") {
			t.Errorf("%s renders a missing field:\n%s", f.Template, buf.String())
		}
		if strings.HasSuffix(f.Template, ".go.tmpl") {
			if _, err := parser.ParseFile(token.NewFileSet(), f.Path, buf.Bytes(), parser.AllErrors); err != nil {
				t.Errorf("%s does not render Go: %v\n%s", f.Template, err, buf.String())
			}
		}
	}
	// ScaffoldFiles lists every scaffold template.
	entries, err := fs.ReadDir(FS, "scaffold")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !names[e.Name()] {
			t.Errorf("scaffold/%s is not in ScaffoldFiles", e.Name())
		}
	}
	var gomod bytes.Buffer
	if err := Scaffold.ExecuteTemplate(&gomod, "go.mod.tmpl", p); err != nil {
		t.Fatal(err)
	}
	want := "module example.com/shop\n\ngo 1.26\n\nrequire github.com/dialtone-dev/dialtone v1.2.3\n\nreplace github.com/dialtone-dev/dialtone => /src/dialtone\n"
	if gomod.String() != want {
		t.Errorf("go.mod =\n%s\nwant\n%s", gomod.String(), want)
	}
}

func TestCodegenTemplateIsGo(t *testing.T) {
	f := &File{Header: Header, Source: "x.go", Command: "c", Package: "x", Interface: "X", Service: "x",
		StdImports: []Import{{Path: "context"}},
		Imports:    []Import{{Path: "github.com/dialtone-dev/dialtone"}, {Name: "rpc2", Path: "github.com/dialtone-dev/dialtone/rpc"}, {Path: "github.com/dialtone-dev/dialtone/service"}},
		Context:    "context", Dialtone: "dialtone", RPC: "rpc2", ServicePkg: "service",
		ServiceNameConst: "XServiceName", ClientType: "XClient", NewClient: "NewXClient", Register: "RegisterX",
		Methods: []Method{{Name: "Do", Doc: "Do does.\n\nIt really does.", Subject: "x.Do", Request: "Req", Response: "Resp",
			SubjectConst: "XDoSubject", EndpointFunc: "XDoEndpoint", RequestSchemaConst: "xReqSchema", ResponseSchemaConst: "xRespSchema"}},
		Schemas: []Schema{{Const: "xReqSchema", Type: "Req", Uses: "the request of Do", JSON: "{}"},
			{Const: "xRespSchema", Type: "Resp", Uses: "the response of Do", JSON: "{\"a\":\"`\"}"}},
	}
	var buf bytes.Buffer
	if err := Codegen.ExecuteTemplate(&buf, "service.go.tmpl", f); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if _, err := parser.ParseFile(token.NewFileSet(), "x_dialtone.go", out, parser.ParseComments); err != nil {
		t.Fatalf("not Go: %v\n%s", err, out)
	}
	for _, want := range []string{Header + "\n", "rpc2 \"github.com/dialtone-dev/dialtone/rpc\"", "// Do does.\n//\n// It really does.\nfunc (c *XClient) Do(", "\"{\\\"a\\\":\\\"`\\\"}\"",
		"// xReqSchema is the JSON Schema of Req, the request of Do.\n\txReqSchema = `{}`",
		"WithSchema(xReqSchema, xRespSchema)"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestGoString(t *testing.T) {
	for in, want := range map[string]string{
		"{\n  \"a\": 1\n}": "`{\n  \"a\": 1\n}`",
		"a`b":              "\"a`b\"",
		"a\rb":             "\"a\\rb\"",
	} {
		if got := GoString(in); got != want {
			t.Errorf("GoString(%q) = %s, want %s", in, got, want)
		}
	}
}

func ExampleGoString() {
	fmt.Println(GoString(`{"type": "string"}`))
	fmt.Println(GoString("has a ` backquote"))
	// Output:
	// `{"type": "string"}`
	// "has a ` backquote"
}

func ExampleComment() {
	fmt.Println(Comment("SayHello greets.\n\nIt never fails."))
	// Output:
	// // SayHello greets.
	// //
	// // It never fails.
}
