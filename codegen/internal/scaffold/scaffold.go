// Package scaffold creates a new dialtone service module: the interface (with the
// line that runs codegen), the generated code, an implementation, a test against
// an in-process busd and a main that serves until SIGINT or SIGTERM and drains. It
// is what `go run github.com/dialtone-dev/dialtone/codegen new` runs.
//
// The new module requires github.com/dialtone-dev/dialtone: at the version of the
// running codegen when it was built from a released module, else (with
// Options.Tidy) at the latest release, which the go command finds before anything
// is written. With Options.Replace it uses a local checkout instead (a replace
// directive), which is how this repository tests the scaffold and how to try it
// from a clone. Options.Tidy then runs `go mod tidy`.
package scaffold

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/dialtone-dev/dialtone/codegen/internal/generator"
	"github.com/dialtone-dev/dialtone/codegen/internal/templates"
)

// Module is the dialtone module path, which scaffolded modules require.
const Module = "github.com/dialtone-dev/dialtone"

// Options say what to create.
type Options struct {
	Dir     string    // directory of the new module; must not exist or be empty
	Module  string    // module path, e.g. "example.com/shop"
	Name    string    // service name, e.g. "orders" or "order-book"
	Replace string    // local dialtone checkout to use instead of a released version
	Tidy    bool      // run `go mod tidy` in the new module after writing it
	Log     io.Writer // progress and next steps; nil for none
	Env     []string  // extra environment of the go commands run (e.g. GOFLAGS=-mod=mod)
	// TidyFlags are extra flags of `go mod tidy`, e.g. -e to tolerate test-only
	// dependencies of dependencies that cannot be fetched (offline).
	TidyFlags []string
}

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)

// Project returns the template data for opts: the package is the name without '-'
// and '_', the interface the name in CamelCase ("order-book" -> "OrderBook").
func Project(opts Options) (*templates.Project, error) {
	if !nameRE.MatchString(opts.Name) {
		return nil, fmt.Errorf("-name %q: want a lower-case service name: letters, digits, '-' and '_', starting with a letter", opts.Name)
	}
	if opts.Module == "" || strings.ContainsAny(opts.Module, " \t\"'`\\") {
		return nil, fmt.Errorf("-module %q: want a module path, e.g. example.com/shop", opts.Module)
	}
	var iface, pkg strings.Builder
	for _, part := range strings.FieldsFunc(opts.Name, func(r rune) bool { return r == '-' || r == '_' }) {
		iface.WriteString(strings.ToUpper(part[:1]) + part[1:])
		pkg.WriteString(part)
	}
	p := &templates.Project{
		Module:    opts.Module,
		Package:   pkg.String(),
		Service:   opts.Name,
		Interface: iface.String(),
		Dialtone:  Module,
		GoVersion: goVersion(),
	}
	if opts.Replace != "" {
		abs, err := filepath.Abs(opts.Replace)
		if err != nil {
			return nil, err
		}
		p.Replace = abs
		p.Version = "v0.0.0-00010101000000-000000000000"
	} else if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Path == Module && strings.HasPrefix(bi.Main.Version, "v") {
		p.Version = bi.Main.Version
	}
	return p, nil
}

// goVersion is the go directive of new modules: the first release of the running
// toolchain's language version, e.g. "1.26.0" (as dialtone's own go.mod says).
func goVersion() string {
	v := strings.TrimPrefix(runtime.Version(), "go")
	if parts := strings.SplitN(v, ".", 3); len(parts) >= 2 && parts[0] == "1" {
		minor := parts[1]
		if i := strings.IndexFunc(minor, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
			minor = minor[:i]
		}
		if minor != "" {
			return "1." + minor + ".0"
		}
	}
	return "1.26.0"
}

