package fleet_test

import (
	"encoding/json"
	"fmt"

	"github.com/dialtone-dev/dialtone/cmd/dialtone/internal/fleet"
)

// The `data` of an ADR-32 endpoint's stats may carry latency percentiles; these
// are the shapes the command reads.
func ExampleParsePercentiles() {
	for _, data := range []string{
		`{"p50":412000,"p90":690000,"p99":1200000}`, // nanoseconds, as ADR-32's own durations
		`{"latency":{"p50":"412µs","p99":"1.2ms"}}`, // Go durations in a "latency" object
		`{"p50_ms":0.412,"p99_ms":1.2}`,             // a unit in the key
	} {
		p := fleet.ParsePercentiles(json.RawMessage(data))
		fmt.Println(p.P50, p.P99)
	}
	// Output:
	// 412µs 1.2ms
	// 412µs 1.2ms
	// 412µs 1.2ms
}
