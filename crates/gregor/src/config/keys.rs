//! The table of every configuration key gregor understands: for README's table, the CLI's help
//! and typo suggestions. A test checks that each entry's default is what the typed structs use.

/// Which client a key applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppliesTo {
    /// Consumer only.
    Consumer,
    /// Producer only.
    Producer,
    /// Both.
    Both,
}

impl AppliesTo {
    /// Whether a consumer accepts the key.
    pub fn consumer(self) -> bool {
        matches!(self, AppliesTo::Consumer | AppliesTo::Both)
    }

    /// Whether a producer accepts the key.
    pub fn producer(self) -> bool {
        matches!(self, AppliesTo::Producer | AppliesTo::Both)
    }
}

/// One configuration key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyInfo {
    /// The key, e.g. `session.timeout.ms`.
    pub name: &'static str,
    /// The default as it would be written in a properties file; empty = unset/required.
    pub default: &'static str,
    /// One line for humans.
    pub description: &'static str,
    /// Consumer, producer or both.
    pub applies_to: AppliesTo,
    /// Whether the value is a secret (never printed).
    pub secret: bool,
    /// A gregor extension, not a Java client key.
    pub gregor_only: bool,
    /// Another name for a key listed elsewhere (e.g. librdkafka's `ssl.ca.location`).
    pub alias_of: Option<&'static str>,
}

const fn k(
    name: &'static str,
    default: &'static str,
    applies_to: AppliesTo,
    description: &'static str,
) -> KeyInfo {
    KeyInfo {
        name,
        default,
        description,
        applies_to,
        secret: false,
        gregor_only: false,
        alias_of: None,
    }
}

const fn secret(mut info: KeyInfo) -> KeyInfo {
    info.secret = true;
    info
}

const fn gregor(mut info: KeyInfo) -> KeyInfo {
    info.gregor_only = true;
    info
}

const fn alias(mut info: KeyInfo, of: &'static str) -> KeyInfo {
    info.alias_of = Some(of);
    info
}

use AppliesTo::{Both, Consumer as C, Producer as P};

