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
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/conf"
	"github.com/nats-io/nkeys"
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
			l.authorization(e.confValue)
		case "tls":
			l.tls(e.confValue)
		default:
			l.unknown(e)
		}
	}
}

// str expects a string.
func (l *confLoader) str(v confValue) (string, bool) {
	s, ok := v.v.(string)
	if !ok {
		l.errorf(v, "expected a string, got %s", describeConf(v.v))
	}
	return s, ok
}

// boolean expects true/false (or yes/no, on/off).
func (l *confLoader) boolean(v confValue) (bool, bool) {
	b, ok := v.v.(bool)
	if !ok {
		l.errorf(v, "expected true or false, got %s", describeConf(v.v))
	}
	return b, ok
}

// integer expects an integer, possibly written with a size suffix.
func (l *confLoader) integer(v confValue) (int64, bool) {
	n, ok := v.v.(int64)
	if !ok {
		l.errorf(v, "expected an integer, got %s", describeConf(v.v))
	}
	return n, ok
}

// port expects a port number; -1 asks for a random free port, 0 for the default.
func (l *confLoader) port(v confValue) (int, bool) {
	n, ok := l.integer(v)
	if !ok {
		return 0, false
	}
	if n < -1 || n > 65535 {
		l.errorf(v, "expected a port between -1 and 65535, got %d", n)
		return 0, false
	}
	return int(n), true
}

// count expects a non-negative integer that fits an int.
func (l *confLoader) count(v confValue) (int, bool) {
	n, ok := l.integer(v)
	if !ok {
		return 0, false
	}
	if n < 0 || n > math.MaxInt32 {
		l.errorf(v, "expected a number between 0 and %d, got %d", math.MaxInt32, n)
		return 0, false
	}
	return int(n), true
}

// size expects a positive byte count no larger than limit: an integer, which
// the parser has already scaled by an unquoted unit (1MB, 64K, ...), or a
// quoted string with a unit ("1MB").
func (l *confLoader) size(v confValue, limit int64) (int64, bool) {
	var n int64
	switch x := v.v.(type) {
	case int64:
		n = x
	case string:
		var err error
		if n, err = ParseSize(x); err != nil {
			l.errorf(v, "%v", err)
			return 0, false
		}
	default:
		l.errorf(v, "expected a size (an integer, optionally with a unit such as KB or MB), got %s", describeConf(v.v))
		return 0, false
	}
	if n <= 0 || n > limit {
		l.errorf(v, "expected a size between 1 and %d bytes, got %d", limit, n)
		return 0, false
	}
	return n, true
}

// confSizeUnits are the multipliers of the size suffixes nats-server accepts:
// K, M, G, T are powers of 1000; KB/KiB/Ki and so on are powers of 1024.
var confSizeUnits = map[string]int64{
	"":  1,
	"k": 1000, "kb": 1 << 10, "ki": 1 << 10, "kib": 1 << 10,
	"m": 1000 * 1000, "mb": 1 << 20, "mi": 1 << 20, "mib": 1 << 20,
	"g": 1000 * 1000 * 1000, "gb": 1 << 30, "gi": 1 << 30, "gib": 1 << 30,
	"t": 1000 * 1000 * 1000 * 1000, "tb": 1 << 40, "ti": 1 << 40, "tib": 1 << 40,
}

// ParseSize parses a byte count with an optional unit, such as "512", "64K"
// (64000) or "1MB" (1048576), with the units of nats-server's config format.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	mult, ok := confSizeUnits[strings.ToLower(strings.TrimSpace(t[i:]))]
	if i == 0 || !ok {
		return 0, fmt.Errorf("expected a size (an integer, optionally with a unit such as KB or MB), got %q", s)
	}
	n, err := strconv.ParseInt(t[:i], 10, 64)
	if err != nil || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return n * mult, nil
}

// duration expects a duration string ("2m", "1m30s") or an integer number of
// seconds, the older form nats-server still accepts.
func (l *confLoader) duration(v confValue) (time.Duration, bool) {
	switch x := v.v.(type) {
	case string:
		d, err := time.ParseDuration(x)
		if err != nil {
			l.errorf(v, "expected a duration such as \"2m\" or \"10s\", got %q", x)
			return 0, false
		}
		return d, true
	case int64:
		if x < math.MinInt64/int64(time.Second) || x > math.MaxInt64/int64(time.Second) {
			l.errorf(v, "%d seconds is out of range", x)
			return 0, false
		}
		return time.Duration(x) * time.Second, true
	default:
		l.errorf(v, "expected a duration such as \"2m\" or an integer number of seconds, got %s", describeConf(v.v))
		return 0, false
	}
}

