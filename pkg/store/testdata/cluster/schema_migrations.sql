CREATE DATABASE IF NOT EXISTS `settle` ON CLUSTER settlemon;

CREATE TABLE IF NOT EXISTS settle.schema_migrations_local ON CLUSTER settlemon
(
    version    UInt32,
    name       String,
    applied_at DateTime
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/settle/schema_migrations', '{replica}')
ORDER BY version;

CREATE TABLE IF NOT EXISTS settle.schema_migrations ON CLUSTER settlemon
(
    version    UInt32,
    name       String,
    applied_at DateTime
)
ENGINE = Distributed(settlemon, settle, schema_migrations_local, cityHash64(version));
