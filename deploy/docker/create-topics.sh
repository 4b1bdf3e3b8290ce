#!/bin/sh
# create-topics.sh — create settlemon's Kafka topics; run by the kafka-init service of
# docker-compose.yml (apache/kafka image) once the broker is healthy. Re-running is a
# no-op (--if-not-exists); it never changes an existing topic.
#
# Environment:
#   KAFKA_BOOTSTRAP      bootstrap server (default kafka:9092)
#   REPLICATION_FACTOR   replicas per partition (default 1: the single-node stack;
#                        3 on a three-broker cluster, see deploy/README.md)
#   KAFKA_TOPICS         path of kafka-topics.sh (default /opt/kafka/bin/kafka-topics.sh)
#
# One create_topic line per topic: name, partitions, then --config key=value pairs.
# The source topics' partition count must equal the simulator's --partitions (it sends
# heartbeats to every partition); deploy/deploytest checks both.
set -eu

BOOTSTRAP="${KAFKA_BOOTSTRAP:-kafka:9092}"
REPLICATION="${REPLICATION_FACTOR:-1}"
KAFKA_TOPICS="${KAFKA_TOPICS:-/opt/kafka/bin/kafka-topics.sh}"

# The joiner rebuilds a partition by replaying settle.events from its first offset
# (until checkpoints exist), so that topic keeps 30 days: longer than the join horizon
# (T+1 across the National Day week).
THIRTY_DAYS_MS=2592000000

create_topic() {
	name="$1"
	partitions="$2"
	shift 2
	echo "create-topics: $name ($partitions partitions, replication $REPLICATION) $*"
	"$KAFKA_TOPICS" --bootstrap-server "$BOOTSTRAP" --create --if-not-exists \
		--topic "$name" --partitions "$partitions" --replication-factor "$REPLICATION" "$@"
}

create_topic pos.authorizations 6
create_topic acq.clearing 6
create_topic acq.payouts 6
create_topic acq.merchants 6 --config cleanup.policy=compact
create_topic settle.events 6 --config retention.ms="$THIRTY_DAYS_MS"
create_topic settle.dlq 6 --config retention.ms="$THIRTY_DAYS_MS"
create_topic settle.merchants 6 --config cleanup.policy=compact

"$KAFKA_TOPICS" --bootstrap-server "$BOOTSTRAP" --describe \
	--topic 'pos.authorizations|acq.clearing|acq.payouts|acq.merchants|settle.events|settle.dlq|settle.merchants'
