#!/usr/bin/env bash
# A local Apache Kafka cluster (4.3.1 by default, KAFKA_VERSION for others; 1 KRaft controller or
# ZooKeeper + 3 brokers on 127.0.0.1) run straight from Maven jars, for gregor's integration tests,
# connection measurements, benchmarks and the compatibility matrix (scripts/compat.sh).
#
# Usage: scripts/kafka-cluster.sh COMMAND [ARGS]
#   start                      resolve jars (once), format storage, start all nodes in parallel,
#                              wait until every broker is ready; last stdout line is
#                              "bootstrap.servers=..."
#   stop                       SIGTERM the nodes this script started (pid files), brokers first,
#                              bounded wait, then SIGKILL; leaves nothing running
#   status                     which nodes are up (exit 0 only if all are)
#   stop-broker ID [--kill]    stop one broker (SIGTERM = controlled shutdown; --kill = SIGKILL)
#   start-broker ID            restart one broker on its existing data and wait until ready
#   bootstrap                  print "bootstrap.servers=..."
#   topic-create NAME PARTITIONS [RF [TopicCommand args...]]
#                              create a topic (RF default: KAFKA_TOPIC_RF, else 1)
#   topic ARGS...              run TopicCommand with --bootstrap-server set (e.g. --describe)
#   produce TOPIC NUM SIZE [COMPRESSION [k=v ...]]
#                              produce NUM records of SIZE bytes as fast as possible with
#                              ProducerPerformance (--throughput -1); COMPRESSION = none|gzip|
#                              snappy|lz4|zstd (default none); k=v are extra producer properties
#   coordinator GROUP          print the broker id of GROUP's coordinator (ConsumerGroupCommand)
#   harness ARGS...            exec the Java consumer harness (scripts/kafka/ConnHarness.java,
#                              compiled once into the cache); see its --help
#   tool CLASS ARGS...         run any class with the Kafka jars on the classpath
#   jars                       only resolve the jars (and compile the harness); print the
#                              servers' lib dir (KAFKA_VERSION's)
#
# Environment (defaults in brackets):
#   KAFKA_VERSION [4.3.1]            Apache Kafka release of the servers (a Maven version, e.g.
#                                    2.1.1, 2.8.2, 3.3.2, 4.4.0); releases before 3.3 run with a
#                                    ZooKeeper node (port base+1), 3.3-3.8 with a static KRaft
#                                    quorum. The tools always run from 4.3.1's jars. `start`
#                                    records the version in the data dir for the other commands.
#                                    Details: scripts/kafka/versions.sh
#   GREGOR_CACHE [~/.cache/gregor]   jars go to $GREGOR_CACHE/kafka-<version>/lib (outside the repo)
#   KAFKA_DATA_DIR [<repo>/target/kafka]   data, configs, logs (<node>/server.log) and pid files
#   KAFKA_PORT_BASE [19090]          controller = base, brokers = base+2, base+3, base+4
#   KAFKA_CONTROLLER_PORT, KAFKA_BROKER_PORTS ("p0,p1,p2"; the count sets the number of brokers)
#   KAFKA_BROKER_HEAP [512m], KAFKA_CONTROLLER_HEAP [256m]
#   GROUP_INITIAL_REBALANCE_DELAY_MS [0]    (broker default is 3000; classic groups only)
#   KAFKA_GROUP_VERSION [1]          group.version feature at format time: 1 enables KIP-848
#                                    groups (client group.protocol=consumer), 0 = classic only
#   KAFKA_GROUP_PROTOCOLS [unset]    group.coordinator.rebalance.protocols (deprecated in 4.x;
#                                    unset = every protocol the features allow)
#   KAFKA_NUM_PARTITIONS [1], KAFKA_AUTO_CREATE_TOPICS [false]
#   KAFKA_OFFSETS_RF [min(3,brokers)], KAFKA_OFFSETS_PARTITIONS [6]
#   KAFKA_TOPIC_RF [1]               default RF for topic-create
#   KAFKA_BROKER_EXTRA ["k=v k=v"]   extra broker properties (appended last, so they win)
#   KAFKA_START_TIMEOUT [120], KAFKA_STOP_TIMEOUT [30]  seconds
#   KAFKA_KEEP_DATA [0]              1 = `start` reuses existing formatted data instead of wiping
#   KAFKA_SECURITY [0]               1 = `start` also gives each broker a SASL_SSL listener (its
#                                    PLAINTEXT port + 10) and a SASL_PLAINTEXT listener (+ 20),
#                                    see "Security mode" below; plus MTLS (+30), OAUTH (+40),
#                                    OIDC (+50) and REAUTH (+60) listeners and a JWKS server on
#                                    KAFKA_JWKS_PORT [base+80] (scripts/kafka/security-extra.sh)
#   KAFKA_REAUTH_MS [4000]           connections.max.reauth.ms of the REAUTH listener
#
# Security mode (KAFKA_SECURITY=1, issue #8). PLAINTEXT stays the inter-broker listener and the
# one `bootstrap` prints (the other tests use it); CONTROLLER stays PLAINTEXT. `start` generates a
# throwaway CA and one broker certificate (subjectAltName IP:127.0.0.1, DNS:localhost; PEM, which
# Kafka reads since KIP-651 via ssl.keystore.type=PEM) under $KAFKA_DATA_DIR/tls, formats storage
# with SCRAM-SHA-256 and SCRAM-SHA-512 credentials for alice/alice-secret (--add-scram), enables
# PLAIN (same user, from the listener's JAAS config) and both SCRAM mechanisms on both SASL
# listeners, and writes $KAFKA_DATA_DIR/security.env (shell assignments) with
# GREGOR_KAFKA_SASL_BOOTSTRAP (SASL_SSL), GREGOR_KAFKA_SASL_PLAINTEXT_BOOTSTRAP,
# GREGOR_KAFKA_SSL_TRUSTSTORE (the CA, PEM) and GREGOR_KAFKA_SASL_USERNAME/_PASSWORD/_MECHANISM.
#
# Why offsets.topic.replication.factor = 3 (with min ISR 1, the broker default, which
# __consumer_offsets inherits): the group coordinator of a group is the leader of one
# __consumer_offsets partition. With RF 1, stopping that broker takes the partition offline and
# every group mapped to it has no coordinator until the broker returns (FindCoordinator answers
# COORDINATOR_NOT_AVAILABLE). With RF 3 the controller elects another replica as leader, the
# coordinator moves to a live broker, and the group carries on (that is the fault tests' point).
# Transaction state keeps Kafka's 3/2. 6 offsets partitions instead of 50 keep the first
# FindCoordinator (which creates the topic) fast while still spreading coordinators over 3 brokers.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
KAFKA_SRC="$SCRIPT_DIR/kafka"

