package simulator

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"settlemon/pkg/calendar"
	"settlemon/pkg/event"
	"settlemon/pkg/fact"
)

// checkBatchFaults checks the batch faults of a run against its messages:
// a stalled batch really pauses for StallFor after half of its records while
// heartbeats go on, closes with exact declared counts and is paid on time; an
// incomplete batch declares one record more than it sent, for exactly the
// amount of the missing record, whose trace is still paid on time. It
// returns the number of faults of each kind.
func checkBatchFaults(tb testing.TB, res *result, evs []event.Event, rt RunTruth) (stalled, incomplete int) {
	tb.Helper()
	cfg := res.cfg
	sched, err := calendar.NewSchedule(cfg.Schedule, testCalendar(tb))
	if err != nil {
		tb.Fatal(err)
	}
	if !reflect.DeepEqual(rt.Batches, res.stats.Batches) {
		tb.Fatalf("truth batch lines %+v, stats %+v", rt.Batches, res.stats.Batches)
	}
	traces := map[string]*Truth{}
	missing := map[string][]*Truth{} // batch: traces whose payout_initiated was left out
	for i := range rt.Traces {
		tr := &rt.Traces[i]
		traces[tr.TraceNo] = tr
		if tr.InitiatedMissing {
			missing[tr.PayoutBatchID] = append(missing[tr.PayoutBatchID], tr)
		}
	}
	// onTime reports whether tr was paid before its payout deadline.
	onTime := func(tr *Truth) bool {
		mode, err := event.ParseMode(tr.Mode)
		if err != nil {
			tb.Fatalf("trace %s: mode %q", tr.TraceNo, tr.Mode)
		}
		dl := sched.PayoutDeadline(mode, tr.AuthorizedAt)
		return dl.At == tr.ExpectedPayoutAt && tr.PaidAt != 0 && tr.PaidAt < dl.At
	}

	seen := map[string]bool{}
	for _, bt := range rt.Batches {
		if seen[bt.BatchID] {
			tb.Fatalf("batch %s has two faults", bt.BatchID)
		}
		seen[bt.BatchID] = true
		if bt.Source != "payouts" || !(strings.HasPrefix(bt.BatchID, "PAY-T1-") || strings.HasPrefix(bt.BatchID, "PAY-D1-")) {
			tb.Fatalf("batch fault %+v: want a T1 or D1 payout batch", bt)
		}
		// The batch's messages, in stream order.
		var progress []int // batch_opened, payout_initiated, batch_closed
		var named []int    // every message naming the batch
		var count, total int64
		var closed *event.Event
		for i := range evs {
			e := &evs[i]
			if e.BatchID != bt.BatchID {
				continue
			}
			named = append(named, i)
			switch e.Type {
			case event.PayoutInitiated:
				count++
				total += e.Amount
				progress = append(progress, i)
			case event.BatchOpened:
				progress = append(progress, i)
			case event.BatchClosed:
				progress = append(progress, i)
				closed = e
			}
		}
		if closed == nil || evs[progress[0]].Type != event.BatchOpened || evs[progress[len(progress)-1]].Type != event.BatchClosed {
			tb.Fatalf("batch %s does not open and close", bt.BatchID)
		}

		switch bt.Kind {
		case fact.BatchStalled:
			stalled++
			if bt.DeclaredCount != 0 || bt.SeenCount != 0 {
				tb.Errorf("stalled batch line %+v carries counts", bt)
			}
			if closed.DeclaredCount != count || closed.DeclaredTotal != total || count < minBatchItems {
				tb.Errorf("stalled batch %s declares %d / %d fen, sent %d / %d fen", bt.BatchID, closed.DeclaredCount, closed.DeclaredTotal, count, total)
			}
			// Exactly one gap of at least StallFor between progress events:
			// from StalledFrom to ResumedAt, after half of the records.
			gaps := 0
			for k := 1; k < len(progress); k++ {
				from, to := evs[progress[k-1]].OccurredAt, evs[progress[k]].OccurredAt
				if to-from < cfg.StallFor.Milliseconds() {
					continue
				}
				gaps++
				if from != bt.StalledFrom || to != bt.ResumedAt || int64(k-1) != count/2 ||
					evs[progress[k-1]].Type != event.PayoutInitiated || evs[progress[k]].Type != event.PayoutInitiated {
					tb.Errorf("batch %s: gap %d..%d after %d of %d records, truth %+v", bt.BatchID, from, to, k-1, count, bt)
				}
			}
			if gaps != 1 {
				tb.Errorf("batch %s: %d gaps of at least %v, want 1", bt.BatchID, gaps, cfg.StallFor)
			}
			// In the gap, of the records, confirmations and returns of the
			// batch, only those of payouts initiated before it are sent.
			// (Risk holds and releases naming the batch keep their times:
			// they are no batch progress.)
			initiated := map[string]int64{}
			for _, i := range named {
				e := &evs[i]
				if e.Type == event.PayoutInitiated {
					initiated[e.TraceNo] = e.OccurredAt
				}
				if e.OccurredAt <= bt.StalledFrom || e.OccurredAt >= bt.ResumedAt || e.Type == event.PayoutHeld || e.Type == event.PayoutReleased {
					continue
				}
				if (e.Type != event.PayoutPaid && e.Type != event.PayoutFailed) || initiated[e.TraceNo] == 0 || initiated[e.TraceNo] > bt.StalledFrom {
					tb.Errorf("batch %s: %s of %s at %d, inside the stall", bt.BatchID, e.Type, e.TraceNo, e.OccurredAt)
				}
			}
			// Heartbeats go on, on every partition of every event topic.
			type part struct {
				topic string
				p     int
			}
			beats := map[part]int{}
			for i, m := range res.msgs {
				if evs[i].Type == event.Heartbeat && m.At > bt.StalledFrom && m.At < bt.ResumedAt {
					beats[part{m.Topic, m.Partition}]++
				}
			}
			want := int(cfg.StallFor/cfg.HeartbeatInterval) - 1
			for _, topic := range []string{cfg.Topics.Authorizations, cfg.Topics.Clearing, cfg.Topics.Payouts} {
				for p := range cfg.Partitions {
					if n := beats[part{topic, p}]; n < want {
						tb.Errorf("batch %s: %d heartbeats on %s/%d during the stall, want at least %d", bt.BatchID, n, topic, p, want)
					}
				}
			}
			// Its payouts, delayed or not, are paid before their deadlines.
			delayed := 0
			for no, at := range initiated {
				tr := traces[no]
				if tr == nil {
					tb.Fatalf("no truth for trace %s", no)
				}
				for _, a := range tr.Anomalies {
					if a.Kind == fact.PayoutOverdue || a.Kind == fact.PayoutHeld {
						tb.Errorf("trace %s of stalled batch %s: anomaly %v", no, bt.BatchID, a)
					}
				}
				if tr.Orphan != "" || tr.FailedAt != 0 {
					continue
				}
				if !onTime(tr) || tr.PaidAt <= at {
					tb.Errorf("trace %s of stalled batch %s: initiated %d, paid %d, due %d", no, bt.BatchID, at, tr.PaidAt, tr.ExpectedPayoutAt)
				}
				if at >= bt.ResumedAt {
					delayed++
				}
			}
			if delayed == 0 {
				tb.Errorf("stalled batch %s: %d paid payouts after the stall", bt.BatchID, delayed)
			}

		case fact.BatchIncomplete:
			incomplete++
			if bt.StalledFrom != 0 || bt.ResumedAt != 0 {
				tb.Errorf("incomplete batch line %+v carries stall times", bt)
			}
			if int64(bt.SeenCount) != count || bt.DeclaredCount != bt.SeenCount+1 || closed.DeclaredCount != int64(bt.DeclaredCount) || bt.DeclaredCount < minBatchItems {
				tb.Errorf("incomplete batch %s: truth %+v, declared %d, sent %d", bt.BatchID, bt, closed.DeclaredCount, count)
			}
			ms := missing[bt.BatchID]
			if len(ms) != 1 {
				tb.Fatalf("incomplete batch %s: %d traces with initiated_missing, want 1", bt.BatchID, len(ms))
			}
			tr := ms[0]
			if closed.DeclaredTotal-total != tr.Net || tr.Net <= 0 {
				tb.Errorf("incomplete batch %s declares %d fen, sent %d fen, the missing record is %d fen", bt.BatchID, closed.DeclaredTotal, total, tr.Net)
			}
			if len(tr.Anomalies) != 0 || tr.Orphan != "" || !onTime(tr) {
				tb.Errorf("trace %s of the missing record: %+v", tr.TraceNo, tr)
			}
			paid := 0
			for i := range evs {
				e := &evs[i]
				if e.TraceNo != tr.TraceNo {
					continue
				}
				switch e.Type {
				case event.PayoutInitiated:
					tb.Errorf("trace %s: payout_initiated %d sent", tr.TraceNo, i)
				case event.PayoutPaid:
					paid++
					if e.BatchID != bt.BatchID || e.OccurredAt != tr.PaidAt || e.Amount != tr.Net {
						tb.Errorf("trace %s: payout_paid %+v", tr.TraceNo, e)
					}
				}
			}
			if paid != 1 {
				tb.Errorf("trace %s of the missing record: %d payout_paid", tr.TraceNo, paid)
			}

		default:
			tb.Fatalf("batch line of kind %q", bt.Kind)
		}
	}
	for id, ms := range missing {
		if !seen[id] {
			tb.Errorf("%d traces with initiated_missing in batch %s, no batch line", len(ms), id)
		}
	}
	if res.stats.Injected[string(fact.BatchStalled)] != stalled || res.stats.Injected[string(fact.BatchIncomplete)] != incomplete {
		tb.Errorf("stats injected %v, truth has %d stalled and %d incomplete batches", res.stats.Injected, stalled, incomplete)
	}
	return stalled, incomplete
}

