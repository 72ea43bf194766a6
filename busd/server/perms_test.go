package server

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// TestPermMatcher checks the decisions of compiled permissions directly.
func TestPermMatcher(t *testing.T) {
	type q struct {
		subject, queue string
		want           bool
	}
	cases := []struct {
		name string
		p    Permissions
		pub  []q // queue unused
		sub  []q
	}{
		{
			name: "publish allow and deny, deny wins",
			p:    Permissions{Publish: &SubjectPermission{Allow: []string{"foo.*", "bar.>"}, Deny: []string{"foo.secret", "bar.x.>"}}},
			pub: []q{
				{"foo.a", "", true}, {"foo.secret", "", false}, {"foo", "", false}, {"foo.a.b", "", false},
				{"bar.a", "", true}, {"bar.a.b.c", "", true}, {"bar.x", "", true}, {"bar.x.y", "", false},
				{"bar", "", false}, {"baz", "", false},
				// wildcard tokens in a published subject are not covered by narrower entries
				{"foo.>", "", false}, {"foo.*", "", true}, {"bar.*", "", true}, {"bar.x.*", "", false},
			},
		},
		{
			name: "deny only",
			p:    Permissions{Publish: &SubjectPermission{Deny: []string{"$SYS.>"}}},
			pub:  []q{{"a", "", true}, {"$SYS.x", "", false}, {"$SYS", "", true}},
		},
		{
			name: "empty publish allow list allows nothing",
			p:    Permissions{Publish: &SubjectPermission{Allow: []string{}}},
			pub:  []q{{"a", "", false}},
		},
		{
			name: "allow_responses without publish allow",
			p:    Permissions{Response: &ResponsePermission{}},
			pub:  []q{{"a", "", false}},
			sub:  []q{{"a", "", true}},
		},
		{
			name: "empty subscribe allow list allows everything (as nats-server)",
			p:    Permissions{Subscribe: &SubjectPermission{Allow: []string{}}},
			sub:  []q{{"a", "", true}, {">", "", true}},
		},
		{
			name: "subscribe: wildcards must be covered by an allow entry",
			p:    Permissions{Subscribe: &SubjectPermission{Allow: []string{"foo.*", "bar.>"}}},
			sub: []q{
				{"foo.a", "", true}, {"foo.*", "", true}, {"foo.>", "", false}, {">", "", false}, {"*.a", "", false},
				{"bar.>", "", true}, {"bar.*.x", "", true}, {"bar", "", false}, {"foo.a", "any", true},
			},
		},
		{
			name: "subscribe deny: covered subjects refused, overlapping wildcards allowed",
			p:    Permissions{Subscribe: &SubjectPermission{Deny: []string{"foo.secret", "priv.>", "one.*"}}},
			sub: []q{
				{"foo.secret", "", false}, {"foo.*", "", true}, {"foo.>", "", true}, {">", "", true},
				{"priv.a", "", false}, {"priv.>", "", false}, {"priv.*", "", false}, {"priv", "", true},
				{"one.x", "", false}, {"one.*", "", false}, {"one.>", "", false}, // nats-server: "*" covers ">"
				{"foo.secret", "q", false},
			},
		},
		{
			name: "queue entries",
			p: Permissions{Subscribe: &SubjectPermission{
				Allow: []string{"plain", "both", "both v1", "only v1", "wild.* workers.*"},
				Deny:  []string{"plain bad"},
			}},
			sub: []q{
				{"plain", "", true}, {"plain", "any", true}, {"plain", "bad", false},
				{"both", "", true}, {"both", "v1", true}, {"both", "v2", false},
				{"only", "", false}, {"only", "v1", true}, {"only", "v2", false},
				{"wild.x", "workers.a", true}, {"wild.x", "workers", false}, {"wild.x", "", false},
			},
		},
	}
	for _, c := range cases {
		ps := compilePerms(&c.p)
		cp := newClientPerms(ps, nil)
		for _, x := range c.pub {
			for round := 0; round < 2; round++ { // the second round answers from the cache
				if got := cp.pubAllowed([]byte(x.subject)); got != x.want {
					t.Errorf("%s: publish %q = %v, want %v (round %d)", c.name, x.subject, got, x.want, round)
				}
			}
		}
		for _, x := range c.sub {
			var queue []byte
			if x.queue != "" {
				queue = []byte(x.queue)
			}
			if got := cp.subAllowed([]byte(x.subject), queue); got != x.want {
				t.Errorf("%s: subscribe %q queue %q = %v, want %v", c.name, x.subject, x.queue, got, x.want)
			}
		}
	}
	if compilePerms(nil) != nil {
		t.Errorf("nil permissions compiled to a restriction")
	}
}

