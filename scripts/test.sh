#!/usr/bin/env bash
# The project's test command (README: "Run the tests"). CI (.ci/run) calls exactly this.
#
#  1. cargo test: unit tests, virtual-time connection-manager tests, and integration tests
#     against the embedded mock cluster (gregor-mock); then that the response guard's generated
#     layouts are current (scripts/gen-guard-schemas.py --check).
#  2. Third-party proof: librdkafka (confluent-kafka from PyPI) produces to and consumes from
#     `gregor mock`.
#  3. Real Apache Kafka 4.3.1 (3 brokers from Maven Central jars, started here and stopped on
#     exit): the integration suite with GREGOR_KAFKA_BOOTSTRAP set. GREGOR_SKIP_KAFKA=1 skips it.
#     Then the chaos scenarios on the same cluster (issues #19, #12; GREGOR_SKIP_CHAOS=1 skips).
#  4. Broker compatibility (issue #13): every check of compat_real.rs against the oldest (2.1.1)
#     and the newest (4.4.0) Apache Kafka release (scripts/compat.sh; GREGOR_SKIP_COMPAT=1 skips).
#  5. cargo-fuzz on response and record-batch decoding, GREGOR_FUZZ_SECONDS (30) per target,
#     twice that for decode_response (every response gregor decodes).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p target

kafka=0
if [ "${GREGOR_SKIP_KAFKA:-0}" != 1 ]; then
    kafka=1
    # Start the cluster while cargo builds; it is stopped (by PID) whatever happens.
    trap 'scripts/kafka-cluster.sh stop >/dev/null 2>&1 || true' EXIT
    # KAFKA_SECURITY=1: SASL_SSL and SASL_PLAINTEXT listeners beside PLAINTEXT (issue #8).
    KAFKA_SECURITY=1 scripts/kafka-cluster.sh start > target/kafka-start.log 2>&1 &
    kafka_pid=$!
fi

# kcat from Debian's packages: the CLI tests compare `gregor consume` with it byte for byte
# (they check fixed expectations only, and say so, where it cannot be installed).
echo "== kcat: $(scripts/setup-kcat.sh | tail -1)"

echo "== cargo test (unit, virtual-time, gregor-mock integration)"
cargo build --locked --workspace --bins --tests
cargo test --locked --workspace
# The guard's response layouts are what the script generates from the kafka-protocol decoders
# in Cargo.lock (the crate's sources are in Cargo's registry after the build; under a second).
python3 scripts/gen-guard-schemas.py --check

# Packaging of the published crates (issue #17): MSRV of the locked dependencies, no C in the
# pure-Rust feature set, `cargo publish --dry-run --no-verify` (~30 s). The full check (builds
# with the MSRV toolchain, without default features, rustdoc with warnings denied, the packaged
# crates built; ~10 min) is `scripts/check-crates.sh`.
# The examples that run against the embedded mock and check what they show (issue #17; a few
# seconds each, built by cargo test above): producing, at-least-once with stored offsets across
# a crash, a rebalance listener committing what was processed.
echo "== examples"
for example in produce at_least_once rebalance_listener; do
    cargo run --locked -q -p gregor --example "$example"
done

echo "== crates (packaging)"
bash scripts/check-crates.sh --quick

echo "== librdkafka against gregor mock"
PY=$(scripts/setup-python.sh | tail -1)
GREGOR_BIN="$PWD/target/debug/gregor" "$PY" tests-python/test_mock_librdkafka.py
# librdkafka still places keys as the committed vectors say (gregor's `partitioner` unit test
# checks its hashes against the same file; ~10 s).
GREGOR_BIN="$PWD/target/debug/gregor" "$PY" tests-python/partitioner_vectors.py --check crates/gregor/src/producer/librdkafka_partitions.json

