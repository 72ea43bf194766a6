package bustest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dialtone-dev/dialtone/busd/server"
	natsserver "github.com/nats-io/nats-server/v2/server"
)

// ConfigBackends returns backends that start one server from the
// configuration file text conf (accounts, users, ...), on 127.0.0.1 and a
// random port whatever conf says: "busd" and a single "nats-server". When
// DIALTONE_BACKENDS is set, busd runs if it names busd and nats-server if it
// names nats-cluster (the NATS reference) or nats-server.
func ConfigBackends(t testing.TB, conf string) []Backend {
	t.Helper()
	all := []Backend{
		{Name: KindBusd, Start: func(t testing.TB) []string { return []string{BusdConfig(t, conf)} }},
		{Name: "nats-server", Start: func(t testing.TB) []string { return []string{NatsConfig(t, conf)} }},
	}
	only, set := os.LookupEnv("DIALTONE_BACKENDS")
	if !set {
		return all
	}
	list := strings.ReplaceAll(only, KindCluster, "nats-server")
	out, err := selectBackends(all, list)
	if err != nil {
		t.Fatalf("bustest: %v", err)
	}
	return out
}

func writeConf(t testing.TB, conf string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "bus.conf")
	if err := os.WriteFile(p, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// BusdConfig starts busd with the configuration conf and returns its URL.
func BusdConfig(t testing.TB, conf string) string {
	t.Helper()
	o, err := server.ProcessConfigFile(writeConf(t, conf))
	if err != nil {
		t.Fatalf("busd: config: %v", err)
	}
	o.Host, o.Port, o.HTTPPort = "127.0.0.1", -1, 0
	s, err := server.New(o, quietLogger())
	if err != nil {
		t.Fatalf("busd: new: %v", err)
	}
	if err := s.Start(); err != nil {
		t.Fatalf("busd: start: %v", err)
	}
	t.Cleanup(func() { shutdownBusd(s) })
	return s.ClientURL()
}

// NatsConfig starts a nats-server with the configuration conf and returns its URL.
func NatsConfig(t testing.TB, conf string) string {
	t.Helper()
	o, err := natsserver.ProcessConfigFile(writeConf(t, conf))
	if err != nil {
		t.Fatalf("nats-server: config: %v", err)
	}
	o.Host, o.Port, o.HTTPPort = "127.0.0.1", -1, 0
	o.NoLog, o.NoSigs = true, true
	ns, err := natsserver.NewServer(o)
	if err != nil {
		t.Fatalf("nats-server: %v", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		t.Fatal("nats-server: not ready after 10s")
	}
	t.Cleanup(ns.Shutdown)
	return ns.ClientURL()
}
