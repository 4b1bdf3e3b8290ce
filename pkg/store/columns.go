package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"strings"
	"sync"
	"unsafe"

	chproto "github.com/ClickHouse/ch-go/proto"
	chcolumn "github.com/ClickHouse/clickhouse-go/v2/lib/column"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/shopspring/decimal"
)

// Inserts are column-wise: for a batch of rows, every column is first built
// into one typed slice (strings, integers, DateTime seconds, money in fen),
// once per insert, and each attempt then appends whole slices with
// batch.Column(i).Append. Nothing is boxed or converted per value: the
// allocations are a few per batch (and none for the slices in steady state,
// which come from a pool), not several per row. String columns are sized
// before the append (presizeString), so that the driver's buffers of a fresh
// batch are allocated once at their final size instead of grown.

// kind is the Go representation a column is built in, and so the ClickHouse
// type it must have.
type kind uint8

const (
	kindString   kind = iota // String, from a string
	kindBytes                // String, from a []byte (not copied)
	kindUInt8                // UInt8
	kindUInt32               // UInt32
	kindUInt64               // UInt64
	kindInt64                // Int64
	kindDateTime             // DateTime, from unix ms
	kindMoney                // Decimal(18, 2), from fen
	numKinds
)

// column maps one table column to its value in a row of type T. Exactly one
// of the functions is set, the one of its kind.
type column[T any] struct {
	name  string
	kind  kind
	str   func(*T) string
	bytes func(*T) []byte
	u8    func(*T) uint8
	u32   func(*T) uint32
	u64   func(*T) uint64
	i64   func(*T) int64 // Int64; unix ms for DateTime; fen for money
}

// str is a String column.
func str[T any](name string, f func(*T) string) column[T] {
	return column[T]{name: name, kind: kindString, str: f}
}

// bin is a String column holding bytes, such as a JSON payload. The bytes are
// not copied until the driver appends them to its column buffer, so they must
// not change while the insert runs.
func bin[T any](name string, f func(*T) []byte) column[T] {
	return column[T]{name: name, kind: kindBytes, bytes: f}
}

// u8 is a UInt8 column.
func u8[T any](name string, f func(*T) uint8) column[T] {
	return column[T]{name: name, kind: kindUInt8, u8: f}
}

// u32 is a UInt32 column.
func u32[T any](name string, f func(*T) uint32) column[T] {
	return column[T]{name: name, kind: kindUInt32, u32: f}
}

// u64 is a UInt64 column.
func u64[T any](name string, f func(*T) uint64) column[T] {
	return column[T]{name: name, kind: kindUInt64, u64: f}
}

// i64 is an Int64 column.
func i64[T any](name string, f func(*T) int64) column[T] {
	return column[T]{name: name, kind: kindInt64, i64: f}
}

// dateTime is a DateTime column from unix ms, stored as dateTimeSec does:
// truncated to the second and clamped to what a DateTime holds.
func dateTime[T any](name string, unixMs func(*T) int64) column[T] {
	return column[T]{name: name, kind: kindDateTime, i64: unixMs}
}

// money is a Decimal(18, 2) column from an amount in fen, stored exactly.
func money[T any](name string, fen func(*T) int64) column[T] {
	return column[T]{name: name, kind: kindMoney, i64: fen}
}

// table is the insert shape of one table.
type table[T any] struct {
	name   string
	what   string // for errors and logs: "inserting <what>"
	cols   []column[T]
	query  string
	counts [numKinds]int // columns of each kind
	// month is the time (unix ms) of the column the table is partitioned
	// by month of (toYYYYMM), nil for a table with no monthly partitions
	// (months.go).
	month func(*T) int64
}

// monthly sets the column t is partitioned by month of.
func (t *table[T]) monthly(at func(*T) int64) *table[T] {
	t.month = at
	return t
}

