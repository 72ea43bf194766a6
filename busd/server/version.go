package server

// Version is busd's release version: busd -v prints it, and the log and the
// monitoring page show it.
const Version = "0.1.0"

// ProtocolVersion is the nats-server release whose client protocol busd
// speaks. Clients decide what to ask a server by the version in its INFO (the
// nats CLI sends $SYS.REQ.USER.INFO only to 2.10 or later), so INFO, varz and
// the system account's server info report this version, with busd's own as
// semver build metadata (ReportedVersion). busd has no JetStream, clustering
// or message tracing, and says so where clients look for them (INFO has no
// "jetstream"; the tracing the nats CLI offers asks for 2.11).
const ProtocolVersion = "2.10.0"

// ReportedVersion is the version busd reports to clients and tools:
// "2.10.0+busd.0.1.0". Build metadata does not change semver precedence, and
// the clients' parsers read the first three numbers.
const ReportedVersion = ProtocolVersion + "+busd." + Version
