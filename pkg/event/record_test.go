package event

import (
	"bytes"
	"encoding/binary"
	"math"
	"reflect"
	"slices"
	"testing"
)

func fullEvent() Event {
	return Event{
		ID: "5b0f6c2e-8d1a-4f3b-9c6e-2a7d4e1f0b31", Type: Merchant, OccurredAt: 1771900532481,
		TraceNo: "612345678901", MerchantID: "M000123", TerminalID: "T00871203", ResponseCode: "00",
		CardBIN: "622848", CardLast4: "0427", Currency: "CNY", Amount: 128800, Fee: 773, MCC: "5812",
		BatchID: "CLR-20260224-01", DeclaredCount: 18422, DeclaredTotal: 276431055,
		ReasonCode: "ACCOUNT_FROZEN", Reason: "账户冻结", Producer: "pos-switch-01",
		MerchantName: "杭州西湖小笼包餐饮店", RegisteredMCC: "5811", Mode: T0, FeeRatePPM: 6000,
		AccountRef: "ACCT-REF-00123",
	}
}

// TestRecordVersion1 reads a record written before the source watermark was
// added: the field is zero, everything else as written.
func TestRecordVersion1(t *testing.T) {
	in := Record{Kind: RecordEvent, Source: Auth, Event: Event{ID: "e1", Type: Authorization, TraceNo: "612345678901", OccurredAt: 1790000000000, Amount: 128800},
		Topic: "pos.authorizations", Partition: 2, Offset: 9, SourceWatermark: 1790000000000}
	b := AppendRecord(nil, &in)
	// Version 1 is version 2 without the trailing source watermark varint.
	v1 := append([]byte{1}, b[1:len(b)-len(binary.AppendVarint(nil, in.SourceWatermark))]...)
	var out Record
	if err := DecodeRecord(v1, &out); err != nil {
		t.Fatal(err)
	}
	in.SourceWatermark = 0
	if !sameRecord(&out, &in) {
		t.Errorf("version 1 record decoded as %+v, want %+v", out, in)
	}
}

func TestRecordRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		r    Record
	}{
		{"every event field", Record{Kind: RecordEvent, Source: Merchants, Event: fullEvent(),
			Topic: "acq.merchants", Partition: 5, Offset: 123456789, SourceWatermark: 1790000000000}},
		{"minimal event", Record{Kind: RecordEvent, Source: Auth, Event: Event{ID: "e", Type: Heartbeat}}},
		{"extreme integers", Record{Kind: RecordEvent, Source: Payouts,
			Event: Event{ID: "e", Type: PayoutPaid, OccurredAt: math.MinInt64, Amount: math.MaxInt64,
				Fee: -1, DeclaredCount: math.MinInt64, DeclaredTotal: math.MaxInt64, FeeRatePPM: -999999},
			Topic: "acq.payouts", Partition: math.MaxInt32, Offset: math.MaxInt64, SourceWatermark: math.MinInt64}},
		{"negative lineage", Record{Kind: RecordEvent, Source: Clearing, Event: Event{ID: "e", Type: Cleared},
			Partition: math.MinInt32, Offset: -2}},
		{"batch item", Record{Kind: RecordBatchItem, Source: Payouts,
			Event: Event{ID: "po-1", Type: PayoutInitiated, TraceNo: "612345678901", BatchID: "PAY-T1-20261008", Amount: 99400, OccurredAt: 1791424800000},
			Topic: "acq.payouts", Partition: 4, Offset: 77, SourceWatermark: 1791424700000}},
		{"batch digest", Record{Kind: RecordBatchDigest, Source: Clearing, BatchID: "CLR-20261008-01",
			BatchSteps: []BatchStep{
				{ID: IDHash("bo-1"), Type: BatchOpened, At: 1791424000000},
				{ID: IDHash("c-1"), Type: Cleared, At: 1791424800000, Amount: 99400},
				{ID: math.MaxUint64, Type: PayoutPaid, At: math.MinInt64, Amount: math.MaxInt64},
				{ID: 0, Type: BatchClosed, At: 1791425000000, DeclaredCount: 2, DeclaredTotal: math.MinInt64},
			},
			Topic: "acq.clearing", Partition: 1, Offset: 5}},
		{"empty batch digest", Record{Kind: RecordBatchDigest, Source: Payouts, BatchID: "P"}},
		{"watermark", Record{Kind: RecordWatermark, Source: Payouts,
			Watermark: Watermark{Source: Payouts, Partition: 3, Partitions: 6, At: 1771900800000},
			Topic:     "acq.payouts", Partition: 3, Offset: 99}},
		{"watermark extremes", Record{Kind: RecordWatermark, Source: Auth,
			Watermark: Watermark{Source: Merchants, Partition: math.MinInt32, Partitions: math.MaxInt32, At: math.MinInt64}}},
	}
	for _, ex := range loadExamples(t) {
		e, err := Decode(sourceFor(ParseType(ex.name)), ex.data)
		if err != nil {
			t.Fatal(err)
		}
		tests = append(tests, struct {
			name string
			r    Record
		}{"example " + ex.name, Record{Kind: RecordEvent, Source: sourceFor(e.Type), Event: e,
			Topic: sourceFor(e.Type).DefaultTopic(), Partition: 2, Offset: 42}})
	}
	// got is reused across cases, as a consumer reuses it.
	var got Record
	got.Event = fullEvent()
	got.Watermark = Watermark{Source: Clearing, Partition: 1, Partitions: 2, At: 3}
	buf := make([]byte, 0, 512)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buf = AppendRecord(buf[:0], &tt.r)
			if buf[0] != recordVersion {
				t.Errorf("first byte %d, want version %d", buf[0], recordVersion)
			}
			if err := DecodeRecord(buf, &got); err != nil {
				t.Fatalf("DecodeRecord: %v", err)
			}
			if !sameRecord(&got, &tt.r) {
				t.Errorf("round trip\ngot  %+v\nwant %+v", got, tt.r)
			}
			// Appending after a prefix gives the same bytes.
			prefixed := AppendRecord([]byte("xyz"), &tt.r)
			if !bytes.Equal(prefixed[3:], buf) {
				t.Error("AppendRecord depends on dst contents")
			}
			// Every strict prefix is rejected, never misread.
			for i := 0; i < len(buf); i++ {
				var r Record
				if err := DecodeRecord(buf[:i], &r); err == nil {
					t.Fatalf("DecodeRecord accepted a %d-byte prefix of %d", i, len(buf))
				}
			}
			if err := DecodeRecord(append(append([]byte{}, buf...), 0), &got); err == nil {
				t.Error("DecodeRecord accepted trailing bytes")
			}
		})
	}
}

