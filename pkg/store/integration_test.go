//go:build integration

package store_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net"
	"os"
	"path"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/shopspring/decimal"

	"settlemon/pkg/event"
	"settlemon/pkg/fact"
	"settlemon/pkg/store"
	"settlemon/pkg/store/storetest"
	"settlemon/schemas"
)

func testCtx(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	tb.Cleanup(cancel)
	return ctx
}

// sec truncates unix ms to whole seconds, as a DateTime column stores it.
func sec(ms int64) int64 { return ms / 1000 * 1000 }

func fen(d decimal.Decimal) int64 { return d.Shift(2).IntPart() }

func TestMigrate(t *testing.T) {
	ctx := testCtx(t)
	cfg := storetest.Config(t, storetest.UniqueName(t))
	s, err := store.New(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = s.Conn().Exec(context.Background(), "DROP DATABASE IF EXISTS `"+s.Database()+"`")
		_ = s.Close()
	})

	applied, err := s.Migrate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want, err := fs.Glob(schemas.ClickHouse, "clickhouse/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		want[i] = path.Base(want[i])
	}
	if !reflect.DeepEqual(applied, want) {
		t.Fatalf("first Migrate applied %v, want %v", applied, want)
	}
	applied, err = s.Migrate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != 0 {
		t.Fatalf("second Migrate applied %v, want nothing", applied)
	}

	var recorded uint64
	if err := s.Conn().QueryRow(ctx, "SELECT count() FROM schema_migrations").Scan(&recorded); err != nil {
		t.Fatal(err)
	}
	if recorded != uint64(len(want)) {
		t.Errorf("schema_migrations has %d rows, want %d (one per migration file)", recorded, len(want))
	}

	rows, err := s.Conn().Query(ctx, "SELECT name FROM system.tables WHERE database = ? ORDER BY name", s.Database())
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var tables []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, n)
	}
	want = []string{"anomalies", "anomalies_latest", "auth_events", "batches", "batches_latest", "clearing_events", "control_events",
		"dead_letters", "lag_stats_by_hour", "lag_stats_by_merchant", "lag_stats_by_mode", "merchant_events",
		"payout_events", "schema_migrations", "settlement_lag", "settlement_lag_latest", "source_health", "source_health_latest"}
	have := map[string]bool{}
	for _, n := range tables {
		have[n] = true
	}
	for _, n := range want {
		if !have[n] {
			t.Errorf("table or view %s is missing after Migrate; have %v", n, tables)
		}
	}
}

func TestNewCreatesDatabase(t *testing.T) {
	ctx := testCtx(t)
	s := storetest.New(t)
	var n uint64
	if err := s.Conn().QueryRow(ctx, "SELECT count() FROM system.databases WHERE name = ?", s.Database()).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("database %s not created", s.Database())
	}
}

// rawEvent is what a raw archive row reads back as.
type rawEvent struct {
	Topic      string
	Partition  uint32
	Offset     uint64
	KafkaTime  int64
	ID         string
	Type       string
	OccurredAt int64
	Fields     map[string]string
	Money      map[string]int64
	Ints       map[string]int64
	Payload    string
}

