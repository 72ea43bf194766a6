package server

import (
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// Service and stream imports, on busd and on nats-server with the same file.

// requestInfo decodes a request's Nats-Request-Info header.
func requestInfoOf(t testing.TB, m *nats.Msg) map[string]any {
	t.Helper()
	vals := m.Header.Values(requestInfoHeader)
	if len(vals) != 1 {
		t.Fatalf("%s headers: %q, want exactly one", requestInfoHeader, vals)
	}
	var ci map[string]any
	if err := json.Unmarshal([]byte(vals[0]), &ci); err != nil {
		t.Fatalf("%s: %v", requestInfoHeader, err)
	}
	return ci
}

func TestImportsServiceRequest(t *testing.T) {
	accBoth(t, accImports, func(t *testing.T, srv *accServer) {
		svc, cli := accConnect(t, srv, "svc"), accConnect(t, srv, "cli")
		reqs, err := svc.SubscribeSync("echo")
		if err != nil {
			t.Fatal(err)
		}
		accFlush(t, svc)
		type result struct {
			m   *nats.Msg
			err error
		}
		done := make(chan result, 1) // the goroutine never touches t
		go func() {
			m, err := cli.Request("echo", []byte("ping"), 5*time.Second)
			done <- result{m, err}
		}()
		req := accNext(t, reqs, "the request in SVC")
		if req.Subject != "echo" || !strings.HasPrefix(req.Reply, "_R_.") || string(req.Data) != "ping" {
			t.Fatalf("SVC got subject %q reply %q data %q", req.Subject, req.Reply, req.Data)
		}
		if ci := requestInfoOf(t, req); ci["acc"] != "CLI" || ci["user"] != nil {
			t.Fatalf("request info %v, want the account CLI and no user (share is off)", ci)
		}
		if err := req.Respond([]byte("pong")); err != nil {
			t.Fatal(err)
		}
		if r := <-done; r.err != nil || string(r.m.Data) != "pong" {
			t.Fatalf("reply %v, %v", r.m, r.err)
		}
	})
}

func TestImportsServiceRemapAndQueue(t *testing.T) {
	accBoth(t, accImports, func(t *testing.T, srv *accServer) {
		svc, svc2, cli := accConnect(t, srv, "svc"), accConnect(t, srv, "svc"), accConnect(t, srv, "cli")
		for i, nc := range []*nats.Conn{svc, svc2} {
			if _, err := nc.QueueSubscribe("wild.*", "q", func(m *nats.Msg) {
				_ = m.Respond([]byte(m.Subject + "@" + string(rune('0'+i))))
			}); err != nil {
				t.Fatal(err)
			}
		}
		accFlush(t, svc, svc2)
		seen := map[string]bool{}
		for range 40 {
			m, err := cli.Request("w.thing", nil, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(m.Data), "wild.thing@") {
				t.Fatalf("reply %q: the request should arrive as wild.thing", m.Data)
			}
			seen[string(m.Data)] = true
		}
		if len(seen) != 2 {
			t.Fatalf("replies from %v: both queue members should answer some", seen)
		}
		// The exporter's own subject is not the importer's: CLI has no wild.*.
		if _, err := cli.Request("wild.thing", nil, time.Second); !errors.Is(err, nats.ErrNoResponders) {
			t.Fatalf("CLI requesting SVC's subject directly: %v, want no responders", err)
		}
	})
}

func TestImportsResponseTypes(t *testing.T) {
	accBoth(t, accImports, func(t *testing.T, srv *accServer) {
		svc, cli := accConnect(t, srv, "svc"), accConnect(t, srv, "cli")
		for _, subj := range []string{"echo", "stream.svc", "chunk.svc"} {
			if _, err := svc.Subscribe(subj, func(m *nats.Msg) {
				for i := range 3 {
					_ = m.Respond([]byte{'0' + byte(i)})
				}
			}); err != nil {
				t.Fatal(err)
			}
		}
		accFlush(t, svc)
		for subj, want := range map[string]int{"echo": 1, "stream.svc": 3, "chunk.svc": 3} {
			inbox := nats.NewInbox()
			sub, err := cli.SubscribeSync(inbox)
			if err != nil {
				t.Fatal(err)
			}
			if err := cli.PublishRequest(subj, inbox, nil); err != nil {
				t.Fatal(err)
			}
			for i := range want {
				if m := accNext(t, sub, subj+" reply"); string(m.Data) != string(rune('0'+i)) {
					t.Fatalf("%s reply %d: %q", subj, i, m.Data)
				}
			}
			accNone(t, sub, subj+" after its replies")
		}
	})
}

// TestImportsReplyConfinement: a responder reaches the requester's reply
// subject, once, and nothing else of the requester's account.
func TestImportsReplyConfinement(t *testing.T) {
	accBoth(t, accImports, func(t *testing.T, srv *accServer) {
		svc, cli := accConnect(t, srv, "svc"), accConnect(t, srv, "cli")
		reqs, err := svc.SubscribeSync("echo")
		if err != nil {
			t.Fatal(err)
		}
		everything, err := cli.SubscribeSync(">")
		if err != nil {
			t.Fatal(err)
		}
		accFlush(t, svc, cli)
		inbox := "_INBOX.confined"
		if err := cli.PublishRequest("echo", inbox, []byte("q")); err != nil {
			t.Fatal(err)
		}
		accFlush(t, cli)
		if m := accNext(t, everything, "CLI's own request"); m.Subject != "echo" {
			t.Fatalf("CLI's > got %q first", m.Subject)
		}
		req := accNext(t, reqs, "request")
		// Subjects of CLI the responder might try: none is reachable.
		for _, subj := range []string{inbox, "echo", "_INBOX.other", "secret", req.Reply + ".x", "_R_.>"} {
			if strings.Contains(subj, ">") {
				continue
			}
			if err := svc.Publish(subj, []byte("sneak")); err != nil {
				t.Fatal(err)
			}
		}
		accFlush(t, svc)
		// The reply subject reaches the inbox, once.
		for range 2 {
			if err := svc.Publish(req.Reply, []byte("answer")); err != nil {
				t.Fatal(err)
			}
		}
		accFlush(t, svc)
		m := accNext(t, everything, "the answer")
		if m.Subject != inbox || string(m.Data) != "answer" {
			t.Fatalf("CLI got %q on %q, want the answer on %q", m.Data, m.Subject, inbox)
		}
		accNone(t, everything, "CLI after the answer")
	})
}

func TestImportsNoResponders(t *testing.T) {
	accBoth(t, accImports, func(t *testing.T, srv *accServer) {
		cli := accConnect(t, srv, "cli")
		if _, err := cli.Request("echo", nil, 5*time.Second); !errors.Is(err, nats.ErrNoResponders) {
			t.Fatalf("request through an import nobody serves: %v, want no responders", err)
		}
		// An account without the import has no responders either, even with a
		// responder in SVC.
		svc, other := accConnect(t, srv, "svc"), accConnect(t, srv, "other")
		if _, err := svc.Subscribe("echo", func(m *nats.Msg) { _ = m.Respond(nil) }); err != nil {
			t.Fatal(err)
		}
		accFlush(t, svc)
		if _, err := other.Request("echo", nil, 5*time.Second); !errors.Is(err, nats.ErrNoResponders) {
			t.Fatalf("request from an account without the import: %v", err)
		}
		if _, err := cli.Request("echo", nil, 5*time.Second); err != nil {
			t.Fatalf("request through the import: %v", err)
		}
	})
}

func TestImportsStreams(t *testing.T) {
	accBoth(t, accImports, func(t *testing.T, srv *accServer) {
		svc, cli, other := accConnect(t, srv, "svc"), accConnect(t, srv, "cli"), accConnect(t, srv, "other")
		prefixed, _ := cli.SubscribeSync("svc.events.>")
		bare, _ := cli.SubscribeSync("events.>")
		ticks, _ := cli.SubscribeSync("tick.*")
		otherAll, _ := other.SubscribeSync(">")
		svcEvents, _ := svc.SubscribeSync("events.>")
		accFlush(t, cli, other, svc)

		m := nats.NewMsg("events.created")
		m.Reply = "answer.here"
		m.Data = []byte("e1")
		m.Header.Set("X-Kind", "created")
		if err := svc.PublishMsg(m); err != nil {
			t.Fatal(err)
		}
		if err := svc.Publish("ticks.7", []byte("t7")); err != nil {
			t.Fatal(err)
		}
		accFlush(t, svc)
		got := accNext(t, prefixed, "prefixed stream")
		if got.Subject != "svc.events.created" || string(got.Data) != "e1" || got.Header.Get("X-Kind") != "created" || got.Reply != "answer.here" {
			t.Fatalf("CLI got %q reply %q header %v data %q", got.Subject, got.Reply, got.Header, got.Data)
		}
		if got := accNext(t, ticks, "remapped stream"); got.Subject != "tick.7" {
			t.Fatalf("tick on %q, want tick.7", got.Subject)
		}
		accNext(t, svcEvents, "SVC's own subscriber")
		accNone(t, bare, "CLI's events.> (the exporter's subject)")
		accNone(t, otherAll, "OTHER, which imports nothing")

		// The way back is closed: CLI publishing on either subject reaches no
		// one in SVC.
		for _, subj := range []string{"events.created", "svc.events.created"} {
			if err := cli.Publish(subj, []byte("back")); err != nil {
				t.Fatal(err)
			}
		}
		accFlush(t, cli)
		accNone(t, svcEvents, "SVC after CLI published")
		accNext(t, prefixed, "CLI's own svc.events publish") // its own account, its own subscriber
		accNext(t, bare, "CLI's own events publish")
	})
}

// TestImportsForgedRequestInfo: a requester cannot pass itself off as
// another account in Nats-Request-Info; with share the exporter learns who
// it is.
func TestImportsForgedRequestInfo(t *testing.T) {
	conf := strings.Replace(accImports, `{service: {account: SVC, subject: "echo"}}`, `{service: {account: SVC, subject: "echo"}, share: true}`, 1)
	accBoth(t, conf, func(t *testing.T, srv *accServer) {
		svc, cli := accConnect(t, srv, "svc"), accConnect(t, srv, "cli")
		reqs, _ := svc.SubscribeSync("echo")
		accFlush(t, svc)
		m := nats.NewMsg("echo")
		m.Header.Set(requestInfoHeader, `{"acc":"SYS","user":"sys"}`)
		m.Header.Set("X-Other", "kept")
		m.Reply = "_INBOX.forged"
		if err := cli.PublishMsg(m); err != nil {
			t.Fatal(err)
		}
		req := accNext(t, reqs, "request")
		ci := requestInfoOf(t, req)
		if ci["acc"] != "CLI" || ci["user"] != "cli" || ci["kind"] != "Client" {
			t.Fatalf("request info %v, want account CLI and user cli", ci)
		}
		if req.Header.Get("X-Other") != "kept" {
			t.Fatalf("headers %v: the requester's other headers should stay", req.Header)
		}
	})
}

// TestImportsRawRequest checks the bytes a responder sees on both servers.
func TestImportsRawRequest(t *testing.T) {
	hmsg := regexp.MustCompile(`^HMSG echo 1 (_R_\.[0-9A-Za-z]{6}\.[0-9A-Za-z]{6}) (\d+) (\d+)$`)
	accBoth(t, accImports, func(t *testing.T, srv *accServer) {
		rs, rc := accDial(t, srv, "svc", ""), accDial(t, srv, "cli", "")
		rs.send("SUB echo 1\r\n")
		rs.sync()
		rc.send("SUB reply 9\r\nPUB echo reply 2\r\nhi\r\n")
		rc.sync()
		l := rs.line()
		m := hmsg.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("responder got %q", l)
		}
		if got := rs.line(); got != "NATS/1.0" {
			t.Fatalf("header block starts %q", got)
		}
		if got := rs.line(); !regexp.MustCompile(`^Nats-Request-Info: \{"acc":"CLI"(,"rtt":\d+)?\}$`).MatchString(got) {
			t.Fatalf("header line %q", got)
		}
		rs.expect("", "hi")
		rs.send("PUB " + m[1] + " 3\r\nyes\r\n")
		rs.sync()
		rc.expect("MSG reply 9 3", "yes")
		rc.sync()
	})
}