func TestDecodeRecordInvalid(t *testing.T) {
	valid := AppendRecord(nil, &Record{Kind: RecordEvent, Source: Auth, Event: Event{ID: "e", Type: Authorization}})
	mut := func(i int, b byte) []byte {
		out := append([]byte{}, valid...)
		out[i] = b
		return out
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"unknown version", mut(0, 3)},
		{"version zero", mut(0, 0)},
		{"unknown kind", mut(1, 5)},
		{"kind zero", mut(1, 0)},
		{"bad source", mut(2, byte(NumSources))},
		{"bad type", mut(6, byte(numTypes))},
		{"type unknown", mut(6, 0)},
		{"bad mode", mut(7, byte(NumModes))},
		{"mask beyond fields", append(append([]byte{}, valid[:8]...), 0x80, 0x80, 0x04)},
		{"huge string length", []byte{recordVersion, byte(RecordEvent), 0, 0xff, 0xff, 0xff, 0xff, 0x0f}},
		{"varint overflow", []byte{recordVersion, byte(RecordEvent), 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
		{"partition beyond int32", append([]byte{recordVersion, byte(RecordWatermark), 0, 0}, 0x80, 0x80, 0x80, 0x80, 0x10)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r Record
			if err := DecodeRecord(tt.data, &r); err == nil {
				t.Errorf("accepted %x as %+v", tt.data, r)
			}
		})
	}
}

