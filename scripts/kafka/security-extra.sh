# shellcheck shell=bash
# Sourced by scripts/kafka-cluster.sh: the listeners of security mode (KAFKA_SECURITY=1) beyond
# SASL_SSL and SASL_PLAINTEXT (issue #18), and the JWKS server one of them needs.
#
# Each broker also gets, at its PLAINTEXT port plus:
#   +30 MTLS    SSL with ssl.client.auth=required (client certificate signed by the test CA)
#   +40 OAUTH   SASL_PLAINTEXT, OAUTHBEARER with Kafka's unsecured validator (KIP-255), which
#               requires the scope "gregor-test"
#   +50 OIDC    SASL_PLAINTEXT, OAUTHBEARER validating signed JWTs (KIP-768,
#               OAuthBearerValidatorCallbackHandler) against the JWKS that
#               scripts/kafka/JwksServer.java serves on 127.0.0.1:KAFKA_JWKS_PORT [base+80]; the
#               signing key (EC P-256, PKCS#8 PEM) is left for the tests' token endpoint
#   +60 REAUTH  SASL_PLAINTEXT, PLAIN + SCRAM-SHA-256/512 + OAUTHBEARER (unsecured) with
#               connections.max.reauth.ms=KAFKA_REAUTH_MS [4000] (KIP-368)
#   +70 KERBEROS  with KAFKA_KERBEROS=1 only: GSSAPI against a test KDC (kerberos.sh)
# The paths and addresses go to security.env (extra_security_env).

# shellcheck source=kerberos.sh
source "$KAFKA_SRC/kerberos.sh"

MTLS_OFFSET=30
OAUTH_OFFSET=40
OIDC_OFFSET=50
REAUTH_OFFSET=60
REAUTH_MS="${KAFKA_REAUTH_MS:-4000}"
JWKS_PORT="${KAFKA_JWKS_PORT:-$((PORT_BASE + 80))}"
JWKS_DIR="$DATA_DIR/jwks"
OIDC_ISSUER=gregor-test-idp
OIDC_AUDIENCE=gregor-kafka
OAUTH_SCOPE=gregor-test
EXTRA_LISTENER_MAP=",MTLS:SSL,OAUTH:SASL_PLAINTEXT,OIDC:SASL_PLAINTEXT,REAUTH:SASL_PLAINTEXT,KERBEROS:SASL_PLAINTEXT"
extra_offsets() {
    echo "$MTLS_OFFSET $OAUTH_OFFSET $OIDC_OFFSET $REAUTH_OFFSET"
    if kerberos_on; then echo "$KERBEROS_OFFSET"; fi
}

extra_listeners() { # PLAINTEXT_PORT
    echo -n ",MTLS://127.0.0.1:$(($1 + MTLS_OFFSET)),OAUTH://127.0.0.1:$(($1 + OAUTH_OFFSET))"
    echo -n ",OIDC://127.0.0.1:$(($1 + OIDC_OFFSET)),REAUTH://127.0.0.1:$(($1 + REAUTH_OFFSET))"
    kerberos_listener "$1"
}

extra_listener_config() {
    local login="org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required"
    local m
    cat <<EOF
# MTLS: client certificates required, trusted through the test CA.
listener.name.mtls.ssl.client.auth=required
listener.name.mtls.ssl.truststore.type=PEM
listener.name.mtls.ssl.truststore.location=$TLS_DIR/ca.pem
# OAUTH: Kafka's default (unsecured) OAUTHBEARER validator. The broker's own login options are
# unused (inter-broker traffic stays on PLAINTEXT).
listener.name.oauth.sasl.enabled.mechanisms=OAUTHBEARER
listener.name.oauth.oauthbearer.sasl.jaas.config=$login unsecuredLoginStringClaim_sub="broker" unsecuredValidatorRequiredScope="$OAUTH_SCOPE";
# OIDC: signed JWTs checked against the JWKS endpoint (fetched at startup, so it runs first).
listener.name.oidc.sasl.enabled.mechanisms=OAUTHBEARER
listener.name.oidc.oauthbearer.sasl.jaas.config=$login;
listener.name.oidc.oauthbearer.sasl.server.callback.handler.class=org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler
sasl.oauthbearer.jwks.endpoint.url=http://127.0.0.1:$JWKS_PORT/jwks.json
sasl.oauthbearer.expected.issuer=$OIDC_ISSUER
sasl.oauthbearer.expected.audience=$OIDC_AUDIENCE
# REAUTH: every mechanism, sessions of $REAUTH_MS ms (KIP-368).
listener.name.reauth.sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER
listener.name.reauth.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$SASL_USER="$SASL_PASSWORD";
listener.name.reauth.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.reauth.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.reauth.oauthbearer.sasl.jaas.config=$login unsecuredLoginStringClaim_sub="broker";
EOF
    for m in plain scram-sha-256 scram-sha-512 oauthbearer; do
        echo "listener.name.reauth.$m.connections.max.reauth.ms=$REAUTH_MS"
    done
    kerberos_listener_config
}