/// Every supported key, consumer and producer.
pub static ALL_KEYS: &[KeyInfo] = &[
    // --- connection (NetConfig) ---
    k("bootstrap.servers", "", Both, "Required. Comma-separated host:port list used to fetch the first cluster metadata."),
    k("client.id", "gregor", Both, "Id sent with every request; brokers use it in logs and quotas (Java generates consumer-<group>-<n>)."),
    k("client.dns.lookup", "use_all_dns_ips", Both, "use_all_dns_ips: try every address of a host; resolve_canonical_bootstrap_servers_only: expand bootstrap aliases."),
    k("request.timeout.ms", "30000", Both, "How long to wait for a response; on expiry the request fails and its connection is closed."),
    k("retry.backoff.ms", "100", Both, "First wait before retrying a failed request; doubles up to retry.backoff.max.ms."),
    k("retry.backoff.max.ms", "1000", Both, "Cap of the exponential retry backoff."),
    k("reconnect.backoff.ms", "50", Both, "First wait before reconnecting to a node; doubles (with jitter) up to reconnect.backoff.max.ms."),
    k("reconnect.backoff.max.ms", "1000", Both, "Cap of the exponential reconnect backoff."),
    k("socket.connection.setup.timeout.ms", "10000", Both, "Time allowed for TCP connect plus TLS and SASL handshakes; grows on repeated failures."),
    k("socket.connection.setup.timeout.max.ms", "30000", Both, "Cap of the growing connection setup timeout."),
    k("connections.max.idle.ms", "540000", Both, "Close a connection with nothing in flight after this long idle; -1 = never."),
    k("metadata.max.age.ms", "300000", Both, "Refresh cluster metadata at least this often."),
    k("metadata.recovery.strategy", "rebootstrap", Both, "rebootstrap: return to bootstrap.servers when no known broker is reachable; none: keep trying known brokers."),
    k("metadata.recovery.rebootstrap.trigger.ms", "300000", Both, "Rebootstrap after this long without usable metadata."),
    k("send.buffer.bytes", "131072", Both, "TCP send buffer (SO_SNDBUF); -1 = OS default."),
    k("receive.buffer.bytes", "65536", C, "TCP receive buffer (SO_RCVBUF); -1 = OS default."),
    k("receive.buffer.bytes", "32768", P, "TCP receive buffer (SO_RCVBUF); -1 = OS default."),
    k("max.in.flight.requests.per.connection", "100", C, "Requests that may await a response on one connection (Java's consumer fixes 100)."),
    k("max.in.flight.requests.per.connection", "5", P, "Requests that may await a response on one connection."),
    gregor(k("connection.attempts.max.per.sec", "20", Both, "Client-wide cap on new connection attempts per second, so a flapping cluster is not hammered.")),
    k("metrics.num.samples", "2", Both, "Windowed metrics (*-avg, *-max, *-rate) cover this many sample windows."),
    k("metrics.sample.window.ms", "30000", Both, "Length of one metrics sample window."),
    k("metrics.recording.level", "INFO", Both, "INFO: client, topic and partition metrics; DEBUG or TRACE: also per-broker request metrics."),
    gregor(k("response.max.bytes", "104857600", Both, "Largest response frame accepted; a bigger length prefix closes the connection.")),
    // --- security ---
    k("security.protocol", "PLAINTEXT", Both, "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL."),
    k("ssl.truststore.location", "", Both, "PEM file of CA certificates to trust; unset = platform roots."),
    alias(k("ssl.ca.location", "", Both, "librdkafka name for ssl.truststore.location."), "ssl.truststore.location"),
    k("ssl.truststore.type", "PEM", Both, "Must be PEM."),
    k("ssl.truststore.certificates", "", Both, "Inline PEM CA certificates."),
    secret(k("ssl.truststore.password", "", Both, "Must be empty: PEM trust stores have no password (Java refuses one for PEM too).")),
    k("ssl.keystore.location", "", Both, "PEM file with the client certificate chain and private key (mutual TLS)."),
    k("ssl.keystore.type", "PEM", Both, "Must be PEM."),
    secret(k("ssl.keystore.key", "", Both, "Inline PEM client private key.")),
    k("ssl.keystore.certificate.chain", "", Both, "Inline PEM client certificate chain."),
    secret(k("ssl.keystore.password", "", Both, "Password of an encrypted private key (same role as ssl.key.password).")),
    k("ssl.certificate.location", "", Both, "librdkafka-style: PEM file of the client certificate chain."),
    k("ssl.key.location", "", Both, "librdkafka-style: PEM file of the client private key."),
    secret(k("ssl.key.password", "", Both, "Password of an encrypted PKCS#8 private key (PBES2: PBKDF2 or scrypt with AES-CBC, as openssl pkcs8 -topk8 writes).")),
    k("ssl.protocol", "TLSv1.3", Both, "Highest TLS version offered: TLSv1.3, or TLSv1.2 to never use 1.3 (as Java)."),
    k("ssl.enabled.protocols", "TLSv1.2,TLSv1.3", Both, "TLS versions allowed (rustls implements TLSv1.2 and TLSv1.3 only)."),
    k("ssl.cipher.suites", "", Both, "IANA names of the cipher suites allowed (e.g. TLS_AES_256_GCM_SHA384); unset = rustls' defaults."),
    k("ssl.endpoint.identification.algorithm", "https", Both, "https: check the broker certificate matches its host name; empty: do not check."),
    k("sasl.mechanism", "PLAIN", Both, "PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER, or GSSAPI with the `gssapi` cargo feature (Java defaults to GSSAPI; gregor to PLAIN, as GSSAPI needs a system library)."),
    secret(k("sasl.jaas.config", "", Both, "PlainLoginModule or ScramLoginModule entry with username and password; OAuthBearerLoginModule with unsecuredLogin* options (tests) or clientId/clientSecret/scope.")),
    k("sasl.username", "", Both, "librdkafka-style SASL user name (instead of sasl.jaas.config)."),
    secret(k("sasl.password", "", Both, "librdkafka-style SASL password.")),
    k("sasl.kerberos.service.name", "", Both, "GSSAPI: the brokers' Kerberos service name (e.g. kafka); needs the gssapi feature."),
    k("sasl.oauthbearer.token.endpoint.url", "", Both, "OAUTHBEARER: the OAuth/OIDC token endpoint (client-credentials grant, KIP-768), or file:/path of a file holding the token."),
    k("sasl.oauthbearer.client.credentials.client.id", "", Both, "OAUTHBEARER: client id sent to the token endpoint (or clientId in sasl.jaas.config)."),
    secret(k("sasl.oauthbearer.client.credentials.client.secret", "", Both, "OAUTHBEARER: client secret sent to the token endpoint (or clientSecret in sasl.jaas.config).")),
    k("sasl.oauthbearer.scope", "", Both, "OAUTHBEARER: scope requested from the token endpoint (or scope in sasl.jaas.config)."),
    k("sasl.oauthbearer.sub.claim.name", "sub", Both, "OAUTHBEARER: the JWT claim that names the principal."),
    k("sasl.oauthbearer.scope.claim.name", "scope", Both, "OAUTHBEARER: the JWT claim that holds the scope."),
    k("sasl.oauthbearer.header.urlencode", "false", Both, "OAUTHBEARER: URL-encode client id and secret in the token request's Basic header (RFC 6749 2.3.1)."),
    k("sasl.login.callback.handler.class", "", Both, "OAuthBearerLoginCallbackHandler (token endpoint) or OAuthBearerUnsecuredLoginCallbackHandler; unset = chosen from the other keys."),
    k("sasl.login.refresh.window.factor", "0.8", Both, "Refresh a token after this fraction of its lifetime (0.5-1.0)."),
    k("sasl.login.refresh.window.jitter", "0.05", Both, "Plus up to this random fraction of its lifetime (0-0.25)."),
    k("sasl.login.refresh.min.period.seconds", "60", Both, "Never refresh a token sooner than this after the previous refresh (0-900)."),
    k("sasl.login.refresh.buffer.seconds", "300", Both, "Refresh a token at least this long before it expires (0-3600)."),
    k("sasl.login.connect.timeout.ms", "", Both, "Connect timeout for the token endpoint; unset = 10000 (Java: the JDK's)."),
    k("sasl.login.read.timeout.ms", "", Both, "Read timeout for the token endpoint; unset = 10000 (Java: the JDK's)."),
    k("sasl.login.retry.backoff.ms", "100", Both, "First wait between token endpoint attempts; doubles up to sasl.login.retry.backoff.max.ms."),
    k("sasl.login.retry.backoff.max.ms", "10000", Both, "Cap of that wait and of the time spent retrying one token request."),
    // --- consumer ---
    k("group.id", "", C, "Consumer group to join; unset = no group (assign() only, no commits)."),
    k("group.instance.id", "", C, "Static membership id (KIP-345): a restart within the session timeout causes no rebalance."),
    k("client.rack", "", C, "Rack of this client, to fetch from a replica in the same rack (KIP-392)."),
    k("group.protocol", "classic", C, "classic: JoinGroup/SyncGroup/Heartbeat; consumer: KIP-848 ConsumerGroupHeartbeat."),
    k("group.remote.assignor", "", C, "Server-side assignor for group.protocol=consumer (uniform or range); unset = broker default."),
    gregor(k("coordinator.connection", "auto", C, "dedicated: own socket to the group coordinator; shared: reuse the broker's; auto: dedicated for classic, shared for consumer.")),
    k("partition.assignment.strategy", "range,cooperative-sticky", C, "Client-side assignors in preference order: range, roundrobin, cooperative-sticky (Java class names accepted)."),
    k("session.timeout.ms", "45000", C, "A member that sends no heartbeat for this long is removed from the group (classic protocol)."),
    k("heartbeat.interval.ms", "3000", C, "Time between heartbeats (classic protocol); must be below session.timeout.ms."),
    k("max.poll.interval.ms", "300000", C, "Longest allowed gap between polls before the member leaves the group."),
    k("max.poll.records", "500", C, "Most records returned by one poll."),
    k("enable.auto.commit", "true", C, "Commit consumed positions in the background."),
    k("auto.commit.interval.ms", "5000", C, "Time between automatic commits."),
    gregor(k("enable.auto.offset.store", "true", C, "librdkafka's: false = commits (auto, commit_sync, rebalance, close) take the offsets stored with Consumer::store_offsets, not the positions poll reached (at-least-once).")),
    k("auto.offset.reset", "latest", C, "Where to start without a committed offset: earliest, latest, none (error) or by_duration:<ISO-8601>."),
    k("fetch.min.bytes", "1", C, "The broker waits until it has this many bytes (or fetch.max.wait.ms passes)."),
    k("fetch.max.bytes", "52428800", C, "Target size of a Fetch response (the first batch is returned whole even if larger)."),
    k("fetch.max.wait.ms", "500", C, "How long the broker may hold a Fetch waiting for fetch.min.bytes."),
    k("max.partition.fetch.bytes", "1048576", C, "Target bytes per partition in a Fetch response."),
    k("queued.max.messages.kbytes", "32768", C, "Client-wide prefetch budget in KiB (librdkafka's name; its default is 65536): fetched bytes not yet returned by poll plus Fetches in flight stay under it, whatever the partition count."),
    k("check.crcs", "true", C, "Verify the CRC32C of every record batch."),
    k("isolation.level", "read_uncommitted", C, "read_committed hides aborted and open transactional records."),
    k("exclude.internal.topics", "true", C, "Pattern subscriptions skip internal topics such as __consumer_offsets."),
    k("allow.auto.create.topics", "false", C, "Let metadata requests create missing topics (Java defaults to true; gregor does not create topics by accident)."),
    k("default.api.timeout.ms", "60000", C, "Timeout of blocking consumer calls (commit, position, close...) that take no explicit timeout."),
    // --- producer ---
    k("acks", "all", P, "Acknowledgements to wait for: 0, 1 or all (-1)."),
    k("linger.ms", "5", P, "Wait up to this long to fill a batch before sending (Java 4.x default 5)."),
    k("batch.size", "16384", P, "Target bytes per partition batch."),
    k("compression.type", "none", P, "none, gzip, snappy, lz4 or zstd."),
    k("delivery.timeout.ms", "120000", P, "Upper bound on reporting success or failure of a send; >= linger.ms + request.timeout.ms."),
    k("retries", "2147483647", P, "How many times to retry a failed produce within delivery.timeout.ms."),
    k("max.request.size", "1048576", P, "Largest produce request (and so record) the producer sends."),
    k("buffer.memory", "33554432", P, "Bytes of records buffered or in flight; send() waits for room up to max.block.ms."),
    k("max.block.ms", "60000", P, "Longest wait of send() for metadata or buffer space, and of the transactional calls."),
    k("enable.idempotence", "true", P, "Producer id and sequence numbers: no duplicates from retries, order kept (off by default only if acks or retries contradict it)."),
    k("transactional.id", "", P, "Enables transactions and fences older producers with the same id; needs idempotence."),
    k("transaction.timeout.ms", "60000", P, "The coordinator aborts a transaction left open this long."),
    k("partitioner.class", "", P, "Only org.apache.kafka.clients.producer.RoundRobinPartitioner (= partitioner=round_robin); Java classes cannot run here."),
    k("partitioner.ignore.keys", "false", P, "true: spread keyed records like unkeyed ones (sticky) instead of by the key's hash."),
    gregor(k("partitioner", "murmur2_random", P, "Key placement, librdkafka's names: murmur2_random (Java's), consistent_random (librdkafka's default, CRC-32), consistent, murmur2, fnv1a_random, fnv1a, random, round_robin.")),
];

