package explain

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"settlemon/pkg/calendar"
	"settlemon/pkg/event"
	"settlemon/pkg/fact"
)

// archived is one event read from a raw archive, with the topic it came from.
type archived struct {
	src   event.Source
	topic string
	ev    event.Event
}

// profile is the part of a merchant's latest profile explain uses.
type profile struct {
	mode          event.Mode
	registeredMCC string
}

// facts is everything ClickHouse holds about one trace number.
type facts struct {
	traceNo   string
	lag       *fact.Lag // latest lag row, nil when none
	events    []archived
	anomalies []fact.Anomaly // latest version of each
	merchant  *profile       // nil when unknown
}

func (f *facts) merchantID() string {
	if f.lag != nil && f.lag.MerchantID != "" {
		return f.lag.MerchantID
	}
	for _, a := range f.events {
		if a.ev.MerchantID != "" {
			return a.ev.MerchantID
		}
	}
	for _, a := range f.anomalies {
		if a.MerchantID != "" {
			return a.MerchantID
		}
	}
	return ""
}

// trail is what the timeline says about the stages of a trace.
type trail struct {
	authAt     int64 // first approved authorization, 0 when none
	auths      int
	approved   bool
	declined   *event.Event // first declined authorization
	reversal   *event.Event // first reversal
	cleared    *event.Event // first cleared
	payout     *event.Event // first payout event of any kind
	paid       *event.Event // first payout_paid
	lastPaidAt int64
	failed     *event.Event // last payout_failed
	held       *event.Event // last payout_held
	releasedAt int64        // last payout_released
}

func scan(evs []archived) trail {
	var t trail
	for i := range evs {
		e := &evs[i].ev
		switch e.Type {
		case event.Authorization:
			t.auths++
			if e.Approved() {
				if !t.approved {
					t.approved, t.authAt = true, e.OccurredAt
				}
			} else if t.declined == nil {
				t.declined = e
			}
		case event.Reversal:
			if t.reversal == nil {
				t.reversal = e
			}
		case event.Cleared:
			if t.cleared == nil {
				t.cleared = e
			}
		case event.PayoutInitiated, event.PayoutPaid, event.PayoutFailed, event.PayoutHeld, event.PayoutReleased:
			if t.payout == nil {
				t.payout = e
			}
			switch e.Type {
			case event.PayoutPaid:
				if t.paid == nil {
					t.paid = e
				}
				t.lastPaidAt = e.OccurredAt
			case event.PayoutFailed:
				t.failed = e
			case event.PayoutHeld:
				t.held = e
			case event.PayoutReleased:
				t.releasedAt = e.OccurredAt
			}
		}
	}
	return t
}

// stageRank orders events of one trace that share an occurred_at (the
// archives keep whole seconds) in lifecycle order.
func stageRank(t event.Type) int {
	switch t {
	case event.Authorization:
		return 0
	case event.Reversal:
		return 1
	case event.Cleared:
		return 2
	case event.PayoutInitiated:
		return 3
	case event.PayoutHeld:
		return 4
	case event.PayoutReleased:
		return 5
	case event.PayoutPaid:
		return 6
	case event.PayoutFailed:
		return 7
	}
	return 8
}

// dedupe drops repeated deliveries of one event (same event_id: a producer
// retry, or a replayed offset) and sorts by occurred_at.
func dedupe(in []archived) []archived {
	out := make([]archived, 0, len(in))
	seen := make(map[string]bool, len(in))
	for _, a := range in {
		if a.ev.ID != "" {
			if seen[a.ev.ID] {
				continue
			}
			seen[a.ev.ID] = true
		}
		out = append(out, a)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := &out[i].ev, &out[j].ev
		if a.OccurredAt != b.OccurredAt {
			return a.OccurredAt < b.OccurredAt
		}
		return stageRank(a.Type) < stageRank(b.Type)
	})
	return out
}