// newTable describes a table by its columns; the INSERT names them all, in
// this order.
func newTable[T any](name, what string, cols ...column[T]) *table[T] {
	names := make([]string, len(cols))
	t := &table[T]{name: name, what: what, cols: cols}
	for i, c := range cols {
		names[i] = "`" + c.name + "`"
		if c.kind >= numKinds {
			panic(fmt.Sprintf("store: column %s of %s has no kind", c.name, name))
		}
		t.counts[c.kind]++
	}
	t.query = "INSERT INTO " + name + " (" + strings.Join(names, ", ") + ")"
	return t
}

// maxDateTime is the last instant a ClickHouse DateTime (UInt32 seconds) holds.
const maxDateTime = 1<<32 - 1

// dateTimeSec converts unix ms to the seconds a DateTime stores, truncated to
// the second. Zero (and anything before 1970) is the zero DateTime,
// 1970-01-01 00:00:00; anything after the last DateTime is that last one.
func dateTimeSec(ms int64) int64 {
	sec := ms / 1000
	switch {
	case ms <= 0:
		sec = 0
	case sec > maxDateTime:
		sec = maxDateTime
	}
	return sec
}

// fenDecimal converts fen to a decimal with two places: exact.
func fenDecimal(fen int64) decimal.Decimal { return decimal.New(fen, -2) }