/// A Java client key whose meaning is tied to the JVM (classes to load, JMX, JSSE tuning, the
/// Kerberos relogin thread, ...). gregor accepts exactly the values that describe what it does
/// anyway — so a `consumer.properties` written for the Java tools works unchanged — and refuses
/// any other value with [`ConfigError::Unsupported`](super::ConfigError::Unsupported) and the
/// reason: no key is accepted and then silently ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JavaOnlyKey {
    /// The key, e.g. `interceptor.classes`.
    pub name: &'static str,
    /// Consumer, producer or both.
    pub applies_to: AppliesTo,
    /// The values accepted, compared ignoring ASCII case; an empty string stands for an empty
    /// value. A Java class is accepted by its full or its simple name.
    pub accepted: &'static [&'static str],
    /// Why any other value is refused, and what to do instead.
    pub reason: &'static str,
}

const fn j(
    name: &'static str,
    applies_to: AppliesTo,
    accepted: &'static [&'static str],
    reason: &'static str,
) -> JavaOnlyKey {
    JavaOnlyKey { name, applies_to, accepted, reason }
}

const RAW_DESERIALIZERS: &[&str] = &[
    "org.apache.kafka.common.serialization.ByteArrayDeserializer",
    "org.apache.kafka.common.serialization.BytesDeserializer",
    "org.apache.kafka.common.serialization.ByteBufferDeserializer",
];
const RAW_SERIALIZERS: &[&str] = &[
    "org.apache.kafka.common.serialization.ByteArraySerializer",
    "org.apache.kafka.common.serialization.BytesSerializer",
    "org.apache.kafka.common.serialization.ByteBufferSerializer",
];
const DESERIALIZER_REASON: &str = "gregor's consumer hands out keys and values as raw bytes (what Java's \
     ByteArrayDeserializer does); a Java class cannot run here: decode in Rust with \
     gregor::serialization (ConsumerRecord::deserialize with StringDeserializer, Json, ...)";
