#!/usr/bin/env bash
# cluster.sh — a ClickHouse cluster for settlemon on one machine: Debian's ZooKeeper and four
# clickhouse-server processes, 2 shards × 2 replicas, for development and tests.
#
#   deploy/clickhouse/cluster.sh start [COMPONENT...]  install what is missing, write the configs,
#                                                      start what is not running, wait until it answers
#   deploy/clickhouse/cluster.sh stop [COMPONENT...]   graceful stop (SIGTERM, then wait); all by default
#   deploy/clickhouse/cluster.sh status                each component up or down; exit 0 when all are up
#   deploy/clickhouse/cluster.sh client NODE [ARGS]    clickhouse-client connected to NODE
#   deploy/clickhouse/cluster.sh prereqs               exit 0 when ZooKeeper and ClickHouse are installed
#   deploy/clickhouse/cluster.sh install               install what is missing of them (apt), start nothing
#
# Components: zookeeper, and the nodes s1r1 s1r2 (shard 1) s2r1 s2r2 (shard 2). Everything listens
# on 127.0.0.1 only; configs, data and logs live under $RUN_DIR/cluster (RUN_DIR defaults to .run
# under the repository root). Everything runs as the invoking user; installing the packages needs
# root (sudo when not root). ZooKeeper runs as a plain process, not as the system service.
#
# Each node has the cluster "settlemon" in <remote_servers> (internal_replication: the
# Replicated tables copy the rows), "settlemon_all" (each node a shard of its own, for ON CLUSTER
# DDL of what is not replicated), the macros {cluster}, {shard} (1, 2) and {replica} (the node
# name), <zookeeper> and <distributed_ddl> (ON CLUSTER). The profile sets load_balancing in_order
# and prefer_localhost_replica 0: a Distributed table reads from the first live replica of each
# shard, and writes there too, except that a node always writes its own shard locally.
#
# Ports are chosen free at a start with nothing running, unless given here; a component started
# while others run keeps the ports in the env file. The env file, $RUN_DIR/cluster/env, holds
#   SETTLEMON_CLUSTER_NAME, SETTLEMON_CLUSTER_NODES, SETTLEMON_CLUSTER_ADDRS (native, in node
#   order), SETTLEMON_CLUSTER_HTTP_ADDRS, SETTLEMON_CLUSTER_INTERSERVER_PORTS, SETTLEMON_ZOOKEEPER_ADDR
# and is printed by start.
#
# Environment:
#   RUN_DIR                               run folder (default: <repo>/.run)
#   SETTLEMON_ZK_PORT                     ZooKeeper client port
#   SETTLEMON_CLUSTER_PORTS               four native ports, comma-separated, in node order
#   SETTLEMON_CLUSTER_HTTP_PORTS          four HTTP ports
#   SETTLEMON_CLUSTER_INTERSERVER_PORTS   four interserver (replication) ports
#   SETTLEMON_ANALYST_PASSWORD            password of the read-only user "analyst" (default "analyst")
#   SETTLEMON_CH_START_TIMEOUT            seconds to wait for each component (default 60)
#   SETTLEMON_CH_MALLOC_CONF              the servers' jemalloc options (default oversize_threshold:0,dirty_decay_ms:60000,muzzy_decay_ms:60000; see lib.sh)
set -euo pipefail

cd "$(dirname "$0")/../.."
REPO_ROOT="$(pwd)"
LOG_PREFIX=cluster
# shellcheck source=deploy/clickhouse/lib.sh
. deploy/clickhouse/lib.sh

RUN_DIR="${RUN_DIR:-$REPO_ROOT/.run}"
mkdir -p "$RUN_DIR"
RUN_DIR="$(cd "$RUN_DIR" && pwd)"

CLUSTER=settlemon
NODES=(s1r1 s1r2 s2r1 s2r2)
CL_DIR="$RUN_DIR/cluster"
ENV_FILE="$CL_DIR/env"
ZK_DIR="$CL_DIR/zookeeper"
ZK_PID_FILE="$ZK_DIR/zookeeper.pid"
ANALYST_PASSWORD="${SETTLEMON_ANALYST_PASSWORD:-analyst}"
START_TIMEOUT="${SETTLEMON_CH_START_TIMEOUT:-60}"
ZK_JAR=/usr/share/java/zookeeper.jar

