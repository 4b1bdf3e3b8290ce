package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"settlemon/pkg/event"
)

// poisonCase is one entry of testdata/poison/corpus.json.
type poisonCase struct {
	File     string  `json:"file"`
	Source   string  `json:"source"`
	Reason   string  `json:"reason"`
	Why      string  `json:"why"`
	Key      *string `json:"key"`      // nil: a non-empty default key
	Original string  `json:"original"` // a valid message to publish just before, or ""

	Name  string       `json:"-"`
	Src   event.Source `json:"-"`
	Value []byte       `json:"-"`
	Orig  []byte       `json:"-"`
}

// MsgKey is the Kafka key to publish the case with.
func (c *poisonCase) MsgKey() []byte {
	if c.Key != nil {
		return []byte(*c.Key)
	}
	return []byte("poison-" + c.Name)
}

// poisonPANs are the Luhn-valid card numbers the corpus carries; none may
// ever be stored, logged or sent on in clear.
var poisonPANs = []string{"4111111111111111", "6222021234567894"}

// poisonNow is the clock of the unit tests: after the corpus's dates, before
// its far-future ones.
var poisonNow = time.Date(2026, time.November, 23, 9, 0, 0, 0, time.UTC)

func loadPoison(tb testing.TB) []poisonCase {
	tb.Helper()
	dir := filepath.Join("testdata", "poison")
	data, err := os.ReadFile(filepath.Join(dir, "corpus.json"))
	if err != nil {
		tb.Fatal(err)
	}
	var c struct {
		Cases []poisonCase `json:"cases"`
	}
	if err := json.Unmarshal(data, &c); err != nil {
		tb.Fatalf("corpus.json: %v", err)
	}
	files := map[string]bool{"corpus.json": true}
	for i := range c.Cases {
		pc := &c.Cases[i]
		pc.Name = strings.TrimSuffix(pc.File, ".json")
		if pc.Src, err = event.ParseSource(pc.Source); err != nil {
			tb.Fatalf("%s: %v", pc.File, err)
		}
		if pc.Value, err = os.ReadFile(filepath.Join(dir, pc.File)); err != nil {
			tb.Fatal(err)
		}
		files[pc.File] = true
		if pc.Original != "" {
			if pc.Orig, err = os.ReadFile(filepath.Join(dir, pc.Original)); err != nil {
				tb.Fatal(err)
			}
			files[pc.Original] = true
		}
	}
	all, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	for _, f := range all {
		if !files[f.Name()] {
			tb.Errorf("testdata/poison/%s is not listed in corpus.json", f.Name())
		}
	}
	return c.Cases
}

// knownReasons are the reasons a dead letter may carry.
var knownReasons = map[event.Reason]bool{
	event.ReasonMalformedJSON: true, event.ReasonMissingField: true, event.ReasonUnknownType: true, event.ReasonTypeNotAllowed: true,
	event.ReasonBadAmount: true, event.ReasonBadTimestamp: true, event.ReasonCardNumber: true, event.ReasonBadField: true,
	event.ReasonInvalidUTF8: true, event.ReasonTooLarge: true, event.ReasonFutureTimestamp: true, event.ReasonEmptyKey: true,
	event.ReasonEventIDReused: true,
}

func TestPoisonCorpusShape(t *testing.T) {
	cases := loadPoison(t)
	if len(cases) < 20 {
		t.Errorf("the corpus has %d messages, want at least 20", len(cases))
	}
	byReason := map[string]int{}
	for _, c := range cases {
		byReason[c.Reason]++
		if !knownReasons[event.Reason(c.Reason)] {
			t.Errorf("%s: unknown reason %q", c.Name, c.Reason)
		}
		if strings.TrimSpace(c.Why) == "" {
			t.Errorf("%s: no explanation", c.Name)
		}
	}
	for r := range knownReasons {
		if byReason[string(r)] == 0 {
			t.Errorf("no corpus message for reason %s", r)
		}
	}
	for _, c := range cases {
		if c.Name == "too_large" && len(c.Value) <= event.MaxSize {
			t.Errorf("too_large is %d bytes, not over event.MaxSize %d", len(c.Value), event.MaxSize)
		}
	}
}

