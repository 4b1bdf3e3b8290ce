CREATE TABLE IF NOT EXISTS settle.join_checkpoint_slots_local ON CLUSTER settlemon
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
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/settle/join_checkpoint_slots', '{replica}', written)
PARTITION BY tuple()
ORDER BY (consumer_group, topic, partition, slot, chunk);

CREATE TABLE IF NOT EXISTS settle.join_checkpoint_slots ON CLUSTER settlemon
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
ENGINE = Distributed(settlemon, settle, join_checkpoint_slots_local, cityHash64(consumer_group, topic, partition, slot, chunk));

DROP TABLE IF EXISTS settle.join_checkpoints ON CLUSTER settlemon;

DROP TABLE IF EXISTS settle.join_checkpoints_local ON CLUSTER settlemon;
