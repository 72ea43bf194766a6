package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// The system account's requests and events, on busd and on nats-server with
// the same file. Answers are decoded into nats-server's own types with
// unknown fields refused, so every name busd writes is one nats-server has.

// strictDecode decodes data into v, refusing fields v does not have.
func strictDecode(t testing.TB, what string, data []byte, v any) {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		t.Fatalf("%s: %v in %s", what, err, data)
	}
}

// sysRequest sends a request as nc and returns the answer's data.
func sysReq(t testing.TB, nc *nats.Conn, subj, body string) []byte {
	t.Helper()
	m, err := nc.Request(subj, []byte(body), 5*time.Second)
	if err != nil {
		t.Fatalf("%s: %v", subj, err)
	}
	return m.Data
}

func TestSysRequestsDenyOtherAccounts(t *testing.T) {
	accBoth(t, accTwoAccounts, func(t *testing.T, srv *accServer) {
		a := accConnect(t, srv, "a")
		for _, subj := range []string{"$SYS.REQ.SERVER.PING", "$SYS.REQ.SERVER.PING.VARZ", "$SYS.REQ.ACCOUNT.A.CONNZ", "$SYS.REQ.ACCOUNT.PING.STATZ.X"} {
			if _, err := a.Request(subj, nil, 5*time.Second); !errors.Is(err, nats.ErrNoResponders) {
				t.Errorf("a normal user's %s: %v, want no responders", subj, err)
			}
		}
		// Subscribing to $SYS in another account sees none of the system's events.
		spy, err := a.SubscribeSync("$SYS.>")
		if err != nil {
			t.Fatal(err)
		}
		accFlush(t, a)
		b := accConnect(t, srv, "b")
		accFlush(t, b)
		b.Close()
		// The account's own connz and user info are the only $SYS it answers.
		accNone(t, spy, "A's $SYS.> while B connected and left")
	})
}

