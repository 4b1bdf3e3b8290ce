package console

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"settlemon/pkg/fact"
	"settlemon/pkg/incident"
	"settlemon/pkg/store"
	"settlemon/pkg/text"
)

// Limits of the incident endpoints.
const (
	defaultIncidentLimit      = 200
	maxIncidentLimit          = 2000
	defaultIncidentTraceLimit = 100
	maxIncidentTraceLimit     = 1000
)

type incidentView struct {
	Key           string     `json:"key"`
	Class         string     `json:"class"`
	Title         string     `json:"title"`
	Action        string     `json:"action"`
	Severity      string     `json:"severity"`
	Status        string     `json:"status"`
	Kinds         []string   `json:"kinds"`
	Anomalies     uint64     `json:"anomalies"`
	Open          uint64     `json:"open_anomalies"`
	Traces        uint64     `json:"traces"`
	Amount        string     `json:"amount"`
	Merchants     uint64     `json:"merchants"`
	SomeMerchants []string   `json:"some_merchants"`
	FirstAt       time.Time  `json:"first_at"`
	LastAt        time.Time  `json:"last_at"`
	ResolvedAt    *time.Time `json:"resolved_at,omitempty"`
}

type incidentsResponse struct {
	Total     int            `json:"total"`
	Incidents []incidentView `json:"incidents"`
}

type incidentTraceView struct {
	TraceNo    string    `json:"trace_no,omitempty"`
	BatchID    string    `json:"batch_id,omitempty"`
	MerchantID string    `json:"merchant_id,omitempty"`
	Kind       string    `json:"kind,omitempty"`
	Status     string    `json:"status,omitempty"`
	Amount     string    `json:"amount"`
	At         time.Time `json:"at"`
	Details    string    `json:"details,omitempty"`
}

type incidentTracesResponse struct {
	Key    string              `json:"key"`
	Total  uint64              `json:"total"`
	Traces []incidentTraceView `json:"traces"`
}

func (c *Console) incidents(w http.ResponseWriter, r *http.Request) {
	serveIn(c, w, r, []string{"status", "limit", "lang"}, c.buildIncidents)
}

// buildIncidents lists the incidents, their titles and actions written by p.
func (c *Console) buildIncidents(ctx context.Context, q url.Values, p *text.Printer) (incidentsResponse, error) {
	res := incidentsResponse{Incidents: []incidentView{}}
	var iq store.IncidentQuery
	switch s := q.Get("status"); s {
	case "", string(fact.Open):
		iq.Status = fact.Open
	case string(fact.Resolved):
		iq.Status = fact.Resolved
	case "all":
	default:
		return res, errBadRequest("status " + quote(s) + ": want open, resolved or all")
	}
	limit, err := intParam(q, "limit", defaultIncidentLimit, 1, maxIncidentLimit)
	if err != nil {
		return res, err
	}
	list, err := c.deps.Facts.Incidents(ctx, iq)
	if err != nil {
		return res, err
	}
	res.Total = len(list)
	for _, s := range list[:min(limit, len(list))] {
		v := incidentView{
			Key: s.Key.String(), Class: string(s.Key.Class), Title: p.IncidentTitle(s), Action: p.IncidentAction(s),
			Severity: string(s.Severity), Status: string(s.Status), Kinds: []string{},
			Anomalies: s.Anomalies, Open: s.Open, Traces: s.Traces, Amount: yuan(s.Amount),
			Merchants: s.Merchants, SomeMerchants: s.SomeMerchants,
			FirstAt: time.UnixMilli(s.FirstAt).In(c.loc), LastAt: time.UnixMilli(s.LastAt).In(c.loc), ResolvedAt: c.optTime(s.ResolvedAt),
		}
		if v.SomeMerchants == nil {
			v.SomeMerchants = []string{}
		}
		for _, k := range s.Kinds {
			v.Kinds = append(v.Kinds, string(k))
		}
		res.Incidents = append(res.Incidents, v)
	}
	return res, nil
}

func (c *Console) incidentTraces(w http.ResponseWriter, r *http.Request) {
	serveIn(c, w, r, []string{"key", "limit", "lang"}, c.buildIncidentTraces)
}

// buildIncidentTraces lists the traces of an incident, the details of its
// anomalies written by p (stored, in English; rendered from the stored
// fields and args in another language).
func (c *Console) buildIncidentTraces(ctx context.Context, q url.Values, p *text.Printer) (incidentTracesResponse, error) {
	res := incidentTracesResponse{Traces: []incidentTraceView{}}
	raw := q.Get("key")
	if raw == "" || len(raw) > 512 {
		return res, errBadRequest("key: want the key of an incident, as /api/v1/incidents lists it")
	}
	key, err := incident.Parse(raw)
	if err != nil {
		return res, errBadRequest("key " + quote(raw) + ": not an incident key")
	}
	limit, err := intParam(q, "limit", defaultIncidentTraceLimit, 1, maxIncidentTraceLimit)
	if err != nil {
		return res, err
	}
	traces, total, err := c.deps.Facts.IncidentTraces(ctx, key, limit)
	if err != nil {
		return res, err
	}
	res.Key, res.Total = key.String(), total
	for _, t := range traces {
		details := t.Details
		if t.Anomaly != nil {
			_, _, details = p.Stored(*t.Anomaly)
		}
		res.Traces = append(res.Traces, incidentTraceView{TraceNo: t.TraceNo, BatchID: t.BatchID, MerchantID: t.MerchantID,
			Kind: string(t.Kind), Status: string(t.Status), Amount: yuan(t.Amount), At: time.UnixMilli(t.At).In(c.loc), Details: details})
	}
	return res, nil
}
