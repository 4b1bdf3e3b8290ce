package explain

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"settlemon/pkg/calendar"
	"settlemon/pkg/event"
	"settlemon/pkg/fact"
	"settlemon/pkg/text"
)

func testSchedule(tb testing.TB) *calendar.Schedule {
	tb.Helper()
	s, err := calendar.DefaultSchedule()
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

var shanghai = func() *time.Location {
	l, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		panic(err)
	}
	return l
}()

// local returns the Unix ms of a Shanghai wall-clock time "2026-02-13 23:30".
func local(tb testing.TB, s string) int64 {
	tb.Helper()
	t, err := time.ParseInLocation("2006-01-02 15:04", s, shanghai)
	if err != nil {
		tb.Fatalf("bad local time %q: %v", s, err)
	}
	return t.UnixMilli()
}

// ev builds an archived event of type typ at the local time at.
func ev(tb testing.TB, typ event.Type, id, at string, amount int64, mod ...func(*event.Event)) archived {
	tb.Helper()
	e := event.Event{ID: id, Type: typ, OccurredAt: local(tb, at), TraceNo: "TR1", MerchantID: "M001", Amount: amount}
	var src event.Source
	switch typ {
	case event.Authorization, event.Reversal:
		src = event.Auth
		if typ == event.Authorization {
			e.ResponseCode, e.TerminalID, e.MCC, e.CardBIN, e.CardLast4 = "00", "TERM01", "5812", "622848", "1234"
		}
	case event.Cleared:
		src = event.Clearing
		e.Fee, e.MCC, e.BatchID = 773, "5812", "CLR-20260213"
	default:
		src = event.Payouts
		e.BatchID = "PAY-1"
	}
	for _, m := range mod {
		m(&e)
	}
	return archived{src: src, topic: src.DefaultTopic(), ev: e}
}

func code(c, reason string) func(*event.Event) {
	return func(e *event.Event) { e.ReasonCode, e.Reason = c, reason }
}

func openAnomaly(tb testing.TB, k fact.Kind, at string) fact.Anomaly {
	tb.Helper()
	t, _ := fact.Describe(k)
	return fact.Anomaly{ID: string(k) + ":TR1", Kind: k, Severity: t.Severity, Status: fact.Open, TraceNo: "TR1",
		MerchantID: "M001", DetectedAt: local(tb, at), Cause: t.Cause, Action: t.Action}
}

// decideCase is one trace of TestDecide; TestDecideChinese explains the
// same traces in Chinese.
type decideCase struct {
	name         string
	facts        facts
	asOf         time.Time
	wantStatus   string
	wantSummary  string
	wantExpected string // local "2006-01-02 15:04", "" for none
}

