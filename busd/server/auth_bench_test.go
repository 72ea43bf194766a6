package server

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// Publish throughput through a real connection, with and without a
// permission check on every message. The publisher writes PUBs to 16
// subjects in turn (so the per-client decision cache is exercised, not just
// a single hot entry), then a PING; the PONG proves every message was
// processed. Nobody subscribes, so the check is as large a share of the
// work as it can be.
//
//	go test -run XXX -bench 'BenchmarkPub(NoAuth|WithPerms)$' -count 5 ./busd/server

const benchSubjects = 16

func BenchmarkPubNoAuth(b *testing.B) {
	benchPub(b, &Options{}, map[string]any{})
}

func BenchmarkPubWithPerms(b *testing.B) {
	benchPub(b, &Options{Users: []*User{{Username: "u", Password: "p", Permissions: &Permissions{
		Publish: &SubjectPermission{
			Allow: []string{"bench.>", "metrics.*", "orders.*.created", "svc.>"},
			Deny:  []string{"bench.secret", "bench.admin.>", "svc.internal.>"},
		},
		Subscribe: &SubjectPermission{Allow: []string{"_INBOX.>"}},
	}}}}, map[string]any{"user": "u", "pass": "p"})
}

func benchPub(b *testing.B, o *Options, creds map[string]any) {
	s := secServer(b, o)
	conn, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	readLine := func() string {
		_ = conn.SetReadDeadline(time.Now().Add(time.Minute))
		l, err := r.ReadString('\n')
		if err != nil {
			b.Fatalf("read: %v", err)
		}
		return strings.TrimSpace(l)
	}
	readLine() // INFO
	m := map[string]any{"verbose": false, "pedantic": false, "protocol": 1}
	for k, v := range creds {
		m[k] = v
	}
	cb, _ := json.Marshal(m)
	if _, err := conn.Write([]byte("CONNECT " + string(cb) + "\r\nPING\r\n")); err != nil {
		b.Fatal(err)
	}
	if l := readLine(); l != "PONG" {
		b.Fatalf("CONNECT answered %q", l)
	}

	payload := strings.Repeat("x", 32)
	var batch []byte
	const perBatch = 1024
	for i := 0; i < perBatch; i++ {
		batch = fmt.Appendf(batch, "PUB bench.data.%02d %d\r\n%s\r\n", i%benchSubjects, len(payload), payload)
	}
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	b.ResetTimer()
	for sent := 0; sent < b.N; {
		n := min(perBatch, b.N-sent)
		// Every message is the same length, so a prefix of the batch is n messages.
		if _, err := conn.Write(batch[:n*len(batch)/perBatch]); err != nil {
			b.Fatal(err)
		}
		sent += n
	}
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		b.Fatal(err)
	}
	if l := readLine(); l != "PONG" {
		b.Fatalf("got %q, want PONG (a permissions violation?)", l)
	}
	b.StopTimer()
	if got := s.inMsgsFromClients(); got < int64(b.N) {
		b.Fatalf("server processed %d messages, want %d", got, b.N)
	}
}

// inMsgsFromClients sums the inbound message counters of the open clients.
func (s *Server) inMsgsFromClients() int64 {
	var n int64
	for _, c := range s.snapshotClients() {
		n += c.inMsgs.Load()
	}
	return n
}

// BenchmarkPermPubAllowed is the check alone, as processMsg makes it: a
// cached decision for one of 16 subjects.
func BenchmarkPermPubAllowed(b *testing.B) {
	p := newClientPerms(compilePerms(&Permissions{Publish: &SubjectPermission{
		Allow: []string{"bench.>", "metrics.*"},
		Deny:  []string{"bench.secret", "bench.admin.>"},
	}}), nil)
	var subjects [benchSubjects][]byte
	for i := range subjects {
		subjects[i] = fmt.Appendf(nil, "bench.data.%02d", i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if !p.pubAllowed(subjects[i%benchSubjects]) {
			b.Fatal("refused")
		}
	}
}
