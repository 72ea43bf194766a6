package server

// /connz: open and closed connections, their sort orders and filters.

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// connz is the /connz document.
type connz struct {
	ID       string      `json:"server_id"`
	Now      time.Time   `json:"now"`
	NumConns int         `json:"num_connections"`
	Total    int         `json:"total"`
	Offset   int         `json:"offset"`
	Limit    int         `json:"limit"`
	Conns    []*connInfo `json:"connections"`
}

// connInfo is one connection of /connz. Credentials never appear: the
// authorized user name is the only authentication detail, and only with auth=1.
type connInfo struct {
	Cid            uint64      `json:"cid"`
	Kind           string      `json:"kind,omitempty"`
	Type           string      `json:"type,omitempty"`
	IP             string      `json:"ip"`
	Port           int         `json:"port"`
	Start          time.Time   `json:"start"`
	LastActivity   time.Time   `json:"last_activity"`
	Stop           *time.Time  `json:"stop,omitempty"`
	Reason         string      `json:"reason,omitempty"`
	RTT            string      `json:"rtt,omitempty"`
	Uptime         string      `json:"uptime"`
	Idle           string      `json:"idle"`
	Pending        int         `json:"pending_bytes"`
	InMsgs         int64       `json:"in_msgs"`
	OutMsgs        int64       `json:"out_msgs"`
	InBytes        int64       `json:"in_bytes"`
	OutBytes       int64       `json:"out_bytes"`
	NumSubs        uint32      `json:"subscriptions"`
	Name           string      `json:"name,omitempty"`
	Lang           string      `json:"lang,omitempty"`
	Version        string      `json:"version,omitempty"`
	AuthorizedUser string      `json:"authorized_user,omitempty"`
	Account        string      `json:"account,omitempty"`
	Subs           []string    `json:"subscriptions_list,omitempty"`
	SubsDetail     []subDetail `json:"subscriptions_list_detail,omitempty"`

	rtt  time.Duration // for sort=rtt
	user string        // for ?user=, whether or not auth=1
	acc  string        // for ?acc=, whether or not auth=1
}

// subDetail is one subscription in /connz?subs=detail and /subsz?subs=1.
type subDetail struct {
	Subject string `json:"subject"`
	Queue   string `json:"qgroup,omitempty"`
	Sid     string `json:"sid"`
	Msgs    int64  `json:"msgs"`
	Max     int64  `json:"max,omitempty"`
	Cid     uint64 `json:"cid"`
}

// connState selects open, closed or all connections.
type connState int

const (
	connOpen connState = iota
	connClosed
	connAny
)

// connzOptions are /connz's query parameters.
type connzOptions struct {
	sort    string
	auth    bool
	subs    bool
	subsDet bool
	offset  int
	limit   int
	cid     uint64
	state   connState
	user    string
	acc     string // only this account's connections
}

// connzSorts maps each sort= value to its order. Only cid, start, uptime and
// reason ascend, as in nats-server; the rest list the largest first.
var connzSorts = map[string]func(a, b *connInfo, now time.Time) int{
	"cid":   func(a, b *connInfo, _ time.Time) int { return cmpAsc(a.Cid, b.Cid) },
	"start": func(a, b *connInfo, _ time.Time) int { return cmpAsc(a.Cid, b.Cid) },
	"subs":  func(a, b *connInfo, _ time.Time) int { return cmpAsc(b.NumSubs, a.NumSubs) },
	"pending": func(a, b *connInfo, _ time.Time) int {
		return cmpAsc(b.Pending, a.Pending)
	},
	"msgs_to":    func(a, b *connInfo, _ time.Time) int { return cmpAsc(b.OutMsgs, a.OutMsgs) },
	"msgs_from":  func(a, b *connInfo, _ time.Time) int { return cmpAsc(b.InMsgs, a.InMsgs) },
	"bytes_to":   func(a, b *connInfo, _ time.Time) int { return cmpAsc(b.OutBytes, a.OutBytes) },
	"bytes_from": func(a, b *connInfo, _ time.Time) int { return cmpAsc(b.InBytes, a.InBytes) },
	"last": func(a, b *connInfo, _ time.Time) int {
		return cmpAsc(b.LastActivity.UnixNano(), a.LastActivity.UnixNano())
	},
	"idle": func(a, b *connInfo, now time.Time) int {
		return cmpAsc(now.Sub(b.LastActivity), now.Sub(a.LastActivity))
	},
	"uptime": func(a, b *connInfo, now time.Time) int {
		return cmpAsc(a.lifetime(now), b.lifetime(now))
	},
	"stop": func(a, b *connInfo, _ time.Time) int {
		return cmpAsc(b.stopNanos(), a.stopNanos())
	},
	"reason": func(a, b *connInfo, _ time.Time) int { return strings.Compare(a.Reason, b.Reason) },
	"rtt":    func(a, b *connInfo, _ time.Time) int { return cmpAsc(b.rtt, a.rtt) },
}

