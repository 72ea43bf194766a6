package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/dialtone-dev/dialtone/codegen/internal/generator"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/ with the current output")

// generateLine is the go:generate command that runs this tool, as the README and the
// scaffold write it.
const generateLine = "//go:generate go run github.com/dialtone-dev/dialtone/codegen "

// directives returns the codegen flag sets of the go:generate lines of the Go files
// in dir.
func directives(t *testing.T, dir string) [][]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var out [][]string
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(src), "\n") {
			if args, ok := strings.CutPrefix(strings.TrimSpace(line), generateLine); ok {
				out = append(out, strings.Fields(args))
			}
		}
	}
	return out
}

// configFor parses a go:generate line's flags as the command does, for the package in dir.
func configFor(t *testing.T, dir string, args []string) generator.Config {
	t.Helper()
	var stderr bytes.Buffer
	cfg, ok := parseFlags(args, &stderr)
	if !ok {
		t.Fatalf("%s: go:generate flags %q: %s", dir, args, stderr.String())
	}
	cfg.Dir = dir
	return cfg
}

func caseDirs(t *testing.T, glob string) []string {
	t.Helper()
	dirs, err := filepath.Glob(glob)
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no test cases match %s (%v)", glob, err)
	}
	return dirs
}

// compareGolden compares got with the golden file, or rewrites it under -update.
func compareGolden(t *testing.T, golden string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (go test -update rewrites it):\n%s", golden, lineDiff(string(want), string(got)))
	}
}

// lineDiff shows the first lines where want and got differ.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < max(len(w), len(g)) && shown < 10; i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			shown++
			b.WriteString("line " + strconv.Itoa(i+1) + ":\n  want: " + wl + "\n  got:  " + gl + "\n")
		}
	}
	return b.String()
}

// TestGolden generates every package under testdata/golden as its go:generate line
// says and compares the output with <output>.golden beside it.
func TestGolden(t *testing.T) {
	for _, dir := range caseDirs(t, "testdata/golden/*") {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			ds := directives(t, dir)
			if len(ds) == 0 {
				t.Fatalf("%s has no %q line", dir, generateLine)
			}
			for _, args := range ds {
				res, err := generator.Generate(configFor(t, dir, args))
				if err != nil {
					t.Fatalf("codegen %s: %v", strings.Join(args, " "), err)
				}
				compareGolden(t, res.Path+".golden", res.Source)
			}
		})
	}
}

// TestDiagnostics runs the command on every bad package under testdata/errors and
// compares its exit status and stderr with want.txt.
func TestDiagnostics(t *testing.T) {
	for _, dir := range caseDirs(t, "testdata/errors/*") {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			ds := directives(t, dir)
			if len(ds) != 1 {
				t.Fatalf("%s: want one %q line, found %d", dir, generateLine, len(ds))
			}
			var stdout, stderr bytes.Buffer
			code := run(append(ds[0], "-dir", dir), &stdout, &stderr)
			if code != 1 {
				t.Errorf("exit status %d, want 1; stderr:\n%s", code, stderr.String())
			}
			if matches, _ := filepath.Glob(filepath.Join(dir, "*_dialtone.go")); len(matches) > 0 {
				t.Errorf("wrote %v despite the errors", matches)
			}
			compareGolden(t, filepath.Join(dir, "want.txt"), stderr.Bytes())
		})
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"-type"}, {"-type", "X", "extra"}, {"new"}, {"new", "-name", "x", "dir"}} {
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code != 2 {
			t.Errorf("run(%q) = %d, want 2 (usage)", args, code)
		}
		if !strings.Contains(stderr.String(), "usage:") {
			t.Errorf("run(%q) stderr = %q, want usage", args, stderr.String())
		}
	}
}

// Under go generate, a problem without a line of its own (an unknown -type) is
// reported at the go:generate line.
func TestDiagnosticAtGenerateLine(t *testing.T) {
	t.Setenv("GOFILE", "unknowntype.go")
	t.Setenv("GOLINE", "5")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-type", "Greeter", "-dir", "testdata/errors/unknowntype"}, &stdout, &stderr); code != 1 {
		t.Fatalf("exit status %d", code)
	}
	want := "unknowntype.go:5:1: -type Greeter: no such type in package unknowntype (its interfaces: Greter)\n"
	if stderr.String() != want {
		t.Errorf("stderr = %q, want %q", stderr.String(), want)
	}
}

// The command writes the generated file beside the interface.
func TestRunWritesTheFile(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile("testdata/golden/greeter/greeter.go")
	if err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{"go.mod": "module example.com/greeter\n\ngo 1.26\n", "greeter.go": string(src)} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-type", "Greeter", "-dir", dir}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit status %d: %s", code, stderr.String())
	}
	got, err := os.ReadFile(filepath.Join(dir, "greeter_dialtone.go"))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile("testdata/golden/greeter/greeter_dialtone.go.golden")
	if !bytes.Equal(got, want) {
		t.Error("written file differs from the golden file")
	}
	if stdout.Len() != 0 || stderr.Len() != 0 {
		t.Errorf("output on success: %q %q", stdout.String(), stderr.String())
	}
}
