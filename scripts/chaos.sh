#!/usr/bin/env bash
# Fault injection on a real 3-broker Apache Kafka cluster (issues #12 and #19), gregor and the
# Java consumer through the same faults, one after the other on one cluster.
#
#   bash scripts/chaos.sh                 # suite: gregor, then Java's console consumer
#   bash scripts/chaos.sh suite gregor    # only gregor (what scripts/test.sh runs)
#   bash scripts/chaos.sh rolling-restart gregor --runs 5
#
# Scenarios (crates/gregor-chaos): `rolling-restart` is issue #19's scenario (215 000 records,
# each broker stopped and restarted in turn); `suite` is issue #12's (a producer writing
# throughout, 3 members per group, rolling restart, kill -9 of a broker, leader election,
# reassignment, added partitions, the coordinator's broker killed, a member killed with -9).
# Every protocol (classic and consumer, KIP-848) gets its own group on the same topic.
# The JSON reports go to target/chaos/<scenario>-<client>.json; docs/reliability.md explains them.
# Uses a running cluster (KAFKA_PORT_BASE / KAFKA_DATA_DIR as scripts/kafka-cluster.sh) or
# starts one and stops it on exit. Extra arguments go to gregor-chaos.
set -euo pipefail
cd "$(dirname "$0")/.."
scenario=${1:-suite}
clients=${2:-gregor,java}
shift $(( $# > 2 ? 2 : $# ))

cargo build --locked -p gregor-cli -p gregor-chaos
if ! scripts/kafka-cluster.sh status >/dev/null 2>&1; then
    trap 'scripts/kafka-cluster.sh stop >/dev/null 2>&1 || true' EXIT
    scripts/kafka-cluster.sh start
fi
mkdir -p target/chaos
status=0
for client in ${clients//,/ }; do
    out=target/chaos/$scenario-$client.json
    echo "== gregor-chaos $scenario --client $client $* (report: $out)"
    if target/debug/gregor-chaos "$scenario" --client "$client" --gregor target/debug/gregor "$@" > "$out"; then
        echo "ok: $scenario with $client"
    else
        echo "FAILED: $scenario with $client (see $out and target/chaos/*/)" >&2
        status=1
    fi
done
exit $status
