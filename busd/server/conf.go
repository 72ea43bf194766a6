package server

// This file loads busd's configuration file. The file format is the one
// nats-server uses (keys separated from values by '=', ':' or whitespace, maps in
// braces, arrays in brackets, '#' and '//' comments, quoted and unquoted strings,
// size suffixes such as 1MB, $variables and include directives). The syntax is
// parsed by nats-server's own conf package, so a file nats-server reads is read
// the same way here; this file maps the parsed tree onto Options and is strict
// about it: every key busd does not know, and every value of the wrong type, is
// an error that names the file and line.

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/conf"
)

// Defaults for allow_responses, as nats-server applies them.
const (
	// DefaultAllowResponsesMax is how many replies allow_responses permits per
	// request when the block does not say.
	DefaultAllowResponsesMax = 1
	// DefaultAllowResponsesExpires is how long a reply subject stays publishable
	// when the block does not say.
	DefaultAllowResponsesExpires = 2 * time.Minute
	// minLameDuckDuration is the shortest lame_duck_duration a file may set,
	// the same floor nats-server enforces.
	minLameDuckDuration = 30 * time.Second
)

// ConfigError is one problem in a configuration file, located by file and line.
// ProcessConfigFile and ParseConfig return a *ConfigError, or several joined
// with errors.Join (use errors.As to get at the first).
type ConfigError struct {
	File string // the file the problem is in; an included file's own path for its keys
	Line int    // 1-based line, or 0 when the parser could not say
	Key  string // dotted path of the key concerned (e.g. "authorization.timeout"), or ""
	Msg  string // what is wrong, already naming Key where there is one
}

// Error formats the problem as "file:line: message", the form compilers use,
// so editors can jump to it.
func (e *ConfigError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// ProcessConfigFile reads the configuration file at path, and the files it
// includes (relative to its directory), into a new Options. Fields the file does
// not set keep their zero value, which New replaces with the defaults.
// ConfigFile is set to path.
func ProcessConfigFile(path string) (*Options, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	return loadConfig(path, filepath.Dir(path), func() (map[string]any, error) { return conf.ParseFileWithChecks(path) })
}

// ParseConfig parses data, the contents of a configuration file, into a new
// Options. path names the data in error messages and becomes Options.ConfigFile.
//
// Include directives in data are resolved by the reference parser relative to
// the working directory, not to path's directory (it offers no way to parse
// in-memory data as if it came from a given file); ProcessConfigFile, which
// reads the file itself, resolves them relative to the file. Includes nested in
// included files are resolved relative to the including file in both cases.
func ParseConfig(path string, data []byte) (*Options, error) {
	return loadConfig(path, ".", func() (map[string]any, error) { return conf.ParseWithChecks(string(data)) })
}

// loadConfig runs parse, turning a panic of the parser into an error, and maps the
// resulting tree onto a new Options. incDir is the directory the parser
// resolves path's includes against.
func loadConfig(path, incDir string, parse func() (map[string]any, error)) (opts *Options, err error) {
	defer func() {
		if r := recover(); r != nil {
			opts = nil
			err = &ConfigError{File: path, Msg: fmt.Sprintf("the config parser failed on this file: %v", r)}
		}
	}()
	tree, err := parse()
	if err != nil {
		return nil, confParseError(path, incDir, err)
	}
	l := &confLoader{path: path, opts: &Options{ConfigFile: path}}
	l.top(tree)
	l.checkAccounts()
	if err := l.err(); err != nil {
		return nil, err
	}
	return l.opts, nil
}

// Messages of nats-server's conf package that carry a location. The package
// returns plain errors, so the location is recovered from their text.
var (
	reInclude  = regexp.MustCompile(`(?s)^error parsing include file '([^']*)', (.*)$`)
	reParseErr = regexp.MustCompile(`(?s)^Parse error on line (\d+): '(.*)'$`)
	reInvalid  = regexp.MustCompile(`^config is invalid \(.*:(\d+):\d+\)$`)
	reVarRef   = regexp.MustCompile(`(?s)^(variable reference for '.*') on line (\d+) (.*)$`)
)

// confParseError turns an error of the conf package about file into a *ConfigError
// with the file and line it names, following include chains to the included
// file the problem is actually in. incDir is the directory the parser resolved
// file's includes against: the parser joins even an absolute include path to it.
func confParseError(file, incDir string, err error) error {
	msg := err.Error()
	if m := reInclude.FindStringSubmatch(msg); m != nil {
		inc := filepath.Join(incDir, m[1])
		inner := confParseError(inc, filepath.Dir(inc), errors.New(m[2])).(*ConfigError)
		if inner.Line == 0 {
			// Opening the include failed: that is the including file's problem.
			return &ConfigError{File: file, Msg: fmt.Sprintf("include %q: %s", m[1], m[2])}
		}
		return inner
	}
	if m := reParseErr.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &ConfigError{File: file, Line: line, Msg: "syntax error: " + m[2]}
	}
	if m := reInvalid.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &ConfigError{File: file, Line: line, Msg: "syntax error: a key without a value"}
	}
	if m := reVarRef.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[2])
		return &ConfigError{File: file, Line: line, Msg: m[1] + " " + m[3]}
	}
	return &ConfigError{File: file, Msg: msg}
}

