-- 0003_batches: clearing and payout batch progress (issue #4). One row per
-- evaluation of a batch by the joiner, at the source watermark as_of; the
-- highest version is the batch's current state: declared vs seen count and
-- total, first and last progress, status (open / stalled / closed /
-- incomplete). Batches are few, so the table is not partitioned.
CREATE TABLE IF NOT EXISTS batches
(
    batch_id       String,
    source         String,
    status         String,
    opened_at      DateTime,
    closed_at      DateTime,
    first_progress DateTime,
    last_progress  DateTime,
    declared_count Int64,
    declared_total Decimal(18, 2),
    seen_count     Int64,
    seen_total     Decimal(18, 2),
    stalls         Int64,
    as_of          DateTime,
    version        UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY tuple()
ORDER BY (source, batch_id);

CREATE VIEW IF NOT EXISTS batches_latest AS
SELECT * FROM batches FINAL;
