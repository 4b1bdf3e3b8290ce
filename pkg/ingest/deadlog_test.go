package ingest

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestDeadLetterLogIsRateLimited: a burst of 150 dead letters gives one
// full line and, once the interval passed, one line with the counts; a dead
// letter after a quiet interval is logged in full again.
func TestDeadLetterLogIsRateLimited(t *testing.T) {
	var buf bytes.Buffer
	d := newDeadLetterLog(slog.New(slog.NewTextHandler(&buf, nil)), 10*time.Second)
	t0 := time.Unix(1_800_000_000, 0)
	for i := range 150 {
		reason := "bad_amount"
		if i%3 == 0 {
			reason = "missing_field"
		}
		d.note(t0.Add(time.Duration(i)*time.Millisecond), reason, "offset", i)
	}
	d.flush(t0.Add(5*time.Second), false) // too early
	lines := func() []string { return strings.Split(strings.TrimSpace(buf.String()), "\n") }
	if got := lines(); len(got) != 1 || !strings.Contains(got[0], "reason=missing_field") || !strings.Contains(got[0], "offset=0") {
		t.Fatalf("during the burst: %q, want the first dead letter in full only", got)
	}
	d.flush(t0.Add(11*time.Second), false)
	got := lines()
	if len(got) != 2 || !strings.Contains(got[1], "count=149") || !strings.Contains(got[1], "by_reason=\"[bad_amount=100 missing_field=49]\"") {
		t.Fatalf("after the interval: %q, want one line counting the other 149 by reason", got)
	}
	d.flush(t0.Add(30*time.Second), false) // nothing held: nothing logged
	d.note(t0.Add(time.Minute), "too_large", "offset", 500)
	if got := lines(); len(got) != 3 || !strings.Contains(got[2], "reason=too_large") || strings.Contains(got[2], "not_logged_before") {
		t.Fatalf("after a quiet minute: %q, want the next dead letter in full", got)
	}
	d.note(t0.Add(time.Minute+time.Second), "too_large", "offset", 501)
	d.flush(t0.Add(time.Minute+2*time.Second), true) // Run ending
	if got := lines(); len(got) != 4 || !strings.Contains(got[3], "count=1") {
		t.Fatalf("final flush: %q, want the held one counted", got)
	}
}