func decideCases(t testing.TB) []decideCase {
	t1 := &profile{mode: event.T1, registeredMCC: "5812"}
	asOf := func(s string) time.Time { return time.UnixMilli(local(t, s)) }

	return []decideCase{
		{
			name:        "nothing archived",
			facts:       facts{},
			asOf:        asOf("2026-02-20 10:00"),
			wantStatus:  StatusNotFound,
			wantSummary: "nothing archived for trace TR1: the trace number is unknown, or its events have not arrived yet",
		},
		{
			name: "T1 across Spring Festival, before the due time",
			facts: facts{merchant: t1, events: []archived{
				ev(t, event.Authorization, "a1", "2026-02-13 23:30", 128800),
				ev(t, event.Cleared, "c1", "2026-02-14 02:00", 128800),
			}},
			asOf:         asOf("2026-02-20 10:00"),
			wantStatus:   StatusPending,
			wantSummary:  "T1 payout due Tue 2026-02-24 18:00 (Spring Festival 02-15..02-23); not overdue yet",
			wantExpected: "2026-02-24 18:00",
		},
		{
			name: "past due with no payout and no overdue anomaly yet",
			facts: facts{merchant: t1, events: []archived{
				ev(t, event.Authorization, "a1", "2026-03-02 10:00", 5000),
			}},
			asOf:         asOf("2026-03-03 19:00"),
			wantStatus:   StatusPending,
			wantSummary:  "T1 payout due Tue 2026-03-03 18:00; past due with no payout on record, not reported overdue yet (the payout feed has delivered up to Tue 2026-03-03 19:00)",
			wantExpected: "2026-03-03 18:00",
		},
		{
			name: "no payout feed progress at all",
			facts: facts{merchant: t1, events: []archived{
				ev(t, event.Authorization, "a1", "2026-03-02 10:00", 5000),
			}},
			wantStatus:   StatusPending,
			wantSummary:  "T1 payout due Tue 2026-03-03 18:00; the payout feed has delivered nothing yet",
			wantExpected: "2026-03-03 18:00",
		},
		{
			name: "paid after National Day",
			facts: facts{merchant: t1, events: []archived{
				ev(t, event.Authorization, "a1", "2026-10-07 19:12", 128800),
				ev(t, event.Cleared, "c1", "2026-10-08 01:00", 128800),
				ev(t, event.PayoutPaid, "p1", "2026-10-08 10:12", 128027),
			}},
			asOf:         asOf("2026-10-09 10:00"),
			wantStatus:   StatusPaid,
			wantSummary:  "paid Thu 2026-10-08 10:12, 15h after authorization",
			wantExpected: "2026-10-08 18:00",
		},
		{
			name: "paid late, from the lag row",
			facts: facts{
				lag: &fact.Lag{TraceNo: "TR1", MerchantID: "M001", Mode: event.T1, Status: fact.StatusPaid,
					AuthorizedAt: local(t, "2026-03-02 10:00"), PaidAt: local(t, "2026-03-04 09:30"),
					ExpectedPayoutAt: local(t, "2026-03-03 18:00"), CalendarVersion: "cn-mainland-2026.1"},
				anomalies: []fact.Anomaly{func() fact.Anomaly {
					a := openAnomaly(t, fact.PayoutOverdue, "2026-03-03 18:00")
					a.Status, a.ResolvedAt = fact.Resolved, local(t, "2026-03-04 09:30")
					return a
				}()},
			},
			asOf:         asOf("2026-03-05 10:00"),
			wantStatus:   StatusPaid,
			wantSummary:  "paid Wed 2026-03-04 09:30, 1d 23h after authorization; 15h 30m past the T1 due time Tue 2026-03-03 18:00",
			wantExpected: "2026-03-03 18:00",
		},
		{
			name: "failed: name mismatch",
			facts: facts{merchant: t1, events: []archived{
				ev(t, event.Authorization, "a1", "2026-03-02 10:00", 5000),
				ev(t, event.Cleared, "c1", "2026-03-03 01:00", 5000),
				ev(t, event.PayoutFailed, "f1", "2026-03-03 11:00", 4970, code("R02", "holder name does not match")),
			}, anomalies: []fact.Anomaly{openAnomaly(t, fact.PayoutFailed, "2026-03-03 11:00")}},
			asOf:         asOf("2026-03-04 10:00"),
			wantStatus:   StatusFailed,
			wantSummary:  "payout returned: account name mismatch — correct the settlement account",
			wantExpected: "2026-03-03 18:00",
		},
		{
			name: "failed: unknown bank code",
			facts: facts{merchant: t1, events: []archived{
				ev(t, event.Authorization, "a1", "2026-03-02 10:00", 5000),
				ev(t, event.PayoutFailed, "f1", "2026-03-03 11:00", 4970, code("R99", "")),
			}},
			asOf:         asOf("2026-03-04 10:00"),
			wantStatus:   StatusFailed,
			wantSummary:  "payout returned (bank code R99): contact the bank with the return code",
			wantExpected: "2026-03-03 18:00",
		},
		{
			name: "failed: the contract example's code ACCOUNT_NAME_MISMATCH",
			facts: facts{merchant: t1, events: []archived{
				ev(t, event.Authorization, "a1", "2026-03-02 10:00", 5000),
				ev(t, event.PayoutFailed, "f1", "2026-03-03 11:00", 4970, code("ACCOUNT_NAME_MISMATCH", "beneficiary name does not match the account holder")),
			}},
			asOf:         asOf("2026-03-04 10:00"),
			wantStatus:   StatusFailed,
			wantSummary:  "payout returned: account name mismatch — correct the settlement account",
			wantExpected: "2026-03-03 18:00",
		},
		{
			name: "failed: a code the catalogue lacks",
			facts: facts{merchant: t1, events: []archived{
				ev(t, event.Authorization, "a1", "2026-03-02 10:00", 5000),
				ev(t, event.PayoutFailed, "f1", "2026-03-03 11:00", 4970, code("ZX_NEW", "")),
			}},
			asOf:         asOf("2026-03-04 10:00"),
			wantStatus:   StatusFailed,
			wantSummary:  "payout returned (bank code ZX_NEW, not in the return-code catalogue " + fact.DefaultBankCodes().Version() + "): contact the bank with the return code",
			wantExpected: "2026-03-03 18:00",
		},
		{
			name: "failed: the joiner's catalogue (an operator's file) decides over the bundled one",
			facts: facts{merchant: t1, events: []archived{
				ev(t, event.Authorization, "a1", "2026-03-02 10:00", 5000),
				ev(t, event.PayoutFailed, "f1", "2026-03-03 11:00", 4970, code("E1", "")),
			}, anomalies: []fact.Anomaly{func() fact.Anomaly {
				a := openAnomaly(t, fact.PayoutFailed, "2026-03-03 11:00")
				a.Reason, a.BankCode, a.BankCodesVersion = string(fact.NameMismatch), "E1", "ops-1"
				return a
			}()}},
			asOf:         asOf("2026-03-04 10:00"),
			wantStatus:   StatusFailed,
			wantSummary:  "payout returned: account name mismatch — correct the settlement account",
			wantExpected: "2026-03-03 18:00",
		},
		{
			name: "failed, then paid on a corrected account",
			facts: facts{merchant: t1, events: []archived{
				ev(t, event.Authorization, "a1", "2026-03-02 10:00", 5000),
				ev(t, event.PayoutFailed, "f1", "2026-03-03 11:00", 4970, code("R01", "")),
				ev(t, event.PayoutPaid, "p1", "2026-03-05 11:00", 4970),
			}},
			asOf:         asOf("2026-03-06 10:00"),
			wantStatus:   StatusPaid,
			wantSummary:  "paid Thu 2026-03-05 11:00, 3d 1h after authorization; 1d 17h past the T1 due time Tue 2026-03-03 18:00",
			wantExpected: "2026-03-03 18:00",
		},
		{
			name: "held within the SLA",
			facts: facts{merchant: t1, events: []archived{
				ev(t, event.Authorization, "a1", "2026-03-02 10:00", 900000),
				ev(t, event.PayoutHeld, "h1", "2026-03-03 09:00", 0, code("RISK01", "large amount")),
			}},
			asOf:         asOf("2026-03-03 12:00"),
			wantStatus:   StatusHeld,
			wantSummary:  "payout held for risk review since Tue 2026-03-03 09:00 (RISK01: large amount); awaiting the risk review",
			wantExpected: "2026-03-03 18:00",
		},
		{
			name: "held beyond the SLA",
			facts: facts{merchant: t1, events: []archived{
				ev(t, event.Authorization, "a1", "2026-03-02 10:00", 900000),
				ev(t, event.PayoutHeld, "h1", "2026-03-03 09:00", 0),
			}, anomalies: []fact.Anomaly{openAnomaly(t, fact.PayoutHeld, "2026-03-04 09:00")}},
			asOf:         asOf("2026-03-04 12:00"),
			wantStatus:   StatusHeld,
			wantSummary:  "payout held for risk review since Tue 2026-03-03 09:00, beyond the review SLA — chase the risk review; ask the merchant for supporting documents",
			wantExpected: "2026-03-03 18:00",
		},
		{
			name: "released from hold, payout not yet due",
			facts: facts{merchant: t1, events: []archived{
				ev(t, event.Authorization, "a1", "2026-03-02 10:00", 900000),
				ev(t, event.PayoutHeld, "h1", "2026-03-03 09:00", 0),
				ev(t, event.PayoutReleased, "r1", "2026-03-03 12:00", 0),
			}},
			asOf:         asOf("2026-03-03 13:00"),
			wantStatus:   StatusPending,
			wantSummary:  "released from risk hold Tue 2026-03-03 12:00; T1 payout due Tue 2026-03-03 18:00; not overdue yet",
			wantExpected: "2026-03-03 18:00",
		},
		{
			name: "reversed, healthy",
			facts: facts{merchant: t1, events: []archived{
				ev(t, event.Authorization, "a1", "2026-03-02 10:00", 5000),
				ev(t, event.Reversal, "v1", "2026-03-02 10:03", 5000),
			}},
			asOf:         asOf("2026-03-04 10:00"),
			wantStatus:   StatusReversed,
			wantSummary:  "reversed Mon 2026-03-02 10:03: a reversed sale is not paid out",
			wantExpected: "2026-03-03 18:00",
		},
		{
			name: "reversed but cleared",
			facts: facts{merchant: t1, events: []archived{
				ev(t, event.Authorization, "a1", "2026-03-02 10:00", 5000),
				ev(t, event.Reversal, "v1", "2026-03-02 10:03", 5000),
				ev(t, event.Cleared, "c1", "2026-03-03 01:00", 5000),
			}, anomalies: []fact.Anomaly{openAnomaly(t, fact.ReversedButSettled, "2026-03-03 01:00")}},
			asOf:         asOf("2026-03-03 10:00"),
			wantStatus:   StatusReversed,
			wantSummary:  "reversed Mon 2026-03-02 10:03 but still cleared — claw back the settled amount",
			wantExpected: "2026-03-03 18:00",
		},
		{
			name: "reversed but paid",
			facts: facts{merchant: t1, events: []archived{
				ev(t, event.Authorization, "a1", "2026-03-02 10:00", 5000),
				ev(t, event.Reversal, "v1", "2026-03-02 10:03", 5000),
				ev(t, event.Cleared, "c1", "2026-03-03 01:00", 5000),
				ev(t, event.PayoutPaid, "p1", "2026-03-03 10:00", 4970),
			}, anomalies: []fact.Anomaly{openAnomaly(t, fact.ReversedButSettled, "2026-03-03 01:00")}},
			asOf:         asOf("2026-03-04 10:00"),
			wantStatus:   StatusPaid,
			wantSummary:  "paid Tue 2026-03-03 10:00, 1d after authorization; open anomaly: reversed_but_settled — claw back the settled amount",
			wantExpected: "2026-03-03 18:00",
		},
		{
			name: "overdue",
			facts: facts{merchant: t1, events: []archived{
				ev(t, event.Authorization, "a1", "2026-03-02 10:00", 5000),
				ev(t, event.Cleared, "c1", "2026-03-03 01:00", 5000),
			}, anomalies: []fact.Anomaly{openAnomaly(t, fact.PayoutOverdue, "2026-03-03 18:00")}},
			asOf:         asOf("2026-03-04 20:00"),
			wantStatus:   StatusOverdue,
			wantSummary:  "T1 payout due Tue 2026-03-03 18:00; overdue by 1d 2h with nothing paid — contact the paying bank; tell the merchant the payout is being chased",
			wantExpected: "2026-03-03 18:00",
		},
		{
			name: "clearing missing",
			facts: facts{merchant: t1, events: []archived{
				ev(t, event.Authorization, "a1", "2026-03-02 10:00", 5000),
			}, anomalies: []fact.Anomaly{openAnomaly(t, fact.ClearingMissing, "2026-03-03 06:00")}},
			asOf:         asOf("2026-03-03 10:00"),
			wantStatus:   StatusClearingMissing,
			wantSummary:  "not cleared: clearing was due Tue 2026-03-03 06:00 — escalate to the acquirer's clearing team with the trace number",
			wantExpected: "2026-03-03 18:00",
		},
		{
			name: "orphan clearing",
			facts: facts{events: []archived{
				ev(t, event.Cleared, "c1", "2026-03-03 01:00", 5000),
			}, anomalies: []fact.Anomaly{openAnomaly(t, fact.OrphanClearing, "2026-03-03 01:00")}},
			asOf:        asOf("2026-03-03 10:00"),
			wantStatus:  StatusOrphan,
			wantSummary: "cleared Tue 2026-03-03 01:00 with no authorization on record — check the POS switch feed for the missing authorization",
		},
		{
			name: "orphan payout",
			facts: facts{events: []archived{
				ev(t, event.PayoutInitiated, "i1", "2026-03-03 09:00", 4970),
				ev(t, event.PayoutPaid, "p1", "2026-03-03 10:00", 4970),
			}},
			asOf:        asOf("2026-03-03 10:00"),
			wantStatus:  StatusOrphan,
			wantSummary: "paid Tue 2026-03-03 10:00 with no authorization on record — check the POS switch feed for the missing authorization",
		},
		{
			name: "declined",
			facts: facts{merchant: t1, events: []archived{
				ev(t, event.Authorization, "a1", "2026-03-02 10:00", 5000, func(e *event.Event) { e.ResponseCode = "05" }),
			}},
			asOf:        asOf("2026-03-03 10:00"),
			wantStatus:  StatusDeclined,
			wantSummary: "authorization declined (response 05) Mon 2026-03-02 10:00: a declined sale is never settled",
		},
		{
			name: "unknown settlement mode is assumed T1",
			facts: facts{events: []archived{
				ev(t, event.Authorization, "a1", "2026-03-02 10:00", 5000),
			}},
			asOf:         asOf("2026-03-02 12:00"),
			wantStatus:   StatusPending,
			wantSummary:  "T1 payout due Tue 2026-03-03 18:00 (settlement mode unknown: assumed T1); not overdue yet",
			wantExpected: "2026-03-03 18:00",
		},
		{
			name: "D1 over a holiday",
			facts: facts{merchant: &profile{mode: event.D1}, events: []archived{
				ev(t, event.Authorization, "a1", "2026-10-01 10:00", 5000),
			}},
			asOf:         asOf("2026-10-01 12:00"),
			wantStatus:   StatusPending,
			wantSummary:  "D1 payout due Fri 2026-10-02 18:00 (calendar day: National Day 10-01..10-07 does not delay D1); not overdue yet",
			wantExpected: "2026-10-02 18:00",
		},
		{
			name: "the lag row's deadline wins over a recomputed one",
			facts: facts{lag: &fact.Lag{TraceNo: "TR1", MerchantID: "M001", Mode: event.T1, Status: fact.StatusPending,
				AuthorizedAt: local(t, "2026-03-02 10:00"), ExpectedPayoutAt: local(t, "2026-03-04 18:00"), CalendarVersion: "older-1"}},
			asOf:         asOf("2026-03-04 10:00"),
			wantStatus:   StatusPending,
			wantSummary:  "T1 payout due Wed 2026-03-04 18:00; not overdue yet",
			wantExpected: "2026-03-04 18:00",
		},
		{
			name: "another open anomaly is named after the status",
			facts: facts{merchant: t1, events: []archived{
				ev(t, event.Authorization, "a1", "2026-03-02 10:00", 5000),
				ev(t, event.Cleared, "c1", "2026-03-03 01:00", 5100),
			}, anomalies: []fact.Anomaly{
				openAnomaly(t, fact.MCCMismatch, "2026-03-03 01:00"),
				openAnomaly(t, fact.AmountMismatch, "2026-03-03 01:00"),
			}},
			asOf:         asOf("2026-03-03 10:00"),
			wantStatus:   StatusPending,
			wantSummary:  "T1 payout due Tue 2026-03-03 18:00; not overdue yet; open anomaly: amount_mismatch — reconcile the trace with clearing and settlement; raise a dispute if confirmed (+1 more)",
			wantExpected: "2026-03-03 18:00",
		},
	}
}

