package server

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
)

// Differential wire tests: the same bytes go to busd and to an in-process
// nats-server v2.15.2, and the two answers must be the same bytes and the same
// close-or-keep decision.

// wireConfig is a server configuration both servers can be given.
type wireConfig struct {
	auth           bool  // user "u", password "p"
	maxControlLine int32 // 0: the default 4096
}

// wireServers starts busd and nats-server once per configuration a test uses.
type wireServers struct {
	t    *testing.T
	addr map[wireConfig][2]string // busd, nats-server
}

func newWireServers(t *testing.T) *wireServers {
	return &wireServers{t: t, addr: map[wireConfig][2]string{}}
}

func (ws *wireServers) get(cfg wireConfig) [2]string {
	if a, ok := ws.addr[cfg]; ok {
		return a
	}
	t := ws.t
	bo := &Options{MaxControlLine: cfg.maxControlLine}
	no := &natsserver.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true, MaxControlLine: cfg.maxControlLine}
	if cfg.auth {
		bo.Username, bo.Password = "u", "p"
		no.Username, no.Password = "u", "p"
	}
	b := runServer(t, bo)
	ns, err := natsserver.NewServer(no)
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	t.Cleanup(ns.Shutdown)
	a := [2]string{b.Addr().String(), ns.Addr().String()}
	ws.addr[cfg] = a
	return a
}

// The probe that ends every exchange: a subscription and a message to it that
// no case can produce. Seeing the MSG proves the server read and processed
// everything the case sent and kept the connection.
const (
	wireProbe     = "SUB _probe_ 987654\r\nPUB _probe_ 2\r\nok\r\n"
	wireProbeSeen = "MSG _probe_ 987654 2\r\nok\r\n"
)

// wireResult is what a server answered to one case.
type wireResult struct {
	out    string // every byte after INFO, the probe's own MSG excluded
	closed bool   // the server closed the connection
}

func (r wireResult) String() string {
	state := "kept"
	if r.closed {
		state = "closed"
	}
	return state + " " + quoteWire(r.out)
}

func quoteWire(s string) string {
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return `"` + strings.NewReplacer("\r", `\r`, "\n", `\n`, "\x00", `\0`).Replace(s) + `"`
}

// exchange dials addr, skips INFO, sends in (followed by the probe unless
// noProbe) and reads until the probe's message arrives or the server closes.
func exchange(t *testing.T, addr, in string, noProbe bool) wireResult {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	deadline := time.Now().Add(10 * time.Second)
	_ = conn.SetDeadline(deadline)
	var buf bytes.Buffer
	tmp := make([]byte, 64*1024)
	// INFO first.
	for !bytes.Contains(buf.Bytes(), []byte("\r\n")) {
		n, err := conn.Read(tmp)
		buf.Write(tmp[:n])
		if err != nil {
			t.Fatalf("reading INFO: %v", err)
		}
	}
	i := bytes.Index(buf.Bytes(), []byte("\r\n"))
	rest := append([]byte(nil), buf.Bytes()[i+2:]...)
	buf.Reset()
	buf.Write(rest)
	send := in
	if !noProbe {
		send += wireProbe
	}
	if _, err := conn.Write([]byte(send)); err != nil && !isReset(err) {
		t.Fatalf("write: %v", err)
	}
	for {
		if j := bytes.Index(buf.Bytes(), []byte(wireProbeSeen)); j >= 0 && !noProbe {
			return wireResult{out: buf.String()[:j]}
		}
		n, err := conn.Read(tmp)
		buf.Write(tmp[:n])
		if errors.Is(err, io.EOF) || isReset(err) {
			return wireResult{out: buf.String(), closed: true}
		}
		if err != nil {
			t.Fatalf("neither the probe nor a close within 10s: %v (so far %s)", err, quoteWire(buf.String()))
		}
	}
}

// wireCase is one exchange both servers must answer alike, unless differs
// explains why busd answers busd instead.
type wireCase struct {
	name    string
	in      string
	cfg     wireConfig
	noProbe bool // in leaves a line or payload open: the server must close on its own

	differs string     // why busd deliberately answers otherwise
	busd    wireResult // busd's answer when differs is set
}

func runWireCases(t *testing.T, cases []wireCase) {
	ws := newWireServers(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			addrs := ws.get(tc.cfg)
			got := exchange(t, addrs[0], tc.in, tc.noProbe)
			want := exchange(t, addrs[1], tc.in, tc.noProbe)
			if tc.differs != "" {
				if got != tc.busd {
					t.Errorf("in %s\nbusd        %s\nwant (busd) %s\nnats-server %s", quoteWire(tc.in), got, tc.busd, want)
				}
				if got == want {
					t.Errorf("in %s: busd now answers as nats-server (%s); drop the listed difference %q", quoteWire(tc.in), got, tc.differs)
				}
				return
			}
			if got != want {
				t.Errorf("in %s\nbusd        %s\nnats-server %s", quoteWire(tc.in), got, want)
			}
		})
	}
}
