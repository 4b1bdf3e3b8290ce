CREATE TABLE IF NOT EXISTS settle.batches_local ON CLUSTER settlemon
(
    batch_id       String,
    source         String,
    status         String,
    opened_at      DateTime,
    closed_at      DateTime,
    first_progress DateTime,
    last_progress  DateTime,
    declared_count Int64,
    declared_total Decimal(18, 2),
    seen_count     Int64,
    seen_total     Decimal(18, 2),
    stalls         Int64,
    as_of          DateTime,
    version        UInt64
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/settle/batches', '{replica}', version)
PARTITION BY tuple()
ORDER BY (source, batch_id);

CREATE TABLE IF NOT EXISTS settle.batches ON CLUSTER settlemon
(
    batch_id       String,
    source         String,
    status         String,
    opened_at      DateTime,
    closed_at      DateTime,
    first_progress DateTime,
    last_progress  DateTime,
    declared_count Int64,
    declared_total Decimal(18, 2),
    seen_count     Int64,
    seen_total     Decimal(18, 2),
    stalls         Int64,
    as_of          DateTime,
    version        UInt64
)
ENGINE = Distributed(settlemon, settle, batches_local, cityHash64(source, batch_id));

CREATE VIEW IF NOT EXISTS settle.batches_latest ON CLUSTER settlemon AS
SELECT * FROM settle.batches FINAL;