func TestDecide(t *testing.T) {
	sched := testSchedule(t)
	tests := decideCases(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.facts.traceNo = "TR1"
			got := decide(tt.facts, sched, tt.asOf)
			if got.Status != tt.wantStatus {
				t.Errorf("status = %q, want %q", got.Status, tt.wantStatus)
			}
			if got.Summary != tt.wantSummary {
				t.Errorf("summary:\n got %q\nwant %q", got.Summary, tt.wantSummary)
			}
			var exp string
			if got.ExpectedPayoutAt != nil {
				exp = got.ExpectedPayoutAt.Format("2006-01-02 15:04")
				if got.ExpectedPayoutAt.Location().String() != "Asia/Shanghai" {
					t.Errorf("expected payout in %v, want the calendar's zone", got.ExpectedPayoutAt.Location())
				}
			}
			if exp != tt.wantExpected {
				t.Errorf("expected payout = %q, want %q", exp, tt.wantExpected)
			}
			if len(got.Timeline) != len(tt.facts.events) {
				t.Errorf("timeline has %d stages, want %d", len(got.Timeline), len(tt.facts.events))
			}
			if len(got.Anomalies) != len(tt.facts.anomalies) {
				t.Errorf("%d anomalies, want %d", len(got.Anomalies), len(tt.facts.anomalies))
			}
		})
	}
}

