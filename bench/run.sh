#!/usr/bin/env bash
# gregor consumer benchmark against a real 3-broker Apache Kafka 4.3.1 cluster (issue #7).
#
# Usage: bench/run.sh            (one command: builds the clients, starts its own cluster, produces
#                                 the datasets once, runs every client, writes bench/results/)
# Clients (same per-record work: FNV-1a 64 over key+value summed, offsets contiguous per partition,
# CRC checks on, the same fetch settings):
#   gregor      bench/gregor-consumer (this repo's crates/gregor, release build)
#   java        bench/java/BenchConsumer.java on kafka-clients 4.3.1
#   librdkafka  bench/rdkafka-consumer (rust-rdkafka BaseConsumer, bundled librdkafka), defaults
#   librdkafka-tuned  the same binary with RDK_TUNED=1: batch consume API, queued.min.messages,
#               fetch.queue.backoff.ms as librdkafka's maintainers advise for throughput
#   franz-go    bench/franz (kgo)
#   kcat        kcat -C (Debian's package, plain C over librdkafka; reference only: it prints
#               partition, offset and payload size per record, which the report counts and checks)
#   perf-test   org.apache.kafka.tools.ConsumerPerformance (reference only; its own work per record)
#
# Environment (defaults in brackets):
#   BENCH_RECORDS_100 [1000000]   records in each 100-byte dataset (100 MB)
#   BENCH_RECORDS_1K  [100000]    records in each 1 KiB dataset (~100 MB)
#   BENCH_CODECS ["none lz4 zstd"], BENCH_SIZES ["100 1024"] ("" for none), BENCH_ROUNDS [3]
#   BENCH_PARTITIONS [12]         partitions of those datasets
#   BENCH_WIDE ["2000"]           extra 100-byte uncompressed datasets of BENCH_RECORDS_100 records
#                                 spread over this many partitions ("" for none)
#   BENCH_REGEX_TOPICS ["1000"]   extra 100-byte uncompressed dataset of BENCH_RECORDS_100 records
#                                 spread over this many one-partition topics bench-rx<N>-0000..,
#                                 read by a regex group subscription "^bench-rx<N>-.+" (time to
#                                 first record includes the group join); kcat and perf-test skip
#                                 it ("" for none). Made by bench/franz/fill-topics.
#   BENCH_CLIENTS ["gregor java librdkafka librdkafka-tuned franz-go kcat perf-test"]
#   BENCH_OUT [bench/results], BENCH_CHART [bench/bench.png]   where the report goes
#   BENCH_GROUP_RUN [1]           one group (subscribe) run per client and round, for the
#                                 time to first record in a group (rebalance delay 0)
#   BENCH_STRACE [1]              one strace run per client counting connect() calls
#   KAFKA_PORT_BASE [49090], KAFKA_DATA_DIR [/tmp/kafka-bench], KAFKA_KEEP_DATA [1] (the datasets
#   survive between runs; a topic whose record count is wrong is recreated)
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$BENCH_DIR/.." && pwd)"
export KAFKA_PORT_BASE="${KAFKA_PORT_BASE:-49090}"
export KAFKA_DATA_DIR="${KAFKA_DATA_DIR:-/tmp/kafka-bench}"
export KAFKA_KEEP_DATA="${KAFKA_KEEP_DATA:-1}"
export GROUP_INITIAL_REBALANCE_DELAY_MS=0
R100="${BENCH_RECORDS_100:-1000000}"
R1K="${BENCH_RECORDS_1K:-100000}"
CODECS="${BENCH_CODECS-none lz4 zstd}"
SIZES="${BENCH_SIZES-100 1024}"
ROUNDS="${BENCH_ROUNDS:-3}"
CLIENTS="${BENCH_CLIENTS:-gregor java librdkafka librdkafka-tuned franz-go kcat perf-test}"
PARTS="${BENCH_PARTITIONS:-12}"
WIDE="${BENCH_WIDE-2000}"
TARGET="${BENCH_TARGET_DIR:-${CARGO_TARGET_DIR:-$REPO/target}/bench}"
OUT="${BENCH_OUT:-$BENCH_DIR/results}"
CHART="${BENCH_CHART:-$BENCH_DIR/bench.png}"
RAW="$TARGET/raw-$(date -u +%Y%m%dT%H%M%SZ)"
CLUSTER="$REPO/scripts/kafka-cluster.sh"
VENV="${BENCH_VENV:-$HOME/.cache/gregor/bench-venv}"
log() { echo "bench: $*" >&2; }
mkdir -p "$TARGET" "$OUT" "$RAW"

