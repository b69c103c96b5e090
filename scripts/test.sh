#!/usr/bin/env bash
# The project's test command (README: "Run the tests"). CI (.ci/run) calls exactly this.
#
#  1. cargo test: unit tests, virtual-time connection-manager tests, and integration tests
#     against the embedded mock cluster (gregor-mock).
#  2. Third-party proof: librdkafka (confluent-kafka from PyPI) produces to and consumes from
#     `gregor mock`.
#  3. Real Apache Kafka 4.3.1 (3 brokers from Maven Central jars): the integration suite with
#     GREGOR_KAFKA_BOOTSTRAP set. Skip with GREGOR_SKIP_KAFKA=1.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo test (unit, virtual-time, gregor-mock integration)"
cargo build --locked --workspace --bins
cargo test --locked --workspace

echo "== librdkafka against gregor mock"
PY=$(scripts/setup-python.sh | tail -1)
GREGOR_BIN="$PWD/target/debug/gregor" "$PY" tests-python/test_mock_librdkafka.py