// TestFullBatchFaults checks the batch faults of the full scenario (one of
// each) and their truth lines.
func TestFullBatchFaults(t *testing.T) {
	f := fullRun(t)
	rt := RunTruth{Traces: f.truths, Outages: f.outages, Batches: f.batches}
	stalled, incomplete := checkBatchFaults(t, f.result, f.evs, rt)
	if stalled != 1 || incomplete != 1 {
		t.Fatalf("%d stalled, %d incomplete batches, want 1 each", stalled, incomplete)
	}
	// The run-level lines follow the outage line, in the documented format.
	lines := bytes.Split(bytes.TrimSpace(f.truth), []byte("\n"))
	tail := lines[len(lines)-2:]
	for i, prefix := range []string{
		`{"batch":{"batch_id":"` + f.batches[0].BatchID + `","source":"payouts","kind":"` + string(f.batches[0].Kind) + `",`,
		`{"batch":{"batch_id":"` + f.batches[1].BatchID + `","source":"payouts","kind":"` + string(f.batches[1].Kind) + `",`,
	} {
		if !bytes.HasPrefix(tail[i], []byte(prefix)) {
			t.Errorf("truth line %s, want prefix %s", tail[i], prefix)
		}
	}
	for _, bt := range f.batches {
		var want string
		switch bt.Kind {
		case fact.BatchStalled:
			want = `"stalled_from":` + itoa(bt.StalledFrom) + `,"resumed_at":` + itoa(bt.ResumedAt) + `}}`
		case fact.BatchIncomplete:
			want = `"declared_count":` + itoa(int64(bt.DeclaredCount)) + `,"seen_count":` + itoa(int64(bt.SeenCount)) + `}}`
		}
		if !slices.ContainsFunc(tail, func(l []byte) bool { return bytes.HasSuffix(l, []byte(want)) }) {
			t.Errorf("no truth line ending %s", want)
		}
	}
	// The stall is the documented one: opened at PayoutAt, paused for
	// StallFor about a quarter of an hour in.
	loc := testCalendar(t).Location()
	for _, bt := range f.batches {
		if bt.Kind != fact.BatchStalled {
			continue
		}
		from, to := time.UnixMilli(bt.StalledFrom).In(loc), time.UnixMilli(bt.ResumedAt).In(loc)
		if from.Hour() != 10 || from.Minute() < 10 || from.Minute() > 20 || to.Sub(from) < 2*time.Hour || to.Sub(from) > 2*time.Hour+time.Minute {
			t.Errorf("stall %s..%s", from.Format(time.DateTime), to.Format(time.DateTime))
		}
	}
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

// TestSmallBatchFaults runs small scenarios with several seeds, where some
// batches are too small for a fault and hand it on: whatever is injected
// must be right, and nothing is injected twice into one batch.
func TestSmallBatchFaults(t *testing.T) {
	total := 0
	for seed := int64(1); seed <= 6; seed++ {
		cfg := fullTestConfig()
		cfg.Seed = seed
		cfg.TracesPerDay = 60
		cfg.Merchants = 20
		cfg.Days = 4
		cfg.PayoutOutage.Day = 0
		cfg.BatchStallCount, cfg.BatchIncompleteCount = 2, 2
		res := runSim(t, cfg)
		rt, err := ReadRunTruth(bytes.NewReader(res.truth))
		if err != nil {
			t.Fatal(err)
		}
		s, i := checkBatchFaults(t, res, res.decoded(t), rt)
		if s > 2 || i > 2 {
			t.Fatalf("seed %d: %d stalled, %d incomplete batches, configured 2 each", seed, s, i)
		}
		total += s + i
	}
	if total == 0 {
		t.Fatal("no batch fault injected in any small run")
	}
}

// TestBatchFaultsLeaveTheRestAlone compares a run with batch faults to the
// same run without: the faults draw from their own random stream and move
// nothing but the payouts of the faulted batches, so every other trace has
// the same truth, and those of the faulted batches differ only in their
// payout times (stall) or the missing record's flag.
func TestBatchFaultsLeaveTheRestAlone(t *testing.T) {
	cfg := fullTestConfig()
	cfg.TracesPerDay = 1500
	with := runSim(t, cfg)
	cfg.BatchStallCount, cfg.BatchIncompleteCount = 0, 0
	without := runSim(t, cfg)

	rtWith, err := ReadRunTruth(bytes.NewReader(with.truth))
	if err != nil {
		t.Fatal(err)
	}
	rtWithout, err := ReadRunTruth(bytes.NewReader(without.truth))
	if err != nil {
		t.Fatal(err)
	}
	if len(rtWith.Batches) != 2 || len(rtWithout.Batches) != 0 || len(without.stats.Batches) != 0 {
		t.Fatalf("batch faults: %+v with, %+v without", rtWith.Batches, rtWithout.Batches)
	}
	faulted := map[string]fact.Kind{}
	for _, bt := range rtWith.Batches {
		faulted[bt.BatchID] = bt.Kind
	}
	if len(rtWith.Traces) != len(rtWithout.Traces) {
		t.Fatalf("%d traces with batch faults, %d without", len(rtWith.Traces), len(rtWithout.Traces))
	}
	// payoutTimes blanks what a stall moves.
	payoutTimes := func(tr Truth) Truth {
		tr.PaidAt, tr.FailedAt, tr.ClearToPayS, tr.AuthToPayS, tr.PastDueS, tr.LateAt, tr.OutageDelayed = 0, 0, 0, 0, 0, 0, false
		return tr
	}
	changed := map[fact.Kind]int{}
	for k := range rtWith.Traces {
		a, b := rtWith.Traces[k], rtWithout.Traces[k]
		if reflect.DeepEqual(a, b) {
			continue
		}
		kind := faulted[b.PayoutBatchID]
		changed[kind]++
		switch {
		case kind == fact.BatchStalled && reflect.DeepEqual(payoutTimes(a), payoutTimes(b)) && a.PaidAt >= b.PaidAt:
		case kind == fact.BatchIncomplete && a.InitiatedMissing && !b.InitiatedMissing && changed[kind] == 1:
			a.InitiatedMissing = false
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("trace %s of the missing record differs:\n with    %+v\n without %+v", a.TraceNo, a, b)
			}
		default:
			t.Fatalf("trace %s differs:\n with    %+v\n without %+v", a.TraceNo, a, b)
		}
	}
	if changed[fact.BatchStalled] < minBatchItems/2 || changed[fact.BatchIncomplete] != 1 {
		t.Fatalf("changed traces by batch fault: %v", changed)
	}
	if !reflect.DeepEqual(rtWith.Outages, rtWithout.Outages) {
		t.Fatalf("outage lines differ: %+v / %+v", rtWith.Outages, rtWithout.Outages)
	}
}

