package store

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	chproto "github.com/ClickHouse/ch-go/proto"
	chcolumn "github.com/ClickHouse/clickhouse-go/v2/lib/column"
	"github.com/ClickHouse/clickhouse-go/v2/lib/proto"

	"settlemon/pkg/event"
	"settlemon/pkg/fact"
)

// edgeFen are amounts at the edges of Decimal(18, 2): the contract maximum
// 9999999999999999.99 and its negative, signs, and amounts with and without
// a fractional part.
var edgeFen = []int64{0, 1, -1, 99, -99, 100, -100, 123_450, 128_800, -128_027,
	999_999_999_999_999_999, -999_999_999_999_999_999}

// edgeMs are unix ms at the edges of DateTime: before 1970, zero, sub-second,
// the last second a DateTime holds and beyond.
var edgeMs = []int64{-1 << 62, -5, 0, 1, 999, 1000, 1_700_000_000_999, 4_294_967_295_000, 4_294_967_295_999,
	4_294_967_296_000, 1 << 62}

func TestDecimalWireOK(t *testing.T) {
	if !decimalWireOK() {
		t.Fatal("the driver does not decode Decimal(18, 2) as the wire format says: money takes the slow generic path")
	}
}

// TestMoneyWireMatchesDriver checks that the wire path for money gives the
// same column, value for value and byte for byte, as the driver's own
// conversion of decimal.Decimal.
func TestMoneyWireMatchesDriver(t *testing.T) {
	var sc scratch
	// Twice, to fresh columns: the second time reuses the scratch's reader.
	for round := range 2 {
		fast, ok := probeDecimalColumn()
		if !ok {
			t.Fatal("no Decimal(18, 2) column")
		}
		slow, _ := probeDecimalColumn()
		if err := sc.decodeMoney(fast, edgeFen); err != nil {
			t.Fatal(err)
		}
		if err := sc.appendMoney(blockColumn{slow}, edgeFen); err != nil {
			t.Fatal(err)
		}
		if fast.Rows() != len(edgeFen) || slow.Rows() != len(edgeFen) {
			t.Fatalf("round %d: rows: wire path %d, driver path %d, want %d", round, fast.Rows(), slow.Rows(), len(edgeFen))
		}
		for i, fen := range edgeFen {
			if got, want := fast.Row(i, false), fenDecimal(fen); fmt.Sprint(got) != want.String() {
				t.Errorf("round %d: %d fen: wire path reads back %v, want %s", round, fen, got, want)
			}
		}
		var a, b chproto.Buffer
		fast.Encode(&a)
		slow.Encode(&b)
		if !bytes.Equal(a.Buf, b.Buf) {
			t.Errorf("round %d: wire path encodes\n%x\ndriver path\n%x", round, a.Buf, b.Buf)
		}
		// A column with rows is refused (Decode is for empty columns).
		if err := sc.decodeMoney(fast, edgeFen); err == nil {
			t.Errorf("round %d: decodeMoney into a column with rows succeeded", round)
		}
	}
}

// rowWise appends rows the way inserts did before they were column-wise:
// one boxed value per column and row, money as decimal.Decimal, times as
// time.Time, bytes as string.
func rowWise[T any](tb testing.TB, t *table[T], rows []T) []byte {
	tb.Helper()
	blk := benchBlock(tb, t)
	vals := make([]any, len(t.cols))
	for i := range rows {
		r := &rows[i]
		for j, c := range t.cols {
			switch c.kind {
			case kindString:
				vals[j] = c.str(r)
			case kindBytes:
				vals[j] = string(c.bytes(r))
			case kindUInt8:
				vals[j] = c.u8(r)
			case kindUInt32:
				vals[j] = c.u32(r)
			case kindUInt64:
				vals[j] = c.u64(r)
			case kindInt64:
				vals[j] = c.i64(r)
			case kindDateTime:
				vals[j] = time.Unix(dateTimeSec(c.i64(r)), 0).UTC()
			case kindMoney:
				vals[j] = fenDecimal(c.i64(r))
			}
		}
		if err := blk.Append(vals...); err != nil {
			tb.Fatalf("row-wise append of row %d to %s: %v", i, t.name, err)
		}
	}
	var buf chproto.Buffer
	if err := blk.Encode(&buf, proto.DBMS_TCP_PROTOCOL_VERSION); err != nil {
		tb.Fatal(err)
	}
	return buf.Buf
}