func TestDecideTimeline(t *testing.T) {
	sched := testSchedule(t)
	f := facts{traceNo: "TR1", merchant: &profile{mode: event.T1, registeredMCC: "5411"}, events: []archived{
		ev(t, event.PayoutPaid, "p1", "2026-03-03 10:00", 4970),
		ev(t, event.Cleared, "c1", "2026-03-03 01:00", 5000),
		ev(t, event.PayoutPaid, "p1", "2026-03-03 10:00", 4970), // the same event delivered twice
		ev(t, event.Authorization, "a1", "2026-03-02 10:00", 5000),
		ev(t, event.PayoutInitiated, "i1", "2026-03-03 10:00", 4970), // same second as the payment
		ev(t, event.PayoutFailed, "f0", "2026-03-03 09:00", 4970, code("R02", "name")),
	}}
	got := decide(f, sched, time.UnixMilli(local(t, "2026-03-04 10:00")))
	want := []struct{ stage, amount, detail string }{
		{"authorization", "50.00", "approved, terminal TERM01, MCC 5812, card 622848…1234"},
		{"cleared", "50.00", "fee 7.73, MCC 5812 (registered 5411)"},
		{"payout_failed", "49.70", "R02 name_mismatch: name"},
		{"payout_initiated", "49.70", ""},
		{"payout_paid", "49.70", ""},
	}
	if len(got.Timeline) != len(want) {
		t.Fatalf("timeline = %+v, want %d stages", got.Timeline, len(want))
	}
	for i, w := range want {
		s := got.Timeline[i]
		if s.Stage != w.stage || s.Amount != w.amount || s.Detail != w.detail {
			t.Errorf("stage %d = {%s %s %q}, want {%s %s %q}", i, s.Stage, s.Amount, s.Detail, w.stage, w.amount, w.detail)
		}
	}
	if got.Timeline[0].Source != "pos.authorizations" || got.Timeline[4].Batch != "PAY-1" {
		t.Errorf("lineage: first source %q, last batch %q", got.Timeline[0].Source, got.Timeline[4].Batch)
	}
	if got.Status != StatusPaid {
		t.Errorf("status = %q, want paid (the failure came before the payment)", got.Status)
	}
}

