package server

import (
	"crypto/tls"
	"time"
)

// Defaults match nats-server 2.x, so a client tuned for nats-server sees the same limits.
const (
	// DefaultHost is loopback, unlike nats-server's 0.0.0.0: busd is a development
	// and single-machine broker that starts with no credentials, so it is not
	// reachable from other hosts until someone asks for that with -a.
	DefaultHost           = "127.0.0.1"
	DefaultPort           = 4222
	DefaultHTTPPort       = 8222
	DefaultMaxPayload     = 1024 * 1024
	DefaultMaxPending     = 64 * 1024 * 1024
	DefaultMaxControlLine = 4096
	DefaultMaxConnections = 64 * 1024
	DefaultPingInterval   = 2 * time.Minute
	DefaultMaxPingsOut    = 2
	DefaultWriteDeadline  = 10 * time.Second
	DefaultAuthTimeout    = 2 * time.Second
	DefaultTLSTimeout     = 2 * time.Second
	DefaultLameDuckDur    = 2 * time.Minute
	DefaultLameDuckGrace  = 10 * time.Second
)

// Options configure a Server. The zero value of a field means "use the default",
// so New(&Options{}) is a working broker on the NATS default port.
type Options struct {
	ServerName string // reported in INFO; defaults to the server ID
	Host       string // client listen address (default 127.0.0.1)
	Port       int    // client port; -1 picks a random free port (tests)
	HTTPHost   string // monitoring listen address (default Host)
	HTTPPort   int    // monitoring port; 0 disables monitoring, -1 picks a random one

	MaxPayload     int32         // largest message payload a client may publish
	MaxPending     int64         // outbound bytes buffered per client before it is a slow consumer
	MaxControlLine int32         // longest protocol line
	MaxConn        int           // connections accepted at once
	MaxSubs        int           // subscriptions per connection; 0 is unlimited
	PingInterval   time.Duration // how often the server pings an idle client
	MaxPingsOut    int           // unanswered pings before a connection is stale
	WriteDeadline  time.Duration // how long a flush may block before the client is a slow consumer

	// Authentication. Username/Password and Authorization (token) are the simple
	// single-credential forms; Users and Nkeys are the multi-user forms.
	Username      string
	Password      string
	Authorization string
	Users         []*User
	Nkeys         []*NkeyUser
	AuthTimeout   time.Duration
	// DefaultPermissions apply to users that have none of their own.
	DefaultPermissions *Permissions

	// Accounts (see opts_accounts.go). Users name theirs in User.Account and
	// NkeyUser.Account.
	Accounts      []*Account
	NoAuthUser    string // the user a client presenting no credentials is taken for
	SystemAccount string // the system account's name; DefaultSystemAccount when empty

	// TLS, when set, makes every client connection TLS after INFO.
	TLSConfig  *tls.Config
	TLSTimeout time.Duration
	TLSVerify  bool

	LameDuckDuration    time.Duration // how long lame duck mode spreads its closes over
	LameDuckGracePeriod time.Duration // wait before the first close in lame duck mode

	Debug bool // log connection events (-D)
	Trace bool // log every protocol line (-V)

	ConfigFile string // where these options came from, for reload and messages
}

// User is a user/password entry of an authorization block.
type User struct {
	Username    string
	Password    string // plain or a bcrypt hash ($2a$, $2b$, ...)
	Permissions *Permissions
	Account     string // the user's account; empty for the global account
}

// NkeyUser is an nkey entry of an authorization block.
type NkeyUser struct {
	Nkey        string // public user key, starting with U
	Permissions *Permissions
	Account     string // the user's account; empty for the global account
}

// Permissions are what a user may publish and subscribe to.
type Permissions struct {
	Publish   *SubjectPermission
	Subscribe *SubjectPermission
	Response  *ResponsePermission
}

// SubjectPermission is an allow list and a deny list; deny wins.
type SubjectPermission struct {
	Allow []string
	Deny  []string
}

// ResponsePermission lets a client publish to reply subjects of requests it received.
type ResponsePermission struct {
	MaxMsgs int           // replies allowed per request (default 1)
	Expires time.Duration // how long a reply subject stays allowed (0: no expiry)
}

// setDefaults fills zero fields with nats-server's defaults.
func (o *Options) setDefaults() {
	if o.Host == "" {
		o.Host = DefaultHost
	}
	if o.Port == 0 {
		o.Port = DefaultPort
	}
	if o.HTTPHost == "" {
		o.HTTPHost = o.Host
	}
	if o.MaxPayload == 0 {
		o.MaxPayload = DefaultMaxPayload
	}
	if o.MaxPending == 0 {
		o.MaxPending = DefaultMaxPending
	}
	if o.MaxControlLine == 0 {
		o.MaxControlLine = DefaultMaxControlLine
	}
	if o.MaxConn == 0 {
		o.MaxConn = DefaultMaxConnections
	}
	if o.PingInterval == 0 {
		o.PingInterval = DefaultPingInterval
	}
	if o.MaxPingsOut == 0 {
		o.MaxPingsOut = DefaultMaxPingsOut
	}
	if o.WriteDeadline == 0 {
		o.WriteDeadline = DefaultWriteDeadline
	}
	if o.AuthTimeout == 0 {
		o.AuthTimeout = DefaultAuthTimeout
	}
	if o.TLSTimeout == 0 {
		o.TLSTimeout = DefaultTLSTimeout
	}
	if o.LameDuckDuration == 0 {
		o.LameDuckDuration = DefaultLameDuckDur
	}
	if o.LameDuckGracePeriod == 0 {
		o.LameDuckGracePeriod = DefaultLameDuckGrace
	}
}