func TestBatchFaultsDeterministic(t *testing.T) {
	cfg := fullTestConfig()
	cfg.TracesPerDay = 1000
	cfg.BatchStallCount, cfg.BatchIncompleteCount = 2, 2
	a, b := runSim(t, cfg), runSim(t, cfg)
	if !bytes.Equal(a.serialize(), b.serialize()) || !reflect.DeepEqual(a.stats, b.stats) {
		t.Fatal("two runs with the same seed differ")
	}
	if len(a.stats.Batches) != 4 {
		t.Fatalf("%d batch faults, want 4", len(a.stats.Batches))
	}
}

// defaultOutputSHA256 is the digest of DefaultConfig's whole output
// (messages and truth, as result.serialize writes them). Adding a cause that
// is off by default must not change it; change it only on purpose, and say
// so where the change is reviewed.
const defaultOutputSHA256 = "0844a2e70d200e67536977ad3a7f95bd38c61b07aec0a3d798242068b2871165"

func TestDefaultOutputUnchanged(t *testing.T) {
	if testing.Short() {
		t.Skip("the default run is 400,000 messages")
	}
	sum := sha256.Sum256(runSim(t, DefaultConfig()).serialize())
	if got := hex.EncodeToString(sum[:]); got != defaultOutputSHA256 {
		t.Fatalf("DefaultConfig output digest %s, want %s: the default run changed", got, defaultOutputSHA256)
	}
}

