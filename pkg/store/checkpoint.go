package store

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"
)

// checkpointChunk is one row of join_checkpoint_slots.
type checkpointChunk struct {
	Group     string
	Topic     string
	Partition int32
	Slot      uint8
	Chunk     uint32
	Offset    int64
	Chunks    uint32
	Data      string
	Written   uint64 // unix ns of the save: the row's version
	Created   int64  // unix ms
}

var checkpointTable = newTable("join_checkpoint_slots", "join checkpoint",
	str("consumer_group", func(r *checkpointChunk) string { return r.Group }),
	str("topic", func(r *checkpointChunk) string { return r.Topic }),
	u32("partition", func(r *checkpointChunk) uint32 { return clampU32(r.Partition) }),
	u8("slot", func(r *checkpointChunk) uint8 { return r.Slot }),
	u32("chunk", func(r *checkpointChunk) uint32 { return r.Chunk }),
	i64("offset", func(r *checkpointChunk) int64 { return r.Offset }),
	u32("chunks", func(r *checkpointChunk) uint32 { return r.Chunks }),
	str("data", func(r *checkpointChunk) string { return r.Data }),
	u64("written", func(r *checkpointChunk) uint64 { return r.Written }),
	dateTime("created_at", func(r *checkpointChunk) int64 { return r.Created }),
)

// checkpointChunkSize keeps each row well under the server's limits.
const checkpointChunkSize = 4 << 20

// SaveCheckpoint stores a partition's join state as of offset in the slot
// that does not hold the partition's newest checkpoint, replacing the older
// of the two it keeps; the newest stays as the fallback should this one prove
// unreadable. A save at the newest checkpoint's own offset replaces it. It is
// one insert: nothing is deleted.
//
// The slot is the other one than this Store last saved for the partition (a
// joiner saves a partition's checkpoints through one Store); for its first
// save of a partition it asks the table, where a replica that has not yet
// fetched the previous owner's newest save can make it overwrite the newest
// rather than the older checkpoint: the new one is newer still, and the
// fallback an older one.
func (s *Store) SaveCheckpoint(ctx context.Context, group, topic string, partition int32, offset int64, data []byte) error {
	key := slotKey{group, topic, partition}
	last, known := s.slots.get(key)
	if !known {
		slot, newest, found, err := s.newestCheckpoint(ctx, group, topic, partition, math.MaxInt64)
		if err != nil {
			return fmt.Errorf("saving join checkpoint: %w", err)
		}
		last, known = savedSlot{slot, newest}, found
	}
	var slot uint8
	switch {
	case !known:
	case last.offset == offset:
		slot = last.slot // the same state again: it replaces itself
	default:
		slot = 1 - last.slot
	}
	n := max(1, (len(data)+checkpointChunkSize-1)/checkpointChunkSize)
	rows := make([]checkpointChunk, 0, n)
	now := time.Now()
	for i := range n {
		lo, hi := i*checkpointChunkSize, min((i+1)*checkpointChunkSize, len(data))
		rows = append(rows, checkpointChunk{Group: group, Topic: topic, Partition: partition, Slot: slot, Chunk: uint32(i),
			Offset: offset, Chunks: uint32(n), Data: string(data[lo:hi]), Written: uint64(now.UnixNano()), Created: now.UnixMilli()})
	}
	if err := insert(ctx, s, checkpointTable, rows); err != nil {
		return fmt.Errorf("saving join checkpoint: %w", err)
	}
	s.slots.set(key, savedSlot{slot, offset})
	return nil
}

// slotKey names a partition's checkpoints.
type slotKey struct {
	group, topic string
	partition    int32
}

// savedSlot is where a partition's newest checkpoint is.
type savedSlot struct {
	slot   uint8
	offset int64
}

// checkpointSlots remembers the slot of each partition's checkpoint this
// Store saved last.
type checkpointSlots struct {
	mu   sync.Mutex
	last map[slotKey]savedSlot
}

func (c *checkpointSlots) get(k slotKey) (savedSlot, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	slot, ok := c.last[k]
	return slot, ok
}

func (c *checkpointSlots) set(k slotKey, s savedSlot) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.last == nil {
		c.last = map[slotKey]savedSlot{}
	}
	c.last[k] = s
}

// newestCheckpoint finds the slot and offset of a partition's newest
// complete checkpoint at or below maxOffset.
func (s *Store) newestCheckpoint(ctx context.Context, group, topic string, partition int32, maxOffset int64) (slot uint8, offset int64, found bool, err error) {
	rows, err := s.conn.Query(ctx, `SELECT slot, offset FROM join_checkpoint_slots FINAL
WHERE consumer_group = ? AND topic = ? AND partition = ? AND offset <= ?
GROUP BY slot, offset HAVING uniqExact(chunk) = any(chunks)
ORDER BY offset DESC LIMIT 1`, group, topic, uint32(partition), maxOffset)
	if err != nil {
		return 0, 0, false, fmt.Errorf("finding join checkpoint: %w", err)
	}
	defer rows.Close()
	if rows.Next() {
		if err := rows.Scan(&slot, &offset); err != nil {
			return 0, 0, false, fmt.Errorf("finding join checkpoint: %w", err)
		}
		found = true
	}
	if err := rows.Err(); err != nil {
		return 0, 0, false, fmt.Errorf("finding join checkpoint: %w", err)
	}
	return slot, offset, found, nil
}

// LoadCheckpoint returns the newest complete checkpoint of a partition at or
// below maxOffset; ok is false when there is none.
func (s *Store) LoadCheckpoint(ctx context.Context, group, topic string, partition int32, maxOffset int64) (offset int64, data []byte, ok bool, err error) {
	slot, offset, found, err := s.newestCheckpoint(ctx, group, topic, partition, maxOffset)
	if err != nil || !found {
		return 0, nil, false, err
	}
	chunks, err := s.conn.Query(ctx, `SELECT data FROM join_checkpoint_slots FINAL
WHERE consumer_group = ? AND topic = ? AND partition = ? AND slot = ? AND offset = ? ORDER BY chunk`,
		group, topic, uint32(partition), slot, offset)
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
