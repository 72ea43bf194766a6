package server

import (
	"crypto/tls"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestReloadCoversEveryOption: every field of Options is either applied by
// Reload or refused by it; none is silently ignored.
func TestReloadCoversEveryOption(t *testing.T) {
	listed := map[string]int{}
	for _, ro := range reloadOpts {
		listed[ro.field]++
	}
	ty := reflect.TypeOf(Options{})
	for i := 0; i < ty.NumField(); i++ {
		f := ty.Field(i).Name
		if f == "ConfigFile" {
			continue
		}
		if listed[f] != 1 {
			t.Errorf("Options.%s is listed %d times in reloadOpts, want once", f, listed[f])
		}
		delete(listed, f)
	}
	for f := range listed {
		t.Errorf("reloadOpts lists %s, which is not a field of Options", f)
	}
}

// liveChanges changes each option Reload applies; TestReloadAppliesEveryOption
// checks the table is complete.
var liveChanges = map[string]func(o *Options){
	"MaxPayload":     func(o *Options) { o.MaxPayload = 1000 },
	"MaxPending":     func(o *Options) { o.MaxPending = 2 << 20 },
	"MaxControlLine": func(o *Options) { o.MaxControlLine = 64 },
	"MaxConn":        func(o *Options) { o.MaxConn = 5 },
	"MaxSubs":        func(o *Options) { o.MaxSubs = 2 },
	"PingInterval":   func(o *Options) { o.PingInterval = time.Hour },
	"MaxPingsOut":    func(o *Options) { o.MaxPingsOut = 7 },
	"WriteDeadline":  func(o *Options) { o.WriteDeadline = time.Minute },
	"Username":       func(o *Options) { o.Username, o.Password = "u", "p" },
	"Password":       func(o *Options) { o.Username, o.Password = "u", "p2" },
	"Authorization":  func(o *Options) { o.Authorization = "tok" },
	"Users":          func(o *Options) { o.Users = []*User{{Username: "a", Password: "b"}} },
	"Nkeys": func(o *Options) {
		o.Nkeys = []*NkeyUser{{Nkey: "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4"}}
	},
	"AuthTimeout": func(o *Options) { o.AuthTimeout = 9 * time.Second },
	"DefaultPermissions": func(o *Options) {
		o.DefaultPermissions = &Permissions{Publish: &SubjectPermission{Allow: []string{"a"}}}
	},
	"Accounts":            func(o *Options) { o.Accounts = []*Account{{Name: "A"}} },
	"NoAuthUser":          func(o *Options) { o.Users, o.NoAuthUser = []*User{{Username: "anon", Password: "x"}}, "anon" },
	"TLSConfig":           func(o *Options) { o.TLSConfig = certLess() },
	"TLSTimeout":          func(o *Options) { o.TLSTimeout = 3 * time.Second },
	"TLSVerify":           func(o *Options) { o.TLSConfig, o.TLSVerify = certLess(), true },
	"LameDuckDuration":    func(o *Options) { o.LameDuckDuration = time.Hour },
	"LameDuckGracePeriod": func(o *Options) { o.LameDuckGracePeriod = time.Minute },
	"Debug":               func(o *Options) { o.Debug = true },
	"Trace":               func(o *Options) { o.Trace = true },
}

// certLess is a TLS configuration that has a way to find a certificate.
func certLess() *tls.Config {
	return &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return nil, errors.New("none") }}
}

// TestReloadAppliesEveryOption changes each run-time option alone and checks
// it is in force afterwards.
func TestReloadAppliesEveryOption(t *testing.T) {
	for _, ro := range reloadOpts {
		if !ro.live {
			continue
		}
		change := liveChanges[ro.field]
		if change == nil {
			t.Errorf("no change listed for %s", ro.field)
			continue
		}
		t.Run(ro.field, func(t *testing.T) {
			s := runServer(t, nil)
			o := s.Options()
			before := ro.get(&o)
			change(&o)
			want := ro.get(&o)
			if err := s.Reload(&o); err != nil {
				t.Fatal(err)
			}
			now := s.Options()
			got := ro.get(&now)
			if sameOpt(got, before) || (ro.field != "TLSVerify" && ro.field != "TLSConfig" && !sameOpt(got, want)) {
				t.Errorf("%s: %v before, %v after a reload to %v", ro.name, before, got, want)
			}
		})
	}
	s := runServer(t, nil)
	o := s.Options()
	o.Trace = true
	if err := s.Reload(&o); err != nil || !s.trace.Load() || !s.debug.Load() {
		t.Errorf("trace after reload: %v, trace %v debug %v", err, s.trace.Load(), s.debug.Load())
	}
}

