-- 0005_join_checkpoints: the joiner's checkpointed partition state (issue #5).
-- A checkpoint is the zstd-compressed join state of one partition of the
-- joiner's input topic as of `offset` (the next record it had not applied),
-- split into chunks. A retried insert collapses onto the same (…, chunk) key;
-- a reader takes the newest offset whose chunks are all present. Older
-- checkpoints are deleted once a newer one is written (the previous one is
-- kept as a fallback).
CREATE TABLE IF NOT EXISTS join_checkpoints
(
    consumer_group String,
    topic          String,
    partition      UInt32,
    offset         Int64,
    chunk          UInt32,
    chunks         UInt32,
    data           String,
    created_at     DateTime
)
ENGINE = ReplacingMergeTree
PARTITION BY tuple()
ORDER BY (consumer_group, topic, partition, offset, chunk);
