package alert

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2025, 10, 1, 2, 0, 0, 0, time.UTC)

func lagging(src string) Condition {
	return Condition{Labels: map[string]string{LabelAlertName: SourceLagging, LabelSeverity: "critical", LabelSource: src},
		Annotations: map[string]string{AnnotationSummary: src + " lagging"}}
}

func stall(id string, start time.Time, resolvedAt time.Time) Condition {
	c := Condition{Labels: map[string]string{LabelAlertName: BatchStalled, LabelSeverity: "critical", LabelAnomalyID: id},
		StartsAt: start}
	if !resolvedAt.IsZero() {
		c.Resolved, c.EndsAt = true, resolvedAt
	}
	return c
}

// describe renders steps as "status start→end #n" for comparison.
func describe(steps []Step) string {
	var parts []string
	for _, s := range steps {
		n := s.Notification
		end := "-"
		if !n.EndsAt.IsZero() {
			end = n.EndsAt.Format("15:04:05")
		}
		parts = append(parts, fmt.Sprintf("%s %s→%s #%d", n.Status, n.StartsAt.Format("15:04:05"), end, s.Record.Notifications))
	}
	return strings.Join(parts, ", ")
}

func TestDecide(t *testing.T) {
	const repeat = 4 * time.Hour
	lag := lagging("payouts")
	firingRec := func(start, sent time.Time, n uint64) Record {
		return Record{Fingerprint: lag.Fingerprint(), Name: SourceLagging, Labels: lag.Labels, State: Firing,
			StartedAt: start, LastSentAt: sent, Notifications: n, Version: 7}
	}
	resolvedRec := func(start, end time.Time) Record {
		r := firingRec(start, end, 2)
		r.State, r.EndedAt = Resolved, end
		return r
	}
	st := stall("batch_stalled:payouts:PB-1:1", t0.Add(-time.Hour), time.Time{})
	stDone := stall("batch_stalled:payouts:PB-1:1", t0.Add(-time.Hour), t0.Add(-30*time.Minute))

	tests := []struct {
		name  string
		prev  Record
		known bool
		c     *Condition
		now   time.Time
		want  string
	}{
		{name: "new condition fires, starting now", c: &lag, now: t0, want: "firing 02:00:00→- #1"},
		{name: "new condition with its own start", c: &st, now: t0, want: "firing 01:00:00→- #1"},
		{name: "sub-second now is truncated", c: &lag, now: t0.Add(700 * time.Millisecond), want: "firing 02:00:00→- #1"},
		{name: "firing, sent recently: nothing", prev: firingRec(t0, t0, 1), known: true, c: &lag, now: t0.Add(repeat - time.Second), want: ""},
		{name: "firing, repeat interval passed: re-sent with the original start", prev: firingRec(t0, t0, 1), known: true, c: &lag,
			now: t0.Add(repeat), want: "firing 02:00:00→- #2"},
		{name: "firing, condition gone: resolved now", prev: firingRec(t0, t0, 1), known: true, now: t0.Add(time.Minute),
			want: "resolved 02:00:00→02:01:00 #2"},
		{name: "resolved, condition gone: nothing", prev: resolvedRec(t0, t0.Add(time.Minute)), known: true, now: t0.Add(time.Hour), want: ""},
		{name: "unknown, condition gone: nothing", now: t0, want: ""},
		{name: "resolved episode, fires again: a new episode", prev: resolvedRec(t0, t0.Add(time.Minute)), known: true, c: &lag,
			now: t0.Add(time.Hour), want: "firing 03:00:00→- #1"},
		{name: "stalled and resumed before first seen: firing then resolved", c: &stDone, now: t0,
			want: "firing 01:00:00→- #1, resolved 01:00:00→01:30:00 #2"},
		{name: "firing stall resumes: resolved at the resumption", prev: Record{Fingerprint: st.Fingerprint(), Name: BatchStalled,
			State: Firing, StartedAt: t0.Add(-time.Hour), LastSentAt: t0, Notifications: 1}, known: true, c: &stDone,
			now: t0.Add(time.Minute), want: "resolved 01:00:00→01:30:00 #2"},
		{name: "resolved stall seen again: nothing", prev: Record{Fingerprint: st.Fingerprint(), Name: BatchStalled,
			State: Resolved, StartedAt: t0.Add(-time.Hour), EndedAt: t0.Add(-30 * time.Minute), Notifications: 2}, known: true, c: &stDone,
			now: t0.Add(time.Hour), want: ""},
		{name: "resolution before the start is clamped to the start", c: func() *Condition {
			c := stall("x", t0, t0.Add(-time.Hour))
			return &c
		}(), now: t0.Add(time.Hour), want: "firing 02:00:00→- #1, resolved 02:00:00→02:00:00 #2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Decide(tc.prev, tc.known, tc.c, tc.now, repeat)
			if d := describe(got); d != tc.want {
				t.Fatalf("Decide = %q, want %q", d, tc.want)
			}
			last := tc.prev.Version
			for _, s := range got {
				if s.Record.Version <= last {
					t.Errorf("version %d not above the previous %d", s.Record.Version, last)
				}
				last = s.Record.Version
				if s.Record.Fingerprint == "" || s.Notification.Fingerprint != s.Record.Fingerprint {
					t.Errorf("fingerprints: record %q, notification %q", s.Record.Fingerprint, s.Notification.Fingerprint)
				}
				if s.Notification.Labels[LabelAlertName] == "" {
					t.Errorf("notification without alertname: %v", s.Notification.Labels)
				}
				if !s.Record.LastSentAt.Equal(tc.now.Truncate(time.Second)) {
					t.Errorf("last sent %v, want now", s.Record.LastSentAt)
				}
			}
		})
	}
}

