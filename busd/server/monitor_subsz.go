package server

// /subsz: subscription index statistics and the subscription list.

import (
	"fmt"
	"net/http"
	"slices"
	"time"
)

// subsz is the /subsz document: the sublist statistics, and with subs=1 the
// subscriptions themselves.
type subsz struct {
	ID           string      `json:"server_id"`
	Now          time.Time   `json:"now"`
	NumSubs      uint32      `json:"num_subscriptions"`
	NumCache     uint32      `json:"num_cache"`
	NumInserts   uint64      `json:"num_inserts"`
	NumRemoves   uint64      `json:"num_removes"`
	NumMatches   uint64      `json:"num_matches"`
	CacheHitRate float64     `json:"cache_hit_rate"`
	MaxFanout    uint32      `json:"max_fanout"`
	AvgFanout    float64     `json:"avg_fanout"`
	Total        int         `json:"total"`
	Offset       int         `json:"offset"`
	Limit        int         `json:"limit"`
	Subs         []subDetail `json:"subscriptions_list,omitempty"`
}

func (m *monitor) handleSubsz(w http.ResponseWriter, r *http.Request) {
	m.count(subszPath)
	q := r.URL.Query()
	list, ok := queryBool(w, q.Get("subs"), "subs")
	if !ok {
		return
	}
	offset, ok := queryInt(w, q.Get("offset"), "offset")
	if !ok {
		return
	}
	limit, ok := queryInt(w, q.Get("limit"), "limit")
	if !ok {
		return
	}
	if limit <= 0 {
		limit = defaultSubListSize
	}
	test := q.Get("test")
	if test != "" && !validLiteralSubject([]byte(test)) {
		badRequest(w, "invalid test subject, must be valid publish subject: %s", test)
		return
	}
	sz, err := m.s.subszFor(&subszRequest{Subscriptions: list, Test: test, Offset: max(offset, 0), Limit: limit, Account: q.Get("acc")})
	if err != nil {
		badRequest(w, "%v", err)
		return
	}
	writeJSON(w, http.StatusOK, sz)
}

// subszRequest is nats-server's SubszOptions, for /subsz and $SYS requests.
type subszRequest struct {
	Offset        int    `json:"offset"`
	Limit         int    `json:"limit"`
	Subscriptions bool   `json:"subscriptions"`
	Account       string `json:"account,omitempty"`
	Test          string `json:"test,omitempty"`
}

// subszFor builds the /subsz document: the statistics of every account's
// sublist added up (or of one account's), and with Subscriptions the client
// subscriptions themselves.
func (s *Server) subszFor(o *subszRequest) (*subsz, error) {
	if o.Test != "" && !validLiteralSubject([]byte(o.Test)) {
		return nil, fmt.Errorf("invalid test subject, must be valid publish subject: %s", o.Test)
	}
	if o.Limit <= 0 {
		o.Limit = defaultSubListSize
	}
	o.Offset = max(o.Offset, 0)
	var accs []*account
	if o.Account != "" {
		a := s.accounts().byName[o.Account]
		if a == nil {
			return nil, fmt.Errorf("account %q does not exist", o.Account)
		}
		accs = []*account{a}
	} else {
		accs = s.accounts().sorted()
	}
	sz := &subsz{ID: s.id, Now: time.Now().UTC(), Offset: o.Offset, Limit: o.Limit}
	var hits float64
	var fanouts float64
	for _, a := range accs {
		st := a.sl.stats()
		sz.NumSubs += a.numSubs()
		sz.NumCache += st.numCache
		sz.NumInserts += st.numInserts - a.intInserts.Load()
		sz.NumRemoves += st.numRemoves - a.intRemoves.Load()
		sz.NumMatches += st.numMatches
		hits += st.cacheHitRate * float64(st.numMatches)
		fanouts += st.avgFanout * float64(st.numCache)
		sz.MaxFanout = max(sz.MaxFanout, st.maxFanout)
	}
	if sz.NumMatches > 0 {
		sz.CacheHitRate = hits / float64(sz.NumMatches)
	}
	if sz.NumCache > 0 {
		sz.AvgFanout = fanouts / float64(sz.NumCache)
	}
	if !o.Subscriptions {
		return sz, nil
	}
	var all []subDetail
	for _, c := range s.snapshotClients() {
		if o.Account != "" && c.account().name != o.Account {
			continue
		}
		c.mu.Lock()
		if !c.closed {
			for _, sub := range c.subs {
				if o.Test == "" || slPatternMatches(sub.subject, o.Test) {
					all = append(all, sub.detailLocked())
				}
			}
		}
		c.mu.Unlock()
	}
	slices.SortFunc(all, compareSubDetail)
	sz.Total = len(all)
	lo := min(o.Offset, len(all))
	hi := lo + min(o.Limit, len(all)-lo)
	sz.Subs = all[lo:hi]
	return sz, nil
}
