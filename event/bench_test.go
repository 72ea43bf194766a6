package event_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/dialtone-dev/dialtone"
	"github.com/dialtone-dev/dialtone/event"
	"github.com/dialtone-dev/dialtone/internal/bustest"
	"github.com/dialtone-dev/dialtone/service"
)

// The benchmarks compare a typed event with raw nats.go doing the same job, in
// rounds that alternate between the variants, and report each variant's median
// throughput and the ratio typed/raw (the targets: publish >= 0.90,
// end-to-end delivery >= 0.85). They run on an in-process busd, or on the server
// at $DIALTONE_BENCH_URL, so the server can be pinned to another CPU:
//
//	go test -c -o /tmp/event.test ./event
//	taskset -c 1 /tmp/busd -a 127.0.0.1 -p 64222 &
//	DIALTONE_BENCH_URL=nats://127.0.0.1:64222 taskset -c 0 /tmp/event.test \
//		-test.run '^$' -test.bench . -test.benchtime 1x
//
// Variants:
//
//	raw      nc.Publish of the bytes the typed publish sends (encoded once, up
//	         front); a nats.go queue subscription that counts
//	json     what a hand-written producer and consumer do: json.Marshal then
//	         nc.Publish; json.Unmarshal in the queue subscription's callback
//	typed    event.Publish; event.Subscribe on a service (decode, validation,
//	         worker pool, concurrency limit, stats)
//	bytes    the typed path with a codec that passes a []byte through: what the
//	         SDK costs besides encoding and decoding
//	ordered  (delivery) bytes with event.Ordered(): the handler runs on the
//	         subscription's own delivery goroutine, one event at a time, in arrival order
//	raw2     raw again: raw2/raw is the noise band of the run (an A/A ratio)

// benchOrder is an event of a realistic size (about 120 bytes of JSON).
type benchOrder struct {
	ID       string `json:"id" validate:"required"`
	Customer string `json:"customer"`
	Total    int64  `json:"total"`
	Currency string `json:"currency"`
	Items    int    `json:"items"`
	Express  bool   `json:"express"`
}

var (
	benchEvent = benchOrder{ID: "o-20261121-000042", Customer: "c-1234567", Total: 4200, Currency: "EUR", Items: 3, Express: true}
	benchTopic = event.NewTopic[benchOrder](event.Spec{Subject: "bench.OrderPlaced"})
)

// bytesCodec passes a *[]byte through, so the "bytes" variants measure the SDK
// without the cost of an encoding.
type bytesCodec struct{}

func (bytesCodec) Name() string { return "application/json" } // the bytes are JSON: no Content-Type header

func (bytesCodec) Marshal(v any) ([]byte, error) { return *v.(*[]byte), nil }

func (bytesCodec) Unmarshal(data []byte, v any) error {
	*v.(*[]byte) = data
	return nil
}

const (
	benchRounds = 7       // rounds per variant, alternating
	benchMsgs   = 200_000 // events per round
)

func benchURL(b *testing.B) string {
	if u := os.Getenv("DIALTONE_BENCH_URL"); u != "" {
		return u
	}
	return bustest.Busd(b)
}

