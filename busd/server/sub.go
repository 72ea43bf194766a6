package server

// subscription is one SUB of one client. The sublist indexes it by subject
// (and queue); delivery reads client, sid and the auto-unsubscribe counters.
type subscription struct {
	client  *client
	subject []byte // as the client sent it, copied out of the read buffer
	queue   []byte // nil for a plain subscription
	sid     []byte
	max     int64 // auto-unsubscribe after this many deliveries; 0 is unlimited
	nm      int64 // deliveries so far (guarded by client.mu)
	// closed is set, under client.mu, when the subscription is removed from its
	// client: a publisher that matched it just before must not deliver after
	// the client has seen its UNSUB answered (a drain's PONG), as nats-server
	// checks too.
	closed bool
	// icb handles messages for the server's own subscriptions (imports and
	// system requests, see accounts.go); client is nil for those.
	icb internalHandler
}

// validQueue reports whether a queue group name is usable: non-empty, no whitespace.
func validQueue(q []byte) bool {
	if len(q) == 0 {
		return false
	}
	for _, c := range q {
		if c == ' ' || c == '\t' || c == '\r' || c == '\n' {
			return false
		}
	}
	return true
}
