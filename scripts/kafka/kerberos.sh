# shellcheck shell=bash
# Sourced by scripts/kafka/security-extra.sh: with KAFKA_SECURITY=1 and KAFKA_KERBEROS=1, a
# throwaway MIT Kerberos KDC (Debian's krb5-kdc, installed by scripts/install-kerberos.sh) for
# the realm GREGOR.TEST on 127.0.0.1:KAFKA_KDC_PORT [base+81], and a KERBEROS listener
# (SASL_PLAINTEXT, GSSAPI, advertised as localhost at the PLAINTEXT port + 70) on every broker.
# Principals: kafka/localhost (the brokers, keytab kafka.keytab) and alice (the tests' client,
# keytab alice.keytab), all under $KAFKA_DATA_DIR/kdc with krb5.conf; security.env names them.

KERBEROS_OFFSET=70
KDC_PORT="${KAFKA_KDC_PORT:-$((PORT_BASE + 81))}"
KDC_DIR="$DATA_DIR/kdc"
KRB_REALM=GREGOR.TEST
kerberos_on() { [[ "${KAFKA_KERBEROS:-0}" == 1 ]]; }

kerberos_listener() { # PLAINTEXT_PORT
    if kerberos_on; then echo -n ",KERBEROS://localhost:$(($1 + KERBEROS_OFFSET))"; fi
}

kerberos_listener_config() {
    kerberos_on || return 0
    cat <<CFG
# KERBEROS: GSSAPI against the test KDC (java.security.krb5.conf is a JVM flag).
listener.name.kerberos.sasl.enabled.mechanisms=GSSAPI
listener.name.kerberos.gssapi.sasl.jaas.config=com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true storeKey=true keyTab="$KDC_DIR/kafka.keytab" principal="kafka/localhost@$KRB_REALM";
sasl.kerberos.service.name=kafka
CFG
}

make_kdc() {
    kerberos_on || return 0
    local tool
    for tool in krb5kdc kdb5_util kadmin.local; do
        command -v "$tool" >/dev/null || die "$tool not found: run scripts/install-kerberos.sh (Debian krb5-kdc, krb5-admin-server)"
    done
    rm -rf "$KDC_DIR"
    mkdir -p "$KDC_DIR"
    cat >"$KDC_DIR/krb5.conf" <<CFG
[libdefaults]
    default_realm = $KRB_REALM
    dns_lookup_kdc = false
    dns_lookup_realm = false
    rdns = false
    dns_canonicalize_hostname = false
    udp_preference_limit = 1
    ticket_lifetime = 1h
[realms]
    $KRB_REALM = {
        kdc = 127.0.0.1:$KDC_PORT
    }
[domain_realm]
    localhost = $KRB_REALM
CFG
    cat >"$KDC_DIR/kdc.conf" <<CFG
[kdcdefaults]
    kdc_ports = $KDC_PORT
    kdc_tcp_ports = $KDC_PORT
[realms]
    $KRB_REALM = {
        database_name = $KDC_DIR/principal
        key_stash_file = $KDC_DIR/stash
        acl_file = $KDC_DIR/kadm5.acl
        max_life = 1h
    }
[logging]
    kdc = FILE:$KDC_DIR/kdc.log
CFG
    echo "*/admin@$KRB_REALM *" >"$KDC_DIR/kadm5.acl"
    (
        set -e
        export KRB5_CONFIG="$KDC_DIR/krb5.conf" KRB5_KDC_PROFILE="$KDC_DIR/kdc.conf"
        kdb5_util create -s -r "$KRB_REALM" -P "gregor-kdc-master-$RANDOM$RANDOM"
        kadmin.local -r "$KRB_REALM" -q "addprinc -randkey kafka/localhost@$KRB_REALM"
        kadmin.local -r "$KRB_REALM" -q "addprinc -randkey alice@$KRB_REALM"
        kadmin.local -r "$KRB_REALM" -q "ktadd -k $KDC_DIR/kafka.keytab kafka/localhost@$KRB_REALM"
        kadmin.local -r "$KRB_REALM" -q "ktadd -k $KDC_DIR/alice.keytab alice@$KRB_REALM"
    ) >"$KDC_DIR/setup.log" 2>&1 || { cat "$KDC_DIR/setup.log" >&2; die "KDC setup failed"; }
}

kdc_pid() {
    local pid
    pid="$(cat "$KDC_DIR/pid" 2>/dev/null)" || return 1
    [[ "$pid" =~ ^[0-9]+$ && -r "/proc/$pid/cmdline" ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "krb5kdc" || return 1
    echo "$pid"
}

start_kdc() {
    [[ -f "$KDC_DIR/kdc.conf" ]] || return 0
    kdc_pid >/dev/null && return 0
    port_open "$KDC_PORT" && die "port $KDC_PORT (KDC) is already in use (set KAFKA_KDC_PORT)"
    rm -f "$KDC_DIR/pid"
    KRB5_CONFIG="$KDC_DIR/krb5.conf" KRB5_KDC_PROFILE="$KDC_DIR/kdc.conf" \
        setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$KDC_DIR/pid" \
        krb5kdc -n </dev/null >"$KDC_DIR/krb5kdc.out" 2>&1 &
    local i
    for ((i = 0; i < 100; i++)); do
        port_open "$KDC_PORT" && return 0
        sleep 0.1
    done
    cat "$KDC_DIR/krb5kdc.out" "$KDC_DIR/kdc.log" >&2 2>/dev/null
    die "the KDC did not start on port $KDC_PORT"
}

stop_kdc() {
    local pid
    pid="$(kdc_pid)" || return 0
    kill -TERM "$pid" 2>/dev/null || true
    while [[ -d "/proc/$pid" ]]; do sleep 0.1; done
    rm -f "$KDC_DIR/pid"
}

kerberos_env() {
    [[ -f "$KDC_DIR/alice.keytab" ]] || return 0
    echo "GREGOR_KAFKA_KERBEROS_BOOTSTRAP=$(bootstrap_servers $KERBEROS_OFFSET | sed 's/127\.0\.0\.1/localhost/g')"
    echo "GREGOR_KAFKA_KRB5_CONFIG=$KDC_DIR/krb5.conf"
    echo "GREGOR_KAFKA_CLIENT_KEYTAB=$KDC_DIR/alice.keytab"
    echo "GREGOR_KAFKA_CLIENT_PRINCIPAL=alice@$KRB_REALM"
}
