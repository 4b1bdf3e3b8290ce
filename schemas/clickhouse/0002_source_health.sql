-- 0002_source_health: how far each source feed has delivered, as seen by the
-- joiner (watermark lag against "now", absence checks withheld while the feed
-- is behind) and by ingest (consumer lag in messages, idle time). A lagging
-- source is one ops signal instead of a storm of per-merchant absences
-- (DESIGN §5, the two-clock rule). Operational data: not part of the replay
-- guarantees; observed_at is "now" (event time in replay, wall clock live).
CREATE TABLE IF NOT EXISTS source_health
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
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(observed_at)
ORDER BY (source, reporter, instance, observed_at);

-- The latest report of each source by each reporter instance.
CREATE VIEW IF NOT EXISTS source_health_latest AS
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
FROM source_health
GROUP BY source, reporter, instance;
