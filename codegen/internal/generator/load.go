package generator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/build"
	"go/importer"
	"go/parser"
	"go/scanner"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/dialtone-dev/dialtone/codegen/internal/templates"
)

// pkg is the user's package, parsed and type-checked from source. Its imports are
// read from the compiler's export data, which `go list -export` provides, so any
// package the go command can build (standard library, module dependencies, other
// packages of the module) can be imported.
type pkg struct {
	dir       string
	fset      *token.FileSet
	files     []*ast.File
	generated []string // base names of files written by this tool, left out
	types     *types.Package
	info      *types.Info
	typeErrs  []types.Error
}

// isGenerated reports whether src was written by dialtone codegen.
func isGenerated(src []byte) bool {
	line, _, _ := bytes.Cut(src, []byte("\n"))
	return string(bytes.TrimRight(line, "\r")) == templates.Header
}

// loadPackage parses the Go files of dir (as the go command would select them for
// the current platform, test files excluded) other than those this tool generated,
// and type-checks them. Type errors are kept in typeErrs, not returned: the package
// need not compile yet (its code may use the identifiers about to be generated).
func loadPackage(dir string) (*pkg, error) {
	bp, err := build.ImportDir(dir, build.ImportComment)
	if err != nil {
		var noGo *build.NoGoError
		if errors.As(err, &noGo) {
			return nil, Diagnostics{{Pos: token.Position{Filename: dir}, Msg: "no Go files (the -type interface must be declared in this directory)"}}
		}
		return nil, Diagnostics{{Pos: token.Position{Filename: dir}, Msg: err.Error()}}
	}
	p := &pkg{dir: dir, fset: token.NewFileSet()}
	imports := map[string]bool{}
	var errs Diagnostics
	for _, name := range append(append([]string(nil), bp.GoFiles...), bp.CgoFiles...) {
		path := filepath.Join(dir, name)
		src, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		if isGenerated(src) {
			p.generated = append(p.generated, name)
			continue
		}
		f, err := parser.ParseFile(p.fset, path, src, parser.ParseComments|parser.SkipObjectResolution)
		if err != nil {
			var list scanner.ErrorList
			if errors.As(err, &list) {
				for _, e := range list {
					errs = append(errs, Diagnostic{Pos: e.Pos, Msg: e.Msg})
				}
				continue
			}
			return nil, err
		}
		p.files = append(p.files, f)
		for _, im := range f.Imports {
			if path, err := strconv.Unquote(im.Path.Value); err == nil && path != "C" && path != "unsafe" {
				imports[path] = true
			}
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	if len(p.files) == 0 {
		return nil, Diagnostics{{Pos: token.Position{Filename: dir}, Msg: "no Go files other than generated ones"}}
	}
	exports, err := exportData(dir, imports)
	if err != nil {
		return nil, err
	}
	lookup := func(path string) (io.ReadCloser, error) {
		e, ok := exports[path]
		if !ok {
			return nil, fmt.Errorf("package %s not listed by go list", path)
		}
		if e.Export == "" {
			if e.Error != nil {
				return nil, errors.New(e.Error.Err)
			}
			return nil, fmt.Errorf("package %s: no export data", path)
		}
		return os.Open(e.Export)
	}
	conf := types.Config{
		Importer:    importer.ForCompiler(p.fset, "gc", lookup),
		FakeImportC: true,
		Error: func(err error) {
			if te, ok := err.(types.Error); ok {
				p.typeErrs = append(p.typeErrs, te)
			}
		},
	}
	p.info = &types.Info{
		Types: map[ast.Expr]types.TypeAndValue{},
		Defs:  map[*ast.Ident]types.Object{},
	}
	p.types, _ = conf.Check(bp.Name, p.fset, p.files, p.info)
	return p, nil
}

// listed is what `go list -json` says about one package.
type listed struct {
	ImportPath string
	Export     string
	Error      *struct{ Err string }
}

// exportData runs `go list -e -export -deps` on the imports, in dir so that dir's
// module decides their versions, and returns what it lists by import path.
func exportData(dir string, imports map[string]bool) (map[string]listed, error) {
	out := map[string]listed{}
	if len(imports) == 0 {
		return out, nil
	}
	paths := make([]string, 0, len(imports))
	for p := range imports {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	args := append([]string{"list", "-e", "-export", "-deps", "-json=ImportPath,Export,Error"}, paths...)
	cmd := exec.Command(goCommand(), args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("go list %s: %v\n%s", strings.Join(paths, " "), err, stderr.Bytes())
	}
	dec := json.NewDecoder(&stdout)
	for {
		var l listed
		if err := dec.Decode(&l); err == io.EOF {
			break
		} else if err != nil {
			return nil, fmt.Errorf("go list: decoding its output: %v", err)
		}
		out[l.ImportPath] = l
	}
	return out, nil
}

// goCommand is the go command to run: the one on $PATH, else the one of the
// toolchain this binary was built with.
func goCommand() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	if root := os.Getenv("GOROOT"); root != "" {
		return filepath.Join(root, "bin", "go")
	}
	return "go"
}
