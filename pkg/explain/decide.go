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
	"settlemon/pkg/text"
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

// decide builds the explanation of a trace in English.
func decide(f facts, sched *calendar.Schedule, asOf time.Time) Explanation {
	return decideIn(f, sched, asOf, text.English)
}

// decideIn builds the explanation of a trace from what is archived about
// it, as of asOf (how far the payout feed has delivered; zero when
// unknown), with its sentences in lang.
func decideIn(f facts, sched *calendar.Schedule, asOf time.Time, lang text.Lang) Explanation {
	loc := sched.Calendar().Location()
	p := text.NewPrinter(lang, loc)
	evs := dedupe(f.events)
	x := Explanation{
		TraceNo:   f.traceNo,
		Lang:      p.Lang().String(),
		Timeline:  stages(evs, f.merchant, p),
		Anomalies: anomalies(f.anomalies, p),
	}
	if !asOf.IsZero() {
		x.AsOf = asOf.In(loc)
	}
	if len(evs) == 0 && f.lag == nil && len(f.anomalies) == 0 {
		x.Status = StatusNotFound
		x.Summary = p.S("explain.end", p.S("explain.not_found", f.traceNo))
		x.Reply = p.S("reply.not_found", f.traceNo)
		return x
	}
	x.MerchantID = f.merchantID()
	s := subject{f: f, tr: scan(evs), sched: sched, p: p, asOf: asOf, mode: f.mode()}
	s.authAt = s.tr.authAt
	if f.lag != nil && f.lag.AuthorizedAt > 0 {
		s.authAt = f.lag.AuthorizedAt
	}
	x.Mode = s.mode.String()
	s.expect(&x)

	var statusKind fact.Kind // the anomaly the status already speaks for
	x.Status, x.Summary, statusKind = s.status()
	x.Summary = p.S("explain.end", x.Summary+s.otherOpen(statusKind))
	x.Reply = s.reply(x.Status, statusKind)
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
	p     *text.Printer
	asOf  time.Time
	mode  event.Mode

	authAt   int64  // authorization, 0 when unknown
	expected int64  // expected payout, 0 when unknown
	due      string // the sentence that explains the expected payout
	dueInfo  *calendar.Due
}

