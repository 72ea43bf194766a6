package server

// Typed readers for configuration values: strings, numbers, sizes with
// suffixes, durations, ports and host:port pairs, each an error naming the key
// when the value has the wrong type or range.

import (
	"fmt"
	"math"
	"net"
	"strconv"
	"strings"
	"time"
)

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
