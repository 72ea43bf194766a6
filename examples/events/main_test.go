package main

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/dialtone-dev/dialtone/internal/bustest"
)

func TestEachOrderHandledOncePerService(t *testing.T) {
	for _, b := range bustest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			var out bytes.Buffer
			urls := b.Start(t)
			if err := run(t.Context(), strings.Join(urls, ","), &out); err != nil {
				t.Fatalf("%v\noutput:\n%s", err, out.String())
			}
			t.Logf("output:\n%s", out.String())
			lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
			wantHead := []string{
				"orders publishes OrderPlaced; billing (billing-1, billing-2) and mail (mail-1) handle it once per service",
				"step 1: started billing-3, drained billing-1",
				"step 2: started mail-2, drained mail-1",
				"step 3: started billing-4, drained billing-2",
			}
			if len(lines) != len(wantHead)+3 || strings.Join(lines[:4], "\n") != strings.Join(wantHead, "\n") {
				t.Fatalf("output:\n%s", out.String())
			}
			m := regexp.MustCompile(`^(\d+) orders published$`).FindStringSubmatch(lines[4])
			if m == nil {
				t.Fatalf("line %q", lines[4])
			}
			n, _ := strconv.Atoi(m[1])
			if n < 4*between {
				t.Errorf("%d orders published, want at least %d", n, 4*between)
			}
			for i, svc := range []struct{ name, instances string }{
				{"billing", `billing-1 (\d+) billing-2 (\d+) billing-3 (\d+) billing-4 (\d+)`},
				{"mail", `mail-1 (\d+) mail-2 (\d+)`},
			} {
				re := regexp.MustCompile(`^` + svc.name + ` +handled ` + m[1] + ` once, missed 0, twice 0: ` + svc.instances + `$`)
				sm := re.FindStringSubmatch(lines[5+i])
				if sm == nil {
					t.Errorf("line %q: want every order handled once by %s, on every instance", lines[5+i], svc.name)
					continue
				}
				sum := 0
				for _, c := range sm[1:] {
					k, _ := strconv.Atoi(c)
					sum += k
				}
				if sum != n {
					t.Errorf("%s: instances handled %d orders in all, want %d", svc.name, sum, n)
				}
			}
		})
	}
}