// columnWise appends rows as insert does, attempts times to fresh blocks
// (as retries do with fresh batches), and returns the last block's encoding.
func columnWise[T any](tb testing.TB, t *table[T], rows []T, attempts int) []byte {
	tb.Helper()
	sc := scratchPool.Get().(*scratch)
	defer sc.release()
	cols := t.build(rows, nil, sc)
	var buf chproto.Buffer
	for range attempts {
		blk := benchBlock(tb, t)
		if err := appendColumns(blockBatch{blk}, t, cols, sc); err != nil {
			tb.Fatalf("appending to %s: %v", t.name, err)
		}
		if blk.Rows() != len(rows) {
			tb.Fatalf("%s: block has %d rows, want %d", t.name, blk.Rows(), len(rows))
		}
		buf.Reset()
		if err := blk.Encode(&buf, proto.DBMS_TCP_PROTOCOL_VERSION); err != nil {
			tb.Fatal(err)
		}
	}
	return buf.Buf
}

func checkSameWire[T any](t *testing.T, tbl *table[T], rows []T) {
	t.Helper()
	want := rowWise(t, tbl, rows)
	if got := columnWise(t, tbl, rows, 2); !bytes.Equal(got, want) {
		t.Errorf("%s: column-wise block differs from the row-wise one (%d vs %d bytes)", tbl.name, len(got), len(want))
	}
}

