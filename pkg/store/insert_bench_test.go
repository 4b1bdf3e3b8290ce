package store

import (
	"bufio"
	"io/fs"
	"runtime"
	"strings"
	"testing"

	chproto "github.com/ClickHouse/ch-go/proto"
	chcolumn "github.com/ClickHouse/clickhouse-go/v2/lib/column"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/ClickHouse/clickhouse-go/v2/lib/proto"

	"settlemon/pkg/event"
	"settlemon/pkg/fact"
	"settlemon/schemas"
)

// benchColumnTypes reads the column types of table from the migrations:
// its CREATE TABLE and the ALTER TABLE … ADD COLUMN statements after it.
func benchColumnTypes(tb testing.TB, table string) map[string]string {
	tb.Helper()
	types := map[string]string{}
	err := fs.WalkDir(schemas.ClickHouse, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(schemas.ClickHouse, path)
		if err != nil {
			return err
		}
		in := false
		sc := bufio.NewScanner(strings.NewReader(string(data)))
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			switch {
			case strings.HasPrefix(line, "CREATE TABLE IF NOT EXISTS "+table) && strings.TrimPrefix(line, "CREATE TABLE IF NOT EXISTS "+table) == "":
				in = true
			case strings.HasPrefix(line, "ALTER TABLE "+table+" ADD COLUMN "):
				def := strings.TrimSuffix(strings.TrimPrefix(line, "ALTER TABLE "+table+" ADD COLUMN "), ";")
				def, _, _ = strings.Cut(def, " DEFAULT ")
				if name, typ, ok := strings.Cut(def, " "); ok {
					types[strings.Trim(name, "`")] = strings.TrimSpace(typ)
				}
			case in && line == ")":
				in = false
			case in && line != "(" && line != "":
				name, typ, ok := strings.Cut(strings.TrimSuffix(line, ","), " ")
				if ok {
					types[strings.Trim(name, "`")] = strings.TrimSpace(typ)
				}
			}
		}
		return sc.Err()
	})
	if err != nil {
		tb.Fatal(err)
	}
	if len(types) == 0 {
		tb.Fatalf("no columns found for table %s in the migrations", table)
	}
	return types
}

// benchBlock is the driver's block for t's columns, as PrepareBatch would
// build it from the server's answer.
func benchBlock[T any](tb testing.TB, t *table[T]) *proto.Block {
	tb.Helper()
	return newBenchBlock(tb, t, benchColumnTypes(tb, t.name))
}

// newBenchBlock is benchBlock from the column types of t's table.
func newBenchBlock[T any](tb testing.TB, t *table[T], types map[string]string) *proto.Block {
	tb.Helper()
	blk := proto.NewBlock()
	for _, c := range t.cols {
		typ, ok := types[c.name]
		if !ok {
			tb.Fatalf("column %s of %s not in the migrations", c.name, t.name)
		}
		if err := blk.AddColumn(c.name, chcolumn.Type(typ)); err != nil {
			tb.Fatal(err)
		}
	}
	return blk
}

// blockBatch is a driver block standing in for a prepared batch, so that
// appendColumns runs without a connection.
type blockBatch struct{ blk *proto.Block }

func (b blockBatch) Columns() []chcolumn.Interface { return b.blk.Columns }

func (b blockBatch) Column(i int) driver.BatchColumn { return blockColumn{b.blk.Columns[i]} }

type blockColumn struct{ c chcolumn.Interface }

func (c blockColumn) Append(v any) error { _, err := c.c.Append(v); return err }

func (c blockColumn) AppendRow(v any) error { return c.c.AppendRow(v) }

// benchAppend is insert and sendBatch without the connection: the rows built
// into columns (scratch from the pool, as insert does), the columns appended
// to the driver's block, then the block's wire encoding. One op is one batch;
// ns/row and allocs/row divide by its rows. The block's columns are reset
// between ops, keeping their buffers; benchAppendFresh takes a new block
// for every op, as each PrepareBatch does.
func benchAppend[T any](b *testing.B, t *table[T], rows []T) { benchAppendBlocks(b, t, rows, false) }

func benchAppendFresh[T any](b *testing.B, t *table[T], rows []T) {
	benchAppendBlocks(b, t, rows, true)
}