const SERIALIZER_REASON: &str = "gregor's producer takes keys and values as bytes (what Java's \
     ByteArraySerializer does); a Java class cannot run here: encode in Rust before ProducerRecord::new";
const NO_CLASSES: &str = "gregor cannot load Java classes";
const NO_JMX: &str = "gregor has no JMX: its metrics go through the `metrics` crate facade (install a recorder, \
     e.g. metrics-exporter-prometheus) and Consumer::statistics()";
const JSSE: &str = "TLS is rustls with the ring provider (TLS 1.2 and 1.3); JSSE providers, engines and \
     random sources do not apply";
const KRB_RELOGIN: &str = "gregor has no Kerberos relogin thread: credentials come from the keytab \
     (sasl.jaas.config useKeyTab=true) or the ticket cache at every connection; renew the cache with kinit";

/// The Java keys gregor knows but that have no counterpart in a Rust client, with the values it
/// accepts (those that match its behaviour) and why others are refused.
pub static JAVA_ONLY_KEYS: &[JavaOnlyKey] = &[
    j("key.deserializer", C, RAW_DESERIALIZERS, DESERIALIZER_REASON),
    j("value.deserializer", C, RAW_DESERIALIZERS, DESERIALIZER_REASON),
    j("key.serializer", P, RAW_SERIALIZERS, SERIALIZER_REASON),
    j("value.serializer", P, RAW_SERIALIZERS, SERIALIZER_REASON),
    j("interceptor.classes", Both, &[""], "gregor cannot load Java classes and has no interceptor hook: \
        wrap Consumer::poll / Producer::send, or use a RebalanceListener, the metrics and the tracing spans"),
    j("metric.reporters", Both, &[""], NO_JMX),
    j("auto.include.jmx.reporter", Both, &["false"], NO_JMX),
    j("enable.metrics.push", Both, &["false"], "gregor does not push client metrics to the broker (KIP-714); \
        its metrics go through the `metrics` crate facade"),
    j("security.providers", Both, &[""], JSSE),
    j("ssl.provider", Both, &[""], JSSE),
    j("ssl.engine.factory.class", Both, &[""], JSSE),
    j("ssl.secure.random.implementation", Both, &[""], JSSE),
    // JSSE's key and trust manager factories: the defaults (and their standard alternatives)
    // do what rustls does — present the configured client certificate, validate the broker's
    // chain by PKIX path building.
    j("ssl.keymanager.algorithm", Both, &["SunX509", "PKIX", "NewSunX509"], JSSE),
    j("ssl.trustmanager.algorithm", Both, &["PKIX", "SunX509"], JSSE),
    j("sasl.client.callback.handler.class", Both, &[""], "gregor cannot load Java classes: for OAUTHBEARER \
        tokens from code use ConsumerConfigBuilder::oauthbearer_token_provider"),
    j("sasl.login.class", Both, &[""], NO_CLASSES),
    j("sasl.kerberos.kinit.cmd", Both, &["", "/usr/bin/kinit"], KRB_RELOGIN),
    j("sasl.kerberos.min.time.before.relogin", Both, &["60000"], KRB_RELOGIN),
    j("sasl.kerberos.ticket.renew.jitter", Both, &["0.05"], KRB_RELOGIN),
    j("sasl.kerberos.ticket.renew.window.factor", Both, &["0.8"], KRB_RELOGIN),
    j("partitioner.adaptive.partitioning.enable", P, &["false"], "gregor's sticky partitioner moves on after \
        batch.size bytes but does not weight partitions by queue size (KIP-794's adaptive partitioning): set false"),
    j("partitioner.availability.timeout.ms", P, &["0"], "gregor does not skip partitions whose leader is slow \
        (KIP-794): only 0 (off) is supported"),
    j("internal.leave.group.on.close", C, &["true"], "gregor always sends LeaveGroup on close (static members, \
        with group.instance.id, do not: the broker keeps their partitions for session.timeout.ms)"),
];

