package bustest

import (
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// Env is a started backend as a suite sees it: its URLs, a client connection to
// the first node, and Conn for further connections spread over the others.
type Env struct {
	T      *testing.T
	URLs   []string
	Client *nats.Conn
	n      int
}

// ForEachBackend runs f in a subtest on every backend, started, with Client
// connected to its first node.
func ForEachBackend(t *testing.T, f func(t *testing.T, e *Env)) {
	t.Helper()
	for _, b := range Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			urls := b.Start(t)
			f(t, &Env{T: t, URLs: urls, Client: Connect(t, urls[0])})
		})
	}
}

// Conn connects a new connection, to another node than Client's where there is
// one.
func (e *Env) Conn() *nats.Conn {
	e.n++
	return Connect(e.T, e.URLs[e.n%len(e.URLs)])
}

// Reachable waits until Client reaches the service instance name/id. On one
// server that is at once. Across a cluster interest travels asynchronously but
// in order, and an instance subscribes its endpoints and consumers before
// $SRV.PING, so once PING answers through the client's node, they do too.
func (e *Env) Reachable(name, id string) {
	e.T.Helper()
	subj := "$SRV.PING." + name + "." + id
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := e.Client.Request(subj, nil, time.Second)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			e.T.Fatalf("instance %s not reachable from the client: %v", id, err)
		}
		if errors.Is(err, nats.ErrNoResponders) {
			time.Sleep(5 * time.Millisecond) // no signal for route interest: bounded poll
		}
	}
}
