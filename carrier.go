package dialtone

import (
	"strings"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/propagation"
)

// HeaderCarrier adapts a NATS header block to propagation.TextMapCarrier, so the
// W3C trace context (traceparent, tracestate) and baggage travel with a request:
//
//	prop.Inject(ctx, dialtone.HeaderCarrier(msg.Header))
//	ctx = prop.Extract(ctx, dialtone.HeaderCarrier(msg.Header))
//
// Inject writes into the map, so the header must not be nil.
type HeaderCarrier nats.Header

var _ propagation.TextMapCarrier = HeaderCarrier(nil)

// Get returns the first value for key. NATS headers are case sensitive; when key is
// not present exactly, a key that differs only in case is used.
func (c HeaderCarrier) Get(key string) string {
	if v, ok := c[key]; ok {
		if len(v) == 0 {
			return ""
		}
		return v[0]
	}
	for k, v := range c {
		if len(v) > 0 && len(k) == len(key) && strings.EqualFold(k, key) {
			return v[0]
		}
	}
	return ""
}

// Set replaces the values of key with value.
func (c HeaderCarrier) Set(key, value string) {
	c[key] = []string{value}
}

// Keys lists the header names.
func (c HeaderCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}
