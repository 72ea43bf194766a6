package server

import (
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// secExpectViolationClose: the reload closed rc with nats-server's text.
func secExpectViolationClose(rc *secRaw) {
	rc.t.Helper()
	rc.expect("-ERR 'Authorization Violation'")
	rc.expectClosed()
}

// TestReloadAuth: a reload keeps the connections whose credentials are still
// valid, with their new permissions, and closes the others.
func TestReloadAuth(t *testing.T) {
	keep, keepPub := secNkey(t)
	drop, dropPub := secNkey(t)
	bcryptPass := secBcrypt(t, "bpw")
	narrow := &Permissions{Publish: &SubjectPermission{Allow: []string{"bob.>"}}, Subscribe: &SubjectPermission{Allow: []string{"bob.>"}}}
	o := &Options{
		Users: []*User{
			{Username: "alice", Password: "a1"},
			{Username: "bob", Password: "b1"},
			{Username: "carol", Password: bcryptPass},
			{Username: "dave", Password: secBcrypt(t, "dpw")},
			{Username: "erin", Password: "e1"},
		},
		Nkeys: []*NkeyUser{{Nkey: keepPub}, {Nkey: dropPub}},
	}
	s := runServer(t, o)
	alice := secLogin(t, s, "alice", "a1")
	bob := secLogin(t, s, "bob", "b1")
	bob.send("SUB bob.x 1\r\nSUB other 2\r\nSUB other q 3\r\n")
	bob.sync()
	carol := secLogin(t, s, "carol", "bpw")
	dave := secLogin(t, s, "dave", "dpw")
	erin := secLogin(t, s, "erin", "e1")
	nkLogin := func(kp interface{ Sign([]byte) ([]byte, error) }, pub string) *secRaw {
		rc := secDial(t, s)
		sig, _ := kp.Sign([]byte(rc.info["nonce"].(string)))
		rc.connect(map[string]any{"nkey": pub, "sig": base64.RawURLEncoding.EncodeToString(sig)})
		rc.expect("PONG")
		return rc
	}
	nkKeep := nkLogin(keep, keepPub)
	nkDrop := nkLogin(drop, dropPub)
	// A nats.go client that will stay.
	nc := secConnect(t, s, nats.UserInfo("erin", "e1"))

	// New config: alice's password changes, bob is narrowed, carol's bcrypt
	// hash is unchanged, dave's is replaced (same password, new hash: busd
	// cannot re-check a bcrypt hash without the password, so dave goes), erin
	// moves from a plain password to a bcrypt hash of it (also unverifiable
	// without the password, so erin goes), one nkey is removed.
	o2 := &Options{
		Users: []*User{
			{Username: "alice", Password: "a2"},
			{Username: "bob", Password: "b1", Permissions: narrow},
			{Username: "carol", Password: bcryptPass},
			{Username: "dave", Password: secBcrypt(t, "dpw")},
			{Username: "erin", Password: "e1"},
		},
		Nkeys: []*NkeyUser{{Nkey: keepPub}},
	}
	if err := reloadAll(t, s, o2); err != nil {
		t.Fatal(err)
	}
	secExpectViolationClose(alice)
	secExpectViolationClose(dave)
	secExpectViolationClose(nkDrop)
	// The forbidden subscriptions go, in no particular order.
	removed := map[string]bool{bob.line(): true, bob.line(): true}
	for _, want := range []string{
		`-ERR 'Permissions Violation for Subscription to "other" (sid "2")'`,
		`-ERR 'Permissions Violation for Subscription to "other" using queue "q" (sid "3")'`,
	} {
		if !removed[want] {
			t.Errorf("missing %s; got %v", want, removed)
		}
	}
	bob.sync()
	bob.send("PUB elsewhere 0\r\n\r\nPUB bob.y 0\r\n\r\n")
	bob.expect(`-ERR 'Permissions Violation for Publish to "elsewhere"'`)
	bob.sync()
	carol.sync()
	erin.sync()
	nkKeep.sync()
	if err := nc.Flush(); err != nil || !nc.IsConnected() {
		t.Fatalf("nats.go client dropped by the reload: %v", err)
	}
	secWait(t, "closed clients to go", func() bool { return s.NumClients() == 5 })
	if n := s.NumSubscriptions(); n != 1 {
		t.Errorf("%d subscriptions after reload, want 1 (bob.x)", n)
	}

	// New connections see the new config.
	if err := secConnectErr(s, nats.UserInfo("alice", "a1")); !secIsAuthErr(err) {
		t.Errorf("old password after reload: %v", err)
	}
	secConnect(t, s, nats.UserInfo("alice", "a2"))
	secConnect(t, s, nats.UserInfo("dave", "dpw"))

	// Plain password turned into a bcrypt hash of it: erin cannot be
	// re-checked and is closed; reconnecting works.
	o3 := *o2
	o3.Users = append([]*User(nil), o2.Users...)
	o3.Users[4] = &User{Username: "erin", Password: secBcrypt(t, "e1")}
	if err := reloadAll(t, s, &o3); err != nil {
		t.Fatal(err)
	}
	secExpectViolationClose(erin)
	secConnect(t, s, nats.UserInfo("erin", "e1"))
	carol.sync()
}

// TestReloadTurnsAuthOn: clients that connected to an open server stay when
// what they presented satisfies the new config; the others are closed.
func TestReloadTurnsAuthOn(t *testing.T) {
	s := runServer(t, &Options{AuthTimeout: 100 * time.Millisecond})
	anon := secDial(t, s)
	anon.connect(nil)
	anon.expect("PONG")
	withCreds := secDial(t, s)
	withCreds.connect(map[string]any{"user": "u", "pass": "p"})
	withCreds.expect("PONG")
	withToken := secDial(t, s)
	withToken.connect(map[string]any{"auth_token": "wrong"})
	withToken.expect("PONG")
	notYet := secDial(t, s) // no CONNECT yet
	silent := secDial(t, s) // and never

	if err := reloadAll(t, s, &Options{Users: []*User{{Username: "u", Password: "p", Permissions: &Permissions{
		Publish: &SubjectPermission{Allow: []string{"u.>"}},
	}}}}); err != nil {
		t.Fatal(err)
	}
	secExpectViolationClose(anon)
	secExpectViolationClose(withToken)
	withCreds.sync()
	withCreds.send("PUB x 0\r\n\r\n")
	withCreds.expect(`-ERR 'Permissions Violation for Publish to "x"'`)
	// The one that had not sent CONNECT must now authenticate.
	notYet.send("PING\r\n")
	notYet.expect("-ERR 'Authorization Violation'")
	notYet.expectClosed()
	// The silent one gets the auth timeout it would have had connecting now.
	silent.expect("-ERR 'Authentication Timeout'")
	silent.expectClosed()

	// And off again: everyone stays, unrestricted.
	if err := reloadAll(t, s, &Options{}); err != nil {
		t.Fatal(err)
	}
	withCreds.send("PUB x 0\r\n\r\n")
	withCreds.sync()
	secConnect(t, s)
}

// TestReloadTokenAndDefaultPermissions: token changes and
// default_permissions changes apply to connected clients.
func TestReloadTokenAndDefaultPermissions(t *testing.T) {
	s := runServer(t, &Options{Authorization: "t1"})
	tok := secDial(t, s)
	tok.connect(map[string]any{"auth_token": "t1"})
	tok.expect("PONG")
	if err := reloadAll(t, s, &Options{Authorization: "t1"}); err != nil {
		t.Fatal(err)
	}
	tok.sync()
	if err := reloadAll(t, s, &Options{Authorization: "t2"}); err != nil {
		t.Fatal(err)
	}
	secExpectViolationClose(tok)

	d := runServer(t, &Options{Users: []*User{{Username: "u", Password: "p"}}})
	u := secLogin(t, d, "u", "p")
	u.send("SUB a.b 1\r\nSUB a.* 2\r\n")
	u.sync()
	if err := reloadAll(t, d, &Options{
		Users:              []*User{{Username: "u", Password: "p"}},
		DefaultPermissions: &Permissions{Subscribe: &SubjectPermission{Deny: []string{"a.b"}}},
	}); err != nil {
		t.Fatal(err)
	}
	u.expect(`-ERR 'Permissions Violation for Subscription to "a.b" (sid "1")'`)
	u.sync()
	// The surviving wildcard subscription is filtered at delivery.
	pub := secDial(t, d)
	pub.connect(map[string]any{"user": "u", "pass": "p"})
	pub.expect("PONG")
	pub.send("PUB a.b 0\r\n\r\nPUB a.c 0\r\n\r\n")
	pub.sync()
	u.expect("MSG a.c 2 0", "")
	u.sync()
}

// TestReloadRacesConnects: reloads while clients connect; every client ends
// up either connected under the final config or refused by it. Run with -race.
func TestReloadRacesConnects(t *testing.T) {
	good := &Options{Users: []*User{{Username: "u", Password: "p"}}}
	bad := &Options{Users: []*User{{Username: "u", Password: "other"}}}
	s := runServer(t, good)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 200; i++ { // ends on i=199: bad
			o := good
			if i%2 == 1 {
				o = bad
			}
			_ = reloadAll(t, s, o)
		}
	}()
	var conns []*nats.Conn
	var mu sync.Mutex
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				nc, err := nats.Connect(s.ClientURL(), nats.UserInfo("u", "p"), nats.NoReconnect(), nats.Timeout(5*time.Second))
				if err == nil {
					mu.Lock()
					conns = append(conns, nc)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	defer func() {
		for _, nc := range conns {
			nc.Close()
		}
	}()
	// The last reload installed the bad config: whoever connected before it
	// was closed by it, whoever came after was refused, and a CONNECT racing
	// it was one or the other. Nobody may remain.
	if s.auth.Load().users["u"].secret != "other" {
		t.Fatal("the last reload was not the bad config")
	}
	secWait(t, "every client to be closed under the final config", func() bool { return s.NumClients() == 0 })
	for _, c := range s.snapshotClients() {
		t.Errorf("client %d survived a config it does not satisfy", c.cid)
	}
}

// TestReloadRacesSubscribe: subscriptions arriving while a reload forbids
// them end up refused or removed, never left in the sublist.
func TestReloadRacesSubscribe(t *testing.T) {
	open := &Options{Users: []*User{{Username: "u", Password: "p"}}}
	closed := &Options{Users: []*User{{Username: "u", Password: "p", Permissions: &Permissions{
		Subscribe: &SubjectPermission{Deny: []string{"forbidden.>"}},
	}}}}
	s := runServer(t, open)
	for round := 0; round < 5; round++ {
		if err := reloadAll(t, s, open); err != nil {
			t.Fatal(err)
		}
		rc := secLogin(t, s, "u", "p")
		const n = 2000
		var batch strings.Builder
		for i := 0; i < n; i++ {
			fmt.Fprintf(&batch, "SUB forbidden.x %d\r\n", i)
		}
		sent := make(chan struct{})
		go func() {
			defer close(sent)
			_, _ = rc.conn.Write([]byte(batch.String()))
		}()
		if err := reloadAll(t, s, closed); err != nil {
			t.Fatal(err)
		}
		<-sent
		rc.send("PING\r\n")
		// Violations (from the reload or for SUBs after it) until the PONG.
		for i := 0; i < 2*n+1; i++ {
			if l := rc.line(); l == "PONG" {
				break
			} else if !strings.HasPrefix(l, `-ERR 'Permissions Violation for Subscription to "forbidden.x"`) {
				t.Fatalf("got %q", l)
			}
		}
		if r := s.globalAccount().sl.match([]byte("forbidden.x")); len(r.psubs) != 0 {
			t.Fatalf("round %d: %d forbidden subscriptions left in the sublist", round, len(r.psubs))
		}
		rc.conn.Close()
	}
}

// reloadAll reloads s with o, where o says nothing about where s listens or
// its name: those are fixed, and Reload refuses to change them.
func reloadAll(t testing.TB, s *Server, o *Options) error {
	t.Helper()
	cur := s.Options()
	n := *o
	n.Host, n.Port, n.HTTPHost, n.HTTPPort, n.ServerName = cur.Host, cur.Port, cur.HTTPHost, cur.HTTPPort, cur.ServerName
	return s.Reload(&n)
}