func cmpAsc[T int | int64 | uint32 | uint64 | time.Duration](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (ci *connInfo) lifetime(now time.Time) time.Duration {
	if ci.Stop != nil {
		return ci.Stop.Sub(ci.Start)
	}
	return now.Sub(ci.Start)
}

func (ci *connInfo) stopNanos() int64 {
	if ci.Stop == nil {
		return 0
	}
	return ci.Stop.UnixNano()
}

// parseConnzOptions reads the query; on a bad value it answers 400 and
// returns false.
func parseConnzOptions(w http.ResponseWriter, r *http.Request) (connzOptions, bool) {
	q := r.URL.Query()
	o := connzOptions{sort: q.Get("sort"), user: q.Get("user"), acc: q.Get("acc"), limit: defaultConnListSize}
	var ok bool
	if o.auth, ok = queryBool(w, q.Get("auth"), "auth"); !ok {
		return o, false
	}
	if strings.EqualFold(q.Get("subs"), "detail") {
		o.subsDet = true
	} else if o.subs, ok = queryBool(w, q.Get("subs"), "subs"); !ok {
		return o, false
	}
	if o.offset, ok = queryInt(w, q.Get("offset"), "offset"); !ok {
		return o, false
	}
	o.offset = max(o.offset, 0)
	lim, ok := queryInt(w, q.Get("limit"), "limit")
	if !ok {
		return o, false
	}
	if lim > 0 {
		o.limit = lim
	}
	if v := q.Get("cid"); v != "" {
		cid, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			badRequest(w, "Error decoding uint64 for 'cid': %v", err)
			return o, false
		}
		o.cid = cid
	}
	switch strings.ToLower(q.Get("state")) {
	case "", "open":
		o.state = connOpen
	case "closed":
		o.state = connClosed
	case "any", "all":
		o.state = connAny
	default:
		badRequest(w, "Error decoding state for %s", q.Get("state"))
		return o, false
	}
	if o.sort == "" {
		o.sort = "cid"
	}
	if _, known := connzSorts[o.sort]; !known {
		badRequest(w, "invalid sorting option: %s", o.sort)
		return o, false
	}
	if (o.sort == "stop" || o.sort == "reason") && o.state != connClosed {
		badRequest(w, "sort by %s only valid on closed connections", o.sort)
		return o, false
	}
	if o.cid > 0 {
		o.limit = 1
	}
	return o, true
}

func queryBool(w http.ResponseWriter, v, name string) (bool, bool) {
	if v == "" {
		return false, true
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		badRequest(w, "Error decoding boolean for '%s': %v", name, err)
		return false, false
	}
	return b, true
}

func queryInt(w http.ResponseWriter, v, name string) (int, bool) {
	if v == "" {
		return 0, true
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		badRequest(w, "Error decoding int for '%s': %v", name, err)
		return 0, false
	}
	return n, true
}

