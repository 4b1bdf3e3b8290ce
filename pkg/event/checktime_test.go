package event

import (
	"strings"
	"testing"
	"time"
)

func TestCheckTime(t *testing.T) {
	now := time.Date(2026, time.November, 23, 9, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *Event { return &Event{Type: Authorization, OccurredAt: now.Add(d).UnixMilli()} }
	tests := []struct {
		name      string
		ev        *Event
		maxFuture time.Duration
		reject    bool
	}{
		{"now", at(0), 24 * time.Hour, false},
		{"months in the past (replays, re-sent files)", at(-60 * 24 * time.Hour), 24 * time.Hour, false},
		{"year 2000", &Event{OccurredAt: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()}, time.Hour, false},
		{"exactly at the limit", at(24 * time.Hour), 24 * time.Hour, false},
		{"one millisecond past the limit", at(24*time.Hour + time.Millisecond), 24 * time.Hour, true},
		{"clock skew of minutes within a small limit", at(4 * time.Minute), 5 * time.Minute, false},
		{"a day ahead with a one-hour limit", at(25 * time.Hour), time.Hour, true},
		{"year 2099", &Event{Type: Heartbeat, OccurredAt: time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()}, 24 * time.Hour, true},
		{"year 2099, check disabled", &Event{OccurredAt: time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()}, 0, false},
		{"negative limit disables", at(1000 * time.Hour), -time.Second, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckTime(tc.ev, now, tc.maxFuture)
			if (err != nil) != tc.reject {
				t.Fatalf("CheckTime = %v, want rejected %v", err, tc.reject)
			}
			if err == nil {
				return
			}
			e, ok := err.(*Error)
			if !ok || e.Reason != ReasonFutureTimestamp || e.Field != "occurred_at" || ReasonOf(err) != ReasonFutureTimestamp {
				t.Fatalf("CheckTime = %#v, want a *Error with reason %s on occurred_at", err, ReasonFutureTimestamp)
			}
			if !strings.Contains(e.Detail, tc.maxFuture.String()) || !strings.Contains(e.Detail, now.Format(time.RFC3339)) {
				t.Errorf("detail %q should name the limit and the time the event was read", e.Detail)
			}
		})
	}
}

func TestCheckTimeDetail(t *testing.T) {
	now := time.Date(2026, time.November, 23, 9, 0, 0, 0, time.UTC)
	ev := &Event{OccurredAt: time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()}
	err := CheckTime(ev, now, 24*time.Hour)
	want := `future_timestamp: "occurred_at" is 2099-01-01T00:00:00Z, 26336d15h ahead of the time it was read (2026-11-23T09:00:00Z); at most 24h0m0s is accepted: check the producer's clock and time zone`
	if err == nil || err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}
	ev.OccurredAt = now.Add(90 * time.Minute).UnixMilli()
	if err := CheckTime(ev, now, time.Hour); err == nil || !strings.Contains(err.Error(), "1h30m0s ahead") {
		t.Errorf("got %v, want it to say 1h30m0s ahead", err)
	}
}
