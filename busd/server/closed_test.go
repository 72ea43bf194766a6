package server

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCapString(t *testing.T) {
	for _, in := range []string{"", "short", strings.Repeat("a", closedStrMax), strings.Repeat("a", closedStrMax+1), strings.Repeat("é", closedStrMax)} {
		got := capString(in)
		if len(got) > closedStrMax || !utf8.ValidString(got) || !strings.HasPrefix(in, got) {
			t.Errorf("capString(%d bytes) = %d bytes, valid UTF-8 %v", len(in), len(got), utf8.ValidString(got))
		}
		if len(in) <= closedStrMax && got != in {
			t.Errorf("capString cut a string within the cap")
		}
	}
}

// TestClosedRecordIsCompact: a closed connection is remembered by its /connz
// fields with strings capped, whatever its CONNECT carried.
func TestClosedRecordIsCompact(t *testing.T) {
	s := runServer(t, nil)
	rc := dial(t, s)
	name := strings.Repeat("n", 3600)
	rc.send("CONNECT {\"verbose\":false,\"name\":\"" + name + "\",\"lang\":\"go\",\"version\":\"" + strings.Repeat("v", 300) + "\"}\r\nSUB a 1\r\nSUB b 2\r\nPUB a 2\r\nhi\r\n")
	rc.expect("MSG a 1 2", "hi")
	rc.conn.Close()
	waitNoClients(t, s)
	cz := s.connz(&connzOptions{state: connClosed, limit: 10, sort: "cid", subs: true})
	if len(cz.Conns) != 1 {
		t.Fatalf("%d closed connections", len(cz.Conns))
	}
	c := cz.Conns[0]
	if c.Name != name[:closedStrMax] || len(c.Version) != closedStrMax || c.Lang != "go" {
		t.Errorf("name %d bytes, version %d bytes, lang %q; want both cut to %d", len(c.Name), len(c.Version), c.Lang, closedStrMax)
	}
	if c.NumSubs != 2 || c.InMsgs != 1 || c.OutMsgs != 1 || c.Reason != "Client Closed" || c.Subs != nil {
		t.Errorf("record %+v", c)
	}
}
