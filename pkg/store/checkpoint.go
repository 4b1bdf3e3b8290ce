package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// checkpointChunk is one row of join_checkpoints.
type checkpointChunk struct {
	Group     string
	Topic     string
	Partition int32
	Offset    int64
	Chunk     uint32
	Chunks    uint32
	Data      string
	Created   int64 // unix ms
}

var checkpointTable = newTable("join_checkpoints", "join checkpoint",
	str("consumer_group", func(r *checkpointChunk) string { return r.Group }),
	str("topic", func(r *checkpointChunk) string { return r.Topic }),
	u32("partition", func(r *checkpointChunk) uint32 { return clampU32(r.Partition) }),
	i64("offset", func(r *checkpointChunk) int64 { return r.Offset }),
	u32("chunk", func(r *checkpointChunk) uint32 { return r.Chunk }),
	u32("chunks", func(r *checkpointChunk) uint32 { return r.Chunks }),
	str("data", func(r *checkpointChunk) string { return r.Data }),
	dateTime("created_at", func(r *checkpointChunk) int64 { return r.Created }),
)

// checkpointChunkSize keeps each row well under the server's limits.
const checkpointChunkSize = 4 << 20

// SaveCheckpoint stores a partition's join state as of offset, then deletes
// that partition's checkpoints older than the previous one (which is kept as
// a fallback should this one prove unreadable).
func (s *Store) SaveCheckpoint(ctx context.Context, group, topic string, partition int32, offset int64, data []byte) error {
	n := max(1, (len(data)+checkpointChunkSize-1)/checkpointChunkSize)
	rows := make([]checkpointChunk, 0, n)
	now := time.Now().UnixMilli()
	for i := range n {
		lo, hi := i*checkpointChunkSize, min((i+1)*checkpointChunkSize, len(data))
		rows = append(rows, checkpointChunk{Group: group, Topic: topic, Partition: partition, Offset: offset,
			Chunk: uint32(i), Chunks: uint32(n), Data: string(data[lo:hi]), Created: now})
	}
	if err := insert(ctx, s, checkpointTable, rows); err != nil {
		return fmt.Errorf("saving join checkpoint: %w", err)
	}
	var prev int64
	err := s.conn.QueryRow(ctx, `SELECT max(offset) FROM join_checkpoints
WHERE consumer_group = ? AND topic = ? AND partition = ? AND offset < ?`, group, topic, uint32(partition), offset).Scan(&prev)
	if err != nil {
		return fmt.Errorf("finding old join checkpoints: %w", err)
	}
	if prev > 0 {
		// ALTER … DELETE takes no bind arguments on 18.16: the values are
		// quoted here (group and topic are validated identifiers).
		q := fmt.Sprintf("ALTER TABLE %s DELETE WHERE consumer_group = %s AND topic = %s AND partition = %d AND offset < %d",
			s.mutationTarget("join_checkpoints"), quote(group), quote(topic), partition, prev)
		if err := s.conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("deleting old join checkpoints: %w", err)
		}
	}
	return nil
}

// LoadCheckpoint returns the newest complete checkpoint of a partition at or
// below maxOffset; ok is false when there is none.
func (s *Store) LoadCheckpoint(ctx context.Context, group, topic string, partition int32, maxOffset int64) (offset int64, data []byte, ok bool, err error) {
	rows, err := s.conn.Query(ctx, `SELECT offset FROM join_checkpoints FINAL
WHERE consumer_group = ? AND topic = ? AND partition = ? AND offset <= ?
GROUP BY offset HAVING uniqExact(chunk) = any(chunks)
ORDER BY offset DESC LIMIT 1`, group, topic, uint32(partition), maxOffset)
	if err != nil {
		return 0, nil, false, fmt.Errorf("finding join checkpoint: %w", err)
	}
	found := rows.Next()
	if found {
		err = rows.Scan(&offset)
	}
	rows.Close()
	if err != nil || !found {
		return 0, nil, false, err
	}
	chunks, err := s.conn.Query(ctx, `SELECT data FROM join_checkpoints FINAL
WHERE consumer_group = ? AND topic = ? AND partition = ? AND offset = ? ORDER BY chunk`, group, topic, uint32(partition), offset)
	if err != nil {
		return 0, nil, false, fmt.Errorf("reading join checkpoint: %w", err)
	}
	defer chunks.Close()
	var buf strings.Builder
	for chunks.Next() {
		var part string
		if err := chunks.Scan(&part); err != nil {
			return 0, nil, false, fmt.Errorf("reading join checkpoint: %w", err)
		}
		buf.WriteString(part)
	}
	if err := chunks.Err(); err != nil {
		return 0, nil, false, fmt.Errorf("reading join checkpoint: %w", err)
	}
	return offset, []byte(buf.String()), true, nil
}

func quote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// DeleteCheckpoints removes every checkpoint of a consumer group (a
// measurement's throwaway group, for one).
func (s *Store) DeleteCheckpoints(ctx context.Context, group string) error {
	// ALTER … DELETE takes no bind arguments on 18.16: the value is quoted.
	if err := s.conn.Exec(ctx, "ALTER TABLE "+s.mutationTarget("join_checkpoints")+" DELETE WHERE consumer_group = "+quote(group)); err != nil {
		return fmt.Errorf("deleting the checkpoints of group %s: %w", group, err)
	}
	return nil
}
