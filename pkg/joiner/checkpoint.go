package joiner

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/segmentio/kafka-go"

	"settlemon/pkg/join"
)

// restore returns the partition's state and the offset to read from: the
// newest checkpoint at or below the committed offset, or an empty state and
// the partition's first offset. Records between the start and the committed
// offset are replayed with their facts suppressed (they were durable before
// the commit).
func (j *Joiner) restore(ctx context.Context, log *slog.Logger, id int, committed int64) (*join.Partition, int64, error) {
	empty := func() (*join.Partition, int64, error) {
		st, err := join.New(j.cfg.Join, j.deps.Schedule, j.merchants)
		log.Info("partition restoring by replay from its first offset", "committed_offset", committed)
		return st, kafka.FirstOffset, err
	}
	if j.cfg.CheckpointRecords <= 0 || committed <= 0 {
		return empty()
	}
	started := time.Now()
	offset, data, ok, err := j.deps.Store.LoadCheckpoint(ctx, j.cfg.Group, j.cfg.Topic, int32(id), committed)
	if err != nil {
		log.Warn("reading the join checkpoint failed; replaying the partition instead", "err", err)
		return empty()
	}
	if !ok {
		return empty()
	}
	st, err := join.Restore(j.cfg.Join, j.deps.Schedule, j.merchants, bytes.NewReader(data))
	if err != nil {
		r := refusalOf(err)
		j.refused[r].Add(1)
		log.Warn(r.text()+"; replaying the partition from its first offset instead", "reason", r.String(),
			"checkpoint_offset", offset, "bytes", len(data), "err", err)
		return empty()
	}
	j.checkpointsRestored.Add(1)
	log.Info("partition restored from checkpoint", "checkpoint_offset", offset, "committed_offset", committed,
		"open_traces", st.Open(), "bytes", len(data), "took", time.Since(started).Round(time.Millisecond),
		"replaying", committed-offset)
	return st, offset, nil
}

// checkpointDue reports whether enough time or records passed since the
// partition's last checkpoint for the next.
func (j *Joiner) checkpointDue(p *partition) bool {
	return j.cfg.CheckpointRecords > 0 && p.next > p.checkpointed && p.next >= p.committed &&
		(p.next-p.checkpointed >= j.cfg.CheckpointRecords || time.Since(p.lastCheckpoint) >= j.cfg.CheckpointInterval)
}

// maybeCheckpoint writes the partition's state when a checkpoint is due, or
// when released. It runs after a drain: the facts of every record applied
// are durable and committed.
func (j *Joiner) maybeCheckpoint(ctx context.Context, log *slog.Logger, p *partition, releasing bool) {
	if j.cfg.CheckpointRecords <= 0 || p.next <= p.checkpointed || p.next > p.committed {
		return // disabled, nothing new, or the commit did not go through
	}
	if !releasing && !j.checkpointDue(p) {
		return
	}
	started := time.Now()
	var buf bytes.Buffer
	if err := p.state.Snapshot(&buf); err != nil {
		log.Warn("snapshotting the join state failed; recovery falls back to an older checkpoint or replay", "err", err)
		return
	}
	if err := j.deps.Store.SaveCheckpoint(ctx, j.cfg.Group, j.cfg.Topic, int32(p.id), p.next, buf.Bytes()); err != nil {
		log.Warn("saving the join checkpoint failed; recovery falls back to an older checkpoint or replay", "err", err)
		return
	}
	p.checkpointed, p.lastCheckpoint = p.next, time.Now()
	j.checkpoints.Add(1)
	log.Debug("join state checkpointed", "offset", p.next, "open_traces", p.state.Open(), "bytes", buf.Len(), "took", time.Since(started))
}

// refusal is why a checkpoint was refused on restore: the reason label of
// settlemon_joiner_checkpoints_refused_total.
type refusal int

const (
	refusedCorrupt    refusal = iota // checksum mismatch, or no checkpoint at all
	refusedTruncated                 // shorter than written
	refusedLayout                    // written by a build with another state layout
	refusedUnreadable                // intact, yet it does not decode
	numRefusals
)

func refusalOf(err error) refusal {
	switch {
	case errors.Is(err, join.ErrSnapshotLayout):
		return refusedLayout
	case errors.Is(err, join.ErrSnapshotTruncated):
		return refusedTruncated
	case errors.Is(err, join.ErrSnapshotCorrupt):
		return refusedCorrupt
	}
	return refusedUnreadable
}

func (r refusal) String() string {
	return [...]string{"corrupt", "truncated", "layout", "unreadable"}[r]
}

// text says what happened, for the log.
func (r refusal) text() string {
	return [...]string{
		"the join checkpoint is corrupt (checksum mismatch)",
		"the join checkpoint is truncated",
		"the join checkpoint was written by another build",
		"the join checkpoint passes its checksum but does not decode",
	}[r]
}
