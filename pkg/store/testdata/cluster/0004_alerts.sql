CREATE TABLE IF NOT EXISTS settle.alerts_local ON CLUSTER settlemon
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
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/settle/alerts', '{replica}', version)
PARTITION BY toYYYYMM(started_at)
ORDER BY (fingerprint, started_at);

CREATE TABLE IF NOT EXISTS settle.alerts ON CLUSTER settlemon
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
ENGINE = Distributed(settlemon, settle, alerts_local, cityHash64(fingerprint, started_at));
