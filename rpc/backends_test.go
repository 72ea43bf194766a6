package rpc_test

import (
	"testing"

	"github.com/dialtone-dev/dialtone/internal/bustest"
)

// backend is a running bus: the client connects to clientURL, instance i to
// instanceURL(i), which on a cluster is another server than the client's, so calls
// cross routes.
type backend struct {
	name string
	urls []string
}

func (b backend) clientURL() string { return b.urls[0] }

func (b backend) instanceURL(i int) string { return b.urls[(i+1)%len(b.urls)] }

// forEachBackend runs f as a subtest on every bustest backend (busd and a 3-node
// nats-server cluster; DIALTONE_BACKENDS narrows the list).
func forEachBackend(t *testing.T, f func(t *testing.T, b backend)) {
	t.Helper()
	for _, bk := range bustest.Backends(t) {
		t.Run(bk.Name, func(t *testing.T) {
			f(t, backend{name: bk.Name, urls: bk.Start(t)})
		})
	}
}
