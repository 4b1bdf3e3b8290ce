-- 0007_source_health_seq: a strict order for source health reports. Two
-- reports of one source by one reporter can share observed_at to the
-- millisecond (in replay "now" is the highest event time, which stands still
-- once the input is read), and argMax(status, observed_at) then picked either
-- row: a finished, healthy run flipped between ok and lagging on every read.
-- seq is the writer's sequence (pkg/store: strictly increasing per process,
-- starting from the wall clock in nanoseconds), so (version, seq) — version
-- is observed_at in ms — orders every report of a reporter instance, and the
-- latest one is unique. Rows written before this migration have seq 0.
--
-- ADD COLUMN IF NOT EXISTS is a syntax error on ClickHouse 18.16: the migrator
-- treats "column already exists" (code 44) on an ADD COLUMN as done. A view
-- keeps the columns it was created with, so source_health_latest is
-- re-created.
ALTER TABLE source_health ADD COLUMN seq UInt64 DEFAULT 0;

DROP TABLE IF EXISTS source_health_latest;

-- The latest report of each source by each reporter instance: the row with
-- the highest (version, seq). last_version and last_seq order the instances'
-- latest reports among themselves.
CREATE VIEW IF NOT EXISTS source_health_latest AS
SELECT
    source,
    reporter,
    instance,
    argMax(observed_at, (version, seq))        AS last_observed_at,
    argMax(watermark, (version, seq))          AS watermark,
    argMax(watermark_lag_s, (version, seq))    AS watermark_lag_s,
    argMax(consumer_lag, (version, seq))       AS consumer_lag,
    argMax(idle_s, (version, seq))             AS idle_s,
    argMax(withheld, (version, seq))           AS withheld,
    argMax(status, (version, seq))             AS status,
    argMax(threshold_s, (version, seq))        AS threshold_s,
    max(version)                               AS last_version,
    argMax(seq, (version, seq))                AS last_seq
FROM source_health
GROUP BY source, reporter, instance;