// Create writes the new module and generates its code. It writes nothing when the
// directory is not empty or, with Tidy and without Replace, no released dialtone
// can be found; when a step fails after it has begun writing, it removes what it
// wrote, so it can simply be run again.
func Create(opts Options) (err error) {
	p, err := Project(opts)
	if err != nil {
		return err
	}
	logf := func(format string, args ...any) {
		if opts.Log != nil {
			fmt.Fprintf(opts.Log, format, args...)
		}
	}
	entries, statErr := os.ReadDir(opts.Dir)
	if statErr == nil && len(entries) > 0 {
		return fmt.Errorf("%s exists and is not empty", opts.Dir)
	}
	dirExisted := statErr == nil
	goCmd := func(dir string, args ...string) error {
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), opts.Env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go %s in %s: %v\n%s", strings.Join(args, " "), dir, err, bytes.TrimSpace(out))
		}
		if dir == opts.Dir {
			logf("ran go %s\n", strings.Join(args, " "))
		}
		return nil
	}
	if p.Version == "" && opts.Tidy {
		// Find the release to require before writing anything.
		v, err := latestRelease(opts.Env)
		if err != nil {
			return fmt.Errorf("%v\nno released %s could be found, and nothing was written. To use a local checkout instead, pass -replace /path/to/dialtone; or pass -tidy=false to write the module and complete go.mod later", err, Module)
		}
		p.Version = v
		logf("requiring %s %s\n", Module, v)
	}

	// From here on a failure removes what was written.
	defer func() {
		if err == nil {
			return
		}
		if dirExisted {
			if entries, rerr := os.ReadDir(opts.Dir); rerr == nil {
				for _, e := range entries {
					_ = os.RemoveAll(filepath.Join(opts.Dir, e.Name()))
				}
			}
		} else {
			_ = os.RemoveAll(opts.Dir)
		}
		err = fmt.Errorf("%w\n(nothing was left in %s; fix the cause and run again)", err, opts.Dir)
	}()
	for _, f := range templates.ScaffoldFiles {
		var buf bytes.Buffer
		if err := templates.Scaffold.ExecuteTemplate(&buf, f.Template, p); err != nil {
			return fmt.Errorf("rendering %s: %v", f.Template, err)
		}
		rel := strings.ReplaceAll(f.Path, "{{pkg}}", p.Package)
		path := filepath.Join(opts.Dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			return err
		}
		logf("wrote %s\n", rel)
	}
	// What `go generate ./...` would do, so the module builds as written.
	res, err := generator.Generate(generator.Config{
		Dir:     filepath.Join(opts.Dir, p.Package),
		Type:    p.Interface,
		Service: p.Service,
	})
	if err != nil {
		return fmt.Errorf("generating %s: %v", p.Interface, err)
	}
	if err := os.WriteFile(res.Path, res.Source, 0o644); err != nil {
		return err
	}
	rel, _ := filepath.Rel(opts.Dir, res.Path)
	logf("generated %s\n", filepath.ToSlash(rel))
	switch {
	case opts.Tidy:
		if err := goCmd(opts.Dir, append([]string{"mod", "tidy"}, opts.TidyFlags...)...); err != nil {
			return err
		}
	case p.Version == "":
		logf("go.mod does not require %s yet: run `go get %s@latest && go mod tidy` in %s\n", Module, Module, opts.Dir)
	default:
		logf("run `go mod tidy` in %s to complete go.mod and go.sum\n", opts.Dir)
	}
	logf("next:\n\tcd %s\n\tgo test ./...\n\tgo run ./cmd/%[2]s           # an instance; needs a bus: go run ./busd in a dialtone checkout, or $NATS_URL\n\tgo run ./cmd/%[2]s -list     # the running instances\n\tgo run ./cmd/%[2]s -call Ada # a call\n",
		opts.Dir, p.Package)
	return nil
}

// latestRelease asks the go command for the latest released version of dialtone,
// outside any module (in a scratch directory), so nothing is written yet.
func latestRelease(env []string) (string, error) {
	scratch, err := os.MkdirTemp("", "dialtone-scaffold-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(scratch)
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Version}}", Module+"@latest")
	cmd.Dir = scratch
	cmd.Env = append(append(os.Environ(), env...), "GOWORK=off", "GOFLAGS=-mod=mod")
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = bytes.TrimSpace(ee.Stderr)
		}
		return "", fmt.Errorf("go list -m %s@latest: %v: %s", Module, err, stderr)
	}
	v := strings.TrimSpace(string(out))
	if !strings.HasPrefix(v, "v") {
		return "", fmt.Errorf("go list -m %s@latest: unexpected version %q", Module, v)
	}
	return v, nil
}
