//go:build integration

package allinone_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/segmentio/kafka-go"
	"golang.org/x/text/unicode/norm"

	"settlemon/pkg/event"
	"settlemon/pkg/explain"
	"settlemon/pkg/kafkaio"
	"settlemon/pkg/logtest"
	"settlemon/pkg/pan"
	"settlemon/pkg/service"
	"settlemon/pkg/store/storetest"
)

// A day of traffic far enough in the past that nothing is a future timestamp,
// and a Monday, so that T1 pays the next day.
var cardDay = time.Date(2026, 11, 2, 10, 0, 0, 0, time.FixedZone("CST", 8*3600))

func ts(t time.Time) string { return t.Format(time.RFC3339Nano) }

func profileJSON(id, merchant, mcc string, at time.Time, name string) []byte {
	return fmt.Appendf(nil, `{"event_id":%q,"type":"merchant","occurred_at":%q,"merchant_id":%q,"merchant_name":%q,"registered_mcc":%q,"settlement_mode":"T1","fee_rate":"0.0060","account_ref":"ACCT-%s"}`,
		id, ts(at), merchant, name, mcc, at.Format("0102"))
}

// trace is one authorization, its clearing and its payout, for 100.00 at the
// contracted 0.60% fee.
type trace struct {
	no, merchant, mcc string
	ids               [3]string
	at                time.Time
	extra             string // more JSON members for every event, e.g. `,"created_ms":123`
}

func (tr trace) messages(topics [3]string) []kafka.Message {
	a, c, p := tr.at, tr.at.Add(13*time.Hour), tr.at.Add(25*time.Hour)
	vals := [3][]byte{
		fmt.Appendf(nil, `{"event_id":%q,"type":"authorization","occurred_at":%q,"trace_no":%q,"merchant_id":%q,"terminal_id":"T0001","response_code":"00","amount":"100.00","currency":"CNY","mcc":%q,"card_bin":"622848","card_last4":"0427"%s}`,
			tr.ids[0], ts(a), tr.no, tr.merchant, tr.mcc, tr.extra),
		fmt.Appendf(nil, `{"event_id":%q,"type":"cleared","occurred_at":%q,"trace_no":%q,"merchant_id":%q,"batch_id":"CLR-%s","amount":"100.00","fee":"0.60","mcc":%q,"terminal_id":"T0001","card_bin":"622848","card_last4":"0427","currency":"CNY"%s}`,
			tr.ids[1], ts(c), tr.no, tr.merchant, c.Format("20060102"), tr.mcc, tr.extra),
		fmt.Appendf(nil, `{"event_id":%q,"type":"payout_paid","occurred_at":%q,"trace_no":%q,"merchant_id":%q,"batch_id":"PAY-%s-T1","amount":"99.40","currency":"CNY","account_ref":"ACCT-1"%s}`,
			tr.ids[2], ts(p), tr.no, tr.merchant, p.Format("20060102"), tr.extra),
	}
	out := make([]kafka.Message, 3)
	for i := range out {
		out[i] = kafka.Message{Topic: topics[i], Key: []byte(tr.no), Value: vals[i]}
	}
	return out
}

func (h *harness) eventTopics() [3]string {
	return [3]string{h.topics.Authorizations, h.topics.Clearing, h.topics.Payouts}
}

func publishAll(tb testing.TB, ctx context.Context, k kafkaio.Config, msgs []kafka.Message) {
	tb.Helper()
	pub := kafkaio.NewPublisher(k)
	defer pub.Close()
	if err := pub.Publish(ctx, msgs); err != nil {
		tb.Fatalf("publishing: %v", err)
	}
}

func deadLetters(tb testing.TB, ctx context.Context, h *harness) map[string]int {
	tb.Helper()
	out := map[string]int{}
	for _, row := range snapshot(tb, ctx, storetest.Conn(tb, h.store), "SELECT topic, reason FROM dead_letters FINAL") {
		out[row]++
	}
	return out
}