// TestDecideSequence walks one alert through its life with a fake clock.
func TestDecideSequence(t *testing.T) {
	const repeat = time.Hour
	c := lagging("payouts")
	var (
		rec   Record
		known bool
		got   []string
	)
	step := func(at time.Duration, cond *Condition) {
		for _, s := range Decide(rec, known, cond, t0.Add(at), repeat) {
			rec, known = s.Record, true
			got = append(got, fmt.Sprintf("%s@%s", s.Notification.Status, at))
		}
	}
	for at := time.Duration(0); at < 150*time.Minute; at += 10 * time.Second {
		step(at, &c)
	}
	step(150*time.Minute, nil)
	step(151*time.Minute, nil)
	step(160*time.Minute, &c)
	want := "firing@0s firing@1h0m0s firing@2h0m0s resolved@2h30m0s firing@2h40m0s"
	if g := strings.Join(got, " "); g != want {
		t.Errorf("notifications:\n got %s\nwant %s", g, want)
	}
}

func TestPlan(t *testing.T) {
	const repeat = time.Hour
	pay, clr := lagging("payouts"), lagging("clearing")
	stallDone := stall("batch_stalled:payouts:PB-9:1", t0.Add(-2*time.Hour), t0.Add(-time.Hour))
	rec := func(c Condition, state State) Record {
		return Record{Fingerprint: c.Fingerprint(), Name: c.Name(), Labels: c.Labels, State: state, StartedAt: t0.Add(-time.Hour),
			LastSentAt: t0.Add(-time.Minute), Notifications: 1}
	}
	all := map[string]bool{SourceLagging: true, BatchStalled: true}
	tests := []struct {
		name      string
		prev      []Record
		conds     []Condition
		evaluated map[string]bool
		busy      []string
		want      map[string]string // fingerprint → statuses
	}{
		{name: "new conditions fire; the pair for a replayed stall", conds: []Condition{pay, stallDone}, evaluated: all,
			want: map[string]string{pay.Fingerprint(): "firing", stallDone.Fingerprint(): "firing resolved"}},
		{name: "a firing alert whose rule no longer reports it resolves", prev: []Record{rec(clr, Firing)}, conds: []Condition{pay},
			evaluated: all, want: map[string]string{pay.Fingerprint(): "firing", clr.Fingerprint(): "resolved"}},
		{name: "a failed rule's alerts are left alone", prev: []Record{rec(clr, Firing)}, evaluated: map[string]bool{BatchStalled: true},
			want: map[string]string{}},
		{name: "busy alerts are skipped", conds: []Condition{pay, clr}, evaluated: all, busy: []string{pay.Fingerprint()},
			want: map[string]string{clr.Fingerprint(): "firing"}},
		{name: "duplicate conditions count once", conds: []Condition{pay, pay}, evaluated: all,
			want: map[string]string{pay.Fingerprint(): "firing"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			prev := map[string]Record{}
			for _, r := range tc.prev {
				prev[r.Fingerprint] = r
			}
			busy := map[string]bool{}
			for _, fp := range tc.busy {
				busy[fp] = true
			}
			got := map[string]string{}
			lastFP := ""
			for _, s := range Plan(prev, tc.conds, tc.evaluated, busy, t0, repeat) {
				fp := s.Record.Fingerprint
				if fp < lastFP {
					t.Errorf("steps not ordered by fingerprint")
				}
				lastFP = fp
				got[fp] = strings.TrimSpace(got[fp] + " " + string(s.Notification.Status))
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("Plan = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestFingerprint(t *testing.T) {
	a := map[string]string{"alertname": "BatchStalled", "batch_id": "PB-1"}
	b := map[string]string{"batch_id": "PB-1", "alertname": "BatchStalled"}
	if Fingerprint(a) != Fingerprint(b) {
		t.Error("fingerprint depends on map order")
	}
	for _, other := range []map[string]string{
		{"alertname": "BatchStalled", "batch_id": "PB-2"},
		{"alertname": "BatchStalled", "batch_id": "PB-1", "source": "payouts"},
		{"alertname": "BatchStalledb", "atch_id": "PB-1"}, // same bytes, other split
		{},
	} {
		if Fingerprint(other) == Fingerprint(a) {
			t.Errorf("%v and %v share a fingerprint", other, a)
		}
	}
	if len(Fingerprint(a)) != 16 {
		t.Errorf("fingerprint %q: want 16 hex digits", Fingerprint(a))
	}
}