/// Checks a Java-only key ([`JAVA_ONLY_KEYS`]) for the given client: `None` when `key` is not
/// one, `Some(Ok(()))` for an accepted value, `Some(Err(..))` with the reason otherwise.
pub fn check_java_only(key: &str, value: &str, producer: bool) -> Option<Result<(), super::ConfigError>> {
    let info = JAVA_ONLY_KEYS
        .iter()
        .find(|k| k.name == key && if producer { k.applies_to.producer() } else { k.applies_to.consumer() })?;
    let v = value.trim();
    let simple = |s: &str| s.rsplit('.').next().unwrap_or(s).to_string();
    let ok = info.accepted.iter().any(|a| {
        a.eq_ignore_ascii_case(v) || (a.starts_with("org.apache.") && !v.is_empty() && simple(a).eq_ignore_ascii_case(v))
    });
    Some(if ok {
        tracing::debug!(key, value = v, "Java client config accepted: it describes what gregor does");
        Ok(())
    } else {
        Err(super::ConfigError::Unsupported { key: key.to_string(), value: v.to_string(), reason: info.reason })
    })
}

/// Java keys with a JVM-only meaning, for both clients ([`JAVA_ONLY_KEYS`]).
pub fn java_only_keys() -> &'static [JavaOnlyKey] {
    JAVA_ONLY_KEYS
}

