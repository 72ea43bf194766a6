package bustest_test

import (
	"strings"
	"testing"
	"time"

	"github.com/dialtone-dev/dialtone/internal/bustest"
	"github.com/nats-io/nats.go"
)

func TestBackendsCarryMessages(t *testing.T) {
	for _, b := range bustest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			urls := b.Start(t)
			sub := bustest.Connect(t, urls[0])
			pub := bustest.Connect(t, urls[len(urls)-1])
			s, err := sub.SubscribeSync("bustest.ping")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := sub.Subscribe("bustest.echo", func(m *nats.Msg) { _ = m.Respond(m.Data) }); err != nil {
				t.Fatal(err)
			}
			if err := sub.Flush(); err != nil {
				t.Fatal(err)
			}
			// Across a cluster interest travels asynchronously: retry the request until
			// the other node knows the subscription, within a bound.
			deadline := time.Now().Add(5 * time.Second)
			for {
				m, err := pub.Request("bustest.echo", []byte("hi"), time.Second)
				if err == nil {
					if string(m.Data) != "hi" {
						t.Fatalf("echo = %q", m.Data)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("echo: %v", err)
				}
			}
			if err := pub.Publish("bustest.ping", []byte("x")); err != nil {
				t.Fatal(err)
			}
			if _, err := s.NextMsg(5 * time.Second); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestClusterKillFailsOver(t *testing.T) {
	urls, c := bustest.Cluster(t, 3)
	if len(urls) != 3 {
		t.Fatalf("urls = %v", urls)
	}
	reconnected := make(chan struct{}, 1)
	nc := bustest.Connect(t, strings.Join(urls, ","), nats.DontRandomize(),
		nats.ReconnectHandler(func(*nats.Conn) { reconnected <- struct{}{} }))
	if nc.ConnectedUrl() != urls[0] {
		t.Fatalf("connected to %s, want %s", nc.ConnectedUrl(), urls[0])
	}
	c.Kill(0)
	select {
	case <-reconnected:
	case <-time.After(10 * time.Second):
		t.Fatal("no reconnect after the node died")
	}
	if nc.ConnectedUrl() == urls[0] {
		t.Fatal("still on the killed node")
	}
}

func TestRestartableBusd(t *testing.T) {
	b := bustest.NewRestartableBusd(t)
	reconnected := make(chan struct{}, 1)
	nc := bustest.Connect(t, b.URL(), nats.ReconnectHandler(func(*nats.Conn) { reconnected <- struct{}{} }))
	b.Restart()
	select {
	case <-reconnected:
	case <-time.After(10 * time.Second):
		t.Fatal("no reconnect after restart")
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
}
