#!/usr/bin/env bash
# Release readiness of the published crates (gregor, gregor-mock, gregor-cli; issue #17).
#
#   scripts/check-crates.sh           everything below (about 10 minutes on the 2-core machine)
#   scripts/check-crates.sh --quick   what CI runs from scripts/test.sh: steps 1a, 2a and 4a,
#                                     cargo metadata/tree/package only, no compilation (seconds)
#
#  1. MSRV (`rust-version` in Cargo.toml):
#     a. no locked dependency declares a newer `rust-version` (scripts/msrv-deps.py);
#     b. the crates build (`cargo check`) with exactly that toolchain, installed with rustup when
#        missing. Where rustup cannot download it (a machine that reaches package registries
#        only), this step says so and is skipped; GREGOR_SKIP_MSRV=1 skips it too.
#  2. A pure-Rust build: gregor without default features (no `tls`/ring, no `zstd`/zstd-sys)
#     a. has no C-compiling or binding-generating crate in its tree;
#     b. builds (with and without the `serde` feature).
#  3. Documentation: rustdoc with every warning an error (`missing_docs` included).
#  4. `cargo publish --dry-run` of the three crates together:
#     a. packaging (file list, metadata, versioned path dependencies) with --no-verify;
#     b. a build of exactly what would be uploaded (GREGOR_SKIP_PUBLISH=1 skips it).
# Targets live under target/msrv and target/package; both are removed at the end (disk is short).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_INCREMENTAL=0
quick=0
[ "${1:-}" = --quick ] && quick=1
msrv=$(sed -n 's/^rust-version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
crates=(-p gregor -p gregor-mock -p gregor-cli)

echo "== MSRV $msrv: dependencies"
python3 scripts/msrv-deps.py "$msrv"
if [ "$quick" = 0 ] && [ "${GREGOR_SKIP_MSRV:-0}" != 1 ]; then
    echo "== MSRV $msrv: cargo check with rustc $msrv"
    have=1
    if ! rustup run "$msrv" rustc --version >/dev/null 2>&1; then
        if ! command -v rustup >/dev/null; then
            echo "check-crates: MSRV build skipped: no rustup to install rustc $msrv" >&2
            have=0
        elif ! timeout 600 rustup toolchain install "$msrv" --profile minimal >target/msrv-install.log 2>&1; then
            echo "check-crates: MSRV build skipped: rustup could not install rustc $msrv here" \
                "($(tail -1 target/msrv-install.log)); only the dependencies' rust-version was checked" >&2
            have=0
        fi
    fi
    if [ "$have" = 1 ]; then
        CARGO_TARGET_DIR=target/msrv cargo +"$msrv" check --locked "${crates[@]}"
        rm -rf target/msrv
    fi
fi

echo "== pure-Rust build (gregor --no-default-features)"
# Crates that compile C or generate bindings: none may be in the tree.
c_build=$(cargo tree --locked -p gregor --no-default-features -e normal,build --prefix none \
    | awk '{print $1}' | grep -E '^(cc|cmake|bindgen|pkg-config|zstd-sys|ring|aws-lc-sys|openssl-sys)$' | sort -u || true)
if [ -n "$c_build" ]; then
    echo "a build without default features still pulls in: $c_build" >&2
    exit 1
fi
echo "no C build dependency"
if [ "$quick" = 0 ]; then
    cargo check --locked -p gregor --no-default-features
    cargo check --locked -p gregor --no-default-features --features serde

    echo "== rustdoc, warnings denied"
    RUSTDOCFLAGS="-D warnings" cargo doc --locked --no-deps -p gregor -p gregor-mock --features gregor/serde
fi

echo "== cargo publish --dry-run (packaging)"
if ! cargo publish --locked --dry-run --allow-dirty --no-verify "${crates[@]}" >target/publish-dry-run.log 2>&1; then
    cat target/publish-dry-run.log >&2
    exit 1
fi
grep -E '^ *(Packaged|warning)' target/publish-dry-run.log || true
if [ "$quick" = 0 ] && [ "${GREGOR_SKIP_PUBLISH:-0}" != 1 ]; then
    echo "== cargo publish --dry-run (build of the packaged crates)"
    cargo publish --locked --dry-run --allow-dirty "${crates[@]}"
fi
rm -rf target/package
echo "check-crates: passed"