func TestSysServerRequests(t *testing.T) {
	accBoth(t, accTwoAccounts, func(t *testing.T, srv *accServer) {
		sys := accConnect(t, srv, "sys")
		a := accConnect(t, srv, "a")
		accFlush(t, a)
		id := sys.ConnectedServerId()

		var ping natsserver.ServerStatsMsg
		strictDecode(t, "PING", sysReq(t, sys, "$SYS.REQ.SERVER.PING", ""), &ping)
		if ping.Server.ID != id || ping.Stats.ActiveServers != 1 || ping.Stats.Connections != 2 || ping.Stats.Start.IsZero() {
			t.Fatalf("PING: server %+v stats %+v", ping.Server, ping.Stats)
		}
		for _, subj := range []string{"$SYS.REQ.SERVER.PING.VARZ", "$SYS.REQ.SERVER." + id + ".VARZ"} {
			var v natsserver.ServerAPIVarzResponse
			strictDecode(t, subj, sysReq(t, sys, subj, "{}"), &v)
			if v.Error != nil || v.Data == nil || v.Data.ID != id || v.Data.SystemAccount != "SYS" || v.Server.ID != id {
				t.Fatalf("%s: %+v", subj, v)
			}
		}
		var cz natsserver.ServerAPIConnzResponse
		strictDecode(t, "CONNZ", sysReq(t, sys, "$SYS.REQ.SERVER.PING.CONNZ", `{"auth":true,"subscriptions":true}`), &cz)
		if cz.Error != nil || cz.Data == nil || cz.Data.NumConns != 2 {
			t.Fatalf("CONNZ: %+v", cz.Data)
		}
		accs := map[string]string{}
		for _, c := range cz.Data.Conns {
			accs[c.AuthorizedUser] = c.Account
		}
		if accs["a"] != "A" || accs["sys"] != "SYS" {
			t.Fatalf("CONNZ accounts by user: %v", accs)
		}
		strictDecode(t, "CONNZ acc", sysReq(t, sys, "$SYS.REQ.SERVER.PING.CONNZ", `{"acc":"A"}`), &cz)
		if cz.Data.NumConns != 1 {
			t.Fatalf("CONNZ filtered on A: %d connections", cz.Data.NumConns)
		}
		var sz natsserver.ServerAPISubszResponse
		strictDecode(t, "SUBSZ", sysReq(t, sys, "$SYS.REQ.SERVER.PING.SUBSZ", "{}"), &sz)
		if sz.Error != nil || sz.Data == nil {
			t.Fatalf("SUBSZ: %+v", sz)
		}
		var hz natsserver.ServerAPIHealthzResponse
		strictDecode(t, "HEALTHZ", sysReq(t, sys, "$SYS.REQ.SERVER.PING.HEALTHZ", ""), &hz)
		if hz.Error != nil || hz.Data == nil || hz.Data.Status != "ok" || hz.Data.StatusCode != 200 {
			t.Fatalf("HEALTHZ: %+v", hz.Data)
		}
		var st natsserver.ServerStatsMsg
		strictDecode(t, "STATSZ", sysReq(t, sys, "$SYS.REQ.SERVER."+id+".STATSZ", ""), &st)
		if st.Server.ID != id || st.Stats.Connections != 2 {
			t.Fatalf("STATSZ: %+v", st)
		}
		var idz natsserver.ServerID
		strictDecode(t, "IDZ", sysReq(t, sys, "$SYS.REQ.SERVER.PING.IDZ", ""), &idz)
		if idz.ID != id {
			t.Fatalf("IDZ %+v", idz)
		}
		var az natsserver.ServerAPIAccountzResponse
		strictDecode(t, "ACCOUNTZ", sysReq(t, sys, "$SYS.REQ.SERVER.PING.ACCOUNTZ", ""), &az)
		if az.Data == nil || az.Data.SystemAccount != "SYS" || !slices.Contains(az.Data.Accounts, "A") || !slices.Contains(az.Data.Accounts, "$G") {
			t.Fatalf("ACCOUNTZ: %+v", az.Data)
		}
		strictDecode(t, "ACCOUNTZ A", sysReq(t, sys, "$SYS.REQ.SERVER.PING.ACCOUNTZ", `{"account":"A"}`), &az)
		if d := az.Data.Account; d == nil || d.AccountName != "A" || d.ClientCnt != 1 || d.IsSystem {
			t.Fatalf("ACCOUNTZ A: %+v", az.Data.Account)
		}
		// A filter that excludes the server gets no answer at all.
		if _, err := sys.Request("$SYS.REQ.SERVER.PING.VARZ", []byte(`{"server_name":"not-this-one","exact_match":true}`), 300*time.Millisecond); !errors.Is(err, nats.ErrTimeout) {
			t.Fatalf("filtered request: %v, want a timeout", err)
		}
	})
}

