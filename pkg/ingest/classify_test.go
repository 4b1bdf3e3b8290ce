package ingest

import (
	"bytes"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"settlemon/pkg/event"
	"settlemon/schemas"
)

func example(tb testing.TB, typ string) []byte {
	tb.Helper()
	b, err := fs.ReadFile(schemas.Events, "events/examples/"+typ+".json")
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func newTestIngest(src event.Source) *Ingest {
	cfg := DefaultConfig().ForSource(src)
	return &Ingest{cfg: cfg, log: slog.New(slog.DiscardHandler), wm: map[int]int64{}, sentWM: map[int]int64{}, pos: newPositions()}
}

func TestClassify(t *testing.T) {
	declined := bytes.Replace(example(t, "authorization"), []byte(`"response_code": "00"`), []byte(`"response_code": "51"`), 1)
	if bytes.Equal(declined, example(t, "authorization")) {
		declined = bytes.Replace(example(t, "authorization"), []byte(`"response_code":"00"`), []byte(`"response_code":"51"`), 1)
	}
	pan := bytes.Replace(example(t, "authorization"), []byte(`{`), []byte(`{"note":"4111111111111111",`), 1)
	tests := []struct {
		name                                   string
		src                                    event.Source
		value                                  []byte
		archived, forwarded, control, dead, dc int
		reason                                 string
	}{
		{name: "approved authorization is archived and forwarded", src: event.Auth, value: example(t, "authorization"), archived: 1, forwarded: 1},
		{name: "declined authorization is archived, not joined", src: event.Auth, value: declined, archived: 1, dc: 1},
		{name: "heartbeat is control", src: event.Payouts, value: example(t, "heartbeat"), control: 1},
		{name: "cleared is forwarded by trace, and in its batch's digest for batch tracking", src: event.Clearing, value: example(t, "cleared"), archived: 1, forwarded: 2},
		{name: "batch control is archived and forwarded in its batch's digest", src: event.Payouts, value: example(t, "batch_closed"), archived: 1, forwarded: 1},
		{name: "merchant profile is archived and forwarded to the profiles topic", src: event.Merchants, value: example(t, "merchant"), archived: 1, forwarded: 1},
		{name: "malformed JSON is dead-lettered", src: event.Auth, value: []byte(`{"event_id":`), dead: 1, reason: "malformed_json"},
		{name: "event on the wrong topic is dead-lettered", src: event.Auth, value: example(t, "cleared"), dead: 1, reason: "type_not_on_topic"},
		{name: "card number is dead-lettered and masked", src: event.Auth, value: pan, dead: 1, reason: "card_number"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := newTestIngest(tc.src)
			b := &batch{last: map[int]kafka.Message{}}
			m := kafka.Message{Topic: in.cfg.Topic, Partition: 2, Offset: 41, Key: []byte("k"), Value: tc.value, Time: time.Unix(1790000000, 0)}
			in.classify(b, &m)
			b.appendDigests(tc.src)
			s := in.Stats()
			if len(b.raw) != tc.archived || len(b.out) != tc.forwarded || len(b.controls) != tc.control || len(b.dead) != tc.dead || int(s.Declined) != tc.dc {
				t.Fatalf("raw=%d out=%d control=%d dead=%d declined=%d, want %d %d %d %d %d",
					len(b.raw), len(b.out), len(b.controls), len(b.dead), s.Declined, tc.archived, tc.forwarded, tc.control, tc.dead, tc.dc)
			}
			if tc.src == event.Merchants && len(b.out) == 1 && (string(b.out[0].Key) != "M000123" || !bytes.Equal(b.out[0].Value, tc.value)) {
				t.Errorf("the profile is forwarded as %q → %q, want keyed by merchant_id with the bytes as read", b.out[0].Key, b.out[0].Value)
			}
			if s.Consumed != 1 || s.Archived+s.Control+s.DeadLettered != 1 {
				t.Errorf("every message must have exactly one fate: %+v", s)
			}
			if b.last[2].Offset != 41 {
				t.Errorf("the offset to commit was not recorded")
			}
			for _, r := range b.raw {
				if r.Topic != in.cfg.Topic || r.Partition != 2 || r.Offset != 41 {
					t.Errorf("lineage lost: %+v", r)
				}
			}
			for _, o := range b.out {
				if tc.src == event.Merchants {
					break // profiles go on as JSON, checked above
				}
				var rec event.Record
				if err := event.DecodeRecord(o.Value, &rec); err != nil {
					t.Fatal(err)
				}
				switch {
				case rec.Offset != 41:
					t.Errorf("forwarded record %+v lost its lineage", rec)
				case rec.Kind == event.RecordEvent && string(o.Key) != rec.Event.Key(),
					rec.Kind == event.RecordBatchDigest && (string(o.Key) != rec.BatchID || len(rec.BatchSteps) != 1),
					rec.Kind != event.RecordEvent && rec.Kind != event.RecordBatchDigest:
					t.Errorf("forwarded %s record keyed %q: %+v", rec.Kind, o.Key, rec)
				}
			}
			if tc.dead == 1 {
				d := b.dead[0]
				if d.Reason != tc.reason || d.Detail == "" {
					t.Errorf("dead letter reason %q detail %q, want reason %q", d.Reason, d.Detail, tc.reason)
				}
				if strings.Contains(string(d.Payload), "4111111111111111") || strings.Contains(d.Detail, "4111111111111111") ||
					strings.Contains(string(b.dlq[0].Value), "4111111111111111") {
					t.Error("the card number leaked into the dead letter")
				}
				hdr := map[string]string{}
				for _, h := range b.dlq[0].Headers {
					hdr[h.Key] = string(h.Value)
				}
				if hdr["reason"] != tc.reason || hdr["source-offset"] != "41" || hdr["source-partition"] != "2" || hdr["source-topic"] != in.cfg.Topic {
					t.Errorf("dlq headers %v", hdr)
				}
			}
		})
	}
}

