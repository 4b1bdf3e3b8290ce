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
	s := subject{f: f, tr: scan(evs), sched: sched, loc: loc, asOf: asOf, mode: f.mode()}
	s.authAt = s.tr.authAt
	if f.lag != nil && f.lag.AuthorizedAt > 0 {
		s.authAt = f.lag.AuthorizedAt
	}
	x.Mode = s.mode.String()
	s.expect(&x)

	var statusKind fact.Kind // the anomaly the status already speaks for
	x.Status, x.Summary, statusKind = s.status()
	x.Summary += otherOpen(f.anomalies, statusKind)
	return x
}

// mode is the trace's settlement mode: the lag row's, else the merchant
// profile's.
func (f *facts) mode() event.Mode {
	switch {
	case f.lag != nil && f.lag.Mode != event.ModeUnknown:
		return f.lag.Mode
	case f.merchant != nil:
		return f.merchant.mode
	}
	return event.ModeUnknown
}

// subject is one trace being explained: its facts, what its timeline says,
// and what the schedule expects of it.
type subject struct {
	f     facts
	tr    trail
	sched *calendar.Schedule
	loc   *time.Location
	asOf  time.Time
	mode  event.Mode

	authAt   int64  // authorization, 0 when unknown
	expected int64  // expected payout, 0 when unknown
	due      string // the sentence that explains the expected payout
}

// expect sets the calendar and the expected payout of x, and keeps the
// expected payout and the sentence that explains it for the summary.
func (s *subject) expect(x *Explanation) {
	x.CalendarVersion = s.sched.Calendar().Version()
	if s.authAt <= 0 {
		return
	}
	dl := s.sched.PayoutDeadline(s.mode, s.authAt)
	s.expected, x.CalendarFallback = dl.At, dl.Fallback
	s.due = s.sched.Describe(s.mode, s.authAt)
	if l := s.f.lag; l != nil && l.ExpectedPayoutAt > 0 {
		if l.CalendarVersion != "" {
			x.CalendarVersion = l.CalendarVersion
		}
		x.CalendarFallback = l.CalendarFallback
		if l.ExpectedPayoutAt != s.expected {
			// Computed with another calendar or schedule: the fact wins.
			s.expected = l.ExpectedPayoutAt
			s.due = shownMode(s.mode) + " payout due " + fmtTime(s.expected, s.loc)
		}
	}
	t := time.UnixMilli(s.expected).In(s.loc)
	x.ExpectedPayoutAt = &t
}

// open returns the open anomaly of kind k, nil when none.
func (s *subject) open(k fact.Kind) *fact.Anomaly {
	for i := range s.f.anomalies {
		if a := &s.f.anomalies[i]; a.Kind == k && a.Status == fact.Open {
			return a
		}
	}
	return nil
}

// action is what to do about an anomaly of kind k: the open anomaly's own
// words, else the taxonomy's.
func (s *subject) action(k fact.Kind) string {
	if a := s.open(k); a != nil && a.Action != "" {
		return a.Action
	}
	t, _ := fact.Describe(k)
	return t.Action
}

// lagStages is what the archives, the lag row and the open anomalies say
// about the stages the lag status derives from. A payout failure after the
// last confirmed payout (a returned payout) undoes the payment.
func (s *subject) lagStages() fact.Stages {
	tr, l := &s.tr, s.f.lag
	paid := tr.paid != nil || (l != nil && l.Status == fact.StatusPaid && l.PaidAt > 0)
	var failed bool
	if tr.failed != nil {
		failed = tr.paid == nil || tr.failed.OccurredAt > tr.lastPaidAt
	} else {
		failed = !paid && (l != nil && l.Status == fact.StatusFailed || s.open(fact.PayoutFailed) != nil)
	}
	return fact.Stages{
		Paid:                paid && !failed,
		Failed:              failed,
		OverdueOpen:         s.open(fact.PayoutOverdue) != nil || l != nil && l.Status == fact.StatusOverdue,
		ClearingMissingOpen: s.open(fact.ClearingMissing) != nil,
	}
}

