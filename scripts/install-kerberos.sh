#!/usr/bin/env bash
# Installs what the GSSAPI (Kerberos) test needs, from Debian's packages: an MIT KDC and its
# admin tools (krb5-kdc, krb5-admin-server, krb5-user), and for building gregor's `gssapi`
# feature the GSSAPI headers (libkrb5-dev) and libclang (bindgen in libgssapi-sys).
# Idempotent; root (or sudo) required. Used by scripts/test-kerberos.sh.
set -euo pipefail
need=()
for pkg in krb5-kdc krb5-admin-server krb5-user libkrb5-dev libclang-dev; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
((${#need[@]} == 0)) && exit 0
SUDO=""
[[ "$(id -u)" == 0 ]] || SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