// confToken is the method set of the conf package's (unexported) token type,
// which wraps every value when parsing with checks.
type confToken interface {
	Value() any
	Line() int
	SourceFile() string
	IsUsedVariable() bool
}

// confValue is one parsed value with where it came from.
type confValue struct {
	v    any    // string, int64, float64, bool, time.Time, []any or map[string]any
	key  string // dotted path, e.g. "authorization.users[1].permissions"
	file string
	line int
	used bool // the key defined a variable that was referenced
}

// confEntry is one key of a map, unwrapped.
type confEntry struct {
	name string // the key as written
	confValue
}

// confLoader maps a parsed tree onto Options, collecting every problem.
type confLoader struct {
	path string // the top-level file, for values that do not carry one
	opts *Options
	errs []*ConfigError
	at   map[any]confValue // where accounts, users and some keys were written (conf_accounts.go)
}

// wrap unwraps a raw tree value found under key, inheriting the location of
// parent when the value does not carry its own.
func (l *confLoader) wrap(key string, raw any, parent confValue) confValue {
	v := confValue{v: raw, key: key, file: parent.file, line: parent.line}
	if tk, ok := raw.(confToken); ok {
		v.v = tk.Value()
		v.used = tk.IsUsedVariable()
		if f := tk.SourceFile(); f != "" {
			v.file = f
		}
		if n := tk.Line(); n > 0 {
			v.line = n
		}
	}
	if v.file == "" {
		v.file = l.path
	}
	return v
}

// entries unwraps the keys of the map m (found at parent) in file order.
func (l *confLoader) entries(m map[string]any, parent confValue) []confEntry {
	out := make([]confEntry, 0, len(m))
	for k, raw := range m {
		key := k
		if parent.key != "" {
			key = parent.key + "." + k
		}
		out = append(out, confEntry{name: k, confValue: l.wrap(key, raw, parent)})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].file != out[j].file {
			return out[i].file < out[j].file
		}
		if out[i].line != out[j].line {
			return out[i].line < out[j].line
		}
		return out[i].name < out[j].name
	})
	return out
}

// errorf records a problem with v; the message is prefixed with v's key.
func (l *confLoader) errorf(v confValue, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if v.key != "" {
		msg = v.key + ": " + msg
	}
	l.errs = append(l.errs, &ConfigError{File: v.file, Line: v.line, Key: v.key, Msg: msg})
}

// unknown records a key busd does not support, unless it only defines a
// variable that is used elsewhere in the file.
func (l *confLoader) unknown(e confEntry) {
	if e.used {
		return
	}
	l.errs = append(l.errs, &ConfigError{File: e.file, Line: e.line, Key: e.key, Msg: fmt.Sprintf("unknown key %q", e.key)})
}

// err returns the recorded problems, in file order, as one error.
func (l *confLoader) err() error {
	if len(l.errs) == 0 {
		return nil
	}
	sort.SliceStable(l.errs, func(i, j int) bool {
		a, b := l.errs[i], l.errs[j]
		if a.File != b.File {
			return a.File < b.File
		}
		return a.Line < b.Line
	})
	if len(l.errs) == 1 {
		return l.errs[0]
	}
	errs := make([]error, len(l.errs))
	for i, e := range l.errs {
		errs[i] = e
	}
	return errors.Join(errs...)
}

