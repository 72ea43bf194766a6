package server

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
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
	benchPub(b, benchPermOptions(), map[string]any{"user": "u", "pass": "p"})
}

func benchPermOptions() *Options {
	return &Options{Users: []*User{{Username: "u", Password: "p", Permissions: &Permissions{
		Publish: &SubjectPermission{
			Allow: []string{"bench.>", "metrics.*", "orders.*.created", "svc.>"},
			Deny:  []string{"bench.secret", "bench.admin.>", "svc.internal.>"},
		},
		Subscribe: &SubjectPermission{Allow: []string{"_INBOX.>"}},
	}}, {Username: "s", Password: "s", Permissions: &Permissions{
		// A wildcard subscription overlapping a deny: every delivery is
		// checked against the deny list.
		Subscribe: &SubjectPermission{Allow: []string{"bench.>"}, Deny: []string{"bench.secret"}},
	}}}}
}

// benchConn is a connected raw publisher with a prepared batch of PUBs.
type benchConn struct {
	b     *testing.B
	s     *Server
	conn  net.Conn
	r     *bufio.Reader
	batch []byte
}

const benchPerBatch = 1024

func newBenchConn(b *testing.B, o *Options, creds map[string]any) *benchConn {
	s := runServer(b, o)
	conn, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	bc := &benchConn{b: b, s: s, conn: conn, r: bufio.NewReader(conn)}
	bc.readLine() // INFO
	m := map[string]any{"verbose": false, "pedantic": false, "protocol": 1}
	for k, v := range creds {
		m[k] = v
	}
	cb, _ := json.Marshal(m)
	bc.write([]byte("CONNECT " + string(cb) + "\r\nPING\r\n"))
	if l := bc.readLine(); l != "PONG" {
		b.Fatalf("CONNECT answered %q", l)
	}
	payload := strings.Repeat("x", 32)
	for i := 0; i < benchPerBatch; i++ {
		bc.batch = fmt.Appendf(bc.batch, "PUB bench.data.%02d %d\r\n%s\r\n", i%benchSubjects, len(payload), payload)
	}
	return bc
}

func (bc *benchConn) readLine() string {
	for {
		_ = bc.conn.SetReadDeadline(time.Now().Add(time.Minute))
		l, err := bc.r.ReadString('\n')
		if err != nil {
			bc.b.Fatalf("read: %v", err)
		}
		if !isConnectInfo(l) {
			return strings.TrimSpace(l)
		}
	}
}

func (bc *benchConn) write(p []byte) {
	if _, err := bc.conn.Write(p); err != nil {
		bc.b.Fatal(err)
	}
}

// publish sends n messages and waits until the server has processed them.
func (bc *benchConn) publish(n int) {
	for sent := 0; sent < n; {
		k := min(benchPerBatch, n-sent)
		// Every message is the same length, so a prefix of the batch is k messages.
		bc.write(bc.batch[:k*len(bc.batch)/benchPerBatch])
		sent += k
	}
	bc.write([]byte("PING\r\n"))
	if l := bc.readLine(); l != "PONG" {
		bc.b.Fatalf("got %q, want PONG (a permissions violation?)", l)
	}
}

func benchPub(b *testing.B, o *Options, creds map[string]any) {
	bc := newBenchConn(b, o, creds)
	b.SetBytes(32)
	b.ReportAllocs()
	b.ResetTimer()
	bc.publish(b.N)
	b.StopTimer()
	// The counters are published after each read is processed, so just after
	// the PONG the last read may not be counted yet.
	secWait(b, "every message to be counted", func() bool { return bc.s.inMsgsFromClients() >= int64(b.N) })
}

// BenchmarkPubPermsOverhead runs two publishers in alternating rounds, so
// that a machine whose load changes during the run (shared CI cores) affects
// both alike, and reports each one's ns/msg and the overhead in percent.
// "control" pits two unauthenticated servers against each other: its
// overhead is the noise floor. "nosub" is the worst case for the publish
// check (the publish path does nothing else); "sub" adds one subscriber per
// server receiving every message, on the permissions side through a
// wildcard subscription that overlaps a deny entry, so every delivery is
// checked too.
func BenchmarkPubPermsOverhead(b *testing.B) {
	permCreds := map[string]any{"user": "u", "pass": "p"}
	for _, c := range []struct {
		name  string
		perms bool
		sub   bool
	}{{"control", false, false}, {"nosub", true, false}, {"sub", true, true}} {
		b.Run(c.name, func(b *testing.B) {
			plain := newBenchConn(b, &Options{}, map[string]any{})
			perms := newBenchConn(b, &Options{}, map[string]any{})
			if c.perms {
				perms = newBenchConn(b, benchPermOptions(), permCreds)
			}
			if c.sub {
				benchSubscriber(b, plain.s, nil)
				var subCreds map[string]any
				if c.perms {
					subCreds = map[string]any{"user": "s", "pass": "s"}
				}
				benchSubscriber(b, perms.s, subCreds)
			}
			benchPaired(b, plain, perms)
		})
	}
}

func benchPaired(b *testing.B, plain, perms *benchConn) {
	const round = 16 * benchPerBatch
	var tPlain, tPerms time.Duration
	b.ResetTimer()
	for done, r := 0, 0; done < b.N; r++ {
		n := min(round, b.N-done)
		first, second, t1, t2 := plain, perms, &tPlain, &tPerms
		if r%2 == 1 {
			first, second, t1, t2 = perms, plain, &tPerms, &tPlain
		}
		start := time.Now()
		first.publish(n)
		mid := time.Now()
		second.publish(n)
		*t1 += mid.Sub(start)
		*t2 += time.Since(mid)
		done += n
	}
	b.StopTimer()
	np, nq := float64(tPlain.Nanoseconds())/float64(b.N), float64(tPerms.Nanoseconds())/float64(b.N)
	b.ReportMetric(np, "ns/msg-noauth")
	b.ReportMetric(nq, "ns/msg-perms")
	b.ReportMetric(100*(nq-np)/np, "%overhead")
}

// benchSubscriber subscribes to bench.> on s and discards what it receives.
func benchSubscriber(b *testing.B, s *Server, creds map[string]any) {
	conn, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	m := map[string]any{"verbose": false, "pedantic": false, "protocol": 1}
	for k, v := range creds {
		m[k] = v
	}
	cb, _ := json.Marshal(m)
	if _, err := conn.Write([]byte("CONNECT " + string(cb) + "\r\nSUB bench.> 1\r\nPING\r\n")); err != nil {
		b.Fatal(err)
	}
	r := bufio.NewReader(conn)
	for {
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		l, err := r.ReadString('\n')
		if err != nil {
			b.Fatalf("subscriber: %v", err)
		}
		if strings.HasPrefix(l, "-ERR") {
			b.Fatalf("subscriber: %s", l)
		}
		if l == "PONG\r\n" {
			break
		}
	}
	_ = conn.SetReadDeadline(time.Time{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(io.Discard, r)
	}()
	b.Cleanup(func() {
		conn.Close()
		<-done
	})
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