// expect sets the calendar and the expected payout of x, and keeps the
// expected payout and the sentence that explains it for the summary.
func (s *subject) expect(x *Explanation) {
	x.CalendarVersion = s.sched.Calendar().Version()
	if s.authAt <= 0 {
		return
	}
	d := s.sched.Due(s.mode, s.authAt)
	s.expected, x.CalendarFallback = d.Deadline.At, d.Deadline.Fallback
	s.due, s.dueInfo = s.p.Due(d), &d
	if l := s.f.lag; l != nil && l.ExpectedPayoutAt > 0 {
		if l.CalendarVersion != "" {
			x.CalendarVersion = l.CalendarVersion
		}
		x.CalendarFallback = l.CalendarFallback
		if l.ExpectedPayoutAt != s.expected {
			// Computed with another calendar or schedule: the fact wins.
			s.expected = l.ExpectedPayoutAt
			s.due, s.dueInfo = s.p.DueAt(shownMode(s.mode), s.expected), nil
		}
	}
	t := time.UnixMilli(s.expected).In(s.p.Location())
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

// action is what to do about an anomaly of kind k: in English the open
// anomaly's own words (what the joiner stored), else the taxonomy's; in
// another language the catalogue's.
func (s *subject) action(k fact.Kind) string {
	if s.p.Lang() == text.English {
		if a := s.open(k); a != nil && a.Action != "" {
			return a.Action
		}
	}
	return s.p.Action(k)
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
	tr, p := &s.tr, s.p
	hasAuth := tr.auths > 0 || (s.f.lag != nil && s.f.lag.AuthorizedAt > 0)
	switch {
	case !hasAuth && (tr.cleared != nil || tr.payout != nil || s.open(fact.OrphanClearing) != nil || s.open(fact.OrphanPayout) != nil):
		summary, kind = s.orphanSummary()
		return StatusOrphan, summary, kind
	case tr.auths > 0 && !tr.approved && tr.cleared == nil && tr.payout == nil:
		return StatusDeclined, p.S("explain.declined", tr.declined.ResponseCode, p.Time(tr.declined.OccurredAt)), ""
	}
	lag, _ := s.lagStages().Status()
	switch {
	case lag == fact.StatusFailed:
		return StatusFailed, s.failedSummary(), fact.PayoutFailed
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
	return StatusPending, s.pendingSummary(), ""
}

// paidAt is when the trace was paid, 0 when unknown.
func (s *subject) paidAt() int64 {
	paidAt := int64(0)
	if s.tr.paid != nil {
		paidAt = s.tr.paid.OccurredAt
	}
	if l := s.f.lag; l != nil && l.Status == fact.StatusPaid && l.PaidAt > 0 {
		paidAt = l.PaidAt
	}
	return paidAt
}

func (s *subject) paidSummary() string {
	p, paidAt := s.p, s.paidAt()
	out := p.S("explain.paid", p.Time(paidAt))
	if s.authAt > 0 && paidAt >= s.authAt {
		out = p.S("explain.paid.after_auth", out, p.Duration(paidAt-s.authAt))
	}
	if s.expected > 0 && paidAt > s.expected {
		out = p.S("explain.paid.late", out, p.Duration(paidAt-s.expected), shownMode(s.mode).String(), p.Time(s.expected))
	}
	return out
}

func (s *subject) heldSummary() string {
	p, held := s.p, s.tr.held
	out := p.S("explain.held", p.Time(held.OccurredAt))
	if r := joinNonEmpty(p.S("stage.reason.sep"), held.ReasonCode, held.Reason); r != "" {
		out = p.S("explain.held.reason", out, r)
	}
	if s.open(fact.PayoutHeld) != nil {
		return p.S("explain.held.beyond_sla", out, s.action(fact.PayoutHeld))
	}
	return p.S("explain.held.awaiting", out)
}

func (s *subject) reversedSummary() (string, fact.Kind) {
	at := s.p.Time(s.tr.reversal.OccurredAt)
	if s.tr.cleared != nil {
		return s.p.S("explain.reversed.cleared", at, s.action(fact.ReversedButSettled)), fact.ReversedButSettled
	}
	return s.p.S("explain.reversed", at), ""
}

func (s *subject) overdueSummary() string {
	p := s.p
	by := ""
	if s.expected > 0 && !s.asOf.IsZero() && s.asOf.UnixMilli() > s.expected {
		by = p.S("explain.overdue.by", p.Duration(s.asOf.UnixMilli()-s.expected))
	}
	return p.S("explain.overdue", s.due, by, s.action(fact.PayoutOverdue))
}

func (s *subject) clearingSummary() string {
	p := s.p
	if s.authAt > 0 {
		return p.S("explain.clearing_missing.due", p.Time(s.sched.ClearingDeadline(s.authAt).At), s.action(fact.ClearingMissing))
	}
	return p.S("explain.clearing_missing", s.action(fact.ClearingMissing))
}

func (s *subject) orphanSummary() (string, fact.Kind) {
	tr, p := &s.tr, s.p
	switch {
	case tr.paid != nil:
		return p.S("explain.orphan.paid", p.Time(tr.paid.OccurredAt), s.action(fact.OrphanPayout)), fact.OrphanPayout
	case tr.payout != nil:
		return p.S("explain.orphan.payout", tr.payout.Type.String(), p.Time(tr.payout.OccurredAt), s.action(fact.OrphanPayout)), fact.OrphanPayout
	case tr.cleared != nil:
		return p.S("explain.orphan.cleared", p.Time(tr.cleared.OccurredAt), s.action(fact.OrphanClearing)), fact.OrphanClearing
	}
	// Only the anomaly is archived.
	k := fact.OrphanClearing
	if s.open(fact.OrphanPayout) != nil {
		k = fact.OrphanPayout
	}
	return p.S("explain.orphan", s.action(k)), k
}

// failure is the mapped failure of a failed trace, with the bank code and
// whether the return-code catalogue lacked it.
//
// The reason is the joiner's, from the anomaly, when there is one: it was
// mapped with the return-code catalogue the joiner runs with, which may be an
// operator's file. Without it, the bank code of the event is mapped with the
// bundled catalogue. A code the catalogue lacks is named as such.
func (s *subject) failure() (r fact.PayoutFailure, code string, unknown bool, catalogue string) {
	ev, a := s.tr.failed, s.open(fact.PayoutFailed)
	r = fact.OtherFailure
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
	return r, code, unknown, catalogue
}

// failedSummary names the mapped failure reason in plain words and the
// action, e.g. "payout returned: account name mismatch — correct the
// settlement account".
func (s *subject) failedSummary() string {
	p := s.p
	r, code, unknown, catalogue := s.failure()
	if r != fact.OtherFailure && p.Has("failure."+string(r)) {
		return p.S("explain.failed", p.FailureAction(r))
	}
	rest := p.S("failure.other.action")
	switch {
	case code != "" && unknown:
		return p.S("explain.failed.code_unknown", code, catalogue, rest)
	case code != "":
		return p.S("explain.failed.code", code, rest)
	}
	return p.S("explain.failed", rest)
}

func (s *subject) pendingSummary() string {
	p, tr := s.p, &s.tr
	var out string
	switch {
	case s.due == "":
		out = p.S("explain.pending.no_payout")
	case s.asOf.IsZero():
		out = p.S("explain.pending.no_feed", s.due)
	case s.asOf.UnixMilli() < s.expected:
		out = p.S("explain.pending.not_overdue", s.due)
	default:
		out = p.S("explain.pending.past_due", s.due, p.Time(s.asOf.UnixMilli()))
	}
	if tr.held != nil {
		out = p.S("explain.pending.released", p.Time(tr.releasedAt), out)
	}
	return out
}

// otherOpen names the most pressing open anomaly the status does not already
// speak for, e.g. "; open anomaly: amount_mismatch — reconcile ...".
func (s *subject) otherOpen(skip fact.Kind) string {
	p := s.p
	var first *fact.Anomaly
	n := 0
	for i := range s.f.anomalies {
		a := &s.f.anomalies[i]
		if a.Status != fact.Open || a.Kind == skip {
			continue
		}
		n++
		if first == nil || a.Severity.Rank() < first.Severity.Rank() ||
			a.Severity.Rank() == first.Severity.Rank() && a.DetectedAt < first.DetectedAt {
			first = a
		}
	}
	if first == nil {
		return ""
	}
	act := first.Action
	if p.Lang() != text.English {
		act = p.Action(first.Kind)
	}
	out := p.S("explain.open", p.KindName(first.Kind))
	if act != "" {
		out = p.S("explain.open.action", out, act)
	}
	if n > 1 {
		out = p.S("explain.open.more", out, strconv.Itoa(n-1))
	}
	return out
}

func shownMode(m event.Mode) event.Mode {
	switch m {
	case event.T1, event.D1, event.D0, event.T0:
		return m
	}
	return event.T1
}

func stages(evs []archived, pr *profile, p *text.Printer) []Stage {
	out := make([]Stage, 0, len(evs))
	for _, a := range evs {
		e := &a.ev
		s := Stage{Stage: e.Type.String(), At: time.UnixMilli(e.OccurredAt).In(p.Location()), Batch: e.BatchID, Source: a.topic}
		if e.Amount != 0 {
			s.Amount = fmtFen(e.Amount)
		}
		var parts []string
		switch e.Type {
		case event.Authorization:
			if e.Approved() {
				parts = append(parts, p.S("stage.approved"))
			} else {
				parts = append(parts, p.S("stage.declined", e.ResponseCode))
			}
			if e.TerminalID != "" {
				parts = append(parts, p.S("stage.terminal", e.TerminalID))
			}
			if e.MCC != "" {
				parts = append(parts, p.S("stage.mcc", e.MCC))
			}
			if e.CardBIN != "" || e.CardLast4 != "" {
				parts = append(parts, p.S("stage.card", e.CardBIN, e.CardLast4))
			}
		case event.Reversal:
			parts = append(parts, p.S("stage.reversed"))
		case event.Cleared:
			parts = append(parts, p.S("stage.fee", p.Money(e.Fee)))
			if e.MCC != "" {
				m := p.S("stage.mcc", e.MCC)
				if pr != nil && pr.registeredMCC != "" && pr.registeredMCC != e.MCC {
					m = p.S("stage.mcc.registered", m, pr.registeredMCC)
				}
				parts = append(parts, m)
			}
		case event.PayoutFailed:
			reason := fact.MapPayoutFailure(e.ReasonCode)
			r := joinNonEmpty(" ", e.ReasonCode, p.FailureReason(reason))
			parts = append(parts, joinNonEmpty(p.S("stage.reason.sep"), r, e.Reason))
		case event.PayoutHeld, event.PayoutReleased:
			if r := joinNonEmpty(p.S("stage.reason.sep"), e.ReasonCode, e.Reason); r != "" {
				parts = append(parts, r)
			}
		}
		s.Detail = strings.Join(parts, p.S("clause.sep"))
		out = append(out, s)
	}
	return out
}

// anomalies lists the anomalies of the trace, open first. In English their
// cause, action and details are what the joiner stored; in another
// language they are rendered from the kind and the structured fields —
// the details from Args when the anomaly has them (a row stored before the
// store kept Args gets a brief sentence from its kind, amount and times
// unless its details need no Args).
func anomalies(in []fact.Anomaly, p *text.Printer) []Anomaly {
	as := append([]fact.Anomaly(nil), in...)
	sort.SliceStable(as, func(i, j int) bool {
		a, b := &as[i], &as[j]
		if (a.Status == fact.Open) != (b.Status == fact.Open) {
			return a.Status == fact.Open
		}
		if ra, rb := a.Severity.Rank(), b.Severity.Rank(); ra != rb {
			return ra < rb
		}
		if a.DetectedAt != b.DetectedAt {
			return a.DetectedAt < b.DetectedAt
		}
		return a.ID < b.ID
	})
	loc := p.Location()
	out := make([]Anomaly, 0, len(as))
	for _, a := range as {
		o := Anomaly{
			Kind: string(a.Kind), Severity: string(a.Severity), Status: string(a.Status),
			Reason: a.Reason, Cause: a.Cause, Action: a.Action, Details: a.Details,
			DetectedAt: time.UnixMilli(a.DetectedAt).In(loc),
		}
		o.Cause, o.Action, o.Details = p.Stored(a)
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

// fmtFen writes fen as a decimal string with two fractional digits: "1288.00".
func fmtFen(v int64) string {
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	return fmt.Sprintf("%s%d.%02d", sign, v/100, v%100)
}