// positiveDuration is duration that must be greater than zero.
func (l *confLoader) positiveDuration(v confValue) (time.Duration, bool) {
	d, ok := l.duration(v)
	if ok && d <= 0 {
		l.errorf(v, "must be positive, got %v", d)
		return 0, false
	}
	return d, ok
}

// seconds expects a positive timeout: a number of seconds, fractions allowed
// (0.5), or a duration string.
func (l *confLoader) seconds(v confValue) (time.Duration, bool) {
	var d time.Duration
	switch x := v.v.(type) {
	case int64, string:
		var ok bool
		if d, ok = l.duration(v); !ok {
			return 0, false
		}
	case float64:
		if math.IsNaN(x) || x > float64(math.MaxInt64/int64(time.Second)) {
			l.errorf(v, "expected a number of seconds, got %v", x)
			return 0, false
		}
		d = time.Duration(x * float64(time.Second))
	default:
		l.errorf(v, "expected a number of seconds, got %s", describeConf(v.v))
		return 0, false
	}
	if d <= 0 {
		l.errorf(v, "must be positive, got %v", d)
		return 0, false
	}
	return d, true
}

// hostPort expects "host:port" or just a port.
func (l *confLoader) hostPort(v confValue) (string, int, bool) {
	switch x := v.v.(type) {
	case int64:
		n, ok := l.port(v)
		return "", n, ok
	case string:
		host, ps, err := net.SplitHostPort(x)
		if err != nil {
			l.errorf(v, "expected host:port or a port, got %q", x)
			return "", 0, false
		}
		n, err := strconv.Atoi(ps)
		if err != nil || n < -1 || n > 65535 {
			l.errorf(v, "expected a port between -1 and 65535 in %q", x)
			return "", 0, false
		}
		return host, n, true
	default:
		l.errorf(v, "expected host:port or a port, got %s", describeConf(v.v))
		return "", 0, false
	}
}

// block expects a map and returns its entries.
func (l *confLoader) block(v confValue) ([]confEntry, bool) {
	m, ok := v.v.(map[string]any)
	if !ok {
		l.errorf(v, "expected a block { ... }, got %s", describeConf(v.v))
		return nil, false
	}
	return l.entries(m, v), true
}

// authorization maps the authorization block.
func (l *confLoader) authorization(v confValue) {
	es, ok := l.block(v)
	if !ok {
		return
	}
	o := l.opts
	var userAt, passAt, tokenAt, usersAt *confValue
	for _, e := range es {
		switch strings.ToLower(e.name) {
		case "user", "username":
			if s, ok := l.str(e.confValue); ok {
				o.Username, userAt = s, &e.confValue
			}
		case "pass", "password":
			if s, ok := l.str(e.confValue); ok {
				o.Password, passAt = s, &e.confValue
			}
		case "token":
			if s, ok := l.str(e.confValue); ok {
				o.Authorization, tokenAt = s, &e.confValue
			}
		case "timeout":
			if d, ok := l.seconds(e.confValue); ok {
				o.AuthTimeout = d
			}
		case "users":
			usersAt = &e.confValue
			l.users(e.confValue)
		case "default_permissions", "default_permission", "permissions":
			if p, ok := l.permissions(e.confValue); ok {
				o.DefaultPermissions = p
			}
		default:
			l.unknown(e)
		}
	}
	switch {
	case usersAt != nil && userAt != nil:
		l.errorf(*userAt, "a single user and a users array cannot be combined")
	case usersAt != nil && tokenAt != nil:
		l.errorf(*tokenAt, "a token and a users array cannot be combined")
	case userAt != nil && tokenAt != nil:
		l.errorf(*tokenAt, "a token and a user cannot be combined")
	case passAt != nil && userAt == nil:
		l.errorf(*passAt, "a password needs a user")
	}
}

