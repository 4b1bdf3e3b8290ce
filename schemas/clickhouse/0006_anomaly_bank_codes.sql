-- 0006_anomaly_bank_codes: payout_failed anomalies name the bank's return code,
-- the version of the return-code catalogue (schemas/bank/return-codes.json or
-- the joiner's --bank-codes-file) that mapped it to `reason`, and whether that
-- catalogue lacked the code (then `reason` is 'other'). Empty / 0 on every
-- other kind and on rows written before this migration.
--
-- ADD COLUMN IF NOT EXISTS is a syntax error on ClickHouse 18.16: the migrator
-- treats "column already exists" (code 44) on an ADD COLUMN as done, so a
-- migration interrupted half-way is applied again. A view keeps the columns it
-- was created with, so anomalies_latest is re-created to show the new ones.
ALTER TABLE anomalies ADD COLUMN bank_code String DEFAULT '';
ALTER TABLE anomalies ADD COLUMN bank_codes_version String DEFAULT '';
ALTER TABLE anomalies ADD COLUMN bank_code_unknown UInt8 DEFAULT 0;

DROP TABLE IF EXISTS anomalies_latest;

CREATE VIEW IF NOT EXISTS anomalies_latest AS
SELECT * FROM anomalies FINAL;
