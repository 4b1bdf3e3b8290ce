package store

import (
	"encoding/json"
	"fmt"
	"time"

	"settlemon/pkg/event"
	"settlemon/pkg/fact"
)

// argsWire is the anomalies.args column: an anomaly's fact.Args as a JSON
// object of the fields set, the settlement mode, event type and source by
// name, so that a reader renders its details in any language (package
// text) from the values rather than from the stored English sentence.
type argsWire struct {
	ClearedAmount    int64  `json:"cleared_amount,omitempty"`
	Fee              int64  `json:"fee,omitempty"`
	Currency         string `json:"currency,omitempty"`
	ExpectedCurrency string `json:"expected_currency,omitempty"`
	FeeRatePPM       int64  `json:"fee_rate_ppm,omitempty"`
	ContractRatePPM  int64  `json:"contract_rate_ppm,omitempty"`
	MCC              string `json:"mcc,omitempty"`
	RegisteredMCC    string `json:"registered_mcc,omitempty"`
	AuthorizedAt     int64  `json:"authorized_at,omitempty"`
	ReversedAt       int64  `json:"reversed_at,omitempty"`
	SettledAt        int64  `json:"settled_at,omitempty"`
	HeldAt           int64  `json:"held_at,omitempty"`
	WindowMs         int64  `json:"window_ms,omitempty"`
	Mode             string `json:"mode,omitempty"`
	EventType        string `json:"event_type,omitempty"`
	EventID          string `json:"event_id,omitempty"`
	Source           string `json:"source"`
	Count            int64  `json:"count,omitempty"`
	LastProgressAt   int64  `json:"last_progress_at,omitempty"`
	DeclaredCount    int64  `json:"declared_count,omitempty"`
	TotalBeyond      bool   `json:"total_beyond,omitempty"`
}

// encodeArgs is the args column of a: "" when it has none.
func encodeArgs(a fact.Args) string {
	if a == (fact.Args{}) {
		return ""
	}
	w := argsWire{
		ClearedAmount: a.ClearedAmount, Fee: a.Fee, Currency: a.Currency, ExpectedCurrency: a.ExpectedCurrency,
		FeeRatePPM: a.FeeRatePPM, ContractRatePPM: a.ContractRatePPM, MCC: a.MCC, RegisteredMCC: a.RegisteredMCC,
		AuthorizedAt: a.AuthorizedAt, ReversedAt: a.ReversedAt, SettledAt: a.SettledAt, HeldAt: a.HeldAt,
		WindowMs: a.Window.Milliseconds(), EventID: a.EventID, Source: a.Source.String(),
		Count: a.Count, LastProgressAt: a.LastProgressAt, DeclaredCount: a.DeclaredCount, TotalBeyond: a.TotalBeyond,
	}
	if a.Mode != event.ModeUnknown {
		w.Mode = a.Mode.String()
	}
	if a.EventType != event.TypeUnknown {
		w.EventType = a.EventType.String()
	}
	b, _ := json.Marshal(w) // numbers, strings and a bool always encode
	return string(b)
}

// decodeArgs reads the args column; "" (no args, or a row written before
// the column) is the zero Args.
func decodeArgs(s string) (fact.Args, error) {
	if s == "" {
		return fact.Args{}, nil
	}
	var w argsWire
	if err := json.Unmarshal([]byte(s), &w); err != nil {
		return fact.Args{}, fmt.Errorf("anomaly args: %w", err)
	}
	a := fact.Args{
		ClearedAmount: w.ClearedAmount, Fee: w.Fee, Currency: w.Currency, ExpectedCurrency: w.ExpectedCurrency,
		FeeRatePPM: w.FeeRatePPM, ContractRatePPM: w.ContractRatePPM, MCC: w.MCC, RegisteredMCC: w.RegisteredMCC,
		AuthorizedAt: w.AuthorizedAt, ReversedAt: w.ReversedAt, SettledAt: w.SettledAt, HeldAt: w.HeldAt,
		Window: time.Duration(w.WindowMs) * time.Millisecond, EventID: w.EventID,
		Count: w.Count, LastProgressAt: w.LastProgressAt, DeclaredCount: w.DeclaredCount, TotalBeyond: w.TotalBeyond,
	}
	var err error
	if w.Mode != "" {
		if a.Mode, err = event.ParseMode(w.Mode); err != nil {
			return fact.Args{}, fmt.Errorf("anomaly args: %w", err)
		}
	}
	if w.EventType != "" {
		a.EventType = event.ParseType(w.EventType)
	}
	if a.Source, err = event.ParseSource(w.Source); err != nil {
		return fact.Args{}, fmt.Errorf("anomaly args: %w", err)
	}
	return a, nil
}
