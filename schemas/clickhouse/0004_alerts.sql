-- 0004_alerts: the alerter's history (issue #4). One row per version of an alert episode:
-- an alert (fingerprint: a hash of its labels) starts firing, is re-sent while it fires and
-- resolves; firing again later is a new episode, a new row. The alerter writes a version
-- after each notification it delivered, so a restarted alerter knows what it already sent
-- (and re-sends what it had decided but not delivered). labels and annotations are JSON
-- objects. started_at and ended_at are when the condition began and cleared (event time for
-- batch anomalies, the alerter's clock otherwise), last_sent_at is the alerter's wall clock.
-- Operational data, not part of the replay guarantees. started_at never changes within an
-- episode.
CREATE TABLE IF NOT EXISTS alerts
(
    fingerprint   String,
    alertname     String,
    labels        String,
    annotations   String,
    state         String,
    started_at    DateTime,
    ended_at      DateTime,
    last_sent_at  DateTime,
    notifications UInt64,
    version       UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(started_at)
ORDER BY (fingerprint, started_at);
