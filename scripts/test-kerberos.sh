#!/usr/bin/env bash
# GSSAPI (Kerberos) end to end, outside `bash .ci/run` (it installs system packages and builds
# the `gssapi` feature): installs the KDC and headers (scripts/install-kerberos.sh), starts the
# cluster in security mode with KAFKA_KERBEROS=1 (a KDC for GREGOR.TEST and a KERBEROS listener
# on every broker), runs crates/gregor/tests/security_gssapi.rs and stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-kerberos.sh
mkdir -p target
trap 'scripts/kafka-cluster.sh stop >/dev/null 2>&1 || true' EXIT
KAFKA_SECURITY=1 KAFKA_KERBEROS=1 scripts/kafka-cluster.sh start > target/kafka-kerberos-start.log 2>&1 ||
    { cat target/kafka-kerberos-start.log; exit 1; }
GREGOR_KAFKA_BOOTSTRAP=$(tail -1 target/kafka-kerberos-start.log | sed 's/^bootstrap.servers=//')
export GREGOR_KAFKA_BOOTSTRAP
set -a
# shellcheck disable=SC1091
source "${KAFKA_DATA_DIR:-target/kafka}/security.env"
set +a
cargo test --locked -p gregor --features gssapi --test security_gssapi -- --test-threads=1
