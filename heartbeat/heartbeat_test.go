package heartbeat_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dialtone-dev/dialtone"
	"github.com/dialtone-dev/dialtone/heartbeat"
	"github.com/dialtone-dev/dialtone/internal/bustest"
	"github.com/nats-io/nats.go"
)

func TestEncodeDecode(t *testing.T) {
	started := time.Date(2026, 11, 21, 10, 0, 0, 123456789, time.FixedZone("x", 3600))
	in := &heartbeat.Heartbeat{
		ID: "abc", Name: "greeter", Version: "1.2.0", Description: "d",
		Metadata:  map[string]string{"k": "v"},
		Endpoints: []heartbeat.Endpoint{{Name: "SayHello", Subject: "greeter.SayHello", QueueGroup: "greeter"}},
		Inbox:     "_DT.greeter.abc", Started: started, Seq: 42, Status: heartbeat.StatusUp,
		Load: heartbeat.Load{InFlight: 3, Capacity: 64, Queued: 5}, IntervalMS: 1000,
	}
	data, err := heartbeat.Encode(in)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"schema":"dialtone.heartbeat.v1","id":"abc","name":"greeter","version":"1.2.0","description":"d",` +
		`"metadata":{"k":"v"},"endpoints":[{"name":"SayHello","subject":"greeter.SayHello","queue_group":"greeter"}],` +
		`"inbox":"_DT.greeter.abc","started":"2026-11-21T09:00:00.123Z","seq":42,"status":"up",` +
		`"load":{"in_flight":3,"capacity":64,"queued":5},"interval_ms":1000}`
	if string(data) != want {
		t.Fatalf("encoded\n%s\nwant\n%s", data, want)
	}
	out, err := heartbeat.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if out.Interval() != time.Second || out.Seq != 42 || !out.Started.Equal(started.Truncate(time.Millisecond)) || out.Endpoints[0].QueueGroup != "greeter" || out.Load.Queued != 5 {
		t.Fatalf("decoded %+v", out)
	}
	// A document from before "queued" existed still reads, as 0 queued.
	old, err := heartbeat.Decode([]byte(`{"schema":"dialtone.heartbeat.v1","id":"a","name":"n","status":"up","load":{"in_flight":1,"capacity":2}}`))
	if err != nil || old.Load != (heartbeat.Load{InFlight: 1, Capacity: 2}) {
		t.Fatalf("decoded %+v, %v", old, err)
	}
}

func TestDecodeRejects(t *testing.T) {
	ok := `"id":"a","name":"n","status":"up"`
	cases := map[string]string{
		"other major":    `{"schema":"dialtone.heartbeat.v2",` + ok + `}`,
		"no schema":      `{` + ok + `}`,
		"prefix trap":    `{"schema":"dialtone.heartbeat.v10",` + ok + `}`,
		"no id":          `{"schema":"dialtone.heartbeat.v1","name":"n","status":"up"}`,
		"unknown status": `{"schema":"dialtone.heartbeat.v1","id":"a","name":"n","status":"sleeping"}`,
		"not json":       `{`,
	}
	for name, doc := range cases {
		_, err := heartbeat.Decode([]byte(doc))
		if dialtone.CodeOf(err) != dialtone.CodeInvalidArgument {
			t.Errorf("%s: %v", name, err)
		}
	}
	_, err := heartbeat.Decode([]byte(`{"schema":"dialtone.heartbeat.v2",` + ok + `}`))
	if !errors.Is(err, heartbeat.ErrSchema) {
		t.Errorf("schema error not matchable: %v", err)
	}
	// A minor version with extra fields is read.
	h, err := heartbeat.Decode([]byte(`{"schema":"dialtone.heartbeat.v1.3","future":{"x":1},` + ok + `}`))
	if err != nil || h.ID != "a" {
		t.Fatalf("minor version: %v", err)
	}
}

func TestPublisherLifecycle(t *testing.T) {
	for _, b := range bustest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			urls := b.Start(t)
			nc := bustest.Connect(t, urls[0])
			sub, err := nc.SubscribeSync(heartbeat.Subject("svc"))
			if err != nil {
				t.Fatal(err)
			}
			var load atomic.Int64
			p := heartbeat.NewPublisher(nc, func() heartbeat.Heartbeat {
				return heartbeat.Heartbeat{ID: "i1", Name: "svc", Version: "1.0.0", Load: heartbeat.Load{InFlight: int(load.Load()), Capacity: 8}}
			}, heartbeat.WithInterval(20*time.Millisecond))
			if err := p.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			next := func() *heartbeat.Heartbeat {
				t.Helper()
				m, err := sub.NextMsg(5 * time.Second)
				if err != nil {
					t.Fatal(err)
				}
				h, err := heartbeat.Decode(m.Data)
				if err != nil {
					t.Fatal(err)
				}
				return h
			}
			var last uint64
			var prevAt time.Time
			for i := range 5 {
				h := next()
				at := time.Now()
				if h.Seq != last+1 || h.Status != heartbeat.StatusUp || h.IntervalMS != 20 {
					t.Fatalf("beat %d: %+v", i, h)
				}
				if i > 0 && at.Sub(prevAt) > time.Second {
					t.Fatalf("beats %v apart", at.Sub(prevAt))
				}
				last, prevAt = h.Seq, at
				load.Store(int64(i))
			}
			// Beat now, by request.
			m, err := nc.Request(heartbeat.BeatSubject, nil, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if h, err := heartbeat.Decode(m.Data); err != nil || h.ID != "i1" || h.Seq <= last {
				t.Fatalf("beat reply %+v %v", h, err)
			}
			if err := p.SetStatus(context.Background(), heartbeat.StatusDraining); err != nil {
				t.Fatal(err)
			}
			if err := p.Stop(context.Background()); err != nil {
				t.Fatal(err)
			}
			var statuses []string
			for {
				h := next()
				if h.Seq <= last {
					t.Fatalf("seq went back: %d after %d", h.Seq, last)
				}
				last = h.Seq
				if len(statuses) == 0 || statuses[len(statuses)-1] != string(h.Status) {
					statuses = append(statuses, string(h.Status))
				}
				if h.Status == heartbeat.StatusStopped {
					break
				}
			}
			if got := strings.Join(statuses, ","); got != "up,draining,stopped" && got != "draining,stopped" {
				t.Fatalf("statuses %s", got)
			}
			// Nothing after stopped: the stopped beat was flushed after the loop ended.
			if err := nc.Flush(); err != nil {
				t.Fatal(err)
			}
			if m, err := sub.NextMsg(50 * time.Millisecond); err == nil {
				t.Fatalf("heartbeat after stopped: %s", m.Data)
			}
			if _, err := nc.Request(heartbeat.BeatSubject, nil, 100*time.Millisecond); err == nil {
				t.Fatal("stopped publisher answers beat requests")
			}
		})
	}
}

func ExampleDecode() {
	doc := []byte(`{"schema":"dialtone.heartbeat.v1","id":"Zx1","name":"greeter","version":"1.2.0",
		"inbox":"_DT.greeter.Zx1","seq":7,"status":"draining","load":{"in_flight":2,"capacity":64},"interval_ms":1000}`)
	h, err := heartbeat.Decode(doc)
	if err != nil {
		panic(err)
	}
	fmt.Println(h.Name, h.Version, h.Status, h.Seq, h.Interval(), h.Load.InFlight)
	// Output: greeter 1.2.0 draining 7 1s 2
}

func ExamplePublisher() {
	url, shutdown := bustest.Serve()
	defer shutdown()
	nc, err := nats.Connect(url)
	if err != nil {
		panic(err)
	}
	defer nc.Close()

	sub, err := nc.SubscribeSync(heartbeat.Subject("greeter"))
	if err != nil {
		panic(err)
	}
	p := heartbeat.NewPublisher(nc, func() heartbeat.Heartbeat {
		return heartbeat.Heartbeat{ID: "instance-1", Name: "greeter", Version: "1.0.0"}
	})
	ctx := context.Background()
	if err := p.Start(ctx); err != nil { // first "up" heartbeat
		panic(err)
	}
	if err := p.Stop(ctx); err != nil { // final "stopped" heartbeat
		panic(err)
	}
	for range 2 {
		m, err := sub.NextMsg(time.Second)
		if err != nil {
			panic(err)
		}
		h, _ := heartbeat.Decode(m.Data)
		fmt.Println(h.Seq, h.Status, h.Interval())
	}
	// Output:
	// 1 up 1s
	// 2 stopped 1s
}