// decide builds the explanation of a trace from what is archived about it,
// as of asOf (how far the payout feed has delivered; zero when unknown).
func decide(f facts, sched *calendar.Schedule, asOf time.Time) Explanation {
	loc := sched.Calendar().Location()
	evs := dedupe(f.events)
	x := Explanation{
		TraceNo:   f.traceNo,
		Timeline:  stages(evs, f.merchant, loc),
		Anomalies: anomalies(f.anomalies, loc),
	}
	if !asOf.IsZero() {
		x.AsOf = asOf.In(loc)
	}
	if len(evs) == 0 && f.lag == nil && len(f.anomalies) == 0 {
		x.Status = StatusNotFound
		x.Summary = "nothing archived for trace " + f.traceNo + ": the trace number is unknown, or its events have not arrived yet"
		return x
	}
	x.MerchantID = f.merchantID()
	tr := scan(evs)

	mode := event.ModeUnknown
	switch {
	case f.lag != nil && f.lag.Mode != event.ModeUnknown:
		mode = f.lag.Mode
	case f.merchant != nil:
		mode = f.merchant.mode
	}
	x.Mode = mode.String()

	authAt := tr.authAt
	if f.lag != nil && f.lag.AuthorizedAt > 0 {
		authAt = f.lag.AuthorizedAt
	}
	x.CalendarVersion = sched.Calendar().Version()

	// The expected payout and the sentence that explains it.
	var due string
	var expected int64
	if authAt > 0 {
		dl := sched.PayoutDeadline(mode, authAt)
		expected, x.CalendarFallback = dl.At, dl.Fallback
		due = sched.Describe(mode, authAt)
		if l := f.lag; l != nil && l.ExpectedPayoutAt > 0 {
			if l.CalendarVersion != "" {
				x.CalendarVersion = l.CalendarVersion
			}
			x.CalendarFallback = l.CalendarFallback
			if l.ExpectedPayoutAt != expected {
				// Computed with another calendar or schedule: the fact wins.
				expected = l.ExpectedPayoutAt
				due = shownMode(mode) + " payout due " + fmtTime(expected, loc)
			}
		}
		t := time.UnixMilli(expected).In(loc)
		x.ExpectedPayoutAt = &t
	}

	open := func(k fact.Kind) *fact.Anomaly {
		for i := range f.anomalies {
			if a := &f.anomalies[i]; a.Kind == k && a.Status == fact.Open {
				return a
			}
		}
		return nil
	}
	action := func(k fact.Kind) string {
		if a := open(k); a != nil && a.Action != "" {
			return a.Action
		}
		t, _ := fact.Describe(k)
		return t.Action
	}
	hasAuth := tr.auths > 0 || (f.lag != nil && f.lag.AuthorizedAt > 0)
	paid := tr.paid != nil || (f.lag != nil && f.lag.Status == fact.StatusPaid && f.lag.PaidAt > 0)
	failed := tr.failed != nil && (tr.paid == nil || tr.failed.OccurredAt > tr.lastPaidAt) ||
		tr.failed == nil && !paid && (f.lag != nil && f.lag.Status == fact.StatusFailed || open(fact.PayoutFailed) != nil)

	var statusKind fact.Kind // the anomaly the status already speaks for
	switch {
	case !hasAuth && (tr.cleared != nil || tr.payout != nil || open(fact.OrphanClearing) != nil || open(fact.OrphanPayout) != nil):
		x.Status = StatusOrphan
		x.Summary, statusKind = orphanSummary(tr, loc, open, action)

	case tr.auths > 0 && !tr.approved && tr.cleared == nil && tr.payout == nil:
		x.Status = StatusDeclined
		x.Summary = fmt.Sprintf("authorization declined (response %s) %s: a declined sale is never settled",
			tr.declined.ResponseCode, fmtTime(tr.declined.OccurredAt, loc))

	case failed:
		x.Status, statusKind = StatusFailed, fact.PayoutFailed
		x.Summary = failedSummary(tr.failed, open(fact.PayoutFailed))

	case paid:
		x.Status = StatusPaid
		paidAt := int64(0)
		if tr.paid != nil {
			paidAt = tr.paid.OccurredAt
		}
		if f.lag != nil && f.lag.Status == fact.StatusPaid && f.lag.PaidAt > 0 {
			paidAt = f.lag.PaidAt
		}
		s := "paid " + fmtTime(paidAt, loc)
		if authAt > 0 && paidAt >= authAt {
			s += ", " + fmtDuration(paidAt-authAt) + " after authorization"
		}
		if expected > 0 && paidAt > expected {
			s += "; " + fmtDuration(paidAt-expected) + " past the " + shownMode(mode) + " due time " + fmtTime(expected, loc)
		}
		x.Summary = s

	case tr.held != nil && tr.held.OccurredAt > tr.releasedAt:
		x.Status, statusKind = StatusHeld, fact.PayoutHeld
		s := "payout held for risk review since " + fmtTime(tr.held.OccurredAt, loc)
		if r := joinNonEmpty(": ", tr.held.ReasonCode, tr.held.Reason); r != "" {
			s += " (" + r + ")"
		}
		if open(fact.PayoutHeld) != nil {
			s += ", beyond the review SLA — " + action(fact.PayoutHeld)
		} else {
			s += "; awaiting the risk review"
		}
		x.Summary = s

	case tr.reversal != nil:
		x.Status = StatusReversed
		if tr.cleared != nil {
			statusKind = fact.ReversedButSettled
			x.Summary = "reversed " + fmtTime(tr.reversal.OccurredAt, loc) + " but still cleared — " + action(fact.ReversedButSettled)
		} else {
			x.Summary = "reversed " + fmtTime(tr.reversal.OccurredAt, loc) + ": a reversed sale is not paid out"
		}

	case open(fact.PayoutOverdue) != nil || f.lag != nil && f.lag.Status == fact.StatusOverdue:
		x.Status, statusKind = StatusOverdue, fact.PayoutOverdue
		s := due + "; overdue"
		if expected > 0 && !asOf.IsZero() && asOf.UnixMilli() > expected {
			s += " by " + fmtDuration(asOf.UnixMilli()-expected)
		}
		x.Summary = s + " with nothing paid — " + action(fact.PayoutOverdue)

	case open(fact.ClearingMissing) != nil:
		x.Status, statusKind = StatusClearingMissing, fact.ClearingMissing
		s := "not cleared"
		if authAt > 0 {
			s += ": clearing was due " + fmtTime(sched.ClearingDeadline(authAt).At, loc)
		}
		x.Summary = s + " — " + action(fact.ClearingMissing)

	default:
		x.Status = StatusPending
		x.Summary = pendingSummary(due, expected, asOf, tr, loc)
	}
	x.Summary += otherOpen(f.anomalies, statusKind)
	return x
}

