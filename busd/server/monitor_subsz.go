package server

// /subsz: subscription index statistics and the subscription list.

import (
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
	writeJSON(w, http.StatusOK, m.s.subsz(list, test, max(offset, 0), limit))
}

func (s *Server) subsz(list bool, test string, offset, limit int) *subsz {
	st := s.sl.stats()
	sz := &subsz{
		ID:           s.id,
		Now:          time.Now().UTC(),
		NumSubs:      st.numSubs,
		NumCache:     st.numCache,
		NumInserts:   st.numInserts,
		NumRemoves:   st.numRemoves,
		NumMatches:   st.numMatches,
		CacheHitRate: st.cacheHitRate,
		MaxFanout:    st.maxFanout,
		AvgFanout:    st.avgFanout,
		Offset:       offset,
		Limit:        limit,
	}
	if !list {
		return sz
	}
	var all []subDetail
	for _, c := range s.snapshotClients() {
		c.mu.Lock()
		if !c.closed {
			for _, sub := range c.subs {
				if test == "" || slPatternMatches(sub.subject, test) {
					all = append(all, sub.detailLocked())
				}
			}
		}
		c.mu.Unlock()
	}
	slices.SortFunc(all, compareSubDetail)
	sz.Total = len(all)
	lo := min(offset, len(all))
	hi := lo + min(limit, len(all)-lo)
	sz.Subs = all[lo:hi]
	return sz
}
