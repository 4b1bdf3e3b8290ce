-- 0001_core: facts, raw archives, dead letters and the analyst views.
--
-- Written in the subset ClickHouse 18.16 and current releases both accept (COMPAT.md):
-- no DateTime64, TTL, LowCardinality or Enum; instants are UTC DateTime (seconds);
-- money is Decimal(18,2). Every table is a ReplacingMergeTree whose sorting key is the
-- identity of a row, and whose partition key is derived from columns that never change for
-- that identity, so a replayed or retried insert collapses onto the row it repeats. Read the
-- facts through the *_latest views (FINAL) or with argMax(..., version).
-- Statements end with ';' at the end of a line; every statement is idempotent.

-- One row per trace (fact.Lag). A trace is identified by trace_no within the join horizon;
-- trace numbers recycle, so the authorization time is part of the identity. The writer must
-- keep authorized_at stable for a trace across versions.
CREATE TABLE IF NOT EXISTS settlement_lag
(
    trace_no           String,
    merchant_id        String,
    terminal_id        String,
    mcc                String,
    cleared_mcc        String,
    mode               String,
    authorized_amount  Decimal(18, 2),
    cleared_amount     Decimal(18, 2),
    fee                Decimal(18, 2),
    net_paid           Decimal(18, 2),
    authorized_at      DateTime,
    cleared_at         DateTime,
    paid_at            DateTime,
    expected_payout_at DateTime,
    auth_to_clear_s    Int64,
    clear_to_pay_s     Int64,
    auth_to_pay_s      Int64,
    past_due_s         Int64,
    status             String,
    calendar_version   String,
    calendar_fallback  UInt8,
    version            UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(authorized_at)
ORDER BY (trace_no, authorized_at);

-- One row per anomaly (fact.Anomaly). detected_at must stay the same for an id across
-- versions (resolution changes status and resolved_at only).
CREATE TABLE IF NOT EXISTS anomalies
(
    id               String,
    kind             String,
    severity         String,
    status           String,
    trace_no         String,
    batch_id         String,
    merchant_id      String,
    amount           Decimal(18, 2),
    expected_amount  Decimal(18, 2),
    detected_at      DateTime,
    resolved_at      DateTime,
    reason           String,
    cause            String,
    action           String,
    details          String,
    calendar_version String,
    version          UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(detected_at)
ORDER BY id;

-- Raw archives: one row per consumed source message, identified by its Kafka coordinates,
-- so a re-delivered message collapses. payload is the original JSON.
CREATE TABLE IF NOT EXISTS auth_events
(
    topic         String,
    `partition`   UInt32,
    `offset`      UInt64,
    kafka_time    DateTime,
    event_id      String,
    type          String,
    occurred_at   DateTime,
    trace_no      String,
    merchant_id   String,
    terminal_id   String,
    response_code String,
    card_bin      String,
    card_last4    String,
    currency      String,
    amount        Decimal(18, 2),
    mcc           String,
    payload       String
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (topic, `partition`, `offset`);

CREATE TABLE IF NOT EXISTS clearing_events
(
    topic          String,
    `partition`    UInt32,
    `offset`       UInt64,
    kafka_time     DateTime,
    event_id       String,
    type           String,
    occurred_at    DateTime,
    trace_no       String,
    merchant_id    String,
    batch_id       String,
    amount         Decimal(18, 2),
    fee            Decimal(18, 2),
    mcc            String,
    declared_count Int64,
    declared_total Decimal(18, 2),
    payload        String
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (topic, `partition`, `offset`);

CREATE TABLE IF NOT EXISTS payout_events
(
    topic          String,
    `partition`    UInt32,
    `offset`       UInt64,
    kafka_time     DateTime,
    event_id       String,
    type           String,
    occurred_at    DateTime,
    trace_no       String,
    merchant_id    String,
    batch_id       String,
    amount         Decimal(18, 2),
    reason_code    String,
    reason         String,
    declared_count Int64,
    declared_total Decimal(18, 2),
    payload        String
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (topic, `partition`, `offset`);

CREATE TABLE IF NOT EXISTS merchant_events
(
    topic          String,
    `partition`    UInt32,
    `offset`       UInt64,
    kafka_time     DateTime,
    event_id       String,
    type           String,
    occurred_at    DateTime,
    merchant_id    String,
    merchant_name  String,
    registered_mcc String,
    mode           String,
    fee_rate_ppm   Int64,
    account_ref    String,
    payload        String
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (topic, `partition`, `offset`);

-- Control messages (heartbeats and the like) that were consumed but are deliberately not
-- archived as payments: kept so that every consumed offset is accounted for.
CREATE TABLE IF NOT EXISTS control_events
(
    topic       String,
    `partition` UInt32,
    `offset`    UInt64,
    kafka_time  DateTime,
    type        String,
    occurred_at DateTime,
    producer    String,
    note        String
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (topic, `partition`, `offset`);

-- Messages that could not be decoded or validated. reason is a code (e.g. bad_amount),
-- detail a human message; payload is masked by the writer (no card numbers).
CREATE TABLE IF NOT EXISTS dead_letters
(
    topic       String,
    `partition` UInt32,
    `offset`    UInt64,
    kafka_time  DateTime,
    key         String,
    reason      String,
    detail      String,
    payload     String
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(kafka_time)
ORDER BY (topic, `partition`, `offset`);

-- Latest version of every fact, for analysts.
CREATE VIEW IF NOT EXISTS settlement_lag_latest AS
SELECT * FROM settlement_lag FINAL;

CREATE VIEW IF NOT EXISTS anomalies_latest AS
SELECT * FROM anomalies FINAL;

-- Lag statistics of paid traces (seconds from authorization to payout), computed at query
-- time over the latest versions, so a retried or replayed insert is never counted twice.
-- The status filter sits outside the FINAL subquery: it must see only the latest version.
CREATE VIEW IF NOT EXISTS lag_stats_by_mode AS
SELECT
    mode,
    count() AS paid,
    quantiles(0.5, 0.95, 0.99)(auth_to_pay_s) AS q,
    q[1] AS p50_s,
    q[2] AS p95_s,
    q[3] AS p99_s,
    max(auth_to_pay_s) AS max_s
FROM (SELECT mode, status, auth_to_pay_s FROM settlement_lag FINAL)
WHERE status = 'paid'
GROUP BY mode;

CREATE VIEW IF NOT EXISTS lag_stats_by_merchant AS
SELECT
    merchant_id,
    mode,
    count() AS paid,
    quantiles(0.5, 0.95, 0.99)(auth_to_pay_s) AS q,
    q[1] AS p50_s,
    q[2] AS p95_s,
    q[3] AS p99_s,
    max(auth_to_pay_s) AS max_s
FROM (SELECT merchant_id, mode, status, auth_to_pay_s FROM settlement_lag FINAL)
WHERE status = 'paid'
GROUP BY merchant_id, mode;

CREATE VIEW IF NOT EXISTS lag_stats_by_hour AS
SELECT
    hour,
    mode,
    count() AS paid,
    quantiles(0.5, 0.95, 0.99)(auth_to_pay_s) AS q,
    q[1] AS p50_s,
    q[2] AS p95_s,
    q[3] AS p99_s,
    max(auth_to_pay_s) AS max_s
FROM (SELECT toStartOfHour(authorized_at) AS hour, mode, status, auth_to_pay_s FROM settlement_lag FINAL)
WHERE status = 'paid'
GROUP BY hour, mode;
