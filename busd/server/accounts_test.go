package server

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// Isolation between accounts, on busd and on nats-server with the same file.

func TestAccountsIsolation(t *testing.T) {
	accBoth(t, accTwoAccounts, func(t *testing.T, srv *accServer) {
		a, a2, b := accConnect(t, srv, "a"), accConnect(t, srv, "a2"), accConnect(t, srv, "b")
		// Subscribers in A, on a literal, a wildcard and everything.
		subs := map[string]*nats.Subscription{}
		for _, subj := range []string{"foo", "foo.*", ">"} {
			sub, err := a.SubscribeSync(subj)
			if err != nil {
				t.Fatal(err)
			}
			subs[subj] = sub
		}
		bSub, err := b.SubscribeSync(">")
		if err != nil {
			t.Fatal(err)
		}
		accFlush(t, a, b)

		// B publishes what A's subscriptions would match: nothing crosses.
		for _, subj := range []string{"foo", "foo.bar", "anything.at.all"} {
			if err := b.Publish(subj, []byte("from b")); err != nil {
				t.Fatal(err)
			}
		}
		accFlush(t, b)
		for subj, sub := range subs {
			accNone(t, sub, "A's "+subj+" after B published")
		}
		// The same subjects inside A arrive.
		if err := a2.Publish("foo", []byte("from a2")); err != nil {
			t.Fatal(err)
		}
		accFlush(t, a2)
		if m := accNext(t, subs["foo"], "A's foo"); string(m.Data) != "from a2" {
			t.Fatalf("got %q", m.Data)
		}
		accNext(t, subs[">"], "A's >")
		// B saw only its own three.
		for range 3 {
			if m := accNext(t, bSub, "B's >"); string(m.Data) != "from b" {
				t.Fatalf("B got %q", m.Data)
			}
		}
		accNone(t, bSub, "B after A published")
	})
}

