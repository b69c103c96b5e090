#!/usr/bin/env bash
# gregor producer benchmark against a real 3-broker Apache Kafka 4.3.1 cluster (issue #15, item 5).
#
# Usage: bench/producer.sh     (one command: builds the clients, starts its own cluster, runs every
#                               client on every dataset, writes bench/results-producer/)
# Clients (each sends RECORDS records with a null key, the values taken from the lines of the same
# payload file, and waits for every acknowledgement; shared settings: linger.ms=20,
# batch.size=262144, enable.idempotence=true with acks=all and false with acks=1):
#   gregor      bench/gregor-consumer/src/bin/bench-gregor-producer.rs (crates/gregor, release)
#   gregor-cli  `gregor produce` (release) reading the records as lines from a file on stdin
#   librdkafka  bench/rdkafka-consumer/src/bin/bench-rdkafka-producer.rs (rust-rdkafka BaseProducer)
#   kcat        kcat -P (Debian's package, librdkafka in C) reading the same file as gregor-cli
#   franz-go    bench/franz/producer (kgo)
#   java        org.apache.kafka.tools.ProducerPerformance 4.3.1 (--payload-file, default JVM)
#
# Environment (defaults in brackets):
#   PBENCH_RECORDS_100 [500000]   records per 100-byte run (50 MB)
#   PBENCH_RECORDS_1K  [100000]   records per 1 KiB run (~100 MB)
#   PBENCH_CODECS ["none lz4 zstd"], PBENCH_SIZES ["100 1024"], PBENCH_ACKS ["1 all"]
#   PBENCH_ROUNDS [3], PBENCH_PARTITIONS [12] (RF 1, spread over the 3 brokers)
#   PBENCH_CLIENTS ["gregor gregor-cli librdkafka kcat franz-go java"]
#   PBENCH_OUT [bench/results-producer], PBENCH_BUILD [1] (0: use the binaries already built)
#   PBENCH_GREGOR_BEFORE [unset]  another build of bench-gregor-producer (say, main's before a
#                                 change), run as client `gregor-before` beside `gregor`: a
#                                 before/after comparison within each round
#   KAFKA_PORT_BASE [19200], KAFKA_DATA_DIR [$target/bench/kafka-producer]
#   PBENCH_BOOTSTRAP [unset]      bootstrap.servers of a cluster already running (started by
#                                 scripts/kafka-cluster.sh with the same KAFKA_PORT_BASE and
#                                 KAFKA_DATA_DIR): used and left running instead of starting one
# Rounds are interleaved (round r runs every dataset with every client, the client order rotated
# each round); each (round, size, codec) writes to a fresh topic, deleted after the round's runs
# of that size, so the brokers' disks hold at most one size's three topics.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$BENCH_DIR/.." && pwd)"
TARGET="${BENCH_TARGET_DIR:-${CARGO_TARGET_DIR:-$REPO/target}/bench}"
export KAFKA_PORT_BASE="${KAFKA_PORT_BASE:-19200}"
export KAFKA_DATA_DIR="${KAFKA_DATA_DIR:-$TARGET/kafka-producer}"
export KAFKA_KEEP_DATA=0
R100="${PBENCH_RECORDS_100:-500000}"
R1K="${PBENCH_RECORDS_1K:-100000}"
CODECS="${PBENCH_CODECS:-none lz4 zstd}"
SIZES="${PBENCH_SIZES:-100 1024}"
ACKS="${PBENCH_ACKS:-1 all}"
ROUNDS="${PBENCH_ROUNDS:-3}"
PARTS="${PBENCH_PARTITIONS:-12}"
CLIENTS="${PBENCH_CLIENTS:-gregor gregor-cli librdkafka kcat franz-go java}"
OUT="${PBENCH_OUT:-$BENCH_DIR/results-producer}"
RAW="$TARGET/producer-raw-$(date -u +%Y%m%dT%H%M%SZ)"
CLUSTER="$REPO/scripts/kafka-cluster.sh"
log() { echo "pbench: $*" >&2; }
mkdir -p "$TARGET" "$OUT" "$RAW"