// TestImportsConfigErrors: imports the exporter does not allow are refused
// by both servers at startup.
func TestImportsConfigErrors(t *testing.T) {
	for name, conf := range map[string]string{
		"not in the accounts list": `accounts {
  S: { exports: [ {service: "x", accounts: [A]} ] }
  A: { }
  B: { imports: [ {service: {account: S, subject: "x"}} ] }
}`,
		"not exported": `accounts {
  S: { exports: [ {service: "x"} ] }
  B: { imports: [ {service: {account: S, subject: "y"}} ] }
}`,
		"stream imported as a service": `accounts {
  S: { exports: [ {stream: "x"} ] }
  B: { imports: [ {service: {account: S, subject: "x"}} ] }
}`,
		"wider than the export": `accounts {
  S: { exports: [ {stream: "x.*"} ] }
  B: { imports: [ {stream: {account: S, subject: "x.>"}} ] }
}`,
		"unknown account": `accounts {
  B: { imports: [ {stream: {account: NOPE, subject: "x"}} ] }
}`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := ProcessConfigFile(accConf(t, conf)); err == nil {
				t.Error("busd accepted it")
			} else if !strings.Contains(err.Error(), "accounts.conf:") {
				t.Errorf("busd error %q does not name the file and line", err)
			}
			if nsAccepts(t, conf) {
				t.Error("nats-server accepted it: the test is wrong")
			}
		})
	}
}