// TestPermCachesBounded: the per-client caches do not grow without bound.
func TestPermCachesBounded(t *testing.T) {
	ps := compilePerms(&Permissions{
		Publish:   &SubjectPermission{Allow: []string{"a.>"}},
		Subscribe: &SubjectPermission{Deny: []string{"a.secret"}},
		Response:  &ResponsePermission{MaxMsgs: 1},
	})
	p := newClientPerms(ps, nil)
	sub := &subscription{subject: []byte("a.*"), sid: []byte("1")}
	for i := 0; i < 5*permCacheMax; i++ {
		subj := []byte(fmt.Sprintf("a.%d", i))
		if !p.pubAllowed(subj) {
			t.Fatalf("publish %s refused", subj)
		}
		if !p.deliverAllowed(sub, subj, []byte(fmt.Sprintf("_R.%d", i))) {
			t.Fatalf("delivery of %s refused", subj)
		}
	}
	if len(p.pcache) > permCacheMax {
		t.Errorf("publish cache %d entries, bound %d", len(p.pcache), permCacheMax)
	}
	if !p.deliverAllowed(sub, []byte("a.x"), nil) || p.deliverAllowed(sub, []byte("a.secret"), nil) {
		t.Errorf("wrong delivery decision after evictions")
	}
	for i := 0; i < replyMax+2*replyPruneEvery; i++ {
		p.trackReply([]byte(fmt.Sprintf("_R.%d", i)))
	}
	if len(p.replies) > replyMax+replyPruneEvery {
		t.Errorf("%d reply subjects tracked, bound %d", len(p.replies), replyMax)
	}
}

// TestPermCachesBoundedInBytes: long subjects are checked, never cached, so
// a client publishing to many long distinct subjects holds no more than a
// client publishing to short ones; tracked reply subjects are bounded in
// bytes as well as in number.
func TestPermCachesBoundedInBytes(t *testing.T) {
	ps := compilePerms(&Permissions{
		Publish:   &SubjectPermission{Allow: []string{"a.>"}, Deny: []string{"a.secret.>"}},
		Subscribe: &SubjectPermission{Allow: []string{">"}, Deny: []string{"a.secret.>"}},
		Response:  &ResponsePermission{MaxMsgs: 1},
	})
	p := newClientPerms(ps, nil)
	sub := &subscription{subject: []byte("a.>"), sid: []byte("1")}
	long := strings.Repeat("x", 3500)
	for i := 0; i < 1024; i++ {
		subj := []byte(fmt.Sprintf("a.%s.%d", long, i))
		if !p.pubAllowed(subj) || !p.deliverAllowed(sub, subj, nil) {
			t.Fatalf("long subject %d refused", i)
		}
	}
	secret := []byte("a.secret." + long)
	if p.pubAllowed(secret) || p.deliverAllowed(sub, secret, nil) {
		t.Fatal("long denied subject allowed")
	}
	if len(p.pcache) != 0 {
		t.Errorf("%d long subjects cached", len(p.pcache))
	}
	for i := range p.pmemo {
		if len(p.pmemo[i].subj) > permCacheSubjMax {
			t.Fatalf("memo slot %d holds a %d-byte subject", i, len(p.pmemo[i].subj))
		}
	}
	for i := range p.dmemo {
		if d := p.dmemo[i].Load(); d != nil && len(d.subj) > permCacheSubjMax {
			t.Fatalf("delivery memo slot %d holds a %d-byte subject", i, len(d.subj))
		}
	}

	reply := strings.Repeat("r", 1000)
	for i := 0; i < 4*replyBytesMax/len(reply); i++ {
		p.trackReply([]byte(fmt.Sprintf("%s.%d", reply, i)))
	}
	total := 0
	for k := range p.replies {
		total += len(k)
	}
	if total != p.replyBytes || total > replyBytesMax+len(reply)+8 {
		t.Errorf("tracked replies hold %d bytes (counted %d), bound %d", total, p.replyBytes, replyBytesMax)
	}
}

