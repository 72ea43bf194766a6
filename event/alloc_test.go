package event_test

import (
	"context"
	"runtime/debug"
	"testing"

	"github.com/dialtone-dev/dialtone/event"
)

// TestPublishAllocs checks that a typed publish allocates nothing of its own:
// with a codec that allocates nothing, nothing at all; with JSON, only the
// payload json.Marshal returns.
func TestPublishAllocs(t *testing.T) {
	if raceEnabled() {
		t.Skip("-race instruments allocations; CI runs this test without it")
	}
	nc := bustestConn(t)
	ctx := context.Background()
	raw := []byte(`{"id":"o-1","total":4200}`)
	bytesTopic := event.NewTopic[[]byte](event.Spec{Name: "Bytes", Subject: "orders.Bytes"})
	bytesPub := event.NewPublisher(nc, event.WithCodec(bytesCodec{}))
	jsonPub := event.NewPublisher(nc)
	ev := &OrderPlaced{ID: "o-1", Total: 4200}
	for _, c := range []struct {
		name    string
		publish func() error
		want    float64
	}{
		{"pass-through codec", func() error { return event.Publish(ctx, bytesPub, bytesTopic, &raw) }, 0},
		{"JSON", func() error { return event.Publish(ctx, jsonPub, orderPlaced, ev) }, 1},
	} {
		if err := c.publish(); err != nil {
			t.Fatal(err)
		}
		if got := testing.AllocsPerRun(1000, func() { _ = c.publish() }); got != c.want {
			t.Errorf("%s: %v allocations per publish, want %v", c.name, got, c.want)
		}
	}
}

// raceEnabled reports whether the test binary was built with -race.
func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, st := range bi.Settings {
		if st.Key == "-race" {
			return st.Value == "true"
		}
	}
	return false
}

// TestPublishAllocsWithoutInterceptors: a Publisher with no interceptors at all
// (WithOuterInterceptors()) takes the direct path too, and allocates nothing.
func TestPublishAllocsWithoutInterceptors(t *testing.T) {
	if raceEnabled() {
		t.Skip("-race instruments allocations; CI runs this test without it")
	}
	nc := bustestConn(t)
	ctx := context.Background()
	raw := []byte(`{"id":"o-1","total":4200}`)
	topic := event.NewTopic[[]byte](event.Spec{Name: "Bytes", Subject: "orders.Bytes"})
	pub := event.NewPublisher(nc, event.WithCodec(bytesCodec{}), event.WithOuterInterceptors())
	if err := event.Publish(ctx, pub, topic, &raw); err != nil {
		t.Fatal(err)
	}
	if got := testing.AllocsPerRun(1000, func() { _ = event.Publish(ctx, pub, topic, &raw) }); got != 0 {
		t.Errorf("%v allocations per publish, want 0", got)
	}
}
