// Command hostileprobe runs the black-box probes of busd's hardening issue
// against any NATS-protocol server on this machine and prints one line per
// probe: what the server answered, and how its resident memory (VmRSS, from
// /proc) moved. Run it against nats-server and busd started the same way:
//
//	hostileprobe -url 127.0.0.1:14222 -pid $(pgrep -n busd) -http 127.0.0.1:18222
//
// The server must have no auth, except for a user "perm" with password "x"
// whose publish permissions allow ">" and deny "secret.>" (the -perm probe
// needs it; see docs/performance.md for the config files used). -only runs
// the probes named.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

var (
	addr = flag.String("url", "127.0.0.1:4222", "server host:port")
	pid  = flag.Int("pid", 0, "server process id, for /proc/<pid>/status")
	mon  = flag.String("http", "", "server monitoring host:port, for /connz")
	only = flag.String("only", "", "run only these probes (comma-separated names)")
)

func main() {
	flag.Parse()
	if *pid == 0 {
		fail("need -pid")
	}
	probes := []struct {
		name string
		run  func() string
	}{
		{"connect-8k-name", func() string {
			return answer("CONNECT {\"verbose\":false,\"name\":\"" + strings.Repeat("n", 8192) + "\"}\r\nPING\r\n")
		}},
		{"unsub-bare", func() string { return answer("CONNECT {\"verbose\":false}\r\nUNSUB\r\nPING\r\n") }},
		{"pub-bare", func() string { return answer("CONNECT {\"verbose\":false}\r\nPUB\r\nPING\r\n") }},
		{"sub-bare", func() string { return answer("CONNECT {\"verbose\":false}\r\nSUB\r\nPING\r\n") }},
		{"unsub-1-x", func() string { return answer("CONNECT {\"verbose\":false}\r\nSUB a 1\r\nUNSUB 1 x\r\nPING\r\n") }},
		{"ping-x", func() string { return answer("CONNECT {\"verbose\":false}\r\nPING x\r\n") }},
		{"trickle-1mib-connect", trickle},
		{"huge-name-then-close", hugeNames},
		{"perm-cache-then-close", permCache},
	}
	for _, p := range probes {
		if *only != "" && !strings.Contains(","+*only+",", ","+p.name+",") {
			continue
		}
		fmt.Printf("%-24s %s\n", p.name, p.run())
	}
}

