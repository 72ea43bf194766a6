package server

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzSetRequestInfo: whatever header block a requester sent, the request
// the exporter sees has a block ending in a blank line with exactly one
// Nats-Request-Info, the server's, and the same body.
func FuzzSetRequestInfo(f *testing.F) {
	f.Add([]byte("hello"), -1)
	f.Add([]byte("NATS/1.0\r\n\r\nbody"), 12)
	f.Add([]byte("NATS/1.0\r\nA: b\r\nNats-Request-Info: {\"acc\":\"SYS\"}\r\n\r\nbody"), 52)
	f.Add([]byte("NATS/1.0 503\r\nnats-request-info: x\r\nNats-Request-Info: y\r\n\r\n"), 62)
	f.Add([]byte("NATS/1.0\r\nno end"), 16)
	f.Add([]byte("\r\n\r\n"), 4)
	info := []byte(`{"acc":"CLI","rtt":1}`)
	f.Fuzz(func(t *testing.T, payload []byte, hdr int) {
		if hdr > len(payload) || hdr < -1 {
			hdr = -1
		}
		body := payload
		if hdr >= 0 {
			body = payload[hdr:]
		}
		out, n := setRequestInfo(nil, payload, hdr, info)
		if n > len(out) || !bytes.Equal(out[n:], body) {
			t.Fatalf("body changed: %q -> %q", body, out[n:])
		}
		block := string(out[:n])
		// The status line stays the requester's (garbage in, garbage out);
		// without a header block the server writes NATS/1.0.
		first := "NATS/1.0"
		if hdr > 0 {
			first, _, _ = strings.Cut(string(payload[:hdr]), "\r\n")
		}
		if first != "" && !strings.HasPrefix(block, first) || !strings.HasSuffix(block, "\r\n\r\n") {
			t.Fatalf("header block %q from %q", block, payload)
		}
		lines := strings.Split(strings.TrimSuffix(block, "\r\n\r\n"), "\r\n")
		var infos []string
		for _, l := range lines[1:] { // the first is the status line
			if headerKeyIs([]byte(l), requestInfoHeader) {
				infos = append(infos, l)
			}
		}
		if len(infos) != 1 || infos[0] != requestInfoHeader+": "+string(info) {
			t.Fatalf("header block %q: %s lines %q, want exactly the server's", block, requestInfoHeader, infos)
		}
	})
}

// FuzzSubjectMap: a mapping that builds is total on the subjects its source
// matches and yields a valid literal subject.
func FuzzSubjectMap(f *testing.F) {
	f.Add("a.*", "b.*", "a.x")
	f.Add("a.*.*", "b.$2.$1", "a.x.y")
	f.Add("a.>", "b.>", "a.x.y.z")
	f.Add("a", "b.c", "a")
	f.Fuzz(func(t *testing.T, src, dst, subj string) {
		m, err := newSubjectMap(src, dst)
		if err != nil || !validLiteralSubject([]byte(subj)) || subjectHasWildcard([]byte(src)) && !slPatternMatches([]byte(src), subj) {
			return
		}
		if !subjectHasWildcard([]byte(src)) && src != subj {
			return
		}
		out := m.apply(nil, []byte(subj))
		if !validLiteralSubject(out) {
			t.Fatalf("%s -> %s on %s: %q is not a literal subject", src, dst, subj, out)
		}
		if m.literal() && string(out) != dst {
			t.Fatalf("%s -> %s on %s: %q, want %s", src, dst, subj, out, dst)
		}
	})
}
