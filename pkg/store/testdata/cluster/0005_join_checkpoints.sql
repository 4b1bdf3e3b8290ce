CREATE TABLE IF NOT EXISTS settle.join_checkpoints_local ON CLUSTER settlemon
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
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/settle/join_checkpoints', '{replica}')
PARTITION BY tuple()
ORDER BY (consumer_group, topic, partition, offset, chunk);

CREATE TABLE IF NOT EXISTS settle.join_checkpoints ON CLUSTER settlemon
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
ENGINE = Distributed(settlemon, settle, join_checkpoints_local, cityHash64(consumer_group, topic, partition, offset, chunk));
