// Package incident groups open anomalies that share one cause into incidents
// (DESIGN §7 "Incidents"): the same stalled or incomplete batch, the same
// bank return code within a day, the same merchant's settlement account, the
// same day's clearing file or payout run, the same source outage. Of gives an
// anomaly its incident key from its structured fields; Gaps finds a feed's
// silences in its heartbeats, the incidents no anomaly carries.
//
// It is pure: no I/O and no clock. It renders no sentence (package text does)
// and counts nothing (the store aggregates the anomalies of a key).
package incident

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"

	"settlemon/pkg/fact"
)

// Class is what the anomalies of an incident have in common.
type Class string

// Incident classes.
const (
	// SourceOutage: a feed went silent (no heartbeat) and delivered what
	// it held back later. Derived from the heartbeats, not from anomalies.
	SourceOutage Class = "source_outage"
	// Batch: a stalled or incomplete clearing or payout batch.
	Batch Class = "batch"
	// BankReturn: payouts failed with one bank return code on one day.
	BankReturn Class = "bank_return"
	// Account: payouts of one merchant returned because of its
	// settlement account (invalid, name mismatch, frozen, closed).
	Account Class = "merchant_account"
	// ClearingFile: approved sales missing from one day's clearing.
	ClearingFile Class = "clearing_file"
	// PayoutRun: payouts of one settlement mode due on one day and not
	// confirmed.
	PayoutRun Class = "payout_run"
	// Merchant: one merchant's contract or behaviour (fees above the
	// contract, merchant-category jumping, risk holds).
	Merchant Class = "merchant"
	// Daily: one kind and reason of anomaly on one day of one feed
	// (amount mismatches, duplicates, reversed sales settled, orphans, late
	// events).
	Daily Class = "daily"
)

// Key identifies an incident. The fields a class does not use are empty.
type Key struct {
	Class      Class
	Kind       fact.Kind // Merchant, Daily
	Reason     string    // Daily: the anomaly's reason
	Source     string    // Batch, SourceOutage: the feed
	Mode       string    // PayoutRun: the settlement mode
	Day        string    // local date YYYY-MM-DD: BankReturn, ClearingFile, PayoutRun, Daily
	Code       string    // BankReturn: the bank's return code, upper case
	BatchID    string    // Batch
	MerchantID string    // Account, Merchant
	From       int64     // SourceOutage: Unix ms, the last heartbeat before the silence
}

// accountReasons are the payout failures the merchant's settlement account
// causes: fixing the account fixes all of them.
var accountReasons = map[string]bool{
	string(fact.AccountInvalid): true, string(fact.NameMismatch): true,
	string(fact.AccountFrozen): true, string(fact.AccountClosed): true,
}

// Of returns the incident key of a, its days taken in loc. It depends only
// on fields that stay the same across an anomaly's versions (kind, reason,
// bank code, batch, merchant, detection time, Args), so the open and the
// resolved version of an anomaly belong to one incident.
func Of(a *fact.Anomaly, loc *time.Location) Key {
	k, dated := classify(a)
	if dated {
		k.Day = time.UnixMilli(a.DetectedAt).In(loc).Format(time.DateOnly)
	}
	k.Code = strings.ToUpper(k.Code)
	return k
}

// AppendOf appends Of(a, loc).String() to dst without allocating.
func AppendOf(dst []byte, a *fact.Anomaly, loc *time.Location) []byte {
	k, dated := classify(a)
	var day [16]byte
	if dated {
		d := time.UnixMilli(a.DetectedAt).In(loc).AppendFormat(day[:0], time.DateOnly)
		k.Day = unsafe.String(unsafe.SliceData(d), len(d))
	}
	return k.append(dst, true)
}

// classify is Of without the day, which it reports the class has (dated),
// and with the code as the anomaly has it, not yet upper-cased.
func classify(a *fact.Anomaly) (k Key, dated bool) {
	switch a.Kind {
	case fact.BatchStalled, fact.BatchIncomplete:
		return Key{Class: Batch, Source: a.Args.Source.String(), BatchID: a.BatchID}, false
	case fact.PayoutFailed:
		if accountReasons[a.Reason] && a.MerchantID != "" {
			return Key{Class: Account, MerchantID: a.MerchantID}, false
		}
		code := a.BankCode
		if code == "" {
			code = a.Reason
		}
		return Key{Class: BankReturn, Code: code}, true
	case fact.ClearingMissing:
		return Key{Class: ClearingFile}, true
	case fact.PayoutOverdue:
		return Key{Class: PayoutRun, Mode: a.Args.Mode.String()}, true
	case fact.FeeRateDeviation, fact.MCCMismatch, fact.PayoutHeld:
		if a.MerchantID != "" {
			return Key{Class: Merchant, Kind: a.Kind, MerchantID: a.MerchantID}, false
		}
	}
	return Key{Class: Daily, Kind: a.Kind, Reason: a.Reason}, true
}

// String is the key as stored in the anomalies' incident_key column: the
// class, then its fields in a fixed order separated by '|', the free-form
// identifier (batch, merchant, reason or code) last so that it may hold any
// character. Parse reads it back.
func (k Key) String() string {
	var b [96]byte
	return string(k.append(b[:0], false))
}

// append appends k.String() to b, with the code upper-cased if upper.
func (k Key) append(b []byte, upper bool) []byte {
	b = append(b, k.Class...)
	field := func(s string) { b = append(append(b, '|'), s...) }
	switch k.Class {
	case SourceOutage:
		field(k.Source)
		b = strconv.AppendInt(append(b, '|'), k.From, 10)
	case Batch:
		field(k.Source)
		field(k.BatchID)
	case BankReturn:
		field(k.Day)
		b = append(b, '|')
		if upper {
			b = appendUpper(b, k.Code)
		} else {
			b = append(b, k.Code...)
		}
	case Account:
		field(k.MerchantID)
	case ClearingFile:
		field(k.Day)
	case PayoutRun:
		field(k.Mode)
		field(k.Day)
	case Merchant:
		field(string(k.Kind))
		field(k.MerchantID)
	case Daily:
		field(string(k.Kind))
		field(k.Day)
		field(k.Reason)
	default:
		b = append(b, '|')
	}
	return b
}