// TestRejectedProfileChangesNoFact: merchant profiles that ingest
// dead-letters (no key, dated in the future) never reach the joiner's
// profile table, so they raise no mcc_mismatch; an accepted profile does.
func TestRejectedProfileChangesNoFact(t *testing.T) {
	ctx := testCtx(t, 5*time.Minute)
	h := newHarness(t, ctx, storetest.New(t))
	future := time.Now().Add(72 * time.Hour)
	mt := h.topics.Merchants
	profiles := []kafka.Message{
		// M1 is registered as a restaurant; two rejected updates would
		// make it a supermarket.
		{Topic: mt, Key: []byte("M1"), Value: profileJSON("p-1", "M1", "5812", cardDay.AddDate(0, -1, 0), "一号店")},
		{Topic: mt, Value: profileJSON("p-2", "M1", "5411", cardDay.AddDate(0, 0, -1), "一号店")},
		{Topic: mt, Key: []byte("M1"), Value: profileJSON("p-3", "M1", "5411", future, "一号店")},
		// M2 exists only in a rejected profile.
		{Topic: mt, Value: profileJSON("p-4", "M2", "5411", cardDay.AddDate(0, -1, 0), "二号店")},
		// M3's accepted profile disagrees with its clearing: the control.
		{Topic: mt, Key: []byte("M3"), Value: profileJSON("p-5", "M3", "5411", cardDay.AddDate(0, -1, 0), "三号店")},
	}
	publishAll(t, ctx, h.kafka, profiles)
	var msgs []kafka.Message
	for i, m := range []string{"M1", "M2", "M3"} {
		tr := trace{no: "7000000000" + strconv.Itoa(i), merchant: m, mcc: "5812", at: cardDay,
			ids: [3]string{"a-" + m, "c-" + m, "p-" + m}}
		msgs = append(msgs, tr.messages(h.eventTopics())...)
	}
	publishAll(t, ctx, h.kafka, msgs)
	h.consume(t, ctx)

	dead := deadLetters(t, ctx, h)
	for _, want := range []string{mt + " | empty_key", mt + " | future_timestamp"} {
		if dead[want] == 0 {
			t.Errorf("no dead letter %q: %v", want, dead)
		}
	}
	mismatches := map[string]int{}
	for _, a := range readAnomalies(t, ctx, storetest.Conn(t, h.store)) {
		if a.Kind == "mcc_mismatch" {
			mismatches[a.TraceNo]++
		}
	}
	if mismatches["70000000000"] != 0 || mismatches["70000000001"] != 0 {
		t.Errorf("a rejected profile took effect: mcc_mismatch by trace %v", mismatches)
	}
	if mismatches["70000000002"] != 1 {
		t.Errorf("the accepted profile of M3 raised %d mcc_mismatch, want 1 (is the profile table read at all?)", mismatches["70000000002"])
	}
}