func TestWatermarkIsHighestEventTimePerPartition(t *testing.T) {
	in := newTestIngest(event.Payouts)
	b := &batch{last: map[int]kafka.Message{}}
	hb := example(t, "heartbeat")
	ev, err := event.Decode(event.Payouts, hb)
	if err != nil {
		t.Fatal(err)
	}
	in.classify(b, &kafka.Message{Partition: 0, Key: []byte("payout-feed"), Value: hb})
	in.classify(b, &kafka.Message{Partition: 0, Offset: 1, Key: []byte("payout-feed"), Value: []byte("garbage")}) // bad input moves nothing
	if in.wm[0] != ev.OccurredAt || len(in.wm) != 1 {
		t.Errorf("watermarks %v, want partition 0 at %d only", in.wm, ev.OccurredAt)
	}
}

// TestClassifyAfterRewind: when the group re-delivers a partition from its
// committed offset, a re-read event's source watermark is what preceded it,
// not what was read past it before the rewind (that made a re-read event
// whose first copy was lost look late).
func TestClassifyAfterRewind(t *testing.T) {
	in := newTestIngest(event.Auth)
	base := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	msg := func(off int64) kafka.Message {
		at := base.Add(time.Duration(off) * 2 * time.Hour)
		v := fmt.Appendf(nil, `{"event_id":"e%d","type":"authorization","occurred_at":%q,"trace_no":"t%d","merchant_id":"M1","terminal_id":"T1","response_code":"00","amount":"1.00","currency":"CNY","mcc":"5812","card_bin":"622848","card_last4":"0427"}`,
			off, at.Format(time.RFC3339), off)
		return kafka.Message{Topic: in.cfg.Topic, Partition: 0, Offset: off, Key: []byte("k"), Value: v, Time: at}
	}
	read := func(offsets ...int64) map[int64]int64 {
		msgs := make([]kafka.Message, len(offsets))
		for i, o := range offsets {
			msgs[i] = msg(o)
		}
		got := map[int64]int64{}
		for _, o := range in.classifyAll(msgs).out {
			var rec event.Record
			if err := event.DecodeRecord(o.Value, &rec); err != nil {
				t.Fatal(err)
			}
			got[rec.Offset] = rec.SourceWatermark
		}
		return got
	}
	first := read(0, 1)
	read(2, 3, 4) // read, then the group rewinds to its commit after offset 1
	again := read(2, 3, 4, 5)
	if first[1] != base.UnixMilli() {
		t.Fatalf("offset 1 carries watermark %d, want the time of offset 0", first[1])
	}
	for off, wm := range again {
		if want := base.Add(time.Duration(off-1) * 2 * time.Hour).UnixMilli(); wm != want {
			t.Errorf("re-read offset %d carries watermark %d, want %d (the time of offset %d)", off, wm, want, off-1)
		}
	}
}
