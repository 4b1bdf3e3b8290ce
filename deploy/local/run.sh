#!/usr/bin/env bash
# The README's run command: on a fresh Debian machine, install what is missing,
# start a private ClickHouse on loopback with its data under .run/, and run the
# whole pipeline (embedded Kafka-protocol broker, simulator, ingest, joiner),
# then print the report. Extra arguments go to `settlemon-dev run` (see --help).
# It also builds bin/settlemon, whose `explain` the report suggests.
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v go >/dev/null 2>&1; then
  echo "run: Go is not installed. Install Go 1.26 or later (the project's go.mod says which), then run again." >&2
  exit 1
fi
bash deploy/clickhouse/local.sh start
mkdir -p bin .run
echo "building settlemon-dev and settlemon ..."
go build -o bin/ ./services/dev/settlemon-dev ./services/settlemon
exec ./bin/settlemon-dev run --clickhouse-addr "127.0.0.1:${SETTLEMON_CH_PORT:-19000}" "$@"