func TestInsertRawRoundTrip(t *testing.T) {
	ctx := testCtx(t)
	s := storetest.New(t)

	const t0 = int64(1_731_000_000_123) // 2024-11-07, with milliseconds
	tests := []struct {
		src    event.Source
		table  string
		row    store.RawRow
		fields []string // string columns to compare
		money  []string // decimal columns
		ints   []string // Int64 columns
		want   rawEvent
	}{
		{
			src: event.Auth, table: "auth_events",
			row: store.RawRow{Topic: "pos.authorizations", Partition: 2, Offset: 41, KafkaTime: t0 + 500,
				Event: event.Event{ID: "e-auth-1", Type: event.Authorization, OccurredAt: t0, TraceNo: "T0001",
					MerchantID: "M1", TerminalID: "TERM9", ResponseCode: "00", CardBIN: "622202", CardLast4: "1234",
					Currency: "CNY", Amount: 123_456, MCC: "5812"},
				Payload: []byte(`{"event_id":"e-auth-1"}`)},
			fields: []string{"trace_no", "merchant_id", "terminal_id", "response_code", "card_bin", "card_last4", "currency", "mcc"},
			money:  []string{"amount"},
			want: rawEvent{Topic: "pos.authorizations", Partition: 2, Offset: 41, KafkaTime: sec(t0 + 500),
				ID: "e-auth-1", Type: "authorization", OccurredAt: sec(t0),
				Fields: map[string]string{"trace_no": "T0001", "merchant_id": "M1", "terminal_id": "TERM9",
					"response_code": "00", "card_bin": "622202", "card_last4": "1234", "currency": "CNY", "mcc": "5812"},
				Money:   map[string]int64{"amount": 123_456},
				Payload: `{"event_id":"e-auth-1"}`},
		},
		{
			src: event.Clearing, table: "clearing_events",
			row: store.RawRow{Topic: "acq.clearing", Partition: 0, Offset: 7, KafkaTime: t0,
				Event: event.Event{ID: "e-clr-1", Type: event.BatchClosed, OccurredAt: t0, BatchID: "B1",
					DeclaredCount: 1000, DeclaredTotal: 999_999_999_999_999_999},
				Payload: []byte(`{"type":"batch_closed"}`)},
			fields: []string{"trace_no", "batch_id", "mcc"},
			money:  []string{"amount", "fee", "declared_total"},
			ints:   []string{"declared_count"},
			want: rawEvent{Topic: "acq.clearing", Partition: 0, Offset: 7, KafkaTime: sec(t0),
				ID: "e-clr-1", Type: "batch_closed", OccurredAt: sec(t0),
				Fields:  map[string]string{"trace_no": "", "batch_id": "B1", "mcc": ""},
				Money:   map[string]int64{"amount": 0, "fee": 0, "declared_total": 999_999_999_999_999_999},
				Ints:    map[string]int64{"declared_count": 1000},
				Payload: `{"type":"batch_closed"}`},
		},
		{
			src: event.Payouts, table: "payout_events",
			row: store.RawRow{Topic: "acq.payouts", Partition: 5, Offset: 1 << 40, KafkaTime: 0,
				Event: event.Event{ID: "e-pay-1", Type: event.PayoutFailed, OccurredAt: t0, TraceNo: "T0001",
					MerchantID: "M1", BatchID: "P7", Amount: 1, ReasonCode: "R03", Reason: "账户冻结"},
				Payload: []byte(`{}`)},
			fields: []string{"trace_no", "merchant_id", "batch_id", "reason_code", "reason"},
			money:  []string{"amount"},
			want: rawEvent{Topic: "acq.payouts", Partition: 5, Offset: 1 << 40, KafkaTime: 0,
				ID: "e-pay-1", Type: "payout_failed", OccurredAt: sec(t0),
				Fields: map[string]string{"trace_no": "T0001", "merchant_id": "M1", "batch_id": "P7",
					"reason_code": "R03", "reason": "账户冻结"},
				Money:   map[string]int64{"amount": 1},
				Payload: `{}`},
		},
		{
			src: event.Merchants, table: "merchant_events",
			row: store.RawRow{Topic: "acq.merchants", Partition: 1, Offset: 3, KafkaTime: t0,
				Event: event.Event{ID: "e-m-1", Type: event.Merchant, OccurredAt: t0, MerchantID: "M1",
					MerchantName: "小吃店", RegisteredMCC: "5812", Mode: event.D0, FeeRatePPM: 3800, AccountRef: "acct-7"},
				Payload: []byte(`{"merchant_id":"M1"}`)},
			fields: []string{"merchant_id", "merchant_name", "registered_mcc", "mode", "account_ref"},
			ints:   []string{"fee_rate_ppm"},
			want: rawEvent{Topic: "acq.merchants", Partition: 1, Offset: 3, KafkaTime: sec(t0),
				ID: "e-m-1", Type: "merchant", OccurredAt: sec(t0),
				Fields: map[string]string{"merchant_id": "M1", "merchant_name": "小吃店", "registered_mcc": "5812",
					"mode": "D0", "account_ref": "acct-7"},
				Ints:    map[string]int64{"fee_rate_ppm": 3800},
				Payload: `{"merchant_id":"M1"}`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.table, func(t *testing.T) {
			// A re-delivered message (same coordinates) inserted again must collapse.
			for range 2 {
				if err := s.InsertRaw(ctx, tt.src, []store.RawRow{tt.row}); err != nil {
					t.Fatal(err)
				}
			}
			cols := append(append(append([]string{}, tt.fields...), tt.money...), tt.ints...)
			q := `SELECT topic, "partition", "offset", kafka_time, event_id, type, occurred_at, payload`
			for _, c := range cols {
				q += ", " + c
			}
			q += " FROM " + tt.table + " FINAL"
			rows, err := s.Conn().Query(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var got []rawEvent
			for rows.Next() {
				var (
					r       rawEvent
					kt, occ time.Time
					strs    = make([]string, len(tt.fields))
					decs    = make([]decimal.Decimal, len(tt.money))
					ints    = make([]int64, len(tt.ints))
					dest    = []any{&r.Topic, &r.Partition, &r.Offset, &kt, &r.ID, &r.Type, &occ, &r.Payload}
				)
				for i := range strs {
					dest = append(dest, &strs[i])
				}
				for i := range decs {
					dest = append(dest, &decs[i])
				}
				for i := range ints {
					dest = append(dest, &ints[i])
				}
				if err := rows.Scan(dest...); err != nil {
					t.Fatal(err)
				}
				r.KafkaTime, r.OccurredAt = kt.UnixMilli(), occ.UnixMilli()
				if len(strs) > 0 {
					r.Fields = map[string]string{}
					for i, c := range tt.fields {
						r.Fields[c] = strs[i]
					}
				}
				if len(decs) > 0 {
					r.Money = map[string]int64{}
					for i, c := range tt.money {
						r.Money[c] = fen(decs[i])
					}
				}
				if len(ints) > 0 {
					r.Ints = map[string]int64{}
					for i, c := range tt.ints {
						r.Ints[c] = ints[i]
					}
				}
				got = append(got, r)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 {
				t.Fatalf("%s FINAL has %d rows after a duplicate delivery, want 1", tt.table, len(got))
			}
			if !reflect.DeepEqual(got[0], tt.want) {
				t.Errorf("read back\n%+v\nwant\n%+v", got[0], tt.want)
			}
		})
	}
}

func TestInsertRawUnknownSource(t *testing.T) {
	s := storetest.New(t)
	err := s.InsertRaw(testCtx(t), event.NumSources, []store.RawRow{{}})
	if err == nil {
		t.Fatal("InsertRaw with an unknown source succeeded")
	}
}

func TestInsertEmptyIsNoop(t *testing.T) {
	ctx := testCtx(t)
	s := storetest.New(t)
	for name, err := range map[string]error{
		"raw":          s.InsertRaw(ctx, event.Auth, nil),
		"control":      s.InsertControl(ctx, nil),
		"dead letters": s.InsertDeadLetters(ctx, []store.DeadLetter{}),
		"lags":         s.InsertLags(ctx, nil),
		"anomalies":    s.InsertAnomalies(ctx, nil),
	} {
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	n, err := s.LagRowCount(ctx)
	if err != nil || n != 0 {
		t.Fatalf("LagRowCount = %d, %v; want 0", n, err)
	}
}

func TestControlAndDeadLetterRoundTrip(t *testing.T) {
	ctx := testCtx(t)
	s := storetest.New(t)
	const t0 = int64(1_731_000_000_999)

	ctl := store.ControlRow{Topic: "acq.payouts", Partition: 3, Offset: 99, KafkaTime: t0 + 10,
		Type: "heartbeat", OccurredAt: t0, Producer: "settlement-system", Note: "watermark"}
	dl := store.DeadLetter{Topic: "pos.authorizations", Partition: 1, Offset: 12, KafkaTime: t0,
		Key: []byte("T0009"), Reason: "bad_amount", Detail: `amount "12.345" has more than 2 decimals`,
		Payload: []byte(`{"amount":"12.345","pan":"622202******1234"}`)}
	for range 2 {
		if err := s.InsertControl(ctx, []store.ControlRow{ctl}); err != nil {
			t.Fatal(err)
		}
		if err := s.InsertDeadLetters(ctx, []store.DeadLetter{dl}); err != nil {
			t.Fatal(err)
		}
	}

	var (
		got     store.ControlRow
		p       uint32
		off     uint64
		kt, occ time.Time
		n       uint64
	)
	if err := s.Conn().QueryRow(ctx, "SELECT count() FROM control_events FINAL").Scan(&n); err != nil || n != 1 {
		t.Fatalf("control_events FINAL count = %d, %v; want 1", n, err)
	}
	if err := s.Conn().QueryRow(ctx, `SELECT topic, "partition", "offset", kafka_time, type, occurred_at, producer, note
		FROM control_events FINAL`).Scan(&got.Topic, &p, &off, &kt, &got.Type, &occ, &got.Producer, &got.Note); err != nil {
		t.Fatal(err)
	}
	got.Partition, got.Offset, got.KafkaTime, got.OccurredAt = int32(p), int64(off), kt.UnixMilli(), occ.UnixMilli()
	wantCtl := ctl
	wantCtl.KafkaTime, wantCtl.OccurredAt = sec(ctl.KafkaTime), sec(ctl.OccurredAt)
	if got != wantCtl {
		t.Errorf("control row = %+v, want %+v", got, wantCtl)
	}

	if err := s.Conn().QueryRow(ctx, "SELECT count() FROM dead_letters FINAL").Scan(&n); err != nil || n != 1 {
		t.Fatalf("dead_letters FINAL count = %d, %v; want 1", n, err)
	}
	var gotDL struct{ topic, key, reason, detail, payload string }
	if err := s.Conn().QueryRow(ctx, `SELECT topic, "partition", "offset", kafka_time, key, reason, detail, payload
		FROM dead_letters FINAL`).Scan(&gotDL.topic, &p, &off, &kt, &gotDL.key, &gotDL.reason, &gotDL.detail, &gotDL.payload); err != nil {
		t.Fatal(err)
	}
	if gotDL.topic != dl.Topic || p != 1 || off != 12 || kt.UnixMilli() != sec(t0) || gotDL.key != "T0009" ||
		gotDL.reason != dl.Reason || gotDL.detail != dl.Detail || gotDL.payload != string(dl.Payload) {
		t.Errorf("dead letter = %+v p=%d off=%d kt=%v", gotDL, p, off, kt)
	}
}

const lagCols = `trace_no, merchant_id, terminal_id, mcc, cleared_mcc, mode,
	authorized_amount, cleared_amount, fee, net_paid,
	authorized_at, cleared_at, paid_at, expected_payout_at,
	auth_to_clear_s, clear_to_pay_s, auth_to_pay_s, past_due_s,
	status, calendar_version, calendar_fallback, version`

func readLags(tb testing.TB, s *store.Store, from string) []fact.Lag {
	tb.Helper()
	ctx := testCtx(tb)
	rows, err := s.Conn().Query(ctx, "SELECT "+lagCols+" FROM "+from+" ORDER BY trace_no, authorized_at")
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	modes := map[string]event.Mode{}
	for m := event.ModeUnknown; m < event.NumModes; m++ {
		modes[m.String()] = m
	}
	var out []fact.Lag
	for rows.Next() {
		var (
			l                     fact.Lag
			mode, status          string
			aa, ca, fee, net      decimal.Decimal
			authAt, clrAt, paidAt time.Time
			expAt                 time.Time
			fallback              uint8
		)
		if err := rows.Scan(&l.TraceNo, &l.MerchantID, &l.TerminalID, &l.MCC, &l.ClearedMCC, &mode,
			&aa, &ca, &fee, &net, &authAt, &clrAt, &paidAt, &expAt,
			&l.AuthToClearS, &l.ClearToPayS, &l.AuthToPayS, &l.PastDueS,
			&status, &l.CalendarVersion, &fallback, &l.Version); err != nil {
			tb.Fatal(err)
		}
		l.Mode = modes[mode]
		l.Status = fact.LagStatus(status)
		l.AuthorizedAmount, l.ClearedAmount, l.Fee, l.NetPaid = fen(aa), fen(ca), fen(fee), fen(net)
		l.AuthorizedAt, l.ClearedAt, l.PaidAt, l.ExpectedPayoutAt = authAt.UnixMilli(), clrAt.UnixMilli(), paidAt.UnixMilli(), expAt.UnixMilli()
		l.CalendarFallback = fallback == 1
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

// stored is what a lag reads back as: times truncated to seconds.
func stored(l fact.Lag) fact.Lag {
	l.AuthorizedAt, l.ClearedAt, l.PaidAt, l.ExpectedPayoutAt = sec(l.AuthorizedAt), sec(l.ClearedAt), sec(l.PaidAt), sec(l.ExpectedPayoutAt)
	return l
}

func sampleLags(t0 int64) []fact.Lag {
	return []fact.Lag{
		{TraceNo: "T1", MerchantID: "M1", TerminalID: "P1", MCC: "5812", ClearedMCC: "5812", Mode: event.T1,
			AuthorizedAmount: 10_000, ClearedAmount: 10_000, Fee: 60, NetPaid: 9_940,
			AuthorizedAt: t0 + 123, ClearedAt: t0 + 3_600_456, PaidAt: t0 + 90_000_789, ExpectedPayoutAt: t0 + 100_000_000,
			AuthToClearS: 3600, ClearToPayS: 86400, AuthToPayS: 90000, PastDueS: -10000,
			Status: fact.StatusPaid, CalendarVersion: "cn-2024.1", Version: fact.Version(t0+90_000_789, 3)},
		{TraceNo: "T2", MerchantID: "M2", MCC: "5411", Mode: event.D0,
			AuthorizedAmount: 999_999_999_999_999_999, AuthorizedAt: t0 + 5_000,
			ExpectedPayoutAt: t0 + 7_200_000, Status: fact.StatusPending, CalendarVersion: "cn-2024.1",
			CalendarFallback: true, Version: fact.Version(t0+5_000, 0)},
		{TraceNo: "T3", MerchantID: "M1", MCC: "5812", ClearedMCC: "5999", Mode: event.ModeUnknown,
			AuthorizedAmount: 1, ClearedAmount: 1, AuthorizedAt: t0 + 9_000, ClearedAt: t0 + 10_000,
			AuthToClearS: 1, ClearToPayS: -5, Status: fact.StatusFailed, Version: fact.Version(t0+10_000, 2)},
	}
}

func TestLagsRoundTripAndIdempotence(t *testing.T) {
	ctx := testCtx(t)
	s := storetest.New(t)
	const t0 = int64(1_731_000_000_000)
	lags := sampleLags(t0)

	if err := s.InsertLags(ctx, lags); err != nil {
		t.Fatal(err)
	}
	var want []fact.Lag
	for _, l := range lags {
		want = append(want, stored(l))
	}
	if got := readLags(t, s, "settlement_lag_latest"); !reflect.DeepEqual(got, want) {
		t.Fatalf("settlement_lag_latest =\n%+v\nwant\n%+v", got, want)
	}

	// T2 moves on to paid (newer version); then a replay re-inserts everything,
	// including T2's older pending version, after the newer one.
	paid := lags[1]
	paid.Status, paid.PaidAt, paid.NetPaid, paid.AuthToPayS = fact.StatusPaid, t0+3_605_000, paid.AuthorizedAmount, 3600
	paid.Version = fact.Version(paid.PaidAt, 3)
	if err := s.InsertLags(ctx, []fact.Lag{paid}); err != nil {
		t.Fatal(err)
	}
	if err := s.InsertLags(ctx, lags); err != nil {
		t.Fatal(err)
	}
	if err := s.InsertLags(ctx, lags); err != nil {
		t.Fatal(err)
	}
	want[1] = stored(paid)
	check := func(stage string) {
		t.Helper()
		if got := readLags(t, s, "settlement_lag_latest"); !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: settlement_lag_latest =\n%+v\nwant\n%+v", stage, got, want)
		}
		n, err := s.LagRowCount(ctx)
		if err != nil || n != uint64(len(want)) {
			t.Fatalf("%s: LagRowCount = %d, %v; want %d", stage, n, err, len(want))
		}
		var sum decimal.Decimal
		if err := s.Conn().QueryRow(ctx, "SELECT sum(authorized_amount) FROM settlement_lag_latest").Scan(&sum); err != nil {
			t.Fatal(err)
		}
		var wantSum int64
		for _, l := range want {
			wantSum += l.AuthorizedAmount
		}
		if fen(sum) != wantSum {
			t.Fatalf("%s: sum(authorized_amount) = %s, want %d fen", stage, sum, wantSum)
		}
	}
	check("before merge")
	if err := s.Conn().Exec(ctx, "OPTIMIZE TABLE settlement_lag FINAL"); err != nil {
		t.Fatal(err)
	}
	check("after merge")
	var raw uint64
	if err := s.Conn().QueryRow(ctx, "SELECT count() FROM settlement_lag").Scan(&raw); err != nil || raw != 3 {
		t.Fatalf("rows after OPTIMIZE FINAL = %d, %v; want 3", raw, err)
	}
}

func sampleAnomalies(t0 int64) []fact.Anomaly {
	mk := func(id string, kind fact.Kind, trace, batch string, amount, expected, detected int64, reason string) fact.Anomaly {
		tx, _ := fact.Describe(kind)
		return fact.Anomaly{ID: id, Kind: kind, Severity: tx.Severity, Status: fact.Open, TraceNo: trace, BatchID: batch,
			MerchantID: "M1", Amount: amount, ExpectedAmount: expected, DetectedAt: detected, Reason: reason,
			Cause: tx.Cause, Action: tx.Action, Details: "details of " + id, CalendarVersion: "cn-2024.1",
			Version: fact.Version(detected, 1)}
	}
	return []fact.Anomaly{
		mk("payout_overdue/T1", fact.PayoutOverdue, "T1", "", 9_940, 0, t0+1_500, ""),
		mk("amount_mismatch/T2", fact.AmountMismatch, "T2", "", 10_001, 10_000, t0+2_999, ""),
		mk("payout_failed/T3", fact.PayoutFailed, "T3", "P1", 5, 0, t0, string(fact.AccountFrozen)),
		mk("batch_stalled/B9", fact.BatchStalled, "", "B9", 0, 0, t0+60_000, ""),
	}
}

const anomalyCols = `id, kind, severity, status, trace_no, batch_id, merchant_id, amount, expected_amount,
	detected_at, resolved_at, reason, cause, action, details, calendar_version, version`

func readAnomalies(tb testing.TB, s *store.Store) []fact.Anomaly {
	tb.Helper()
	ctx := testCtx(tb)
	rows, err := s.Conn().Query(ctx, "SELECT "+anomalyCols+" FROM anomalies_latest ORDER BY id")
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	var out []fact.Anomaly
	for rows.Next() {
		var (
			a                      fact.Anomaly
			kind, severity, status string
			amount, expected       decimal.Decimal
			detected, resolved     time.Time
		)
		if err := rows.Scan(&a.ID, &kind, &severity, &status, &a.TraceNo, &a.BatchID, &a.MerchantID, &amount, &expected,
			&detected, &resolved, &a.Reason, &a.Cause, &a.Action, &a.Details, &a.CalendarVersion, &a.Version); err != nil {
			tb.Fatal(err)
		}
		a.Kind, a.Severity, a.Status = fact.Kind(kind), fact.Severity(severity), fact.AnomalyStatus(status)
		a.Amount, a.ExpectedAmount = fen(amount), fen(expected)
		a.DetectedAt, a.ResolvedAt = detected.UnixMilli(), resolved.UnixMilli()
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

func TestAnomaliesRoundTripAndIdempotence(t *testing.T) {
	ctx := testCtx(t)
	s := storetest.New(t)
	const t0 = int64(1_731_000_000_000)
	anomalies := sampleAnomalies(t0)
	if err := s.InsertAnomalies(ctx, anomalies); err != nil {
		t.Fatal(err)
	}
	want := make([]fact.Anomaly, len(anomalies))
	for i, a := range anomalies {
		a.DetectedAt, a.ResolvedAt = sec(a.DetectedAt), sec(a.ResolvedAt)
		want[i] = a
	}
	sort.Slice(want, func(i, j int) bool { return want[i].ID < want[j].ID })
	if got := readAnomalies(t, s); !reflect.DeepEqual(got, want) {
		t.Fatalf("anomalies_latest =\n%+v\nwant\n%+v", got, want)
	}

	// The overdue payout arrives: resolved (newer version); then a replay
	// inserts the open version again, after the resolved one.
	resolved := anomalies[0]
	resolved.Status, resolved.ResolvedAt = fact.Resolved, t0+86_400_000
	resolved.Version = fact.Version(resolved.ResolvedAt, 3)
	if err := s.InsertAnomalies(ctx, []fact.Anomaly{resolved}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := s.InsertAnomalies(ctx, anomalies); err != nil {
			t.Fatal(err)
		}
	}
	for i := range want {
		if want[i].ID == resolved.ID {
			want[i].Status, want[i].ResolvedAt, want[i].Version = fact.Resolved, sec(resolved.ResolvedAt), resolved.Version
		}
	}
	if got := readAnomalies(t, s); !reflect.DeepEqual(got, want) {
		t.Fatalf("after replay anomalies_latest =\n%+v\nwant\n%+v", got, want)
	}
	counts, _, err := s.AnomalyCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The overdue payout counts as resolved only: its latest version.
	wantCounts := []store.AnomalyCount{
		{Kind: "amount_mismatch", OpenRows: 1, OpenTraces: 1, Traces: 1},
		{Kind: "batch_stalled", OpenRows: 1, OpenTraces: 1, Traces: 1},
		{Kind: "payout_failed", OpenRows: 1, OpenTraces: 1, Traces: 1},
		{Kind: "payout_overdue", ResolvedRows: 1, ResolvedTraces: 1, Traces: 1},
	}
	if !reflect.DeepEqual(counts, wantCounts) {
		t.Errorf("AnomalyCounts = %+v, want %+v", counts, wantCounts)
	}
	var open uint64
	if err := s.Conn().QueryRow(ctx, "SELECT count() FROM anomalies_latest WHERE status = 'open'").Scan(&open); err != nil || open != 3 {
		t.Errorf("open anomalies = %d, %v; want 3", open, err)
	}
}

// quantile is ClickHouse's quantiles() for small sets: linear interpolation
// between the sorted values around level*(n-1).
func quantile(sorted []int64, level float64) float64 {
	pos := level * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	hi := int(math.Ceil(pos))
	return float64(sorted[lo]) + (pos-float64(lo))*float64(sorted[hi]-sorted[lo])
}

func TestLagStats(t *testing.T) {
	ctx := testCtx(t)
	s := storetest.New(t)
	const hour = int64(3_600_000)
	t0 := int64(1_731_000_000_000) / hour * hour // on the hour

	type key struct {
		mode     string
		merchant string
		hour     int64
	}
	var (
		lags   []fact.Lag
		values = map[key][]int64{}
	)
	add := func(l fact.Lag) {
		lags = append(lags, l)
	}
	// 100 paid T1 traces over two merchants and two hours, lags 1..100 minutes;
	// 10 paid D0 traces; pending and failed traces that must not count.
	for i := range 100 {
		m := fmt.Sprintf("M%d", i%2)
		at := t0 + int64(i/50)*hour + int64(i)*1000
		lag := int64(i+1) * 60
		add(fact.Lag{TraceNo: fmt.Sprintf("A%03d", i), MerchantID: m, Mode: event.T1, AuthorizedAt: at,
			PaidAt: at + lag*1000, AuthToPayS: lag, Status: fact.StatusPaid, Version: 10})
		values[key{mode: "T1"}] = append(values[key{mode: "T1"}], lag)
		values[key{mode: "T1", merchant: m}] = append(values[key{mode: "T1", merchant: m}], lag)
		values[key{mode: "T1", hour: at / hour * hour}] = append(values[key{mode: "T1", hour: at / hour * hour}], lag)
	}
	for i := range 10 {
		at := t0 + int64(i)*1000
		lag := int64(i*i + 5)
		add(fact.Lag{TraceNo: fmt.Sprintf("D%03d", i), MerchantID: "M9", Mode: event.D0, AuthorizedAt: at,
			PaidAt: at + lag*1000, AuthToPayS: lag, Status: fact.StatusPaid, Version: 10})
		values[key{mode: "D0"}] = append(values[key{mode: "D0"}], lag)
		values[key{mode: "D0", merchant: "M9"}] = append(values[key{mode: "D0", merchant: "M9"}], lag)
		values[key{mode: "D0", hour: t0}] = append(values[key{mode: "D0", hour: t0}], lag)
	}
	add(fact.Lag{TraceNo: "P001", MerchantID: "M1", Mode: event.T1, AuthorizedAt: t0, Status: fact.StatusPending, Version: 1})
	add(fact.Lag{TraceNo: "F001", MerchantID: "M1", Mode: event.T1, AuthorizedAt: t0, Status: fact.StatusFailed, AuthToPayS: 1_000_000, Version: 5})

	if err := s.InsertLags(ctx, lags); err != nil {
		t.Fatal(err)
	}
	// Replays: everything again, and an older "paid" version of F001 with a huge
	// lag that its newer "failed" version supersedes.
	if err := s.InsertLags(ctx, lags); err != nil {
		t.Fatal(err)
	}
	if err := s.InsertLags(ctx, []fact.Lag{{TraceNo: "F001", MerchantID: "M1", Mode: event.T1, AuthorizedAt: t0,
		Status: fact.StatusPaid, AuthToPayS: 9_999_999, Version: 4}}); err != nil {
		t.Fatal(err)
	}

	const eps = 1e-9
	close := func(a, b float64) bool { return math.Abs(a-b) < eps }
	expect := func(k key) (uint64, [3]float64) {
		v := append([]int64(nil), values[k]...)
		sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
		return uint64(len(v)), [3]float64{quantile(v, 0.5), quantile(v, 0.95), quantile(v, 0.99)}
	}

	byMode, err := s.LagByMode(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(byMode) != 2 || byMode[0].Mode != "D0" || byMode[1].Mode != "T1" {
		t.Fatalf("LagByMode = %+v, want D0 and T1", byMode)
	}
	for _, ml := range byMode {
		n, q := expect(key{mode: ml.Mode})
		if ml.Paid != n || !close(ml.P50, q[0]) || !close(ml.P95, q[1]) || !close(ml.P99, q[2]) {
			t.Errorf("LagByMode %s = %+v, want paid %d p50/p95/p99 %v", ml.Mode, ml, n, q)
		}
	}
	if n, q := expect(key{mode: "T1"}); n != 100 || q != [3]float64{3030, 5703, 5940.6} {
		t.Fatalf("test oracle broken: %d %v", n, q)
	}

	type stat struct {
		paid uint64
		q    [3]float64
	}
	queryStats := func(query string, scanKey func(rows interface{ Scan(...any) error }, k *key, st *stat) error) map[key]stat {
		t.Helper()
		rows, err := s.Conn().Query(ctx, query)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := map[key]stat{}
		for rows.Next() {
			var (
				k  key
				st stat
			)
			if err := scanKey(rows, &k, &st); err != nil {
				t.Fatal(err)
			}
			out[k] = st
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	byMerchant := queryStats("SELECT merchant_id, mode, paid, p50_s, p95_s, p99_s FROM lag_stats_by_merchant",
		func(r interface{ Scan(...any) error }, k *key, st *stat) error {
			return r.Scan(&k.merchant, &k.mode, &st.paid, &st.q[0], &st.q[1], &st.q[2])
		})
	byHour := queryStats("SELECT hour, mode, paid, p50_s, p95_s, p99_s FROM lag_stats_by_hour",
		func(r interface{ Scan(...any) error }, k *key, st *stat) error {
			var h time.Time
			err := r.Scan(&h, &k.mode, &st.paid, &st.q[0], &st.q[1], &st.q[2])
			k.hour = h.UnixMilli()
			return err
		})
	for name, got := range map[string]map[key]stat{"by merchant": byMerchant, "by hour": byHour} {
		wantKeys := 0
		for k := range values {
			isMerchant, isHour := k.merchant != "", k.hour != 0
			if (name == "by merchant" && !isMerchant) || (name == "by hour" && !isHour) {
				continue
			}
			wantKeys++
			n, q := expect(k)
			st, ok := got[k]
			if !ok || st.paid != n || !close(st.q[0], q[0]) || !close(st.q[1], q[1]) || !close(st.q[2], q[2]) {
				t.Errorf("lag_stats %s %+v = %+v (present %v), want paid %d q %v", name, k, st, ok, n, q)
			}
		}
		if len(got) != wantKeys {
			t.Errorf("lag_stats %s has %d groups, want %d: %v", name, len(got), wantKeys, got)
		}
	}
}

func TestReportQueries(t *testing.T) {
	ctx := testCtx(t)
	s := storetest.New(t)
	const t0 = int64(1_731_000_000_000)

	auth := func(p int32, off int64, id, code string) store.RawRow {
		return store.RawRow{Topic: "pos.authorizations", Partition: p, Offset: off, KafkaTime: t0,
			Event: event.Event{ID: id, Type: event.Authorization, OccurredAt: t0 + off, TraceNo: id, ResponseCode: code, Amount: 100}}
	}
	authRows := []store.RawRow{
		auth(0, 0, "a1", "00"), auth(0, 1, "a2", "05"), auth(1, 0, "a3", "51"),
		auth(1, 1, "a3", "51"), // the producer wrote a3 twice: two offsets, one authorization
		auth(1, 2, "a4", "00"),
		{Topic: "pos.authorizations", Partition: 0, Offset: 2, KafkaTime: t0,
			Event: event.Event{ID: "r1", Type: event.Reversal, OccurredAt: t0, TraceNo: "a1", ResponseCode: "05"}},
	}
	clearingRows := []store.RawRow{
		{Topic: "acq.clearing", Partition: 0, Offset: 10, KafkaTime: t0, Event: event.Event{ID: "c1", Type: event.Cleared, OccurredAt: t0, TraceNo: "a1"}},
	}
	control := []store.ControlRow{
		{Topic: "pos.authorizations", Partition: 0, Offset: 3, KafkaTime: t0, Type: "heartbeat", OccurredAt: t0},
		{Topic: "pos.authorizations", Partition: 1, Offset: 3, KafkaTime: t0, Type: "heartbeat", OccurredAt: t0},
		{Topic: "acq.payouts", Partition: 0, Offset: 0, KafkaTime: t0, Type: "heartbeat", OccurredAt: t0},
	}
	dead := []store.DeadLetter{
		{Topic: "pos.authorizations", Partition: 0, Offset: 4, KafkaTime: t0, Reason: "bad_amount"},
		{Topic: "pos.authorizations", Partition: 1, Offset: 4, KafkaTime: t0, Reason: "full_pan"},
		{Topic: "acq.clearing", Partition: 0, Offset: 11, KafkaTime: t0, Reason: "bad_amount"},
		{Topic: "acq.payouts", Partition: 0, Offset: 1, KafkaTime: t0, Reason: "malformed_json"},
	}
	// Everything twice: a retried batch whose first reply was lost.
	for range 2 {
		if err := s.InsertRaw(ctx, event.Auth, authRows); err != nil {
			t.Fatal(err)
		}
		if err := s.InsertRaw(ctx, event.Clearing, clearingRows); err != nil {
			t.Fatal(err)
		}
		if err := s.InsertControl(ctx, control); err != nil {
			t.Fatal(err)
		}
		if err := s.InsertDeadLetters(ctx, dead); err != nil {
			t.Fatal(err)
		}
		if err := s.InsertLags(ctx, sampleLags(t0)); err != nil {
			t.Fatal(err)
		}
		if err := s.InsertAnomalies(ctx, sampleAnomalies(t0)); err != nil {
			t.Fatal(err)
		}
	}

	counts, err := s.TopicCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantCounts := []store.TopicCount{
		{Topic: "acq.clearing", Archived: 1, DeadLetters: 1},
		{Topic: "acq.payouts", Control: 1, DeadLetters: 1},
		{Topic: "pos.authorizations", Archived: 6, Control: 2, DeadLetters: 2},
	}
	if !reflect.DeepEqual(counts, wantCounts) {
		t.Errorf("TopicCounts = %+v\nwant %+v", counts, wantCounts)
	}

	reasons, err := s.DeadLetterReasons(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]uint64{"bad_amount": 2, "full_pan": 1, "malformed_json": 1}; !reflect.DeepEqual(reasons, want) {
		t.Errorf("DeadLetterReasons = %v, want %v", reasons, want)
	}

	declined, err := s.DeclinedCount(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if declined != 2 { // a2 and a3; the reversal is not an authorization
		t.Errorf("DeclinedCount = %d, want 2", declined)
	}

	n, err := s.LagRowCount(ctx)
	if err != nil || n != 3 {
		t.Errorf("LagRowCount = %d, %v; want 3", n, err)
	}
	byMode, err := s.LagByMode(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []store.ModeLag{{Mode: "T1", Paid: 1, P50: 90000, P95: 90000, P99: 90000}}; !reflect.DeepEqual(byMode, want) {
		t.Errorf("LagByMode = %+v, want %+v", byMode, want)
	}
	anomalies, _, err := s.AnomalyCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(anomalies) != 4 || anomalies[3].Kind != "payout_overdue" || anomalies[3].OpenRows != 1 || anomalies[1].Kind != "batch_stalled" || anomalies[1].OpenTraces != 1 {
		t.Errorf("AnomalyCounts = %+v", anomalies)
	}
}

// TestAnomalyCountsRowsAndTraces: the report's anomaly counts separate open
// from resolved by the latest version, and count the distinct traces (for
// the batch kinds, batches) beside the rows.
func TestAnomalyCountsRowsAndTraces(t *testing.T) {
	ctx := testCtx(t)
	s := storetest.New(t)
	const t0 = int64(1_731_000_000_000)
	mk := func(id string, kind fact.Kind, status fact.AnomalyStatus, trace, batch string, version uint64) fact.Anomaly {
		return fact.Anomaly{ID: id, Kind: kind, Status: status, TraceNo: trace, BatchID: batch, DetectedAt: t0, Version: version}
	}
	rows := []fact.Anomaly{
		// One reversed sale, cleared and paid: two rows, one trace.
		mk("reversed_but_settled/R1/cleared", fact.ReversedButSettled, fact.Open, "R1", "", 1),
		mk("reversed_but_settled/R1/paid", fact.ReversedButSettled, fact.Open, "R1", "", 1),
		mk("reversed_but_settled/R2/cleared", fact.ReversedButSettled, fact.Open, "R2", "", 1),
		// Held, then released: resolved in the latest version only.
		mk("payout_held/H1", fact.PayoutHeld, fact.Open, "H1", "", 1),
		mk("payout_held/H1", fact.PayoutHeld, fact.Resolved, "H1", "", 2),
		mk("payout_held/H2", fact.PayoutHeld, fact.Open, "H2", "", 1),
		// Stalled twice, the first episode resolved: two rows, one batch.
		mk("batch_stalled/B1/1", fact.BatchStalled, fact.Resolved, "", "B1", 2),
		mk("batch_stalled/B1/2", fact.BatchStalled, fact.Open, "", "B1", 3),
		// A trace with anomalies of two kinds: one trace in the total.
		mk("payout_held/R2", fact.PayoutHeld, fact.Resolved, "R2", "", 1),
	}
	if err := s.InsertAnomalies(ctx, rows); err != nil {
		t.Fatal(err)
	}
	got, all, err := s.AnomalyCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := (store.AnomalyCount{OpenRows: 5, OpenTraces: 4, ResolvedRows: 3, ResolvedTraces: 3, Traces: 5}); all != want {
		t.Errorf("all kinds = %+v, want %+v", all, want)
	}
	want := []store.AnomalyCount{
		{Kind: "batch_stalled", OpenRows: 1, OpenTraces: 1, ResolvedRows: 1, ResolvedTraces: 1, Traces: 1},
		{Kind: "payout_held", OpenRows: 1, OpenTraces: 1, ResolvedRows: 2, ResolvedTraces: 2, Traces: 3},
		{Kind: "reversed_but_settled", OpenRows: 3, OpenTraces: 2, Traces: 2},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("AnomalyCounts =\n%+v\nwant\n%+v", got, want)
	}
	totals, err := s.OpenAnomalyTotals(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantTotals := []store.KindTotal{{Kind: fact.BatchStalled, Count: 1, Traces: 1}, {Kind: fact.PayoutHeld, Count: 1, Traces: 1}, {Kind: fact.ReversedButSettled, Count: 3, Traces: 2}}
	if !reflect.DeepEqual(totals, wantTotals) {
		t.Errorf("OpenAnomalyTotals = %+v, want %+v", totals, wantTotals)
	}
}

// TestBatchOrder: the console's batch list and the report's summary put
// stalled batches first, then incomplete, open and closed — whatever their
// age, so an old incomplete batch is not buried under newer closed ones.
func TestBatchOrder(t *testing.T) {
	ctx := testCtx(t)
	s := storetest.New(t)
	const day = int64(86_400_000)
	const t0 = int64(1_790_000_000_000)
	mk := func(id, source string, status fact.BatchStatus, opened int64, declared, seen int64) fact.Batch {
		return fact.Batch{BatchID: id, Source: source, Status: status, OpenedAt: opened, DeclaredCount: 1, DeclaredTotal: declared,
			SeenCount: 1, SeenTotal: seen, AsOf: opened, Version: 1}
	}
	batches := []fact.Batch{
		mk("C-old-incomplete", "clearing", fact.BatchIsIncomplete, t0, 237_000_000, 236_000_000),
		mk("C-closed-new", "clearing", fact.BatchIsClosed, t0+3*day, 100, 100),
		mk("P-open", "payouts", fact.BatchIsOpen, t0+day, 0, 50),
		mk("P-stalled", "payouts", fact.BatchIsStalled, t0, 0, 70),
		mk("P-closed", "payouts", fact.BatchIsClosed, t0+2*day, 30, 30),
		mk("C-open", "clearing", fact.BatchIsOpen, t0+2*day, 0, 10),
	}
	if err := s.InsertBatches(ctx, batches); err != nil {
		t.Fatal(err)
	}
	list, err := s.QueryBatches(ctx, store.BatchQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, b := range list {
		ids = append(ids, b.BatchID)
	}
	wantIDs := []string{"P-stalled", "C-old-incomplete", "C-open", "P-open", "C-closed-new", "P-closed"}
	if !reflect.DeepEqual(ids, wantIDs) {
		t.Errorf("QueryBatches order = %v, want %v (stalled, incomplete, open, closed; newest first within)", ids, wantIDs)
	}
	if top, err := s.QueryBatches(ctx, store.BatchQuery{Limit: 2}); err != nil || len(top) != 2 || top[1].BatchID != "C-old-incomplete" {
		t.Errorf("the first two batches = %+v, %v; want the incomplete one among them", top, err)
	}
	sum, err := s.BatchSummaries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []store.BatchSummary{
		{Source: "payouts", Status: "stalled", Batches: 1, Declared: 1, Seen: 1, SeenTotal: 70},
		{Source: "clearing", Status: "incomplete", Batches: 1, Declared: 1, Seen: 1, DeclaredTotal: 237_000_000, SeenTotal: 236_000_000},
		{Source: "clearing", Status: "open", Batches: 1, Declared: 1, Seen: 1, SeenTotal: 10},
		{Source: "payouts", Status: "open", Batches: 1, Declared: 1, Seen: 1, SeenTotal: 50},
		{Source: "clearing", Status: "closed", Batches: 1, Declared: 1, Seen: 1, DeclaredTotal: 100, SeenTotal: 100},
		{Source: "payouts", Status: "closed", Batches: 1, Declared: 1, Seen: 1, DeclaredTotal: 30, SeenTotal: 30},
	}
	if !reflect.DeepEqual(sum, want) {
		t.Errorf("BatchSummaries =\n%+v\nwant\n%+v", sum, want)
	}
}

func TestReportQueriesEmpty(t *testing.T) {
	ctx := testCtx(t)
	s := storetest.New(t)
	counts, err := s.TopicCounts(ctx)
	if err != nil || len(counts) != 0 {
		t.Errorf("TopicCounts = %v, %v; want none", counts, err)
	}
	byMode, err := s.LagByMode(ctx)
	if err != nil || len(byMode) != 0 {
		t.Errorf("LagByMode = %v, %v; want none", byMode, err)
	}
	declined, err := s.DeclinedCount(ctx)
	if err != nil || declined != 0 {
		t.Errorf("DeclinedCount = %d, %v", declined, err)
	}
	reasons, err := s.DeadLetterReasons(ctx)
	if err != nil || len(reasons) != 0 {
		t.Errorf("DeadLetterReasons = %v, %v", reasons, err)
	}
}

// TestAnalystReadOnly uses the read-only user that deploy/clickhouse/local.sh
// creates: it can read the facts and views but not write, and the refusal is
// a permanent error (no retry loop).
func TestAnalystReadOnly(t *testing.T) {
	ctx := testCtx(t)
	s := storetest.New(t)
	if err := s.InsertLags(ctx, sampleLags(1_731_000_000_000)); err != nil {
		t.Fatal(err)
	}

	cfg := storetest.Config(t, s.Database())
	cfg.User = "analyst"
	cfg.Password = os.Getenv("SETTLEMON_ANALYST_PASSWORD")
	if cfg.Password == "" {
		cfg.Password = "analyst"
	}
	analyst, err := store.New(ctx, cfg, nil)
	if err != nil {
		t.Fatalf("analyst cannot connect (is the server the one local.sh started?): %v", err)
	}
	defer analyst.Close()

	n, err := analyst.LagRowCount(ctx)
	if err != nil || n != 3 {
		t.Fatalf("analyst LagRowCount = %d, %v; want 3", n, err)
	}
	if _, err := analyst.LagByMode(ctx); err != nil {
		t.Fatalf("analyst cannot read lag_stats_by_mode: %v", err)
	}

	start := time.Now()
	err = analyst.InsertLags(ctx, sampleLags(1_731_000_000_000))
	var exc *clickhouse.Exception
	if !errors.As(err, &exc) {
		t.Fatalf("analyst insert: err = %v, want a server exception", err)
	}
	if store.Retryable(err) {
		t.Errorf("readonly refusal %v classified retryable", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("readonly refusal took %v: it was retried", d)
	}
	if !strings.Contains(err.Error(), "inserting lag facts") {
		t.Errorf("insert error %q lacks context", err)
	}
	if err := analyst.Conn().Exec(ctx, "DROP TABLE settlement_lag"); err == nil {
		t.Fatal("analyst dropped a table")
	}
	if n, err := s.LagRowCount(ctx); err != nil || n != 3 {
		t.Errorf("LagRowCount after analyst attempts = %d, %v; want 3", n, err)
	}
}

// TestNewTriesTheAddressesInOrder: with a dead address first, the store
// connects through the next one, and its queries go there.
func TestNewTriesTheAddressesInOrder(t *testing.T) {
	ctx := testCtx(t)
	cfg := storetest.Config(t, storetest.UniqueName(t))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close() // nothing listens there now
	cfg.Addr = dead + "," + cfg.Addr
	cfg.ConnectWait = 10 * time.Second
	s, err := store.New(ctx, cfg, nil)
	if err != nil {
		t.Fatalf("store.New with %s: %v", cfg.Addr, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatalf("migrating through the second address: %v", err)
	}
	t.Cleanup(func() {
		_ = storetest.Conn(t, s).Exec(context.Background(), "DROP DATABASE IF EXISTS `"+s.Database()+"`")
	})
}
