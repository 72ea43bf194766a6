// Package callbench measures what a Dialtone call costs against what a nats.go
// user writes by hand, the same way in one process (rpc's benchmarks) and across
// processes (cmd/callbench). Four kinds of call go to four responders on the same
// bus, with the same request and reply bytes:
//
//	raw            nc.Request of the encoded request; a nats.go responder answers fixed bytes
//	nats-json      encoding/json both ways around nc.Request, and a nats.go responder that decodes and encodes
//	typed          rpc.Call with default settings to a service.Handle endpoint with default settings
//	               (server-side validation, JSON, tracing and metrics with the global, no-op, providers)
//	typed-metrics  typed with an OpenTelemetry SDK MeterProvider recording on both ends
//
// Kinds are compared interleaved: one call of each kind per round, in a new random
// order each round, so that load from elsewhere on a shared machine hits them
// alike.
package callbench

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/metric"

	"github.com/dialtone-dev/dialtone/rpc"
	"github.com/dialtone-dev/dialtone/service"
)

// Request and Reply are the messages of every kind of call.
type Request struct {
	Name string `json:"name" validate:"required,max=64"`
	Age  int    `json:"age" validate:"lte=150"`
}

type Reply struct {
	Greeting string `json:"greeting"`
	From     string `json:"from"`
}

var (
	request   = Request{Name: "Ada Lovelace", Age: 36}
	reply     = Reply{Greeting: "hello Ada Lovelace", From: "bench"}
	reqBytes  = mustJSON(request)
	replyData = mustJSON(reply)
)

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// Subjects and endpoints of the responders.
const (
	RawSubject  = "bench.raw"
	JSONSubject = "bench.json"
)

var (
	typedEP   = rpc.NewEndpoint[Request, Reply](rpc.Spec{Service: "bench", Name: "Hello"})
	meteredEP = rpc.NewEndpoint[Request, Reply](rpc.Spec{Service: "benchm", Name: "Hello"})
)

// Serve starts the responders of every kind, each on its own connection from
// connect, as separate programs would have. mp is the MeterProvider of the
// typed-metrics service. stop stops them and closes the connections.
func Serve(connect func() (*nats.Conn, error), mp metric.MeterProvider) (stop func(), err error) {
	var conns []*nats.Conn
	var svcs []*service.Service
	stop = func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second) // the bus may be gone already
		defer cancel()
		for _, s := range svcs {
			_ = s.Stop(ctx)
		}
		for _, nc := range conns {
			nc.Close()
		}
	}
	conn := func() (*nats.Conn, error) {
		nc, err := connect()
		if err == nil {
			conns = append(conns, nc)
		}
		return nc, err
	}
	fail := func(err error) (func(), error) { stop(); return nil, err }

	nc, err := conn()
	if err != nil {
		return fail(err)
	}
	if _, err := nc.QueueSubscribe(RawSubject, "bench", func(m *nats.Msg) { _ = m.Respond(replyData) }); err != nil {
		return fail(err)
	}
	if err := nc.Flush(); err != nil {
		return fail(err)
	}
	if nc, err = conn(); err != nil {
		return fail(err)
	}
	// What a nats.go user writes by hand: decode, answer, encode.
	if _, err := nc.QueueSubscribe(JSONSubject, "bench", func(m *nats.Msg) {
		var req Request
		if json.Unmarshal(m.Data, &req) != nil {
			return
		}
		data, err := json.Marshal(&Reply{Greeting: reply.Greeting, From: reply.From})
		if err == nil {
			_ = m.Respond(data)
		}
	}); err != nil {
		return fail(err)
	}
	if err := nc.Flush(); err != nil {
		return fail(err)
	}
	for _, name := range []string{"bench", "benchm"} {
		if nc, err = conn(); err != nil {
			return fail(err)
		}
		opts := []service.Option{service.WithLogger(slog.New(slog.DiscardHandler))}
		if name == "benchm" {
			opts = append(opts, service.WithMeterProvider(mp))
		}
		s, err := service.New(nc, service.Config{Name: name, Version: "1.0.0"}, opts...)
		if err != nil {
			return fail(err)
		}
		if err := service.Handle(s, "Hello", func(ctx context.Context, req *Request) (*Reply, error) {
			return &Reply{Greeting: reply.Greeting, From: reply.From}, nil
		}); err != nil {
			return fail(err)
		}
		if err := s.Start(context.Background()); err != nil {
			return fail(err)
		}
		svcs = append(svcs, s)
	}
	// The floor of a service: no interceptors, no codec, a raw handler answering
	// the fixed reply. What is left is the worker pool, the endpoint's bookkeeping
	// and nats.go's parsing of the Dialtone-Timeout header (svc-floor).
	if nc, err = conn(); err != nil {
		return fail(err)
	}
	s, err := service.New(nc, service.Config{Name: "benchf", Version: "1.0.0"},
		service.WithLogger(slog.New(slog.DiscardHandler)), service.WithOuterInterceptors(), service.WithInnerInterceptors())
	if err != nil {
		return fail(err)
	}
	svcs = append(svcs, s)
	if err := s.AddEndpoint("Hello", service.HandlerFunc(func(ctx context.Context, req *service.Request) (*service.Response, error) {
		return &service.Response{Data: replyData}, nil
	})); err != nil {
		return fail(err)
	}
	if err := s.Start(context.Background()); err != nil {
		return fail(err)
	}
	return stop, nil
}