// TestColumnWiseMatchesRowWise checks, for every table, that the column-wise
// insert puts on the wire exactly the block the row-wise driver path builds
// from the same rows, edge values included; and that every column's kind
// fits the type the migrations give it (the driver rejects a slice of the
// wrong type).
func TestColumnWiseMatchesRowWise(t *testing.T) {
	n := max(len(edgeFen), len(edgeMs))
	fen := func(i int) int64 { return edgeFen[i%len(edgeFen)] }
	ms := func(i int) int64 { return edgeMs[i%len(edgeMs)] }
	payload := func(i int) []byte {
		if i%4 == 3 {
			return nil
		}
		return fmt.Appendf(nil, `{"event_id":"e-%d","note":"账户冻结"}`, i)
	}

	raw := make([]RawRow, n)
	for i := range raw {
		raw[i] = RawRow{Topic: "pos.authorizations", Partition: int32(i - 2), Offset: int64(i - 3), KafkaTime: ms(i + 1),
			Event: event.Event{ID: fmt.Sprint("e-", i), Type: event.Type(i % 8), OccurredAt: ms(i), TraceNo: fmt.Sprint("T", i),
				MerchantID: "M1", TerminalID: "P1", ResponseCode: "00", CardBIN: "622202", CardLast4: "1234", Currency: "CNY",
				Amount: fen(i), Fee: fen(i + 1), MCC: "5812", BatchID: "B1", DeclaredCount: int64(i - 5), DeclaredTotal: fen(i + 2),
				ReasonCode: "R03", Reason: "账户冻结", MerchantName: "小吃店", RegisteredMCC: "5812", Mode: event.Mode(i % 6),
				FeeRatePPM: int64(i * 100), AccountRef: "acct"},
			Payload: payload(i)}
	}
	for src, tbl := range rawTables {
		t.Run(tbl.name, func(t *testing.T) { checkSameWire(t, rawTables[src], raw) })
	}

	lags := make([]fact.Lag, n)
	for i := range lags {
		lags[i] = fact.Lag{TraceNo: fmt.Sprint("T", i), MerchantID: "M1", Mode: event.Mode(i % 6),
			AuthorizedAmount: fen(i), ClearedAmount: fen(i + 1), Fee: fen(i + 2), NetPaid: fen(i + 3),
			AuthorizedAt: ms(i), ClearedAt: ms(i + 1), PaidAt: ms(i + 2), ExpectedPayoutAt: ms(i + 3),
			AuthToClearS: int64(i), ClearToPayS: -int64(i), PastDueS: -1 << 40, Status: fact.StatusPaid,
			CalendarVersion: "cn-2024.1", CalendarFallback: i%2 == 0, Version: uint64(i) << 60}
	}
	t.Run(lagTable.name, func(t *testing.T) { checkSameWire(t, lagTable, lags) })

	anomalies := make([]fact.Anomaly, n)
	for i := range anomalies {
		anomalies[i] = fact.Anomaly{ID: fmt.Sprint("a-", i), Kind: fact.AmountMismatch, Severity: fact.Critical, Status: fact.Open,
			Amount: fen(i), ExpectedAmount: fen(i + 5), DetectedAt: ms(i), ResolvedAt: ms(i + 4), Details: "d", Version: uint64(i),
			BankCode: "ACCOUNT_FROZEN", BankCodesVersion: "cn-bank-return-codes-2026.1", BankCodeUnknown: i%3 == 0}
	}
	t.Run(anomalyTable.name, func(t *testing.T) { checkSameWire(t, anomalyTable, anomalies) })

	ctl := make([]ControlRow, n)
	dls := make([]DeadLetter, n)
	for i := range ctl {
		ctl[i] = ControlRow{Topic: "acq.payouts", Partition: int32(i), Offset: int64(i), KafkaTime: ms(i), Type: "heartbeat",
			OccurredAt: ms(i + 1), Producer: "p", Note: "n"}
		dls[i] = DeadLetter{Topic: "pos.authorizations", Partition: int32(-i), Offset: 1 << 40, KafkaTime: ms(i),
			Key: payload(i + 1), Reason: "bad_amount", Detail: "d", Payload: payload(i)}
	}
	t.Run(controlTable.name, func(t *testing.T) { checkSameWire(t, controlTable, ctl) })
	t.Run(deadLetterTable.name, func(t *testing.T) { checkSameWire(t, deadLetterTable, dls) })

	batches := make([]fact.Batch, n)
	health := make([]SourceHealth, n)
	alerts := make([]AlertRecord, n)
	chunks := make([]checkpointChunk, n)
	for i := range batches {
		batches[i] = fact.Batch{BatchID: "B1", Source: "clearing", Status: fact.BatchIsOpen, OpenedAt: ms(i), ClosedAt: ms(i + 1),
			FirstProgress: ms(i + 2), LastProgress: ms(i + 3), DeclaredCount: int64(i), DeclaredTotal: fen(i),
			SeenCount: int64(-i), SeenTotal: fen(i + 1), Stalls: 2, AsOf: ms(i + 4), Version: uint64(i)}
		health[i] = SourceHealth{Source: "auth", Reporter: "joiner", Instance: "j1", ObservedAt: ms(i), Watermark: ms(i + 1),
			WatermarkLagS: int64(i), ConsumerLag: -1, IdleS: 5, Withheld: uint64(i), Status: "ok", ThresholdS: 60}
		alerts[i] = AlertRecord{Fingerprint: "f", AlertName: "BatchStalled", Labels: map[string]string{"a": "b"}, State: "firing",
			StartedAt: ms(i), EndedAt: ms(i + 1), LastSentAt: ms(i + 2), Notifications: uint64(i), Version: uint64(i)}
		chunks[i] = checkpointChunk{Group: "g", Topic: "t", Partition: int32(i), Offset: int64(-i), Chunk: uint32(i),
			Chunks: uint32(n), Data: string(payload(i)), Created: ms(i)}
	}
	t.Run(batchTable.name, func(t *testing.T) { checkSameWire(t, batchTable, batches) })
	t.Run(healthTable.name, func(t *testing.T) { checkSameWire(t, healthTable, health) })
	t.Run(alertTable.name, func(t *testing.T) { checkSameWire(t, alertTable, alerts) })
	t.Run(checkpointTable.name, func(t *testing.T) { checkSameWire(t, checkpointTable, chunks) })
}