/// Keys a consumer accepts (in table order).
pub fn consumer_keys() -> &'static [KeyInfo] {
    static KEYS: std::sync::OnceLock<Vec<KeyInfo>> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| ALL_KEYS.iter().filter(|k| k.applies_to.consumer()).copied().collect())
}

/// Keys a producer accepts (in table order).
pub fn producer_keys() -> &'static [KeyInfo] {
    static KEYS: std::sync::OnceLock<Vec<KeyInfo>> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| ALL_KEYS.iter().filter(|k| k.applies_to.producer()).copied().collect())
}

/// Looks a key up for the given client.
pub fn key_info(name: &str, producer: bool) -> Option<&'static KeyInfo> {
    let keys = if producer { producer_keys() } else { consumer_keys() };
    keys.iter().find(|k| k.name == name)
}

/// Whether `key` names a secret (its value must not be printed), for any client.
pub fn is_secret(key: &str) -> bool {
    ALL_KEYS.iter().any(|k| k.name == key && k.secret)
}

/// Renders keys as a Markdown table (`| key | default | description |`), for README and docs.
/// gregor-only keys are marked with a dagger; empty defaults print as `-`.
pub fn markdown_table(keys: &[KeyInfo]) -> String {
    let mut out = String::from("| Key | Default | Description |\n|---|---|---|\n");
    for k in keys {
        let mark = if k.gregor_only { " †" } else { "" };
        let default = if k.default.is_empty() { "-".to_string() } else { format!("`{}`", k.default) };
        out.push_str(&format!(
            "| `{}`{mark} | {default} | {} |\n",
            k.name,
            k.description.replace('|', "\\|")
        ));
    }
    out
}

/// Builds the error for a key `client` does not know.
pub(crate) fn unknown_key(key: &str, producer: bool) -> super::ConfigError {
    let (client, other, mine, theirs) = if producer {
        ("producer", "consumer", producer_keys(), consumer_keys())
    } else {
        ("consumer", "producer", consumer_keys(), producer_keys())
    };
    let other_client = theirs.iter().any(|k| k.name == key).then_some(other);
    let suggestion = if other_client.is_some() {
        None
    } else {
        super::parse::suggest(key, mine.iter().map(|k| k.name).chain(JAVA_ONLY_KEYS.iter().map(|k| k.name)))
    };
    super::ConfigError::UnknownKey {
        client,
        key: key.to_string(),
        suggestion,
        other_client,
    }
}

/// Builds the error for a key that is not a connection or security key (the admin client).
pub(crate) fn unknown_admin_key(key: &str) -> super::ConfigError {
    let net: Vec<&'static str> = ALL_KEYS
        .iter()
        .filter(|k| k.applies_to == AppliesTo::Both)
        .map(|k| k.name)
        .chain(["max.in.flight.requests.per.connection", "receive.buffer.bytes"])
        .collect();
    let other_client = ALL_KEYS
        .iter()
        .find(|k| k.name == key)
        .map(|k| if k.applies_to.producer() { "producer" } else { "consumer" });
    let suggestion = if other_client.is_some() {
        None
    } else {
        super::parse::suggest(key, net.into_iter().chain(JAVA_ONLY_KEYS.iter().map(|k| k.name)))
    };
    super::ConfigError::UnknownKey { client: "admin", key: key.to_string(), suggestion, other_client }
}
