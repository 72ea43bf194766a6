package server

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// Reloading accounts: what can change is applied, clients are re-checked,
// and the system account cannot change.

func reloadConf(t *testing.T, s *Server, conf string) error {
	t.Helper()
	o, err := ProcessConfigFile(accConf(t, conf))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	o.Host, o.Port = s.opts.Host, s.opts.Port
	return s.Reload(o)
}

const reloadV1 = `
accounts {
  A: { users: [ {user: a, password: pw}, {user: mover, password: pw} ] }
  B: {
    users: [ {user: b, password: pw} ]
    exports: [ {service: "echo"} ]
  }
  SYS: { users: [ {user: sys, password: pw} ] }
}
system_account: SYS
`

// reloadV2 moves "mover" to B, gives A an import of B's echo, and adds C.
const reloadV2 = `
accounts {
  A: {
    users: [ {user: a, password: pw} ]
    imports: [ {service: {account: B, subject: "echo"}} ]
  }
  B: {
    users: [ {user: b, password: pw}, {user: mover, password: pw} ]
    exports: [ {service: "echo"} ]
  }
  C: { users: [ {user: c, password: pw} ] }
  SYS: { users: [ {user: sys, password: pw} ] }
}
system_account: SYS
`

func TestReloadAccounts(t *testing.T) {
	srv := accBusd(t, reloadV1)
	s := srv.busd
	a, b := accConnect(t, srv, "a"), accConnect(t, srv, "b")
	closed := make(chan error, 1)
	mover := accConnect(t, srv, "mover", nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		select {
		case closed <- err:
		default:
		}
	}))
	if _, err := b.Subscribe("echo", func(m *nats.Msg) { _ = m.Respond([]byte("from B")) }); err != nil {
		t.Fatal(err)
	}
	aSub, _ := a.SubscribeSync("kept")
	accFlush(t, a, b, mover)
	if _, err := a.Request("echo", nil, 5*time.Second); !errors.Is(err, nats.ErrNoResponders) {
		t.Fatalf("before the reload A has no import: %v", err)
	}

	if err := reloadConf(t, s, reloadV2); err != nil {
		t.Fatal(err)
	}
	// The import works, for the client connected before the reload.
	m, err := a.Request("echo", nil, 5*time.Second)
	if err != nil || string(m.Data) != "from B" {
		t.Fatalf("request through the reloaded import: %v %v", m, err)
	}
	// A's subscription survived: A is the same account.
	if err := accConnect(t, srv, "a").Publish("kept", nil); err != nil {
		t.Fatal(err)
	}
	accNext(t, aSub, "A's subscription after the reload")
	// The user that moved was disconnected, and comes back in B.
	select {
	case err := <-closed:
		if !strings.Contains(strings.ToLower(err.Error()), "authorization violation") {
			t.Fatalf("mover closed with %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the client whose user moved account was not closed")
	}
	moved := accConnect(t, srv, "mover")
	if m, err := moved.Request("echo", nil, 5*time.Second); err != nil || string(m.Data) != "from B" {
		t.Fatalf("mover, now in B, requesting echo directly: %v %v", m, err)
	}
	accConnect(t, srv, "c") // the new account takes users
	if got := s.accounts().byName["C"]; got == nil {
		t.Fatal("account C missing after the reload")
	}

	// Back to v1: the import goes away.
	if err := reloadConf(t, s, reloadV1); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Request("echo", nil, 5*time.Second); !errors.Is(err, nats.ErrNoResponders) {
		t.Fatalf("after removing the import: %v", err)
	}
	if s.accounts().byName["C"] != nil {
		t.Fatal("account C still there")
	}
	// No internal subscription leaked through the three configurations.
	if n := s.accounts().lookup("A").nint.Load(); n != 4 {
		t.Fatalf("A has %d internal subscriptions, want the 4 system imports", n)
	}
}

func TestReloadSystemAccountRefused(t *testing.T) {
	srv := accBusd(t, reloadV1)
	err := reloadConf(t, srv.busd, strings.Replace(reloadV1, "system_account: SYS", "system_account: B", 1))
	if err == nil || !strings.Contains(err.Error(), "system_account") {
		t.Fatalf("reload changing system_account: %v", err)
	}
	if srv.busd.systemAccount().name != "SYS" {
		t.Fatal("the refused reload changed the system account")
	}
	// A reload with a broken import is refused whole.
	bad := strings.Replace(reloadV2, `subject: "echo"}}`, `subject: "nope"}}`, 1)
	if _, perr := ProcessConfigFile(accConf(t, bad)); perr == nil {
		t.Fatal("the broken import parsed")
	}
	o := &Options{SystemAccount: "SYS", Accounts: []*Account{{Name: "SYS"},
		{Name: "X", Imports: []*Import{{Service: true, Account: "SYS", Subject: "nope"}}}}}
	if err := srv.busd.Reload(o); err == nil || !strings.Contains(err.Error(), "not authorized") {
		t.Fatalf("Reload with an import nobody exports: %v", err)
	}
	if srv.busd.accounts().byName["X"] != nil {
		t.Fatal("the refused reload was applied")
	}
}
