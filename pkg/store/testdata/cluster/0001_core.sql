CREATE TABLE IF NOT EXISTS settle.settlement_lag_local ON CLUSTER settlemon
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
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/settle/settlement_lag', '{replica}', version)
PARTITION BY toYYYYMM(authorized_at)
ORDER BY (trace_no, authorized_at);

CREATE TABLE IF NOT EXISTS settle.settlement_lag ON CLUSTER settlemon
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
ENGINE = Distributed(settlemon, settle, settlement_lag_local, cityHash64(trace_no, authorized_at));

CREATE TABLE IF NOT EXISTS settle.anomalies_local ON CLUSTER settlemon
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
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/settle/anomalies', '{replica}', version)
PARTITION BY toYYYYMM(detected_at)
ORDER BY id;

CREATE TABLE IF NOT EXISTS settle.anomalies ON CLUSTER settlemon
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
ENGINE = Distributed(settlemon, settle, anomalies_local, cityHash64(id));

CREATE TABLE IF NOT EXISTS settle.auth_events_local ON CLUSTER settlemon
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
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/settle/auth_events', '{replica}')
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (topic, `partition`, `offset`);

CREATE TABLE IF NOT EXISTS settle.auth_events ON CLUSTER settlemon
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
ENGINE = Distributed(settlemon, settle, auth_events_local, cityHash64(topic, `partition`, `offset`));

CREATE TABLE IF NOT EXISTS settle.clearing_events_local ON CLUSTER settlemon
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
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/settle/clearing_events', '{replica}')
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (topic, `partition`, `offset`);

CREATE TABLE IF NOT EXISTS settle.clearing_events ON CLUSTER settlemon
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
ENGINE = Distributed(settlemon, settle, clearing_events_local, cityHash64(topic, `partition`, `offset`));

CREATE TABLE IF NOT EXISTS settle.payout_events_local ON CLUSTER settlemon
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
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/settle/payout_events', '{replica}')
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (topic, `partition`, `offset`);

CREATE TABLE IF NOT EXISTS settle.payout_events ON CLUSTER settlemon
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
ENGINE = Distributed(settlemon, settle, payout_events_local, cityHash64(topic, `partition`, `offset`));

CREATE TABLE IF NOT EXISTS settle.merchant_events_local ON CLUSTER settlemon
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
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/settle/merchant_events', '{replica}')
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (topic, `partition`, `offset`);

CREATE TABLE IF NOT EXISTS settle.merchant_events ON CLUSTER settlemon
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
ENGINE = Distributed(settlemon, settle, merchant_events_local, cityHash64(topic, `partition`, `offset`));

CREATE TABLE IF NOT EXISTS settle.control_events_local ON CLUSTER settlemon
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
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/settle/control_events', '{replica}')
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (topic, `partition`, `offset`);

CREATE TABLE IF NOT EXISTS settle.control_events ON CLUSTER settlemon
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
ENGINE = Distributed(settlemon, settle, control_events_local, cityHash64(topic, `partition`, `offset`));

CREATE TABLE IF NOT EXISTS settle.dead_letters_local ON CLUSTER settlemon
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
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/settle/dead_letters', '{replica}')
PARTITION BY toYYYYMM(kafka_time)
ORDER BY (topic, `partition`, `offset`);

CREATE TABLE IF NOT EXISTS settle.dead_letters ON CLUSTER settlemon
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
ENGINE = Distributed(settlemon, settle, dead_letters_local, cityHash64(topic, `partition`, `offset`));

CREATE VIEW IF NOT EXISTS settle.settlement_lag_latest ON CLUSTER settlemon AS
SELECT * FROM settle.settlement_lag FINAL;

CREATE VIEW IF NOT EXISTS settle.anomalies_latest ON CLUSTER settlemon AS
SELECT * FROM settle.anomalies FINAL;

CREATE VIEW IF NOT EXISTS settle.lag_stats_by_mode ON CLUSTER settlemon AS
SELECT
    mode,
    count() AS paid,
    quantiles(0.5, 0.95, 0.99)(auth_to_pay_s) AS q,
    q[1] AS p50_s,
    q[2] AS p95_s,
    q[3] AS p99_s,
    max(auth_to_pay_s) AS max_s
FROM (SELECT mode, status, auth_to_pay_s FROM settle.settlement_lag FINAL)
WHERE status = 'paid'
GROUP BY mode;

CREATE VIEW IF NOT EXISTS settle.lag_stats_by_merchant ON CLUSTER settlemon AS
SELECT
    merchant_id,
    mode,
    count() AS paid,
    quantiles(0.5, 0.95, 0.99)(auth_to_pay_s) AS q,
    q[1] AS p50_s,
    q[2] AS p95_s,
    q[3] AS p99_s,
    max(auth_to_pay_s) AS max_s
FROM (SELECT merchant_id, mode, status, auth_to_pay_s FROM settle.settlement_lag FINAL)
WHERE status = 'paid'
GROUP BY merchant_id, mode;

CREATE VIEW IF NOT EXISTS settle.lag_stats_by_hour ON CLUSTER settlemon AS
SELECT
    hour,
    mode,
    count() AS paid,
    quantiles(0.5, 0.95, 0.99)(auth_to_pay_s) AS q,
    q[1] AS p50_s,
    q[2] AS p95_s,
    q[3] AS p99_s,
    max(auth_to_pay_s) AS max_s
FROM (SELECT toStartOfHour(authorized_at) AS hour, mode, status, auth_to_pay_s FROM settle.settlement_lag FINAL)
WHERE status = 'paid'
GROUP BY hour, mode;
