// Package fleet is what the dialtone command knows about a bus: the services and
// instances that announce themselves in heartbeats (package discovery), their
// ADR-32 endpoint descriptions and counters ($SRV.INFO and $SRV.STATS, with the
// request and response JSON Schemas in the endpoint metadata), and raw JSON calls
// (package rpc). It is the one place the command touches the SDK; the subcommands
// and the dashboard work on the plain types defined here, which are also what
// `--json` prints.
package fleet

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
)

// DefaultServer is the URL used when neither --server nor $NATS_URL says one.
const DefaultServer = nats.DefaultURL

// ConnectOptions are the connection flags, spelled as the nats CLI spells them.
type ConnectOptions struct {
	Server   string // comma-separated URLs; empty: $NATS_URL, then DefaultServer
	User     string
	Password string
	Token    string
	NKey     string // file with an NKey seed
	Creds    string // a .creds file (JWT and seed)
	TLSCert  string // client certificate (with TLSKey)
	TLSKey   string
	TLSCA    string // CA to verify the server with
	Name     string // connection name shown by the server

	// Timeout bounds the first connection (default 2s).
	Timeout time.Duration
	// Reconnect makes a long-running command (watch, dash, bench) ride out a bus
	// restart instead of failing.
	Reconnect bool
}

// URL returns the server URL the options connect to.
func (o ConnectOptions) URL() string {
	if o.Server != "" {
		return o.Server
	}
	if u := os.Getenv("NATS_URL"); u != "" {
		return u
	}
	return DefaultServer
}

// Connect dials the bus. A failure is one line that names the URL and says what
// to do, e.g. "no bus at nats://127.0.0.1:4222 (connection refused): start one
// with `go run ./busd`, or pass --server".
func Connect(o ConnectOptions) (*nats.Conn, error) {
	url := o.URL()
	name := o.Name
	if name == "" {
		name = "dialtone"
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	opts := []nats.Option{nats.Name(name), nats.Timeout(timeout)}
	if o.Reconnect {
		opts = append(opts, nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond))
	} else {
		opts = append(opts, nats.NoReconnect())
	}
	if o.User != "" || o.Password != "" {
		opts = append(opts, nats.UserInfo(o.User, o.Password))
	}
	if o.Token != "" {
		opts = append(opts, nats.Token(o.Token))
	}
	if o.NKey != "" {
		opt, err := nats.NkeyOptionFromSeed(o.NKey)
		if err != nil {
			return nil, fmt.Errorf("--nkey %s: %w", o.NKey, err)
		}
		opts = append(opts, opt)
	}
	if o.Creds != "" {
		if _, err := os.Stat(o.Creds); err != nil {
			return nil, fmt.Errorf("--creds: %w", err)
		}
		opts = append(opts, nats.UserCredentials(o.Creds))
	}
	if (o.TLSCert == "") != (o.TLSKey == "") {
		return nil, errors.New("--tlscert and --tlskey go together: give both or neither")
	}
	if o.TLSCert != "" {
		opts = append(opts, nats.ClientCert(o.TLSCert, o.TLSKey))
	}
	if o.TLSCA != "" {
		opts = append(opts, nats.RootCAs(o.TLSCA))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, connectError(url, err)
	}
	return nc, nil
}

// connectError turns nats.go's connection errors into one line that says what to
// do.
func connectError(url string, err error) error {
	var opErr *net.OpError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, nats.ErrNoServers):
		return fmt.Errorf("no bus at %s (connection refused): start one with `go run ./busd`, or pass --server or set $NATS_URL", url)
	case errors.Is(err, nats.ErrTimeout), errors.As(err, &opErr) && opErr.Timeout():
		return fmt.Errorf("no answer from %s within the connect timeout: is it a NATS server?", url)
	case errors.Is(err, nats.ErrAuthorization), strings.Contains(strings.ToLower(err.Error()), "authorization"):
		return fmt.Errorf("%s refused the credentials: check --user/--password, --token, --nkey or --creds", url)
	}
	return fmt.Errorf("connect to %s: %v", url, err)
}