func benchConn(b *testing.B, url string) *nats.Conn {
	nc, err := nats.Connect(url, nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(nc.Close)
	return nc
}

// variant runs one round of n events and returns its throughput in events/s.
type variant struct {
	name string
	run  func(b *testing.B, n int) float64
}

// interleave runs every variant benchRounds times per b.N, alternating (and
// reversing the order every other round). For each variant it reports the
// median throughput (ev/s) and the median CPU time this process spent per event
// (cpu-ns/ev: on a shared machine, less disturbed by other processes than the
// wall clock), and for each variant after the first the ratios to the first:
// of throughput (x/raw) and of CPU cost, inverted so that, like throughput,
// above 1 is faster (x/raw-cpu).
func interleave(b *testing.B, vs []variant) {
	rates := make([][]float64, len(vs))
	cpus := make([][]float64, len(vs))
	for range b.N {
		for r := range benchRounds {
			for i := range vs {
				j := i
				if r%2 == 1 {
					j = len(vs) - 1 - i
				}
				c0 := cpuTime()
				rates[j] = append(rates[j], vs[j].run(b, benchMsgs))
				cpus[j] = append(cpus[j], float64(cpuTime()-c0)/benchMsgs)
			}
		}
	}
	med := make([]float64, len(vs))
	cpu := make([]float64, len(vs))
	for i, rs := range rates {
		slices.Sort(rs)
		slices.Sort(cpus[i])
		med[i], cpu[i] = rs[len(rs)/2], cpus[i][len(rs)/2]
		b.ReportMetric(med[i], vs[i].name+"-ev/s")
		b.ReportMetric(cpu[i], vs[i].name+"-cpu-ns/ev")
		b.Logf("%-6s median %10.0f ev/s (min %10.0f, max %10.0f), %6.0f CPU ns/event (min %6.0f, max %6.0f) over %d rounds",
			vs[i].name, med[i], rs[0], rs[len(rs)-1], cpu[i], cpus[i][0], cpus[i][len(rs)-1], len(rs))
	}
	for i := 1; i < len(vs); i++ {
		b.ReportMetric(med[i]/med[0], vs[i].name+"/"+vs[0].name)
		if cpu[i] > 0 {
			b.ReportMetric(cpu[0]/cpu[i], vs[i].name+"/"+vs[0].name+"-cpu")
		}
	}
	b.ReportMetric(0, "ns/op") // ns/op of a whole run means nothing here
}

// BenchmarkPublish measures how fast one producer publishes into its
// connection: n publishes and a flush (the server has them all).
func BenchmarkPublish(b *testing.B) {
	url := benchURL(b)
	raw := mustJSON(b, benchEvent)
	publishRound := func(b *testing.B, n int, publish func(nc *nats.Conn) error) float64 {
		nc := benchConn(b, url)
		start := time.Now()
		for range n {
			if err := publish(nc); err != nil {
				b.Fatal(err)
			}
		}
		if err := nc.FlushTimeout(time.Minute); err != nil {
			b.Fatal(err)
		}
		rate := float64(n) / time.Since(start).Seconds()
		nc.Close()
		return rate
	}
	interleave(b, []variant{
		{"raw", func(b *testing.B, n int) float64 {
			return publishRound(b, n, func(nc *nats.Conn) error { return nc.Publish("bench.OrderPlaced", raw) })
		}},
		{"json", func(b *testing.B, n int) float64 {
			return publishRound(b, n, func(nc *nats.Conn) error {
				data, err := json.Marshal(&benchEvent)
				if err != nil {
					return err
				}
				return nc.Publish("bench.OrderPlaced", data)
			})
		}},
		{"typed", func(b *testing.B, n int) float64 {
			var pub *event.Publisher
			ctx := context.Background()
			return publishRound(b, n, func(nc *nats.Conn) error {
				if pub == nil {
					pub = event.NewPublisher(nc)
				}
				return event.Publish(ctx, pub, benchTopic, &benchEvent)
			})
		}},
		{"bytes", func(b *testing.B, n int) float64 {
			var pub *event.Publisher
			ctx := context.Background()
			topic := event.NewTopic[[]byte](event.Spec{Name: "Bytes", Subject: "bench.OrderPlaced"})
			return publishRound(b, n, func(nc *nats.Conn) error {
				if pub == nil {
					pub = event.NewPublisher(nc, event.WithCodec(bytesCodec{}))
				}
				return event.Publish(ctx, pub, topic, &raw)
			})
		}},
		{"raw2", func(b *testing.B, n int) float64 {
			return publishRound(b, n, func(nc *nats.Conn) error { return nc.Publish("bench.OrderPlaced", raw) })
		}},
	})
}

// BenchmarkDelivery measures events handled per second end to end: one producer,
// one consuming instance on its own connection, from the first publish to the
// last event handled.
func BenchmarkDelivery(b *testing.B) {
	url := benchURL(b)
	raw := mustJSON(b, benchEvent)
	// round publishes n events with publish on a fresh connection and waits for
	// done, closed by the consumer at the nth event.
	round := func(b *testing.B, n int, done <-chan struct{}, publish func(nc *nats.Conn) error) float64 {
		nc := benchConn(b, url)
		start := time.Now()
		for range n {
			if err := publish(nc); err != nil {
				b.Fatal(err)
			}
		}
		select {
		case <-done:
		case <-time.After(2 * time.Minute):
			b.Fatal("not every event arrived (dropped as a slow consumer?)")
		}
		rate := float64(n) / time.Since(start).Seconds()
		nc.Close()
		return rate
	}
	counter := func(n int) (count func(), done chan struct{}) {
		var got atomic.Int64
		done = make(chan struct{})
		return func() {
			if got.Add(1) == int64(n) {
				close(done)
			}
		}, done
	}
	queueSub := func(b *testing.B, subject string, cb nats.MsgHandler) *nats.Conn {
		nc := benchConn(b, url)
		sub, err := nc.QueueSubscribe(subject, "bench", cb)
		if err != nil {
			b.Fatal(err)
		}
		if err := sub.SetPendingLimits(-1, -1); err != nil {
			b.Fatal(err)
		}
		if err := nc.Flush(); err != nil {
			b.Fatal(err)
		}
		return nc
	}
	var seq atomic.Int64
	typedRound := func(b *testing.B, n int, topic any, ev any, codec dialtone.Codec, opts ...event.SubscribeOption) float64 {
		switch t := topic.(type) {
		case event.Topic[benchOrder]:
			return typedDelivery(b, url, n, t, ev.(*benchOrder), codec, round, opts...)
		case event.Topic[[]byte]:
			return typedDelivery(b, url, n, t, ev.(*[]byte), codec, round, opts...)
		}
		panic("unknown topic type")
	}
	interleave(b, []variant{
		{"raw", func(b *testing.B, n int) float64 {
			count, done := counter(n)
			subject := fmt.Sprintf("bench.raw%d", seq.Add(1))
			sub := queueSub(b, subject, func(*nats.Msg) { count() })
			defer sub.Close()
			return round(b, n, done, func(nc *nats.Conn) error { return nc.Publish(subject, raw) })
		}},
		{"json", func(b *testing.B, n int) float64 {
			count, done := counter(n)
			subject := fmt.Sprintf("bench.json%d", seq.Add(1))
			sub := queueSub(b, subject, func(m *nats.Msg) {
				var ev benchOrder
				if err := json.Unmarshal(m.Data, &ev); err != nil {
					b.Error(err)
				}
				count()
			})
			defer sub.Close()
			return round(b, n, done, func(nc *nats.Conn) error {
				data, err := json.Marshal(&benchEvent)
				if err != nil {
					return err
				}
				return nc.Publish(subject, data)
			})
		}},
		{"typed", func(b *testing.B, n int) float64 {
			topic := event.NewTopic[benchOrder](event.Spec{Subject: fmt.Sprintf("bench.typed%d", seq.Add(1))})
			return typedRound(b, n, topic, &benchEvent, dialtone.JSON)
		}},
		{"bytes", func(b *testing.B, n int) float64 {
			topic := event.NewTopic[[]byte](event.Spec{Name: "Bytes", Subject: fmt.Sprintf("bench.bytes%d", seq.Add(1))})
			return typedRound(b, n, topic, &raw, bytesCodec{})
		}},
		{"ordered", func(b *testing.B, n int) float64 {
			topic := event.NewTopic[[]byte](event.Spec{Name: "Bytes", Subject: fmt.Sprintf("bench.ordered%d", seq.Add(1))})
			return typedRound(b, n, topic, &raw, bytesCodec{}, event.Ordered())
		}},
		{"raw2", func(b *testing.B, n int) float64 {
			count, done := counter(n)
			subject := fmt.Sprintf("bench.raw%d", seq.Add(1))
			sub := queueSub(b, subject, func(*nats.Msg) { count() })
			defer sub.Close()
			return round(b, n, done, func(nc *nats.Conn) error { return nc.Publish(subject, raw) })
		}},
	})
}

// typedDelivery is one round of the typed variants: a service subscribed to
// topic, n events of ev published.
func typedDelivery[T any](b *testing.B, url string, n int, topic event.Topic[T], ev *T, codec dialtone.Codec,
	round func(b *testing.B, n int, done <-chan struct{}, publish func(nc *nats.Conn) error) float64, opts ...event.SubscribeOption) float64 {
	var got atomic.Int64
	done := make(chan struct{})
	snc := benchConn(b, url)
	defer snc.Close()
	svc, err := service.New(snc, service.Config{Name: "bench", Version: "1.0.0"}, service.WithCodec(codec),
		service.WithQueueLength(n), service.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		b.Fatal(err)
	}
	if err := event.Subscribe(svc, topic, func(ctx context.Context, ev *T) error {
		if got.Add(1) == int64(n) {
			close(done)
		}
		return nil
	}, opts...); err != nil {
		b.Fatal(err)
	}
	if err := svc.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer svc.Stop(context.Background())
	var pub *event.Publisher
	ctx := context.Background()
	return round(b, n, done, func(nc *nats.Conn) error {
		if pub == nil {
			pub = event.NewPublisher(nc, event.WithCodec(codec))
		}
		return event.Publish(ctx, pub, topic, ev)
	})
}

func mustJSON(b *testing.B, v any) []byte {
	data, err := json.Marshal(v)
	if err != nil {
		b.Fatal(err)
	}
	return data
}
