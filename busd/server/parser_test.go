package server

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// recorder is an opHandler that writes down every op it is handed.
type recorder struct {
	ops     []string
	headers bool
	authReq bool
	authed  bool
	mcl     int
	mpay    int
}

func newRecorder() *recorder { return &recorder{headers: true, mcl: 4096, mpay: 1 << 20} }

func (r *recorder) awaitingAuth() bool { return r.authReq && !r.authed }

func (r *recorder) headersOK() bool { return r.headers }

func (r *recorder) processMsg(pa *pubArg, payload []byte) error {
	r.ops = append(r.ops, fmt.Sprintf("MSG %s|%s|%d|%q", pa.subject, pa.reply, pa.hdr, payload))
	return nil
}
func (r *recorder) processSub(a []byte) error { r.ops = append(r.ops, "SUB "+string(a)); return nil }
func (r *recorder) processUnsub(a []byte) error {
	r.ops = append(r.ops, "UNSUB "+string(a))
	return nil
}
func (r *recorder) processPing() error { r.ops = append(r.ops, "PING"); return nil }
func (r *recorder) processPong() error { r.ops = append(r.ops, "PONG"); return nil }
func (r *recorder) processConnect(a []byte) error {
	r.authed = true
	r.ops = append(r.ops, "CONNECT "+string(a))
	return nil
}
func (r *recorder) processInfo(a []byte) error { r.ops = append(r.ops, "INFO "+string(a)); return nil }
func (r *recorder) processOK() error           { r.ops = append(r.ops, "+OK"); return nil }
func (r *recorder) processErr(a []byte) error  { r.ops = append(r.ops, "-ERR "+string(a)); return nil }
func (r *recorder) maxControlLine() int        { return r.mcl }
func (r *recorder) maxPayload() int            { return r.mpay }

// stream is a session with every op, mixed case, tabs and runs of spaces, a
// split-friendly header message and an empty payload.
const stream = "CONNECT {\"verbose\":false,\"headers\":true}\r\n" +
	"PING\r\n" +
	"pong\r\n" +
	"SUB foo  1\r\n" +
	"sub\tbar.*\tq\t2\r\n" +
	"PUB foo 5\r\nhello\r\n" +
	"pub foo reply.x 0\r\n\r\n" +
	"HPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n" +
	"HPUB foo _INBOX.1 12 12\r\nNATS/1.0\r\n\r\n\r\n" +
	"UNSUB 1 \r\n" +
	"UNSUB 2 10\r\n" +
	"+OK\r\n" +
	"PUB bin 4\r\n\r\n\r\n\r\n" +
	"INFO {}\r\n" +
	"ping with anything after it\r\n" +
	"+OK x\r\n" +
	"SUB \nlf 3\r\n" +
	"PING\n"

var streamOps = []string{
	`CONNECT {"verbose":false,"headers":true}`,
	"PING",
	"PONG",
	"SUB foo  1",
	"SUB bar.*\tq\t2",
	`MSG foo||-1|"hello"`,
	`MSG foo|reply.x|-1|""`,
	`MSG foo||12|"NATS/1.0\r\n\r\nhi"`,
	`MSG foo|_INBOX.1|12|"NATS/1.0\r\n\r\n"`,
	"UNSUB 1 ",
	"UNSUB 2 10",
	"+OK",
	`MSG bin||-1|"\r\n\r\n"`,
	"INFO {}",
	"PING",
	"+OK",
	"SUB \nlf 3",
	"PING",
}

func parseAll(t *testing.T, chunks ...[]byte) []string {
	t.Helper()
	var p parseState
	r := newRecorder()
	for _, c := range chunks {
		// The parser must not rely on the caller's buffer after parse returns.
		buf := append([]byte(nil), c...)
		if err := p.parse(buf, r); err != nil {
			t.Fatalf("parse: %v", err)
		}
		for i := range buf {
			buf[i] = 'X'
		}
	}
	if p.state != stOpStart {
		t.Fatalf("parser ended in state %d, want start", p.state)
	}
	return r.ops
}

func TestParseWhole(t *testing.T) {
	got := parseAll(t, []byte(stream))
	assertOps(t, got, streamOps)
}

// TestParseEverySplitPoint cuts the stream in two at every byte.
func TestParseEverySplitPoint(t *testing.T) {
	b := []byte(stream)
	for i := 1; i < len(b); i++ {
		got := parseAll(t, b[:i], b[i:])
		if !equalOps(got, streamOps) {
			t.Fatalf("split at %d (%q | %q):\n got %q\nwant %q", i, b[:i], b[i:], got, streamOps)
		}
	}
}

// TestParseByteByByte feeds the stream one byte per read.
func TestParseByteByByte(t *testing.T) {
	b := []byte(stream)
	chunks := make([][]byte, len(b))
	for i := range b {
		chunks[i] = b[i : i+1]
	}
	assertOps(t, parseAll(t, chunks...), streamOps)
}