// describeConf renders a parsed value for "expected X, got Y" messages.
func describeConf(v any) string {
	switch v := v.(type) {
	case string:
		return strconv.Quote(v)
	case []any:
		return "an array"
	case map[string]any:
		return "a map"
	case time.Time:
		return "the date " + v.Format(time.RFC3339)
	case nil:
		return "nothing"
	default:
		return fmt.Sprint(v)
	}
}

// top maps the top level of the file.
func (l *confLoader) top(tree map[string]any) {
	o := l.opts
	for _, e := range l.entries(tree, confValue{}) {
		switch strings.ToLower(e.name) {
		case "listen":
			if host, port, ok := l.hostPort(e.confValue); ok {
				o.Host, o.Port = host, port
			}
		case "host", "net":
			if s, ok := l.str(e.confValue); ok {
				o.Host = s
			}
		case "port":
			if n, ok := l.port(e.confValue); ok {
				o.Port = n
			}
		case "http":
			if host, port, ok := l.hostPort(e.confValue); ok {
				o.HTTPHost, o.HTTPPort = host, port
			}
		case "http_port", "monitor_port":
			if n, ok := l.port(e.confValue); ok {
				o.HTTPPort = n
			}
		case "server_name":
			if s, ok := l.str(e.confValue); ok {
				if strings.ContainsAny(s, " \t\r\n") {
					l.errorf(e.confValue, "must not contain whitespace, got %q", s)
				} else {
					o.ServerName = s
				}
			}
		case "max_payload":
			if n, ok := l.size(e.confValue, math.MaxInt32); ok {
				o.MaxPayload = int32(n)
			}
		case "max_pending":
			if n, ok := l.size(e.confValue, math.MaxInt64); ok {
				o.MaxPending = n
			}
		case "max_control_line":
			if n, ok := l.size(e.confValue, math.MaxInt32); ok {
				o.MaxControlLine = int32(n)
			}
		case "max_connections", "max_conn":
			if n, ok := l.count(e.confValue); ok {
				o.MaxConn = n
			}
		case "max_subscriptions", "max_subs":
			if n, ok := l.count(e.confValue); ok {
				o.MaxSubs = n
			}
		case "ping_interval":
			if d, ok := l.positiveDuration(e.confValue); ok {
				o.PingInterval = d
			}
		case "ping_max":
			if n, ok := l.count(e.confValue); ok {
				if n == 0 {
					l.errorf(e.confValue, "must be at least 1")
				} else {
					o.MaxPingsOut = n
				}
			}
		case "write_deadline":
			if d, ok := l.positiveDuration(e.confValue); ok {
				o.WriteDeadline = d
			}
		case "lame_duck_duration":
			if d, ok := l.duration(e.confValue); ok {
				if d < minLameDuckDuration {
					l.errorf(e.confValue, "must be at least %v, got %v", minLameDuckDuration, d)
				} else {
					o.LameDuckDuration = d
				}
			}
		case "lame_duck_grace_period":
			if d, ok := l.duration(e.confValue); ok {
				if d < 0 {
					l.errorf(e.confValue, "must not be negative, got %v", d)
				} else {
					o.LameDuckGracePeriod = d
				}
			}
		case "debug":
			if b, ok := l.boolean(e.confValue); ok {
				o.Debug = b
			}
		case "trace":
			if b, ok := l.boolean(e.confValue); ok {
				o.Trace = b
			}
		case "logtime":
			// Accepted for nats-server compatibility; slog always stamps records.
			l.boolean(e.confValue)
		case "authorization":
			l.mark("authorization", e.confValue)
			l.authorization(e.confValue)
		case "accounts":
			l.accounts(e.confValue)
		case "no_auth_user":
			l.mark("no_auth_user", e.confValue)
			if s, ok := l.str(e.confValue); ok {
				o.NoAuthUser = s
			}
		case "system_account", "system":
			l.mark("system_account", e.confValue)
			if s, ok := l.str(e.confValue); ok {
				o.SystemAccount = s
			}
		case "tls":
			l.tls(e.confValue)
		default:
			l.unknown(e)
		}
	}
}