ZK_PORT=""
PORTS=()
HTTP_PORTS=()
IS_PORTS=()

node_index() {
	local i
	for i in "${!NODES[@]}"; do
		[ "${NODES[$i]}" = "$1" ] && {
			echo "$i"
			return 0
		}
	done
	die "unknown component $1 (zookeeper, ${NODES[*]})"
}
node_dir() { echo "$CL_DIR/$1"; }
node_pid_file() { echo "$CL_DIR/$1/clickhouse-server.pid"; }
shard_of() { echo "${1:1:1}"; }

zookeeper_installed() {
	[ -f "$ZK_JAR" ] && command -v java >/dev/null 2>&1
}

install_if_missing() {
	install_clickhouse_if_missing
	zookeeper_installed && return 0
	log "ZooKeeper not found: installing Debian's zookeeper with apt-get"
	apt_install --no-install-recommends zookeeper
	zookeeper_installed || die "ZooKeeper ($ZK_JAR and java) still missing after installing the zookeeper package"
}

# zk_answers: ZooKeeper replies imok to ruok.
zk_answers() {
	[ -n "$ZK_PORT" ] || return 1
	(
		exec 3<>"/dev/tcp/127.0.0.1/$ZK_PORT" || exit 1
		printf ruok >&3
		reply=""
		IFS= read -r -t 3 -n 4 reply <&3 || true
		[ "$reply" = imok ]
	) 2>/dev/null
}

split_ports() { # split_ports VALUE: the comma-separated VALUE, one port per line, four of them
	local -a ps
	IFS=, read -r -a ps <<<"$1"
	[ "${#ps[@]}" -eq "${#NODES[@]}" ] || die "need ${#NODES[@]} comma-separated ports, got '$1'"
	printf '%s\n' "${ps[@]}"
}

# load_env: the ports of the env file (a running cluster's).
load_env() {
	local key value
	while IFS='=' read -r key value; do
		case "$key" in
		SETTLEMON_ZOOKEEPER_ADDR) ZK_PORT="${value##*:}" ;;
		SETTLEMON_CLUSTER_ADDRS) mapfile -t PORTS < <(split_ports "$(echo "$value" | sed 's/127\.0\.0\.1://g')") ;;
		SETTLEMON_CLUSTER_HTTP_ADDRS) mapfile -t HTTP_PORTS < <(split_ports "$(echo "$value" | sed 's/127\.0\.0\.1://g')") ;;
		SETTLEMON_CLUSTER_INTERSERVER_PORTS) mapfile -t IS_PORTS < <(split_ports "$value") ;;
		esac
	done <"$ENV_FILE"
}

anything_running() {
	local n
	pid_of "$ZK_PID_FILE" >/dev/null && return 0
	for n in "${NODES[@]}"; do
		pid_of "$(node_pid_file "$n")" >/dev/null && return 0
	done
	return 1
}

# choose_ports: from the environment, else free ones.
choose_ports() {
	local -a taken=()
	local i
	if [ -n "${SETTLEMON_CLUSTER_PORTS:-}" ]; then mapfile -t PORTS < <(split_ports "$SETTLEMON_CLUSTER_PORTS"); fi
	if [ -n "${SETTLEMON_CLUSTER_HTTP_PORTS:-}" ]; then mapfile -t HTTP_PORTS < <(split_ports "$SETTLEMON_CLUSTER_HTTP_PORTS"); fi
	if [ -n "${SETTLEMON_CLUSTER_INTERSERVER_PORTS:-}" ]; then mapfile -t IS_PORTS < <(split_ports "$SETTLEMON_CLUSTER_INTERSERVER_PORTS"); fi
	ZK_PORT="${SETTLEMON_ZK_PORT:-}"
	taken=("${PORTS[@]}" "${HTTP_PORTS[@]}" "${IS_PORTS[@]}" "$ZK_PORT")
	if [ -z "$ZK_PORT" ]; then
		ZK_PORT="$(free_port "${taken[@]}")"
		taken+=("$ZK_PORT")
	fi
	for i in "${!NODES[@]}"; do
		if [ -z "${PORTS[$i]:-}" ]; then
			PORTS[i]="$(free_port "${taken[@]}")"
			taken+=("${PORTS[$i]}")
		fi
		if [ -z "${HTTP_PORTS[$i]:-}" ]; then
			HTTP_PORTS[i]="$(free_port "${taken[@]}")"
			taken+=("${HTTP_PORTS[$i]}")
		fi
		if [ -z "${IS_PORTS[$i]:-}" ]; then
			IS_PORTS[i]="$(free_port "${taken[@]}")"
			taken+=("${IS_PORTS[$i]}")
		fi
	done
}

