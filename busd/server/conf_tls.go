package server

// The tls block of a configuration file.

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"strings"
	"time"
)

// tls maps the tls block and builds the server's tls.Config from it. As in
// nats-server, relative file names are relative to the working directory.
func (l *confLoader) tls(v confValue) {
	es, ok := l.block(v)
	if !ok {
		return
	}
	var certAt, keyAt, caAt *confValue
	var cert, key, ca string
	verify := false
	var timeout time.Duration
	bad := len(l.errs)
	for _, e := range es {
		switch strings.ToLower(e.name) {
		case "cert_file":
			cert, _ = l.str(e.confValue)
			certAt = &e.confValue
		case "key_file":
			key, _ = l.str(e.confValue)
			keyAt = &e.confValue
		case "ca_file":
			ca, _ = l.str(e.confValue)
			caAt = &e.confValue
		case "verify":
			verify, _ = l.boolean(e.confValue)
		case "timeout":
			timeout, _ = l.seconds(e.confValue)
		default:
			l.unknown(e)
		}
	}
	if len(l.errs) != bad {
		return
	}
	if certAt == nil || keyAt == nil {
		l.errorf(v, "needs both cert_file and key_file")
		return
	}
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		l.errorf(*certAt, "loading certificate %q and key %q: %v", cert, key, err)
		return
	}
	tc := &tls.Config{
		Certificates: []tls.Certificate{pair},
		MinVersion:   tls.VersionTLS12,
	}
	if caAt != nil {
		pem, err := os.ReadFile(ca)
		if err != nil {
			l.errorf(*caAt, "%v", err)
			return
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			l.errorf(*caAt, "no PEM certificates in %q", ca)
			return
		}
		tc.ClientCAs = pool
	}
	if verify {
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	}
	o := l.opts
	o.TLSConfig, o.TLSVerify, o.TLSTimeout = tc, verify, timeout
}