# ------------------------------------------------------------------------------------ tools
need_pkgs=()
[[ -x /usr/bin/time ]] || need_pkgs+=(time)
command -v strace >/dev/null || need_pkgs+=(strace)
command -v cmake >/dev/null || need_pkgs+=(cmake)
# librdkafka 2.12's rdkafka_conf.c includes curl/curl.h even with WITH_CURL=0.
[[ -f /usr/include/x86_64-linux-gnu/curl/curl.h || -f /usr/include/curl/curl.h ]] || need_pkgs+=(libcurl4-openssl-dev)
if ((${#need_pkgs[@]})); then
    log "installing ${need_pkgs[*]}"
    apt-get install -y -q "${need_pkgs[@]}" >&2 || { apt-get update -q >&2 && apt-get install -y -q "${need_pkgs[@]}" >&2; }
fi
if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -c "import matplotlib" 2>/dev/null; then
    python3 -m venv "$VENV" >&2
    "$VENV/bin/pip" install -q --only-binary=:all: matplotlib >&2
fi

# ---------------------------------------------------------------------------------- cluster
cleanup() { "$CLUSTER" stop >&2 || true; }
trap cleanup EXIT
log "starting cluster (ports $KAFKA_PORT_BASE.., data $KAFKA_DATA_DIR)"
BOOT="$("$CLUSTER" start | tail -1)"
BOOT="${BOOT#bootstrap.servers=}"

topic_count() { # sum of end offsets, or 0 when the topic is missing
    { "$CLUSTER" tool org.apache.kafka.tools.GetOffsetShell --bootstrap-server "$BOOT" --topic "$1" 2>/dev/null || true; } |
        awk -F: '{s += $3} END {print s + 0}'
}

# Deterministic payload file: N lines of exactly SIZE bytes of log-like text from a seeded RNG
# (ProducerPerformance's own payload repeats one array, which lz4/zstd would shrink ~100x).
payload_file() {
    local size="$1" f="$TARGET/payload-$1.txt"
    [[ -f "$f" ]] || python3 "$BENCH_DIR/payload.py" "$size" "$f"
    echo "$f"
}

ensure_topic() { # NAME SIZE CODEC RECORDS PARTITIONS
    local t="$1" size="$2" codec="$3" n="$4" parts="$5" have
    have="$(topic_count "$t")"
    if [[ "$have" == "$n" ]]; then log "dataset $t present ($n records)"; return 0; fi
    log "producing dataset $t: $n x $size B, $codec (had $have)"
    if ((have > 0)); then "$CLUSTER" topic --delete --topic "$t" >&2; sleep 2; fi
    "$CLUSTER" topic-create "$t" "$parts" 1 >&2
    "$CLUSTER" tool org.apache.kafka.tools.ProducerPerformance --bootstrap-server "$BOOT" \
        --topic "$t" --num-records "$n" --payload-file "$(payload_file "$size")" --throughput -1 \
        --reporting-interval 60000 --command-property acks=1 linger.ms=20 batch.size=262144 \
        buffer.memory=134217728 compression.type="$codec" >&2
    have="$(topic_count "$t")"
    [[ "$have" == "$n" ]] || { log "dataset $t has $have records, want $n"; exit 1; }
}

DATASETS=()
for size in $SIZES; do
    n=$R100; ((size >= 1000)) && n=$R1K
    for codec in $CODECS; do
        t="bench-${size}b-${codec}-${n}"
        ((PARTS != 12)) && t="bench-${size}b-${codec}-p${PARTS}-${n}"
        ensure_topic "$t" "$size" "$codec" "$n" "$PARTS"
        DATASETS+=("$t:$size:$codec:$n")
    done
done
for p in $WIDE; do
    t="bench-100b-none-p${p}-${R100}"
    ensure_topic "$t" 100 none "$R100" "$p"
    DATASETS+=("$t:100:none:$R100")
done
for nt in ${BENCH_REGEX_TOPICS-1000}; do
    log "dataset bench-rx${nt}-*: $nt topics x $((R100 / nt)) records of 100 B"
    (cd "$BENCH_DIR/franz" && go build -o "$TARGET/fill-topics" ./fill-topics)
    "$TARGET/fill-topics" "$BOOT" "bench-rx${nt}-" "$nt" "$((R100 / nt))" "$(payload_file 100)" >&2
    DATASETS+=("^bench-rx${nt}-.+:100:none:$(((R100 / nt) * nt))")
done

# ----------------------------------------------------------------------------------- builds
log "building clients (release) into $TARGET"
CARGO_DIR="${CARGO_TARGET_DIR:-$TARGET/cargo}"
(cd "$BENCH_DIR/gregor-consumer" && CARGO_TARGET_DIR="$CARGO_DIR" cargo build -q --release)
(cd "$BENCH_DIR/rdkafka-consumer" && CARGO_TARGET_DIR="$CARGO_DIR" cargo build -q --release)
(cd "$BENCH_DIR/franz" && go build -o "$TARGET/bench-franz" .)
LIB="$("$CLUSTER" jars | tail -1)"
KCAT=""
[[ " $CLIENTS " == *" kcat "* ]] && KCAT="$("$REPO/scripts/setup-kcat.sh" | tail -1)"
mkdir -p "$TARGET/java" && javac -d "$TARGET/java" -cp "$LIB/*" "$BENCH_DIR/java/BenchConsumer.java"
GREGOR_BIN="$CARGO_DIR/release/bench-gregor"
RDK_BIN="$CARGO_DIR/release/bench-rdkafka"
FRANZ_BIN="$TARGET/bench-franz"
JAVA_CMD=(java -Dlog4j2.configurationFile="$REPO/scripts/kafka/log4j2-tools.properties" -cp "$TARGET/java:$LIB/*" BenchConsumer)

client_cmd() { # CLIENT TOPIC N [GROUP]
    local c="$1"; shift
    case "$c" in
        gregor) echo "$GREGOR_BIN" "$BOOT" "$@" ;;
        librdkafka) echo "$RDK_BIN" "$BOOT" "$@" ;;
        librdkafka-tuned) echo env RDK_TUNED=1 "$RDK_BIN" "$BOOT" "$@" ;;
        franz-go) echo "$FRANZ_BIN" "$BOOT" "$@" ;;
        java) echo "${JAVA_CMD[@]}" "$BOOT" "$@" ;;
    esac
}

