package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// human writes a duration as people read latencies and uptimes: 412µs, 1.25ms,
// 3m12s, 2h5m, 3d4h.
func human(d time.Duration) string {
	switch {
	case d <= 0:
		return "0s"
	case d < time.Microsecond:
		return fmt.Sprintf("%dns", d.Nanoseconds())
	case d < time.Millisecond:
		return trimZeros(fmt.Sprintf("%.1f", float64(d)/float64(time.Microsecond))) + "µs"
	case d < time.Second:
		return trimZeros(fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond))) + "ms"
	case d < time.Minute:
		return trimZeros(fmt.Sprintf("%.2f", d.Seconds())) + "s"
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%02dh", int(d.Hours())/24, int(d.Hours())%24)
}

func trimZeros(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// latency is human, or "-" when unknown.
func latency(d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return human(d)
}

// count writes n with thousands separators: 1,234,567.
func count[T ~int | ~int64](n T) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// writeJSON prints v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// prettyJSON indents data when it is JSON, keeping its key order, and returns
// it as text otherwise.
func prettyJSON(data []byte, indent string) string {
	if len(data) == 0 {
		return "(empty reply)"
	}
	var b bytes.Buffer
	if json.Indent(&b, data, indent, "  ") != nil {
		return string(data)
	}
	return b.String()
}