// TestAppendColumnsRejectsWrongShape checks that a batch whose columns are
// not the insert's is refused rather than filled.
func TestAppendColumnsRejectsWrongShape(t *testing.T) {
	rows := []ControlRow{{Topic: "t"}}
	sc := scratchPool.Get().(*scratch)
	defer sc.release()
	cols := controlTable.build(rows, nil, sc)

	blk := benchBlock(t, controlTable)
	blk.Columns = blk.Columns[1:]
	if err := appendColumns(blockBatch{blk}, controlTable, cols, sc); err == nil {
		t.Error("appendColumns accepted a batch with a column missing")
	}
	blk = benchBlock(t, controlTable)
	blk.Columns[0], blk.Columns[4] = blk.Columns[4], blk.Columns[0] // topic and type: both String
	if err := appendColumns(blockBatch{blk}, controlTable, cols, sc); err == nil {
		t.Error("appendColumns accepted a batch with columns in another order")
	}
}

// TestScratchRelease checks that a released scratch keeps no reference to
// the rows (the payload strings are views of their bytes).
func TestScratchRelease(t *testing.T) {
	var sc scratch
	rows := []RawRow{{Topic: "t", Payload: []byte(`{"a":1}`)}}
	rawTables[event.Auth].build(rows, nil, &sc)
	sc.reset()
	for i, s := range sc.strs[:cap(sc.strs)] {
		if s != "" {
			t.Fatalf("released scratch still holds string %d: %q", i, s)
		}
	}
	for i, d := range sc.cols[:cap(sc.cols)] {
		if d.strs != nil {
			t.Fatalf("released scratch still holds column %d", i)
		}
	}
}

// TestPresizeString checks that a presized String column is empty, takes
// the strings as they are, and takes them without growing: the append's only
// allocations are the slice passed as an any and the driver's nulls slice.
func TestPresizeString(t *testing.T) {
	long := strings.Repeat("x", 300)
	for _, tc := range []struct {
		name string
		strs []string
	}{
		{"two short", []string{"a", "bc"}},
		{"short and empty", []string{"", "a", "", "ABC", ""}},
		{"all empty", make([]string, 1000)},
		{"at the floor", []string{strings.Repeat("y", sizeFloor-1), "z"}},
		{"payloads", slices.Repeat([]string{long, "", long + "!"}, 2000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			size := 0
			for _, s := range tc.strs {
				size += len(s)
			}
			const runs = 5
			var sc scratch
			cols := make([]*chcolumn.String, runs+1)
			for i := range cols {
				c, err := chcolumn.Type("String").Column("s", nil)
				if err != nil {
					t.Fatal(err)
				}
				cols[i] = c.(*chcolumn.String)
				sc.presizeString(cols[i], len(tc.strs), size)
				if n := cols[i].Rows(); n != 0 {
					t.Fatalf("presized column has %d rows, want 0", n)
				}
			}
			next := 0
			allocs := testing.AllocsPerRun(runs, func() {
				if _, err := cols[next].Append(tc.strs); err != nil {
					t.Fatal(err)
				}
				next++
			})
			for _, c := range cols {
				if c.Rows() != len(tc.strs) {
					t.Fatalf("column has %d rows, want %d", c.Rows(), len(tc.strs))
				}
				for i, want := range tc.strs {
					if got := c.Row(i, false).(string); got != want {
						t.Fatalf("row %d = %q, want %q", i, got, want)
					}
				}
			}
			// Bytes under sizeFloor may grow; more than that must not.
			if size >= sizeFloor && allocs > 2 {
				t.Errorf("appending %d strings (%d bytes) to a presized column: %v allocations, want 2 (the slice as an any, the nulls)", len(tc.strs), size, allocs)
			}
		})
	}
}