func TestSysAccountRequests(t *testing.T) {
	conf := strings.Replace(accTwoAccounts, "{user: a2, password: pw}", `{user: a2, password: pw, permissions: {publish: ["x.>", "$SYS.REQ.>", "_INBOX.>"], subscribe: {deny: "secret"}}}`, 1)
	accBoth(t, conf, func(t *testing.T, srv *accServer) {
		sys, a, a2 := accConnect(t, srv, "sys"), accConnect(t, srv, "a"), accConnect(t, srv, "a2")
		accFlush(t, a, a2)

		// Who am I, from any account.
		var ui struct {
			Data  *natsserver.UserInfo `json:"data"`
			Error any                  `json:"error"`
		}
		if err := json.Unmarshal(sysReq(t, a, "$SYS.REQ.USER.INFO", ""), &ui); err != nil || ui.Data == nil {
			t.Fatalf("USER.INFO: %v %+v", err, ui)
		}
		if ui.Data.UserID != "a" || ui.Data.Account != "A" || ui.Data.Permissions != nil {
			t.Fatalf("USER.INFO for a: %+v", ui.Data)
		}
		if err := json.Unmarshal(sysReq(t, a2, "$SYS.REQ.USER.INFO", ""), &ui); err != nil {
			t.Fatal(err)
		}
		if p := ui.Data.Permissions; p == nil || p.Publish == nil || !slices.Contains(p.Publish.Allow, "x.>") || p.Subscribe == nil || !slices.Equal(p.Subscribe.Deny, []string{"secret"}) {
			t.Fatalf("USER.INFO permissions for a2: %+v", ui.Data.Permissions)
		}
		if err := json.Unmarshal(sysReq(t, sys, "$SYS.REQ.USER.INFO", ""), &ui); err != nil || ui.Data.Account != "SYS" {
			t.Fatalf("USER.INFO for sys: %v %+v", err, ui.Data)
		}

		// An account's own connections, and only those.
		var cz natsserver.ServerAPIConnzResponse
		strictDecode(t, "A's CONNZ", sysReq(t, a, "$SYS.REQ.ACCOUNT.PING.CONNZ", "{}"), &cz)
		if cz.Data == nil || cz.Data.NumConns != 2 {
			t.Fatalf("A's own CONNZ: %+v", cz.Data)
		}
		strictDecode(t, "A's server CONNZ", sysReq(t, a, "$SYS.REQ.SERVER.PING.CONNZ", "{}"), &cz)
		if cz.Data == nil || cz.Data.NumConns != 2 {
			t.Fatalf("A's $SYS.REQ.SERVER.PING.CONNZ: %+v", cz.Data)
		}
		strictDecode(t, "SYS's A CONNZ", sysReq(t, sys, "$SYS.REQ.ACCOUNT.A.CONNZ", "{}"), &cz)
		if cz.Data == nil || cz.Data.NumConns != 2 {
			t.Fatalf("$SYS.REQ.ACCOUNT.A.CONNZ: %+v", cz.Data)
		}

		// Account statz: every account with connections, or one.
		var stz struct {
			Data *natsserver.AccountStatz `json:"data"`
		}
		if err := json.Unmarshal(sysReq(t, sys, "$SYS.REQ.ACCOUNT.PING.STATZ", "{}"), &stz); err != nil || stz.Data == nil {
			t.Fatalf("ACCOUNT.PING.STATZ: %v", err)
		}
		conns := map[string]int{}
		for _, s := range stz.Data.Accounts {
			conns[s.Account] = s.Conns
		}
		if conns["A"] != 2 || conns["SYS"] != 1 || len(conns) != 2 {
			t.Fatalf("account statz connections %v, want A:2 SYS:1", conns)
		}
		if err := json.Unmarshal(sysReq(t, a, "$SYS.REQ.ACCOUNT.PING.STATZ", "{}"), &stz); err != nil || len(stz.Data.Accounts) != 1 || stz.Data.Accounts[0].Account != "A" {
			t.Fatalf("A's own statz: %v %+v", err, stz.Data)
		}
		var info struct {
			Data *natsserver.AccountInfo `json:"data"`
		}
		if err := json.Unmarshal(sysReq(t, sys, "$SYS.REQ.ACCOUNT.B.INFO", ""), &info); err != nil || info.Data == nil || info.Data.AccountName != "B" {
			t.Fatalf("ACCOUNT.B.INFO: %v %+v", err, info.Data)
		}
	})
}