if [ "$kafka" = 1 ]; then
    echo "== real Apache Kafka 4.3.1"
    if ! wait "$kafka_pid"; then
        cat target/kafka-start.log
        echo "the Kafka cluster did not start" >&2
        exit 1
    fi
    GREGOR_KAFKA_BOOTSTRAP=$(tail -1 target/kafka-start.log | sed 's/^bootstrap.servers=//')
    export GREGOR_KAFKA_BOOTSTRAP
    echo "bootstrap.servers=$GREGOR_KAFKA_BOOTSTRAP"
    # One at a time: one of them stops and restarts a broker.
    cargo test --locked -p gregor --test kafka_real -- --test-threads=1
    cargo test --locked -p gregor --test producer_kafka -- --ignored --test-threads=1
    # Idempotent producer through cut connections and broker restarts (~2 min).
    cargo test --locked -p gregor --test idempotence_kafka -- --test-threads=1
    # Transaction version 2 (KIP-890, finalized by default in 4.3.1): no AddPartitionsToTxn /
    # AddOffsetsToTxn, EndTxn v5, fencing (~10 s).
    cargo test --locked -p gregor --test transactions_kafka
    # Exactly-once (issue #15): the eos example killed with -9 inside open transactions and
    # restarted; gregor's and Java's read_committed consumers each see every input once (~1 min).
    bash scripts/eos-kafka.sh
    cargo test --locked -p gregor --test consumer_kip848 kafka_ -- --test-threads=1
    # A record produced while the consumer's Fetches are parked (fetch.max.wait.ms 120 s, so
    # a record left out of the parked Fetch fails the test) comes back on the next poll (~2 s).
    cargo test --locked -p gregor --test fetch_wakeup real_kafka -- --test-threads=1
    cargo test --locked -p gregor-cli --test cli_hostile_and_kafka real_kafka
    cargo test --locked -p gregor-cli --test inspect_cmds real_kafka_metadata_offsets_groups
    # SASL (PLAIN, SCRAM-SHA-256/512) over SASL_SSL and SASL_PLAINTEXT; the script wrote the
    # listeners, the CA file and the user to security.env.
    set -a
    # shellcheck disable=SC1091
    source "${KAFKA_DATA_DIR:-target/kafka}/security.env"
    set +a
    cargo test --locked -p gregor --test security_sasl real_kafka -- --test-threads=1
    cargo test --locked -p gregor --test security_tls real_kafka
    cargo test --locked -p gregor-cli --test inspect_cmds real_kafka_wrong_security_protocol
    # `gregor produce` over SASL_SSL (a Java .properties file, SCRAM-SHA-512) and SASL_PLAINTEXT
    # (PLAIN from -X), read back over SASL_SSL with SCRAM-SHA-256 (issue #15 item 6; ~5 s).
    cargo test --locked -p gregor-cli --test produce_config real_kafka
    # Issue #18 (the script's MTLS, OAUTH, OIDC and REAUTH listeners, see
    # scripts/kafka/security-extra.sh): encrypted client keys over mTLS (in security_tls above),
    # OAUTHBEARER unsecured + token callback + OIDC client credentials with refresh (~12 s), and
    # KIP-368 re-authentication for every mechanism over several 4 s sessions (~8 s).
    cargo test --locked -p gregor --test security_oauth real_kafka -- --test-threads=1
    cargo test --locked -p gregor --test security_reauth real_kafka
    if [ "${GREGOR_SKIP_CHAOS:-0}" != 1 ]; then
        # Fault injection on this cluster (crates/gregor-chaos, docs/reliability.md), one group
        # per protocol (classic and KIP-848) on the same topic, gregor members as processes:
        #  - issue #19's rolling restart: 215 000 records, every one read, both members alive;
        #  - issue #12's suite: a producer writing throughout, 3 members per group, rolling
        #    restart, kill -9 of a broker, leader election, reassignment, added partitions, the
        #    coordinator's broker killed, a member killed with -9; every record read, no error
        #    reaching the application, committed offsets never back, sockets back to L+1.
        # scripts/chaos.sh runs the same with Java's consumer beside gregor's.
        # GREGOR_SKIP_CHAOS=1 skips it.
        echo "== chaos on real Kafka: rolling restart (#19) and the fault suite (#12)"
        mkdir -p target/chaos
        target/debug/gregor-chaos rolling-restart --gregor target/debug/gregor > target/chaos/rolling-restart-gregor.json
        target/debug/gregor-chaos suite --gregor target/debug/gregor > target/chaos/suite-gregor.json
    fi
    scripts/kafka-cluster.sh stop >/dev/null
fi

if [ "$kafka" = 1 ] && [ "${GREGOR_SKIP_COMPAT:-0}" != 1 ]; then
    # The oldest and the newest Apache Kafka release of the compatibility matrix (issue #13,
    # docs/compatibility.md), every check on each; `scripts/compat.sh` alone runs all of them.
    # Measured on the loaded 2-core machine: 2.1.1 in 125 s, 4.4.0 in 269 s (cluster start and
    # the 8 checks each, one cluster after the other once the 4.3.1 one has stopped), so about
    # 7 minutes, plus about a minute per release the first time its jars are downloaded.
    # GREGOR_SKIP_COMPAT=1 skips it.
    echo "== broker compatibility: Apache Kafka 2.1.1 (ZooKeeper) and 4.4.0"
    bash scripts/compat.sh 2.1.1 4.4.0
fi

echo "== fuzzing (cargo-fuzz, bounded)"
bash scripts/fuzz.sh "${GREGOR_FUZZ_SECONDS:-30}"