// TestPoisonCorpus runs every corpus message through the consumer's
// classification, each preceded by a valid message (and its original, when it
// has one), and requires the specific reason, a human detail, lineage headers
// and no card number anywhere: not in the dead letter, the DLQ message, its
// headers, nor the log.
func TestPoisonCorpus(t *testing.T) {
	for _, c := range loadPoison(t) {
		t.Run(c.Name, func(t *testing.T) {
			var logs bytes.Buffer
			cfg := DefaultConfig().ForSource(c.Src)
			in := &Ingest{cfg: cfg, deps: Deps{Now: func() time.Time { return poisonNow }}, pos: newPositions(),
				log: slog.New(slog.NewTextHandler(&logs, nil)), wm: map[int]int64{}, sentWM: map[int]int64{},
				ids: newIDMemory(cfg.EventIDMemory)}
			b := &batch{last: map[int]kafka.Message{}}
			off := int64(0)
			feed := func(key, value []byte) {
				in.classify(b, &kafka.Message{Topic: cfg.Topic, Partition: 0, Offset: off, Key: key, Value: value, Time: poisonNow})
				off++
			}
			valid := 0
			if c.Orig != nil {
				feed(c.MsgKey(), c.Orig)
				valid++
			}
			feed(c.MsgKey(), c.Value)
			if len(b.dead) != 1 || len(b.dlq) != 1 {
				t.Fatalf("%d dead letters and %d DLQ messages, want 1 each (%s)", len(b.dead), len(b.dlq), c.Why)
			}
			if valid > 0 && len(b.raw)+len(b.controls) != valid {
				t.Fatalf("the original was not accepted: %s: %s", b.dead[0].Reason, b.dead[0].Detail)
			}
			d := b.dead[0]
			if d.Reason != c.Reason {
				t.Errorf("reason %q (%s), want %q: %s", d.Reason, d.Detail, c.Reason, c.Why)
			}
			if strings.TrimSpace(d.Detail) == "" || d.Offset != off-1 || !bytes.Equal(d.Key, c.MsgKey()) {
				t.Errorf("dead letter %+v: want a detail, offset %d and key %q", d, off-1, c.MsgKey())
			}
			hdr := map[string]string{}
			var hs []string
			for _, h := range b.dlq[0].Headers {
				hdr[h.Key] = string(h.Value)
				hs = append(hs, string(h.Value))
			}
			if hdr["reason"] != c.Reason || hdr["detail"] != d.Detail || hdr["source-topic"] != cfg.Topic || hdr["source-partition"] != "0" {
				t.Errorf("DLQ headers %v", hdr)
			}
			for _, s := range []string{string(d.Payload), d.Detail, string(b.dlq[0].Value), strings.Join(hs, " "), logs.String()} {
				for _, pan := range poisonPANs {
					if strings.Contains(s, pan) {
						t.Errorf("card number %s… leaked: %.200q", pan[:6], s)
					}
				}
			}
			if c.Reason == string(event.ReasonCardNumber) && bytes.Equal(d.Payload, c.Value) {
				t.Error("a card-number payload was stored unmasked")
			}
			if c.Reason != string(event.ReasonCardNumber) && !bytes.Equal(d.Payload, c.Value) {
				t.Error("the dead letter does not keep the original bytes")
			}
			// The consumer goes on: a valid message after the poison is accepted.
			before := len(b.raw)
			key, value := validFor(c.Src, "after-"+c.Name, 1)
			feed(key, value)
			if len(b.raw) != before+1 {
				last := b.dead[len(b.dead)-1]
				t.Errorf("a valid message after the poison was not archived: %s: %s", last.Reason, last.Detail)
			}
			s := in.Stats()
			if s.Consumed != uint64(off) || s.Archived+s.Control+s.DeadLettered != s.Consumed {
				t.Errorf("counts do not reconcile: %+v", s)
			}
		})
	}
}

