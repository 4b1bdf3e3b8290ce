package event

import (
	"encoding/binary"
	"errors"
	"math"
	"strconv"

	"github.com/cespare/xxhash/v2"
)

// RecordKind says what a settle.events record carries.
type RecordKind uint8

// Record kinds. The zero value is invalid.
const (
	RecordEvent     RecordKind = 1 // a decoded source event
	RecordWatermark RecordKind = 2 // a source partition's watermark, broadcast by ingest
	RecordBatchItem RecordKind = 3 // a batch's record (cleared, payout_initiated) re-keyed by batch id for batch tracking
	// RecordBatchDigest is what batch tracking needs of one batch's records
	// read in one ingest batch (BatchSteps, in the order read), keyed by
	// batch id: one record for many, in place of a RecordBatchItem each.
	RecordBatchDigest RecordKind = 4
)

func (k RecordKind) String() string {
	switch k {
	case RecordEvent:
		return "event"
	case RecordWatermark:
		return "watermark"
	case RecordBatchItem:
		return "batch_item"
	case RecordBatchDigest:
		return "batch_digest"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Watermark says that source partition Partition (of Partitions) of Source
// has delivered everything with event time up to At (Unix ms) (DESIGN §5).
type Watermark struct {
	Source     Source
	Partition  int32
	Partitions int32
	At         int64 // Unix ms
}

// BatchStep is one record of a batch as batch tracking sees it: its opening
// or close (with what the close declares), an item (cleared,
// payout_initiated) or a confirmation showing it progressing.
type BatchStep struct {
	ID                           uint64 // IDHash of the event's id: a re-delivery is counted once
	Type                         Type
	At                           int64 // occurred_at, Unix ms
	Amount                       int64 // fen
	DeclaredCount, DeclaredTotal int64 // batch_closed
}

// IDHash is the hash by which batch tracking recognises an event it has
// counted already.
func IDHash(id string) uint64 { return xxhash.Sum64String(id) }

// Record is one message value on the repartition topic settle.events: an
// event, a watermark or a batch digest, with the lineage of the source
// message it came from (a digest's: its first step's).
type Record struct {
	Kind      RecordKind
	Source    Source
	Event     Event     // Kind == RecordEvent or RecordBatchItem
	Watermark Watermark // Kind == RecordWatermark
	// Kind == RecordBatchDigest: the batch and its steps.
	BatchID    string
	BatchSteps []BatchStep

	// Lineage of the source message the record came from.
	Topic     string
	Partition int32
	Offset    int64

	// SourceWatermark is the watermark of the source partition just before
	// this event was read (the highest occurred_at read from it so far): an
	// event far older than it was delivered late. Kind == RecordEvent; zero
	// when unknown (the consumer had just started).
	SourceWatermark int64
}

// recordVersion is the first byte of every record. A reader refuses versions
// it does not know rather than misreading them; it still reads version 1,
// which lacked the source watermark.
const recordVersion = 2

// Wire layout (version 2), integers as varints (zigzag for signed values):
//
//	version u8 | kind u8 | source u8 | topic str | partition | offset
//	kind event:     type u8 | mode u8 | string-presence bitmap uvarint |
//	                the present strings, in strings() order |
//	                occurred_at | amount | fee | declared_count |
//	                declared_total | fee_rate_ppm | source_watermark (v2)
//	kind watermark: source u8 | partition | partitions | at
//	kind batch digest: batch_id str | steps uvarint | each step: id u64
//	                little-endian | type u8 | at | amount | declared_count |
//	                declared_total
//
// str is a uvarint length followed by the bytes.

// numStrings is the number of string fields of Event carried in a record.
const numStrings = 16

// strings returns pointers to the string fields of e, in wire order.
func (e *Event) strings() [numStrings]*string {
	return [numStrings]*string{
		&e.ID, &e.TraceNo, &e.MerchantID, &e.TerminalID, &e.ResponseCode,
		&e.CardBIN, &e.CardLast4, &e.Currency, &e.MCC, &e.BatchID,
		&e.ReasonCode, &e.Reason, &e.Producer, &e.MerchantName,
		&e.RegisteredMCC, &e.AccountRef,
	}
}

// AppendRecord appends the binary form of r to dst and returns the extended
// buffer. It does not allocate when dst has room.
func AppendRecord(dst []byte, r *Record) []byte {
	dst = append(dst, recordVersion, byte(r.Kind), byte(r.Source))
	dst = appendString(dst, r.Topic)
	dst = binary.AppendVarint(dst, int64(r.Partition))
	dst = binary.AppendVarint(dst, r.Offset)
	switch r.Kind {
	case RecordWatermark:
		w := &r.Watermark
		dst = append(dst, byte(w.Source))
		dst = binary.AppendVarint(dst, int64(w.Partition))
		dst = binary.AppendVarint(dst, int64(w.Partitions))
		dst = binary.AppendVarint(dst, w.At)
	case RecordBatchDigest:
		dst = appendString(dst, r.BatchID)
		dst = binary.AppendUvarint(dst, uint64(len(r.BatchSteps)))
		for i := range r.BatchSteps {
			st := &r.BatchSteps[i]
			dst = binary.LittleEndian.AppendUint64(dst, st.ID)
			dst = append(dst, byte(st.Type))
			dst = binary.AppendVarint(dst, st.At)
			dst = binary.AppendVarint(dst, st.Amount)
			dst = binary.AppendVarint(dst, st.DeclaredCount)
			dst = binary.AppendVarint(dst, st.DeclaredTotal)
		}
	default:
		e := &r.Event
		dst = append(dst, byte(e.Type), byte(e.Mode))
		strs := e.strings()
		var mask uint64
		for i, p := range strs {
			if *p != "" {
				mask |= 1 << i
			}
		}
		dst = binary.AppendUvarint(dst, mask)
		for _, p := range strs {
			if *p != "" {
				dst = appendString(dst, *p)
			}
		}
		dst = binary.AppendVarint(dst, e.OccurredAt)
		dst = binary.AppendVarint(dst, e.Amount)
		dst = binary.AppendVarint(dst, e.Fee)
		dst = binary.AppendVarint(dst, e.DeclaredCount)
		dst = binary.AppendVarint(dst, e.DeclaredTotal)
		dst = binary.AppendVarint(dst, e.FeeRatePPM)
		dst = binary.AppendVarint(dst, r.SourceWatermark)
	}
	return dst
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// Record decoding errors.
var (
	errRecordTruncated = errors.New("settle.events record: truncated")
	errRecordVersion   = errors.New("settle.events record: unknown format version")
	errRecordKind      = errors.New("settle.events record: unknown kind")
	errRecordEnum      = errors.New("settle.events record: source, type or mode out of range")
	errRecordRange     = errors.New("settle.events record: integer out of range")
	errRecordTrailing  = errors.New("settle.events record: trailing bytes")
)

// DecodeRecord decodes data, written by AppendRecord, into r, overwriting
// every field. A string equal to the one already in r is kept rather than
// allocated again, and the event's other strings share one allocation, so
// decoding a stream into one Record allocates little. It
// returns an error, and never panics, on malformed input; after an error
// the contents of r are unspecified.
func DecodeRecord(data []byte, r *Record) error {
	d := recordReader{b: data}
	version := d.byte()
	if version != recordVersion && version != 1 {
		if d.err != nil {
			return d.err
		}
		return errRecordVersion
	}
	kind := RecordKind(d.byte())
	src := Source(d.byte())
	topic := d.string(r.Topic)
	part := d.int32()
	off := d.varint()
	if d.err != nil {
		return d.err
	}
	if kind != RecordEvent && kind != RecordWatermark && kind != RecordBatchItem && kind != RecordBatchDigest {
		return errRecordKind
	}
	if src >= NumSources {
		return errRecordEnum
	}
	r.Kind, r.Source, r.Topic, r.Partition, r.Offset = kind, src, topic, part, off

	if kind != RecordBatchDigest {
		r.BatchID, r.BatchSteps = "", r.BatchSteps[:0]
	}
	if kind == RecordBatchDigest {
		return d.digest(r)
	}
	if kind == RecordWatermark {
		r.Event = Event{}
		w := Watermark{Source: Source(d.byte()), Partition: d.int32(), Partitions: d.int32(), At: d.varint()}
		if d.err != nil {
			return d.err
		}
		if w.Source >= NumSources {
			return errRecordEnum
		}
		r.Watermark = w
		r.SourceWatermark = 0
		return d.end()
	}

	r.Watermark = Watermark{}
	e := &r.Event
	t, m := Type(d.byte()), Mode(d.byte())
	mask := d.uvarint()
	if d.err != nil {
		return d.err
	}
	if t == TypeUnknown || t >= numTypes || m >= NumModes || mask>>numStrings != 0 {
		return errRecordEnum
	}
	e.Type, e.Mode = t, m
	// The strings that differ from those in r are copied into one
	// allocation, not one each.
	strs := e.strings()
	var raw [numStrings][]byte
	var changed uint64 // the strings to copy
	n := 0
	for i, p := range strs {
		if mask&(1<<i) == 0 {
			*p = ""
			continue
		}
		raw[i] = d.bytes()
		if string(raw[i]) != *p {
			changed |= 1 << i
			n += len(raw[i])
		}
	}
	if d.err != nil {
		return d.err
	}
	if n > 0 {
		buf := make([]byte, n)
		for i, p := range strs {
			if changed&(1<<i) != 0 {
				m := copy(buf, raw[i])
				*p = view(buf[:m])
				buf = buf[m:]
			}
		}
	} else if changed != 0 {
		for i, p := range strs { // only empty strings changed
			if changed&(1<<i) != 0 {
				*p = ""
			}
		}
	}
	e.OccurredAt = d.varint()
	e.Amount = d.varint()
	e.Fee = d.varint()
	e.DeclaredCount = d.varint()
	e.DeclaredTotal = d.varint()
	e.FeeRatePPM = d.varint()
	r.SourceWatermark = 0
	if version >= 2 {
		r.SourceWatermark = d.varint()
	}
	if d.err != nil {
		return d.err
	}
	return d.end()
}

// minStepBytes is the smallest encoding of a batch step: a step count
// above what the remaining bytes can hold is refused before anything is
// allocated for it.
const minStepBytes = 8 + 1 + 4

// digest reads the rest of a batch digest into r, reusing r.BatchSteps.
func (d *recordReader) digest(r *Record) error {
	r.Event, r.Watermark, r.SourceWatermark = Event{}, Watermark{}, 0
	r.BatchID = d.string(r.BatchID)
	n := d.uvarint()
	if d.err != nil {
		return d.err
	}
	if n > uint64(len(d.b)/minStepBytes) {
		return errRecordTruncated
	}
	steps := r.BatchSteps[:0]
	for range n {
		if len(d.b) < 8 {
			return errRecordTruncated
		}
		st := BatchStep{ID: binary.LittleEndian.Uint64(d.b)}
		d.b = d.b[8:]
		st.Type = Type(d.byte())
		st.At, st.Amount = d.varint(), d.varint()
		st.DeclaredCount, st.DeclaredTotal = d.varint(), d.varint()
		if d.err != nil {
			return d.err
		}
		if st.Type == TypeUnknown || st.Type >= numTypes {
			return errRecordEnum
		}
		steps = append(steps, st)
	}
	r.BatchSteps = steps
	return d.end()
}

// recordReader reads from b; after the first error every read returns zero.
type recordReader struct {
	b   []byte
	err error
}

func (d *recordReader) fail(err error) {
	if d.err == nil {
		d.err = err
	}
	d.b = nil
}

func (d *recordReader) byte() byte {
	if len(d.b) == 0 {
		d.fail(errRecordTruncated)
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *recordReader) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		if n == 0 {
			d.fail(errRecordTruncated)
		} else {
			d.fail(errRecordRange)
		}
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *recordReader) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		if n == 0 {
			d.fail(errRecordTruncated)
		} else {
			d.fail(errRecordRange)
		}
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *recordReader) int32() int32 {
	v := d.varint()
	if v < math.MinInt32 || v > math.MaxInt32 {
		d.fail(errRecordRange)
		return 0
	}
	return int32(v)
}

// string reads a length-prefixed string, returning old when the bytes equal
// it (no allocation).
func (d *recordReader) string(old string) string {
	b := d.bytes()
	if string(b) == old {
		return old
	}
	return string(b)
}

// bytes reads a length-prefixed string as a slice of the input.
func (d *recordReader) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.fail(errRecordTruncated)
		return nil
	}
	b := d.b[:n]
	d.b = d.b[n:]
	return b
}

func (d *recordReader) end() error {
	if d.err != nil {
		return d.err
	}
	if len(d.b) != 0 {
		return errRecordTrailing
	}
	return nil
}
