#!/usr/bin/env bash
# local.sh — a private ClickHouse server for settlemon, for development and tests.
#
#   deploy/clickhouse/local.sh start    install if missing, write config, start, wait until it answers
#   deploy/clickhouse/local.sh stop     graceful stop (SIGTERM, then wait)
#   deploy/clickhouse/local.sh status   exit 0 when the server answers
#   deploy/clickhouse/local.sh client   clickhouse-client connected to it (extra args are passed on)
#
# The server listens on 127.0.0.1 only. Its config, data, tmp files and logs live under
# $RUN_DIR/clickhouse (RUN_DIR defaults to .run under the repository root).
#
# Environment:
#   RUN_DIR                      run folder (default: <repo>/.run)
#   SETTLEMON_CH_PORT            native TCP port (default 19000)
#   SETTLEMON_CH_HTTP_PORT       HTTP port (default 18123)
#   SETTLEMON_ANALYST_PASSWORD   password of the read-only user "analyst" (default "analyst")
#   SETTLEMON_CH_START_TIMEOUT   seconds to wait for the server to answer (default 60)
#   SETTLEMON_CH_MALLOC_CONF     the server's jemalloc options (default oversize_threshold:0,dirty_decay_ms:60000,muzzy_decay_ms:60000; see lib.sh)
#
# Users: "default" (no password, loopback only, full access) and "analyst" (readonly=1).
# deploy/clickhouse/cluster.sh runs a 2 × 2 cluster with ZooKeeper instead.
set -euo pipefail

cd "$(dirname "$0")/../.."
REPO_ROOT="$(pwd)"
LOG_PREFIX=clickhouse
# shellcheck source=deploy/clickhouse/lib.sh
. deploy/clickhouse/lib.sh

RUN_DIR="${RUN_DIR:-$REPO_ROOT/.run}"
mkdir -p "$RUN_DIR"
RUN_DIR="$(cd "$RUN_DIR" && pwd)"

CH_DIR="$RUN_DIR/clickhouse"
PORT="${SETTLEMON_CH_PORT:-19000}"
HTTP_PORT="${SETTLEMON_CH_HTTP_PORT:-18123}"
ANALYST_PASSWORD="${SETTLEMON_ANALYST_PASSWORD:-analyst}"
START_TIMEOUT="${SETTLEMON_CH_START_TIMEOUT:-60}"

CONF="$CH_DIR/config.xml"
USERS="$CH_DIR/users.xml"
PID_FILE="$CH_DIR/clickhouse-server.pid"
LOG_DIR="$CH_DIR/log"
STDOUT_LOG="$LOG_DIR/stdout.log"

answers() { ch_answers "$PORT"; }

start() {
	if pid_of "$PID_FILE" >/dev/null && answers; then
		log "already running on 127.0.0.1:$PORT (pid $(pid_of "$PID_FILE"))"
		return 0
	fi
	if answers; then
		die "something else already answers on 127.0.0.1:$PORT; set SETTLEMON_CH_PORT to another port"
	fi
	install_clickhouse_if_missing
	# A single server: no interserver port, no ZooKeeper (no replication here).
	write_server_config "$CONF" "$USERS" "$CH_DIR" "$PORT" "$HTTP_PORT" deploy/clickhouse/local.sh
	write_users_config "$USERS" "$ANALYST_PASSWORD" deploy/clickhouse/local.sh random
	start_server "$CONF" "$PID_FILE" "$STDOUT_LOG"
	wait_server "$PORT" "$PID_FILE" "$LOG_DIR" "$START_TIMEOUT" || exit 1
	log "running: native 127.0.0.1:$PORT, http 127.0.0.1:$HTTP_PORT (pid $(pid_of "$PID_FILE")), data in $CH_DIR"
	echo "127.0.0.1:$PORT"
}

stop() {
	if ! pid_of "$PID_FILE" >/dev/null; then
		rm -f "$PID_FILE"
		log "not running"
		return 0
	fi
	stop_pids "clickhouse-server=$PID_FILE"
}

status() {
	if answers; then
		local pid
		pid="$(pid_of "$PID_FILE" || echo unknown)"
		log "up on 127.0.0.1:$PORT (pid $pid)"
		return 0
	fi
	log "down (127.0.0.1:$PORT does not answer)"
	return 1
}

case "${1:-}" in
start) start ;;
stop) stop ;;
status) status ;;
client)
	shift
	exec clickhouse-client --host 127.0.0.1 --port "$PORT" "$@"
	;;
*)
	echo "usage: $0 {start|stop|status|client [clickhouse-client args]}" >&2
	exit 2
	;;
esac
