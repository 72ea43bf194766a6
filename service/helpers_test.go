package service_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/dialtone-dev/dialtone"
	"github.com/dialtone-dev/dialtone/internal/bustest"
	"github.com/dialtone-dev/dialtone/service"
	"github.com/nats-io/nats.go"
)

// forEachBackend runs f on every backend with a client connection and a function
// that connects instances; on a cluster, instances connect to other nodes than the
// client.
func forEachBackend(t *testing.T, f func(t *testing.T, e *env)) {
	t.Helper()
	for _, b := range bustest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			urls := b.Start(t)
			e := &env{t: t, urls: urls}
			e.client = bustest.Connect(t, urls[0])
			f(t, e)
		})
	}
}

type env struct {
	t      *testing.T
	urls   []string
	client *nats.Conn
	n      int
}

// conn connects a new instance connection, to a different node than the client
// where there is one.
func (e *env) conn() *nats.Conn {
	e.n++
	return bustest.Connect(e.t, e.urls[e.n%len(e.urls)])
}

// start creates, configures and starts an instance and stops it on cleanup.
func (e *env) start(cfg service.Config, setup func(s *service.Service), opts ...service.Option) *service.Service {
	e.t.Helper()
	nc := e.conn()
	opts = append([]service.Option{service.WithHeartbeatInterval(100 * time.Millisecond),
		service.WithLogger(slog.New(slog.DiscardHandler))}, opts...)
	s, err := service.New(nc, cfg, opts...)
	if err != nil {
		e.t.Fatal(err)
	}
	if setup != nil {
		setup(s)
	}
	if err := s.Start(context.Background()); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Stop(ctx)
	})
	e.reachable(s)
	return s
}

// reachable waits until the client reaches the instance. On one server that is at
// once; across a cluster interest travels asynchronously, and the monitoring
// subjects are subscribed after the endpoints, so once PING answers through the
// client's node, the endpoints do too.
func (e *env) reachable(s *service.Service) {
	e.t.Helper()
	subj := "$SRV.PING." + s.Name() + "." + s.ID()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := e.client.Request(subj, nil, time.Second)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("instance %s not reachable from the client: %v", s.ID(), err)
		}
		if errors.Is(err, nats.ErrNoResponders) {
			time.Sleep(5 * time.Millisecond) // no signal for route interest: bounded poll
		}
	}
}

// call sends a JSON request and returns the raw reply and its error, if any.
func call(t *testing.T, nc *nats.Conn, subject string, req any, hdr nats.Header) (*nats.Msg, *dialtone.Error) {
	t.Helper()
	data, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	m, err := nc.RequestMsg(&nats.Msg{Subject: subject, Data: data, Header: hdr}, 5*time.Second)
	if err != nil {
		t.Fatalf("request %s: %v", subject, err)
	}
	return m, dialtone.ErrorFromHeader(m.Header)
}

type helloReq struct {
	Name string `json:"name" validate:"required"`
}

type helloResp struct {
	Message string `json:"message"`
}

func greeter(ctx context.Context, r *helloReq) (*helloResp, error) {
	switch r.Name {
	case "panic":
		panic("boom")
	case "missing":
		return nil, dialtone.Errorf(dialtone.CodeNotFound, "no such person")
	case "plain":
		return nil, errors.New("plain failure")
	}
	return &helloResp{Message: "hello " + r.Name}, nil
}
