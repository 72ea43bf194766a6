package server

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestHostileClientsLeaveNothingBehind opens and closes clients that try to
// make busd hold memory (huge names, trickled lines, many subscriptions, many
// long distinct subjects through a permission cache, readers that never read)
// and shows that once they are gone the heap is back within a few MiB of
// where it started and every goroutine they had is gone.
func TestHostileClientsLeaveNothingBehind(t *testing.T) {
	if testing.Short() {
		t.Skip("opens hundreds of connections")
	}
	s := runServer(t, &Options{
		MaxPending:  1 << 20,          // slow readers are cut off after 1 MiB
		AuthTimeout: 30 * time.Second, // the trickled CONNECT must meet the line limit first, however loaded the machine
		Users: []*User{
			{Username: "open", Password: "x"},
			{Username: "perm", Password: "x", Permissions: &Permissions{
				Publish: &SubjectPermission{Allow: []string{">"}, Deny: []string{"secret.>"}},
			}},
		},
	})
	addr := s.Addr().String()

	// Warm up everything that is allocated once per process (pools, the
	// first connection's code paths), then take the baseline.
	runHostileRound(t, addr, 2)
	waitNoClients(t, s)
	goroutines0 := runtime.NumGoroutine()
	heap0 := heapInUse()

	peak := runHostileRound(t, addr, 20)
	waitNoClients(t, s)

	// Goroutines: every client's reader and writer must have returned.
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > goroutines0 {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			t.Fatalf("%d goroutines, %d before the hostile clients:\n%s", runtime.NumGoroutine(), goroutines0, buf[:n])
		}
		time.Sleep(10 * time.Millisecond) // goroutines exiting give no signal to wait on
	}
	heap1 := heapInUse()
	t.Logf("heap in use: %.1f MiB before, %.1f MiB at the peak, %.1f MiB after; goroutines %d before and after",
		mib(heap0), mib(peak), mib(heap1), goroutines0)
	if heap1 > heap0+4<<20 {
		t.Errorf("heap in use %.1f MiB after the hostile clients closed, %.1f MiB before", mib(heap1), mib(heap0))
	}
	// The clients did what they meant to: the slow readers were cut off.
	if n := s.slowConsumers.Load(); n < 20 {
		t.Errorf("%d slow consumers, want every one of the 20 slow readers", n)
	}
	// The closed connections are remembered, compactly.
	if n := len(s.connz(&connzOptions{state: connClosed, limit: 1 << 20, sort: "cid"}).Conns); n < 20*5 {
		t.Errorf("%d closed connections remembered", n)
	}
}

func heapInUse() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC() // a second cycle empties sync.Pools
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

func waitNoClients(t *testing.T, s *Server) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for s.NumClients() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d clients still open", s.NumClients())
		}
		time.Sleep(5 * time.Millisecond) // closing gives no signal outside the server
	}
}

// runHostileRound runs n clients of each hostile kind at once, closes them
// all, and returns the heap in use while they were connected.
func runHostileRound(t *testing.T, addr string, n int) uint64 {
	t.Helper()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	keep := func(c net.Conn) {
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
	}
	// dial connects, reads INFO and keeps the connection until the round ends.
	dial := func() (net.Conn, *bufio.Reader) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Error(err)
			return nil, nil
		}
		keep(c)
		r := bufio.NewReader(c)
		if _, err := r.ReadString('\n'); err != nil { // INFO
			t.Error(err)
		}
		return c, r
	}
	// ping sends PING and waits for PONG: everything before it was processed.
	ping := func(c net.Conn, r *bufio.Reader) {
		if _, err := io.WriteString(c, "PING\r\n"); err != nil {
			t.Error(err)
			return
		}
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				t.Error(err)
				return
			}
			if l == "PONG\r\n" {
				return
			}
		}
	}
	// client runs f in a goroutine of the round on a new connection.
	client := func(f func(c net.Conn, r *bufio.Reader)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if c, r := dial(); c != nil {
				f(c, r)
			}
		}()
	}
	long := strings.Repeat("n", 4000)
	subj := strings.Repeat("s", 3500)
	for i := 0; i < n; i++ {
		// The longest name a CONNECT line may carry, and 200 subscriptions.
		client(func(c net.Conn, r *bufio.Reader) {
			var b strings.Builder
			fmt.Fprintf(&b, "CONNECT {\"verbose\":false,\"user\":\"open\",\"pass\":\"x\",\"name\":%q}\r\n", long)
			for j := 0; j < 200; j++ {
				fmt.Fprintf(&b, "SUB many.%d.%d %d\r\n", i, j, j)
			}
			io.WriteString(c, b.String())
			ping(c, r)
		})
		// A CONNECT line that never ends: cut off past max_control_line.
		client(func(c net.Conn, r *bufio.Reader) {
			io.WriteString(c, "CONNECT {\"name\":\"")
			for j := 0; j < 64; j++ {
				if _, err := io.WriteString(c, strings.Repeat("x", 128)); err != nil {
					break
				}
			}
			l, _ := r.ReadString('\n')
			if l != "-ERR 'maximum control line exceeded'\r\n" {
				t.Errorf("trickled CONNECT: got %q", l)
			}
		})
		// 256 distinct 3.5 KB subjects through the publish permission cache.
		client(func(c net.Conn, r *bufio.Reader) {
			io.WriteString(c, "CONNECT {\"verbose\":false,\"user\":\"perm\",\"pass\":\"x\"}\r\n")
			var b strings.Builder
			for j := 0; j < 256; j++ {
				fmt.Fprintf(&b, "PUB %s.%d.%d 1\r\nx\r\n", subj, i, j)
			}
			io.WriteString(c, b.String())
			ping(c, r)
		})
		// A reader that never reads, subscribed to everything and fed until
		// it is a slow consumer.
		client(func(c net.Conn, r *bufio.Reader) {
			io.WriteString(c, "CONNECT {\"verbose\":false,\"user\":\"open\",\"pass\":\"x\"}\r\nSUB slow.> 1\r\n")
			ping(c, r)
			p, pr := dial()
			if p == nil {
				return
			}
			payload := strings.Repeat("p", 64*1024)
			io.WriteString(p, "CONNECT {\"verbose\":false,\"user\":\"open\",\"pass\":\"x\"}\r\n")
			var b strings.Builder
			for j := 0; j < 64; j++ { // 4 MiB for a 1 MiB max_pending
				fmt.Fprintf(&b, "PUB slow.%d %d\r\n%s\r\n", i, len(payload), payload)
			}
			io.WriteString(p, b.String())
			ping(p, pr)
		})
		// A client that connects and says nothing.
		client(func(net.Conn, *bufio.Reader) {})
	}
	wg.Wait()
	peak := heapInUse()
	for _, c := range conns {
		c.Close()
	}
	return peak
}