join_addrs() { # join_addrs PORT...: 127.0.0.1:PORT,...
	local out="" p
	for p in "$@"; do out="$out,127.0.0.1:$p"; done
	echo "${out#,}"
}

write_env() {
	local tmp="$ENV_FILE.tmp"
	local IFS=,
	{
		echo "SETTLEMON_CLUSTER_NAME=$CLUSTER"
		echo "SETTLEMON_CLUSTER_NODES=${NODES[*]}"
		echo "SETTLEMON_CLUSTER_ADDRS=$(join_addrs "${PORTS[@]}")"
		echo "SETTLEMON_CLUSTER_HTTP_ADDRS=$(join_addrs "${HTTP_PORTS[@]}")"
		echo "SETTLEMON_CLUSTER_INTERSERVER_PORTS=${IS_PORTS[*]}"
		echo "SETTLEMON_ZOOKEEPER_ADDR=127.0.0.1:$ZK_PORT"
	} >"$tmp"
	mv "$tmp" "$ENV_FILE"
}

zk_classpath() {
	# zookeeper.jar's manifest names its dependencies; slf4j-log4j12 and log4j 1.2 (when present)
	# give it a log file instead of no logging at all.
	local cp="$ZK_JAR" j
	for j in /usr/share/java/slf4j-log4j12.jar /usr/share/java/log4j-1.2.jar; do
		[ -f "$j" ] && cp="$cp:$j"
	done
	echo "$cp"
}

start_zookeeper() {
	if pid_of "$ZK_PID_FILE" >/dev/null; then
		log "zookeeper already running on 127.0.0.1:$ZK_PORT (pid $(pid_of "$ZK_PID_FILE"))"
		return 0
	fi
	port_in_use "$ZK_PORT" && die "something else listens on 127.0.0.1:$ZK_PORT; set SETTLEMON_ZK_PORT to another port"
	mkdir -p "$ZK_DIR/data" "$ZK_DIR/log"
	cat >"$ZK_DIR/zoo.cfg" <<EOF
# Generated by deploy/clickhouse/cluster.sh; rewritten on every start.
tickTime=2000
initLimit=10
syncLimit=5
dataDir=$ZK_DIR/data
clientPort=$ZK_PORT
clientPortAddress=127.0.0.1
admin.enableServer=false
4lw.commands.whitelist=ruok,srvr,mntr
maxClientCnxns=0
autopurge.snapRetainCount=3
autopurge.purgeInterval=1
EOF
	cat >"$ZK_DIR/log4j.properties" <<EOF
# Generated by deploy/clickhouse/cluster.sh; rewritten on every start.
log4j.rootLogger=WARN, FILE
log4j.appender.FILE=org.apache.log4j.RollingFileAppender
log4j.appender.FILE.File=$ZK_DIR/log/zookeeper.log
log4j.appender.FILE.MaxFileSize=10MB
log4j.appender.FILE.MaxBackupIndex=3
log4j.appender.FILE.layout=org.apache.log4j.PatternLayout
log4j.appender.FILE.layout.ConversionPattern=%d{ISO8601} %-5p [%t] %c{1}: %m%n
EOF
	log "starting zookeeper on 127.0.0.1:$ZK_PORT (config $ZK_DIR/zoo.cfg)"
	nohup java -Xmx256m -XX:+UseSerialGC -Dlog4j.configuration="file:$ZK_DIR/log4j.properties" \
		-Dzookeeper.log.dir="$ZK_DIR/log" -cp "$(zk_classpath)" \
		org.apache.zookeeper.server.quorum.QuorumPeerMain "$ZK_DIR/zoo.cfg" \
		>"$ZK_DIR/log/stdout.log" 2>&1 </dev/null &
	echo $! >"$ZK_PID_FILE"
	local waited=0
	until zk_answers; do
		if ! pid_of "$ZK_PID_FILE" >/dev/null; then
			log "zookeeper exited during start-up; last log lines:"
			tail -n 30 "$ZK_DIR/log/zookeeper.log" "$ZK_DIR/log/stdout.log" >&2 2>/dev/null || true
			rm -f "$ZK_PID_FILE"
			exit 1
		fi
		[ "$waited" -lt "$((START_TIMEOUT * 5))" ] || {
			tail -n 30 "$ZK_DIR/log/zookeeper.log" "$ZK_DIR/log/stdout.log" >&2 2>/dev/null || true
			die "zookeeper did not answer on 127.0.0.1:$ZK_PORT within ${START_TIMEOUT}s"
		}
		sleep 0.2
		waited=$((waited + 1))
	done
	log "zookeeper up on 127.0.0.1:$ZK_PORT (pid $(pid_of "$ZK_PID_FILE"))"
}