# One measured run: records wall-clock start, then /usr/bin/time around the client.
run_one() { # OUTFILE CLIENT TOPIC N [GROUP]
    local out="$1" c="$2" t="$3" n="$4" g="${5:-}" start
    start="$(date +%s%6N)"
    if [[ "$c" == perf-test ]]; then
        # Own java line: the script's `tool` runs C1-only with a 256 MiB serial heap.
        /usr/bin/time -f '%e %U %S %M' -o "$out.time" java \
            -Dlog4j2.configurationFile="$REPO/scripts/kafka/log4j2-tools.properties" -cp "$LIB/*" \
            org.apache.kafka.tools.ConsumerPerformance --bootstrap-server "$BOOT" --topic "$t" \
            --num-records "$n" --timeout 600000 --hide-header \
            --command-property fetch.max.bytes=52428800 --command-property max.partition.fetch.bytes=1048576 \
            --command-property fetch.min.bytes=1 --command-property fetch.max.wait.ms=500 \
            --command-property check.crcs=true >"$out.out" 2>"$out.err" || true
    elif [[ "$c" == kcat ]]; then
        /usr/bin/time -f '%e %U %S %M' -o "$out.time" "$KCAT" -C -b "$BOOT" -t "$t" -o beginning -e -q \
            -c "$n" -f '%p %o %S\n' -X fetch.max.bytes=52428800 -X max.partition.fetch.bytes=1048576 \
            -X fetch.min.bytes=1 -X fetch.wait.max.ms=500 -X check.crcs=true >"$out.out" 2>"$out.err" || true
    else
        # shellcheck disable=SC2046
        /usr/bin/time -f '%e %U %S %M' -o "$out.time" $(client_cmd "$c" "$t" "$n" $g) >"$out.out" 2>"$out.err" || true
    fi
    echo "$start" >"$out.start"
}

