//go:build integration

package store_test

import (
	"context"
	"testing"
	"time"

	"settlemon/pkg/event"
	"settlemon/pkg/fact"
	"settlemon/pkg/store"
	"settlemon/pkg/store/storetest"
)

// TestFindTraces: a sale is found from the merchant, the day, the amount and
// the card's last four digits, best match first, with its status and
// expected payout; a declined sale is listed as such; other merchants and
// days are not.
func TestFindTraces(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := storetest.New(t)
	loc := time.FixedZone("CST", 8*3600)
	day := func(d, h int) int64 { return time.Date(2026, time.October, d, h, 0, 0, 0, loc).UnixMilli() }
	type sale struct {
		trace, merchant, terminal, last4, code string
		amount, at                             int64
	}
	sales := []sale{
		{"S1", "M1", "T1", "0427", "00", 128_00, day(1, 10)},
		{"S2", "M1", "T1", "9999", "00", 128_00, day(1, 11)}, // same amount, other card
		{"S3", "M1", "T2", "0427", "00", 130_00, day(1, 12)}, // same card, other amount
		{"S4", "M1", "T1", "0427", "05", 128_00, day(1, 13)}, // declined
		{"S5", "M1", "T1", "0427", "00", 128_00, day(2, 1)},  // next day
		{"S6", "M2", "T9", "0427", "00", 128_00, day(1, 10)}, // another merchant
		{"S7", "M1", "T1", "1111", "00", 500_00, day(1, 0)},  // local midnight: that day
	}
	var raws []store.RawRow
	var lags []fact.Lag
	for i, sl := range sales {
		raws = append(raws, store.RawRow{Topic: "pos.authorizations", Partition: 0, Offset: int64(i), KafkaTime: sl.at,
			Event: event.Event{ID: "au-" + sl.trace, Type: event.Authorization, OccurredAt: sl.at, TraceNo: sl.trace, MerchantID: sl.merchant,
				TerminalID: sl.terminal, ResponseCode: sl.code, CardBIN: "622848", CardLast4: sl.last4, Currency: "CNY", Amount: sl.amount, MCC: "5812"}})
		if sl.code == "00" {
			lags = append(lags, fact.Lag{TraceNo: sl.trace, MerchantID: sl.merchant, TerminalID: sl.terminal, Mode: event.T1,
				AuthorizedAmount: sl.amount, AuthorizedAt: sl.at, ExpectedPayoutAt: day(8, 18), Status: fact.StatusPending, Version: 1})
		}
	}
	// S1 paid later: a second version of its fact wins.
	lags = append(lags, fact.Lag{TraceNo: "S1", MerchantID: "M1", TerminalID: "T1", Mode: event.T1, AuthorizedAmount: 128_00, ClearedAmount: 128_00,
		NetPaid: 127_23, AuthorizedAt: day(1, 10), PaidAt: day(8, 10), ExpectedPayoutAt: day(8, 18), Status: fact.StatusPaid, Version: 2})
	if err := s.InsertRaw(ctx, event.Auth, raws); err != nil {
		t.Fatal(err)
	}
	if err := s.InsertLags(ctx, lags); err != nil {
		t.Fatal(err)
	}
	q, err := store.ParseTraceQuery("M1", "2026-10-01", "128", "", "0427", loc)
	if err != nil {
		t.Fatal(err)
	}
	found, err := s.FindTraces(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, m := range found {
		order = append(order, m.TraceNo)
	}
	// S1 and S4 match amount and card (S4 is later); S2 (amount) and S3
	// (card) score alike, S2's amount is nearer; then S7.
	want := []string{"S1", "S4", "S2", "S3", "S7"}
	if len(order) != len(want) {
		t.Fatalf("found %v, want %v", order, want)
	}
	for i := range want {
		if order[i] != want[i] {
			t.Fatalf("found %v, want %v", order, want)
		}
	}
	best := found[0]
	if best.Status != "paid" || best.NetPaid != 127_23 || best.PaidAt != day(8, 10) || best.ExpectedPayoutAt != day(8, 18) ||
		!best.AmountMatches || !best.Last4Matches || best.TerminalMatches || best.Score != 6 || !best.Approved || best.CardLast4 != "0427" {
		t.Errorf("best match %+v", best)
	}
	if d := found[1]; d.Approved || d.Status != "" {
		t.Errorf("the declined sale %+v, want not approved and no fact", d)
	}
	q.TerminalID = "T2"
	found, err = s.FindTraces(ctx, q)
	if err != nil || len(found) == 0 || found[0].TraceNo != "S1" || found[1].TraceNo != "S4" || found[2].TraceNo != "S3" {
		t.Fatalf("with terminal T2: %+v, %v; want S1, S4 (amount+card), then S3 (card+terminal) before S2 (amount)", found, err)
	}
	for _, bad := range [][5]string{{"", "2026-10-01", "1", "", ""}, {"M1", "2026/10/01", "1", "", ""}, {"M1", "2026-10-01", "-1", "", ""},
		{"M1", "2026-10-01", "1", "", "12a4"}, {"M1", "2026-10-01", "1", "a b", ""}} {
		if _, err := store.ParseTraceQuery(bad[0], bad[1], bad[2], bad[3], bad[4], loc); err == nil {
			t.Errorf("ParseTraceQuery%v: no error", bad)
		}
	}
}