func TestBatchFaultConfig(t *testing.T) {
	cal := testCalendar(t)
	for _, c := range []struct {
		name   string
		mutate func(*Config)
		want   string // in the error of Validate or New; empty: no error
	}{
		{"full", func(c *Config) { *c = FullConfig() }, ""},
		{"default is off", func(c *Config) {}, ""},
		{"negative stalls", func(c *Config) { c.BatchStallCount = -1 }, "batch faults"},
		{"negative incomplete", func(c *Config) { c.BatchIncompleteCount = -1 }, "batch faults"},
		{"no stall duration", func(c *Config) { c.BatchStallCount, c.StallFor = 1, 0 }, "stall duration"},
		{"fractional stall", func(c *Config) { c.BatchStallCount, c.StallFor = 1, 1500*time.Millisecond }, "stall duration"},
		{"longest stall", func(c *Config) { c.BatchStallCount, c.StallFor = 1, 6*time.Hour+30*time.Minute }, ""},
		{"stall past the cut-off", func(c *Config) { c.BatchStallCount, c.StallFor = 1, 6*time.Hour+31*time.Minute }, "cut-off"},
		{"long stall, none configured", func(c *Config) { c.StallFor = 7 * time.Hour }, ""},
		// Three traffic days give at most six T1/D1 batches; the outage
		// day's D1 batch is not a candidate.
		{"too many faults", func(c *Config) { c.BatchStallCount, c.BatchIncompleteCount = 4, 3 }, "batch faults"},
		{"around the outage", func(c *Config) { c.BatchStallCount, c.PayoutOutage.Day = 6, 2 }, "clear of the payout outage"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := DefaultConfig()
			c.mutate(&cfg)
			_, err := New(cfg, cal)
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case c.want != "" && err == nil:
				t.Fatalf("no error, want one about %q", c.want)
			case c.want != "" && !strings.Contains(err.Error(), c.want):
				t.Fatalf("error %q does not mention %q", err, c.want)
			}
		})
	}
	if c := FullConfig(); c.BatchStallCount != 1 || c.BatchIncompleteCount != 1 || c.StallFor != 2*time.Hour {
		t.Fatalf("FullConfig batch faults %d stalled for %v, %d incomplete", c.BatchStallCount, c.StallFor, c.BatchIncompleteCount)
	}
	if c := DefaultConfig(); c.BatchStallCount != 0 || c.BatchIncompleteCount != 0 {
		t.Fatalf("DefaultConfig injects batch faults: %d stalled, %d incomplete", c.BatchStallCount, c.BatchIncompleteCount)
	}
}