func (m *monitor) handleConnz(w http.ResponseWriter, r *http.Request) {
	m.count(connzPath)
	o, ok := parseConnzOptions(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, m.s.connz(&o))
}

// connz builds the /connz document.
func (s *Server) connz(o *connzOptions) *connz {
	now := time.Now()
	var open []*client
	var closed []closedConn
	s.mu.Lock()
	if o.state != connClosed {
		if o.cid > 0 {
			if c := s.clients[o.cid]; c != nil {
				open = append(open, c)
			}
		} else {
			open = make([]*client, 0, len(s.clients))
			for _, c := range s.clients {
				open = append(open, c)
			}
		}
	}
	// A cid found open is not looked for among the closed.
	if (o.state != connOpen && len(open) == 0) || (o.state == connAny && o.cid == 0) {
		closed = s.closedLog.list()
		if o.cid > 0 {
			closed = slices.DeleteFunc(closed, func(cc closedConn) bool { return cc.cid != o.cid })
		}
	}
	s.mu.Unlock()

	infos := make([]*connInfo, 0, len(open)+len(closed))
	for _, c := range open {
		infos = append(infos, c.connInfo(now, o))
	}
	for i := range closed {
		infos = append(infos, closed[i].connInfo(o))
	}
	if o.user != "" {
		infos = slices.DeleteFunc(infos, func(ci *connInfo) bool { return ci.user != o.user })
	}
	if o.acc != "" {
		infos = slices.DeleteFunc(infos, func(ci *connInfo) bool { return ci.acc != o.acc })
	}
	less := connzSorts[o.sort]
	slices.SortStableFunc(infos, func(a, b *connInfo) int {
		if r := less(a, b, now); r != 0 {
			return r
		}
		return cmpAsc(a.Cid, b.Cid)
	})

	lo := min(o.offset, len(infos))
	hi := lo + min(o.limit, len(infos)-lo)
	page := infos[lo:hi]
	return &connz{
		ID:       s.id,
		Now:      now.UTC(),
		NumConns: len(page),
		Total:    len(infos),
		Offset:   o.offset,
		Limit:    o.limit,
		Conns:    page,
	}
}

// rttPingAfter is how old a connection must be before /connz pings it for an
// RTT. Client libraries send CONNECT+PING and fail if anything but PONG comes
// back first; busd does not record when that first PONG went out, and by this
// age (nats.go's connect timeout) the handshake is over. nats-server uses the
// same bound for clients that never PING.
const rttPingAfter = 2 * time.Second

// connInfo snapshots c under its lock. For an open client that has a
// language (a real client library), no RTT yet and is past its handshake, it
// sends a PING so that a later /connz shows the RTT, as nats-server does.
func (c *client) connInfo(now time.Time, o *connzOptions) *connInfo {
	ci := &connInfo{
		Cid:          c.cid,
		Kind:         "Client",
		Type:         "nats",
		IP:           c.host,
		Port:         c.port,
		Start:        c.start,
		LastActivity: time.Unix(0, c.lastIn.Load()),
		InMsgs:       c.inMsgs.Load(),
		InBytes:      c.inBytes.Load(),
	}
	pinged := false
	c.mu.Lock()
	ci.Pending = int(c.out.pending)
	ci.OutMsgs, ci.OutBytes = c.outMsgs, c.outBytes
	ci.NumSubs = uint32(len(c.subs))
	ci.Name, ci.Lang, ci.Version = c.opts.Name, c.opts.Lang, c.opts.Version
	ci.user = c.user
	ci.rtt = c.rtt
	if c.closed {
		stop := c.stop
		ci.Stop = &stop
		ci.Reason = c.reason.String()
	} else if c.authed && c.rtt == 0 && c.opts.Lang != "" && c.pingSent.IsZero() && now.Sub(c.start) > rttPingAfter {
		c.pingSent = time.Now()
		c.out.write(&c.srv.pool, []byte("PING\r\n"))
		pinged = true
	}
	if o.subsDet && len(c.subs) > 0 {
		ci.SubsDetail = make([]subDetail, 0, len(c.subs))
		for _, sub := range c.subs {
			ci.SubsDetail = append(ci.SubsDetail, sub.detailLocked())
		}
	} else if o.subs && len(c.subs) > 0 {
		ci.Subs = make([]string, 0, len(c.subs))
		for _, sub := range c.subs {
			ci.Subs = append(ci.Subs, string(sub.subject))
		}
	}
	c.mu.Unlock()
	if pinged {
		c.signalFlush()
	}

	slices.Sort(ci.Subs)
	slices.SortFunc(ci.SubsDetail, compareSubDetail)
	end := now
	if ci.Stop != nil {
		end = *ci.Stop
	}
	ci.Uptime = uptimeString(end.Sub(ci.Start))
	ci.Idle = uptimeString(end.Sub(ci.LastActivity))
	ci.RTT = rttString(ci.rtt)
	ci.acc = c.account().name
	if o.auth {
		ci.AuthorizedUser = ci.user
		if ci.acc != GlobalAccount {
			ci.Account = ci.acc // as nats-server: named with auth=1, and not for $G
		}
	}
	return ci
}

