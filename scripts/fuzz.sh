#!/usr/bin/env bash
# Runs each cargo-fuzz target for a bounded time (default 60 s; FUZZ_SECONDS or $1), twice that
# for decode_response, which covers every response gregor decodes (about 30 APIs, all versions).
# Needs the nightly toolchain and cargo-fuzz; installs them when missing. When nightly cannot be
# had, falls back to the stable mutation test (tests/fuzz_decode.rs) with more iterations.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET="${1:-${FUZZ_SECONDS:-60}}"

stable_fallback() {
    echo "fuzz.sh: $1; running the stable mutation harness instead" >&2
    GREGOR_FUZZ_ITERATIONS="${GREGOR_FUZZ_ITERATIONS:-20000}" cargo test -p gregor --test fuzz_decode
    exit 0
}

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    rustup toolchain install nightly --profile minimal >/dev/null 2>&1 || stable_fallback "no nightly toolchain"
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked >/dev/null 2>&1 || cargo install cargo-fuzz >/dev/null 2>&1 \
        || stable_fallback "cargo-fuzz could not be installed"
fi

cd fuzz
for target in decode_response decode_records; do
    seconds="$SECONDS_PER_TARGET"
    [[ "$target" == decode_response ]] && seconds=$((2 * SECONDS_PER_TARGET))
    # A scratch copy of the corpus, so the committed seeds stay as generated.
    work="target/corpus-$target"
    mkdir -p "$work"
    cp -n corpus/"$target"/* "$work"/ 2>/dev/null || true
    echo "fuzz.sh: $target for ${seconds}s"
    # -rss_limit_mb/-malloc_limit_mb: a single huge allocation (e.g. a hostile array count)
    # is a finding, not an out-of-memory kill.
    cargo +nightly fuzz run "$target" "$work" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=512 -max_len=65536 \
        -print_final_stats=1
done
echo "fuzz.sh: 2 passed, 0 failed"
