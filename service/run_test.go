package service_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/dialtone-dev/dialtone/heartbeat"
	"github.com/dialtone-dev/dialtone/service"
	"github.com/nats-io/nats.go/micro"
)

func TestRunStopsWhenContextEnds(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		s, err := service.New(e.Conn(), service.Config{Name: "runner", Version: "1.0.0"},
			service.WithHeartbeatInterval(100*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		if err := service.Handle(s, "Hello", greeter); err != nil {
			t.Fatal(err)
		}
		beats, err := e.Client.SubscribeSync(heartbeat.Subject("runner"))
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Client.Flush(); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx) }()
		// The periodic loop starts once Start has returned inside Run: a second
		// heartbeat says Run is past Start.
		for hb := waitStatus(t, beats, s.ID(), heartbeat.StatusUp); hb.Seq < 2; {
			hb = waitStatus(t, beats, s.ID(), heartbeat.StatusUp)
		}
		e.Reachable(s.Name(), s.ID())
		if _, derr := call(t, e.Client, "runner.Hello", helloReq{Name: "x"}, nil); derr != nil {
			t.Fatal(derr)
		}
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return after ctx ended")
		}
		waitStatus(t, beats, s.ID(), heartbeat.StatusStopped)
	})
}

// TestADR32DecodesWithNatsMicro reads the monitoring answers with nats.go's own
// micro types, as NATS tooling does.
func TestADR32DecodesWithNatsMicro(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		s := e.start(service.Config{Name: "compat", Version: "0.3.1", Description: "d", Metadata: map[string]string{"a": "b"}},
			func(s *service.Service) { _ = service.Handle(s, "Hello", greeter) })
		call(t, e.Client, "compat.Hello", helloReq{Name: "x"}, nil)
		call(t, e.Client, "compat.Hello", helloReq{Name: "missing"}, nil)

		m, err := e.Client.Request("$SRV.PING.compat", nil, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var ping micro.Ping
		if err := json.Unmarshal(m.Data, &ping); err != nil || ping.Type != micro.PingResponseType || ping.ID != s.ID() {
			t.Fatalf("ping %+v %v", ping, err)
		}
		m, err = e.Client.Request("$SRV.INFO.compat."+s.ID(), nil, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var info micro.Info
		if err := json.Unmarshal(m.Data, &info); err != nil || info.Type != micro.InfoResponseType ||
			info.Version != "0.3.1" || info.Metadata["a"] != "b" || len(info.Endpoints) != 1 ||
			info.Endpoints[0].Subject != "compat.Hello" || info.Endpoints[0].QueueGroup != "compat" {
			t.Fatalf("info %+v %v", info, err)
		}
		m, err = e.Client.Request("$SRV.STATS", nil, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var stats micro.Stats
		if err := json.Unmarshal(m.Data, &stats); err != nil || stats.Type != micro.StatsResponseType {
			t.Fatalf("stats %+v %v", stats, err)
		}
		es := stats.Endpoints[0]
		if es.NumRequests != 2 || es.NumErrors != 1 || es.LastError == "" || es.ProcessingTime <= 0 ||
			es.AverageProcessingTime != es.ProcessingTime/2 || stats.Started.IsZero() {
			t.Fatalf("endpoint stats %+v", es)
		}
	})
}