// TestNumericIdsAreNotCards: 1,000 traces whose event ids are snowflake
// ids, whose trace numbers are 16-digit numbers outside the issuer ranges
// (about one in ten passes Luhn) and which carry epoch-millisecond fields are
// all joined and paid; none is dead-lettered.
func TestNumericIdsAreNotCards(t *testing.T) {
	ctx := testCtx(t, 10*time.Minute)
	h := newHarness(t, ctx, storetest.New(t))
	publishAll(t, ctx, h.kafka, []kafka.Message{{Topic: h.topics.Merchants, Key: []byte("M1"),
		Value: profileJSON("p-1", "M1", "5812", cardDay.AddDate(0, -1, 0), "一号店")}})
	r := rand.New(rand.NewPCG(3, 5))
	twitterEpoch := time.UnixMilli(1288834974657)
	snowflake := func(at time.Time) string {
		return strconv.FormatInt((at.UnixMilli()-twitterEpoch.UnixMilli())<<22|r.Int64N(1<<22), 10)
	}
	const traces = 1000
	seen := map[string]bool{}
	luhn := 0
	var msgs []kafka.Message
	for len(seen) < traces {
		no := string("1789"[r.IntN(4)]) + fmt.Sprintf("%015d", r.Int64N(1e15))
		if seen[no] {
			continue
		}
		seen[no] = true
		if pan.Luhn([]byte(no)) {
			luhn++
		}
		at := cardDay.Add(time.Duration(r.Int64N(int64(10 * time.Hour))))
		tr := trace{no: no, merchant: "M1", mcc: "5812", at: at,
			ids:   [3]string{snowflake(at), snowflake(at.Add(13 * time.Hour)), snowflake(at.Add(25 * time.Hour))},
			extra: fmt.Sprintf(`,"created_ms":%d,"source_ms":"%d"`, at.UnixMilli(), at.UnixMilli()+int64(r.IntN(1000)))}
		msgs = append(msgs, tr.messages(h.eventTopics())...)
	}
	if luhn < traces/20 {
		t.Fatalf("only %d of the trace numbers pass Luhn: the test would not exercise the issuer ranges", luhn)
	}
	t.Logf("%d of %d trace numbers pass Luhn", luhn, traces)
	publishAll(t, ctx, h.kafka, msgs)
	rep := h.consume(t, ctx)

	if dead := deadLetters(t, ctx, h); len(dead) != 0 {
		t.Errorf("dead letters: %v, want none", dead)
	}
	paid := 0
	for _, l := range readLags(t, ctx, storetest.Conn(t, h.store)) {
		if !seen[l.TraceNo] {
			t.Errorf("unexpected trace %s", l.TraceNo)
			continue
		}
		if l.Status == "paid" {
			paid++
		} else {
			t.Errorf("trace %s is %s, want paid", l.TraceNo, l.Status)
		}
	}
	if paid != traces {
		t.Errorf("%d traces joined and paid, want %d", paid, traces)
	}
	if len(rep.DeadReasons) != 0 || !rep.Balanced() {
		t.Errorf("the report counts dead letters %v (balanced: %v)", rep.DeadReasons, rep.Balanced())
	}
}

// digitsOnly is text as an auditor greps it: NFKC, every decimal digit as
// ASCII, everything else removed.
func digitsOnly(s string) string {
	var b strings.Builder
	for _, r := range norm.NFKC.String(s) {
		if unicode.IsDigit(r) {
			b.WriteByte(byte('0' + digitValue(r)))
		}
	}
	return b.String()
}

func digitValue(r rune) int {
	n := 0 // Unicode decimal digits come in runs of ten from a zero
	for unicode.IsDigit(r - rune(n) - 1) {
		n++
	}
	return n % 10
}

