package server

import "time"

// Accounts, as nats-server configures them. With no accounts configured every
// client is in the global account ($G), which is how busd behaves by default.
// With accounts, each user belongs to one account (User.Account,
// NkeyUser.Account; empty means the global account), and messages stay inside
// their account unless an export and a matching import let them cross:
//
//   - a service export offers request/reply subjects; an account importing it
//     publishes requests on a local subject, they reach the exporter's
//     subscribers, and the replies come back to the requester only;
//   - a stream export offers a flow of messages; an account importing it
//     receives them, optionally under a prefix or a remapped subject.
//
// The system account (SystemAccount, "$SYS" when not set) is where the
// server's own requests ($SYS.REQ.>) and events ($SYS.ACCOUNT.>,
// $SYS.SERVER.>) live: only its users see them.
//
// The fields below are set by a config file's accounts, no_auth_user and
// system_account keys, or directly by an embedding program.

// Names of the accounts busd always has.
const (
	// GlobalAccount is the account of users that name no other, and of every
	// client when no accounts are configured.
	GlobalAccount = "$G"
	// DefaultSystemAccount is the system account's name unless
	// Options.SystemAccount names another.
	DefaultSystemAccount = "$SYS"
)

// Account is one entry of the accounts block. Its users are listed in
// Options.Users and Options.Nkeys with their Account set to Name.
type Account struct {
	Name    string
	Exports []*Export
	Imports []*Import
	// DefaultPermissions apply to the account's users that have none of their
	// own (the account's default_permissions).
	DefaultPermissions *Permissions
}

// ResponseType is how many replies a service export's request may get.
type ResponseType int

// The response types of a service export.
const (
	// Singleton: one reply per request (the default).
	Singleton ResponseType = iota
	// Streamed: any number of replies, until the response threshold passes
	// without one.
	Streamed
	// Chunked: one reply sent in several messages; busd treats it as Streamed.
	Chunked
)

// String is the name nats-server uses in /accountz.
func (t ResponseType) String() string {
	switch t {
	case Streamed:
		return "Stream"
	case Chunked:
		return "Chunked"
	}
	return "Singleton"
}

// DefaultResponseThreshold is how long a streamed or chunked service export's
// reply subject stays open after the last reply, as nats-server's default.
const DefaultResponseThreshold = 2 * time.Minute

// Export is a service or a stream an account offers to others.
type Export struct {
	Service bool   // a service (request/reply) rather than a stream
	Subject string // may contain wildcards
	// Accounts, when not empty, are the only accounts that may import it.
	Accounts []string
	// ResponseType and ResponseThreshold apply to services only.
	ResponseType      ResponseType
	ResponseThreshold time.Duration // 0: DefaultResponseThreshold
}

// Import takes a service or a stream another account exports.
type Import struct {
	Service bool   // a service (request/reply) rather than a stream
	Account string // the exporting account
	Subject string // the subject as the exporter names it
	// To is, for a service, the local subject requests are published to (the
	// default is Subject); for a stream, the local subject messages arrive on.
	// Wildcards in To take the tokens of the wildcards in Subject, in order.
	To string
	// Prefix, for a stream only, is prepended (with a '.') to the exporter's
	// subject. A stream import has a To or a Prefix, not both.
	Prefix string
	// Share, for a service only, tells the exporter the requester's details
	// (user, name, connection) in the Nats-Request-Info header, not only its
	// account.
	Share bool
}