// users maps the users array of an authorization block.
func (l *confLoader) users(v confValue) {
	arr, ok := v.v.([]any)
	if !ok {
		l.errorf(v, "expected an array of users, got %s", describeConf(v.v))
		return
	}
	o := l.opts
	seen := map[string]bool{}
	for i, raw := range arr {
		uv := l.wrap(fmt.Sprintf("%s[%d]", v.key, i), raw, v)
		m, ok := uv.v.(map[string]any)
		if !ok {
			l.errorf(uv, "expected a user block { user: ..., password: ... }, got %s", describeConf(uv.v))
			continue
		}
		es := l.entries(m, uv)
		if len(es) > 0 && es[0].file == uv.file {
			// The map's own token sits on its closing brace; its first key is
			// where a reader looks for the entry.
			uv.line = es[0].line
		}
		var (
			name, pass, nkey string
			hasPass          bool
			perms            *Permissions
		)
		for _, e := range es {
			switch strings.ToLower(e.name) {
			case "user", "username":
				name, _ = l.str(e.confValue)
			case "pass", "password":
				pass, hasPass = l.str(e.confValue)
			case "nkey":
				nkey, _ = l.str(e.confValue)
			case "permissions", "permission", "authorization":
				perms, _ = l.permissions(e.confValue)
			default:
				l.unknown(e)
			}
		}
		switch {
		case nkey != "":
			if name != "" || hasPass {
				l.errorf(uv, "an nkey user takes no user or password")
			} else if !nkeys.IsValidPublicUserKey(nkey) {
				l.errorf(uv, "%q is not a public user nkey (one starting with U)", nkey)
			} else if seen[nkey] {
				l.errorf(uv, "duplicate nkey %q", nkey)
			} else {
				seen[nkey] = true
				o.Nkeys = append(o.Nkeys, &NkeyUser{Nkey: nkey, Permissions: perms})
			}
		case name != "":
			if seen[name] {
				l.errorf(uv, "duplicate user %q", name)
			} else {
				seen[name] = true
				o.Users = append(o.Users, &User{Username: name, Password: pass, Permissions: perms})
			}
		default:
			l.errorf(uv, "a user entry needs a user or an nkey")
		}
	}
}

// permissions maps a permissions block.
func (l *confLoader) permissions(v confValue) (*Permissions, bool) {
	es, ok := l.block(v)
	if !ok {
		return nil, false
	}
	p := &Permissions{}
	bad := len(l.errs)
	for _, e := range es {
		switch strings.ToLower(e.name) {
		case "publish", "pub":
			p.Publish = l.subjectPermission(e.confValue, false)
		case "subscribe", "sub":
			p.Subscribe = l.subjectPermission(e.confValue, true)
		case "allow_responses", "publish_allow_responses":
			p.Response = l.allowResponses(e.confValue)
		default:
			l.unknown(e)
		}
	}
	if p.Response != nil {
		// As in nats-server, allowing responses turns off the implicit "publish
		// anywhere": a user with only allow_responses may publish replies only.
		if p.Publish == nil {
			p.Publish = &SubjectPermission{}
		}
		if p.Publish.Allow == nil {
			p.Publish.Allow = []string{}
		}
	}
	return p, len(l.errs) == bad
}

// subjectPermission maps publish or subscribe: a subject, an array of
// subjects (both allow lists), or a block with allow and deny.
func (l *confLoader) subjectPermission(v confValue, queues bool) *SubjectPermission {
	m, ok := v.v.(map[string]any)
	if !ok {
		return &SubjectPermission{Allow: l.subjects(v, queues)}
	}
	sp := &SubjectPermission{}
	for _, e := range l.entries(m, v) {
		switch strings.ToLower(e.name) {
		case "allow":
			sp.Allow = l.subjects(e.confValue, queues)
		case "deny":
			sp.Deny = l.subjects(e.confValue, queues)
		default:
			l.unknown(e)
		}
	}
	return sp
}

