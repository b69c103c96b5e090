#!/usr/bin/env bash
# End-to-end latency benchmark (issue #14 item 5, OpenMessaging-Benchmark style): produce call ->
# record handed to the application, p50 / p99 / p99.9 / max, at steady produce rates, for each
# consumer client at its defaults and at its documented low-latency settings.
#
# Usage: bench/latency.sh      (one command: builds the clients, starts its own 3-broker Apache
#                               Kafka 4.3.1 cluster, runs every point, writes bench/results-latency/)
#
# One producer for every point: bench/franz/latency-produce (franz-go, linger 0, round-robin over
# the partitions, acks=all, 100-byte values whose first 16 bytes are the sequence number and the
# Unix-ns time of the produce call). Each point is one fresh topic, one producer run and one
# consumer reading that topic from the start with assign (no group); the consumer records
# now - produce time for every record produced after the warm-up, and prints nearest-rank
# percentiles. Producer and consumer share one clock (one machine).
# Consumers (bench/*/latency-*):
#   gregor      latency-gregor (crates/gregor, release)    low: fetch.max.wait.ms=10
#   java        LatencyConsumer on kafka-clients 4.3.1      low: fetch.max.wait.ms=10
#   franz-go    latency-consume (kgo)                       low: FetchMaxWait(10ms) (default 5 s)
#   librdkafka  latency-rdkafka (rust-rdkafka BaseConsumer::poll, bundled librdkafka)
#               low: fetch.wait.max.ms=10, fetch.error.backoff.ms=10 (librdkafka's wiki "How to
#               decrease message latency")
# Every other setting is the client's default (fetch.min.bytes=1 everywhere).
#
# Environment (defaults in brackets):
#   LAT_RATES ["1000 50000"]   records/s        LAT_SECONDS [30]   measured seconds per point
#   LAT_WARMUP [5]             seconds of records not measured (consumer start-up, JIT)
#   LAT_MODES ["default low"]  LAT_CLIENTS ["gregor java franz-go librdkafka"]
#   LAT_PARTITIONS [12]        LAT_RF [1]        LAT_OUT [bench/results-latency]
#   LAT_ROUNDS [1]             rounds; each rotates the client order; the report gives every
#                              round and the median over rounds of each percentile
#   KAFKA_PORT_BASE [49090], KAFKA_DATA_DIR [/tmp/kafka-bench], KAFKA_KEEP_DATA [1]
# The producer starts once the consumer has polled once (it prints "latency-ready" on stderr).
# Run time: (LAT_SECONDS + LAT_WARMUP + ~15 s) per point; the defaults are 16 points, ~15 min
# per round on a quiet machine.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$BENCH_DIR/.." && pwd)"
export KAFKA_PORT_BASE="${KAFKA_PORT_BASE:-49090}"
export KAFKA_DATA_DIR="${KAFKA_DATA_DIR:-/tmp/kafka-bench}"
export KAFKA_KEEP_DATA="${KAFKA_KEEP_DATA:-1}"
RATES="${LAT_RATES:-1000 50000}"
SECONDS_PER_POINT="${LAT_SECONDS:-30}"
WARMUP="${LAT_WARMUP:-5}"
MODES="${LAT_MODES:-default low}"
CLIENTS="${LAT_CLIENTS:-gregor java franz-go librdkafka}"
PARTS="${LAT_PARTITIONS:-12}"
RF="${LAT_RF:-1}"
ROUNDS="${LAT_ROUNDS:-1}"
OUT="${LAT_OUT:-$BENCH_DIR/results-latency}"
TARGET="${BENCH_TARGET_DIR:-${CARGO_TARGET_DIR:-$REPO/target}/bench}"
RAW="$TARGET/latency-$(date -u +%Y%m%dT%H%M%SZ)"
CLUSTER="$REPO/scripts/kafka-cluster.sh"
log() { echo "latency: $*" >&2; }
mkdir -p "$TARGET" "$OUT" "$RAW"
command -v /usr/bin/time >/dev/null || apt-get install -y -q time >&2

cleanup() { "$CLUSTER" stop >&2 || true; }
trap cleanup EXIT
log "starting cluster (ports $KAFKA_PORT_BASE.., data $KAFKA_DATA_DIR)"
BOOT="$("$CLUSTER" start | tail -1)"
BOOT="${BOOT#bootstrap.servers=}"