func orphanSummary(tr trail, loc *time.Location, open func(fact.Kind) *fact.Anomaly, action func(fact.Kind) string) (string, fact.Kind) {
	switch {
	case tr.paid != nil:
		return "paid " + fmtTime(tr.paid.OccurredAt, loc) + " with no authorization on record — " + action(fact.OrphanPayout), fact.OrphanPayout
	case tr.payout != nil:
		return tr.payout.Type.String() + " " + fmtTime(tr.payout.OccurredAt, loc) + " with no authorization on record — " + action(fact.OrphanPayout), fact.OrphanPayout
	case tr.cleared != nil:
		return "cleared " + fmtTime(tr.cleared.OccurredAt, loc) + " with no authorization on record — " + action(fact.OrphanClearing), fact.OrphanClearing
	}
	// Only the anomaly is archived.
	k := fact.OrphanClearing
	if open(fact.OrphanPayout) != nil {
		k = fact.OrphanPayout
	}
	return "no authorization on record — " + action(k), k
}

// failedSummary names the mapped failure reason in plain words and the
// action, e.g. "payout returned: account name mismatch — correct the
// settlement account".
//
// The reason is the joiner's, from the anomaly, when there is one: it was
// mapped with the return-code catalogue the joiner runs with, which may be an
// operator's file. Without it, the bank code of the event is mapped with the
// bundled catalogue. A code the catalogue lacks is named as such.
func failedSummary(ev *event.Event, a *fact.Anomaly) string {
	r, code, unknown, catalogue := fact.OtherFailure, "", false, ""
	if ev != nil {
		code = ev.ReasonCode
		var known bool
		r, known = fact.DefaultBankCodes().Map(code)
		unknown, catalogue = !known, fact.DefaultBankCodes().Version()
	}
	if a != nil && a.Reason != "" {
		r = fact.PayoutFailure(a.Reason)
		if a.BankCodesVersion != "" {
			unknown, catalogue = a.BankCodeUnknown, a.BankCodesVersion
		}
		if a.BankCode != "" {
			code = a.BankCode
		}
	}
	act := r.Action()
	rest, other := strings.CutPrefix(act, "payout returned — ")
	switch {
	case !other:
		return "payout returned: " + act
	case code != "" && unknown:
		return "payout returned (bank code " + code + ", not in the return-code catalogue " + catalogue + "): " + rest
	case code != "":
		return "payout returned (bank code " + code + "): " + rest
	}
	return "payout returned: " + rest
}

