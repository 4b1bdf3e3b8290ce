//go:build integration

package ingest_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"settlemon/pkg/devbroker"
	"settlemon/pkg/event"
	"settlemon/pkg/ingest"
	"settlemon/pkg/kafkaio"
	"settlemon/pkg/store/storetest"
)

const (
	authTopic   = "pos.authorizations"
	eventsTopic = "settle.events"
	dlqTopic    = "settle.dlq"

	// Luhn-valid 16-digit card numbers; neither may ever be stored or sent on.
	visaPAN     = "4111111111111111"
	unionPayPAN = "6222021234567894"
)

func freePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

type tbWriter struct{ tb testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.tb.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// authJSON is a valid approved authorization with field values overridden
// (a nil value removes the field; values are raw JSON).
func authJSON(id string, override map[string]*string) []byte {
	fields := []struct{ k, v string }{
		{"event_id", strconv.Quote(id)},
		{"type", `"authorization"`},
		{"occurred_at", `"2026-09-28T10:15:32+08:00"`},
		{"trace_no", strconv.Quote("6271" + fmt.Sprintf("%08d", len(id)*7919%100000000))},
		{"merchant_id", `"M000123"`},
		{"terminal_id", `"T00871203"`},
		{"response_code", `"00"`},
		{"amount", `"1288.00"`},
		{"currency", `"CNY"`},
		{"mcc", `"5812"`},
		{"card_bin", `"622848"`},
		{"card_last4", `"0427"`},
	}
	var b bytes.Buffer
	b.WriteByte('{')
	n := 0
	add := func(k, v string) {
		if n > 0 {
			b.WriteByte(',')
		}
		n++
		fmt.Fprintf(&b, "%q:%s", k, v)
	}
	for _, f := range fields {
		v := f.v
		if o, ok := override[f.k]; ok {
			if o == nil {
				continue
			}
			v = *o
		}
		add(f.k, v)
	}
	for k, v := range override {
		if v == nil {
			continue
		}
		known := false
		for _, f := range fields {
			known = known || f.k == k
		}
		if !known {
			add(k, *v)
		}
	}
	b.WriteByte('}')
	return b.Bytes()
}

func ptr(s string) *string { return &s }

// TestDeadLettersKeepGoing feeds the auth consumer valid authorizations
// interleaved with one message of every rejected class, and requires each bad
// one to end in the dead-letter table and topic with its reason, no card
// number to be stored or forwarded, every valid one to be archived (those
// after the bad ones too), and the offsets to be committed.
func TestDeadLettersKeepGoing(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	logger := slog.New(slog.NewTextHandler(tbWriter{t}, &slog.HandlerOptions{Level: slog.LevelError}))

	st := storetest.New(t)
	b, err := devbroker.New(devbroker.Config{Port: freePort(t), Partitions: 1}, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	k := kafkaio.DefaultConfig()
	k.Brokers = []string{b.Addr()}
	// One partition: the messages are consumed in the order written, so
	// "valid after bad" means what it says.
	if err := kafkaio.EnsureTopics(ctx, k, []kafkaio.TopicSpec{
		{Name: authTopic, Partitions: 1}, {Name: eventsTopic, Partitions: 3}, {Name: dlqTopic, Partitions: 1},
	}); err != nil {
		t.Fatal(err)
	}

	bad := []struct {
		name   string
		value  []byte
		reason event.Reason
	}{
		{"malformed JSON", []byte(`{"event_id":"bad-1","type":"authorization","amount":`), event.ReasonMalformedJSON},
		{"missing required field", authJSON("bad-2", map[string]*string{"merchant_id": nil}), event.ReasonMissingField},
		{"unknown event type", authJSON("bad-3", map[string]*string{"type": ptr(`"chargeback"`)}), event.ReasonUnknownType},
		{"three fraction digits", authJSON("bad-4", map[string]*string{"amount": ptr(`"12.345"`)}), event.ReasonBadAmount},
		{"negative amount", authJSON("bad-5", map[string]*string{"amount": ptr(`"-5.00"`)}), event.ReasonBadAmount},
		{"occurred_at without offset", authJSON("bad-6", map[string]*string{"occurred_at": ptr(`"2026-09-28T10:15:32"`)}), event.ReasonBadTimestamp},
		{"card number in card_bin", authJSON("bad-7", map[string]*string{"card_bin": ptr(strconv.Quote(visaPAN))}), event.ReasonCardNumber},
		{"card number in an extra field", authJSON("bad-8", map[string]*string{"note": ptr(strconv.Quote("card " + unionPayPAN))}), event.ReasonCardNumber},
	}
	for _, pan := range []string{visaPAN, unionPayPAN} {
		if !luhn(pan) {
			t.Fatalf("test card number %s does not pass the Luhn check", pan)
		}
	}

	// valid, bad, valid, bad, ..., valid, valid: offsets follow the order.
	var msgs []kafka.Message
	badAt := map[int64]int{} // offset → index into bad
	var validIDs []string
	addValid := func() {
		id := fmt.Sprintf("ok-%02d", len(validIDs))
		validIDs = append(validIDs, id)
		msgs = append(msgs, kafka.Message{Key: []byte(id), Value: authJSON(id, nil)})
	}
	for i := range bad {
		addValid()
		badAt[int64(len(msgs))] = i
		msgs = append(msgs, kafka.Message{Key: []byte(fmt.Sprintf("bad-%d", i)), Value: bad[i].value})
	}
	addValid()
	addValid()
	w, err := kafkaio.NewWriter(k, authTopic, kafkaio.WriterConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	cfg := ingest.DefaultConfig().ForSource(event.Auth)
	cfg.Topic, cfg.OutTopic, cfg.DLQTopic, cfg.MaxWait = authTopic, eventsTopic, dlqTopic, 100*time.Millisecond
	in, err := ingest.New(cfg,
		ingest.Deps{Kafka: k, Store: st, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	var runErr error
	finished := make(chan struct{})
	go func() { runErr = in.Run(runCtx); close(finished) }()
	t.Cleanup(func() {
		stop()
		<-finished
	})

	// Consumed and committed: the group's lag drops to zero.
	group := event.Auth.IngestGroup()
	for {
		lag, err := kafkaio.GroupLag(ctx, k, group, authTopic)
		if err == nil && lag[0] == 0 {
			break
		}
		select {
		case <-finished:
			t.Fatalf("ingest stopped before consuming everything: %v", runErr)
		case <-ctx.Done():
			t.Fatalf("waiting for the group to commit everything (lag %v, err %v): %v", lag, err, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
	stop()
	<-finished
	if runErr != nil {
		t.Fatalf("ingest.Run: %v", runErr)
	}

	s := in.Stats()
	if s.Consumed != uint64(len(msgs)) || s.DeadLettered != uint64(len(bad)) || s.Archived != uint64(len(validIDs)) || s.Forwarded != uint64(len(validIDs)) {
		t.Errorf("stats %+v: want %d consumed, %d dead-lettered, %d archived and forwarded", s, len(msgs), len(bad), len(validIDs))
	}

	conn := storetest.Conn(t, st)

	// dead_letters: each bad message at its offset with its reason.
	rows, err := conn.Query(ctx, `SELECT "offset", reason, detail, payload, key FROM dead_letters FINAL WHERE topic = ? ORDER BY "offset"`, authTopic)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int64]bool{}
	for rows.Next() {
		var (
			off                          uint64
			reason, detail, payload, key string
		)
		if err := rows.Scan(&off, &reason, &detail, &payload, &key); err != nil {
			t.Fatal(err)
		}
		i, ok := badAt[int64(off)]
		if !ok {
			t.Errorf("dead letter at offset %d (%s: %s), which held a valid message", off, reason, detail)
			continue
		}
		seen[int64(off)] = true
		c := bad[i]
		if reason != string(c.reason) {
			t.Errorf("%s: dead letter reason %q, want %q (detail %q)", c.name, reason, c.reason, detail)
		}
		if strings.TrimSpace(detail) == "" {
			t.Errorf("%s: dead letter without a detail", c.name)
		}
		if key != string(msgs[off].Key) {
			t.Errorf("%s: dead letter key %q, want %q", c.name, key, msgs[off].Key)
		}
		checkNoPAN(t, c.name+": dead_letters", payload, detail)
		if c.reason == event.ReasonCardNumber {
			checkMasked(t, c.name+": dead_letters.payload", payload)
		} else if payload != string(c.value) {
			t.Errorf("%s: dead letter payload %q, want the original bytes %q", c.name, payload, c.value)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	for off, i := range badAt {
		if !seen[off] {
			t.Errorf("%s (offset %d): not in dead_letters", bad[i].name, off)
		}
	}

	// auth_events: every valid message, the last ones after all bad ones.
	archived := map[string]uint64{}
	rows, err = conn.Query(ctx, `SELECT event_id, "offset", payload FROM auth_events FINAL WHERE topic = ?`, authTopic)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var (
			id, payload string
			off         uint64
		)
		if err := rows.Scan(&id, &off, &payload); err != nil {
			t.Fatal(err)
		}
		archived[id] = off
		checkNoPAN(t, "auth_events", payload)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if len(archived) != len(validIDs) {
		t.Errorf("auth_events holds %d events, want the %d valid ones: %v", len(archived), len(validIDs), archived)
	}
	for _, id := range validIDs {
		if _, ok := archived[id]; !ok {
			t.Errorf("valid authorization %s was not archived", id)
		}
	}
	lastBad := int64(0)
	for off := range badAt {
		lastBad = max(lastBad, off)
	}
	if off, ok := archived[validIDs[len(validIDs)-1]]; !ok || int64(off) <= lastBad {
		t.Errorf("the last valid message (offset %d) was not archived after the last bad one (offset %d): the consumer stopped", off, lastBad)
	}

	// settle.dlq: the masked payloads with their lineage headers.
	dlq := readAll(t, ctx, k, dlqTopic, len(bad))
	for _, m := range dlq {
		h := map[string]string{}
		for _, x := range m.Headers {
			h[x.Key] = string(x.Value)
		}
		if h["source-topic"] != authTopic || h["source-partition"] != "0" {
			t.Errorf("dlq message %q: headers %v, want source-topic %s and source-partition 0", m.Key, h, authTopic)
		}
		off, err := strconv.ParseInt(h["source-offset"], 10, 64)
		i, ok := badAt[off]
		if err != nil || !ok {
			t.Errorf("dlq message %q: source-offset %q is not the offset of a bad message", m.Key, h["source-offset"])
			continue
		}
		c := bad[i]
		if h["reason"] != string(c.reason) {
			t.Errorf("%s: dlq reason header %q, want %q", c.name, h["reason"], c.reason)
		}
		if !bytes.Equal(m.Key, msgs[off].Key) {
			t.Errorf("%s: dlq key %q, want %q", c.name, m.Key, msgs[off].Key)
		}
		var hs []string
		for _, x := range m.Headers {
			hs = append(hs, x.Key+"="+string(x.Value))
		}
		checkNoPAN(t, c.name+": settle.dlq", string(m.Value), strings.Join(hs, " "))
		if c.reason == event.ReasonCardNumber {
			checkMasked(t, c.name+": settle.dlq value", string(m.Value))
		}
	}

	// settle.events carries the valid events only, and no card number.
	fwd := readAll(t, ctx, k, eventsTopic, -1)
	events := 0
	for _, m := range fwd {
		checkNoPAN(t, "settle.events", string(m.Value))
		var rec event.Record
		if err := event.DecodeRecord(m.Value, &rec); err != nil {
			t.Errorf("settle.events offset %d: %v", m.Offset, err)
			continue
		}
		if rec.Kind == event.RecordEvent {
			events++
			if !strings.HasPrefix(rec.Event.ID, "ok-") {
				t.Errorf("settle.events carries event %q, which was dead-lettered", rec.Event.ID)
			}
		}
	}
	if events != len(validIDs) {
		t.Errorf("settle.events carries %d events, want the %d valid ones", events, len(validIDs))
	}
}

func checkNoPAN(tb testing.TB, where string, texts ...string) {
	tb.Helper()
	for _, s := range texts {
		for _, pan := range []string{visaPAN, unionPayPAN} {
			if strings.Contains(s, pan) {
				tb.Errorf("%s contains the card number %s…", where, pan[:6])
			}
		}
	}
}

// checkMasked requires a card number kept as first 6, stars, last 4.
func checkMasked(tb testing.TB, where, s string) {
	tb.Helper()
	for _, pan := range []string{visaPAN, unionPayPAN} {
		if strings.Contains(s, pan[:6]+strings.Repeat("*", len(pan)-10)+pan[len(pan)-4:]) {
			return
		}
	}
	tb.Errorf("%s: no masked card number in %q", where, s)
}

// readAll reads every partition of topic from the start: want messages, or
// whatever is there when want is -1.
func readAll(tb testing.TB, ctx context.Context, k kafkaio.Config, topic string, want int) []kafka.Message {
	tb.Helper()
	offs, err := kafkaio.TopicOffsets(ctx, k, topic)
	if err != nil {
		tb.Fatal(err)
	}
	var out []kafka.Message
	total := 0
	for _, o := range offs {
		total += int(o.End - o.First)
		if o.End <= o.First {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: k.Brokers, Topic: topic, Partition: o.Partition, MaxWait: 100 * time.Millisecond})
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		for off := o.First; off < o.End; off++ {
			m, err := r.ReadMessage(rctx)
			if err != nil {
				cancel()
				r.Close()
				tb.Fatalf("reading %s/%d at %d: %v", topic, o.Partition, off, err)
			}
			out = append(out, m)
		}
		cancel()
		if err := r.Close(); err != nil && !errors.Is(err, context.Canceled) {
			tb.Fatal(err)
		}
	}
	if want >= 0 && total != want {
		tb.Errorf("%s holds %d messages, want %d", topic, total, want)
	}
	return out
}

func luhn(s string) bool {
	sum, double := 0, false
	for i := len(s) - 1; i >= 0; i-- {
		d := int(s[i] - '0')
		if double {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}