// TestCardNumbersNeverStored sends full card numbers in every spelling, in
// every place a producer could put one, through ingest and the joiner, and
// then searches every column of every table, the pipeline's topics and the
// services' log for them, digits normalised and separators removed.
func TestCardNumbersNeverStored(t *testing.T) {
	ctx := testCtx(t, 5*time.Minute)
	h := newHarness(t, ctx, storetest.New(t))
	logs := &logtest.Buffer{}
	lc := service.LogConfig{Format: "text", Level: "debug"}
	var err error
	if h.log, err = lc.LoggerTo(logs); err != nil {
		t.Fatal(err)
	}

	cards := []string{"6228489911223343", "4111111111111111", "5555555555554444", "378282246310005", "6011111111111117"}
	fullWidth := func(s string) string {
		var b strings.Builder
		for _, c := range s {
			b.WriteRune(0xFF10 + c - '0')
		}
		return b.String()
	}
	grouped := func(s, sep string) string {
		r := []rune(s)
		var parts []string
		for i := 0; i < len(r); i += 4 {
			parts = append(parts, string(r[i:min(i+4, len(r))]))
		}
		return strings.Join(parts, sep)
	}
	spellings := map[string]func(string) string{
		"plain":       func(s string) string { return s },
		"spaces":      func(s string) string { return grouped(s, " ") },
		"dashes":      func(s string) string { return grouped(s, "-") },
		"dots":        func(s string) string { return grouped(s, ".") },
		"full-width":  fullWidth,
		"zero-width":  func(s string) string { return grouped(s, "\u200b") },
		"ideographic": func(s string) string { return grouped(fullWidth(s), "\u3000") },
	}
	mt := h.topics.Merchants
	at := cardDay
	var msgs []kafka.Message
	n := 0
	for name, spell := range spellings {
		for _, card := range cards {
			n++
			id := fmt.Sprintf("%s-%d", name, n)
			s := spell(card)
			tr := trace{no: fmt.Sprintf("8000000%04d", n), merchant: "M1", mcc: "5812", at: at, ids: [3]string{"a" + id, "c" + id, "p" + id}}
			auth := tr.messages(h.eventTopics())[0]
			// In free text of an event.
			withNote := auth
			withNote.Value = bytes.Replace(auth.Value, []byte(`"response_code"`), fmt.Appendf(nil, `"note":%q,"response_code"`, "card "+s), 1)
			// In a merchant profile.
			profile := kafka.Message{Topic: mt, Key: []byte("MX" + strconv.Itoa(n)), Value: profileJSON("mp"+id, "MX"+strconv.Itoa(n), "5812", at, "店 "+s)}
			// As the key of a malformed message, and of a valid one.
			malformed := kafka.Message{Topic: auth.Topic, Key: []byte(s), Value: []byte(`{"event_id":"bad` + id + `","type":`)}
			keyed := auth
			keyed.Key = []byte(s)
			// In a header.
			headed := auth
			headed.Headers = []kafka.Header{{Key: "x-card", Value: []byte(s)}}
			msgs = append(msgs, withNote, profile, malformed, keyed, headed)
		}
	}
	// And clean traffic around it, so that every table has rows.
	publishAll(t, ctx, h.kafka, []kafka.Message{{Topic: mt, Key: []byte("M1"), Value: profileJSON("p-1", "M1", "5812", cardDay.AddDate(0, -1, 0), "一号店")}})
	for i := range 20 {
		tr := trace{no: fmt.Sprintf("9000000%04d", i), merchant: "M1", mcc: "5812", at: at.Add(time.Duration(i) * time.Minute),
			ids: [3]string{fmt.Sprint("ca", i), fmt.Sprint("cc", i), fmt.Sprint("cp", i)}}
		msgs = append(msgs, tr.messages(h.eventTopics())...)
	}
	publishAll(t, ctx, h.kafka, msgs)
	h.consume(t, ctx)

	dead := 0
	for row, c := range deadLetters(t, ctx, h) {
		if strings.HasSuffix(row, " | card_number") {
			dead += c
		} else {
			t.Errorf("dead letter %q ×%d: every message with a card number should be card_number", row, c)
			for _, r := range snapshot(t, ctx, storetest.Conn(t, h.store), "SELECT key, payload, detail FROM dead_letters WHERE reason != 'card_number' LIMIT 3") {
				t.Logf("  %q", r)
			}
		}
	}
	if want := 5 * n; dead != want {
		t.Errorf("%d messages dead-lettered as card_number, want %d", dead, want)
	}

	search := func(where, text string) {
		t.Helper()
		if s, e, ok := pan.Default().Find([]byte(text), 0); ok {
			t.Errorf("%s holds a card number: %q", where, text[s:e])
		}
		d := digitsOnly(text)
		for _, c := range cards {
			if strings.Contains(d, c) {
				t.Errorf("%s holds %s (digits normalised, separators removed)", where, c[:6]+"…")
			}
		}
	}
	conn := storetest.Conn(t, h.store)
	tables := snapshot(t, ctx, conn, "SELECT name FROM system.tables WHERE database = currentDatabase() AND engine NOT LIKE '%View' ORDER BY name")
	rows := 0
	for _, table := range tables {
		for _, row := range snapshot(t, ctx, conn, "SELECT * FROM `"+table+"`") {
			rows++
			search("table "+table, row)
		}
	}
	if rows < 100 {
		t.Fatalf("only %d rows in %d tables: the search would prove nothing", rows, len(tables))
	}
	for _, topic := range []string{"settle.dlq", "settle.events", event.ProfilesTopic} {
		for _, m := range readTopic(t, ctx, h.kafka, topic) {
			search("topic "+topic+" key", string(m.Key))
			search("topic "+topic, string(m.Value))
			for _, hd := range m.Headers {
				search("topic "+topic+" header", hd.Key+"="+string(hd.Value))
			}
		}
	}
	if logs.String() == "" {
		t.Fatal("the services logged nothing")
	}
	for _, line := range strings.Split(logs.String(), "\n") {
		search("log", line)
	}
	t.Logf("searched %d rows of %d tables, three topics and %d bytes of logs for %d card-number messages", rows, len(tables), len(logs.String()), 5*n)
}