func pendingSummary(due string, expected int64, asOf time.Time, tr trail, loc *time.Location) string {
	var s string
	if tr.held != nil {
		s = "released from risk hold " + fmtTime(tr.releasedAt, loc) + "; "
	}
	switch {
	case due == "":
		return s + "no payout on record yet"
	case asOf.IsZero():
		return s + due + "; the payout feed has delivered nothing yet"
	case asOf.UnixMilli() < expected:
		return s + due + "; not overdue yet"
	}
	return s + due + "; past due with no payout on record, not reported overdue yet (the payout feed has delivered up to " +
		fmtTime(asOf.UnixMilli(), loc) + ")"
}

// otherOpen names the most pressing open anomaly the status does not already
// speak for, e.g. "; open: amount_mismatch — reconcile ...".
func otherOpen(as []fact.Anomaly, skip fact.Kind) string {
	var first *fact.Anomaly
	n := 0
	for i := range as {
		a := &as[i]
		if a.Status != fact.Open || a.Kind == skip {
			continue
		}
		n++
		if first == nil || severityRank(a.Severity) < severityRank(first.Severity) ||
			severityRank(a.Severity) == severityRank(first.Severity) && a.DetectedAt < first.DetectedAt {
			first = a
		}
	}
	if first == nil {
		return ""
	}
	s := "; open anomaly: " + string(first.Kind)
	if first.Action != "" {
		s += " — " + first.Action
	}
	if n > 1 {
		s += " (+" + strconv.Itoa(n-1) + " more)"
	}
	return s
}

func severityRank(s fact.Severity) int {
	switch s {
	case fact.Critical:
		return 0
	case fact.Warning:
		return 1
	case fact.Info:
		return 2
	}
	return 3
}

func shownMode(m event.Mode) string {
	switch m {
	case event.T1, event.D1, event.D0, event.T0:
		return m.String()
	}
	return event.T1.String()
}

