package bustest

import (
	"fmt"
	"strings"
	"testing"
)

// fatalRecorder is a testing.TB whose Fatalf only records, so a test can look at
// what Backends does with a bad DIALTONE_BACKENDS.
type fatalRecorder struct {
	testing.TB
	fatal string
}

func (r *fatalRecorder) Helper()                           {}
func (r *fatalRecorder) Fatalf(format string, args ...any) { r.fatal = fmt.Sprintf(format, args...) }

func TestBackendsFromEnvironment(t *testing.T) {
	for _, tc := range []struct {
		env   string
		want  string // backend names, or the start of the failure
		fails bool
	}{
		{"busd", "busd", false},
		{" nats-cluster ", "nats-cluster", false},
		{"nats-cluster,busd", "busd nats-cluster", false},
		{"", "DIALTONE_BACKENDS=\"\" names no backend", true},
		{" , ", "DIALTONE_BACKENDS=\" , \" names no backend", true},
		{"busd,nats", "DIALTONE_BACKENDS=\"busd,nats\": unknown backend \"nats\"", true},
	} {
		t.Run(tc.env, func(t *testing.T) {
			t.Setenv("DIALTONE_BACKENDS", tc.env)
			r := &fatalRecorder{TB: t}
			got := Backends(r)
			if tc.fails {
				if !strings.Contains(r.fatal, tc.want) || !strings.Contains(r.fatal, "known: busd, nats-cluster") {
					t.Fatalf("failure %q, want it to say %q and list the backends", r.fatal, tc.want)
				}
				return
			}
			var names []string
			for _, b := range got {
				names = append(names, b.Name)
			}
			if r.fatal != "" || strings.Join(names, " ") != tc.want {
				t.Fatalf("Backends = %v (failure %q), want %s", names, r.fatal, tc.want)
			}
		})
	}
}
