ALTER TABLE settle.anomalies_local ON CLUSTER settlemon ADD COLUMN args String DEFAULT '';

ALTER TABLE settle.anomalies ON CLUSTER settlemon_all ADD COLUMN args String DEFAULT '';

DROP TABLE IF EXISTS settle.anomalies_latest ON CLUSTER settlemon;

CREATE VIEW IF NOT EXISTS settle.anomalies_latest ON CLUSTER settlemon AS
SELECT * FROM settle.anomalies FINAL;