func TestAppendRecordAllocs(t *testing.T) {
	r := Record{Kind: RecordEvent, Source: Merchants, Event: fullEvent(), Topic: "acq.merchants", Partition: 1, Offset: 2}
	buf := make([]byte, 0, 1024)
	if n := testing.AllocsPerRun(100, func() { buf = AppendRecord(buf[:0], &r) }); n != 0 {
		t.Errorf("AppendRecord allocates %v times into a reused buffer", n)
	}
	var got Record
	if err := DecodeRecord(buf, &got); err != nil {
		t.Fatal(err)
	}
	// Decoding the same record again into the same Record reuses its strings.
	if n := testing.AllocsPerRun(100, func() {
		if err := DecodeRecord(buf, &got); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("DecodeRecord of an identical record allocates %v times", n)
	}
}

func FuzzDecode(f *testing.F) {
	for _, ex := range loadExamples(f) {
		f.Add(uint8(sourceFor(ParseType(ex.name))), ex.data)
	}
	f.Add(uint8(Auth), []byte(`{"event_id":"e","type":"authorization","card_bin":"4111111111111111"}`))
	f.Add(uint8(Auth), []byte(`{"x":"\u00341111111111111111"}`))
	buf := make([]byte, 0, 1024)
	f.Fuzz(func(t *testing.T, src uint8, data []byte) {
		e, err := Decode(Source(src), data)
		if err != nil {
			if ReasonOf(err) == "" {
				t.Fatalf("error without a reason: %v", err)
			}
			if _, ok := containsCard([]byte(err.Error())); ok {
				t.Fatalf("error message %q contains a card number", err)
			}
			return
		}
		if _, ok := containsCard(data); ok {
			t.Fatal("accepted a payload with a card number")
		}
		if e.Type == TypeUnknown || e.ID == "" || !Source(src).Allows(e.Type) {
			t.Fatalf("accepted an invalid event %+v", e)
		}
		in := Record{Kind: RecordEvent, Source: Source(src), Event: e, Topic: "t", Partition: 1, Offset: 7}
		buf = AppendRecord(buf[:0], &in)
		var out Record
		if err := DecodeRecord(buf, &out); err != nil {
			t.Fatalf("DecodeRecord of %+v: %v", in, err)
		}
		if !sameRecord(&out, &in) {
			t.Fatalf("round trip\ngot  %+v\nwant %+v", out, in)
		}
	})
}

func FuzzDecodeRecord(f *testing.F) {
	for _, ex := range loadExamples(f) {
		e, err := Decode(sourceFor(ParseType(ex.name)), ex.data)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(AppendRecord(nil, &Record{Kind: RecordEvent, Source: sourceFor(e.Type), Event: e, Topic: "t", Partition: 1, Offset: 2}))
	}
	f.Add(AppendRecord(nil, &Record{Kind: RecordWatermark, Watermark: Watermark{Source: Payouts, Partition: 1, Partitions: 6, At: 1}}))
	f.Add(AppendRecord(nil, &Record{Kind: RecordBatchDigest, Source: Payouts, BatchID: "PAY-1", BatchSteps: []BatchStep{
		{ID: 7, Type: PayoutInitiated, At: 1, Amount: 2}, {ID: 8, Type: BatchClosed, At: 3, DeclaredCount: 1, DeclaredTotal: 2}}}))
	f.Fuzz(func(t *testing.T, data []byte) {
		var r Record
		if err := DecodeRecord(data, &r); err != nil {
			return
		}
		// What decodes re-encodes to a record that decodes to the same value.
		var again Record
		if err := DecodeRecord(AppendRecord(nil, &r), &again); err != nil {
			t.Fatalf("re-encoded record rejected: %v", err)
		}
		if !sameRecord(&again, &r) {
			t.Fatalf("re-encode changed the record\ngot  %+v\nwant %+v", again, r)
		}
	})
}

// sameRecord compares records field by field, the batch steps by value
// (an empty list equals none).
func sameRecord(a, b *Record) bool {
	if !slices.Equal(a.BatchSteps, b.BatchSteps) {
		return false
	}
	x, y := *a, *b
	x.BatchSteps, y.BatchSteps = nil, nil
	return reflect.DeepEqual(x, y)
}

func benchRecord() Record {
	return Record{Kind: RecordEvent, Source: Auth, Topic: "pos.authorizations", Partition: 3, Offset: 123456789,
		Event: Event{ID: "5b0f6c2e-8d1a-4f3b-9c6e-2a7d4e1f0b31", Type: Authorization, OccurredAt: 1771900532481,
			TraceNo: "612345678901", MerchantID: "M000123", TerminalID: "T00871203", ResponseCode: "00",
			CardBIN: "622848", CardLast4: "0427", Currency: "CNY", Amount: 128800, MCC: "5812"}}
}

func BenchmarkAppendRecord(b *testing.B) {
	r := benchRecord()
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendRecord(buf[:0], &r)
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkDecodeRecord(b *testing.B) {
	// Alternate two records so that strings differ and are really decoded.
	r1, r2 := benchRecord(), benchRecord()
	r2.Event.ID, r2.Event.TraceNo, r2.Event.MerchantID = "9e4a1d77-3c2b-4b8e-a0f5-6d1c2b3a4e5f", "612345678902", "M000456"
	bufs := [2][]byte{AppendRecord(nil, &r1), AppendRecord(nil, &r2)}
	var r Record
	b.SetBytes(int64(len(bufs[0])))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := DecodeRecord(bufs[i&1], &r); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
