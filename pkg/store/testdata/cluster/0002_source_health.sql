CREATE TABLE IF NOT EXISTS settle.source_health_local ON CLUSTER settlemon
(
    source          String,
    reporter        String,
    instance        String,
    observed_at     DateTime,
    watermark       DateTime,
    watermark_lag_s Int64,
    consumer_lag    Int64,
    idle_s          Int64,
    withheld        UInt64,
    status          String,
    threshold_s     Int64,
    version         UInt64
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/settle/source_health', '{replica}', version)
PARTITION BY toYYYYMM(observed_at)
ORDER BY (source, reporter, instance, observed_at);

CREATE TABLE IF NOT EXISTS settle.source_health ON CLUSTER settlemon
(
    source          String,
    reporter        String,
    instance        String,
    observed_at     DateTime,
    watermark       DateTime,
    watermark_lag_s Int64,
    consumer_lag    Int64,
    idle_s          Int64,
    withheld        UInt64,
    status          String,
    threshold_s     Int64,
    version         UInt64
)
ENGINE = Distributed(settlemon, settle, source_health_local, cityHash64(source, reporter, instance, observed_at));

CREATE VIEW IF NOT EXISTS settle.source_health_latest ON CLUSTER settlemon AS
SELECT
    source,
    reporter,
    instance,
    max(observed_at)                           AS last_observed_at,
    argMax(watermark, observed_at)             AS watermark,
    argMax(watermark_lag_s, observed_at)       AS watermark_lag_s,
    argMax(consumer_lag, observed_at)          AS consumer_lag,
    argMax(idle_s, observed_at)                AS idle_s,
    argMax(withheld, observed_at)              AS withheld,
    argMax(status, observed_at)                AS status,
    argMax(threshold_s, observed_at)           AS threshold_s
FROM settle.source_health
GROUP BY source, reporter, instance;
