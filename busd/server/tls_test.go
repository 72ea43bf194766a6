package server

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// secCA is a throwaway certificate authority made at test time.
type secCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

var secSerial = big.NewInt(1)

func secNewCA(t testing.TB, name string) *secCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	secSerial.Add(secSerial, big.NewInt(1))
	tmpl := &x509.Certificate{
		SerialNumber:          new(big.Int).Set(secSerial),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &secCA{cert: cert, key: key, pool: pool}
}

// issue makes a leaf certificate for a server (127.0.0.1) or a client.
func (ca *secCA) issue(t testing.TB, cn string, server bool) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	secSerial.Add(secSerial, big.NewInt(1))
	tmpl := &x509.Certificate{
		SerialNumber: new(big.Int).Set(secSerial),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
		tmpl.DNSNames = []string{"localhost"}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der, ca.cert.Raw}, PrivateKey: key}
}

// secTLSServer starts a TLS server; with verify, client certificates of ca are required.
func secTLSServer(t testing.TB, ca *secCA, verify bool, o *Options) *Server {
	t.Helper()
	if o == nil {
		o = &Options{}
	}
	o.TLSConfig = &tls.Config{
		Certificates: []tls.Certificate{ca.issue(t, "busd", true)},
		MinVersion:   tls.VersionTLS12,
	}
	if verify {
		o.TLSConfig.ClientCAs = ca.pool
		// ClientAuth left unset on purpose: TLSVerify alone must enforce it.
	}
	o.TLSVerify = verify
	return runServer(t, o)
}

func secClientTLS(ca *secCA, certs ...tls.Certificate) *tls.Config {
	return &tls.Config{RootCAs: ca.pool, Certificates: certs, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
}

func TestTLSConnect(t *testing.T) {
	ca := secNewCA(t, "test CA")
	s := secTLSServer(t, ca, false, &Options{Users: []*User{{Username: "u", Password: "p"}}})

	// INFO is plaintext and advertises TLS; the handshake follows it.
	conn, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(conn)
	line, err := br.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	var info map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(strings.TrimPrefix(line, "INFO "))), &info); err != nil {
		t.Fatalf("INFO %q: %v", line, err)
	}
	if info["tls_required"] != true || info["tls_verify"] == true {
		t.Fatalf("INFO tls_required=%v tls_verify=%v, want true and absent", info["tls_required"], info["tls_verify"])
	}
	tc := tls.Client(conn, secClientTLS(ca))
	if err := tc.Handshake(); err != nil {
		t.Fatalf("handshake after INFO: %v", err)
	}
	rc := &secRaw{t: t, conn: tc, r: bufio.NewReader(tc)}
	rc.connect(map[string]any{"user": "u", "pass": "p"})
	rc.expect("PONG")

	// nats.go, with auth on top of TLS.
	nc := secConnect(t, s, nats.Secure(secClientTLS(ca)), nats.UserInfo("u", "p"))
	sub, err := nc.SubscribeSync("enc")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Publish("enc", []byte("over tls")); err != nil {
		t.Fatal(err)
	}
	m, err := sub.NextMsg(5 * time.Second)
	if err != nil || string(m.Data) != "over tls" {
		t.Fatalf("got %v, %v", m, err)
	}
	if _, err := nc.TLSConnectionState(); err != nil {
		t.Errorf("nats.go connection is not TLS: %v", err)
	}
	if err := secConnectErr(s, nats.Secure(secClientTLS(ca)), nats.UserInfo("u", "x")); !secIsAuthErr(err) {
		t.Errorf("bad password over TLS: %v", err)
	}
	// A client that does not trust the server's CA refuses it.
	other := secNewCA(t, "other CA")
	if err := secConnectErr(s, nats.Secure(secClientTLS(other)), nats.UserInfo("u", "p")); err == nil {
		t.Errorf("connected trusting the wrong CA")
	}
}

// TestTLSPlaintextRejected: a client that ignores tls_required and speaks
// plaintext after INFO gets nothing but a closed connection.
func TestTLSPlaintextRejected(t *testing.T) {
	ca := secNewCA(t, "test CA")
	s := secTLSServer(t, ca, false, &Options{TLSTimeout: time.Second})
	rc := secDial(t, s)
	if rc.info["tls_required"] != true {
		t.Fatalf("tls_required = %v", rc.info["tls_required"])
	}
	rc.send("CONNECT {\"verbose\":true}\r\nPING\r\nSUB > 1\r\n")
	// The server's TLS stack may answer with an alert record; what must not
	// come back is protocol: no +OK, no PONG.
	_ = rc.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	var got []byte
	for i := 0; i < 100; i++ {
		n, err := rc.conn.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			break
		}
	}
	if strings.Contains(string(got), "PONG") || strings.Contains(string(got), "+OK") {
		t.Fatalf("plaintext client got protocol answers: %q", got)
	}
	secWait(t, "the plaintext client to be dropped", func() bool { return s.NumClients() == 0 })

	// Silence instead of a handshake: closed after the TLS timeout.
	quiet := secServerTLSTimeout(t, ca, 100*time.Millisecond)
	q := secDial(t, quiet)
	q.expectClosed()
}

