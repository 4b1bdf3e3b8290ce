-- 0009_join_checkpoint_slots: the joiner's checkpoints in two slots per
-- partition, replacing join_checkpoints. A checkpoint is the zstd-compressed
-- join state of one partition of the joiner's input topic as of `offset` (the
-- next record it had not applied), split into chunks. Each save writes the
-- slot that does not hold the newest complete checkpoint, so the newest and
-- the one before it (the fallback, should the newest prove unreadable) are
-- always kept, and the table never grows beyond two checkpoints per
-- partition: no mutation (ALTER … DELETE) is needed to prune it, so a save is
-- one insert, on a single node and on a cluster alike (an ON CLUSTER mutation
-- per save rewrote the table's parts and hung in the distributed DDL queue
-- after a ZooKeeper session loss).
--
-- The sorting key is a chunk's place, not its content: a new save replaces
-- the same (slot, chunk) rows, the greatest `written` (unix ns of the save)
-- winning under FINAL. A reader takes the newest offset whose chunks are all
-- present in one slot; chunks a shorter save left behind belong to an older
-- offset and are never read. A retried insert collapses onto the same key.
--
-- The checkpoints of join_checkpoints are not copied: after this migration a
-- joiner restores its partitions by replay once, then checkpoints as before.
CREATE TABLE IF NOT EXISTS join_checkpoint_slots
(
    consumer_group String,
    topic          String,
    partition      UInt32,
    slot           UInt8,
    chunk          UInt32,
    offset         Int64,
    chunks         UInt32,
    data           String,
    written        UInt64,
    created_at     DateTime
)
ENGINE = ReplacingMergeTree(written)
PARTITION BY tuple()
ORDER BY (consumer_group, topic, partition, slot, chunk);

DROP TABLE IF EXISTS join_checkpoints;
