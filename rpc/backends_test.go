package rpc_test

import (
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
)

// backend is a bus to run a test on: the client connects to clientURL, instance i to
// instanceURL(i), which on a cluster is a different server than the client's.
type backend struct {
	name string
	urls []string
}

func (b backend) clientURL() string { return b.urls[0] }

func (b backend) instanceURL(i int) string { return b.urls[(i+1)%len(b.urls)] }

// forEachBackend runs f as a subtest on every backend.
func forEachBackend(t *testing.T, f func(t *testing.T, b backend)) {
	t.Helper()
	t.Run("nats-server", func(t *testing.T) {
		f(t, backend{name: "nats-server", urls: []string{runNATSServer(t)}})
	})
}

func runNATSServer(t *testing.T) string {
	t.Helper()
	s, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	t.Cleanup(s.Shutdown)
	return s.ClientURL()
}
