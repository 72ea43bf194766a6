// Package bustest starts in-process buses for tests: busd (Dialtone's broker) and a
// cluster of nats-server nodes. Everything listens on 127.0.0.1 with random ports
// and is shut down by t.Cleanup.
//
// A suite runs on every backend with
//
//	for _, b := range bustest.Backends(t) {
//		t.Run(b.Name, func(t *testing.T) {
//			urls := b.Start(t)
//			nc := bustest.Connect(t, urls[0])
//			...
//		})
//	}
//
// The environment variable DIALTONE_BACKENDS (a comma-separated list of backend
// names, e.g. "nats-cluster") limits Backends to the ones named. A name that is not
// a backend, or a variable that is set but names none, fails the test: a suite
// never passes by running on no backend.
package bustest

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dialtone-dev/dialtone/busd/server"
	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// Backend is a kind of bus a suite runs on.
type Backend struct {
	Name string
	// Start starts the bus and returns its client URLs: one for busd, one per node
	// for a cluster (different URLs reach different servers).
	Start func(t testing.TB) []string
}

// Backends returns the backends every suite runs on: "busd" and "nats-cluster"
// (three nodes), or those DIALTONE_BACKENDS names. It fails t when
// DIALTONE_BACKENDS is set but empty or names an unknown backend.
func Backends(t testing.TB) []Backend {
	t.Helper()
	all := []Backend{
		{Name: KindBusd, Start: func(t testing.TB) []string { return []string{Busd(t)} }},
		{Name: KindCluster, Start: func(t testing.TB) []string {
			urls, _ := Cluster(t, 3)
			return urls
		}},
	}
	only, set := os.LookupEnv("DIALTONE_BACKENDS")
	if !set {
		return all
	}
	out, err := selectBackends(all, only)
	if err != nil {
		t.Fatalf("bustest: %v", err)
	}
	return out
}

// selectBackends returns the backends of all that list (comma-separated names)
// names, in the order of all.
func selectBackends(all []Backend, list string) ([]Backend, error) {
	want := map[string]bool{}
	for n := range strings.SplitSeq(list, ",") {
		if n = strings.TrimSpace(n); n != "" {
			want[n] = true
		}
	}
	if len(want) == 0 {
		return nil, fmt.Errorf("DIALTONE_BACKENDS=%q names no backend (known: %s); unset it to run on all", list, names(all))
	}
	var out []Backend
	for _, b := range all {
		if want[b.Name] {
			out = append(out, b)
			delete(want, b.Name)
		}
	}
	for n := range want {
		return nil, fmt.Errorf("DIALTONE_BACKENDS=%q: unknown backend %q (known: %s)", list, n, names(all))
	}
	return out, nil
}

func names(bs []Backend) string {
	var out []string
	for _, b := range bs {
		out = append(out, b.Name)
	}
	return strings.Join(out, ", ")
}

// quietLogger discards busd's log lines unless the test runs with -v.
func quietLogger() *slog.Logger {
	if testing.Verbose() && os.Getenv("DIALTONE_BUSD_LOG") != "" {
		return slog.Default()
	}
	return slog.New(slog.DiscardHandler)
}

// Busd starts an in-process busd on 127.0.0.1 and a random port and returns its URL.
func Busd(t testing.TB) string {
	t.Helper()
	s := startBusd(t, -1)
	t.Cleanup(func() { shutdownBusd(s) })
	return s.ClientURL()
}

func shutdownBusd(s *server.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = s.Shutdown(ctx)
}

// startBusd starts a busd; the caller arranges its shutdown.
func startBusd(t testing.TB, port int) *server.Server {
	t.Helper()
	s, err := server.New(&server.Options{Host: "127.0.0.1", Port: port}, quietLogger())
	if err != nil {
		t.Fatalf("busd: new: %v", err)
	}
	if err := s.Start(); err != nil {
		t.Fatalf("busd: start: %v", err)
	}
	select {
	case <-s.Ready():
	case <-time.After(10 * time.Second):
		shutdownBusd(s)
		t.Fatal("busd: not ready after 10s")
	}
	return s
}

// RestartableBusd is a busd that can be restarted on the same port, for tests of
// reconnection.
type RestartableBusd struct {
	t    testing.TB
	mu   sync.Mutex
	srv  *server.Server
	port int
	url  string
}

// NewRestartableBusd starts a busd that Restart can bring back on the same port.
func NewRestartableBusd(t testing.TB) *RestartableBusd {
	t.Helper()
	s := startBusd(t, -1)
	u, err := url.Parse(s.ClientURL())
	if err != nil {
		t.Fatalf("busd: client URL: %v", err)
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		shutdownBusd(s)
		t.Fatalf("busd: client URL port: %v", err)
	}
	b := &RestartableBusd{t: t, srv: s, port: port, url: s.ClientURL()}
	// One cleanup for whichever server runs at the end, registered first so that it
	// runs after the cleanups of everything that uses the bus.
	t.Cleanup(func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if b.srv != nil {
			shutdownBusd(b.srv)
			b.srv = nil
		}
	})
	return b
}