// rttString renders an RTT as nats-server does: microsecond precision below a
// millisecond, full precision otherwise.
func rttString(d time.Duration) string {
	if d > time.Microsecond && d < time.Millisecond {
		d = d.Truncate(time.Microsecond)
	}
	return d.String()
}

// detailLocked describes sub; the caller holds sub.client.mu (for nm, max).
func (sub *subscription) detailLocked() subDetail {
	return subDetail{
		Subject: string(sub.subject),
		Queue:   string(sub.queue),
		Sid:     string(sub.sid),
		Msgs:    sub.nm,
		Max:     sub.max,
		Cid:     sub.client.cid,
	}
}

func compareSubDetail(a, b subDetail) int {
	if r := cmpAsc(a.Cid, b.Cid); r != 0 {
		return r
	}
	if len(a.Sid) != len(b.Sid) { // numeric sids in numeric order
		return cmpAsc(len(a.Sid), len(b.Sid))
	}
	return strings.Compare(a.Sid, b.Sid)
}

// connzRequest is nats-server's ConnzOptions, the body of a $SYS CONNZ request.
type connzRequest struct {
	Sort          string `json:"sort"`
	Username      bool   `json:"auth"`
	Subscriptions bool   `json:"subscriptions"`
	SubsDetail    bool   `json:"subscriptions_detail"`
	Offset        int    `json:"offset"`
	Limit         int    `json:"limit"`
	CID           uint64 `json:"cid"`
	State         int    `json:"state"`
	User          string `json:"user"`
	Account       string `json:"acc"`
}

// options checks the request as /connz checks its query.
func (r *connzRequest) options() (*connzOptions, error) {
	o := &connzOptions{sort: r.Sort, auth: r.Username, subs: r.Subscriptions, subsDet: r.SubsDetail,
		offset: max(r.Offset, 0), limit: r.Limit, cid: r.CID, user: r.User, acc: r.Account}
	if o.limit <= 0 {
		o.limit = defaultConnListSize
	}
	switch r.State {
	case 0:
		o.state = connOpen
	case 1:
		o.state = connClosed
	case 2:
		o.state = connAny
	default:
		return nil, fmt.Errorf("invalid connection state %d", r.State)
	}
	if o.sort == "" {
		o.sort = "cid"
	}
	if _, known := connzSorts[o.sort]; !known {
		return nil, fmt.Errorf("invalid sorting option: %s", o.sort)
	}
	if (o.sort == "stop" || o.sort == "reason") && o.state != connClosed {
		return nil, fmt.Errorf("sort by %s only valid on closed connections", o.sort)
	}
	if o.cid > 0 {
		o.limit = 1
	}
	return o, nil
}