# cluster_xml: <remote_servers> of every node.
cluster_xml() {
	local s i n
	echo "    <remote_servers>"
	echo "        <$CLUSTER>"
	for s in 1 2; do
		echo "            <shard>"
		echo "                <internal_replication>true</internal_replication>"
		for i in "${!NODES[@]}"; do
			n="${NODES[$i]}"
			[ "$(shard_of "$n")" = "$s" ] || continue
			echo "                <replica><host>127.0.0.1</host><port>${PORTS[$i]}</port></replica>"
		done
		echo "            </shard>"
	done
	echo "        </$CLUSTER>"
	# Every node as a shard of its own: ON CLUSTER for what is not replicated (ALTER of a
	# Distributed table or a view), which the replicated cluster refuses (code 371).
	echo "        <${CLUSTER}_all>"
	for i in "${!NODES[@]}"; do
		echo "            <shard><replica><host>127.0.0.1</host><port>${PORTS[$i]}</port></replica></shard>"
	done
	echo "        </${CLUSTER}_all>"
	echo "    </remote_servers>"
}

write_node_config() {
	local n="$1" i dir extra
	i="$(node_index "$n")"
	dir="$(node_dir "$n")"
	mkdir -p "$dir"
	extra="    <interserver_http_host>127.0.0.1</interserver_http_host>
    <interserver_http_port>${IS_PORTS[$i]}</interserver_http_port>
    <zookeeper>
        <node><host>127.0.0.1</host><port>$ZK_PORT</port></node>
    </zookeeper>
$(cluster_xml)
    <macros>
        <cluster>$CLUSTER</cluster>
        <shard>$(shard_of "$n")</shard>
        <replica>$n</replica>
    </macros>
    <distributed_ddl>
        <path>/clickhouse/task_queue/ddl</path>
    </distributed_ddl>
"
	write_server_config "$dir/config.xml" "$dir/users.xml" "$dir" "${PORTS[$i]}" "${HTTP_PORTS[$i]}" \
		deploy/clickhouse/cluster.sh "$extra"
	write_users_config "$dir/users.xml" "$ANALYST_PASSWORD" deploy/clickhouse/cluster.sh in_order \
		"            <prefer_localhost_replica>0</prefer_localhost_replica>
"
}

# start_nodes NODE...: start those not running, all at once, then wait for each.
start_nodes() {
	local n i started=()
	for n in "$@"; do
		i="$(node_index "$n")"
		if pid_of "$(node_pid_file "$n")" >/dev/null; then
			log "$n already running on 127.0.0.1:${PORTS[$i]}"
			continue
		fi
		ch_answers "${PORTS[$i]}" && die "something else answers on 127.0.0.1:${PORTS[$i]} ($n); set SETTLEMON_CLUSTER_PORTS"
		write_node_config "$n"
		start_server "$(node_dir "$n")/config.xml" "$(node_pid_file "$n")" "$(node_dir "$n")/log/stdout.log"
		started+=("$n")
	done
	for n in "${started[@]}"; do
		i="$(node_index "$n")"
		wait_server "${PORTS[$i]}" "$(node_pid_file "$n")" "$(node_dir "$n")/log" "$START_TIMEOUT" || exit 1
		log "$n up: native 127.0.0.1:${PORTS[$i]}, http 127.0.0.1:${HTTP_PORTS[$i]}, interserver ${IS_PORTS[$i]}"
	done
	pid_of "$ZK_PID_FILE" >/dev/null || return 0
	# ZooKeeper is up: wait until each started node has its session.
	for n in "${started[@]}"; do
		i="$(node_index "$n")"
		local waited=0
		until clickhouse-client --host 127.0.0.1 --port "${PORTS[$i]}" \
			-q "SELECT count() FROM system.zookeeper WHERE path = '/'" >/dev/null 2>&1; do
			[ "$waited" -lt "$START_TIMEOUT" ] || die "$n has no ZooKeeper session after ${START_TIMEOUT}s"
			sleep 1
			waited=$((waited + 1))
		done
	done
}

