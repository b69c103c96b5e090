#!/usr/bin/env bash
# Release readiness of the published crates (gregor, gregor-mock, gregor-cli; issue #17):
#  1. MSRV: no locked dependency needs a newer compiler than `rust-version`, and the crates
#     build (cargo check) with exactly that toolchain (installed with rustup when missing).
#  2. A pure-Rust build: gregor without default features (no `tls`/ring, no `zstd`/zstd-sys)
#     has no C build dependency in its tree, and builds.
#  3. Documentation: rustdoc with every warning an error (missing_docs is denied in the crates).
#  4. `cargo publish --dry-run` of the three crates together (packaging and a build of what
#     would be uploaded).
# Each step can be skipped: GREGOR_SKIP_MSRV=1, GREGOR_SKIP_PUBLISH=1. Targets live under
# target/msrv and target/package; both are removed at the end (disk is short).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_INCREMENTAL=0
msrv=$(sed -n 's/^rust-version = "\(.*\)"$/\1/p' Cargo.toml | head -1)

echo "== MSRV $msrv"
python3 scripts/msrv-deps.py "$msrv"
if [ "${GREGOR_SKIP_MSRV:-0}" != 1 ]; then
    if ! rustup run "$msrv" rustc --version >/dev/null 2>&1; then
        rustup toolchain install "$msrv" --profile minimal >/dev/null
    fi
    CARGO_TARGET_DIR=target/msrv cargo +"$msrv" check --locked -p gregor -p gregor-mock -p gregor-cli
    rm -rf target/msrv
fi

echo "== pure-Rust build (gregor --no-default-features)"
# Crates that compile C or generate bindings: none may be in the tree.
c_build=$(cargo tree --locked -p gregor --no-default-features -e normal,build --prefix none \
    | awk '{print $1}' | grep -E '^(cc|cmake|bindgen|pkg-config|zstd-sys|ring|aws-lc-sys|openssl-sys)$' | sort -u || true)
if [ -n "$c_build" ]; then
    echo "a build without default features still pulls in: $c_build" >&2
    exit 1
fi
cargo check --locked -p gregor --no-default-features
cargo check --locked -p gregor --no-default-features --features serde

echo "== rustdoc, warnings denied"
RUSTDOCFLAGS="-D warnings" cargo doc --locked --no-deps -p gregor -p gregor-mock --features gregor/serde

if [ "${GREGOR_SKIP_PUBLISH:-0}" != 1 ]; then
    echo "== cargo publish --dry-run"
    cargo publish --locked --dry-run --allow-dirty -p gregor -p gregor-mock -p gregor-cli
    rm -rf target/package
fi
echo "check-crates: passed"
