ALTER TABLE settle.anomalies_local ON CLUSTER settlemon ADD COLUMN bank_code String DEFAULT '';

ALTER TABLE settle.anomalies ON CLUSTER settlemon_all ADD COLUMN bank_code String DEFAULT '';

ALTER TABLE settle.anomalies_local ON CLUSTER settlemon ADD COLUMN bank_codes_version String DEFAULT '';

ALTER TABLE settle.anomalies ON CLUSTER settlemon_all ADD COLUMN bank_codes_version String DEFAULT '';

ALTER TABLE settle.anomalies_local ON CLUSTER settlemon ADD COLUMN bank_code_unknown UInt8 DEFAULT 0;

ALTER TABLE settle.anomalies ON CLUSTER settlemon_all ADD COLUMN bank_code_unknown UInt8 DEFAULT 0;

DROP TABLE IF EXISTS settle.anomalies_latest ON CLUSTER settlemon;

CREATE VIEW IF NOT EXISTS settle.anomalies_latest ON CLUSTER settlemon AS
SELECT * FROM settle.anomalies FINAL;
