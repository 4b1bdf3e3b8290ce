package console

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"settlemon/pkg/store"
)

const (
	defaultFindLimit = 10
	maxFindLimit     = 100
)

type traceMatchView struct {
	TraceNo          string     `json:"trace_no"`
	MerchantID       string     `json:"merchant_id"`
	TerminalID       string     `json:"terminal_id,omitempty"`
	CardLast4        string     `json:"card_last4,omitempty"`
	Amount           string     `json:"amount"`
	AuthorizedAt     time.Time  `json:"authorized_at"`
	Status           string     `json:"status"`
	Mode             string     `json:"mode,omitempty"`
	ClearedAmount    string     `json:"cleared_amount"`
	NetPaid          string     `json:"net_paid"`
	ExpectedPayoutAt *time.Time `json:"expected_payout_at,omitempty"`
	PaidAt           *time.Time `json:"paid_at,omitempty"`
	Matched          []string   `json:"matched"`
	Score            int        `json:"score"`
}

type findResponse struct {
	MerchantID string           `json:"merchant_id"`
	Day        string           `json:"day"`
	Amount     string           `json:"amount"`
	Traces     []traceMatchView `json:"traces"`
}

func (c *Console) findTraces(w http.ResponseWriter, r *http.Request) {
	if !c.onlyParams(w, r, "merchant", "day", "amount", "terminal", "last4", "limit") {
		return
	}
	ctx, done := c.queryCtx(r)
	defer done()
	v, err := c.buildFind(ctx, r.URL.Query())
	c.answer(w, r, v, err)
}

func (c *Console) buildFind(ctx context.Context, q url.Values) (findResponse, error) {
	res := findResponse{Traces: []traceMatchView{}}
	tq, err := store.ParseTraceQuery(q.Get("merchant"), q.Get("day"), q.Get("amount"), q.Get("terminal"), q.Get("last4"), c.loc)
	if err != nil {
		return res, errBadRequest(err.Error())
	}
	if tq.Limit, err = intParam(q, "limit", defaultFindLimit, 1, maxFindLimit); err != nil {
		return res, err
	}
	found, err := c.deps.Facts.FindTraces(ctx, tq)
	if err != nil {
		return res, err
	}
	res.MerchantID, res.Day, res.Amount = tq.MerchantID, tq.From.In(c.loc).Format(time.DateOnly), yuan(tq.Amount)
	for _, m := range found {
		v := traceMatchView{TraceNo: m.TraceNo, MerchantID: m.MerchantID, TerminalID: m.TerminalID, CardLast4: m.CardLast4,
			Amount: yuan(m.Amount), AuthorizedAt: time.UnixMilli(m.AuthorizedAt).In(c.loc), Status: matchStatus(m), Mode: m.Mode,
			ClearedAmount: yuan(m.ClearedAmount), NetPaid: yuan(m.NetPaid),
			ExpectedPayoutAt: c.optTime(m.ExpectedPayoutAt), PaidAt: c.optTime(m.PaidAt), Matched: []string{}, Score: m.Score}
		if m.AmountMatches {
			v.Matched = append(v.Matched, "amount")
		}
		if m.TerminalMatches {
			v.Matched = append(v.Matched, "terminal")
		}
		if m.Last4Matches {
			v.Matched = append(v.Matched, "last4")
		}
		res.Traces = append(res.Traces, v)
	}
	return res, nil
}

// matchStatus is a candidate's status: the settlement-lag fact's, declined
// for a declined sale, pending for an approved one with no fact yet.
func matchStatus(m store.TraceMatch) string {
	switch {
	case !m.Approved:
		return "declined"
	case m.Status == "":
		return "pending"
	}
	return m.Status
}