// TestSysEvents: connect and disconnect advisories, decoded as nats-server's
// types, naming the client's account, user, id and server.
func TestSysEvents(t *testing.T) {
	accBoth(t, accTwoAccounts, func(t *testing.T, srv *accServer) {
		sys := accConnect(t, srv, "sys")
		// Only account A's events: the system user's own connect event is
		// sent asynchronously by nats-server and may arrive after these
		// subscriptions are in place, ahead of A's.
		conns, _ := sys.SubscribeSync("$SYS.ACCOUNT.A.CONNECT")
		discs, _ := sys.SubscribeSync("$SYS.ACCOUNT.A.DISCONNECT")
		accConns, _ := sys.SubscribeSync("$SYS.ACCOUNT.A.SERVER.CONNS")
		accFlush(t, sys)

		a := accConnect(t, srv, "a", nats.Name("eventful"))
		cid, _ := a.GetClientID()
		m := accNext(t, conns, "connect event")
		if m.Subject != "$SYS.ACCOUNT.A.CONNECT" {
			t.Fatalf("connect event on %q", m.Subject)
		}
		var ce natsserver.ConnectEventMsg
		strictDecode(t, "connect event", m.Data, &ce)
		if ce.Type != natsserver.ConnectEventMsgType || ce.Client.Account != "A" || ce.Client.User != "a" ||
			ce.Client.ID != cid || ce.Client.Name != "eventful" || ce.Server.ID != a.ConnectedServerId() || ce.ID == "" {
			t.Fatalf("connect event %+v", ce)
		}
		var ac natsserver.AccountNumConns
		strictDecode(t, "account conns", accNext(t, accConns, "account conns event").Data, &ac)
		if ac.Account != "A" || ac.Conns != 1 || ac.Type != natsserver.AccountNumConnsMsgType {
			t.Fatalf("account conns %+v", ac)
		}
		if err := a.Publish("x", []byte("12345")); err != nil {
			t.Fatal(err)
		}
		accFlush(t, a)
		a.Close()
		m = accNext(t, discs, "disconnect event")
		var de natsserver.DisconnectEventMsg
		strictDecode(t, "disconnect event", m.Data, &de)
		if m.Subject != "$SYS.ACCOUNT.A.DISCONNECT" || de.Type != natsserver.DisconnectEventMsgType || de.Client.ID != cid ||
			de.Reason != "Client Closed" || de.Sent.Msgs != 1 || de.Sent.Bytes != 5 || de.Client.Stop == nil {
			t.Fatalf("disconnect event on %q: %+v", m.Subject, de)
		}
		strictDecode(t, "account conns", accNext(t, accConns, "account conns event").Data, &ac)
		if ac.Conns != 0 {
			t.Fatalf("account conns after the close: %+v", ac)
		}
	})
}