// Kind is one kind of call.
type Kind struct {
	Name string
	Call func() error
}

// Kinds returns the kinds of call over nc; mp is the MeterProvider of the
// typed-metrics client.
func Kinds(nc *nats.Conn, mp metric.MeterProvider) []Kind {
	ctx := context.Background()
	c := rpc.NewClient(nc)
	cm := rpc.NewClient(nc, rpc.WithMeterProvider(mp))
	return []Kind{
		{"raw", func() error {
			_, err := nc.Request(RawSubject, reqBytes, 5*time.Second)
			return err
		}},
		{"nats-json", func() error {
			data, err := json.Marshal(&request)
			if err != nil {
				return err
			}
			m, err := nc.Request(JSONSubject, data, 5*time.Second)
			if err != nil {
				return err
			}
			var r Reply
			return json.Unmarshal(m.Data, &r)
		}},
		{"typed", func() error {
			_, err := rpc.Call(ctx, c, typedEP, &request)
			return err
		}},
		{"typed-metrics", func() error {
			_, err := rpc.Call(ctx, cm, meteredEP, &request)
			return err
		}},
	}
}

// DetailKinds returns more kinds that split typed's cost: sdk-client is rpc.Call
// to the hand-written responder, sdk-service the hand-written caller to the
// typed service (each against nats-json), raw-timeout is raw with the
// Dialtone-Timeout header every typed call carries (against raw: what the header
// costs the caller, the bus and nats.go's header parsing in the responder), and
// svc-floor is raw-timeout's request to a service with no interceptors and a raw
// handler answering the fixed reply (against raw-timeout: what the service's
// worker pool and bookkeeping cost, with no codec, validation or telemetry).
// raw-service is raw's request (the same bytes, no header) to typed's service:
// against typed, what the typed caller and its header cost when the service is
// the same.
func DetailKinds(nc *nats.Conn) []Kind {
	ctx := context.Background()
	c := rpc.NewClient(nc)
	toJSON := rpc.NewEndpoint[Request, Reply](rpc.Spec{Service: "bench", Name: "json", Subject: JSONSubject})
	timeoutMsg := func() *nats.Msg {
		return &nats.Msg{Subject: RawSubject, Data: reqBytes, Header: nats.Header{"Dialtone-Timeout": []string{"5000"}}}
	}
	return []Kind{
		{"raw-timeout", func() error {
			_, err := nc.RequestMsg(timeoutMsg(), 5*time.Second)
			return err
		}},
		{"svc-floor", func() error {
			m := timeoutMsg()
			m.Subject = "benchf.Hello"
			_, err := nc.RequestMsg(m, 5*time.Second)
			return err
		}},
		{"raw-service", func() error {
			_, err := nc.Request("bench.Hello", reqBytes, 5*time.Second)
			return err
		}},
		{"sdk-client", func() error {
			_, err := rpc.Call(ctx, c, toJSON, &request)
			return err
		}},
		{"sdk-service", func() error {
			data, err := json.Marshal(&request)
			if err != nil {
				return err
			}
			m, err := nc.Request("bench.Hello", data, 5*time.Second)
			if err != nil {
				return err
			}
			var r Reply
			return json.Unmarshal(m.Data, &r)
		}},
	}
}