// validFor returns a valid message of source src with event id id and its
// Kafka key; n (0..999) varies its trace number and amount.
func validFor(src event.Source, id string, n int) (key, value []byte) {
	trace := fmt.Sprintf("6271000%05d", n)
	amount := fmt.Sprintf("%d.%02d", 100+n, n%100)
	var v string
	switch src {
	case event.Auth:
		v = `{"event_id":"` + id + `","type":"authorization","occurred_at":"2026-09-28T10:15:32+08:00","trace_no":"` + trace + `",` +
			`"merchant_id":"M000123","terminal_id":"T00871203","response_code":"00","amount":"` + amount + `","currency":"CNY","mcc":"5812",` +
			`"card_bin":"622848","card_last4":"0427"}`
	case event.Clearing:
		v = `{"event_id":"` + id + `","type":"cleared","occurred_at":"2026-09-29T02:10:00+08:00","trace_no":"` + trace + `",` +
			`"merchant_id":"M000123","batch_id":"CLR-20260929-01","amount":"` + amount + `","fee":"0.60","mcc":"5812"}`
	case event.Payouts:
		v = `{"event_id":"` + id + `","type":"payout_paid","occurred_at":"2026-09-29T11:32:18+08:00","trace_no":"` + trace + `",` +
			`"merchant_id":"M000123","batch_id":"PAY-20260929-T1-01","amount":"` + amount + `","currency":"CNY"}`
	case event.Merchants:
		trace = fmt.Sprintf("M%06d", n)
		v = `{"event_id":"` + id + `","type":"merchant","occurred_at":"2026-09-27T00:00:00+08:00","merchant_id":"` + trace + `",` +
			`"registered_mcc":"5812","settlement_mode":"T1","fee_rate":"0.0060"}`
	}
	return []byte(trace), []byte(v)
}

// validAuth is a valid approved authorization with event id id.
func validAuth(id string) []byte {
	return []byte(`{"event_id":"` + id + `","type":"authorization","occurred_at":"2026-09-28T10:15:32+08:00","trace_no":"627100000001",` +
		`"merchant_id":"M000123","terminal_id":"T00871203","response_code":"00","amount":"1288.00","currency":"CNY","mcc":"5812",` +
		`"card_bin":"622848","card_last4":"0427"}`)
}

func TestIngestChecks(t *testing.T) {
	auth := validAuth("ev-1")
	other := bytes.Replace(auth, []byte(`"1288.00"`), []byte(`"1289.00"`), 1)
	future := bytes.Replace(validAuth("ev-2"), []byte("2026-09-28T10:15:32+08:00"), []byte("2026-11-25T09:00:01Z"), 1)
	soon := bytes.Replace(validAuth("ev-3"), []byte("2026-09-28T10:15:32+08:00"), []byte("2026-11-24T08:59:59Z"), 1)
	old := bytes.Replace(validAuth("ev-4"), []byte("2026-09-28T10:15:32+08:00"), []byte("2001-01-01T00:00:00Z"), 1)
	type msg struct {
		key, value []byte
		reason     event.Reason // "" accepted
	}
	k := []byte("627100000001")
	tests := []struct {
		name string
		cfg  func(*Config)
		msgs []msg
	}{
		{"identical bytes again are a re-delivery", nil, []msg{{k, auth, ""}, {k, auth, ""}, {k, auth, ""}}},
		{"same id, other content", nil, []msg{{k, auth, ""}, {k, other, event.ReasonEventIDReused}, {k, auth, ""}}},
		{"the first seen wins", nil, []msg{{k, other, ""}, {k, auth, event.ReasonEventIDReused}}},
		{"a rejected message is not remembered", nil, []msg{{nil, other, event.ReasonEmptyKey}, {k, auth, ""}}},
		{"memory disabled", func(c *Config) { c.EventIDMemory = -1 }, []msg{{k, auth, ""}, {k, other, ""}}},
		{"empty key", nil, []msg{{[]byte{}, auth, event.ReasonEmptyKey}, {nil, auth, event.ReasonEmptyKey}}},
		{"more than a day ahead", nil, []msg{{k, future, event.ReasonFutureTimestamp}, {k, soon, ""}, {k, old, ""}}},
		{"skew limit configurable", func(c *Config) { c.MaxFutureSkew = time.Hour }, []msg{{k, soon, event.ReasonFutureTimestamp}}},
		{"skew check disabled", func(c *Config) { c.MaxFutureSkew = -1 }, []msg{{k, future, ""}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig().ForSource(event.Auth)
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			in := &Ingest{cfg: cfg, deps: Deps{Now: func() time.Time { return poisonNow }}, pos: newPositions(), log: slog.New(slog.DiscardHandler),
				wm: map[int]int64{}, sentWM: map[int]int64{}, ids: newIDMemory(cfg.EventIDMemory)}
			for i, m := range tc.msgs {
				b := &batch{last: map[int]kafka.Message{}}
				in.classify(b, &kafka.Message{Offset: int64(i), Key: m.key, Value: m.value})
				got := event.Reason("")
				if len(b.dead) > 0 {
					got = event.Reason(b.dead[0].Reason)
				}
				if got != m.reason {
					t.Errorf("message %d: reason %q, want %q", i, got, m.reason)
				}
			}
		})
	}
}

