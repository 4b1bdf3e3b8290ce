package event

import (
	"strconv"
	"time"
)

// CheckTime rejects an event whose occurred_at is more than maxFuture ahead
// of now, with ReasonFutureTimestamp. Decode cannot do it: this package reads
// no clock, so the caller passes the time the event was read (the wall clock
// in ingest). A maxFuture of zero or less disables the check.
//
// Only the future is bounded. Events from the past are legitimate: replays,
// re-sent files and late feeds are dated days or months back, and lateness is
// the join's business (late_event), not a validation error. A far-future
// event, on the other hand, would drag its source partition's watermark ahead
// and declare absences that have not happened; heartbeats are checked too.
func CheckTime(ev *Event, now time.Time, maxFuture time.Duration) error {
	if maxFuture <= 0 {
		return nil
	}
	limit := now.Add(maxFuture).UnixMilli()
	if ev.OccurredAt <= limit {
		return nil
	}
	ahead := time.Duration(ev.OccurredAt-now.UnixMilli()) * time.Millisecond
	return newError(ReasonFutureTimestamp, "occurred_at",
		"is "+time.UnixMilli(ev.OccurredAt).UTC().Format(time.RFC3339)+", "+formatAhead(ahead)+
			" ahead of the time it was read ("+now.UTC().Format(time.RFC3339)+"); at most "+maxFuture.String()+
			" is accepted: check the producer's clock and time zone")
}

// formatAhead renders a duration in whole days and hours ("412d3h") or, below
// a day, as time.Duration does, rounded to the second.
func formatAhead(d time.Duration) string {
	if d < 24*time.Hour {
		return d.Round(time.Second).String()
	}
	days := int64(d / (24 * time.Hour))
	hours := int64((d % (24 * time.Hour)) / time.Hour)
	return strconv.FormatInt(days, 10) + "d" + strconv.FormatInt(hours, 10) + "h"
}