# A client certificate for MTLS (signed by the test CA; unencrypted PKCS#8 key: the tests
# encrypt it themselves) and the OIDC signing key with its JWKS document.
make_extra_security_files() {
    make_kdc
    (
        set -e
        cd "$TLS_DIR"
        openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
            -subj "/CN=gregor-client" -keyout client.key0 -out client.csr
        printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature" \
            "extendedKeyUsage=clientAuth" >client.ext
        openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 \
            -extfile client.ext -out client.crt
        openssl pkcs8 -topk8 -nocrypt -in client.key0 -out client.key
        rm -rf "$JWKS_DIR"
        mkdir -p "$JWKS_DIR"
        openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$JWKS_DIR/signing.key0"
        openssl pkcs8 -topk8 -nocrypt -in "$JWKS_DIR/signing.key0" -out "$JWKS_DIR/signing.key"
        # The last 64 bytes of the DER public key are the point's x and y (uncompressed form).
        local xy x y
        xy="$(openssl pkey -in "$JWKS_DIR/signing.key" -pubout -outform DER | tail -c 64 | od -An -v -tx1 | tr -d ' \n')"
        x="$(b64url_hex "${xy:0:64}")"
        y="$(b64url_hex "${xy:64:64}")"
        printf '{"keys":[{"kty":"EC","crv":"P-256","use":"sig","alg":"ES256","kid":"gregor-test-key","x":"%s","y":"%s"}]}\n' \
            "$x" "$y" >"$JWKS_DIR/jwks.json"
    ) >>"$DATA_DIR/tls.log" 2>&1 || { cat "$DATA_DIR/tls.log" >&2; die "client certificate / JWKS generation failed"; }
}

b64url_hex() { # HEX: base64url without padding of the bytes
    local hex="$1" bin="" i
    for ((i = 0; i < ${#hex}; i += 2)); do bin+="\\x${hex:i:2}"; done
    printf '%b' "$bin" | base64 -w0 | tr '+/' '-_' | tr -d '='
}

jwks_pid() {
    local pid
    pid="$(cat "$JWKS_DIR/pid" 2>/dev/null)" || return 1
    [[ "$pid" =~ ^[0-9]+$ && -r "/proc/$pid/cmdline" ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "JwksServer.java $JWKS_PORT" || return 1
    echo "$pid"
}

# The JWKS endpoint the OIDC listener fetches at startup: the JDK's built-in HTTP server, run as
# a single-file source program (no build step).
start_jwks() {
    [[ -f "$JWKS_DIR/jwks.json" ]] || die "no $JWKS_DIR/jwks.json (start without KAFKA_KEEP_DATA)"
    jwks_pid >/dev/null && return 0
    port_open "$JWKS_PORT" && die "port $JWKS_PORT (JWKS) is already in use (set KAFKA_JWKS_PORT)"
    rm -f "$JWKS_DIR/pid"
    setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$JWKS_DIR/pid" \
        java -Xmx32m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 "$KAFKA_SRC/JwksServer.java" \
        "$JWKS_PORT" "$JWKS_DIR/jwks.json" </dev/null >"$JWKS_DIR/server.log" 2>&1 &
    local i
    for ((i = 0; i < 300; i++)); do
        port_open "$JWKS_PORT" && return 0
        if ((i > 20)) && ! jwks_pid >/dev/null; then break; fi
        sleep 0.1
    done
    cat "$JWKS_DIR/server.log" >&2
    die "the JWKS server did not start on port $JWKS_PORT"
}

stop_jwks() {
    local pid
    pid="$(jwks_pid)" || return 0
    kill -TERM "$pid" 2>/dev/null || true
    while [[ -d "/proc/$pid" ]]; do sleep 0.1; done
    rm -f "$JWKS_DIR/pid"
}

# JVM flags of a node: since Kafka 4.0 a broker fetches only the OAuth URLs listed in this
# system property (BrokerSecurityConfigs.ALLOWED_SASL_OAUTHBEARER_URLS_CONFIG).
node_security_jvm_flags() { # NODE
    [[ "$1" == controller ]] && return 0
    local cfg
    cfg="$(node_dir "$1")/server.properties"
    if grep -q '^listeners=.*OIDC:' "$cfg" 2>/dev/null; then
        echo "-Dorg.apache.kafka.sasl.oauthbearer.allowed.urls=http://127.0.0.1:$JWKS_PORT/jwks.json"
    fi
    # The Kerberos listener: the test realm's krb5.conf.
    if grep -q '^listeners=.*KERBEROS:' "$cfg" 2>/dev/null; then
        echo "-Djava.security.krb5.conf=$KDC_DIR/krb5.conf"
    fi
}

# The services the extra listeners need while brokers start and run.
start_security_services() {
    if grep -q '^listeners=.*OIDC:' "$(node_dir 0)/server.properties"; then start_jwks; fi
    start_kdc
}

stop_security_services() {
    stop_jwks
    stop_kdc
}

extra_security_env() {
    cat <<EOF
GREGOR_KAFKA_MTLS_BOOTSTRAP=$(bootstrap_servers $MTLS_OFFSET)
GREGOR_KAFKA_SSL_CLIENT_CERT=$TLS_DIR/client.crt
GREGOR_KAFKA_SSL_CLIENT_KEY=$TLS_DIR/client.key
GREGOR_KAFKA_OAUTH_BOOTSTRAP=$(bootstrap_servers $OAUTH_OFFSET)
GREGOR_KAFKA_OAUTH_SCOPE=$OAUTH_SCOPE
GREGOR_KAFKA_OIDC_BOOTSTRAP=$(bootstrap_servers $OIDC_OFFSET)
GREGOR_KAFKA_OIDC_SIGNING_KEY=$JWKS_DIR/signing.key
GREGOR_KAFKA_OIDC_KID=gregor-test-key
GREGOR_KAFKA_OIDC_ISSUER=$OIDC_ISSUER
GREGOR_KAFKA_OIDC_AUDIENCE=$OIDC_AUDIENCE
GREGOR_KAFKA_REAUTH_BOOTSTRAP=$(bootstrap_servers $REAUTH_OFFSET)
GREGOR_KAFKA_REAUTH_MS=$REAUTH_MS
$(kerberos_env)
EOF
}