// TestReloadLimitsReachConnectedClients: a lowered limit holds at once for
// clients already connected, as nats-server's does.
func TestReloadLimitsReachConnectedClients(t *testing.T) {
	s := runServer(t, nil)
	subs := dial(t, s)
	subs.send("CONNECT {\"verbose\":false}\r\nSUB a 1\r\n")
	subs.sync()
	pay := dial(t, s)
	pay.send("CONNECT {\"verbose\":false}\r\n")
	pay.sync()
	line := dial(t, s)
	line.send("CONNECT {\"verbose\":false}\r\n")
	line.sync()

	o := s.Options()
	o.MaxPayload, o.MaxControlLine, o.MaxSubs = 10, 32, 1
	if err := s.Reload(&o); err != nil {
		t.Fatal(err)
	}
	subs.send("SUB b 2\r\n")
	subs.expect("-ERR 'maximum subscriptions exceeded'")
	pay.send("PUB a 11\r\n")
	pay.expect("-ERR 'Maximum Payload Violation'")
	pay.expectClosed()
	line.send("SUB " + strings.Repeat("x", 40) + " 1\r\n")
	line.expect("-ERR 'maximum control line exceeded'")
	line.expectClosed()

	// A new client is told the new max_payload in its INFO.
	if got := dial(t, s).info["max_payload"]; got != float64(10) {
		t.Errorf("INFO max_payload %v after reload, want 10", got)
	}
}

// TestReloadMaxConnClosesExcess: lowering max_connections below the number of
// clients closes clients until they fit, as nats-server does.
func TestReloadMaxConnClosesExcess(t *testing.T) {
	s := runServer(t, nil)
	var rcs []*rawConn
	for i := 0; i < 5; i++ {
		rc := dial(t, s)
		rc.send("CONNECT {\"verbose\":false}\r\n")
		rc.sync()
		rcs = append(rcs, rc)
	}
	o := s.Options()
	o.MaxConn = 2
	if err := s.Reload(&o); err != nil {
		t.Fatal(err)
	}
	waitNoClientsBut(t, s, 2)
	closed := 0
	for _, rc := range rcs {
		_, _ = rc.conn.Write([]byte("PING\r\n")) // may fail on a connection the server closed
		switch l := rc.readLineOrClose(); l {
		case "-ERR 'maximum connections exceeded'":
			closed++
		case "PONG":
		default:
			t.Errorf("got %q", l)
		}
	}
	if closed != 3 {
		t.Errorf("%d clients told they exceeded max_connections, want 3", closed)
	}
}

// waitNoClientsBut waits until s has n clients.
func waitNoClientsBut(t *testing.T, s *Server, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for s.NumClients() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d clients, want %d", s.NumClients(), n)
		}
		time.Sleep(5 * time.Millisecond) // closing gives no signal outside the server
	}
}

// readLineOrClose reads one line, or returns "" at EOF.
func (rc *rawConn) readLineOrClose() string {
	rc.t.Helper()
	_ = rc.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	l, err := rc.r.ReadString('\n')
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(l, "\r\n")
}

// TestReloadRefusesWhatCannotChange: where busd listens and its name are
// fixed; a reload changing them fails naming each, and applies nothing else
// it carried.
func TestReloadRefusesWhatCannotChange(t *testing.T) {
	s := runServer(t, &Options{HTTPPort: -1, ServerName: "one"})
	o := s.Options()
	o.Port, o.Host, o.HTTPPort, o.ServerName = 14333, "127.0.0.2", 18222, "two"
	o.MaxPayload = 1000
	err := s.Reload(&o)
	if err == nil {
		t.Fatal("reload changing port, host, http_port and server_name succeeded")
	}
	var names []string
	for _, e := range flattenErrors(err) {
		var re *ReloadError
		if errors.As(e, &re) {
			names = append(names, re.Option)
		}
	}
	if strings.Join(names, ",") != "host,port,http_port,server_name" {
		t.Errorf("refused %v, want host, port, http_port, server_name (error: %v)", names, err)
	}
	if !strings.Contains(err.Error(), "config reload not supported for port: old=-1, new=14333") {
		t.Errorf("error %q does not name the port and its values", err)
	}
	if got := s.Options().MaxPayload; got != DefaultMaxPayload {
		t.Errorf("max_payload %d after a refused reload, want the old %d", got, DefaultMaxPayload)
	}

	// Invalid options are refused the same way.
	o = s.Options()
	o.MaxPending = -1
	if err := s.Reload(&o); err == nil || !strings.Contains(err.Error(), "limits must not be negative") {
		t.Errorf("negative max_pending: %v", err)
	}
	o = s.Options()
	o.TLSConfig = &tls.Config{}
	if err := s.Reload(&o); err == nil || !strings.Contains(err.Error(), "tls") {
		t.Errorf("a TLS configuration without a certificate: %v", err)
	}
	if s.Options().TLSConfig != nil {
		t.Error("refused TLS configuration installed")
	}
}

func flattenErrors(err error) []error {
	var out []error
	var walk func(error)
	walk = func(e error) {
		switch x := e.(type) {
		case interface{ Unwrap() []error }:
			for _, c := range x.Unwrap() {
				walk(c)
			}
		case interface{ Unwrap() error }:
			walk(x.Unwrap())
		default:
			out = append(out, e)
		}
	}
	walk(err)
	return out
}