[[ -x /usr/bin/time ]] || apt-get install -y -q time >&2 || { apt-get update -q >&2 && apt-get install -y -q time >&2; }
command -v cmake >/dev/null || apt-get install -y -q cmake >&2
# librdkafka 2.12's rdkafka_conf.c includes curl/curl.h even with WITH_CURL=0.
[[ -f /usr/include/x86_64-linux-gnu/curl/curl.h || -f /usr/include/curl/curl.h ]] || apt-get install -y -q libcurl4-openssl-dev >&2

# ----------------------------------------------------------------------------------- builds
log "building clients (release) into $TARGET"
CARGO_DIR="${CARGO_TARGET_DIR:-$TARGET/cargo}"
export CARGO_INCREMENTAL=0
# librdkafka in a target dir of its own: its cmake build does not wait for gregor's (one cargo
# build at a time per target dir). Only the clients asked for are built.
RDK_CARGO_DIR="$TARGET/cargo-rdkafka"
# PBENCH_BUILD=0 uses the binaries already built (cargo can wait minutes for a shared lock).
has() { [[ " $CLIENTS " == *" $1 "* ]] && [[ "${PBENCH_BUILD:-1}" == 1 || "$1" == kcat ]]; }
if has gregor; then
    (cd "$BENCH_DIR/gregor-consumer" && CARGO_TARGET_DIR="$CARGO_DIR" cargo build -q --release --bin bench-gregor-producer)
fi
if has librdkafka; then
    (cd "$BENCH_DIR/rdkafka-consumer" && CARGO_TARGET_DIR="$RDK_CARGO_DIR" cargo build -q --release --bin bench-rdkafka-producer)
fi
if has gregor-cli; then
    (cd "$REPO" && CARGO_TARGET_DIR="$CARGO_DIR" cargo build -q --release --locked -p gregor-cli --bin gregor)
fi
if has franz-go; then (cd "$BENCH_DIR/franz" && go build -o "$TARGET/bench-franz-producer" ./producer); fi
KCAT=""
if has kcat; then KCAT="$("$REPO/scripts/setup-kcat.sh" | tail -1)"; fi
LIB="$("$CLUSTER" jars | tail -1)"

# The payload: 20,000 log-like JSON lines of exactly SIZE bytes from a seeded RNG, the same
# generator (and so the same bytes) as bench/run.sh's consumer datasets; lz4/zstd shrink it by
# realistic ratios (a repeated byte array would shrink ~100x).
payload_file() {
    local size="$1" f="$TARGET/payload-$1.txt"
    [[ -f "$f" ]] || python3 "$BENCH_DIR/payload.py" "$size" "$f"
    echo "$f"
}

# The line-input clients (gregor-cli, kcat) read N lines: the payload file repeated.
input_file() { # SIZE N
    local f="$TARGET/pinput-$1-$2.txt" p
    p="$(payload_file "$1")"
    if [[ ! -f "$f" ]]; then
        python3 - "$p" "$2" "$f" <<'PY'
import sys
lines = open(sys.argv[1], "rb").read().splitlines(keepends=True)
n = int(sys.argv[2])
with open(sys.argv[3], "wb") as out:
    for i in range(n):
        out.write(lines[i % len(lines)])
PY
    fi
    echo "$f"
}

# ---------------------------------------------------------------------------------- cluster
if [[ -n "${PBENCH_BOOTSTRAP:-}" ]]; then
    BOOT="$PBENCH_BOOTSTRAP" # a cluster started by scripts/kafka-cluster.sh with the same
    log "using the running cluster $BOOT" # KAFKA_PORT_BASE / KAFKA_DATA_DIR, left running
else
    cleanup() { "$CLUSTER" stop >&2 || true; rm -rf "$KAFKA_DATA_DIR"; }
    trap cleanup EXIT
    log "starting cluster (ports $KAFKA_PORT_BASE.., data $KAFKA_DATA_DIR)"
    BOOT="$("$CLUSTER" start | tail -1)"
    BOOT="${BOOT#bootstrap.servers=}"
fi

GREGOR_BIN="$CARGO_DIR/release/bench-gregor-producer"
RDK_BIN="$RDK_CARGO_DIR/release/bench-rdkafka-producer"
CLI_BIN="$CARGO_DIR/release/gregor"
FRANZ_BIN="$TARGET/bench-franz-producer"