start() {
	local -a want=("$@") nodes=()
	local c zk=""
	[ "${#want[@]}" -gt 0 ] || want=(zookeeper "${NODES[@]}")
	for c in "${want[@]}"; do
		if [ "$c" = zookeeper ]; then zk=1; else
			node_index "$c" >/dev/null
			nodes+=("$c")
		fi
	done
	install_if_missing
	mkdir -p "$CL_DIR"
	if anything_running && [ -f "$ENV_FILE" ]; then
		load_env
	else
		choose_ports
		write_env
	fi
	[ -n "$zk" ] && start_zookeeper
	[ "${#nodes[@]}" -gt 0 ] && start_nodes "${nodes[@]}"
	log "env in $ENV_FILE; data under $CL_DIR"
	cat "$ENV_FILE"
}

stop() {
	local -a want=("$@") args=()
	local c zk=""
	[ "${#want[@]}" -gt 0 ] || want=("${NODES[@]}" zookeeper)
	for c in "${want[@]}"; do
		if [ "$c" = zookeeper ]; then zk=1; else
			node_index "$c" >/dev/null
			args+=("$c=$(node_pid_file "$c")")
		fi
	done
	# The servers first, then ZooKeeper, so that none of them loses its session on the way out.
	[ "${#args[@]}" -gt 0 ] && stop_pids "${args[@]}"
	[ -n "$zk" ] && stop_pids "zookeeper=$ZK_PID_FILE"
	return 0
}

status() {
	local ok=0 n i
	[ -f "$ENV_FILE" ] || {
		log "down (no $ENV_FILE)"
		return 1
	}
	load_env
	if pid_of "$ZK_PID_FILE" >/dev/null && zk_answers; then
		log "zookeeper up on 127.0.0.1:$ZK_PORT"
	else
		log "zookeeper down (127.0.0.1:$ZK_PORT)"
		ok=1
	fi
	for i in "${!NODES[@]}"; do
		n="${NODES[$i]}"
		if pid_of "$(node_pid_file "$n")" >/dev/null && ch_answers "${PORTS[$i]}"; then
			log "$n up on 127.0.0.1:${PORTS[$i]}"
		else
			log "$n down (127.0.0.1:${PORTS[$i]})"
			ok=1
		fi
	done
	return "$ok"
}

prereqs() {
	local ok=0
	clickhouse_installed || {
		log "clickhouse-server or clickhouse-client is not installed"
		ok=1
	}
	zookeeper_installed || {
		log "ZooKeeper is not installed (Debian's zookeeper package: $ZK_JAR, and java)"
		ok=1
	}
	return "$ok"
}

case "${1:-}" in
start)
	shift
	start "$@"
	;;
stop)
	shift
	stop "$@"
	;;
status) status ;;
prereqs) prereqs ;;
install) install_if_missing ;;
client)
	[ -n "${2:-}" ] || die "usage: $0 client NODE [clickhouse-client args]"
	[ -f "$ENV_FILE" ] || die "no $ENV_FILE: start the cluster first"
	load_env
	i="$(node_index "$2")"
	shift 2
	exec clickhouse-client --host 127.0.0.1 --port "${PORTS[$i]}" "$@"
	;;
*)
	echo "usage: $0 {start [COMPONENT...]|stop [COMPONENT...]|status|client NODE [args]|prereqs|install}" >&2
	echo "components: zookeeper ${NODES[*]}" >&2
	exit 2
	;;
esac
