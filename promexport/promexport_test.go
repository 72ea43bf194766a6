package promexport_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/dialtone-dev/dialtone"
	"github.com/dialtone-dev/dialtone/internal/bustest"
	"github.com/dialtone-dev/dialtone/promexport"
	"github.com/dialtone-dev/dialtone/rpc"
	"github.com/dialtone-dev/dialtone/service"
)

type helloReq struct {
	Name string `json:"name" validate:"required"`
}

type helloResp struct {
	Message string `json:"message"`
}

// scrape fetches url and parses it with Prometheus' own text parser.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("parse %s: %v\n%s", url, err, body)
	}
	return fams
}

// point returns the metric of fam whose labels include want.
func point(fam *dto.MetricFamily, want map[string]string) *dto.Metric {
	if fam == nil {
		return nil
	}
	for _, m := range fam.GetMetric() {
		match := 0
		for _, l := range m.GetLabel() {
			if v, ok := want[l.GetName()]; ok && v == l.GetValue() {
				match++
			}
		}
		if match == len(want) {
			return m
		}
	}
	return nil
}

// A service and a client recording to one exporter: a scrape, parsed with
// Prometheus' parser, shows the counts and buckets of the calls made, by
// outcome, and the instance gauges.
func TestScrape(t *testing.T) {
	for _, b := range bustest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			url := b.Start(t)[0]
			mp, handler, err := promexport.New()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
			srv := httptest.NewServer(handler)
			t.Cleanup(srv.Close)

			svc, err := service.New(bustest.Connect(t, url), service.Config{Name: "greeter", Version: "1.0.0"}, service.WithMeterProvider(mp))
			if err != nil {
				t.Fatal(err)
			}
			if err := service.Handle(svc, "SayHello", func(ctx context.Context, r *helloReq) (*helloResp, error) {
				return &helloResp{Message: "hello " + r.Name}, nil
			}); err != nil {
				t.Fatal(err)
			}
			if err := svc.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = svc.Stop(context.Background()) })
			c := rpc.NewClient(bustest.Connect(t, url), rpc.WithMeterProvider(mp))
			ep := rpc.NewEndpoint[helloReq, helloResp](rpc.Spec{Service: "greeter", Name: "SayHello"})

			calls := func(ok, bad int) {
				for range ok {
					if _, err := rpc.Call(context.Background(), c, ep, &helloReq{Name: "x"}); err != nil {
						t.Fatal(err)
					}
				}
				for range bad {
					if _, err := rpc.Call(context.Background(), c, ep, &helloReq{}); dialtone.CodeOf(err) != dialtone.CodeInvalidArgument {
						t.Fatal(err)
					}
				}
			}
			check := func(ok, bad uint64) {
				t.Helper()
				fams := scrape(t, srv.URL)
				for _, name := range []string{"rpc_server_call_duration_seconds", "rpc_client_call_duration_seconds"} {
					for code, want := range map[string]uint64{"ok": ok, "invalid_argument": bad} {
						m := point(fams[name], map[string]string{"rpc_system": "dialtone", "rpc_service": "greeter",
							"rpc_method": "SayHello", "rpc_response_status_code": code, "dialtone_pattern": "balanced"})
						if m == nil {
							t.Fatalf("%s{%s}: no series; families: %v", name, code, keys(fams))
						}
						h := m.GetHistogram()
						if h.GetSampleCount() != want {
							t.Errorf("%s{%s} count = %d, want %d", name, code, h.GetSampleCount(), want)
						}
						// Buckets are cumulative: the last holds every call, and each
						// holds at least as many as the one before.
						bs := h.GetBucket()
						if len(bs) == 0 || bs[len(bs)-1].GetCumulativeCount() != want || h.GetSampleSum() <= 0 {
							t.Errorf("%s{%s} buckets %v, sum %v", name, code, bs, h.GetSampleSum())
						}
						for i := 1; i < len(bs); i++ {
							if bs[i].GetCumulativeCount() < bs[i-1].GetCumulativeCount() {
								t.Errorf("%s{%s} buckets not cumulative: %v", name, code, bs)
							}
						}
					}
				}
				inst := map[string]string{"rpc_service": "greeter", "dialtone_instance": svc.ID()}
				if m := point(fams["dialtone_service_capacity"], inst); m == nil || m.GetGauge().GetValue() != service.DefaultMaxConcurrent {
					t.Errorf("capacity gauge %v", m)
				}
				if m := point(fams["dialtone_service_in_flight"], inst); m == nil || m.GetGauge().GetValue() != 0 {
					t.Errorf("in flight gauge %v", m)
				}
			}
			calls(3, 1)
			check(3, 1)
			calls(2, 2) // the counts move with the calls
			check(5, 3)
		})
	}
}

func keys(m map[string]*dto.MetricFamily) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
