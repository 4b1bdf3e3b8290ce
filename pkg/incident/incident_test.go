package incident

import (
	"reflect"
	"sort"
	"testing"
	"time"

	"settlemon/pkg/event"
	"settlemon/pkg/fact"
)

var shanghai = time.FixedZone("CST", 8*3600)

// at is a local time on 2026-10-01 in Shanghai, Unix ms.
func at(h, m int) int64 {
	return time.Date(2026, time.October, 1, h, m, 0, 0, shanghai).UnixMilli()
}

func TestOf(t *testing.T) {
	tests := []struct {
		name string
		a    fact.Anomaly
		want string
	}{
		{"stalled batch", fact.Anomaly{Kind: fact.BatchStalled, BatchID: "PAY-T1-20261001", Args: fact.Args{Source: event.Payouts}, DetectedAt: at(11, 0)},
			"batch|payouts|PAY-T1-20261001"},
		{"incomplete batch shares the batch's incident", fact.Anomaly{Kind: fact.BatchIncomplete, BatchID: "PAY-T1-20261001", Args: fact.Args{Source: event.Payouts}, DetectedAt: at(13, 0)},
			"batch|payouts|PAY-T1-20261001"},
		{"bank code within a day, case folded", fact.Anomaly{Kind: fact.PayoutFailed, Reason: "limit_exceeded", BankCode: "r05", MerchantID: "M1", DetectedAt: at(10, 0)},
			"bank_return|2026-10-01|R05"},
		{"bank code after local midnight is the next day", fact.Anomaly{Kind: fact.PayoutFailed, Reason: "other", BankCode: "R99", MerchantID: "M1", DetectedAt: at(0, 30)},
			"bank_return|2026-10-01|R99"},
		{"bank code just before local midnight", fact.Anomaly{Kind: fact.PayoutFailed, Reason: "other", BankCode: "R99", MerchantID: "M1", DetectedAt: at(0, 0) - 1},
			"bank_return|2026-09-30|R99"},
		{"no bank code: the reason", fact.Anomaly{Kind: fact.PayoutFailed, Reason: "other", DetectedAt: at(9, 0)},
			"bank_return|2026-10-01|OTHER"},
		{"settlement account problems are the merchant's", fact.Anomaly{Kind: fact.PayoutFailed, Reason: "name_mismatch", BankCode: "R02", MerchantID: "M7", DetectedAt: at(10, 0)},
			"merchant_account|M7"},
		{"frozen account", fact.Anomaly{Kind: fact.PayoutFailed, Reason: "account_frozen", BankCode: "ACCOUNT_FROZEN", MerchantID: "M7", DetectedAt: at(12, 0)},
			"merchant_account|M7"},
		{"clearing file of the day", fact.Anomaly{Kind: fact.ClearingMissing, Reason: "not_cleared", MerchantID: "M2", DetectedAt: at(6, 0)},
			"clearing_file|2026-10-01"},
		{"payout run of a mode and day", fact.Anomaly{Kind: fact.PayoutOverdue, MerchantID: "M2", Args: fact.Args{Mode: event.T1}, DetectedAt: at(18, 0)},
			"payout_run|T1|2026-10-01"},
		{"fee above contract: the merchant's", fact.Anomaly{Kind: fact.FeeRateDeviation, Reason: "fee_above_contract", MerchantID: "M3", DetectedAt: at(2, 0)},
			"merchant|fee_rate_deviation|M3"},
		{"mcc jumping: the merchant's", fact.Anomaly{Kind: fact.MCCMismatch, Reason: "mcc_5812", MerchantID: "M3", DetectedAt: at(2, 0)},
			"merchant|mcc_mismatch|M3"},
		{"an amount mismatch: kind, reason and day", fact.Anomaly{Kind: fact.AmountMismatch, Reason: "cleared_differs", MerchantID: "M4", DetectedAt: at(2, 0)},
			"daily|amount_mismatch|2026-10-01|cleared_differs"},
		{"orphans of the day", fact.Anomaly{Kind: fact.OrphanPayout, Reason: "no_authorization", DetectedAt: at(12, 0)},
			"daily|orphan_payout|2026-10-01|no_authorization"},
		{"a merchant-less fee deviation falls back to the day", fact.Anomaly{Kind: fact.FeeRateDeviation, Reason: "fee_exceeds_amount", DetectedAt: at(2, 0)},
			"daily|fee_rate_deviation|2026-10-01|fee_exceeds_amount"},
		{"separators inside an id stay in the last field", fact.Anomaly{Kind: fact.BatchStalled, BatchID: "B|1", Args: fact.Args{Source: event.Clearing}},
			"batch|clearing|B|1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := Of(&tt.a, shanghai)
			if got := k.String(); got != tt.want {
				t.Fatalf("Of = %q, want %q", got, tt.want)
			}
			var buf []byte
			if got := string(AppendOf(buf, &tt.a, shanghai)); got != tt.want {
				t.Fatalf("AppendOf = %q, want %q", got, tt.want)
			}
			buf = make([]byte, 0, 128)
			if n := testing.AllocsPerRun(10, func() { buf = AppendOf(buf[:0], &tt.a, shanghai) }); n != 0 {
				t.Errorf("AppendOf allocates %.0f times, want 0", n)
			}
			back, err := Parse(k.String())
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back, k) {
				t.Fatalf("Parse(%q) = %+v, want %+v", k.String(), back, k)
			}
		})
	}
}

