ALTER TABLE settle.anomalies_local ON CLUSTER settlemon ADD COLUMN incident_key String DEFAULT '';

ALTER TABLE settle.anomalies ON CLUSTER settlemon_all ADD COLUMN incident_key String DEFAULT '';

DROP TABLE IF EXISTS settle.anomalies_latest ON CLUSTER settlemon;

CREATE VIEW IF NOT EXISTS settle.anomalies_latest ON CLUSTER settlemon AS
SELECT * FROM settle.anomalies FINAL;

CREATE VIEW IF NOT EXISTS settle.incidents_latest ON CLUSTER settlemon AS
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
    FROM settle.anomalies FINAL
)
WHERE incident_key != ''
GROUP BY incident_key;