// readTopic returns every message of every partition of topic.
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
		if err := r.SetOffset(o.First); err != nil {
			tb.Fatal(err)
		}
		for {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				tb.Fatalf("reading %s/%d: %v", topic, o.Partition, err)
			}
			out = append(out, m)
			if m.Offset+1 >= o.End {
				break
			}
		}
		r.Close()
	}
	return out
}

// TestContractPayoutFailedExample: the contract's own payout_failed example
// (ACCOUNT_NAME_MISMATCH), joined end to end, is a name_mismatch whose
// explanation says to correct the settlement account; a code the catalogue
// lacks is other, flagged unknown, and listed in the report.
func TestContractPayoutFailedExample(t *testing.T) {
	ctx := testCtx(t, 5*time.Minute)
	h := newHarness(t, ctx, storetest.New(t))
	publishAll(t, ctx, h.kafka, []kafka.Message{{Topic: h.topics.Merchants, Key: []byte("M1"),
		Value: profileJSON("p-1", "M1", "5812", cardDay.AddDate(0, -1, 0), "一号店")}})
	var msgs []kafka.Message
	for i, code := range []string{"ACCOUNT_NAME_MISMATCH", "E_NOT_IN_CATALOGUE"} {
		tr := trace{no: fmt.Sprintf("7100000000%d", i), merchant: "M1", mcc: "5812", at: cardDay,
			ids: [3]string{fmt.Sprint("fa", i), fmt.Sprint("fc", i), fmt.Sprint("fp", i)}}
		m := tr.messages(h.eventTopics())
		m[2].Value = fmt.Appendf(nil, `{"event_id":"fp%d","type":"payout_failed","occurred_at":%q,"trace_no":%q,"merchant_id":"M1","batch_id":"PAY-T1","amount":"99.40","reason_code":%q,"reason":"returned by the bank","currency":"CNY"}`,
			i, ts(cardDay.Add(25*time.Hour)), tr.no, code)
		msgs = append(msgs, m...)
	}
	publishAll(t, ctx, h.kafka, msgs)
	rep := h.consume(t, ctx)

	got := snapshot(t, ctx, storetest.Conn(t, h.store), "SELECT trace_no, reason, bank_code, bank_code_unknown FROM anomalies_latest WHERE kind = 'payout_failed' ORDER BY trace_no")
	want := []string{"71000000000 | name_mismatch | ACCOUNT_NAME_MISMATCH | 0", "71000000001 | other | E_NOT_IN_CATALOGUE | 1"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("payout_failed anomalies:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	x, err := explain.New(h.store, testSchedule(t))
	if err != nil {
		t.Fatal(err)
	}
	ex, err := x.Explain(ctx, "71000000000", cardDay.Add(48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ex.Summary, "correct the settlement account") {
		t.Errorf("explain says %q, want it to say to correct the settlement account", ex.Summary)
	}
	if rep.UnknownCodePayouts != 1 || len(rep.UnknownCodes) != 1 || rep.UnknownCodes[0].Code != "E_NOT_IN_CATALOGUE" {
		t.Errorf("report counts %d unknown-code payouts %+v, want 1 of E_NOT_IN_CATALOGUE", rep.UnknownCodePayouts, rep.UnknownCodes)
	}
}