// TestSysStatszEvent: $SYS.SERVER.<id>.STATSZ comes by itself to a
// subscriber, soon after it subscribes.
func TestSysStatszEvent(t *testing.T) {
	accBoth(t, accTwoAccounts, func(t *testing.T, srv *accServer) {
		sys := accConnect(t, srv, "sys")
		sub, _ := sys.SubscribeSync("$SYS.SERVER.*.STATSZ")
		accFlush(t, sys)
		m, err := sub.NextMsg(15 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var st natsserver.ServerStatsMsg
		strictDecode(t, "statsz", m.Data, &st)
		if m.Subject != "$SYS.SERVER."+sys.ConnectedServerId()+".STATSZ" || st.Server.ID != sys.ConnectedServerId() {
			t.Fatalf("statsz on %q: %+v", m.Subject, st.Server)
		}
	})
}

// TestSysConnectInfo: nats.go learns from the INFO after the first PONG
// whether it is in the system account.
func TestSysConnectInfo(t *testing.T) {
	accBoth(t, accTwoAccounts, func(t *testing.T, srv *accServer) {
		sys, a := accConnect(t, srv, "sys"), accConnect(t, srv, "a")
		accFlush(t, sys, a)
		if !sys.IsSystemAccount() || a.IsSystemAccount() {
			t.Fatalf("IsSystemAccount: sys %v, a %v", sys.IsSystemAccount(), a.IsSystemAccount())
		}
	})
}

// TestSysDefaultConfig: without accounts, $G clients get their user info and
// connz, and $SYS requests reach nobody.
func TestSysDefaultConfig(t *testing.T) {
	accBoth(t, "", func(t *testing.T, srv *accServer) {
		nc := accConnect(t, srv, "")
		var ui struct {
			Data *natsserver.UserInfo `json:"data"`
		}
		if err := json.Unmarshal(sysReq(t, nc, "$SYS.REQ.USER.INFO", ""), &ui); err != nil || ui.Data.Account != "$G" {
			t.Fatalf("USER.INFO: %v %+v", err, ui.Data)
		}
		if _, err := nc.Request("$SYS.REQ.SERVER.PING", nil, 5*time.Second); !errors.Is(err, nats.ErrNoResponders) {
			t.Fatalf("PING from $G: %v", err)
		}
	})
}

// TestSysAccountzHTTP: /accountz lists the accounts and details one, with
// nats-server's field names.
func TestSysAccountzHTTP(t *testing.T) {
	o, err := ProcessConfigFile(accConf(t, accImports))
	if err != nil {
		t.Fatal(err)
	}
	o.HTTPPort = -1
	s := runServer(t, o)
	get := func(path string, v any) {
		t.Helper()
		resp, err := http.Get(fmt.Sprintf("http://%s%s", s.MonitorAddr(), path))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, b)
		}
		strictDecode(t, path, b, v)
	}
	var list natsserver.Accountz
	get("/accountz", &list)
	if !slices.Equal(list.Accounts, []string{"$G", "CLI", "OTHER", "SVC", "SYS"}) || list.SystemAccount != "SYS" {
		t.Fatalf("/accountz: %+v", list)
	}
	var one natsserver.Accountz
	get("/accountz?acc=CLI", &one)
	d := one.Account
	if d == nil || d.AccountName != "CLI" || len(d.Imports) != 7 {
		t.Fatalf("/accountz?acc=CLI: %+v", d)
	}
	get("/accountz?acc=SVC", &one)
	if d := one.Account; len(d.Exports) != 7 {
		t.Fatalf("/accountz?acc=SVC exports: %+v", d.Exports)
	}
	var v natsserver.Varz
	resp, err := http.Get(fmt.Sprintf("http://%s/varz", s.MonitorAddr()))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil || v.SystemAccount != "SYS" {
		t.Fatalf("/varz system_account: %v %q", err, v.SystemAccount)
	}
	resp2, err := http.Get(fmt.Sprintf("http://%s/accountz?acc=NOPE", s.MonitorAddr()))
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if resp2.StatusCode != http.StatusBadRequest {
		t.Fatalf("/accountz of an unknown account: %d", resp2.StatusCode)
	}
}

// TestSysQueueBound: requests past sysQueueMax wait nowhere; events still do.
func TestSysQueueBound(t *testing.T) {
	s, err := New(&Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ss := s.sys
	ss.running = true // queue without a goroutine draining it
	for range sysQueueMax + 100 {
		ss.push(func() {}, true)
	}
	ss.enqueue(func() {})
	if len(ss.q) != sysQueueMax+1 || ss.nreq != sysQueueMax || ss.dropped != 100 {
		t.Fatalf("queued %d (requests %d, dropped %d), want %d requests and the event", len(ss.q), ss.nreq, ss.dropped, sysQueueMax)
	}
	for _, f := range ss.q {
		f()
	}
	if ss.nreq != 0 || ss.dropped != 0 {
		t.Fatalf("after draining: %d requests counted, %d dropped", ss.nreq, ss.dropped)
	}
}

// TestConnzAccountClosed: /connz?acc= finds closed connections by account too.
func TestConnzAccountClosed(t *testing.T) {
	srv := accBusd(t, accTwoAccounts)
	a := accConnect(t, srv, "a")
	accFlush(t, a)
	a.Close()
	b := accConnect(t, srv, "b")
	accFlush(t, b)
	secWait(t, "a's close recorded", func() bool {
		return len(srv.busd.connz(&connzOptions{sort: "cid", state: connClosed, limit: 10, acc: "A"}).Conns) == 1
	})
	cz := srv.busd.connz(&connzOptions{sort: "cid", state: connAny, limit: 10, acc: "A", auth: true})
	if len(cz.Conns) != 1 || cz.Conns[0].Account != "A" || cz.Conns[0].AuthorizedUser != "a" {
		t.Fatalf("closed connections of A: %+v", cz.Conns)
	}
}