// TestPermResponseUnit: allow_responses counts and expiry, without waiting:
// the recorded time of a reply subject is moved into the past.
func TestPermResponseUnit(t *testing.T) {
	p := newClientPerms(compilePerms(&Permissions{
		Publish:  &SubjectPermission{Allow: []string{"ok.>"}},
		Response: &ResponsePermission{MaxMsgs: 2, Expires: time.Minute},
	}), nil)
	sub := &subscription{subject: []byte("svc"), sid: []byte("1")}
	if p.pubAllowed([]byte("_INBOX.1")) {
		t.Fatal("reply subject allowed before any request")
	}
	p.deliverAllowed(sub, []byte("svc"), []byte("_INBOX.1"))
	p.deliverAllowed(sub, []byte("svc"), []byte("ok.reply")) // publishable anyway: not tracked
	if _, tracked := p.replies["ok.reply"]; tracked {
		t.Error("a subject the client may publish to anyway was tracked")
	}
	for i := 1; i <= 2; i++ {
		if !p.pubAllowed([]byte("_INBOX.1")) {
			t.Fatalf("reply %d refused with max 2", i)
		}
	}
	if p.pubAllowed([]byte("_INBOX.1")) {
		t.Fatal("third reply allowed with max 2")
	}
	p.deliverAllowed(sub, []byte("svc"), []byte("_INBOX.2"))
	r := p.replies["_INBOX.2"]
	r.t = r.t.Add(-2 * time.Minute)
	p.replies["_INBOX.2"] = r
	if p.pubAllowed([]byte("_INBOX.2")) {
		t.Fatal("expired reply subject allowed")
	}

	unlimited := newClientPerms(compilePerms(&Permissions{Response: &ResponsePermission{MaxMsgs: -1}}), nil)
	unlimited.deliverAllowed(sub, []byte("svc"), []byte("r"))
	for i := 0; i < 100; i++ {
		if !unlimited.pubAllowed([]byte("r")) {
			t.Fatalf("reply %d refused with max -1 (unlimited)", i)
		}
	}
}

// secPermServer has an unrestricted "admin" and the users given.
func secPermServer(t *testing.T, users ...*User) *Server {
	t.Helper()
	return runServer(t, &Options{Users: append([]*User{{Username: "admin", Password: "a"}}, users...)})
}

func secLogin(t *testing.T, s *Server, user, pass string) *secRaw {
	t.Helper()
	rc := secDial(t, s)
	rc.connect(map[string]any{"user": user, "pass": pass})
	rc.expect("PONG")
	return rc
}

func TestPermPublishViolation(t *testing.T) {
	s := secPermServer(t, &User{Username: "u", Password: "p", Permissions: &Permissions{
		Publish: &SubjectPermission{Allow: []string{"foo.*"}, Deny: []string{"foo.secret"}},
	}})
	admin := secLogin(t, s, "admin", "a")
	admin.send("SUB > 1\r\n")
	admin.sync()

	u := secLogin(t, s, "u", "p")
	u.send("PUB foo.ok 2\r\nhi\r\nPUB foo.secret 2\r\nhi\r\nPUB bar 2\r\nhi\r\nPUB foo.ok.deeper 0\r\n\r\nHPUB foo.secret 12 12\r\nNATS/1.0\r\n\r\n\r\n")
	u.expect(
		`-ERR 'Permissions Violation for Publish to "foo.secret"'`,
		`-ERR 'Permissions Violation for Publish to "bar"'`,
		`-ERR 'Permissions Violation for Publish to "foo.ok.deeper"'`,
		`-ERR 'Permissions Violation for Publish to "foo.secret"'`,
	)
	u.sync() // the connection stays open
	u.send("PUB foo.last 0\r\n\r\n")
	u.sync()

	// Only the allowed messages were routed.
	admin.expect("MSG foo.ok 1 2", "hi", "MSG foo.last 1 0", "")
	admin.sync()

	// Verbose clients get the -ERR instead of +OK.
	v := secDial(t, s)
	v.send(`CONNECT {"verbose":true,"user":"u","pass":"p"}` + "\r\nPUB foo.secret 0\r\n\r\nPUB foo.a 0\r\n\r\n")
	v.expect("+OK", `-ERR 'Permissions Violation for Publish to "foo.secret"'`, "+OK")
}

