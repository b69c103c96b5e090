#!/usr/bin/env bash
# Exactly-once on real Kafka (issue #15): the `eos` example (crates/gregor/examples/eos: reads
# INPUT read_committed, writes each value upper-cased to OUTPUT in transactions that also commit
# the group's offsets) is killed with SIGKILL mid-stream, inside an open transaction (records
# written, offsets added), EOS_KILLS times, and restarted with the same transactional.id and
# group.instance.id; then a read_committed gregor consumer AND Java's
# kafka-console-consumer (--isolation-level read_committed) must each read every input value
# exactly once from OUTPUT: nothing missing, nothing twice, nothing else; and a read_uncommitted
# reader must see the killed runs' aborted records (the kills did land inside transactions).
#
# Usage: scripts/eos-kafka.sh
#   Uses the cluster of scripts/kafka-cluster.sh (same KAFKA_PORT_BASE / KAFKA_DATA_DIR); starts
#   one (and stops it on exit) if none is running. Fresh topics every run.
# Environment: EOS_RECORDS [20000] input records, EOS_KILLS [2] kill -9 / restart cycles,
#   EOS_LOG_DIR [target/eos] the example's output of each run.
# Takes about a minute on the loaded 2-core machine once built (scripts/test.sh runs it).
set -euo pipefail
cd "$(dirname "$0")/.."

