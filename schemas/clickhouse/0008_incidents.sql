-- 0008_incidents: open anomalies that share one cause form one incident
-- (DESIGN §7 "Incidents"; issue 15). Every anomaly names its incident in
-- incident_key, computed by the joiner from the anomaly's structured fields
-- (pkg/incident: a batch, a bank return code on a day, a merchant's
-- settlement account, a day's clearing file or payout run, ...); the key is
-- the same in every version of an anomaly. Empty on rows written before this
-- migration, which belong to no incident.
--
-- ADD COLUMN IF NOT EXISTS is a syntax error on ClickHouse 18.16: the migrator
-- treats "column already exists" (code 44) on an ADD COLUMN as done. A view
-- keeps the columns it was created with, so anomalies_latest is re-created.
ALTER TABLE anomalies ADD COLUMN incident_key String DEFAULT '';

DROP TABLE IF EXISTS anomalies_latest;

CREATE VIEW IF NOT EXISTS anomalies_latest AS
SELECT * FROM anomalies FINAL;

-- One row per incident, computed at query time over the latest version of
-- each anomaly, so a replayed or retried insert is never counted twice: how
-- many anomalies and traces (a batch counts as one), their amount, the
-- merchants affected, the first and last detection, and the status — open
-- while any of its anomalies is open, resolved when the last one resolved
-- (incident_status; last_resolved_at is then the last resolution). severity_rank: 1 critical,
-- 2 warning, 3 info (the worst of its anomalies).
CREATE VIEW IF NOT EXISTS incidents_latest AS
SELECT
    incident_key,
    arraySort(groupUniqArray(kind))                              AS kinds,
    min(multiIf(severity = 'critical', 1, severity = 'warning', 2, 3)) AS severity_rank,
    count()                                                      AS anomalies,
    countIf(status = 'open')                                     AS open_anomalies,
    uniqExact(subject)                                           AS traces,
    sum(amount)                                                  AS total_amount,
    uniqExactIf(merchant_id, merchant_id != '')                  AS merchants,
    arraySlice(arraySort(groupUniqArrayIf(merchant_id, merchant_id != '')), 1, 20) AS some_merchants,
    min(detected_at)                                             AS first_detected_at,
    max(detected_at)                                             AS last_detected_at,
    max(resolved_at)                                             AS last_resolved_at,
    if(open_anomalies > 0, 'open', 'resolved')                   AS incident_status
FROM
(
    SELECT incident_key, kind, severity, status, amount, merchant_id, detected_at, resolved_at,
           if(trace_no != '', trace_no, concat('batch ', batch_id)) AS subject
    FROM anomalies FINAL
)
WHERE incident_key != ''
GROUP BY incident_key;