run_one() { # OUTPREFIX CLIENT TOPIC SIZE CODEC ACKS N
    local out="$1" c="$2" t="$3" size="$4" codec="$5" acks="$6" n="$7" idem=false p
    [[ "$acks" == all ]] && idem=true
    p="$(payload_file "$size")"
    local tm=(/usr/bin/time -f '%e %U %S %M' -o "$out.time")
    case "$c" in
    gregor) "${tm[@]}" "$GREGOR_BIN" "$BOOT" "$t" "$n" "$p" "$acks" "$codec" >"$out.out" 2>"$out.err" || true ;;
    gregor-before) "${tm[@]}" "$PBENCH_GREGOR_BEFORE" "$BOOT" "$t" "$n" "$p" "$acks" "$codec" >"$out.out" 2>"$out.err" || true ;;
    librdkafka) "${tm[@]}" "$RDK_BIN" "$BOOT" "$t" "$n" "$p" "$acks" "$codec" >"$out.out" 2>"$out.err" || true ;;
    franz-go) "${tm[@]}" "$FRANZ_BIN" "$BOOT" "$t" "$n" "$p" "$acks" "$codec" >"$out.out" 2>"$out.err" || true ;;
    gregor-cli)
        "${tm[@]}" "$CLI_BIN" produce -b "$BOOT" -t "$t" --acks "$acks" -z "$codec" -X linger.ms=20 \
            -X batch.size=262144 -X enable.idempotence=$idem <"$(input_file "$size" "$n")" >"$out.out" 2>"$out.err" || true ;;
    kcat)
        "${tm[@]}" "$KCAT" -P -b "$BOOT" -t "$t" -z "$codec" -X acks="$acks" -X linger.ms=20 \
            -X batch.size=262144 -X enable.idempotence=$idem <"$(input_file "$size" "$n")" >"$out.out" 2>"$out.err" || true ;;
    java)
        "${tm[@]}" java -cp "$LIB/*" org.apache.kafka.tools.ProducerPerformance --bootstrap-server "$BOOT" --topic "$t" \
            --num-records "$n" --payload-file "$p" --throughput -1 --reporting-interval 600000 \
            --command-property acks="$acks" compression.type="$codec" \
            linger.ms=20 batch.size=262144 enable.idempotence=$idem >"$out.out" 2>"$out.err" || true ;;
    esac
}

topic_count() { # sum of the partitions' end offsets (`gregor offsets` when built: no JVM start)
    if [[ -x "$CLI_BIN" ]]; then
        { "$CLI_BIN" offsets -b "$BOOT" -t "$1" 2>/dev/null || true; } | awk '{s += $NF} END {print s + 0}'
    else
        { "$CLUSTER" tool org.apache.kafka.tools.GetOffsetShell --bootstrap-server "$BOOT" --topic "$1" 2>/dev/null || true; } |
            awk -F: '{s += $3} END {print s + 0}'
    fi
}

read -r -a CL <<<"$CLIENTS"
for ((r = 1; r <= ROUNDS; r++)); do
    for size in $SIZES; do
        n=$R100; ((size >= 1000)) && n=$R1K
        input_file "$size" "$n" >/dev/null
        for codec in $CODECS; do
            t="pbench-r$r-$size-$codec"
            "$CLUSTER" topic-create "$t" "$PARTS" 1 >&2
            expect=0
            for acks in $ACKS; do
                for ((i = 0; i < ${#CL[@]}; i++)); do
                    c="${CL[(i + r - 1) % ${#CL[@]}]}"
                    log "round $r: $size B $codec acks=$acks $c"
                    run_one "$RAW/$r.$size.$codec.$acks.$c" "$c" "$t" "$size" "$codec" "$acks" "$n"
                    expect=$((expect + n))
                done
            done
            # Every client's records arrived (a client that lost or duplicated some shows here).
            have="$(topic_count "$t")"
            echo "$have $expect" >"$RAW/$r.$size.$codec.count"
            [[ "$have" == "$expect" ]] || log "topic $t has $have records, the clients sent $expect"
        done
        # One TopicCommand start for the size's three topics (a JVM start is seconds here).
        "$CLUSTER" topic --delete --topic "pbench-r$r-$size-.*" >&2
    done
done

python3 "$BENCH_DIR/producer_report.py" "$RAW" "$OUT"
log "results in $OUT (raw runs in $RAW)"