// status chooses the trace's status and writes its summary. The statuses
// the join knows come from the shared derivation (fact.Stages); explain
// layers on them what only the archives show: an orphan, a declined sale, a
// risk hold and a reversal. kind is the anomaly the status already speaks
// for.
func (s *subject) status() (status, summary string, kind fact.Kind) {
	tr := &s.tr
	hasAuth := tr.auths > 0 || (s.f.lag != nil && s.f.lag.AuthorizedAt > 0)
	switch {
	case !hasAuth && (tr.cleared != nil || tr.payout != nil || s.open(fact.OrphanClearing) != nil || s.open(fact.OrphanPayout) != nil):
		summary, kind = s.orphanSummary()
		return StatusOrphan, summary, kind
	case tr.auths > 0 && !tr.approved && tr.cleared == nil && tr.payout == nil:
		return StatusDeclined, fmt.Sprintf("authorization declined (response %s) %s: a declined sale is never settled",
			tr.declined.ResponseCode, fmtTime(tr.declined.OccurredAt, s.loc)), ""
	}
	lag, _ := s.lagStages().Status()
	switch {
	case lag == fact.StatusFailed:
		return StatusFailed, failedSummary(tr.failed, s.open(fact.PayoutFailed)), fact.PayoutFailed
	case lag == fact.StatusPaid:
		return StatusPaid, s.paidSummary(), ""
	case tr.held != nil && tr.held.OccurredAt > tr.releasedAt:
		return StatusHeld, s.heldSummary(), fact.PayoutHeld
	case tr.reversal != nil:
		summary, kind = s.reversedSummary()
		return StatusReversed, summary, kind
	case lag == fact.StatusOverdue:
		return StatusOverdue, s.overdueSummary(), fact.PayoutOverdue
	case lag == fact.StatusClearingMissing:
		return StatusClearingMissing, s.clearingSummary(), fact.ClearingMissing
	}
	return StatusPending, pendingSummary(s.due, s.expected, s.asOf, s.tr, s.loc), ""
}

func (s *subject) paidSummary() string {
	paidAt := int64(0)
	if s.tr.paid != nil {
		paidAt = s.tr.paid.OccurredAt
	}
	if l := s.f.lag; l != nil && l.Status == fact.StatusPaid && l.PaidAt > 0 {
		paidAt = l.PaidAt
	}
	out := "paid " + fmtTime(paidAt, s.loc)
	if s.authAt > 0 && paidAt >= s.authAt {
		out += ", " + fmtDuration(paidAt-s.authAt) + " after authorization"
	}
	if s.expected > 0 && paidAt > s.expected {
		out += "; " + fmtDuration(paidAt-s.expected) + " past the " + shownMode(s.mode) + " due time " + fmtTime(s.expected, s.loc)
	}
	return out
}

func (s *subject) heldSummary() string {
	held := s.tr.held
	out := "payout held for risk review since " + fmtTime(held.OccurredAt, s.loc)
	if r := joinNonEmpty(": ", held.ReasonCode, held.Reason); r != "" {
		out += " (" + r + ")"
	}
	if s.open(fact.PayoutHeld) != nil {
		return out + ", beyond the review SLA — " + s.action(fact.PayoutHeld)
	}
	return out + "; awaiting the risk review"
}

func (s *subject) reversedSummary() (string, fact.Kind) {
	at := fmtTime(s.tr.reversal.OccurredAt, s.loc)
	if s.tr.cleared != nil {
		return "reversed " + at + " but still cleared — " + s.action(fact.ReversedButSettled), fact.ReversedButSettled
	}
	return "reversed " + at + ": a reversed sale is not paid out", ""
}

func (s *subject) overdueSummary() string {
	out := s.due + "; overdue"
	if s.expected > 0 && !s.asOf.IsZero() && s.asOf.UnixMilli() > s.expected {
		out += " by " + fmtDuration(s.asOf.UnixMilli()-s.expected)
	}
	return out + " with nothing paid — " + s.action(fact.PayoutOverdue)
}

func (s *subject) clearingSummary() string {
	out := "not cleared"
	if s.authAt > 0 {
		out += ": clearing was due " + fmtTime(s.sched.ClearingDeadline(s.authAt).At, s.loc)
	}
	return out + " — " + s.action(fact.ClearingMissing)
}

func (s *subject) orphanSummary() (string, fact.Kind) {
	tr, loc := &s.tr, s.loc
	switch {
	case tr.paid != nil:
		return "paid " + fmtTime(tr.paid.OccurredAt, loc) + " with no authorization on record — " + s.action(fact.OrphanPayout), fact.OrphanPayout
	case tr.payout != nil:
		return tr.payout.Type.String() + " " + fmtTime(tr.payout.OccurredAt, loc) + " with no authorization on record — " + s.action(fact.OrphanPayout), fact.OrphanPayout
	case tr.cleared != nil:
		return "cleared " + fmtTime(tr.cleared.OccurredAt, loc) + " with no authorization on record — " + s.action(fact.OrphanClearing), fact.OrphanClearing
	}
	// Only the anomaly is archived.
	k := fact.OrphanClearing
	if s.open(fact.OrphanPayout) != nil {
		k = fact.OrphanPayout
	}
	return "no authorization on record — " + s.action(k), k
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
