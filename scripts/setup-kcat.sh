#!/usr/bin/env bash
# Installs kcat from Debian's packages (the reference the CLI tests compare `gregor consume`
# with, byte for byte). Prints kcat's path as its last line; exits 0 without it when it cannot
# be installed (not root, no apt), so the comparison tests then skip and say why.
#   KCAT=$(scripts/setup-kcat.sh | tail -1)
set -euo pipefail
if ! command -v kcat >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -q kcat >&2 || { apt-get update -q >&2 && apt-get install -y -q kcat >&2; } || true
    elif command -v sudo >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
        sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y -q kcat >&2 || true
    fi
fi
if command -v kcat >/dev/null 2>&1; then
    command -v kcat
else
    echo "kcat is not installed (needs root and apt-get); the kcat comparison tests will skip" >&2
    echo ""
fi