func TestDecideAnomalyOrder(t *testing.T) {
	sched := testSchedule(t)
	resolved := openAnomaly(t, fact.PayoutOverdue, "2026-03-03 18:00")
	resolved.Status, resolved.ResolvedAt = fact.Resolved, local(t, "2026-03-04 09:00")
	info := openAnomaly(t, fact.LateEvent, "2026-03-01 00:00")
	crit := openAnomaly(t, fact.DuplicateTrace, "2026-03-05 00:00")
	f := facts{traceNo: "TR1", anomalies: []fact.Anomaly{resolved, info, crit}}
	got := decide(f, sched, time.Time{})
	var kinds []string
	for _, a := range got.Anomalies {
		kinds = append(kinds, a.Kind)
	}
	if want := "duplicate_trace late_event payout_overdue"; strings.Join(kinds, " ") != want {
		t.Errorf("anomaly order = %v, want %s (open first, then by severity)", kinds, want)
	}
	if got.Anomalies[2].ResolvedAt == nil || got.Anomalies[0].ResolvedAt != nil {
		t.Errorf("resolved_at: resolved %v, open %v", got.Anomalies[2].ResolvedAt, got.Anomalies[0].ResolvedAt)
	}
}

func TestExplanationJSONAndText(t *testing.T) {
	sched := testSchedule(t)
	f := facts{traceNo: "TR1", merchant: &profile{mode: event.T1}, events: []archived{
		ev(t, event.Authorization, "a1", "2026-02-13 23:30", 128800),
	}}
	x := decide(f, sched, time.UnixMilli(local(t, "2026-02-20 10:00")))

	b, err := json.Marshal(x)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{
		"trace_no": "TR1", "merchant_id": "M001", "mode": "T1", "status": "pending",
		"expected_payout_at": "2026-02-24T18:00:00+08:00", "as_of": "2026-02-20T10:00:00+08:00",
		"calendar_version": "cn-mainland-2026.1", "calendar_fallback": false,
	} {
		if m[k] != want {
			t.Errorf("json %s = %v, want %v", k, m[k], want)
		}
	}
	if tl, ok := m["timeline"].([]any); !ok || len(tl) != 1 {
		t.Errorf("json timeline = %v", m["timeline"])
	} else if s := tl[0].(map[string]any); s["stage"] != "authorization" || s["amount"] != "1288.00" ||
		s["at"] != "2026-02-13T23:30:00+08:00" || s["source"] != "pos.authorizations" {
		t.Errorf("json stage = %v", s)
	}
	if a, ok := m["anomalies"].([]any); !ok || len(a) != 0 {
		t.Errorf("json anomalies = %v, want an empty list", m["anomalies"])
	}

	var buf bytes.Buffer
	x.WriteText(&buf)
	text := buf.String()
	for _, want := range []string{
		"trace TR1  merchant M001  mode T1\n",
		"status:   pending\n",
		"summary:  T1 payout due Tue 2026-02-24 18:00 (Spring Festival 02-15..02-23); not overdue yet\n",
		"expected: Tue 2026-02-24 18:00:00 +08:00  (calendar cn-mainland-2026.1)\n",
		"Fri 2026-02-13 23:30:00 +08:00  authorization  1288.00",
		"anomalies:\n  none\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}

	var nf bytes.Buffer
	decide(facts{traceNo: "NOPE"}, sched, time.Time{}).WriteText(&nf)
	if s := nf.String(); !strings.Contains(s, "status:   not_found") || strings.Contains(s, "timeline") {
		t.Errorf("not-found text:\n%s", s)
	}
}

func TestValidTraceNo(t *testing.T) {
	for s, want := range map[string]bool{
		"TR1": true, "a_b-C9": true, strings.Repeat("x", 32): true,
		"": false, strings.Repeat("x", 33): false, "a b": false, "a/b": false, "ü": false, "a;DROP": false,
	} {
		if got := ValidTraceNo(s); got != want {
			t.Errorf("ValidTraceNo(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestFormatting(t *testing.T) {
	for ms, want := range map[int64]string{
		30_000: "30s", 45 * 60_000: "45m", 15 * 3_600_000: "15h", 65 * 60_000: "1h 5m",
		51 * 3_600_000: "2d 3h", 48 * 3_600_000: "2d", 48*3_600_000 + 59*60_000: "2d",
	} {
		if got := text.NewPrinter(text.English, nil).Duration(ms); got != want {
			t.Errorf("Duration(%d) = %q, want %q", ms, got, want)
		}
	}
	for fen, want := range map[int64]string{0: "0.00", 5: "0.05", 128800: "1288.00", -1234: "-12.34"} {
		if got := fmtFen(fen); got != want {
			t.Errorf("fmtFen(%d) = %q, want %q", fen, got, want)
		}
	}
}

// TestTextEscapesWhatTheStoreHolds: whatever a row in ClickHouse holds (an
// older build or another writer may have put it there), the text form shows
// controls, ANSI escapes and bidi overrides escaped; the JSON form keeps the
// exact text.
func TestTextEscapesWhatTheStoreHolds(t *testing.T) {
	const evil = "M\x00\x1b[31m\u202E1"
	sched := testSchedule(t)
	anomaly := openAnomaly(t, fact.PayoutFailed, "2026-02-16 11:00")
	anomaly.MerchantID, anomaly.Details = evil, "bank says\n\u2028status:   paid\x1b]0;pwned\x07"
	f := facts{traceNo: "TR1", merchant: &profile{mode: event.T1}, anomalies: []fact.Anomaly{anomaly}, events: []archived{
		ev(t, event.Authorization, "a1", "2026-02-13 23:30", 128800, func(e *event.Event) { e.MerchantID = evil }),
		ev(t, event.PayoutFailed, "f1", "2026-02-16 11:00", 128027, code("R02", "name\x9b31m \u2066mismatch\u2069"),
			func(e *event.Event) { e.MerchantID, e.BatchID = evil, "PAY\u202E-1" }),
	}}
	x := decide(f, sched, time.Time{})
	if x.MerchantID != evil {
		t.Fatalf("merchant id = %q, want the stored %q", x.MerchantID, evil)
	}

	var buf bytes.Buffer
	x.WriteText(&buf)
	text := buf.String()
	for _, want := range []string{
		`trace TR1  merchant M\x00\x1b[31m\u202e1  mode T1` + "\n",
		`PAY\u202e-1`,
		`details: bank says\n\u2028status:   paid\x1b]0;pwned\x07` + "\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
	for i, r := range text {
		if r != '\n' && event.Unsafe(r, true) || r == utf8.RuneError {
			t.Errorf("text has %U at byte %d:\n%q", r, i, text)
		}
	}

	b, err := json.Marshal(x)
	if err != nil {
		t.Fatal(err)
	}
	var back Explanation
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.MerchantID != evil {
		t.Errorf("JSON merchant_id = %q, want the exact %q", back.MerchantID, evil)
	}
}