func TestAccountsQueueGroupsAndNoResponders(t *testing.T) {
	accBoth(t, accTwoAccounts, func(t *testing.T, srv *accServer) {
		a, a2, b := accConnect(t, srv, "a"), accConnect(t, srv, "a2"), accConnect(t, srv, "b")
		var inA, inB atomic.Int64
		for _, nc := range []*nats.Conn{a, a2} {
			if _, err := nc.QueueSubscribe("work", "q", func(m *nats.Msg) { inA.Add(1); _ = m.Respond([]byte("A")) }); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := b.QueueSubscribe("work", "q", func(m *nats.Msg) { inB.Add(1); _ = m.Respond([]byte("B")) }); err != nil {
			t.Fatal(err)
		}
		accFlush(t, a, a2, b)
		for i := range 20 {
			m, err := a.Request("work", nil, 5*time.Second)
			if err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
			if string(m.Data) != "A" {
				t.Fatalf("request from A answered by %q", m.Data)
			}
		}
		if inA.Load() != 20 || inB.Load() != 0 {
			t.Fatalf("A's group got %d, B's %d; want 20 and 0", inA.Load(), inB.Load())
		}
		// A responder in another account is no responder.
		other := accConnect(t, srv, "sys")
		if _, err := other.Subscribe("lonely", func(m *nats.Msg) { _ = m.Respond([]byte("x")) }); err != nil {
			t.Fatal(err)
		}
		accFlush(t, other)
		if _, err := a.Request("lonely", nil, 5*time.Second); !errors.Is(err, nats.ErrNoResponders) {
			t.Fatalf("request to another account's responder: %v, want no responders", err)
		}
	})
}

func TestAccountsHeadersInsideAccount(t *testing.T) {
	accBoth(t, accTwoAccounts, func(t *testing.T, srv *accServer) {
		a, a2 := accConnect(t, srv, "a"), accConnect(t, srv, "a2")
		sub, err := a.SubscribeSync("h")
		if err != nil {
			t.Fatal(err)
		}
		accFlush(t, a)
		m := nats.NewMsg("h")
		m.Header.Set("X-Test", "1")
		m.Data = []byte("body")
		if err := a2.PublishMsg(m); err != nil {
			t.Fatal(err)
		}
		got := accNext(t, sub, "header message")
		if got.Header.Get("X-Test") != "1" || string(got.Data) != "body" {
			t.Fatalf("got header %v body %q", got.Header, got.Data)
		}
	})
}

// TestAccountsRawIsolation checks the bytes: a SUB in A, a PUB from B and
// from A, and only A's message arrives, as the same MSG line on both servers.
func TestAccountsRawIsolation(t *testing.T) {
	accBoth(t, accTwoAccounts, func(t *testing.T, srv *accServer) {
		ra, rb := accDial(t, srv, "a", ""), accDial(t, srv, "b", "")
		ra.send("SUB foo 1\r\nSUB > 2\r\n")
		ra.sync()
		rb.send("PUB foo 5\r\nfromb\r\nHPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n")
		rb.sync()
		ra.sync() // nothing arrived before the PONG
		ra2 := accDial(t, srv, "a2", "")
		ra2.send("PUB foo 5\r\nfroma\r\n")
		ra2.sync()
		got := []string{ra.line(), ra.line(), ra.line(), ra.line()}
		want1 := []string{"MSG foo 1 5", "froma", "MSG foo 2 5", "froma"}
		want2 := []string{"MSG foo 2 5", "froma", "MSG foo 1 5", "froma"}
		if strings.Join(got, "|") != strings.Join(want1, "|") && strings.Join(got, "|") != strings.Join(want2, "|") {
			t.Fatalf("got %q", got)
		}
		ra.sync()
	})
}

// TestAccountsNoAuthUser: a client presenting nothing is no_auth_user, in
// that user's account.
func TestAccountsNoAuthUser(t *testing.T) {
	conf := accTwoAccounts + "no_auth_user: b\n"
	accBoth(t, conf, func(t *testing.T, srv *accServer) {
		anon := accConnect(t, srv, "")
		b := accConnect(t, srv, "b")
		a := accConnect(t, srv, "a")
		sub, err := b.SubscribeSync("x")
		if err != nil {
			t.Fatal(err)
		}
		aSub, err := a.SubscribeSync("x")
		if err != nil {
			t.Fatal(err)
		}
		accFlush(t, a, b)
		if err := anon.Publish("x", []byte("anon")); err != nil {
			t.Fatal(err)
		}
		accFlush(t, anon)
		accNext(t, sub, "B from the anonymous client")
		accNone(t, aSub, "A from the anonymous client")
		// A wrong password is not anonymous.
		if nc, err := nats.Connect(srv.url("b", "wrong"), nats.NoReconnect()); err == nil {
			nc.Close()
			t.Fatal("wrong password accepted")
		}
	})
}

// TestAccountsOnlySystemAccount: with the system account the only one
// configured, clients without credentials land in $G, as nats-server does,
// and the system user is apart.
func TestAccountsOnlySystemAccount(t *testing.T) {
	const conf = `
accounts { SYS: { users: [ {user: sys, password: pw} ] } }
system_account: SYS
`
	accBoth(t, conf, func(t *testing.T, srv *accServer) {
		anon1, anon2 := accConnect(t, srv, ""), accConnect(t, srv, "")
		sys := accConnect(t, srv, "sys")
		sub, err := anon1.SubscribeSync("g")
		if err != nil {
			t.Fatal(err)
		}
		sysSub, err := sys.SubscribeSync("g")
		if err != nil {
			t.Fatal(err)
		}
		accFlush(t, anon1, sys)
		if err := anon2.Publish("g", nil); err != nil {
			t.Fatal(err)
		}
		accFlush(t, anon2)
		accNext(t, sub, "$G subscriber")
		accNone(t, sysSub, "system subscriber")
		// The system user's password still counts.
		if nc, err := nats.Connect(srv.url("sys", "wrong"), nats.NoReconnect()); err == nil {
			nc.Close()
			t.Fatal("wrong system password accepted")
		}
	})
}

func TestAccountsPermissionsInsideAccount(t *testing.T) {
	const conf = `
accounts {
  A: {
    default_permissions: { publish: "pub.>" }
    users: [
      {user: a, password: pw}
      {user: ro, password: pw, permissions: { publish: [], subscribe: "pub.>" }}
    ]
  }
}
`
	accBoth(t, conf, func(t *testing.T, srv *accServer) {
		errs := make(chan error, 4)
		a := accConnect(t, srv, "a", nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { errs <- err }))
		ro := accConnect(t, srv, "ro")
		sub, err := ro.SubscribeSync("pub.>")
		if err != nil {
			t.Fatal(err)
		}
		accFlush(t, ro)
		if err := a.Publish("pub.x", nil); err != nil {
			t.Fatal(err)
		}
		if err := a.Publish("other", nil); err != nil {
			t.Fatal(err)
		}
		accFlush(t, a)
		accNext(t, sub, "allowed publish")
		select {
		case err := <-errs:
			if !strings.Contains(err.Error(), `Permissions Violation for Publish to "other"`) {
				t.Fatalf("got %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no permissions violation for a publish outside the account's default permissions")
		}
	})
}

// TestAccountsSecondConnectMovesAccount: a CONNECT that lands in another
// account drops the subscriptions made in the first.
func TestAccountsSecondConnectMovesAccount(t *testing.T) {
	srv := accBusd(t, accTwoAccounts)
	rc := accDial(t, srv, "a", "")
	rc.send("SUB foo 1\r\n")
	rc.sync()
	if n := srv.busd.accounts().lookup("A").numSubs(); n != 1 {
		t.Fatalf("A has %d subscriptions, want 1", n)
	}
	rc.send(`CONNECT {"verbose":false,"user":"b","pass":"pw","headers":true}` + "\r\nPING\r\n")
	rc.expect("PONG")
	if n := srv.busd.accounts().lookup("A").numSubs(); n != 0 {
		t.Fatalf("A keeps %d subscriptions after the client moved to B", n)
	}
	a := accConnect(t, srv, "a2")
	if err := a.Publish("foo", nil); err != nil {
		t.Fatal(err)
	}
	accFlush(t, a)
	rc.sync() // no MSG before the PONG
	if n := srv.busd.accounts().lookup("B").nconns.Load(); n != 1 {
		t.Fatalf("B counts %d connections, want 1", n)
	}
}

// TestAccountsGlobalByDefault: without accounts, everyone is in $G and the
// system account has nobody.
func TestAccountsGlobalByDefault(t *testing.T) {
	s := runServer(t, nil)
	nc := connect(t, s.ClientURL())
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	as := s.accounts()
	if len(as.byName) != 2 || as.global.name != GlobalAccount || as.sys.name != DefaultSystemAccount {
		t.Fatalf("accounts %v, global %q, system %q", as.sorted(), as.global.name, as.sys.name)
	}
	secWait(t, "the client counted in $G", func() bool { return as.global.nconns.Load() == 1 })
	if as.sys.nconns.Load() != 0 {
		t.Fatal("someone is in the system account")
	}
}

// TestNoRespondersPicksReplySubscription: the 503 goes to the subscription on
// the reply subject itself, not to a wildcard (nats.go's resp mux) of the
// same client that also matches.
func TestNoRespondersPicksReplySubscription(t *testing.T) {
	accBoth(t, "", func(t *testing.T, srv *accServer) {
		rc := accDial(t, srv, "", "")
		rc.send("SUB _INBOX.mux.* 1\r\nSUB _INBOX.mux.exact 2\r\nPUB nobody _INBOX.mux.exact 0\r\n\r\n")
		rc.expect("HMSG _INBOX.mux.exact 2 38 38", "NATS/1.0 503", "Nats-Subject: nobody", "", "")
		rc.sync()
	})
}
