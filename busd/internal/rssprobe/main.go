// Command rssprobe measures a NATS-protocol server's resident memory under two
// loads: many idle connections, and many subscriptions. It reads the server's
// VmRSS from /proc, so it runs on Linux against a server process on this machine.
//
//	rssprobe -url 127.0.0.1:4222 -pid $(pgrep -n busd) -conns 10000
//	rssprobe -url 127.0.0.1:4222 -pid $(pgrep -n busd) -subs 1000000
//
// Connections speak the raw protocol (CONNECT, then PING/PONG to confirm), so the
// probe itself stays small. Subscriptions use distinct literal subjects spread
// over -subconns connections. The process needs a file limit above -conns.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

func main() {
	addr := flag.String("url", "127.0.0.1:4222", "server host:port")
	pid := flag.Int("pid", 0, "server process id (for /proc/<pid>/status)")
	conns := flag.Int("conns", 0, "idle connections to open")
	subs := flag.Int("subs", 0, "subscriptions to create")
	subConns := flag.Int("subconns", 10, "connections the subscriptions are spread over")
	flag.Parse()
	if *pid == 0 {
		fail("need -pid")
	}
	before := rss(*pid)
	fmt.Printf("rss_before_kb %d\n", before)
	var open []net.Conn
	defer func() {
		for _, c := range open {
			c.Close()
		}
	}()
	if *conns > 0 {
		for i := 0; i < *conns; i++ {
			c := dial(*addr)
			open = append(open, c)
		}
		// Every connection confirmed: the server has set each one up.
		for _, c := range open {
			ping(c)
		}
		settle(*pid)
		fmt.Printf("idle_conns %d rss_kb %d per_conn_bytes %d\n", *conns, rss(*pid), (rss(*pid)-before)*1024/int64(*conns))
	}
	if *subs > 0 {
		var cs []net.Conn
		for i := 0; i < *subConns; i++ {
			cs = append(cs, dial(*addr))
		}
		open = append(open, cs...)
		per := (*subs + *subConns - 1) / *subConns
		n := 0
		for ci, c := range cs {
			w := bufio.NewWriterSize(c, 64*1024)
			for j := 0; j < per && n < *subs; j++ {
				fmt.Fprintf(w, "SUB probe.%d.%d.subject %d\r\n", ci, j, j+1)
				n++
			}
			if err := w.Flush(); err != nil {
				fail(err.Error())
			}
		}
		for _, c := range cs {
			ping(c)
		}
		settle(*pid)
		fmt.Printf("subs %d rss_kb %d per_sub_bytes %d\n", n, rss(*pid), (rss(*pid)-before)*1024/int64(n))
	}
}

func dial(addr string) net.Conn {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		fail(err.Error())
	}
	if _, err := c.Write([]byte("CONNECT {\"verbose\":false,\"pedantic\":false}\r\n")); err != nil {
		fail(err.Error())
	}
	return c
}

// ping sends PING and reads until PONG (skipping INFO), bounded by a deadline.
func ping(c net.Conn) {
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		fail(err.Error())
	}
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Minute))
	r := bufio.NewReader(c)
	for i := 0; i < 16; i++ {
		line, err := r.ReadString('\n')
		if err != nil {
			fail(err.Error())
		}
		if strings.HasPrefix(line, "PONG") {
			return
		}
	}
	fail("no PONG")
}

// settle waits until RSS stops growing (at most 5 s), so figures are steady state.
func settle(pid int) {
	last := rss(pid)
	for i := 0; i < 10; i++ {
		time.Sleep(500 * time.Millisecond)
		now := rss(pid)
		if now <= last {
			return
		}
		last = now
	}
}

func rss(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
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
	fmt.Fprintln(os.Stderr, "rssprobe:", msg)
	os.Exit(1)
}