# ------------------------------------------------------------------------------------- runs
read -r -a CL <<<"$CLIENTS"
for ((r = 1; r <= ROUNDS; r++)); do
    for ds in "${DATASETS[@]}"; do
        IFS=: read -r t size codec n <<<"$ds"
        # Rotate the client order every round so no client always runs first (page cache, JIT).
        for ((i = 0; i < ${#CL[@]}; i++)); do
            c="${CL[$(((i + r - 1) % ${#CL[@]}))]}"
            if [[ "$t" == ^* ]]; then
                # A regex: a group subscription (fresh group, so from the start).
                [[ "$c" == perf-test || "$c" == kcat ]] && continue
                log "round $r $t $c"
                run_one "$RAW/assign.$r.$t.$c" "$c" "$t" "$n" "bench-rx-$c-$r-$$"
                continue
            fi
            log "round $r $t $c"
            run_one "$RAW/assign.$r.$t.$c" "$c" "$t" "$n"
        done
    done
    if [[ "${BENCH_GROUP_RUN:-1}" == 1 ]]; then
        IFS=: read -r t size codec n <<<"${DATASETS[0]}"
        for c in "${CL[@]}"; do
            [[ "$c" == perf-test || "$c" == kcat || "$c" == librdkafka-tuned ]] && continue
            log "round $r group $t $c"
            run_one "$RAW/group.$r.$t.$c" "$c" "$t" 1000 "bench-group-$c-$r-$$"
        done
    fi
done

if [[ "${BENCH_STRACE:-1}" == 1 ]]; then
    IFS=: read -r t size codec n <<<"${DATASETS[0]}"
    ports="$(echo "$BOOT" | tr ',' '\n' | cut -d: -f2 | paste -sd'|')"
    for c in "${CL[@]}"; do
        [[ "$c" == perf-test || "$c" == kcat || "$c" == librdkafka-tuned ]] && continue
        for mode in assign group; do
            g=""; [[ $mode == group ]] && g="bench-strace-$c-$$"
            log "strace $mode $c"
            # shellcheck disable=SC2046
            strace -f -qq -e trace=connect -o "$RAW/strace.$mode.$c.txt" $(client_cmd "$c" "$t" 1000 $g) \
                >"$RAW/strace.$mode.$c.out" 2>/dev/null || true
            grep -cE "htons\((${ports})\)" "$RAW/strace.$mode.$c.txt" >"$RAW/strace.$mode.$c.count" || true
        done
    done
fi

# ------------------------------------------------------------------------------------ report
"$VENV/bin/python" "$BENCH_DIR/report.py" "$RAW" "$OUT" "$CHART"
log "results in $OUT (raw runs in $RAW)"
