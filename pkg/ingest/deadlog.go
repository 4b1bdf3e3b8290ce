package ingest

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"
)

// deadLetterLogEvery is how often at most a dead letter is logged in full;
// the ones in between are counted by reason and summed up in one line.
const deadLetterLogEvery = 10 * time.Second

// deadLetterLog keeps dead letters from flooding the log: the first one after
// a quiet interval is logged in full (with the counts held back before it),
// the others are counted by reason, and flush logs the counts once the
// interval has passed. Every dead letter is in the table, the topic and
// settlemon_dead_letters_total whatever the log says.
type deadLetterLog struct {
	log   *slog.Logger
	every time.Duration

	mu   sync.Mutex
	last time.Time         // when a line was last logged
	held map[string]uint64 // by reason, not logged since
}

func newDeadLetterLog(log *slog.Logger, every time.Duration) *deadLetterLog {
	return &deadLetterLog{log: log, every: every, held: map[string]uint64{}}
}

// note logs one dead letter at now, or counts it.
func (d *deadLetterLog) note(now time.Time, reason string, attrs ...any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.last.IsZero() && now.Sub(d.last) < d.every {
		d.held[reason]++
		return
	}
	if n, by := d.takeHeld(); n > 0 {
		attrs = append(attrs, "not_logged_before", n, "not_logged_by_reason", by)
	}
	d.last = now
	d.log.Warn("dead-lettered a message", append([]any{"reason", reason}, attrs...)...)
}

// flush logs the counts held back, once the interval since the last line
// has passed (or always, when final).
func (d *deadLetterLog) flush(now time.Time, final bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.held) == 0 || !final && now.Sub(d.last) < d.every {
		return
	}
	n, by := d.takeHeld()
	d.last = now
	d.log.Warn("dead-lettered more messages (not logged one by one)", "count", n, "by_reason", by, "since", d.every,
		"action", "fix the producer; the messages are kept in the dead-letter topic and the dead_letters table (reason, detail)")
}

// takeHeld returns and clears the held counts: the total, and "reason=n"
// pairs sorted by reason.
func (d *deadLetterLog) takeHeld() (uint64, []string) {
	var n uint64
	var by []string
	for _, r := range slices.Sorted(maps.Keys(d.held)) {
		n += d.held[r]
		by = append(by, r+"="+strconv.FormatUint(d.held[r], 10))
	}
	clear(d.held)
	return n, by
}

// run flushes every interval until ctx ends, then once more.
func (d *deadLetterLog) run(ctx context.Context, now func() time.Time) {
	t := time.NewTicker(d.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			d.flush(now(), true)
			return
		case <-t.C:
			d.flush(now(), false)
		}
	}
}

// now is the wall clock of Deps.Now, or time.Now.
func (in *Ingest) now() time.Time {
	if in.deps.Now != nil {
		return in.deps.Now()
	}
	return time.Now()
}