func TestPermSubscribeViolation(t *testing.T) {
	s := secPermServer(t, &User{Username: "u", Password: "p", Permissions: &Permissions{
		Subscribe: &SubjectPermission{Allow: []string{"foo.*", "jobs workers"}, Deny: []string{"foo.secret"}},
	}})
	u := secLogin(t, s, "u", "p")
	u.send("SUB foo.secret 1\r\nSUB bar 2\r\nSUB foo.> 3\r\nSUB > 4\r\nSUB jobs 5\r\nSUB jobs other 6\r\nSUB jobs workers 7\r\nSUB foo.ok 8\r\n")
	u.expect(
		`-ERR 'Permissions Violation for Subscription to "foo.secret"'`,
		`-ERR 'Permissions Violation for Subscription to "bar"'`,
		`-ERR 'Permissions Violation for Subscription to "foo.>"'`,
		`-ERR 'Permissions Violation for Subscription to ">"'`,
		`-ERR 'Permissions Violation for Subscription to "jobs"'`,
		`-ERR 'Permissions Violation for Subscription to "jobs" using queue "other"'`,
	)
	u.sync()
	if n := s.NumSubscriptions(); n != 2 {
		t.Errorf("%d subscriptions, want 2 (jobs workers, foo.ok)", n)
	}

	// Through nats.go: the async error handler gets the nats-server text.
	errs := make(chan error, 4)
	nc := secConnect(t, s, nats.UserInfo("u", "p"), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { errs <- err }))
	if _, err := nc.SubscribeSync("foo.secret"); err != nil {
		t.Fatal(err)
	}
	_ = nc.Flush()
	select {
	case err := <-errs:
		if !strings.Contains(err.Error(), `Permissions Violation for Subscription to "foo.secret"`) {
			t.Errorf("nats.go error %q", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no permissions violation reported to nats.go")
	}
	if !nc.IsConnected() {
		t.Error("nats.go connection closed by a permissions violation")
	}
}

// TestPermWildcardDeliveryFilter: a wildcard subscription overlapping a denied
// subject is allowed, but never receives messages on the denied subjects; the
// same for queue subscriptions and for the bypasses one would try.
func TestPermWildcardDeliveryFilter(t *testing.T) {
	s := secPermServer(t, &User{Username: "u", Password: "p", Permissions: &Permissions{
		Subscribe: &SubjectPermission{Deny: []string{"foo.secret", "vault.>", "jobs.hidden workers"}},
	}})
	u := secLogin(t, s, "u", "p")
	u.send("SUB foo.* 1\r\nSUB > 2\r\nSUB *.secret 3\r\nSUB jobs.* workers 4\r\nSUB vault.* 5\r\n")
	u.expect(`-ERR 'Permissions Violation for Subscription to "vault.*"'`)
	u.sync()

	pub := secLogin(t, s, "admin", "a")
	pub.send("PUB foo.secret 1\r\nx\r\nPUB vault.gold 1\r\nx\r\nPUB vault.a.b 1\r\nx\r\nPUB jobs.hidden 1\r\nx\r\nPUB foo.open 1\r\ny\r\n")
	pub.sync()
	// u receives foo.open on sids 1 and 2 (in either order) and jobs.hidden on
	// sid 2 only (the deny names the queue group, not the subject); nothing
	// on the denied subjects.
	got := map[string]bool{}
	for i := 0; i < 3; i++ {
		l := u.line()
		got[l] = true
		u.line() // payload
	}
	for _, want := range []string{"MSG foo.open 1 1", "MSG foo.open 2 1", "MSG jobs.hidden 2 1"} {
		if !got[want] {
			t.Errorf("missing %q; got %v", want, got)
		}
	}
	u.sync() // nothing else arrived

	// A literal subscription to an allowed subject still gets its messages.
	u.send("SUB foo.open 9\r\n")
	u.sync()
	pub.send("PUB foo.open 0\r\n\r\n")
	pub.sync()
	lines := map[string]bool{}
	for i := 0; i < 3; i++ {
		lines[u.line()] = true
		u.line()
	}
	if !lines["MSG foo.open 9 0"] {
		t.Errorf("literal subscription got nothing: %v", lines)
	}
	u.sync()
}

// TestPermAllowResponses: a service that may not publish anywhere answers on
// the reply subjects of the requests it receives, once each by default, and
// nowhere else: not on reply subjects of messages it did not receive, nor
// twice, nor on reply subjects of messages filtered out by its deny list.
func TestPermAllowResponses(t *testing.T) {
	s := secPermServer(t,
		&User{Username: "svc", Password: "p", Permissions: &Permissions{
			Subscribe: &SubjectPermission{Allow: []string{"svc.>"}, Deny: []string{"svc.internal"}},
			Response:  &ResponsePermission{MaxMsgs: 1},
		}},
		&User{Username: "svc2", Password: "p", Permissions: &Permissions{
			Publish:  &SubjectPermission{Allow: []string{"status"}},
			Response: &ResponsePermission{MaxMsgs: 2},
		}},
	)
	// nats.go request/reply through the restricted service.
	svc := secConnect(t, s, nats.UserInfo("svc", "p"))
	if _, err := svc.Subscribe("svc.echo", func(m *nats.Msg) { _ = m.Respond(m.Data) }); err != nil {
		t.Fatal(err)
	}
	if err := svc.Flush(); err != nil {
		t.Fatal(err)
	}
	client := secConnect(t, s, nats.UserInfo("admin", "a"))
	for i := 0; i < 20; i++ {
		m, err := client.Request("svc.echo", []byte(fmt.Sprint(i)), 5*time.Second)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if string(m.Data) != fmt.Sprint(i) {
			t.Fatalf("reply %q", m.Data)
		}
	}

	// Raw: the exact rules.
	admin := secLogin(t, s, "admin", "a")
	admin.send("SUB _R.> 1\r\n")
	admin.sync()
	r := secLogin(t, s, "svc", "p")
	r.send("SUB svc.* 1\r\n")
	r.sync()
	r.send("PUB _R.never 0\r\n\r\n") // no request carried this reply subject
	r.expect(`-ERR 'Permissions Violation for Publish to "_R.never"'`)

	admin.send("PUB svc.a _R.1 0\r\n\r\nPUB svc.internal _R.2 0\r\n\r\n")
	admin.sync()
	r.expect("MSG svc.a 1 _R.1 0", "")
	r.sync() // svc.internal was filtered out
	r.send("PUB _R.1 2\r\nok\r\nPUB _R.1 2\r\nno\r\nPUB _R.2 2\r\nno\r\n")
	r.expect(
		`-ERR 'Permissions Violation for Publish to "_R.1"'`, // max 1
		`-ERR 'Permissions Violation for Publish to "_R.2"'`, // never delivered to svc
	)
	r.sync()
	admin.expect("MSG _R.1 1 2", "ok")
	admin.sync()

	// Another connection of the same user does not inherit the permission.
	admin.send("PUB svc.a _R.3 0\r\n\r\n")
	admin.sync()
	r.expect("MSG svc.a 1 _R.3 0", "")
	other := secLogin(t, s, "svc", "p")
	other.send("PUB _R.3 0\r\n\r\n")
	other.expect(`-ERR 'Permissions Violation for Publish to "_R.3"'`)

	// max 2 with an explicit publish allow list.
	r2 := secLogin(t, s, "svc2", "p")
	r2.send("SUB svc.b 1\r\n")
	r2.sync()
	admin.send("PUB svc.b _R.4 0\r\n\r\n")
	admin.sync()
	r2.expect("MSG svc.b 1 _R.4 0", "")
	r2.send("PUB status 0\r\n\r\nPUB _R.4 0\r\n\r\nPUB _R.4 0\r\n\r\nPUB _R.4 0\r\n\r\nPUB other 0\r\n\r\n")
	r2.expect(
		`-ERR 'Permissions Violation for Publish to "_R.4"'`,
		`-ERR 'Permissions Violation for Publish to "other"'`,
	)
	r2.sync()
}
