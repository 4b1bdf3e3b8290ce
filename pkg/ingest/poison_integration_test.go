//go:build integration

package ingest

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"settlemon/pkg/devbroker"
	"settlemon/pkg/event"
	"settlemon/pkg/kafkaio"
	"settlemon/pkg/logtest"
	"settlemon/pkg/store/storetest"
)

func loopbackPort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// fate is what must become of one published message.
type fate struct {
	name      string
	reason    string // dead letter reason, "" when valid
	control   bool   // a heartbeat: recorded in control_events
	forwarded bool   // on settle.events as an event record
	id        string // event id of a valid message
}

var rawTables = [event.NumSources]string{"auth_events", "clearing_events", "payout_events", "merchant_events"}

// TestPoisonCorpusEndToEnd publishes the whole poison corpus, each message
// between valid ones, onto the four source topics (one partition each, so
// "after" means after), runs the four ingest consumers until their groups have
// committed everything, and requires: each poison message in dead_letters and
// on settle.dlq with its specific reason and lineage headers; every valid
// message archived (or, for heartbeats, recorded) and forwarded; the consumers
// never stopped; consumed = archived + control + dead letters per topic, from
// Kafka's offsets and ClickHouse's rows; no card number in any row, message,
// header or log line.
func TestPoisonCorpusEndToEnd(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var logs logtest.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(logs.String())
		}
	})

	st := storetest.New(t)
	b, err := devbroker.New(devbroker.Config{Port: loopbackPort(t), Partitions: 1}, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	k := kafkaio.DefaultConfig()
	k.Brokers = []string{b.Addr()}
	const outTopic, dlqTopic = "settle.events", "settle.dlq"
	specs := []kafkaio.TopicSpec{{Name: outTopic, Partitions: 3}, {Name: dlqTopic, Partitions: 1}, {Name: event.ProfilesTopic, Partitions: 1, Compacted: true}}
	for s := event.Auth; s < event.NumSources; s++ {
		specs = append(specs, kafkaio.TopicSpec{Name: s.DefaultTopic(), Partitions: 1})
	}
	if err := kafkaio.EnsureTopics(ctx, k, specs); err != nil {
		t.Fatal(err)
	}

	// Per source: valid, [original], poison, valid, [original], poison, ...,
	// valid; on auth also an identical re-delivery, on payouts a heartbeat.
	var msgs [event.NumSources][]kafka.Message
	var fates [event.NumSources][]fate
	n := 0
	addValid := func(s event.Source, name string) {
		n++
		id := fmt.Sprintf("valid-%s-%03d", s, n)
		key, value := validFor(s, id, n)
		msgs[s] = append(msgs[s], kafka.Message{Key: key, Value: value})
		fates[s] = append(fates[s], fate{name: name, forwarded: s != event.Merchants, id: id})
	}
	cases := loadPoison(t)
	for s := event.Auth; s < event.NumSources; s++ {
		addValid(s, "first")
	}
	for _, c := range cases {
		if c.Orig != nil {
			msgs[c.Src] = append(msgs[c.Src], kafka.Message{Key: c.MsgKey(), Value: c.Orig})
			ev, err := event.Decode(c.Src, c.Orig)
			if err != nil {
				t.Fatalf("%s: the original does not decode: %v", c.Name, err)
			}
			fates[c.Src] = append(fates[c.Src], fate{name: c.Name + " (original)", forwarded: c.Src != event.Merchants, id: ev.ID})
		}
		msgs[c.Src] = append(msgs[c.Src], kafka.Message{Key: c.MsgKey(), Value: c.Value})
		fates[c.Src] = append(fates[c.Src], fate{name: c.Name, reason: c.Reason})
		addValid(c.Src, "after "+c.Name)
	}
	redelivered := msgs[event.Auth][0]
	msgs[event.Auth] = append(msgs[event.Auth], redelivered)
	fates[event.Auth] = append(fates[event.Auth], fate{name: "identical re-delivery", forwarded: true, id: fates[event.Auth][0].id})
	msgs[event.Payouts] = append(msgs[event.Payouts], kafka.Message{Key: []byte("settlement-engine"),
		Value: []byte(`{"event_id":"hb-1","type":"heartbeat","occurred_at":"2026-09-29T12:00:00Z","producer":"settlement-engine"}`)})
	fates[event.Payouts] = append(fates[event.Payouts], fate{name: "heartbeat", control: true, id: "hb-1"})
	for s := event.Auth; s < event.NumSources; s++ {
		addValid(s, "last")
	}
	poison := 0
	for s := event.Auth; s < event.NumSources; s++ {
		w, err := kafkaio.NewWriter(k, s.DefaultTopic(), kafkaio.WriterConfig{})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.WriteMessages(ctx, msgs[s]...); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		for _, f := range fates[s] {
			if f.reason != "" {
				poison++
			}
		}
	}
	if poison != len(cases) {
		t.Fatalf("published %d poison messages, the corpus has %d", poison, len(cases))
	}

	// The four consumers, with the wall clock.
	runCtx, stop := context.WithCancel(ctx)
	type running struct {
		in   *Ingest
		err  error
		done chan struct{}
	}
	var ins [event.NumSources]*running
	for s := event.Auth; s < event.NumSources; s++ {
		cfg := DefaultConfig().ForSource(s)
		cfg.OutTopic, cfg.DLQTopic, cfg.MaxWait, cfg.MaxBatch = outTopic, dlqTopic, 100*time.Millisecond, 7
		in, err := New(cfg,
			Deps{Kafka: k, Store: st, Logger: logger})
		if err != nil {
			t.Fatal(err)
		}
		r := &running{in: in, done: make(chan struct{})}
		ins[s] = r
		go func() { r.err = in.Run(runCtx); close(r.done) }()
	}
	t.Cleanup(func() {
		stop()
		for _, r := range ins {
			<-r.done
		}
	})
	for s := event.Auth; s < event.NumSources; s++ {
		group := s.IngestGroup()
		for {
			lag, err := kafkaio.GroupLag(ctx, k, group, s.DefaultTopic())
			if err == nil && lag[0] == 0 {
				break
			}
			select {
			case <-ins[s].done:
				t.Fatalf("ingest %s stopped before consuming everything: %v", s, ins[s].err)
			case <-ctx.Done():
				t.Fatalf("waiting for group %s to commit everything (lag %v, err %v)", group, lag, err)
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	stop()
	for s, r := range ins {
		<-r.done
		if r.err != nil {
			t.Errorf("ingest %s: %v", event.Source(s), r.err)
		}
	}

	conn := storetest.Conn(t, st)
	offsets := func(query string, args ...any) map[int64]string {
		t.Helper()
		rows, err := conn.Query(ctx, query, args...)
		if err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		defer rows.Close()
		out := map[int64]string{}
		for rows.Next() {
			var off uint64
			var s string
			if err := rows.Scan(&off, &s); err != nil {
				t.Fatal(err)
			}
			if _, dup := out[int64(off)]; dup {
				t.Errorf("%s: offset %d twice", query, off)
			}
			out[int64(off)] = s
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	noPAN := func(where string, texts ...string) {
		t.Helper()
		for _, s := range texts {
			for _, pan := range poisonPANs {
				if strings.Contains(s, pan) {
					t.Errorf("%s contains the card number %s…", where, pan[:6])
				}
			}
		}
	}

	totalDead, totalValid, totalForwarded := 0, 0, 0
	for s := event.Auth; s < event.NumSources; s++ {
		topic := s.DefaultTopic()
		dead := offsets(`SELECT "offset", concat(reason, '|', detail, '|', payload) FROM dead_letters FINAL WHERE topic = ?`, topic)
		raw := offsets(`SELECT "offset", concat(event_id, '|', payload) FROM `+rawTables[s]+` FINAL WHERE topic = ?`, topic)
		control := offsets(`SELECT "offset", producer FROM control_events FINAL WHERE topic = ?`, topic)
		for off, f := range fates[s] {
			off := int64(off)
			d, isDead := dead[off]
			r, isRaw := raw[off]
			_, isControl := control[off]
			switch {
			case f.reason != "":
				totalDead++
				if !isDead || isRaw || isControl {
					t.Errorf("%s (%s offset %d): dead-lettered %v, archived %v, control %v; want dead-lettered only", f.name, topic, off, isDead, isRaw, isControl)
					continue
				}
				parts := strings.SplitN(d, "|", 3)
				if parts[0] != f.reason || strings.TrimSpace(parts[1]) == "" {
					t.Errorf("%s: dead_letters reason %q detail %q, want reason %q", f.name, parts[0], parts[1], f.reason)
				}
				noPAN(f.name+": dead_letters", d)
			case f.control:
				totalValid++
				if !isControl || isDead || isRaw {
					t.Errorf("%s (%s offset %d): want recorded in control_events only", f.name, topic, off)
				}
			default:
				totalValid++
				if !isRaw || isDead || isControl {
					t.Errorf("%s (%s offset %d): archived %v, dead %q, control %v; want archived only", f.name, topic, off, isRaw, d, isControl)
					continue
				}
				if id, _, _ := strings.Cut(r, "|"); id != f.id {
					t.Errorf("%s: archived event %q at offset %d, want %q", f.name, id, off, f.id)
				}
				noPAN(topic+" archive", r)
			}
			if f.forwarded {
				totalForwarded++
			}
		}
		// Consumed = archived + control + dead letters, by Kafka's offsets.
		tos, err := kafkaio.TopicOffsets(ctx, k, topic)
		if err != nil {
			t.Fatal(err)
		}
		end := tos[0].End
		if end != int64(len(fates[s])) || int64(len(raw)+len(control)+len(dead)) != end {
			t.Errorf("%s: %d messages in Kafka (%d published), ClickHouse holds %d archived + %d control + %d dead letters",
				topic, end, len(fates[s]), len(raw), len(control), len(dead))
		}
		st := ins[s].in.Stats()
		if st.Consumed != uint64(end) || st.Archived+st.Control+st.DeadLettered != st.Consumed || st.Archived != uint64(len(raw)) || st.DeadLettered != uint64(len(dead)) {
			t.Errorf("%s: stats %+v do not reconcile with %d messages, %d archived, %d dead letters", topic, st, end, len(raw), len(dead))
		}
		if last := fates[s][len(fates[s])-1]; last.reason != "" {
			t.Fatalf("%s: the last message must be valid to show the consumer kept going", topic)
		}
	}
	if totalDead != len(cases) {
		t.Errorf("checked %d dead letters, want %d", totalDead, len(cases))
	}

	// settle.dlq: each poison message once, masked, with its lineage and reason.
	dlq := readTopic(t, ctx, k, dlqTopic)
	if len(dlq) != len(cases) {
		t.Errorf("settle.dlq holds %d messages, want %d", len(dlq), len(cases))
	}
	seen := map[string]bool{}
	for _, m := range dlq {
		h := map[string]string{}
		var hs []string
		for _, x := range m.Headers {
			h[x.Key] = string(x.Value)
			hs = append(hs, x.Key+"="+string(x.Value))
		}
		src := -1
		for s := event.Auth; s < event.NumSources; s++ {
			if h["source-topic"] == s.DefaultTopic() {
				src = int(s)
			}
		}
		off, err := strconv.Atoi(h["source-offset"])
		if src < 0 || err != nil || off < 0 || off >= len(fates[src]) || h["source-partition"] != "0" {
			t.Errorf("settle.dlq message with headers %v names no published message", h)
			continue
		}
		f := fates[src][off]
		if f.reason == "" || h["reason"] != f.reason || h["detail"] == "" {
			t.Errorf("%s: settle.dlq reason header %q detail %q, want reason %q", f.name, h["reason"], h["detail"], f.reason)
		}
		if !bytes.Equal(m.Key, msgs[src][off].Key) {
			t.Errorf("%s: settle.dlq key %q, want %q", f.name, m.Key, msgs[src][off].Key)
		}
		if f.reason != string(event.ReasonCardNumber) && !bytes.Equal(m.Value, msgs[src][off].Value) {
			t.Errorf("%s: settle.dlq does not carry the original bytes", f.name)
		}
		id := h["source-topic"] + "/" + h["source-offset"]
		if seen[id] {
			t.Errorf("%s: on settle.dlq twice", f.name)
		}
		seen[id] = true
		noPAN(f.name+": settle.dlq", string(m.Value), strings.Join(hs, " "))
	}

	// settle.events: every valid payment event, nothing else, no card number.
	forwarded := map[string]int{}
	for _, m := range readTopic(t, ctx, k, outTopic) {
		noPAN("settle.events", string(m.Value))
		var rec event.Record
		if err := event.DecodeRecord(m.Value, &rec); err != nil {
			t.Errorf("settle.events: %v", err)
			continue
		}
		if rec.Kind == event.RecordEvent {
			forwarded[fmt.Sprintf("%s/%d", rec.Topic, rec.Offset)]++
		}
	}
	want := 0
	for s := event.Auth; s < event.NumSources; s++ {
		for off, f := range fates[s] {
			key := fmt.Sprintf("%s/%d", s.DefaultTopic(), off)
			if f.forwarded {
				want++
				if forwarded[key] != 1 {
					t.Errorf("%s (%s): forwarded %d times, want once", f.name, key, forwarded[key])
				}
			} else if forwarded[key] != 0 {
				t.Errorf("%s (%s): forwarded, want not", f.name, key)
			}
		}
	}
	if total := sumValues(forwarded); total != want || want != totalForwarded {
		t.Errorf("settle.events carries %d event records, want %d", total, want)
	}
	noPAN("the ingest log", logs.String())
	// Dead letters are logged rate-limited: one in full, the rest counted by
	// reason (by_reason="[… event_id_reused=1 …]").
	for _, reason := range []string{"event_id_reused", "future_timestamp"} {
		if !regexp.MustCompile(`reason=` + reason + `\b|\b` + reason + `=[0-9]`).MatchString(logs.String()) {
			t.Errorf("the log does not report the dead letters of reason %s", reason)
		}
	}
	t.Logf("%d poison messages dead-lettered with their reasons among %d valid ones (%d forwarded)", totalDead, totalValid, want)
}

func sumValues(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// readTopic reads every message of every partition of topic.
func readTopic(tb testing.TB, ctx context.Context, k kafkaio.Config, topic string) []kafka.Message {
	tb.Helper()
	offs, err := kafkaio.TopicOffsets(ctx, k, topic)
	if err != nil {
		tb.Fatal(err)
	}
	var out []kafka.Message
	for _, o := range offs {
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
		r.Close()
	}
	return out
}
