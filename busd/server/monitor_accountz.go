package server

// /accountz: the accounts, and with ?acc=NAME one account's details, in
// nats-server's JSON shape. $SYS.REQ.SERVER.PING.ACCOUNTZ and
// $SYS.REQ.ACCOUNT.<name>.INFO answer the same documents.

import (
	"fmt"
	"net/http"
	"slices"
	"time"
)

const accountzPath = "/accountz"

// accountzDoc is the /accountz document.
type accountzDoc struct {
	ID            string       `json:"server_id"`
	Now           time.Time    `json:"now"`
	SystemAccount string       `json:"system_account,omitempty"`
	Accounts      []string     `json:"accounts,omitempty"`
	Account       *accountInfo `json:"account_detail,omitempty"`
}

// accountInfo is one account's details (nats-server's AccountInfo, without
// the JWT and JetStream parts busd does not have).
type accountInfo struct {
	AccountName string               `json:"account_name"`
	LastUpdate  time.Time            `json:"update_time,omitempty"`
	IsSystem    bool                 `json:"is_system,omitempty"`
	Expired     bool                 `json:"expired"`
	Complete    bool                 `json:"complete"`
	JetStream   bool                 `json:"jetstream_enabled"`
	LeafCnt     int                  `json:"leafnode_connections"`
	ClientCnt   int                  `json:"client_connections"`
	SubCnt      uint32               `json:"subscriptions"`
	Exports     []exportDoc          `json:"exports,omitempty"`
	Imports     []importDoc          `json:"imports,omitempty"`
	Sublist     *sublistStatsDoc     `json:"sublist_stats,omitempty"`
	Responses   map[string]importDoc `json:"responses,omitempty"`
}

// exportDoc is nats-server's ExtExport.
type exportDoc struct {
	Subject           string        `json:"subject,omitempty"`
	Type              string        `json:"type,omitempty"`
	ResponseType      string        `json:"response_type,omitempty"`
	ResponseThreshold time.Duration `json:"response_threshold,omitempty"`
	ApprovedAccounts  []string      `json:"approved_accounts,omitempty"`
}

// importDoc is nats-server's ExtImport.
type importDoc struct {
	Subject      string `json:"subject,omitempty"`
	Account      string `json:"account,omitempty"`
	To           string `json:"to,omitempty"`
	LocalSubject string `json:"local_subject,omitempty"`
	Type         string `json:"type,omitempty"`
	Share        bool   `json:"share"`
	Invalid      bool   `json:"invalid"`
	Tracking     bool   `json:"tracking"`
}

// sublistStatsDoc is nats-server's SublistStats.
type sublistStatsDoc struct {
	NumSubs      uint32  `json:"num_subscriptions"`
	NumCache     uint32  `json:"num_cache"`
	NumInserts   uint64  `json:"num_inserts"`
	NumRemoves   uint64  `json:"num_removes"`
	NumMatches   uint64  `json:"num_matches"`
	CacheHitRate float64 `json:"cache_hit_rate"`
	MaxFanout    uint32  `json:"max_fanout"`
	AvgFanout    float64 `json:"avg_fanout"`
}

func (m *monitor) handleAccountz(w http.ResponseWriter, r *http.Request) {
	m.count(accountzPath)
	doc, err := m.s.accountz(r.URL.Query().Get("acc"))
	if err != nil {
		badRequest(w, "%v", err)
		return
	}
	writeJSON(w, http.StatusOK, doc)
}

// accountz lists the accounts, or details the one named.
func (s *Server) accountz(name string) (*accountzDoc, error) {
	as := s.accounts()
	doc := &accountzDoc{ID: s.id, Now: time.Now().UTC(), SystemAccount: as.sys.name}
	if name == "" {
		doc.Accounts = make([]string, 0, len(as.byName))
		for _, a := range as.sorted() {
			doc.Accounts = append(doc.Accounts, a.name)
		}
		return doc, nil
	}
	info, err := s.accountInfo(name)
	if err != nil {
		return nil, err
	}
	doc.Account = info
	return doc, nil
}

// accountInfo details one account.
func (s *Server) accountInfo(name string) (*accountInfo, error) {
	as := s.accounts()
	a := as.byName[name]
	if a == nil {
		return nil, fmt.Errorf("Account %s does not exist", name)
	}
	st := a.sl.stats()
	info := &accountInfo{
		AccountName: a.name,
		IsSystem:    a == as.sys,
		Complete:    true,
		ClientCnt:   int(a.nconns.Load()),
		SubCnt:      a.numSubs(),
		Exports:     []exportDoc{},
		Imports:     []importDoc{},
		Sublist: &sublistStatsDoc{NumSubs: st.numSubs, NumCache: st.numCache, NumInserts: st.numInserts,
			NumRemoves: st.numRemoves, NumMatches: st.numMatches, CacheHitRate: st.cacheHitRate,
			MaxFanout: st.maxFanout, AvgFanout: st.avgFanout},
	}
	a.mu.Lock()
	info.LastUpdate = a.updated.UTC()
	cfg := a.cfg
	services, streams := slices.Clone(a.services), slices.Clone(a.streams)
	a.mu.Unlock()
	if cfg != nil {
		for _, e := range cfg.Exports {
			d := exportDoc{Subject: e.Subject, Type: "stream", ApprovedAccounts: slices.Clone(e.Accounts)}
			if e.Service {
				d.Type, d.ResponseType = "service", e.ResponseType.String()
				d.ResponseThreshold = e.ResponseThreshold
				if d.ResponseThreshold == 0 {
					d.ResponseThreshold = DefaultResponseThreshold
				}
			}
			info.Exports = append(info.Exports, d)
		}
	}
	for _, st := range streams {
		d := importDoc{Subject: st.cfg.Subject, Account: st.exporter.name, Type: "stream"}
		if l := st.cfg.localSubject(); l != st.cfg.Subject {
			d.LocalSubject = l
		}
		info.Imports = append(info.Imports, d)
	}
	for _, si := range services {
		info.Imports = append(info.Imports, importDoc{Subject: si.remote, Account: si.exporter.name,
			To: si.local, LocalSubject: si.local, Type: "service", Share: si.share})
	}
	if pending := a.resp.pending(); len(pending) > 0 {
		info.Responses = make(map[string]importDoc, len(pending))
		for subj, e := range pending {
			info.Responses[subj] = importDoc{Subject: e.reply, Account: e.dest.name, To: subj,
				LocalSubject: subj, Type: "service"}
		}
	}
	return info, nil
}
