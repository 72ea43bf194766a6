package main

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dialtone-dev/dialtone/codegen/internal/generator"
	"github.com/dialtone-dev/dialtone/codegen/internal/templates"
)

// TestCommittedGeneratedCodeIsCurrent is the check that regenerating the committed generated
// code changes nothing: for every package of the module (outside testdata) with a file
// this tool generated, it runs the go:generate lines of that package and compares the output with what is
// committed. When it fails, run `go generate ./...` and commit the result.
func TestCommittedGeneratedCodeIsCurrent(t *testing.T) {
	root := filepath.Join("..")
	dirs := map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != root && (name == "testdata" || name == "vendor" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(path, ".go") {
			if src, err := os.ReadFile(path); err == nil && bytes.HasPrefix(src, []byte(templates.Header+"\n")) {
				dirs[filepath.Dir(path)] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) == 0 {
		t.Fatal("found no generated files to check; the examples have some")
	}
	for dir := range dirs {
		t.Run(filepath.ToSlash(dir), func(t *testing.T) {
			ds := directives(t, dir)
			if len(ds) == 0 {
				t.Fatalf("%s has generated files but no %q line to regenerate them", dir, generateLine)
			}
			written := map[string]bool{}
			for _, args := range ds {
				res, err := generator.Generate(configFor(t, dir, args))
				if err != nil {
					t.Fatalf("codegen %s: %v", strings.Join(args, " "), err)
				}
				written[filepath.Base(res.Path)] = true
				committed, err := os.ReadFile(res.Path)
				if err != nil {
					t.Fatalf("%v (run go generate ./... and commit the result)", err)
				}
				if !bytes.Equal(committed, res.Source) {
					t.Errorf("%s is stale: go generate ./... changes it:\n%s", res.Path, lineDiff(string(committed), string(res.Source)))
				}
			}
			files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
			for _, f := range files {
				src, _ := os.ReadFile(f)
				if bytes.HasPrefix(src, []byte(templates.Header+"\n")) && !written[filepath.Base(f)] {
					t.Errorf("%s is not written by any go:generate line of its package (left over?)", f)
				}
			}
		})
	}
}