// TestParseEveryThreeWaySplit cuts a PUB with reply in three at every pair of points.
func TestParseEveryThreeWaySplit(t *testing.T) {
	b := []byte("PUB a.b reply 11\r\nhello world\r\nHPUB h 12 13\r\nNATS/1.0\r\n\r\nx\r\n")
	want := []string{`MSG a.b|reply|-1|"hello world"`, `MSG h||12|"NATS/1.0\r\n\r\nx"`}
	for i := 1; i < len(b); i++ {
		for j := i + 1; j < len(b); j++ {
			got := parseAll(t, b[:i], b[i:j], b[j:])
			if !equalOps(got, want) {
				t.Fatalf("split at %d,%d: got %q", i, j, got)
			}
		}
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want error
	}{
		{"unknown op", "FOO\r\n", errUnknownOp},
		{"unknown op caught at first bad byte", "PX", errUnknownOp},
		{"op name without its space", "PUB\r\n", errUnknownOp},
		{"blank line", "\r\n", errUnknownOp},
		{"leading space", " PING\r\n", errUnknownOp},
		{"MSG from a client", "MSG foo 1 2\r\nhi\r\n", errUnknownOp},
		{"-ERR without its space", "-ERR\r\n", errUnknownOp},
		{"pub missing size", "PUB foo\r\n", errBadArgs},
		{"pub bad size", "PUB foo 1x\r\n", errBadArgs},
		{"pub 10 digit size", "PUB foo 1234567890\r\n", errBadArgs},
		{"pub too many args", "PUB a b c 1\r\n", errBadArgs},
		{"hpub header beyond size", "HPUB foo 5 3\r\n", errBadArgs},
		{"payload too long for size", "PUB foo 2\r\nhello\r\n", errBadPayloadEnd},
		{"payload too big", "PUB foo 2000000\r\n", errMaxPayload},
		{"control line too long", "SUB " + strings.Repeat("a", 5000), errMaxControlLine},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var p parseState
			err := p.parse([]byte(tc.in), newRecorder())
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

// TestParseControlLineLimitAcrossReads checks the limit holds when the line straddles reads.
func TestParseControlLineLimitAcrossReads(t *testing.T) {
	var p parseState
	r := newRecorder()
	chunk := []byte("SUB " + strings.Repeat("a", 1000))
	var err error
	for i := 0; i < 10 && err == nil; i++ {
		err = p.parse(chunk, r)
	}
	if !errors.Is(err, errMaxControlLine) {
		t.Fatalf("got %v, want errMaxControlLine", err)
	}
}

func TestParseAuthRequiresConnectFirst(t *testing.T) {
	var p parseState
	r := newRecorder()
	r.authReq = true
	if err := p.parse([]byte("PING\r\n"), r); !errors.Is(err, errAuthViolation) {
		t.Fatalf("PING before CONNECT: got %v", err)
	}
	p = parseState{}
	if err := p.parse([]byte("CONNECT {}\r\nPUB a 1\r\nx\r\n"), r); err != nil {
		t.Fatalf("CONNECT then PUB: %v", err)
	}
}

func TestSplitArgs(t *testing.T) {
	var a [3][]byte
	args, ok := splitArgs(a[:0], []byte("  foo \t bar  "))
	if !ok || len(args) != 2 || string(args[0]) != "foo" || string(args[1]) != "bar" {
		t.Fatalf("got %q %v", args, ok)
	}
	if _, ok := splitArgs(a[:0], []byte("a b c d")); ok {
		t.Fatal("four fields fit in three")
	}
	// The PUB fast splitter agrees with the general one on every shape.
	for _, in := range []string{"", " ", "a", " a ", "a b", "a\tb  c", "\t\ta b c d", "a b c d e", "foo.bar reply 16", "x  "} {
		var x, y [4][]byte
		g, okG := splitArgs(x[:0], []byte(in))
		p, okP := splitPubArgs(y[:0], []byte(in))
		if okG != okP || fmt.Sprintf("%q", g) != fmt.Sprintf("%q", p) {
			t.Errorf("%q: splitArgs %q %v, splitPubArgs %q %v", in, g, okG, p, okP)
		}
	}
}

func TestParseProtoSize(t *testing.T) {
	for in, want := range map[string]int{"0": 0, "123": 123, "999999999": 999999999, "": -1, "1234567890": -1, "-1": -1, "1 ": -1} {
		if got := parseSize([]byte(in)); got != want {
			t.Errorf("parseSize(%q) = %d, want %d", in, got, want)
		}
	}
}

// TestParsePubAllocs shows the PUB path allocates nothing, whole or split.
func TestParsePubAllocs(t *testing.T) {
	var p parseState
	r := &countingHandler{recorder: *newRecorder()}
	whole := []byte("PUB foo.bar reply 16\r\n0123456789abcdef\r\n")
	a, b := whole[:10], whole[10:]
	p.parse(a, r) // warm the straddle buffers
	p.parse(b, r)
	if n := testing.AllocsPerRun(1000, func() {
		if err := p.parse(whole, r); err != nil {
			t.Fatal(err)
		}
		if err := p.parse(a, r); err != nil {
			t.Fatal(err)
		}
		if err := p.parse(b, r); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("%v allocations per PUB", n)
	}
}

// countingHandler counts messages.
type countingHandler struct {
	recorder
	msgs, bytes int
}

func (h *countingHandler) processMsg(_ *pubArg, payload []byte) error {
	h.msgs++
	h.bytes += len(payload)
	return nil
}

func BenchmarkParsePub(b *testing.B) {
	for _, size := range []int{16, 1024} {
		b.Run(fmt.Sprintf("payload=%d", size), func(b *testing.B) {
			var one bytes.Buffer
			fmt.Fprintf(&one, "PUB bench.subject.%d %d\r\n%s\r\n", size, size, strings.Repeat("x", size))
			buf := bytes.Repeat(one.Bytes(), max(1, 32*1024/one.Len()))
			per := len(buf) / one.Len()
			var p parseState
			h := &countingHandler{recorder: *newRecorder()}
			b.ReportAllocs()
			b.SetBytes(int64(one.Len()))
			b.ResetTimer()
			for i := 0; i < b.N; i += per {
				if err := p.parse(buf, h); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// FuzzParser checks the parser never panics and that cutting the input in two
// anywhere gives the same ops as parsing it whole.
func FuzzParser(f *testing.F) {
	f.Add([]byte(stream), 7)
	f.Add([]byte("PUB a 1\r\nx\r\n"), 3)
	f.Add([]byte("HPUB a r 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"), 20)
	f.Add([]byte("SUB a.* q 1\r\nUNSUB 1 5\r\n"), 1)
	f.Add([]byte("PING\r\nPONG\r\n+OK\r\n-ERR 'x'\r\n"), 9)
	f.Fuzz(func(t *testing.T, in []byte, cut int) {
		var whole parseState
		rw := newRecorder()
		rw.mpay, rw.mcl = 4096, 512
		errWhole := whole.parse(append([]byte(nil), in...), rw)

		if cut < 0 {
			cut = -cut
		}
		if len(in) > 0 {
			cut %= len(in) + 1
		} else {
			cut = 0
		}
		var split parseState
		rs := newRecorder()
		rs.mpay, rs.mcl = 4096, 512
		errSplit := split.parse(append([]byte(nil), in[:cut]...), rs)
		if errSplit == nil {
			errSplit = split.parse(append([]byte(nil), in[cut:]...), rs)
		}
		if (errWhole == nil) != (errSplit == nil) {
			// The control line limit is checked as bytes arrive, so a cut may
			// only change which error is reported, never whether ops run.
			if !errors.Is(errWhole, errMaxControlLine) && !errors.Is(errSplit, errMaxControlLine) {
				t.Fatalf("whole err %v, split at %d err %v", errWhole, cut, errSplit)
			}
			return
		}
		if errWhole == nil && !equalOps(rw.ops, rs.ops) {
			t.Fatalf("split at %d: got %q, want %q", cut, rs.ops, rw.ops)
		}
	})
}

// FuzzControlLine checks that no argument line longer than max_control_line
// is ever handed on, and that the parser never holds more than that much of an
// incomplete line, wherever the input is cut.
func FuzzControlLine(f *testing.F) {
	f.Add([]byte("CONNECT {\"name\":\""+strings.Repeat("x", 100)+"\"}\r\n"), 7, uint16(64))
	f.Add([]byte("SUB "+strings.Repeat("a", 62)+" 1\r\n"), 30, uint16(64))
	f.Add([]byte("PUB "+strings.Repeat("a", 61)+" 1\r\nx\r\n"), 66, uint16(64))
	f.Add([]byte("PING "+strings.Repeat("a", 500)+"\r\nPONG\r\n"), 3, uint16(16))
	f.Add([]byte("INFO {}\r\n-ERR '"+strings.Repeat("e", 40)+"'\r\n"), 12, uint16(32))
	f.Add([]byte("SUB a 1\r"), 8, uint16(7))
	f.Fuzz(func(t *testing.T, in []byte, cut int, mcl uint16) {
		limit := int(mcl%512) + 1
		r := newRecorder()
		r.mcl, r.mpay = limit, 1<<16
		var p parseState
		if cut < 0 {
			cut = -cut
		}
		step := cut%16 + 1
		for off := 0; off < len(in); off += step {
			chunk := append([]byte(nil), in[off:min(off+step, len(in))]...)
			if err := p.parse(chunk, r); err != nil {
				break
			}
			if n := len(trimCR(p.argBuf)); n > limit {
				t.Fatalf("holding %d bytes of an incomplete line, limit %d", n, limit)
			}
		}
		for _, op := range r.ops {
			if strings.HasPrefix(op, "MSG ") {
				continue // payloads are bounded by max_payload, not the line limit
			}
			name, arg, _ := strings.Cut(op, " ")
			if name != "+OK" && len(arg) > limit {
				t.Fatalf("%s line of %d bytes handed on, limit %d", name, len(arg), limit)
			}
		}
	})
}

func equalOps(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func assertOps(t *testing.T, got, want []string) {
	t.Helper()
	if !equalOps(got, want) {
		t.Fatalf("ops:\n got %q\nwant %q", got, want)
	}
}
