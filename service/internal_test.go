package service

import (
	"testing"

	"github.com/nats-io/nats.go"
)

func TestThousands(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1048576: "1,048,576", 2097152: "2,097,152", -12345: "-12,345"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestHeaderSize(t *testing.T) {
	if headerSize(nil) != 0 {
		t.Fatal("nil header has a size")
	}
	// "NATS/1.0\r\nA: b\r\n\r\n"
	if got := headerSize(nats.Header{"A": {"b"}}); got != 18 {
		t.Fatalf("headerSize = %d, want 18", got)
	}
}
