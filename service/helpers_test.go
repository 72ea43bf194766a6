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

// forEachBackend runs f on busd and on a nats-server cluster (bustest.Env); on
// a cluster, instances connect to other nodes than the client.
func forEachBackend(t *testing.T, f func(t *testing.T, e *env)) {
	t.Helper()
	bustest.ForEachBackend(t, func(t *testing.T, be *bustest.Env) { f(t, &env{be}) })
}

type env struct{ *bustest.Env }

// start creates, configures and starts an instance and stops it on cleanup.
func (e *env) start(cfg service.Config, setup func(s *service.Service), opts ...service.Option) *service.Service {
	e.T.Helper()
	nc := e.Conn()
	opts = append([]service.Option{service.WithHeartbeatInterval(100 * time.Millisecond),
		service.WithLogger(slog.New(slog.DiscardHandler))}, opts...)
	s, err := service.New(nc, cfg, opts...)
	if err != nil {
		e.T.Fatal(err)
	}
	if setup != nil {
		setup(s)
	}
	if err := s.Start(context.Background()); err != nil {
		e.T.Fatal(err)
	}
	e.T.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Stop(ctx)
	})
	e.Reachable(s.Name(), s.ID())
	return s
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
