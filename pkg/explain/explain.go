// Package explain answers the support question "why hasn't trace X been
// paid?". For one trace number it gathers what ClickHouse holds — the latest
// settlement_lag row, the raw authorization, clearing and payout archives, the
// anomalies and the merchant's latest profile — and turns it into a status, a
// one-line summary in plain words, the calendar-aware expected payout time, a
// timeline of every stage, the anomalies with their cause and recommended
// action, and a reply the agent can send the merchant — in English or
// Simplified Chinese (the sentences come from package text).
//
// It only reads; it never writes facts and does not re-run the join. The
// decision itself (decide) is a pure function of the gathered rows, the
// schedule and the "as of" instant, so it is tested without a database.
package explain

import (
	"context"
	"errors"
	"time"

	"settlemon/pkg/calendar"
	"settlemon/pkg/event"
	"settlemon/pkg/fact"
	"settlemon/pkg/store"
	"settlemon/pkg/text"
)

// Status values of an Explanation.
const (
	StatusPaid            = "paid"
	StatusFailed          = "failed"
	StatusOverdue         = "overdue"
	StatusHeld            = "held"
	StatusReversed        = "reversed"
	StatusClearingMissing = "clearing_missing"
	StatusOrphan          = "orphan"
	StatusDeclined        = "declined"
	StatusPending         = "pending"
	StatusNotFound        = "not_found"
)

// Stage is one archived event of the trace.
type Stage struct {
	Stage  string    `json:"stage"` // the event type: authorization, cleared, payout_paid, ...
	At     time.Time `json:"at"`    // occurred_at, in the calendar's time zone
	Amount string    `json:"amount,omitempty"`
	Batch  string    `json:"batch,omitempty"`
	Detail string    `json:"detail,omitempty"`
	Source string    `json:"source"` // the topic it was consumed from
}

// Anomaly is one anomaly of the trace, latest version.
type Anomaly struct {
	Kind       string     `json:"kind"`
	Severity   string     `json:"severity"`
	Status     string     `json:"status"`
	Reason     string     `json:"reason,omitempty"`
	Cause      string     `json:"cause"`
	Action     string     `json:"action"`
	Details    string     `json:"details,omitempty"`
	DetectedAt time.Time  `json:"detected_at"`
	ResolvedAt *time.Time `json:"resolved_at,omitempty"`
}

// Explanation is the answer for one trace.
type Explanation struct {
	TraceNo    string `json:"trace_no"`
	MerchantID string `json:"merchant_id,omitempty"`
	Mode       string `json:"mode,omitempty"`

	// Status is one of the Status* constants.
	Status string `json:"status"`
	// Summary is the one line support reads.
	Summary string `json:"summary"`
	// Reply is one or two sentences the support agent can send the
	// merchant: what happened, and when the money is expected or what the
	// merchant must do.
	Reply string `json:"reply"`
	// Lang is the language of the sentences: "en" or "zh-CN".
	Lang string `json:"lang"`

	ExpectedPayoutAt *time.Time `json:"expected_payout_at,omitempty"`
	CalendarVersion  string     `json:"calendar_version,omitempty"`
	CalendarFallback bool       `json:"calendar_fallback"`

	// AsOf is how far the payout feed has delivered (event time): whether a
	// payout is "not overdue yet" is judged against it.
	AsOf time.Time `json:"as_of,omitzero"`

	Timeline  []Stage   `json:"timeline"`  // by occurred_at
	Anomalies []Anomaly `json:"anomalies"` // open first
}

// Found reports whether anything is archived for the trace.
func (e Explanation) Found() bool { return e.Status != StatusNotFound }

// ErrInvalidTraceNo is returned for a trace number that no event could carry.
var ErrInvalidTraceNo = text.Errorf("error.trace_no", "A-Z a-z 0-9 _ -")

// ValidTraceNo reports whether s is a well-formed trace number: 1 to 32
// characters of A-Z a-z 0-9 _ - (the rule pkg/event enforces on input).
func ValidTraceNo(s string) bool { return event.ValidTraceNo(s) }