func benchAppendBlocks[T any](b *testing.B, t *table[T], rows []T, fresh bool) {
	types := benchColumnTypes(b, t.name)
	blk := newBenchBlock(b, t, types)
	var buf chproto.Buffer
	var before, after runtime.MemStats
	b.ReportAllocs()
	runtime.ReadMemStats(&before)
	for b.Loop() {
		if fresh {
			blk = newBenchBlock(b, t, types)
		}
		for _, c := range blk.Columns {
			c.Reset()
		}
		sc := scratchPool.Get().(*scratch)
		cols := t.build(rows, nil, sc)
		if err := appendColumns(blockBatch{blk}, t, cols, sc); err != nil {
			b.Fatal(err)
		}
		sc.release()
		buf.Reset()
		if err := blk.Encode(&buf, proto.DBMS_TCP_PROTOCOL_VERSION); err != nil {
			b.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(rows)), "ns/row")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(b.N*len(rows)), "allocs/row")
	b.ReportMetric(float64(len(buf.Buf))/float64(len(rows)), "wireB/row")
}

const benchRows = 20000 // the joiner's default FlushRows

// BenchmarkBuildLagRows measures building one sink batch of settlement-lag
// facts: one op is a batch of 20,000 rows, built into columns, appended to
// the driver's columns and encoded, without sending.
func BenchmarkBuildLagRows(b *testing.B) { benchAppend(b, lagTable, benchLagRows()) }

func benchLagRows() []fact.Lag {
	rows := make([]fact.Lag, benchRows)
	for i := range rows {
		at := int64(1790000000000 + i*1000)
		rows[i] = fact.Lag{TraceNo: "627100" + pad6(i), MerchantID: "M000123", TerminalID: "T00871203", MCC: "5812", ClearedMCC: "5812",
			Mode: event.T1, AuthorizedAmount: 128800, ClearedAmount: 128800, Fee: 773, NetPaid: 128027,
			AuthorizedAt: at, ClearedAt: at + 16*3600e3, PaidAt: at + 30*3600e3, ExpectedPayoutAt: at + 32*3600e3,
			AuthToClearS: 16 * 3600, ClearToPayS: 14 * 3600, AuthToPayS: 30 * 3600, PastDueS: -2 * 3600,
			Status: fact.StatusPaid, CalendarVersion: "cn-mainland-2026.1", Version: uint64(at)}
	}
	return rows
}

// BenchmarkBuildRawRows measures building one batch of archived
// authorizations (ingest's raw archive, with the original JSON payload).
func BenchmarkBuildRawRows(b *testing.B) {
	benchAppend(b, rawTables[event.Auth], benchRawRows(5000)) // ingest's default MaxBatch
}

// BenchmarkInsertRawFresh measures what one archive insert of 100,000
// authorizations costs before it is sent: built, appended to the columns of
// a new block (as a prepared batch has them) and encoded into a buffer that
// is reused, as a connection's is.
func BenchmarkInsertRawFresh(b *testing.B) {
	benchAppendFresh(b, rawTables[event.Auth], benchRawRows(100_000))
}

// BenchmarkInsertLagFresh is BenchmarkInsertRawFresh for one sink batch of
// settlement-lag facts.
func BenchmarkInsertLagFresh(b *testing.B) {
	benchAppendFresh(b, lagTable, benchLagRows())
}

// benchRawRows is n archived authorizations with a 300-byte JSON payload.
func benchRawRows(n int) []RawRow {
	payload := []byte(`{"event_id":"au-1x2y3z","type":"authorization","occurred_at":"2026-09-28T10:15:32.481+08:00","trace_no":"627100000205",` +
		`"merchant_id":"M000123","terminal_id":"T00871203","response_code":"00","amount":"1288.00","currency":"CNY","mcc":"5812",` +
		`"card_bin":"622848","card_last4":"0427"}`)
	rows := make([]RawRow, n)
	for i := range rows {
		rows[i] = RawRow{Topic: "pos.authorizations", Partition: int32(i % 6), Offset: int64(i), KafkaTime: 1790000000000,
			Event: event.Event{ID: "au-" + pad6(i), Type: event.Authorization, OccurredAt: 1790000000000, TraceNo: "627100" + pad6(i),
				MerchantID: "M000123", TerminalID: "T00871203", ResponseCode: "00", CardBIN: "622848", CardLast4: "0427",
				Currency: "CNY", Amount: 128800, MCC: "5812"}, Payload: payload}
	}
	return rows
}

func pad6(i int) string {
	s := "000000" + itoa(i)
	return s[len(s)-6:]
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var d [20]byte
	n := len(d)
	for ; i > 0; i /= 10 {
		n--
		d[n] = byte('0' + i%10)
	}
	return string(d[n:])
}
