//go:build integration

package store_test

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"settlemon/pkg/event"
	"settlemon/pkg/fact"
	"settlemon/pkg/store"
	"settlemon/pkg/store/storetest"
)

// Amounts at the edges of Decimal(18, 2), the contract maximum and its
// negative included, and unix ms at the edges of DateTime.
var (
	edgeFen = []int64{0, 1, -1, 99, -99, 100, -100, 123_450, -128_027,
		999_999_999_999_999_999, -999_999_999_999_999_999}
	edgeMs = []int64{-1 << 62, -5, 0, 1, 999, 1000, 1_700_000_000_999, 4_294_967_295_000, 4_294_967_295_999,
		4_294_967_296_000, 1 << 62}
)

// storedMs is what a DateTime reads back as, in unix ms: whole seconds,
// nothing before 1970, nothing after the last second a DateTime holds.
func storedMs(ms int64) int64 {
	const maxSec = 1<<32 - 1
	switch {
	case ms <= 0:
		return 0
	case ms/1000 > maxSec:
		return maxSec * 1000
	}
	return ms / 1000 * 1000
}

// TestMoneyAndDateTimeEdgesRoundTrip inserts the edge amounts and times in
// every money and DateTime column of settlement_lag, one batch of many rows,
// and reads them back exactly.
func TestMoneyAndDateTimeEdgesRoundTrip(t *testing.T) {
	ctx := testCtx(t)
	s := storetest.New(t)

	n := 3 * len(edgeFen) * len(edgeMs)
	fen := func(i int) int64 { return edgeFen[i%len(edgeFen)] }
	ms := func(i int) int64 { return edgeMs[i%len(edgeMs)] }
	lags := make([]fact.Lag, n)
	want := make([]fact.Lag, n)
	for i := range lags {
		lags[i] = fact.Lag{TraceNo: fmt.Sprintf("T%04d", i), MerchantID: "M1", MCC: "5812", Mode: event.T1,
			AuthorizedAmount: fen(i), ClearedAmount: fen(i + 1), Fee: fen(i + 2), NetPaid: fen(i + 3),
			AuthorizedAt: ms(i), ClearedAt: ms(i + 1), PaidAt: ms(i + 2), ExpectedPayoutAt: ms(i + 3),
			AuthToClearS: int64(i), ClearToPayS: -int64(i), PastDueS: -1 << 40,
			Status: fact.StatusPaid, CalendarVersion: "cn-2024.1", CalendarFallback: i%2 == 0, Version: uint64(i) << 50}
		want[i] = lags[i]
		want[i].AuthorizedAt, want[i].ClearedAt = storedMs(ms(i)), storedMs(ms(i+1))
		want[i].PaidAt, want[i].ExpectedPayoutAt = storedMs(ms(i+2)), storedMs(ms(i+3))
	}
	if err := s.InsertLags(ctx, lags); err != nil {
		t.Fatal(err)
	}
	got := readLags(t, s, "settlement_lag")
	if len(got) != n {
		t.Fatalf("read back %d rows, want %d", len(got), n)
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("row %d: read back\n%+v\nwant\n%+v", i, got[i], want[i])
		}
	}

	// The server agrees on the amounts as decimals, not only as fen.
	var maxAmt, minAmt decimal.Decimal
	if err := s.Conn().QueryRow(ctx, "SELECT max(authorized_amount), min(authorized_amount) FROM settlement_lag").Scan(&maxAmt, &minAmt); err != nil {
		t.Fatal(err)
	}
	if maxAmt.String() != "9999999999999999.99" || minAmt.String() != "-9999999999999999.99" {
		t.Errorf("max, min authorized_amount = %s, %s; want ±9999999999999999.99", maxAmt, minAmt)
	}
	var maxTs, minTs uint32
	if err := s.Conn().QueryRow(ctx, "SELECT toUInt32(max(paid_at)), toUInt32(min(paid_at)) FROM settlement_lag").Scan(&maxTs, &minTs); err != nil {
		t.Fatal(err)
	}
	if maxTs != 1<<32-1 || minTs != 0 {
		t.Errorf("max, min paid_at = %d, %d seconds; want %d, 0", maxTs, minTs, uint32(1<<32-1))
	}
}

// TestRawBatchRoundTrip archives one batch of many clearing events, with
// payloads and edge amounts, and reads every row back in order.
func TestRawBatchRoundTrip(t *testing.T) {
	ctx := testCtx(t)
	s := storetest.New(t)

	type row struct {
		Partition               uint32
		Offset                  uint64
		KafkaTime, OccurredAt   int64
		ID, TraceNo, Payload    string
		Amount, Fee, Total, Cnt int64
	}
	const n = 2000
	rows := make([]store.RawRow, n)
	want := make([]row, n)
	for i := range rows {
		var payload []byte
		if i%10 != 9 {
			payload = fmt.Appendf(nil, `{"event_id":"e-%d","reason":"账户冻结 %d"}`, i, i)
		}
		ev := event.Event{ID: fmt.Sprint("e-", i), Type: event.Cleared, OccurredAt: edgeMs[i%len(edgeMs)], TraceNo: fmt.Sprint("T", i),
			MerchantID: "M1", BatchID: "B1", Amount: edgeFen[i%len(edgeFen)], Fee: edgeFen[(i+1)%len(edgeFen)], MCC: "5812",
			DeclaredCount: int64(i - n/2), DeclaredTotal: edgeFen[(i+2)%len(edgeFen)]}
		rows[i] = store.RawRow{Topic: "acq.clearing", Partition: int32(i % 3), Offset: int64(i), KafkaTime: 1_731_000_000_123 + int64(i),
			Event: ev, Payload: payload}
		want[i] = row{Partition: uint32(i % 3), Offset: uint64(i), KafkaTime: storedMs(rows[i].KafkaTime), OccurredAt: storedMs(ev.OccurredAt),
			ID: ev.ID, TraceNo: ev.TraceNo, Payload: string(payload), Amount: ev.Amount, Fee: ev.Fee, Total: ev.DeclaredTotal, Cnt: ev.DeclaredCount}
	}
	if err := s.InsertRaw(ctx, event.Clearing, rows); err != nil {
		t.Fatal(err)
	}
	q, err := s.Conn().Query(ctx, `SELECT "partition", "offset", kafka_time, occurred_at, event_id, trace_no, payload,
		amount, fee, declared_total, declared_count FROM clearing_events ORDER BY "offset"`)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	var got []row
	for q.Next() {
		var (
			r                  row
			kt, occ            time.Time
			amount, fee, total decimal.Decimal
		)
		if err := q.Scan(&r.Partition, &r.Offset, &kt, &occ, &r.ID, &r.TraceNo, &r.Payload, &amount, &fee, &total, &r.Cnt); err != nil {
			t.Fatal(err)
		}
		r.KafkaTime, r.OccurredAt = kt.UnixMilli(), occ.UnixMilli()
		r.Amount, r.Fee, r.Total = fen(amount), fen(fee), fen(total)
		got = append(got, r)
	}
	if err := q.Err(); err != nil {
		t.Fatal(err)
	}
	if len(got) != n {
		t.Fatalf("read back %d rows, want %d", len(got), n)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("row %d: read back\n%+v\nwant\n%+v", i, got[i], want[i])
		}
	}
}