// Explainer reads what ClickHouse holds about a trace. It is safe for
// concurrent use.
type Explainer struct {
	st    Reader
	sched *calendar.Schedule
}

// New returns an Explainer reading from st, computing deadlines with sched.
func New(st Reader, sched *calendar.Schedule) (*Explainer, error) {
	if st == nil {
		return nil, errors.New("explain: no store")
	}
	if sched == nil {
		return nil, errors.New("explain: no schedule")
	}
	return &Explainer{st: st, sched: sched}, nil
}

// Explain explains traceNo as of asOf. A zero asOf means the payout feed's
// progress: the highest occurred_at archived from the payouts topic, events
// and heartbeats alike. A trace with nothing archived gives status not_found
// and no error.
func (x *Explainer) Explain(ctx context.Context, traceNo string, asOf time.Time) (Explanation, error) {
	return x.ExplainIn(ctx, traceNo, asOf, text.English)
}

// ExplainIn is Explain with the sentences in lang.
func (x *Explainer) ExplainIn(ctx context.Context, traceNo string, asOf time.Time, lang text.Lang) (Explanation, error) {
	if !ValidTraceNo(traceNo) {
		return Explanation{}, ErrInvalidTraceNo
	}
	f := facts{traceNo: traceNo}
	var err error
	if f.lag, err = x.lag(ctx, traceNo); err != nil {
		return Explanation{}, err
	}
	if f.events, err = x.events(ctx, traceNo); err != nil {
		return Explanation{}, err
	}
	if f.anomalies, err = x.anomalies(ctx, traceNo); err != nil {
		return Explanation{}, err
	}
	if m := f.merchantID(); m != "" {
		if f.merchant, err = x.profile(ctx, m); err != nil {
			return Explanation{}, err
		}
	}
	if asOf.IsZero() {
		if asOf, err = x.PayoutFeedProgress(ctx); err != nil {
			return Explanation{}, err
		}
	}
	return decideIn(f, x.sched, asOf, lang), nil
}

// Reader is what explain reads from the store (store.Store implements it).
type Reader interface {
	PayoutFeedProgress(ctx context.Context) (int64, error)
	TraceLag(ctx context.Context, traceNo string) (*fact.Lag, error)
	TraceEvents(ctx context.Context, traceNo string) ([]store.ArchivedEvent, error)
	TraceAnomalies(ctx context.Context, traceNo string) ([]fact.Anomaly, error)
	LatestProfile(ctx context.Context, merchantID string) (*store.MerchantProfile, error)
}

// PayoutFeedProgress returns the highest occurred_at archived from the payout
// feed: payout events and the control messages (heartbeats) of the payouts
// topic. It is zero when the feed has delivered nothing.
func (x *Explainer) PayoutFeedProgress(ctx context.Context) (time.Time, error) {
	ms, err := x.st.PayoutFeedProgress(ctx)
	if err != nil || ms == 0 {
		return time.Time{}, err
	}
	return time.UnixMilli(ms).In(x.sched.Calendar().Location()), nil
}

func (x *Explainer) lag(ctx context.Context, traceNo string) (*fact.Lag, error) {
	return x.st.TraceLag(ctx, traceNo)
}

func (x *Explainer) events(ctx context.Context, traceNo string) ([]archived, error) {
	evs, err := x.st.TraceEvents(ctx, traceNo)
	if err != nil {
		return nil, err
	}
	out := make([]archived, len(evs))
	for i, e := range evs {
		out[i] = archived{src: e.Source, topic: e.Topic, ev: e.Event}
	}
	return out, nil
}

func (x *Explainer) anomalies(ctx context.Context, traceNo string) ([]fact.Anomaly, error) {
	return x.st.TraceAnomalies(ctx, traceNo)
}

func (x *Explainer) profile(ctx context.Context, merchantID string) (*profile, error) {
	p, err := x.st.LatestProfile(ctx, merchantID)
	if err != nil || p == nil {
		return nil, err
	}
	return &profile{mode: p.Mode, registeredMCC: p.RegisteredMCC}, nil
}
