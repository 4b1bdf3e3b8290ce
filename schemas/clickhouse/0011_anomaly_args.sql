-- 0011_anomaly_args: an anomaly's specifics as values (issue 15), so that a
-- reader renders its details in the reader's language rather than reading
-- the English sentence in `details`: a JSON object of the fields of the
-- anomaly's Args that are set (amounts in fen, times in Unix ms, durations
-- in ms, the settlement mode, event type and source by name). Empty when the
-- anomaly has none and on rows written before this migration, which read as
-- their stored details.
--
-- ADD COLUMN IF NOT EXISTS is a syntax error on ClickHouse 18.16: the migrator
-- treats "column already exists" (code 44) on an ADD COLUMN as done. A view
-- keeps the columns it was created with, so anomalies_latest is re-created.
ALTER TABLE anomalies ADD COLUMN args String DEFAULT '';

DROP TABLE IF EXISTS anomalies_latest;

CREATE VIEW IF NOT EXISTS anomalies_latest AS
SELECT * FROM anomalies FINAL;