# The default release's jars: the tools always, and the servers unless KAFKA_VERSION picks
# another release (scripts/kafka/versions.sh).
CACHE_DIR="${GREGOR_CACHE:-$HOME/.cache/gregor}/kafka-4.3.1"
LIB_DIR="$CACHE_DIR/lib"
DATA_DIR="${KAFKA_DATA_DIR:-$REPO_ROOT/target/kafka}"

PORT_BASE="${KAFKA_PORT_BASE:-19090}"
CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-$PORT_BASE}"
BROKER_PORTS_CSV="${KAFKA_BROKER_PORTS:-$((PORT_BASE + 2)),$((PORT_BASE + 3)),$((PORT_BASE + 4))}"
IFS=',' read -r -a BROKER_PORTS <<<"$BROKER_PORTS_CSV"
NUM_BROKERS=${#BROKER_PORTS[@]}
CONTROLLER_ID=1000 # distinct from the broker ids 0..n-1

BROKER_HEAP="${KAFKA_BROKER_HEAP:-512m}"
CONTROLLER_HEAP="${KAFKA_CONTROLLER_HEAP:-256m}"
START_TIMEOUT="${KAFKA_START_TIMEOUT:-120}"
STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"
MIN_RF=$((NUM_BROKERS < 3 ? NUM_BROKERS : 3))

# Which Apache Kafka release the servers run, and everything that depends on it.
# shellcheck source=kafka/versions.sh
source "$KAFKA_SRC/versions.sh"
KAFKA_VERSION="$(resolve_kafka_version "${1:-}")"

die() { echo "kafka-cluster: error: $*" >&2; exit 1; }
log() { echo "kafka-cluster: $*" >&2; }

bootstrap_servers() { # [OFFSET]: the PLAINTEXT ports, or those ports + OFFSET
    local out="" p
    for p in "${BROKER_PORTS[@]}"; do out+="${out:+,}127.0.0.1:$((p + ${1:-0}))"; done
    echo "$out"
}

# Security mode: listener port offsets from each broker's PLAINTEXT port, and the test user.
SASL_SSL_OFFSET=10
SASL_PLAINTEXT_OFFSET=20
SASL_USER=alice
SASL_PASSWORD=alice-secret
security_on() { [[ "${KAFKA_SECURITY:-0}" == 1 ]]; }
TLS_DIR="$DATA_DIR/tls"
SECURITY_ENV="$DATA_DIR/security.env"
# More listeners of security mode (MTLS, OAUTH, OIDC, REAUTH) and the JWKS server: issue #18.
# shellcheck source=kafka/security-extra.sh
source "$KAFKA_SRC/security-extra.sh"

# ---------------------------------------------------------------------------------------- jars

# Resolve the jars once into the cache. The marker holds a hash of the pom, so editing the pom
# re-resolves; an existing complete lib dir means no Maven (and no network) at all.
ensure_jars() {
    local pom="$KAFKA_SRC/pom.xml" want
    want="$(sha256sum "$pom" | cut -d' ' -f1)"
    if [[ -f "$LIB_DIR/.complete" && "$(cat "$LIB_DIR/.complete")" == "$want" ]]; then return 0; fi
    command -v mvn >/dev/null || die "mvn not found (Maven is needed once to fetch the Kafka jars)"
    mkdir -p "$CACHE_DIR"
    (
        # Two engineers starting clusters at once must not interleave downloads.
        flock -w 600 9 || die "timed out waiting for $CACHE_DIR/.lock"
        if [[ -f "$LIB_DIR/.complete" && "$(cat "$LIB_DIR/.complete")" == "$want" ]]; then exit 0; fi
        log "resolving Apache Kafka $DEFAULT_KAFKA_VERSION jars with Maven into $LIB_DIR (once)"
        rm -rf "$LIB_DIR.tmp"
        mvn -q -B -Dstyle.color=never -f "$pom" dependency:copy-dependencies \
            -DoutputDirectory="$LIB_DIR.tmp" -DincludeScope=runtime >&2 ||
            die "mvn dependency:copy-dependencies failed"
        [[ -f "$LIB_DIR.tmp/kafka_2.13-$DEFAULT_KAFKA_VERSION.jar" ]] || die "kafka_2.13 jar missing after mvn"
        if ls "$LIB_DIR.tmp"/slf4j-api-2.* >/dev/null 2>&1; then
            log "warning: slf4j-api 2.x resolved; log4j-slf4j-impl (1.x binding) will not bind"
        fi
        rm -rf "$LIB_DIR"
        mv "$LIB_DIR.tmp" "$LIB_DIR"
        echo "$want" >"$LIB_DIR/.complete"
    ) 9>"$CACHE_DIR/.lock"
}

# Compile the harness into the cache, keyed by the source hash (javac only, no Maven).
HARNESS_SRC="$KAFKA_SRC/ConnHarness.java"
harness_classes() {
    local h
    h="$(cat "$HARNESS_SRC" "$KAFKA_SRC/pom.xml" | sha256sum | cut -c1-16)"
    echo "$CACHE_DIR/harness-$h"
}
ensure_harness() {
    ensure_jars
    local out
    out="$(harness_classes)"
    [[ -f "$out/.complete" ]] && return 0
    rm -rf "$out.tmp"
    mkdir -p "$out.tmp"
    javac -nowarn -encoding UTF-8 --release 17 -cp "$LIB_DIR/*" -d "$out.tmp" "$HARNESS_SRC" >&2 ||
        die "javac $HARNESS_SRC failed"
    touch "$out.tmp/.complete"
    rm -rf "$out"
    mv "$out.tmp" "$out"
}

tool_java() { # run a tool class quietly (warnings to stderr)
    ensure_jars
    java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
        -Dlog4j2.configurationFile="$KAFKA_SRC/log4j2-tools.properties" \
        -cp "$LIB_DIR/*" "$@"
}

# ------------------------------------------------------------------------------- node helpers

node_dir() { if [[ "$1" == controller || "$1" == zookeeper ]]; then echo "$DATA_DIR/$1"; else echo "$DATA_DIR/broker-$1"; fi; }
node_pid_file() { echo "$(node_dir "$1")/pid"; }
node_log() { echo "$(node_dir "$1")/server.log"; }

# PID of a node if it is running AND is the JVM we started for that node (the pid file alone
# could name a recycled pid).
node_pid() {
    local f pid
    f="$(node_pid_file "$1")"
    [[ -f "$f" ]] || return 1
    pid="$(cat "$f")"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    [[ -r "/proc/$pid/cmdline" ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "$(node_main "$1")" || return 1
    echo "$pid"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
all_ports_open() { local p; for p in "$@"; do port_open "$p" || return 1; done; }

write_configs() {
    local id dir port
    write_quorum_config
    for ((id = 0; id < NUM_BROKERS; id++)); do
        port="${BROKER_PORTS[$id]}"
        dir="$(node_dir "$id")"
        mkdir -p "$dir/data"
        {
            cat <<EOF
# generated by scripts/kafka-cluster.sh (Apache Kafka $KAFKA_VERSION)
$(broker_identity_config "$id")
listeners=PLAINTEXT://127.0.0.1:$port
advertised.listeners=PLAINTEXT://127.0.0.1:$port
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$dir/data
auto.create.topics.enable=${KAFKA_AUTO_CREATE_TOPICS:-false}
offsets.topic.replication.factor=${KAFKA_OFFSETS_RF:-$MIN_RF}
offsets.topic.num.partitions=${KAFKA_OFFSETS_PARTITIONS:-6}
transaction.state.log.replication.factor=$MIN_RF
transaction.state.log.min.isr=$((MIN_RF < 2 ? 1 : 2))
share.coordinator.state.topic.replication.factor=$MIN_RF
share.coordinator.state.topic.min.isr=$((MIN_RF < 2 ? 1 : 2))
group.initial.rebalance.delay.ms=${GROUP_INITIAL_REBALANCE_DELAY_MS:-0}
# Small machine: fewer idle threads.
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.cleaner.threads=1
EOF
            # KIP-848 groups need the group.version feature (1 = the default at format time for
            # release 4.3-IV0); the protocols config is deprecated, so set it only on request.
            if [[ -n "${KAFKA_GROUP_PROTOCOLS:-}" ]]; then
                echo "group.coordinator.rebalance.protocols=$KAFKA_GROUP_PROTOCOLS"
            fi
            if security_on; then security_broker_config "$port"; fi
            local kv
            for kv in ${KAFKA_BROKER_EXTRA:-}; do echo "$kv"; done
        } >"$dir/server.properties"
    done
}

# Security mode: the later `listeners` / map lines override the PLAINTEXT-only ones above
# (java.util.Properties keeps the last value of a repeated key).
security_broker_config() { # PLAINTEXT_PORT
    local p="$1" ssl=$(($1 + SASL_SSL_OFFSET)) sp=$(($1 + SASL_PLAINTEXT_OFFSET)) l m
    cat <<EOF
# security mode (KAFKA_SECURITY=1)
listeners=PLAINTEXT://127.0.0.1:$p,SASL_SSL://127.0.0.1:$ssl,SASL_PLAINTEXT://127.0.0.1:$sp$(extra_listeners "$p")
advertised.listeners=PLAINTEXT://127.0.0.1:$p,SASL_SSL://127.0.0.1:$ssl,SASL_PLAINTEXT://127.0.0.1:$sp$(extra_listeners "$p")
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,SASL_PLAINTEXT:SASL_PLAINTEXT$EXTRA_LISTENER_MAP
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512
# No client certificates: the brokers only need a keystore (PEM key + chain in one file).
ssl.keystore.type=PEM
ssl.keystore.location=$TLS_DIR/broker.pem
ssl.client.auth=none
EOF
    # One JAAS config per listener and mechanism (the broker looks up
    # listener.name.<listener>.<mechanism>.sasl.jaas.config; there is no JAAS file). PLAIN's users
    # live in its login module options; SCRAM's in the cluster metadata (--add-scram).
    for l in sasl_ssl sasl_plaintext; do
        echo "listener.name.$l.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$SASL_USER=\"$SASL_PASSWORD\";"
        for m in scram-sha-256 scram-sha-512; do
            echo "listener.name.$l.$m.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;"
        done
    done
    extra_listener_config
}

# A throwaway CA and one broker certificate shared by all brokers (they all listen on
# 127.0.0.1). EC P-256 keeps generation in milliseconds; the key is unencrypted PKCS#8, which
# Kafka's PEM keystore accepts when ssl.key.password is unset.
make_tls() {
    command -v openssl >/dev/null || die "openssl not found (needed for KAFKA_SECURITY=1; apt-get install openssl)"
    rm -rf "$TLS_DIR"
    mkdir -p "$TLS_DIR"
    (
        cd "$TLS_DIR"
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
            -subj "/CN=gregor test CA" -keyout ca.key -out ca.pem \
            -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
        openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
            -subj "/CN=localhost" -keyout broker.key -out broker.csr
        printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature" \
            "extendedKeyUsage=serverAuth" "subjectAltName=IP:127.0.0.1,DNS:localhost" >broker.ext
        openssl x509 -req -in broker.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 \
            -extfile broker.ext -out broker.crt
        openssl pkcs8 -topk8 -nocrypt -in broker.key -out broker.p8
        cat broker.p8 broker.crt ca.pem >broker.pem
    ) >"$DATA_DIR/tls.log" 2>&1 || { cat "$DATA_DIR/tls.log" >&2; die "certificate generation failed"; }
}

write_security_env() {
    cat >"$SECURITY_ENV" <<EOF
# generated by scripts/kafka-cluster.sh (KAFKA_SECURITY=1); source it
GREGOR_KAFKA_SASL_BOOTSTRAP=$(bootstrap_servers $SASL_SSL_OFFSET)
GREGOR_KAFKA_SASL_PLAINTEXT_BOOTSTRAP=$(bootstrap_servers $SASL_PLAINTEXT_OFFSET)
GREGOR_KAFKA_SSL_TRUSTSTORE=$TLS_DIR/ca.pem
GREGOR_KAFKA_SASL_USERNAME=$SASL_USER
GREGOR_KAFKA_SASL_PASSWORD=$SASL_PASSWORD
GREGOR_KAFKA_SASL_MECHANISM=SCRAM-SHA-512
$(extra_security_env)
EOF
}

# The ports a broker listens on (PLAINTEXT first), read from its config so `start-broker` works
# whatever KAFKA_SECURITY says now.
broker_ports() { # ID
    sed -n 's/^listeners=//p' "$(node_dir "$1")/server.properties" 2>/dev/null | tail -n 1 |
        tr ',' '\n' | sed 's/.*://'
}

random_cluster_id() {
    # Kafka's Uuid.toString: URL-safe base64 of 16 random bytes without padding; Uuid.randomUuid
    # never returns one starting with '-' (it would look like a command-line flag).
    local id
    while :; do
        id="$(head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
        [[ "$id" != -* ]] && { echo "$id"; return; }
    done
}

format_all() {
    local cid id pids=() rc=0
    # ZooKeeper-mode brokers need no format: they register in ZooKeeper on first start.
    if [[ "$(kafka_mode)" == zk ]]; then touch "$DATA_DIR/cluster.id"; return 0; fi
    ensure_server_jars
    cid="$(random_cluster_id)"
    echo "$cid" >"$DATA_DIR/cluster.id"
    local features=()
    if security_on; then
        # SCRAM credentials go into the bootstrap metadata records at format time, so they
        # exist before any client connects; PLAIN's user is in the listener JAAS config instead.
        features+=(--add-scram "SCRAM-SHA-256=[name=$SASL_USER,password=$SASL_PASSWORD]"
            --add-scram "SCRAM-SHA-512=[name=$SASL_USER,password=$SASL_PASSWORD]")
    fi
    # Release-dependent flags (group.version, --standalone): scripts/kafka/versions.sh.
    local args
    mapfile -t args < <(format_args controller)
    server_java kafka.tools.StorageTool format -c "$(node_dir controller)/server.properties" \
        -t "$cid" "${args[@]}" "${features[@]}" >"$DATA_DIR/format-controller.log" 2>&1 &
    pids+=($!)
    mapfile -t args < <(format_args broker)
    for ((id = 0; id < NUM_BROKERS; id++)); do
        server_java kafka.tools.StorageTool format -c "$(node_dir "$id")/server.properties" \
            -t "$cid" "${args[@]}" "${features[@]}" >"$DATA_DIR/format-broker-$id.log" 2>&1 &
        pids+=($!)
    done
    for id in "${pids[@]}"; do wait "$id" || rc=1; done
    if ((rc != 0)); then
        tail -n 20 "$DATA_DIR"/format-*.log >&2
        die "storage format failed"
    fi
}

launch_node() { # NODE: start the JVM detached (own session) and record its pid
    local node="$1" dir heap
    dir="$(node_dir "$node")"
    if [[ "$node" == controller || "$node" == zookeeper ]]; then heap="$CONTROLLER_HEAP"; else heap="$BROKER_HEAP"; fi
    rm -f "$dir/pid"
    # setsid: the JVMs must survive the shell (and its process group) that ran `start`.
    # The inner shell writes its own pid and then execs java, so the pid file names the JVM.
    setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$dir/pid" \
        java "-Xmx$heap" "-Xms$heap" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
        -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
        -Dkafka.logs.dir="$dir" \
        $(server_log_opts server) \
        $(node_security_jvm_flags "$node") \
        -cp "$(server_lib_dir)/*" $(node_main "$node") \
        </dev/null >"$dir/server.log" 2>&1 &
    local i
    for ((i = 0; i < 50; i++)); do [[ -s "$dir/pid" ]] && return 0; sleep 0.1; done
    die "node $node did not record its pid"
}

# Wait until every node in "$@" is ready: brokers log "Kafka Server started" (printed once the
# broker is unfenced) and accept TCP on their port; the controller just has to stay alive.
wait_ready() {
    local deadline=$((SECONDS + START_TIMEOUT)) node pending
    while :; do
        pending=()
        for node in "$@"; do
            if ! node_pid "$node" >/dev/null; then
                log "node $node exited during startup; last log lines:"
                tail -n 40 "$(node_log "$node")" >&2 || true
                return 1
            fi
            [[ "$node" == controller ]] && continue
            if [[ "$node" == zookeeper ]]; then port_open "$ZK_PORT" && continue; pending+=("$node"); continue; fi
            # shellcheck disable=SC2046
            if grep -qE "$BROKER_READY_PATTERN" "$(node_log "$node")" 2>/dev/null &&
                all_ports_open $(broker_ports "$node"); then
                continue
            fi
            pending+=("$node")
        done
        ((${#pending[@]} == 0)) && return 0
        if ((SECONDS >= deadline)); then
            for node in "${pending[@]}"; do
                log "broker $node not ready after ${START_TIMEOUT}s; last log lines of $(node_log "$node"):"
                tail -n 40 "$(node_log "$node")" >&2 || true
            done
            return 1
        fi
        sleep 0.2
    done
}

# SIGTERM the given nodes, wait up to STOP_TIMEOUT, then SIGKILL the stragglers.
stop_nodes() {
    local node pid pids=() deadline
    for node in "$@"; do
        if pid="$(node_pid "$node")"; then
            kill -TERM "$pid" 2>/dev/null || true
            pids+=("$node:$pid")
        fi
    done
    deadline=$((SECONDS + STOP_TIMEOUT))
    for entry in "${pids[@]}"; do
        node="${entry%%:*}"
        pid="${entry#*:}"
        while [[ -d "/proc/$pid" ]] && node_pid "$node" >/dev/null && ((SECONDS < deadline)); do
            sleep 0.1
        done
        if node_pid "$node" >/dev/null; then
            log "node $node (pid $pid) still running after ${STOP_TIMEOUT}s; SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            while [[ -d "/proc/$pid" ]]; do sleep 0.1; done
        fi
        rm -f "$(node_pid_file "$node")"
    done
}

all_nodes() {
    local id
    quorum_node
    for ((id = 0; id < NUM_BROKERS; id++)); do echo "$id"; done
}
broker_nodes() { local id; for ((id = 0; id < NUM_BROKERS; id++)); do echo "$id"; done; }

check_broker_id() {
    [[ "${1:-}" =~ ^[0-9]+$ ]] && (($1 < NUM_BROKERS)) || die "broker id must be 0..$((NUM_BROKERS - 1)), got '${1:-}'"
}

# -------------------------------------------------------------------------------- commands

cmd_start() {
    local node
    for node in $(all_nodes); do
        if node_pid "$node" >/dev/null; then die "node $node is already running (use stop first)"; fi
    done
    local ports=("$(quorum_port)" "${BROKER_PORTS[@]}")
    if security_on && [[ "$(kafka_mode)" != kraft ]]; then
        die "KAFKA_SECURITY=1 needs KRaft with a dynamic quorum (Kafka 3.9+), not $KAFKA_VERSION"
    fi
    if security_on; then
        for p in "${BROKER_PORTS[@]}"; do
            ports+=($((p + SASL_SSL_OFFSET)) $((p + SASL_PLAINTEXT_OFFSET)))
            for o in $(extra_offsets); do ports+=($((p + o))); done
        done
    fi
    for p in "${ports[@]}"; do
        port_open "$p" && die "port $p is already in use (another cluster? set KAFKA_PORT_BASE)"
    done
    command -v java >/dev/null || die "java not found (Java 17+ is required)"
    local t0=$SECONDS
    ensure_jars
    ensure_server_jars
    mkdir -p "$DATA_DIR"
    if [[ "${KAFKA_KEEP_DATA:-0}" == 1 && -f "$VERSION_FILE" && "$(cat "$VERSION_FILE")" != "$KAFKA_VERSION" ]]; then
        die "$DATA_DIR holds Kafka $(cat "$VERSION_FILE") data; KAFKA_KEEP_DATA=1 needs the same KAFKA_VERSION"
    fi
    echo "$KAFKA_VERSION" >"$VERSION_FILE"
    if [[ "${KAFKA_KEEP_DATA:-0}" == 1 && -f "$DATA_DIR/cluster.id" ]]; then
        log "reusing data in $DATA_DIR"
    else
        for node in $(all_nodes); do rm -rf "$(node_dir "$node")"; done
        rm -f "$DATA_DIR"/format-*.log "$DATA_DIR/cluster.id" "$SECURITY_ENV"
        rm -rf "$TLS_DIR"
        if security_on; then make_tls && make_extra_security_files; fi
        write_configs
        format_all
    fi
    # The OIDC listener fetches its JWKS while the broker starts.
    start_security_services
    # All nodes in parallel: a broker's startup blocks until it reaches the controller quorum.
    for node in $(all_nodes); do launch_node "$node"; done
    # shellcheck disable=SC2046
    if ! wait_ready $(all_nodes); then
        log "start failed; stopping the nodes that did start"
        # shellcheck disable=SC2046
        stop_nodes $(broker_nodes)
        stop_nodes "$(quorum_node)"
        stop_security_services
        exit 1
    fi
    if grep -q '^listeners=.*SASL_SSL' "$(node_dir 0)/server.properties"; then
        write_security_env
        log "security mode: SASL_SSL $(bootstrap_servers $SASL_SSL_OFFSET)," \
            "SASL_PLAINTEXT $(bootstrap_servers $SASL_PLAINTEXT_OFFSET); see $SECURITY_ENV"
    fi
    log "Kafka $KAFKA_VERSION ($(kafka_mode)) up in $((SECONDS - t0))s; data and logs in $DATA_DIR"
    echo "bootstrap.servers=$(bootstrap_servers)"
}

cmd_stop() {
    # Brokers first: their controlled shutdown needs the controller.
    # shellcheck disable=SC2046
    stop_nodes $(broker_nodes)
    stop_nodes "$(quorum_node)"
    stop_security_services
    log "stopped"
}

cmd_status() {
    local node pid ok=0 port
    for node in $(all_nodes); do
        if [[ "$node" == controller || "$node" == zookeeper ]]; then port="$(quorum_port)"; else port="${BROKER_PORTS[$node]}"; fi
        if pid="$(node_pid "$node")"; then
            if [[ "$node" == controller ]] || port_open "$port"; then
                echo "$node up pid=$pid port=$port"
            else
                echo "$node starting pid=$pid port=$port"
                ok=1
            fi
        else
            echo "$node down port=$port"
            ok=1
        fi
    done
    return $ok
}

cmd_stop_broker() {
    check_broker_id "${1:-}"
    local pid
    pid="$(node_pid "$1")" || die "broker $1 is not running"
    if [[ "${2:-}" == --kill ]]; then
        kill -KILL "$pid"
        while [[ -d "/proc/$pid" ]]; do sleep 0.1; done
        rm -f "$(node_pid_file "$1")"
    else
        stop_nodes "$1"
    fi
    log "broker $1 stopped"
}

cmd_start_broker() {
    check_broker_id "${1:-}"
    node_pid "$1" >/dev/null && die "broker $1 is already running"
    [[ -f "$(node_dir "$1")/server.properties" ]] || die "broker $1 has no data; run start first"
    ensure_server_jars
    # Rotate the log so the readiness grep sees only this run's "started" line.
    [[ -f "$(node_log "$1")" ]] && mv "$(node_log "$1")" "$(node_log "$1").1"
    launch_node "$1"
    wait_ready "$1" || { stop_nodes "$1"; exit 1; }
    log "broker $1 up"
}

cmd_topic_create() {
    (($# >= 2)) || die "usage: topic-create NAME PARTITIONS [RF [TopicCommand args...]]"
    local name="$1" parts="$2" rf="${3:-${KAFKA_TOPIC_RF:-1}}"
    shift $(($# >= 3 ? 3 : 2))
    tool_java org.apache.kafka.tools.TopicCommand --bootstrap-server "$(bootstrap_servers)" \
        --create --topic "$name" --partitions "$parts" --replication-factor "$rf" "$@"
}

cmd_produce() {
    (($# >= 3)) || die "usage: produce TOPIC NUM SIZE [COMPRESSION [k=v ...]]"
    local topic="$1" num="$2" size="$3" comp="${4:-none}"
    shift $(($# >= 4 ? 4 : 3))
    # acks=1 and big batches: this is for filling topics quickly, not for durability.
    tool_java org.apache.kafka.tools.ProducerPerformance --bootstrap-server "$(bootstrap_servers)" \
        --topic "$topic" --num-records "$num" --record-size "$size" --throughput -1 \
        --reporting-interval 60000 \
        --command-property acks=1 linger.ms=10 batch.size=524288 buffer.memory=134217728 \
        compression.type="$comp" "$@"
}

cmd_coordinator() {
    (($# == 1)) || die "usage: coordinator GROUP"
    local out id
    out="$(tool_java org.apache.kafka.tools.consumer.group.ConsumerGroupCommand \
        --bootstrap-server "$(bootstrap_servers)" --describe --group "$1" --state)" ||
        die "ConsumerGroupCommand failed"
    # Data row: "GROUP  HOST:PORT  (ID)  STRATEGY  STATE  MEMBERS".
    id="$(awk -v g="$1" '$1 == g { if (match($0, /\([0-9]+\)/)) print substr($0, RSTART + 1, RLENGTH - 2) }' <<<"$out")"
    [[ -n "$id" ]] || die "no coordinator for group $1 in: $out"
    echo "$id"
}

cmd_harness() {
    ensure_harness
    exec java ${HARNESS_JAVA_OPTS:--Xmx512m} \
        -Dlog4j2.configurationFile="$KAFKA_SRC/log4j2-tools.properties" \
        -cp "$(harness_classes):$LIB_DIR/*" ConnHarness "$@"
}

main() {
    local cmd="${1:-}"
    shift || true
    case "$cmd" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    stop-broker) cmd_stop_broker "$@" ;;
    start-broker) cmd_start_broker "$@" ;;
    bootstrap) echo "bootstrap.servers=$(bootstrap_servers)" ;;
    topic-create) cmd_topic_create "$@" ;;
    topic) tool_java org.apache.kafka.tools.TopicCommand --bootstrap-server "$(bootstrap_servers)" "$@" ;;
    produce) cmd_produce "$@" ;;
    coordinator) cmd_coordinator "$@" ;;
    harness) cmd_harness "$@" ;;
    tool) tool_java "$@" ;;
    jars) ensure_harness && ensure_server_jars && server_lib_dir ;;
    -h | --help | help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' ;;
    *) die "unknown command '${cmd}' (try --help)" ;;
    esac
}

main "$@"; exit $?  # same line: bash must not read past it if the file is edited meanwhile