// TestOfStableAcrossVersions: the open and resolved versions of an anomaly
// have one key.
func TestOfStableAcrossVersions(t *testing.T) {
	open := fact.Anomaly{Kind: fact.PayoutOverdue, Status: fact.Open, MerchantID: "M1", Args: fact.Args{Mode: event.D1}, DetectedAt: at(18, 0), Version: 1}
	resolved := open
	resolved.Status, resolved.ResolvedAt, resolved.Version = fact.Resolved, at(21, 0), 2
	if a, b := Of(&open, shanghai), Of(&resolved, shanghai); a != b {
		t.Fatalf("open %v, resolved %v", a, b)
	}
}

func TestParseRejects(t *testing.T) {
	for _, s := range []string{"", "nope|x", "batch|payouts", "source_outage|payouts|soon"} {
		if k, err := Parse(s); err == nil {
			t.Errorf("Parse(%q) = %+v, want an error", s, k)
		}
	}
	k := OutageKey("payouts", at(8, 55))
	back, err := Parse(k.String())
	if err != nil || back != k {
		t.Fatalf("outage key round trip: %+v, %v", back, err)
	}
}

func TestGaps(t *testing.T) {
	min5 := (5 * time.Minute).Milliseconds()
	tests := []struct {
		name  string
		beats []int64
		until int64
		want  []Window
	}{
		{"none", nil, 0, nil},
		{"steady", []int64{0, min5, 2 * min5, 3 * min5}, 3 * min5, nil},
		{"one silence, unordered with duplicates", []int64{3 * min5, 0, min5, 20 * min5, min5, 21 * min5}, 21 * min5,
			[]Window{{3 * min5, 20 * min5, false}}},
		{"exactly the threshold is no gap", []int64{0, 6 * min5}, 12 * min5, nil},
		{"two", []int64{0, 7 * min5, 8 * min5, 16 * min5}, 16 * min5, []Window{{0, 7 * min5, false}, {8 * min5, 16 * min5, false}}},
		{"silent still", []int64{0, min5}, 20 * min5, []Window{{min5, 20 * min5, true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Gaps(tt.beats, tt.until, 30*time.Minute); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Gaps = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestLess(t *testing.T) {
	open := fact.Open
	list := []Summary{
		{Key: Key{Class: ClearingFile, Day: "b"}, Status: fact.Resolved, Severity: fact.Critical, Traces: 900},
		{Key: Key{Class: Merchant, Kind: fact.MCCMismatch, MerchantID: "M"}, Status: open, Severity: fact.Warning, Traces: 5},
		{Key: Key{Class: PayoutRun, Mode: "T1", Day: "a"}, Status: open, Severity: fact.Critical, Traces: 10},
		{Key: Key{Class: Batch, Source: "payouts", BatchID: "B"}, Status: open, Severity: fact.Critical, Traces: 1},
	}
	want := []Class{PayoutRun, Batch, Merchant, ClearingFile}
	sort.Slice(list, func(i, j int) bool { return Less(&list[i], &list[j]) })
	for i, s := range list {
		if s.Key.Class != want[i] {
			t.Fatalf("order %d: %v, want %v", i, s.Key.Class, want[i])
		}
	}
}