func flag(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

func clampU32(v int32) uint32 {
	if v < 0 {
		return 0
	}
	return uint32(v)
}

func clampU64(v int64) uint64 {
	if v < 0 {
		return 0
	}
	return uint64(v)
}

// colData is one built column: the slice of its kind.
type colData struct {
	kind kind
	size int      // String: the bytes of all strs
	strs []string // String
	u8s  []uint8
	u32s []uint32
	u64s []uint64
	i64s []int64 // Int64; DateTime seconds; money fen
}

// scratch holds the column slices of one insert. Scratches come from a pool
// and each insert takes its own, so concurrent inserts never share one.
type scratch struct {
	cols []colData
	strs []string
	u8s  []uint8
	u32s []uint32
	u64s []uint64
	i64s []int64

	wire []byte            // money in Decimal64 wire format, per attempt
	src  bytes.Reader      // wire, read by rd
	rd   *chproto.Reader   // decodes wire into a Decimal64 column
	decs []decimal.Decimal // money for the driver's generic Decimal path

	sizer  sizer           // the wire presizeString decodes
	sizeRd *chproto.Reader // reads sizer
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// grow returns s with length n, reusing its array when large enough.
func grow[E any](s []E, n int) []E {
	if cap(s) < n {
		return make([]E, n)
	}
	return s[:n]
}

// release returns sc to the pool, without references to the rows.
func (sc *scratch) release() {
	sc.reset()
	scratchPool.Put(sc)
}

// reset clears what refers to the rows: the strings (those of bytes columns
// alias the rows' bytes), the decimals and the columns.
func (sc *scratch) reset() {
	clear(sc.strs[:cap(sc.strs)])
	clear(sc.decs[:cap(sc.decs)])
	clear(sc.cols[:cap(sc.cols)])
	sc.strs, sc.decs, sc.cols = sc.strs[:0], sc.decs[:0], sc.cols[:0]
}

// buildChunk is how many rows build converts column by column before moving
// on: a chunk of rows stays in cache while each of its columns is read.
const buildChunk = 256

// build converts rows into one slice per column, in sc, in the order of the
// indexes in order (nil: as they are). The result is valid until sc is
// released.
func (t *table[T]) build(rows []T, order []int32, sc *scratch) []colData {
	n := len(rows)
	sc.strs = grow(sc.strs, n*(t.counts[kindString]+t.counts[kindBytes]))
	sc.u8s = grow(sc.u8s, n*t.counts[kindUInt8])
	sc.u32s = grow(sc.u32s, n*t.counts[kindUInt32])
	sc.u64s = grow(sc.u64s, n*t.counts[kindUInt64])
	sc.i64s = grow(sc.i64s, n*(t.counts[kindInt64]+t.counts[kindDateTime]+t.counts[kindMoney]))
	sc.cols = grow(sc.cols, len(t.cols))
	strs, u8s, u32s, u64s, i64s := sc.strs, sc.u8s, sc.u32s, sc.u64s, sc.i64s
	for j := range t.cols {
		d := colData{kind: t.cols[j].kind}
		switch d.kind {
		case kindString, kindBytes:
			d.strs, strs = strs[:n:n], strs[n:]
		case kindUInt8:
			d.u8s, u8s = u8s[:n:n], u8s[n:]
		case kindUInt32:
			d.u32s, u32s = u32s[:n:n], u32s[n:]
		case kindUInt64:
			d.u64s, u64s = u64s[:n:n], u64s[n:]
		case kindInt64, kindDateTime, kindMoney:
			d.i64s, i64s = i64s[:n:n], i64s[n:]
		}
		sc.cols[j] = d
	}
	var gather []T
	if order != nil {
		gather = make([]T, buildChunk)
	}
	for lo := 0; lo < n; lo += buildChunk {
		chunk := rows[lo:min(lo+buildChunk, n)]
		if order != nil {
			// The chunk's rows in order, copied: a chunk stays in cache.
			chunk = gather[:len(chunk)]
			for i, at := range order[lo : lo+len(chunk)] {
				chunk[i] = rows[at]
			}
		}
		for j := range t.cols {
			t.cols[j].fill(chunk, &sc.cols[j], lo)
		}
	}
	return sc.cols
}

// fill converts rows into d, from index at on.
func (c *column[T]) fill(rows []T, d *colData, at int) {
	switch c.kind {
	case kindString:
		dst := d.strs[at : at+len(rows)]
		for i := range rows {
			dst[i] = c.str(&rows[i])
			d.size += len(dst[i])
		}
	case kindBytes:
		dst := d.strs[at : at+len(rows)]
		for i := range rows {
			// A view of the bytes, not a copy: the driver copies them into
			// its column buffer, and release drops the view.
			if b := c.bytes(&rows[i]); len(b) > 0 {
				dst[i] = unsafe.String(&b[0], len(b))
				d.size += len(b)
			} else {
				dst[i] = ""
			}
		}
	case kindUInt8:
		dst := d.u8s[at : at+len(rows)]
		for i := range rows {
			dst[i] = c.u8(&rows[i])
		}
	case kindUInt32:
		dst := d.u32s[at : at+len(rows)]
		for i := range rows {
			dst[i] = c.u32(&rows[i])
		}
	case kindUInt64:
		dst := d.u64s[at : at+len(rows)]
		for i := range rows {
			dst[i] = c.u64(&rows[i])
		}
	case kindInt64, kindMoney:
		dst := d.i64s[at : at+len(rows)]
		for i := range rows {
			dst[i] = c.i64(&rows[i])
		}
	case kindDateTime:
		dst := d.i64s[at : at+len(rows)]
		for i := range rows {
			dst[i] = dateTimeSec(c.i64(&rows[i]))
		}
	}
}

// window returns the rows [lo, hi) of cols, in dst.
func window(dst, cols []colData, lo, hi int) []colData {
	dst = grow(dst, len(cols))
	for j, d := range cols {
		w := colData{kind: d.kind}
		switch d.kind {
		case kindString, kindBytes:
			w.strs = d.strs[lo:hi]
			for _, v := range w.strs {
				w.size += len(v)
			}
		case kindUInt8:
			w.u8s = d.u8s[lo:hi]
		case kindUInt32:
			w.u32s = d.u32s[lo:hi]
		case kindUInt64:
			w.u64s = d.u64s[lo:hi]
		case kindInt64, kindDateTime, kindMoney:
			w.i64s = d.i64s[lo:hi]
		}
		dst[j] = w
	}
	return dst
}

// columnBatch is the part of driver.Batch that appendColumns uses.
type columnBatch interface {
	Column(int) driver.BatchColumn
	Columns() []chcolumn.Interface
}

// appendColumns appends the built columns of t to a freshly prepared batch,
// whose columns are those of t.query in order.
func appendColumns[T any](b columnBatch, t *table[T], cols []colData, sc *scratch) error {
	bcols := b.Columns()
	if len(bcols) != len(t.cols) {
		return fmt.Errorf("batch for %s has %d columns, the insert names %d", t.name, len(bcols), len(t.cols))
	}
	for j, d := range cols {
		if got := bcols[j].Name(); got != t.cols[j].name {
			return fmt.Errorf("batch column %d of %s is %s, want %s", j, t.name, got, t.cols[j].name)
		}
		var err error
		switch d.kind {
		case kindString, kindBytes:
			if strCol, ok := bcols[j].(*chcolumn.String); ok {
				sc.presizeString(strCol, len(d.strs), d.size)
			}
			err = b.Column(j).Append(d.strs)
		case kindUInt8:
			err = b.Column(j).Append(d.u8s)
		case kindUInt32:
			err = b.Column(j).Append(d.u32s)
		case kindUInt64:
			err = b.Column(j).Append(d.u64s)
		case kindInt64, kindDateTime:
			// DateTime takes []int64 as unix seconds, already clamped.
			err = b.Column(j).Append(d.i64s)
		case kindMoney:
			if dc, ok := decimal64Scale2(bcols[j]); ok && dc.Rows() == 0 && decimalWireOK() {
				err = sc.decodeMoney(dc, d.i64s)
			} else {
				err = sc.appendMoney(b.Column(j), d.i64s)
			}
		}
		if err != nil {
			return fmt.Errorf("appending column %s: %w", t.cols[j].name, err)
		}
	}
	return nil
}

// String columns are sized before the append.
//
// The driver's String column keeps all its bytes in one buffer and the
// position of each string in another, and appends to both, so that filling a
// fresh batch's column grows them by doubling from nothing: for an archive
// insert's payload column (100,000 rows of about 300 bytes) some 60 MB
// allocated and 30 MB copied on the way to 30 MB. The column's API has no way
// to reserve capacity, but its Decode allocates both buffers at once: for the
// positions, as many as the rows it is told; for the bytes, the first row's
// length (when it is 128 or more). So presizeString decodes into the empty
// column a wire whose first row is as long as all the strings together, and
// resets the column, which keeps the capacity; the append then copies each
// string once, into place. The wire is never copied: sizer hands out its
// row's bytes without writing them, and ends after that row, so Decode stops
// there with an error. Whatever Decode did, Reset leaves the column empty:
// the rows appended next are the only rows the batch sends, so a driver that
// sizes differently costs growth again, never a wrong value.

// sizeFloor is the shortest first row for which Decode allocates the row's
// length only; below it, it allocates that length for every row, and so the
// bytes are left to grow (they are fewer than sizeFloor).
const sizeFloor = 128

// presizeString makes the empty column c take rows strings of size bytes in
// all without growing.
func (sc *scratch) presizeString(c *chcolumn.String, rows, size int) {
	if c.Rows() != 0 || rows < 2 {
		return
	}
	if size < sizeFloor {
		size = 0
	}
	sc.sizer.reset(size)
	if sc.sizeRd == nil {
		sc.sizeRd = chproto.NewReader(&sc.sizer)
	}
	_ = c.Decode(sc.sizeRd, rows) // ends at the second row: sizer has one
	c.Reset()
	if !sc.sizer.drained() {
		sc.sizeRd = nil // its buffer may hold the rest
	}
}

// sizer is the wire of one String row of n bytes, read without its bytes
// being written: the reader's buffer keeps what it holds, which nothing looks
// at (presizeString resets the column). After the row it reports io.EOF.
type sizer struct {
	head [binary.MaxVarintLen64]byte // the row's length, a uvarint
	nh   int                         // bytes in head
	at   int                         // bytes of head read
	left int                         // bytes of the row not yet read
}

func (s *sizer) reset(n int) {
	s.nh = binary.PutUvarint(s.head[:], uint64(n))
	s.at, s.left = 0, n
}

func (s *sizer) drained() bool { return s.at == s.nh && s.left == 0 }

func (s *sizer) Read(p []byte) (int, error) {
	if s.at < s.nh {
		k := copy(p, s.head[s.at:s.nh])
		s.at += k
		return k, nil
	}
	if s.left > 0 {
		k := min(len(p), s.left)
		s.left -= k
		return k, nil
	}
	return 0, io.EOF
}

// Money goes into Decimal(18, 2) columns without big.Int.
//
// The driver's Decimal column takes decimal.Decimal (or strings) only, and
// converts every value through big.Int several times; it does not expose the
// ch-go Decimal64 column underneath. But a Decimal(18, 2) value is, on the
// wire, the Int64 of the value times 10², which for an amount in fen is the
// fen itself; and every driver column can be filled from its wire format
// with Decode, as the driver does with each block from the server. So fen are
// written as little-endian Int64s and decoded into the batch's column
// (batch.Columns returns the batch's own columns): exact by construction (no
// float, no rounding, the same integer on both sides) and the same bytes the
// generic path produces (TestMoneyWireMatchesDriver, and the real inserts of
// TestMoneyAndDateTimeEdgesRoundTrip). Should a driver ever hand out copies
// instead, the batch would fail to encode (columns of different lengths)
// rather than send wrong amounts.
//
// The fast path is taken only for an empty driver Decimal column (a fresh
// batch's) of precision 18 and scale 2 (which the driver backs with a Decimal64) and only when the probe
// decimalWireOK confirms this driver decodes such a column as expected;
// otherwise fen go through the generic []decimal.Decimal path, which is
// exact too, only slower.

// decimal64Scale2 returns c as a Decimal(18, 2) column.
func decimal64Scale2(c chcolumn.Interface) (*chcolumn.Decimal, bool) {
	dc, ok := c.(*chcolumn.Decimal)
	if !ok || dc.Precision() != 18 || dc.Scale() != 2 {
		return nil, false
	}
	return dc, true
}

// decodeMoney fills an empty Decimal(18, 2) column with fen through its wire
// format. Empty, because Decode is made for a fresh block: on a column with
// rows, ch-go's Decimal64 decoder reads as many bytes as the column will then
// hold, not only the new rows'.
func (sc *scratch) decodeMoney(dc *chcolumn.Decimal, fen []int64) error {
	if dc.Rows() != 0 {
		return fmt.Errorf("decoding money into a column that has %d rows already", dc.Rows())
	}
	sc.wire = grow(sc.wire, 8*len(fen))
	for i, v := range fen {
		binary.LittleEndian.PutUint64(sc.wire[8*i:], uint64(v))
	}
	sc.src.Reset(sc.wire)
	if sc.rd == nil {
		sc.rd = chproto.NewReader(&sc.src)
	}
	err := dc.Decode(sc.rd, len(fen))
	if err == nil && (sc.src.Len() != 0 || dc.Rows() != len(fen)) {
		err = fmt.Errorf("decoded %d of %d money values (%d bytes left)", dc.Rows(), len(fen), sc.src.Len())
	}
	if err != nil {
		sc.rd = nil // its buffer may hold leftovers
		return err
	}
	return nil
}

// appendMoney appends fen to a decimal column through the driver's generic
// path.
func (sc *scratch) appendMoney(c driver.BatchColumn, fen []int64) error {
	sc.decs = grow(sc.decs, len(fen))
	for i, v := range fen {
		sc.decs[i] = fenDecimal(v)
	}
	return c.Append(sc.decs)
}

// decimalWireOK reports whether this driver decodes Decimal(18, 2) wire
// values as ClickHouse defines them, checked once on edge values.
var decimalWireOK = sync.OnceValue(func() bool {
	dc, ok := probeDecimalColumn()
	if !ok {
		return false
	}
	fen := []int64{0, 1, -1, -99, 123450, 999_999_999_999_999_999, -999_999_999_999_999_999}
	var sc scratch
	if sc.decodeMoney(dc, fen) != nil {
		return false
	}
	for i, v := range fen {
		d, ok := dc.Row(i, false).(decimal.Decimal)
		if !ok || !d.Equal(fenDecimal(v)) {
			return false
		}
	}
	return true
})

// probeDecimalColumn is a Decimal(18, 2) column as a batch would have it.
func probeDecimalColumn() (*chcolumn.Decimal, bool) {
	c, err := chcolumn.Type("Decimal(18, 2)").Column("probe", nil)
	if err != nil {
		return nil, false
	}
	return decimal64Scale2(c)
}