log "building clients (release) into $TARGET"
CARGO_DIR="${CARGO_TARGET_DIR:-$TARGET/cargo}"
(cd "$BENCH_DIR/gregor-consumer" && CARGO_TARGET_DIR="$CARGO_DIR" cargo build -q --release --bin latency-gregor)
(cd "$BENCH_DIR/rdkafka-consumer" && CARGO_TARGET_DIR="$CARGO_DIR" cargo build -q --release --bin latency-rdkafka)
(cd "$BENCH_DIR/franz" && go build -o "$TARGET/latency-produce" ./latency-produce &&
    go build -o "$TARGET/latency-franz" ./latency-consume)
LIB="$("$CLUSTER" jars | tail -1)"
mkdir -p "$TARGET/java" && javac -d "$TARGET/java" -cp "$LIB/*" "$BENCH_DIR/java/LatencyConsumer.java"

consumer_cmd() { # CLIENT
    case "$1" in
        gregor) echo "$CARGO_DIR/release/latency-gregor" ;;
        librdkafka) echo "$CARGO_DIR/release/latency-rdkafka" ;;
        franz-go) echo "$TARGET/latency-franz" ;;
        java) echo java -Dlog4j2.configurationFile="$REPO/scripts/kafka/log4j2-tools.properties" \
            -cp "$TARGET/java:$LIB/*" LatencyConsumer ;;
    esac
}

: >"$RAW/points.jsonl"
read -r -a CL <<<"$CLIENTS"
for ((round = 1; round <= ROUNDS; round++)); do
for rate in $RATES; do
    total=$((rate * (SECONDS_PER_POINT + WARMUP)))
    warm=$((rate * WARMUP))
    for mode in $MODES; do
        for ((i = 0; i < ${#CL[@]}; i++)); do
            c="${CL[$(((i + round - 1) % ${#CL[@]}))]}"
            t="latency-$round-$rate-$mode-$c-$$"
            log "round $round point rate=$rate mode=$mode client=$c topic=$t ($total records, $warm warm-up)"
            "$CLUSTER" topic-create "$t" "$PARTS" "$RF" >&2
            p="$RAW/$round.$rate.$mode.$c"
            # The consumer reads from the start, so it may still be starting when the producer
            # begins: records of the warm-up seconds are not measured.
            # shellcheck disable=SC2046
            /usr/bin/time -f '%e %U %S %M' -o "$p.time" $(consumer_cmd "$c") "$BOOT" "$t" "$total" "$warm" "$mode" \
                >"$p.out" 2>"$p.err" &
            cpid=$!
            for ((w = 0; w < 600; w++)); do
                grep -q latency-ready "$p.err" 2>/dev/null && break
                kill -0 "$cpid" 2>/dev/null || break
                sleep 0.1
            done
            cat /proc/loadavg >"$p.load0"
            "$TARGET/latency-produce" "$BOOT" "$t" "$rate" "$total" >"$p.producer" 2>"$p.producer.err" || true
            wait "$cpid" || true
            cat /proc/loadavg >"$p.load1"
            python3 - "$p" "$rate" "$RAW/points.jsonl" "$c" "$mode" "$round" <<'PY'
import json, sys
p, rate, out, client, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
rnd = int(sys.argv[6])
def last_json(path):
    try:
        lines = [l for l in open(path) if l.startswith("{")]
        return json.loads(lines[-1]) if lines else {}
    except OSError:
        return {}
r = last_json(p + ".out")
r.setdefault("client", client + " (no result)")
r.setdefault("mode", mode)
r["rate"], r["round"] = rate, rnd
r["producer"] = last_json(p + ".producer")
try:
    e, u, s, m = open(p + ".time").read().split()[-4:]
    r.update(wall_s=float(e), cpu_s=float(u) + float(s), rss_kib=int(m))
except (OSError, ValueError):
    pass
try:  # the machine is shared: the 1-minute load average before and after the point
    r["load"] = [float(open(p + x).read().split()[0]) for x in (".load0", ".load1")]
except (OSError, ValueError, IndexError):
    pass
open(out, "a").write(json.dumps(r) + "\n")
print(json.dumps(r))
PY
            "$CLUSTER" topic --delete --topic "$t" >&2 || true
        done
    done
done
done

python3 "$BENCH_DIR/latency_report.py" "$RAW/points.jsonl" "$OUT" "$SECONDS_PER_POINT" "$WARMUP" "$PARTS" "$RF"
log "results in $OUT (raw runs in $RAW)"
