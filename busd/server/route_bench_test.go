package server

import (
	"bytes"
	"strings"
	"testing"
)

// routeTokenWidth is the width of the unique token benchRoute writes into
// every reply subject: wide enough never to wrap within a benchmark run.
const routeTokenWidth = 12

// benchRoute parses batches of the messages in unit, in which every "#" run of
// routeTokenWidth is replaced by a fresh decimal token per copy of unit, so that
// no reply subject is ever published twice, as with nats.go's request inboxes.
// subs are SUB lines for one subscriber connection each.
func benchRoute(b *testing.B, unit string, subs ...string) {
	s, err := New(&Options{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, sub := range subs {
		benchClient(b, s, "CONNECT {\"verbose\":false}\r\n"+sub)
	}
	pub, _ := benchClient(b, s, "CONNECT {\"verbose\":false,\"pedantic\":false}\r\n")
	hole := strings.Repeat("#", routeTokenWidth)
	var holes []int
	for i := 0; ; {
		j := strings.Index(unit[i:], hole)
		if j < 0 {
			break
		}
		holes = append(holes, i+j)
		i += j + len(hole)
	}
	per := max(1, 32*1024/len(unit))
	buf := bytes.Repeat([]byte(unit), per)
	msgs := per * strings.Count(unit, "\r\n") / 2
	token := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += msgs {
		for u := range per {
			token++
			for _, h := range holes {
				d := buf[u*len(unit)+h : u*len(unit)+h+routeTokenWidth]
				for k, v := len(d)-1, token; k >= 0; k-- {
					d[k] = byte('0' + v%10)
					v /= 10
				}
			}
		}
		if err := pub.ps.parse(buf, pub); err != nil {
			b.Fatal(err)
		}
		pub.flushPCD()
	}
}

// BenchmarkRoute measures routing request/reply traffic through the client
// path (parse, match, deliver), per message. replies publishes only replies,
// each on a fresh subject under the requester's one wildcard inbox
// subscription; reqrep alternates a request on a hot subject served by a
// queue group with its reply.
func BenchmarkRoute(b *testing.B) {
	const payload = "0123456789abcdef\r\n"
	b.Run("replies", func(b *testing.B) {
		benchRoute(b, "PUB _INBOX.abc.############ 16\r\n"+payload,
			"SUB _INBOX.abc.* 1\r\n")
	})
	b.Run("reqrep", func(b *testing.B) {
		benchRoute(b, "PUB greeter.SayHello _INBOX.abc.############ 16\r\n"+payload+
			"PUB _INBOX.abc.############ 16\r\n"+payload,
			"SUB _INBOX.abc.* 1\r\n", "SUB greeter.SayHello svc 1\r\n", "SUB greeter.SayHello svc 1\r\n")
	})
}