// URL is the client URL; it stays the same across restarts.
func (b *RestartableBusd) URL() string { return b.url }

// Stop shuts the server down; connected clients see the connection drop.
func (b *RestartableBusd) Stop() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.srv.Shutdown(ctx); err != nil {
		b.t.Fatalf("busd: shutdown: %v", err)
	}
	b.srv = nil
}

// Restart stops the server (if running) and starts a new one on the same port.
func (b *RestartableBusd) Restart() {
	b.t.Helper()
	b.Stop()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.srv = startBusd(b.t, b.port)
}

// Kind of backend a suite runs on, for the few tests that need the handle.
const (
	KindBusd    = "busd"
	KindCluster = "nats-cluster"
)

// ClusterHandle controls a running nats-server cluster.
type ClusterHandle struct {
	t       testing.TB
	mu      sync.Mutex
	servers []*natsserver.Server
	urls    []string
}

// Cluster starts an n-node nats-server cluster in-process on loopback and random
// ports, waits until every node has routes to all others, and returns the client
// URLs, one per node.
func Cluster(t testing.TB, n int) ([]string, *ClusterHandle) {
	t.Helper()
	if n < 1 {
		t.Fatalf("bustest: cluster of %d nodes", n)
	}
	name := "dt-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	c := &ClusterHandle{t: t}
	var seed *url.URL
	for i := 0; i < n; i++ {
		opts := &natsserver.Options{
			ServerName: fmt.Sprintf("%s-n%d", name, i),
			Host:       "127.0.0.1",
			Port:       -1,
			NoLog:      true,
			NoSigs:     true,
			Cluster: natsserver.ClusterOpts{
				Name:     name,
				Host:     "127.0.0.1",
				Port:     -1,
				PoolSize: -1,
			},
		}
		if seed != nil {
			opts.Routes = []*url.URL{seed}
		}
		s, err := natsserver.NewServer(opts)
		if err != nil {
			t.Fatalf("nats-server: %v", err)
		}
		go s.Start()
		if !s.ReadyForConnections(10 * time.Second) {
			t.Fatalf("nats-server %d not ready", i)
		}
		t.Cleanup(s.Shutdown)
		if seed == nil {
			addr := s.ClusterAddr()
			seed = &url.URL{Scheme: "nats", Host: addr.String()}
		}
		c.servers = append(c.servers, s)
		c.urls = append(c.urls, s.ClientURL())
	}
	// Routes have no readiness signal to wait on, so poll with a bounded deadline.
	deadline := time.Now().Add(10 * time.Second)
	for _, s := range c.servers {
		for s.NumRoutes() < n-1 {
			if time.Now().After(deadline) {
				t.Fatalf("nats-server cluster: %s has %d routes, want %d", s.Name(), s.NumRoutes(), n-1)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	return append([]string(nil), c.urls...), c
}

// URLs returns the client URLs, one per node, including killed nodes.
func (c *ClusterHandle) URLs() []string { return append([]string(nil), c.urls...) }

// Kill shuts node i down at once; its clients see the connection drop and fail
// over to another node if they know one.
func (c *ClusterHandle) Kill(i int) {
	c.t.Helper()
	c.mu.Lock()
	s := c.servers[i]
	c.mu.Unlock()
	s.Shutdown()
	s.WaitForShutdown()
}

// ConnectOptions are the client options tests use: fast reconnects, forever, and a
// name for the server's logs.
func ConnectOptions(name string) []nats.Option {
	return []nats.Option{
		nats.Name(name),
		nats.ReconnectWait(20 * time.Millisecond),
		nats.ReconnectJitter(10*time.Millisecond, 10*time.Millisecond),
		nats.MaxReconnects(-1),
		nats.Timeout(2 * time.Second),
	}
}

// Connect dials url (a comma-separated list is fine) with ConnectOptions plus opts,
// and closes the connection on t.Cleanup.
func Connect(t testing.TB, url string, opts ...nats.Option) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url, append(ConnectOptions(t.Name()), opts...)...)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// Serve starts an in-process busd on 127.0.0.1 for code without a testing.TB, such
// as Example functions. It panics if the server cannot start; call shutdown when
// done.
func Serve() (url string, shutdown func()) {
	s, err := server.New(&server.Options{Host: "127.0.0.1", Port: -1}, quietLogger())
	if err != nil {
		panic(err)
	}
	if err := s.Start(); err != nil {
		panic(err)
	}
	<-s.Ready()
	return s.ClientURL(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	}
}