// Latency is the outcome of Interleaved for one kind.
type Latency struct {
	Name     string
	P50, P99 time.Duration
}

// Interleaved makes rounds rounds of one call of each kind, in a new random order
// each round, after warm calls of each, and returns each kind's percentiles.
func Interleaved(kinds []Kind, rounds, warm int) ([]Latency, error) {
	for _, k := range kinds {
		for range warm {
			if err := k.Call(); err != nil {
				return nil, errors.Join(errors.New(k.Name), err)
			}
		}
	}
	lat := make([][]time.Duration, len(kinds))
	for i := range lat {
		lat[i] = make([]time.Duration, 0, rounds)
	}
	order := make([]int, len(kinds))
	for i := range order {
		order[i] = i
	}
	for range rounds {
		rand.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, k := range order {
			t0 := time.Now()
			if err := kinds[k].Call(); err != nil {
				return nil, errors.Join(errors.New(kinds[k].Name), err)
			}
			lat[k] = append(lat[k], time.Since(t0))
		}
	}
	out := make([]Latency, len(kinds))
	for i, l := range lat {
		slices.Sort(l)
		out[i] = Latency{Name: kinds[i].Name, P50: l[len(l)/2], P99: l[len(l)*99/100]}
	}
	return out, nil
}

// Throughput alternates bursts of perRound calls of each kind from workers
// concurrent callers, rounds times, and returns each kind's calls per second.
func Throughput(kinds []Kind, workers, rounds, perRound int) ([]float64, error) {
	tput, _, err := ThroughputCPU(kinds, workers, rounds, perRound, nil)
	return tput, err
}

// ThroughputCPU is Throughput that also reads cpu() (CPU time used so far by
// whatever it measures, one value per process) around each burst, and returns
// each kind's CPU time per call, per process.
func ThroughputCPU(kinds []Kind, workers, rounds, perRound int, cpu func() []time.Duration) ([]float64, [][]time.Duration, error) {
	var mu sync.Mutex
	var firstErr error
	burst := func(call func() error) time.Duration {
		var wg sync.WaitGroup
		start := time.Now()
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range perRound / workers {
					if err := call(); err != nil {
						mu.Lock()
						firstErr = cmpErr(firstErr, err)
						mu.Unlock()
						return
					}
				}
			}()
		}
		wg.Wait()
		return time.Since(start)
	}
	for _, k := range kinds {
		burst(k.Call) // warm
	}
	took := make([]time.Duration, len(kinds))
	used := make([][]time.Duration, len(kinds))
	order := make([]int, len(kinds))
	for i := range order {
		order[i] = i
	}
	for range rounds {
		rand.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, k := range order {
			var before []time.Duration
			if cpu != nil {
				before = cpu()
			}
			took[k] += burst(kinds[k].Call)
			if cpu != nil {
				after := cpu()
				if used[k] == nil {
					used[k] = make([]time.Duration, len(after))
				}
				for p := range after {
					used[k][p] += after[p] - before[p]
				}
			}
		}
	}
	if firstErr != nil {
		return nil, nil, firstErr
	}
	calls := perRound / workers * workers * rounds
	out := make([]float64, len(kinds))
	for i, d := range took {
		out[i] = float64(calls) / d.Seconds()
		for p := range used[i] {
			used[i][p] /= time.Duration(calls)
		}
	}
	return out, used, nil
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}