// subjects expects a subject or an array of subjects. With queues, a subject
// may be followed by a queue group name ("orders.* workers").
func (l *confLoader) subjects(v confValue, queues bool) []string {
	var items []confValue
	switch x := v.v.(type) {
	case string:
		items = []confValue{v}
	case []any:
		for i, raw := range x {
			items = append(items, l.wrap(fmt.Sprintf("%s[%d]", v.key, i), raw, v))
		}
	default:
		l.errorf(v, "expected a subject or an array of subjects, got %s", describeConf(v.v))
		return nil
	}
	out := make([]string, 0, len(items))
	for _, it := range items {
		s, ok := it.v.(string)
		if !ok {
			l.errorf(it, "expected a subject, got %s", describeConf(it.v))
			continue
		}
		if !validPermSubject(s, queues) {
			l.errorf(it, "%q is not a valid subject", s)
			continue
		}
		out = append(out, s)
	}
	return out
}

// validPermSubject reports whether s is a subject, possibly with wildcards,
// or, when queues is set, a subject and a queue group separated by whitespace.
func validPermSubject(s string, queues bool) bool {
	if confSubject(s) {
		return true
	}
	if !queues {
		return false
	}
	f := strings.Fields(s)
	return len(f) == 2 && confSubject(f[0]) && confSubject(f[1])
}

// confSubject reports whether s is a NATS subject: dot-separated non-empty
// tokens without whitespace, where '>' may only be the last token.
func confSubject(s string) bool {
	if s == "" || strings.ContainsAny(s, " \t\r\n") {
		return false
	}
	toks := strings.Split(s, ".")
	for i, t := range toks {
		if t == "" || (t == ">" && i != len(toks)-1) {
			return false
		}
	}
	return true
}

// allowResponses maps allow_responses: true, false, or { max, expires }.
func (l *confLoader) allowResponses(v confValue) *ResponsePermission {
	rp := &ResponsePermission{MaxMsgs: DefaultAllowResponsesMax, Expires: DefaultAllowResponsesExpires}
	switch x := v.v.(type) {
	case bool:
		if !x {
			return nil
		}
		return rp
	case map[string]any:
		for _, e := range l.entries(x, v) {
			switch strings.ToLower(e.name) {
			case "max", "max_msgs", "max_messages", "max_responses":
				// As in nats-server: negative means unlimited, 0 the default.
				if n, ok := l.integer(e.confValue); ok && n != 0 {
					if n > math.MaxInt32 || n < math.MinInt32 {
						l.errorf(e.confValue, "%d is out of range", n)
					} else {
						rp.MaxMsgs = int(n)
					}
				}
			case "expires", "expiration", "ttl":
				if d, ok := l.duration(e.confValue); ok && d != 0 {
					rp.Expires = d
				}
			default:
				l.unknown(e)
			}
		}
		return rp
	default:
		l.errorf(v, "expected true, false or a block { max, expires }, got %s", describeConf(v.v))
		return nil
	}
}

// tls maps the tls block and builds the server's tls.Config from it. As in
// nats-server, relative file names are relative to the working directory.
func (l *confLoader) tls(v confValue) {
	es, ok := l.block(v)
	if !ok {
		return
	}
	var certAt, keyAt, caAt *confValue
	var cert, key, ca string
	verify := false
	var timeout time.Duration
	bad := len(l.errs)
	for _, e := range es {
		switch strings.ToLower(e.name) {
		case "cert_file":
			cert, _ = l.str(e.confValue)
			certAt = &e.confValue
		case "key_file":
			key, _ = l.str(e.confValue)
			keyAt = &e.confValue
		case "ca_file":
			ca, _ = l.str(e.confValue)
			caAt = &e.confValue
		case "verify":
			verify, _ = l.boolean(e.confValue)
		case "timeout":
			timeout, _ = l.seconds(e.confValue)
		default:
			l.unknown(e)
		}
	}
	if len(l.errs) != bad {
		return
	}
	if certAt == nil || keyAt == nil {
		l.errorf(v, "needs both cert_file and key_file")
		return
	}
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		l.errorf(*certAt, "loading certificate %q and key %q: %v", cert, key, err)
		return
	}
	tc := &tls.Config{
		Certificates: []tls.Certificate{pair},
		MinVersion:   tls.VersionTLS12,
	}
	if caAt != nil {
		pem, err := os.ReadFile(ca)
		if err != nil {
			l.errorf(*caAt, "%v", err)
			return
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			l.errorf(*caAt, "no PEM certificates in %q", ca)
			return
		}
		tc.ClientCAs = pool
	}
	if verify {
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	}
	o := l.opts
	o.TLSConfig, o.TLSVerify, o.TLSTimeout = tc, verify, timeout
}