N="${EOS_RECORDS:-20000}"
KILLS="${EOS_KILLS:-2}"
LOG_DIR="${EOS_LOG_DIR:-target/eos}"
mkdir -p "$LOG_DIR"
rm -f "$LOG_DIR"/*

die() { echo "eos-kafka: $*" >&2; exit 1; }
log() { echo "eos-kafka [${SECONDS}s]: $*" >&2; }

started_cluster=0
eos_pid=""
cleanup() {
    if [[ -n "$eos_pid" ]] && kill -0 "$eos_pid" 2>/dev/null; then kill -9 "$eos_pid" 2>/dev/null || true; fi
    if [[ "$started_cluster" == 1 ]]; then scripts/kafka-cluster.sh stop >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

if ! scripts/kafka-cluster.sh status >/dev/null 2>&1; then
    log "no cluster running: starting one"
    scripts/kafka-cluster.sh start >"$LOG_DIR/kafka-start.log" 2>&1 || { cat "$LOG_DIR/kafka-start.log"; die "cluster did not start"; }
    started_cluster=1
fi
BOOT="$(scripts/kafka-cluster.sh bootstrap | sed 's/^bootstrap.servers=//')"

cargo build --locked -q -p gregor --example eos -p gregor-cli --bin gregor 2>"$LOG_DIR/build.err" ||
    { cat "$LOG_DIR/build.err"; die "build failed"; }
log "built; cluster at $BOOT"
EOS=target/debug/examples/eos
GREGOR=target/debug/gregor

run_id="$(date +%s)-$$"
IN="eos-in-$run_id"
OUT="eos-out-$run_id"
GROUP="eos-group-$run_id"
TXN="eos-txn-$run_id"
for t in "$IN" "$OUT"; do
    scripts/kafka-cluster.sh topic-create "$t" 3 3 >/dev/null
done

# Input: N distinct values, spread over the partitions by the default partitioner.
seq -f 'rec-%07.0f' 1 "$N" >"$LOG_DIR/input.txt"
"$GREGOR" produce -b "$BOOT" -t "$IN" -X linger.ms=20 <"$LOG_DIR/input.txt" 2>"$LOG_DIR/produce.err" ||
    { cat "$LOG_DIR/produce.err"; die "filling $IN failed"; }
tr 'a-z' 'A-Z' <"$LOG_DIR/input.txt" | LC_ALL=C sort >"$LOG_DIR/expected.txt"
log "topics $IN and $OUT created, $N records in $IN"

# Small polls make many transactions, so that a kill lands inside one; static membership lets a
# restarted instance take its partitions over without waiting for the session timeout.
eos_args=("$BOOT" "$IN" "$OUT" "$GROUP" "$TXN" group.instance.id=eos-1 max.poll.records=150
    session.timeout.ms=30000)

# Prints the highest "committed N" of a run's log (0 before any).
last_committed() { { grep -o '^committed [0-9]*' "$1" || true; } | awk '{ n = $2 } END { print n + 0 }'; }

held=0
for k in $(seq 1 "$KILLS"); do
    out="$LOG_DIR/run-$k.log"
    # After committing a share of the input, the run leaves its next transaction open (records
    # written and flushed, offsets added) and says "open M": the kill lands inside it.
    target=$((N / (KILLS + 2)))
    "$EOS" "${eos_args[@]}" --hold-open-at "$target" >"$out" 2>"$LOG_DIR/run-$k.err" &
    eos_pid=$!
    deadline=$((SECONDS + 120))
    until grep -q '^open ' "$out"; do
        kill -0 "$eos_pid" 2>/dev/null || { cat "$LOG_DIR/run-$k.err"; die "run $k exited early"; }
        ((SECONDS < deadline)) || { cat "$LOG_DIR/run-$k.err"; die "run $k committed $(last_committed "$out") of $target in 120 s"; }
        sleep 0.05
    done
    kill -9 "$eos_pid"
    wait "$eos_pid" 2>/dev/null || true
    eos_pid=""
    open="$(awk '/^open / { print $2 }' "$out")"
    held=$((held + open))
    log "run $k: kill -9 after 'committed $(last_committed "$out")' with $open records in its open transaction"
done

# The last run: until 10 s without input, bounded.
out="$LOG_DIR/run-final.log"
timeout 300 "$EOS" "${eos_args[@]}" --idle-exit 10 >"$out" 2>"$LOG_DIR/run-final.err" ||
    { cat "$LOG_DIR/run-final.err"; die "the final run failed"; }
log "final run: $(last_committed "$out") records committed"

# Readers: every input exactly once, nothing else.
check() { # NAME FILE
    local name="$1" got="$2" dups missing extra
    LC_ALL=C sort "$got" >"$got.sorted"
    dups="$(LC_ALL=C uniq -d "$got.sorted" | wc -l)"
    missing="$(LC_ALL=C comm -23 "$LOG_DIR/expected.txt" <(LC_ALL=C uniq "$got.sorted") | wc -l)"
    extra="$(LC_ALL=C comm -13 "$LOG_DIR/expected.txt" <(LC_ALL=C uniq "$got.sorted") | wc -l)"
    log "$name: $(wc -l <"$got") records read, $dups duplicated, $missing missing, $extra unexpected"
    cmp -s "$LOG_DIR/expected.txt" "$got.sorted" || die "$name: the committed output is not every input exactly once"
}

"$GREGOR" consume -b "$BOOT" -t "$OUT" --from-beginning -e -X isolation.level=read_committed \
    >"$LOG_DIR/gregor-read.txt" 2>"$LOG_DIR/gregor-read.err" || { cat "$LOG_DIR/gregor-read.err"; die "gregor consume failed"; }
check "gregor read_committed" "$LOG_DIR/gregor-read.txt"

# kafka-console-consumer ends after --timeout-ms without a record (and says so on stderr).
scripts/kafka-cluster.sh tool org.apache.kafka.tools.consumer.ConsoleConsumer --bootstrap-server "$BOOT" \
    --topic "$OUT" --from-beginning --isolation-level read_committed --timeout-ms 5000 \
    >"$LOG_DIR/java-read.txt" 2>"$LOG_DIR/java-read.err" || true
grep -q "Processed a total of" "$LOG_DIR/java-read.err" || { cat "$LOG_DIR/java-read.err"; die "kafka-console-consumer failed"; }
check "kafka-console-consumer read_committed" "$LOG_DIR/java-read.txt"

# The killed runs' open transactions were written, and aborted by the next run's
# init_transactions: a read_uncommitted reader sees those records too (more if a transaction
# failed and was retried), read_committed ones never do.
"$GREGOR" consume -b "$BOOT" -t "$OUT" --from-beginning -e -X isolation.level=read_uncommitted \
    >"$LOG_DIR/uncommitted-read.txt" 2>"$LOG_DIR/uncommitted-read.err" || { cat "$LOG_DIR/uncommitted-read.err"; die "gregor consume failed"; }
uncommitted="$(wc -l <"$LOG_DIR/uncommitted-read.txt")"
log "read_uncommitted: $uncommitted records ($held in the killed runs' open transactions)"
((uncommitted >= N + held)) || die "read_uncommitted sees $uncommitted records, fewer than $N + $held: the open transactions were not written"

echo "eos-kafka: ok in ${SECONDS}s: $N inputs, $KILLS kill -9 inside open transactions ($held records aborted), each input exactly once for gregor and Java read_committed readers"
