#!/usr/bin/env bash
# Creates (or reuses) a Python venv outside the source tree with confluent-kafka, whose binary
# wheel bundles librdkafka. Prints the venv's python path as its last line.
#   VENV=$(scripts/setup-python.sh | tail -1)
set -euo pipefail
CONFLUENT_KAFKA_VERSION="${CONFLUENT_KAFKA_VERSION:-2.16.1}"
VENV_DIR="${GREGOR_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/gregor/venv}"
if [ ! -x "$VENV_DIR/bin/python" ]; then
    mkdir -p "$(dirname "$VENV_DIR")"
    python3 -m venv "$VENV_DIR" >&2
fi
if ! "$VENV_DIR/bin/python" -c "import confluent_kafka, sys; sys.exit(confluent_kafka.version()[0] != '$CONFLUENT_KAFKA_VERSION')" 2>/dev/null; then
    # --only-binary: librdkafka must come inside the wheel, never be compiled here.
    "$VENV_DIR/bin/pip" install --quiet --only-binary=:all: "confluent-kafka==$CONFLUENT_KAFKA_VERSION" >&2
fi
echo "$VENV_DIR/bin/python"
