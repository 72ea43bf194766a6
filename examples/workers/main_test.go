package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.opentelemetry.io/otel"

	"github.com/dialtone-dev/dialtone/internal/bustest"
	"github.com/dialtone-dev/dialtone/promexport"
)

func TestWorkersShareTheLoad(t *testing.T) {
	var out bytes.Buffer
	if err := run(t.Context(), bustest.Busd(t), &out, otel.GetMeterProvider()); err != nil {
		t.Fatal(err)
	}
	t.Logf("output:\n%s", out.String())
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	head := []string{
		`3 instances of squarer are serving in queue group "squarer"`,
		"60 jobs done, sum of squares 73810; the work spread like this:",
	}
	if len(lines) != len(head)+workers || lines[0] != head[0] || lines[1] != head[1] {
		t.Fatalf("output:\n%s", out.String())
	}
	// Every worker got a share (the queue group picks at random: the chance that one
	// of 3 gets none of 60 jobs is below 1e-10), and the shares add up.
	row := regexp.MustCompile(`^  worker-(\d) +(\d+) (#+)$`)
	total := 0
	for i, line := range lines[2:] {
		m := row.FindStringSubmatch(line)
		if m == nil || m[1] != strconv.Itoa(i+1) {
			t.Fatalf("line %q, want worker-%d's share", line, i+1)
		}
		n, _ := strconv.Atoi(m[2])
		if n == 0 || len(m[3]) != n {
			t.Errorf("line %q: bar does not match the count", line)
		}
		total += n
	}
	if total != jobs {
		t.Errorf("shares add up to %d, want %d", total, jobs)
	}
}

// With -metrics the example serves its metrics for Prometheus: a scrape, parsed
// with Prometheus' parser, counts the 60 calls on both ends.
func TestWorkersMetrics(t *testing.T) {
	mp, handler, err := promexport.New()
	if err != nil {
		t.Fatal(err)
	}
	defer mp.Shutdown(context.Background())
	srv := httptest.NewServer(handler)
	defer srv.Close()
	var out bytes.Buffer
	if err := run(t.Context(), bustest.Busd(t), &out, mp); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"rpc_server_call_duration_seconds", "rpc_client_call_duration_seconds"} {
		var count uint64
		for _, m := range fams[name].GetMetric() {
			if label(m, "rpc_service") == "squarer" && label(m, "rpc_method") == "Square" && label(m, "rpc_response_status_code") == "ok" {
				count += m.GetHistogram().GetSampleCount()
				bs := m.GetHistogram().GetBucket()
				if len(bs) == 0 || bs[len(bs)-1].GetCumulativeCount() != m.GetHistogram().GetSampleCount() {
					t.Errorf("%s buckets %v", name, bs)
				}
			}
		}
		if count != jobs {
			t.Errorf("%s counts %d ok calls, want %d", name, count, jobs)
		}
	}
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}
