ALTER TABLE settle.source_health_local ON CLUSTER settlemon ADD COLUMN seq UInt64 DEFAULT 0;

ALTER TABLE settle.source_health ON CLUSTER settlemon_all ADD COLUMN seq UInt64 DEFAULT 0;

DROP TABLE IF EXISTS settle.source_health_latest ON CLUSTER settlemon;

CREATE VIEW IF NOT EXISTS settle.source_health_latest ON CLUSTER settlemon AS
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
FROM settle.source_health
GROUP BY source, reporter, instance;