// answer sends in on a fresh connection and reports what came back until
// the PONG that ends in, or the close.
func answer(in string) string {
	c := dial()
	defer c.Close()
	if _, err := io.WriteString(c, in); err != nil {
		return "write: " + err.Error()
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	var got []string
	for {
		l, err := r.ReadString('\n')
		if l = strings.TrimRight(l, "\r\n"); l != "" {
			got = append(got, l)
		}
		if err != nil {
			return strings.Join(got, " | ") + " | closed"
		}
		if l == "PONG" {
			return strings.Join(got, " | ") + " | kept"
		}
	}
}

// trickle: 200 connections each send a CONNECT line of just under 1 MiB
// (the largest line busd accepted before), without its newline, 16 KiB at a
// time.
func trickle() string {
	before := rss()
	const n = 200
	var wg sync.WaitGroup
	var mu sync.Mutex
	closed := 0
	var conns []net.Conn
	for i := 0; i < n; i++ {
		c := dial()
		conns = append(conns, c)
		wg.Add(1)
		go func() {
			defer wg.Done()
			chunk := []byte(strings.Repeat("x", 16*1024))
			if _, err := io.WriteString(c, "CONNECT {\"name\":\""); err != nil {
				return
			}
			cut := false
			for sent := 0; sent < 1<<20-len(chunk); sent += len(chunk) {
				if _, err := c.Write(chunk); err != nil {
					cut = true
					break
				}
			}
			if !cut {
				// All written: was it read, or is the server gone?
				_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
				buf := make([]byte, 4096)
				for {
					if _, err := c.Read(buf); err != nil {
						var ne net.Error
						cut = !(asNetErr(err, &ne) && ne.Timeout())
						break
					}
				}
			}
			if cut {
				mu.Lock()
				closed++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	peak := settleUp()
	for _, c := range conns {
		c.Close()
	}
	return fmt.Sprintf("%d of %d closed by the server; RSS +%.0f MiB with them open", closed, n, mibDelta(before, peak))
}

func asNetErr(err error, ne *net.Error) bool {
	e, ok := err.(net.Error)
	if ok {
		*ne = e
	}
	return ok
}

// hugeNames: 100 clients with a 1,000,000-byte CONNECT name, then closed;
// then one GET /connz?state=closed.
func hugeNames() string {
	before := rss()
	name := strings.Repeat("n", 1000000)
	accepted := 0
	for i := 0; i < 100; i++ {
		if strings.HasSuffix(answer("CONNECT {\"verbose\":false,\"name\":\""+name+"\"}\r\nPING\r\n"), "kept") {
			accepted++
		}
	}
	after := settleDown()
	out := fmt.Sprintf("%d of 100 accepted; RSS +%.0f MiB after close", accepted, mibDelta(before, after))
	if *mon != "" {
		resp, err := http.Get("http://" + *mon + "/connz?state=closed&limit=10000")
		if err != nil {
			return out + "; /connz: " + err.Error()
		}
		nb, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		out += fmt.Sprintf("; /connz?state=closed %.1f MB of JSON, RSS then +%.0f MiB", float64(nb)/1e6, mibDelta(before, settleUp()))
	}
	return out
}

// permCache: 60 clients of user "perm" each publish to 1,024 distinct 3.5 KB
// subjects, then close.
func permCache() string {
	before := rss()
	subj := strings.Repeat("s", 3500)
	var wg sync.WaitGroup
	errs := make(chan string, 60)
	for i := 0; i < 60; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := dial()
			defer c.Close()
			w := bufio.NewWriterSize(c, 256*1024)
			fmt.Fprintf(w, "CONNECT {\"verbose\":false,\"user\":\"perm\",\"pass\":\"x\"}\r\n")
			for j := 0; j < 1024; j++ {
				fmt.Fprintf(w, "PUB %s.%d.%d 1\r\nx\r\n", subj, i, j)
			}
			w.WriteString("PING\r\n")
			if err := w.Flush(); err != nil {
				errs <- err.Error()
				return
			}
			_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
			r := bufio.NewReader(c)
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					errs <- "no PONG: " + err.Error()
					return
				}
				if l == "PONG\r\n" {
					return
				}
				if strings.HasPrefix(l, "-ERR") {
					errs <- strings.TrimSpace(l)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		return "client failed: " + e
	}
	return fmt.Sprintf("RSS +%.0f MiB after close", mibDelta(before, settleDown()))
}

func dial() net.Conn {
	c, err := net.Dial("tcp", *addr)
	if err != nil {
		fail(err.Error())
	}
	// Skip INFO, so what answer reads is the reply to what was sent.
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b := make([]byte, 1)
	for {
		if _, err := c.Read(b); err != nil {
			fail("INFO: " + err.Error())
		}
		if b[0] == '\n' {
			break
		}
	}
	_ = c.SetReadDeadline(time.Time{})
	return c
}

// settleUp waits until RSS stops growing (at most 5 s) and returns it.
func settleUp() int64 {
	last := rss()
	for i := 0; i < 10; i++ {
		time.Sleep(500 * time.Millisecond)
		now := rss()
		if now <= last {
			return now
		}
		last = now
	}
	return last
}

// settleDown waits until RSS stops falling (at most 60 s: the Go runtime
// gives memory back to the OS gradually) and returns it.
func settleDown() int64 {
	last := rss()
	still := 0
	for i := 0; i < 120 && still < 6; i++ {
		time.Sleep(500 * time.Millisecond)
		now := rss()
		if now < last {
			still = 0
		} else {
			still++
		}
		last = min(last, now)
	}
	return last
}

func mibDelta(before, after int64) float64 { return float64(after-before) / 1024 }

// rss is the server's VmRSS in KiB.
func rss() int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", *pid))
	if err != nil {
		fail(err.Error())
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if f := strings.Fields(string(line)); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
	}
	fail("no VmRSS")
	return 0
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "hostileprobe:", msg)
	os.Exit(1)
}
