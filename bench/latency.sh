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
#   LAT_WARMUP [10]            seconds of records not measured (consumer start-up, JIT)
#   LAT_MODES ["default low"]  LAT_CLIENTS ["gregor java franz-go librdkafka"]
#   LAT_PARTITIONS [12]        LAT_RF [1]        LAT_OUT [bench/results-latency]
#   KAFKA_PORT_BASE [49090], KAFKA_DATA_DIR [/tmp/kafka-bench], KAFKA_KEEP_DATA [1]
# Run time: (LAT_SECONDS + LAT_WARMUP + ~8 s) per point; the defaults are 16 points, ~13 min.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$BENCH_DIR/.." && pwd)"
export KAFKA_PORT_BASE="${KAFKA_PORT_BASE:-49090}"
export KAFKA_DATA_DIR="${KAFKA_DATA_DIR:-/tmp/kafka-bench}"
export KAFKA_KEEP_DATA="${KAFKA_KEEP_DATA:-1}"
RATES="${LAT_RATES:-1000 50000}"
SECONDS_PER_POINT="${LAT_SECONDS:-30}"
WARMUP="${LAT_WARMUP:-10}"
MODES="${LAT_MODES:-default low}"
CLIENTS="${LAT_CLIENTS:-gregor java franz-go librdkafka}"
PARTS="${LAT_PARTITIONS:-12}"
RF="${LAT_RF:-1}"
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
for rate in $RATES; do
    total=$((rate * (SECONDS_PER_POINT + WARMUP)))
    warm=$((rate * WARMUP))
    for mode in $MODES; do
        for c in $CLIENTS; do
            t="latency-$rate-$mode-$c-$$"
            log "point rate=$rate mode=$mode client=$c topic=$t ($total records, $warm warm-up)"
            "$CLUSTER" topic-create "$t" "$PARTS" "$RF" >&2
            p="$RAW/$rate.$mode.$c"
            # The consumer reads from the start, so it may still be starting when the producer
            # begins: records of the warm-up seconds are not measured.
            # shellcheck disable=SC2046
            /usr/bin/time -f '%e %U %S %M' -o "$p.time" $(consumer_cmd "$c") "$BOOT" "$t" "$total" "$warm" "$mode" \
                >"$p.out" 2>"$p.err" &
            cpid=$!
            cat /proc/loadavg >"$p.load0"
            "$TARGET/latency-produce" "$BOOT" "$t" "$rate" "$total" >"$p.producer" 2>"$p.producer.err" || true
            wait "$cpid" || true
            cat /proc/loadavg >"$p.load1"
            python3 - "$p" "$rate" "$RAW/points.jsonl" "$c" "$mode" <<'PY'
import json, sys
p, rate, out, client, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
def last_json(path):
    try:
        lines = [l for l in open(path) if l.startswith("{")]
        return json.loads(lines[-1]) if lines else {}
    except OSError:
        return {}
r = last_json(p + ".out")
r.setdefault("client", client + " (no result)")
r.setdefault("mode", mode)
r["rate"] = rate
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

python3 - "$RAW/points.jsonl" "$OUT" "$SECONDS_PER_POINT" "$WARMUP" "$PARTS" "$RF" <<'PY'
import json, os, sys
src, out, secs, warm, parts, rf = sys.argv[1:]
rows = [json.loads(l) for l in open(src) if l.strip()]
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, "latency.jsonl"), "w") as f:
    for r in rows:
        f.write(json.dumps(r) + "\n")
ms = lambda us: "—" if us is None or us < 0 else f"{us / 1000:.1f}"
lines = [f"{secs} s measured after {warm} s warm-up per point; {parts} partitions, RF {rf}; "
         "latency = produce call -> record returned by the consumer's poll, ms (nearest rank).", "",
         "| rate/s | settings | client | p50 | p99 | p99.9 | max | measured | consumer CPU s | RSS MiB | load before/after |",
         "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---|"]
for r in rows:
    lines.append("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |".format(
        r.get("rate"), r.get("mode", "?"), r.get("client", "(failed)"), ms(r.get("p50_us")),
        ms(r.get("p99_us")), ms(r.get("p999_us")), ms(r.get("max_us")), r.get("measured", 0),
        f"{r['cpu_s']:.1f}" if "cpu_s" in r else "—",
        f"{r['rss_kib'] / 1024:.0f}" if "rss_kib" in r else "—",
        "/".join(f"{x:.1f}" for x in r.get("load", [])) or "—"))
open(os.path.join(out, "latency.md"), "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
log "results in $OUT (raw runs in $RAW)"