func TestIDMemory(t *testing.T) {
	m := newIDMemory(3)
	p := func(s string) []byte { return []byte(s) }
	steps := []struct {
		id, payload string
		reused      bool
		size        int
	}{
		{"a", "1", false, 1},
		{"a", "1", false, 1}, // re-delivery
		{"a", "2", true, 1},  // reuse
		{"b", "1", false, 2},
		{"c", "1", false, 3},
		{"d", "1", false, 3}, // evicts a
		{"a", "2", false, 3}, // forgotten: passes, evicts b
		{"c", "9", true, 3},  // still remembered
		{"b", "9", false, 3}, // evicted by a
		{"d", "2", true, 3},
	}
	for i, s := range steps {
		if got := m.check(s.id, p(s.payload)); got != s.reused || m.len() != s.size {
			t.Fatalf("step %d check(%q, %q) = %v with %d ids, want %v with %d", i, s.id, s.payload, got, m.len(), s.reused, s.size)
		}
	}
	var off *idMemory = newIDMemory(0)
	if off != nil || off.check("a", p("1")) || off.check("a", p("2")) || off.len() != 0 {
		t.Error("a zero-capacity memory must remember nothing")
	}
}

// TestIDMemoryFootprint measures the heap the event-id memory holds at its
// default capacity, and bounds it: the number quoted in Config and README.
func TestIDMemoryFootprint(t *testing.T) {
	if testing.Short() {
		t.Skip("fills a million ids")
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	m := newIDMemory(DefaultEventIDMemory)
	payload := validAuth("x")
	id := make([]byte, 0, 16)
	for i := range DefaultEventIDMemory + DefaultEventIDMemory/2 { // full, then evicting
		id = strconv.AppendInt(id[:0], int64(i), 36)
		payload[len(payload)-2] = byte(i)
		if m.check(string(id), payload) {
			t.Fatalf("id %d reported reused", i)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	heap := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	perID := float64(heap) / float64(m.len())
	t.Logf("event-id memory: %d ids hold %.1f MiB of heap, %.1f bytes per id", m.len(), float64(heap)/(1<<20), perID)
	if m.len() != DefaultEventIDMemory {
		t.Errorf("%d ids remembered, want the capacity %d", m.len(), DefaultEventIDMemory)
	}
	if heap > 64<<20 {
		t.Errorf("the event-id memory holds %d MiB at %d ids, want under 64 MiB", heap>>20, m.len())
	}
	runtime.KeepAlive(m)
}

// refIDMemory is the event-id memory as a Go map: the model the table must
// agree with.
type refIDMemory struct {
	capacity int
	seen     map[string]string
	ring     []string
	next     int
}

func (m *refIDMemory) check(id, payload string) bool {
	if prev, ok := m.seen[id]; ok {
		return prev != payload
	}
	if len(m.ring) < m.capacity {
		m.ring = append(m.ring, id)
	} else {
		delete(m.seen, m.ring[m.next])
		m.ring[m.next] = id
		m.next = (m.next + 1) % m.capacity
	}
	m.seen[id] = payload
	return false
}

// TestIDMemoryMatchesMap drives the table and the map model with the same
// random ids, re-deliveries and reuses, at loads where probe runs are long
// and evictions shift entries back, and requires the same answers and sizes
// at every step and every remembered id still found at the end.
func TestIDMemoryMatchesMap(t *testing.T) {
	for _, tt := range []struct{ capacity, ids int }{{1, 4}, {7, 20}, {500, 2000}, {511, 600}, {3000, 10000}} {
		t.Run(strconv.Itoa(tt.capacity), func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(tt.capacity), 7))
			m := newIDMemory(tt.capacity)
			ref := &refIDMemory{capacity: tt.capacity, seen: map[string]string{}}
			for step := range 200_000 {
				id, payload := strconv.Itoa(r.IntN(tt.ids)), strconv.Itoa(r.IntN(2))
				want := ref.check(id, payload)
				if got := m.check(id, []byte(payload)); got != want || m.len() != len(ref.seen) {
					t.Fatalf("step %d check(%s, %s) = %v with %d ids, want %v with %d", step, id, payload, got, m.len(), want, len(ref.seen))
				}
			}
			for id := range ref.seen {
				if _, ok := m.find(idHash(id)); !ok {
					t.Fatalf("id %s remembered by the model is not found in the table", id)
				}
			}
			if 2*m.len() > len(m.slots) {
				t.Errorf("table of %d slots holds %d ids: more than half full", len(m.slots), m.len())
			}
		})
	}
}