func stages(evs []archived, p *profile, loc *time.Location) []Stage {
	out := make([]Stage, 0, len(evs))
	for _, a := range evs {
		e := &a.ev
		s := Stage{Stage: e.Type.String(), At: time.UnixMilli(e.OccurredAt).In(loc), Batch: e.BatchID, Source: a.topic}
		if e.Amount != 0 {
			s.Amount = fmtFen(e.Amount)
		}
		var parts []string
		switch e.Type {
		case event.Authorization:
			if e.Approved() {
				parts = append(parts, "approved")
			} else {
				parts = append(parts, "declined (response "+e.ResponseCode+")")
			}
			if e.TerminalID != "" {
				parts = append(parts, "terminal "+e.TerminalID)
			}
			if e.MCC != "" {
				parts = append(parts, "MCC "+e.MCC)
			}
			if e.CardBIN != "" || e.CardLast4 != "" {
				parts = append(parts, "card "+e.CardBIN+"…"+e.CardLast4)
			}
		case event.Reversal:
			parts = append(parts, "sale reversed")
		case event.Cleared:
			parts = append(parts, "fee "+fmtFen(e.Fee))
			if e.MCC != "" {
				m := "MCC " + e.MCC
				if p != nil && p.registeredMCC != "" && p.registeredMCC != e.MCC {
					m += " (registered " + p.registeredMCC + ")"
				}
				parts = append(parts, m)
			}
		case event.PayoutFailed:
			r := joinNonEmpty(" ", e.ReasonCode, string(fact.MapPayoutFailure(e.ReasonCode)))
			parts = append(parts, joinNonEmpty(": ", r, e.Reason))
		case event.PayoutHeld, event.PayoutReleased:
			if r := joinNonEmpty(": ", e.ReasonCode, e.Reason); r != "" {
				parts = append(parts, r)
			}
		}
		s.Detail = strings.Join(parts, ", ")
		out = append(out, s)
	}
	return out
}

func anomalies(in []fact.Anomaly, loc *time.Location) []Anomaly {
	as := append([]fact.Anomaly(nil), in...)
	sort.SliceStable(as, func(i, j int) bool {
		a, b := &as[i], &as[j]
		if (a.Status == fact.Open) != (b.Status == fact.Open) {
			return a.Status == fact.Open
		}
		if ra, rb := severityRank(a.Severity), severityRank(b.Severity); ra != rb {
			return ra < rb
		}
		if a.DetectedAt != b.DetectedAt {
			return a.DetectedAt < b.DetectedAt
		}
		return a.ID < b.ID
	})
	out := make([]Anomaly, 0, len(as))
	for _, a := range as {
		o := Anomaly{
			Kind: string(a.Kind), Severity: string(a.Severity), Status: string(a.Status),
			Reason: a.Reason, Cause: a.Cause, Action: a.Action, Details: a.Details,
			DetectedAt: time.UnixMilli(a.DetectedAt).In(loc),
		}
		if a.ResolvedAt > 0 {
			t := time.UnixMilli(a.ResolvedAt).In(loc)
			o.ResolvedAt = &t
		}
		out = append(out, o)
	}
	return out
}

func joinNonEmpty(sep string, parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, sep)
}

// fmtTime writes an instant as support reads it: "Tue 2026-02-24 18:00", in
// the calendar's time zone, with seconds only when there are any.
func fmtTime(ms int64, loc *time.Location) string {
	t := time.UnixMilli(ms).In(loc)
	if t.Second() != 0 {
		return t.Format("Mon 2006-01-02 15:04:05")
	}
	return t.Format("Mon 2006-01-02 15:04")
}

// fmtDuration writes a lag coarsely: "2d 3h", "15h", "1h 5m", "45m", "30s".
func fmtDuration(ms int64) string {
	d := time.Duration(ms) * time.Millisecond
	days := d / (24 * time.Hour)
	d -= days * 24 * time.Hour
	h := d / time.Hour
	d -= h * time.Hour
	m := d / time.Minute
	switch {
	case days > 0 && h > 0:
		return fmt.Sprintf("%dd %dh", days, h)
	case days > 0:
		return fmt.Sprintf("%dd", days)
	case h > 0 && m > 0:
		return fmt.Sprintf("%dh %dm", h, m)
	case h > 0:
		return fmt.Sprintf("%dh", h)
	case m > 0:
		return fmt.Sprintf("%dm", m)
	}
	return fmt.Sprintf("%ds", d/time.Second)
}

// fmtFen writes fen as a decimal string with two fractional digits: "1288.00".
func fmtFen(v int64) string {
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	return fmt.Sprintf("%s%d.%02d", sign, v/100, v%100)
}