func secServerTLSTimeout(t *testing.T, ca *secCA, d time.Duration) *Server {
	return secTLSServer(t, ca, false, &Options{TLSTimeout: d})
}

func TestTLSVerify(t *testing.T) {
	ca := secNewCA(t, "test CA")
	other := secNewCA(t, "other CA")
	s := secTLSServer(t, ca, true, nil)
	if s.opts.TLSConfig.ClientAuth != tls.RequireAndVerifyClientCert {
		t.Fatalf("TLSVerify did not require client certificates: %v", s.opts.TLSConfig.ClientAuth)
	}
	rc := secDial(t, s)
	if rc.info["tls_verify"] != true || rc.info["tls_required"] != true {
		t.Fatalf("INFO tls_verify=%v tls_required=%v", rc.info["tls_verify"], rc.info["tls_required"])
	}

	good := ca.issue(t, "client", false)
	nc := secConnect(t, s, nats.Secure(secClientTLS(ca, good)))
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := secConnectErr(s, nats.Secure(secClientTLS(ca))); err == nil {
		t.Errorf("connected without a client certificate")
	}
	if err := secConnectErr(s, nats.Secure(secClientTLS(ca, other.issue(t, "intruder", false)))); err == nil {
		t.Errorf("connected with a certificate from an untrusted CA")
	}
	// A server certificate of the right CA is not a client certificate.
	if err := secConnectErr(s, nats.Secure(secClientTLS(ca, ca.issue(t, "srv", true)))); err == nil {
		t.Errorf("connected with a server-only certificate")
	}
	secWait(t, "refused clients to be dropped", func() bool { return s.NumClients() == 1 })
}

// TestTLSFromNatsServerConfig: a tls block written for nats-server, with
// verify, works unchanged.
func TestTLSFromNatsServerConfig(t *testing.T) {
	ca := secNewCA(t, "test CA")
	dir := t.TempDir()
	write := func(name string, blocks ...*pem.Block) string {
		var b []byte
		for _, blk := range blocks {
			b = append(b, pem.EncodeToMemory(blk)...)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	srv := ca.issue(t, "busd", true)
	key, err := x509.MarshalPKCS8PrivateKey(srv.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	certFile := write("server.pem", &pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate[0]})
	keyFile := write("server-key.pem", &pem.Block{Type: "PRIVATE KEY", Bytes: key})
	caFile := write("ca.pem", &pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw})
	o, err := ParseConfig("tls.conf", []byte(fmt.Sprintf(`
tls {
  cert_file: %q
  key_file: %q
  ca_file: %q
  verify: true
  timeout: 2
}
authorization { user: u, password: p }
`, certFile, keyFile, caFile)))
	if err != nil {
		t.Fatal(err)
	}
	o.Port = -1
	s := runServer(t, o)
	rc := secDial(t, s)
	if rc.info["tls_required"] != true || rc.info["tls_verify"] != true || rc.info["auth_required"] != true {
		t.Fatalf("INFO %v", rc.info)
	}
	nc := secConnect(t, s, nats.Secure(secClientTLS(ca, ca.issue(t, "client", false))), nats.UserInfo("u", "p"))
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := secConnectErr(s, nats.Secure(secClientTLS(ca)), nats.UserInfo("u", "p")); err == nil {
		t.Error("connected without a client certificate")
	}
}

// TestTLSStalledHandshakeDoesNotBlockAccept: clients that connect and never
// start their handshake wait on their own goroutines, not in the accept loop;
// a well-behaved client connects at once meanwhile, and the stalled ones are
// closed at the TLS timeout with a record saying why.
func TestTLSStalledHandshakeDoesNotBlockAccept(t *testing.T) {
	ca := secNewCA(t, "test CA")
	s := secTLSServer(t, ca, false, &Options{TLSTimeout: time.Hour})
	var stalled []*secRaw
	for i := 0; i < 5; i++ {
		stalled = append(stalled, secDial(t, s))
	}
	nc := secConnect(t, s, nats.Secure(secClientTLS(ca)), nats.Timeout(5*time.Second))
	if err := nc.Flush(); err != nil {
		t.Fatalf("a good client behind 5 stalled handshakes: %v", err)
	}
	nc.Close()
	// The stalled clients end when they hang up.
	for _, rc := range stalled {
		rc.conn.Close()
	}
	secWait(t, "the stalled clients to be closed", func() bool { return s.NumClients() == 0 })
	cz := s.connz(&connzOptions{state: connClosed, limit: 100, sort: "cid"})
	n := 0
	for _, c := range cz.Conns {
		if c.Reason == closeTLSHandshake.String() {
			n++
		}
	}
	if n != len(stalled) {
		t.Errorf("%d closed connections with reason %q, want %d", n, closeTLSHandshake, len(stalled))
	}
}