// appendUpper appends strings.ToUpper(s) to b, without allocating when s
// is ASCII.
func appendUpper(b []byte, s string) []byte {
	for i := range len(s) {
		if s[i] >= utf8.RuneSelf {
			return append(b, strings.ToUpper(s)...)
		}
	}
	for i := range len(s) {
		c := s[i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		b = append(b, c)
	}
	return b
}

// fields is how many '|'-separated fields follow each class.
var fields = map[Class]int{SourceOutage: 2, Batch: 2, BankReturn: 2, Account: 1, ClearingFile: 1,
	PayoutRun: 2, Merchant: 2, Daily: 3}

// Parse reads a key written by String.
func Parse(s string) (Key, error) {
	c, rest, ok := strings.Cut(s, "|")
	n, known := fields[Class(c)]
	if !ok || !known {
		return Key{}, fmt.Errorf("incident key %q: unknown class", s)
	}
	p := strings.SplitN(rest, "|", n)
	if len(p) != n {
		return Key{}, fmt.Errorf("incident key %q: want %d fields after the class", s, n)
	}
	k := Key{Class: Class(c)}
	switch k.Class {
	case SourceOutage:
		k.Source = p[0]
		if _, err := fmt.Sscan(p[1], &k.From); err != nil {
			return Key{}, fmt.Errorf("incident key %q: bad start: %w", s, err)
		}
	case Batch:
		k.Source, k.BatchID = p[0], p[1]
	case BankReturn:
		k.Day, k.Code = p[0], p[1]
	case Account:
		k.MerchantID = p[0]
	case ClearingFile:
		k.Day = p[0]
	case PayoutRun:
		k.Mode, k.Day = p[0], p[1]
	case Merchant:
		k.Kind, k.MerchantID = fact.Kind(p[0]), p[1]
	case Daily:
		k.Kind, k.Day, k.Reason = fact.Kind(p[0]), p[1], p[2]
	}
	return k, nil
}

// Window is a silence of a feed: no heartbeat between From and To, Unix ms.
// An open window is a silence that lasts still: To is the latest heartbeat
// of any feed.
type Window struct {
	From, To int64
	Open     bool
}

// Gaps returns the silences longer than minGap in a feed's heartbeat times
// (Unix ms, any order, duplicates allowed), earliest first. until is the
// latest heartbeat of any feed: when the feed's last heartbeat lies more
// than minGap before it, the feed is silent still and the last window is
// open. The time before the first heartbeat is not a gap: the feed may not
// have started.
func Gaps(beats []int64, until int64, minGap time.Duration) []Window {
	ts := append([]int64(nil), beats...)
	sort.Slice(ts, func(i, j int) bool { return ts[i] < ts[j] })
	var out []Window
	for i := 1; i < len(ts); i++ {
		if ts[i]-ts[i-1] > minGap.Milliseconds() {
			out = append(out, Window{From: ts[i-1], To: ts[i]})
		}
	}
	if n := len(ts); n > 0 && until-ts[n-1] > minGap.Milliseconds() {
		out = append(out, Window{From: ts[n-1], To: until, Open: true})
	}
	return out
}

// Summary is an incident as ops see it: what its anomalies (or, for a
// source outage, the traces the feed delivered late) add up to. Money is
// fen, times Unix ms.
type Summary struct {
	Key       Key
	Kinds     []fact.Kind // the anomaly kinds in it; none for a source outage
	Severity  fact.Severity
	Status    fact.AnomalyStatus // open while any of its anomalies is open
	Anomalies uint64
	Open      uint64 // anomalies still open
	Traces    uint64 // traces concerned (a batch counts as one)
	Amount    int64
	Merchants uint64
	// SomeMerchants are up to 20 of the merchants affected, sorted.
	SomeMerchants []string
	FirstAt       int64 // first detection (source outage: the last heartbeat before the silence)
	LastAt        int64 // last detection (source outage: the first heartbeat after it)
	ResolvedAt    int64 // the last resolution, zero while open
}

// Less orders incidents for ops: open before resolved, then the worse
// severity, more traces, larger amount, earlier start, and the key.
func Less(a, b *Summary) bool {
	if (a.Status == fact.Open) != (b.Status == fact.Open) {
		return a.Status == fact.Open
	}
	if ra, rb := a.Severity.Rank(), b.Severity.Rank(); ra != rb {
		return ra < rb
	}
	if a.Traces != b.Traces {
		return a.Traces > b.Traces
	}
	if a.Amount != b.Amount {
		return a.Amount > b.Amount
	}
	if a.FirstAt != b.FirstAt {
		return a.FirstAt < b.FirstAt
	}
	return a.Key.String() < b.Key.String()
}

// SeverityOfRank is the severity of the store's severity_rank (1 critical,
// 2 warning, 3 info).
func SeverityOfRank(r uint8) fact.Severity {
	switch r {
	case 1:
		return fact.Critical
	case 2:
		return fact.Warning
	}
	return fact.Info
}

// OutageKey is the key of the outage of source that began after the
// heartbeat at from.
func OutageKey(source string, from int64) Key {
	return Key{Class: SourceOutage, Source: source, From: from}
}

// DefaultSilence is how long a feed must send no heartbeat to count as a
// source outage: the joiner's default stall threshold.
const DefaultSilence = 30 * time.Minute
