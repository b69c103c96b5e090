//! Connection settings shared by consumer and producer: what the connection layer needs.

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use super::error::ConfigError;
use super::parse::{
    parse_i64, parse_list, parse_ms, parse_ms_min, parse_ms_or_never, parse_opt_string, parse_range,
    parse_u32,
};
use super::security::SecurityConfig;

/// One `bootstrap.servers` entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BootstrapServer {
    /// Host name or IP literal as written (IPv6 without brackets).
    pub host: String,
    /// TCP port, 1..=65535.
    pub port: u16,
}

impl BootstrapServer {
    /// Parses `host:port` or `[ipv6]:port`.
    pub fn parse(entry: &str) -> Result<Self, ConfigError> {
        const KEY: &str = "bootstrap.servers";
        const EXPECTED: &str = "a comma-separated list of host:port (IPv6 as [addr]:port)";
        let e = entry.trim();
        let bad = |why: &str| ConfigError::invalid(KEY, e, format!("{EXPECTED}; {why}"));
        if e.contains("://") {
            return Err(bad("drop the scheme (security.protocol selects PLAINTEXT/SSL)"));
        }
        let (host, port) = if let Some(rest) = e.strip_prefix('[') {
            let (h, after) = rest.split_once(']').ok_or_else(|| bad("missing ']'"))?;
            let p = after
                .strip_prefix(':')
                .ok_or_else(|| bad("missing :port after ]"))?;
            if h.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(bad(&format!("'{h}' is not an IPv6 address")));
            }
            (h, p)
        } else {
            let (h, p) = e.rsplit_once(':').ok_or_else(|| bad("missing :port"))?;
            if h.contains(':') {
                return Err(bad("write an IPv6 address in brackets, e.g. [::1]:9092"));
            }
            if h.is_empty() {
                return Err(bad("missing host"));
            }
            if !h
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_')
            {
                return Err(bad(&format!("'{h}' is not a valid host name")));
            }
            (h, p)
        };
        let port = port
            .parse::<u16>()
            .ok()
            .filter(|&p| p != 0)
            .ok_or_else(|| bad(&format!("'{port}' is not a port between 1 and 65535")))?;
        Ok(BootstrapServer {
            host: host.to_string(),
            port,
        })
    }
}

impl fmt::Display for BootstrapServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// `client.dns.lookup` (Java `ClientDnsLookup`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientDnsLookup {
    /// Resolve each host to all its addresses and try them in turn (the default).
    #[default]
    UseAllDnsIps,
    /// Expand each bootstrap host to its canonical names (e.g. behind a DNS alias) first.
    ResolveCanonicalBootstrapServersOnly,
}

/// `metadata.recovery.strategy` (KIP-899).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MetadataRecoveryStrategy {
    /// When no known broker is reachable, start over from `bootstrap.servers` (default, Kafka 4.0).
    #[default]
    Rebootstrap,
    /// Keep trying the last known brokers.
    None,
}

/// Marks which keys were given explicitly. It is provenance, not part of the value, so it
/// compares equal to anything and prints nothing useful.
#[derive(Clone, Default)]
pub(crate) struct Explicit(pub(crate) BTreeSet<&'static str>);

impl PartialEq for Explicit {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl Eq for Explicit {}

impl fmt::Debug for Explicit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.iter()).finish()
    }
}

/// Default of `response.max.bytes`: 100 MiB, like librdkafka's `receive.message.max.bytes` and
/// franz-go's `BrokerMaxReadBytes`. A Fetch response is bounded by `fetch.max.bytes` (50 MiB) except
/// that the broker always returns the first record batch whole even when it alone exceeds the
/// limit (KIP-74); a batch is bounded by the broker's `message.max.bytes` (~1 MiB by default, but
/// configurable per topic). 100 MiB covers both with room; its purpose is to refuse a garbage
/// length prefix (e.g. a TLS alert read by a plaintext client decodes as ~350 MB) before
/// allocating it.
pub const DEFAULT_RESPONSE_MAX_BYTES: u32 = 100 * 1024 * 1024;

/// Default of `connection.attempts.max.per.sec`.
pub const DEFAULT_CONNECTION_ATTEMPTS_PER_SEC: u32 = 20;

/// The connection-related settings, shared by [`ConsumerConfig`](super::ConsumerConfig) and
/// [`ProducerConfig`](super::ProducerConfig). The connection layer takes this one type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetConfig {
    /// `bootstrap.servers` (required): where to fetch the first metadata.
    pub bootstrap_servers: Vec<BootstrapServer>,
    /// `client.id`, sent in every request header; brokers use it in logs and quotas.
    /// Default `gregor` (Java generates `consumer-<group>-<n>`; a per-process counter says
    /// nothing across processes, and a stable id keeps quota configuration simple).
    pub client_id: String,
    /// `client.dns.lookup`.
    pub client_dns_lookup: ClientDnsLookup,
    /// `request.timeout.ms` (30 s): an unanswered request fails and closes its connection.
    pub request_timeout: Duration,
    /// `retry.backoff.ms` (100 ms): first wait before retrying a failed request.
    pub retry_backoff: Duration,
    /// `retry.backoff.max.ms` (1 s): cap of the exponential retry backoff (KIP-580).
    pub retry_backoff_max: Duration,
    /// `reconnect.backoff.ms` (50 ms): first wait before reconnecting to a node.
    pub reconnect_backoff: Duration,
    /// `reconnect.backoff.max.ms` (1 s): cap of the exponential reconnect backoff.
    pub reconnect_backoff_max: Duration,
    /// `socket.connection.setup.timeout.ms` (10 s): TCP + TLS + SASL must finish within it.
    pub connection_setup_timeout: Duration,
    /// `socket.connection.setup.timeout.max.ms` (30 s): cap as the setup timeout grows.
    pub connection_setup_timeout_max: Duration,
    /// `connections.max.idle.ms` (9 min); `None` (-1) = never reap idle connections.
    pub connections_max_idle: Option<Duration>,
    /// `metadata.max.age.ms` (5 min): refresh metadata at least this often.
    pub metadata_max_age: Duration,
    /// `metadata.recovery.strategy`.
    pub metadata_recovery_strategy: MetadataRecoveryStrategy,
    /// `metadata.recovery.rebootstrap.trigger.ms` (5 min, KIP-1102): rebootstrap after this long
    /// without usable metadata.
    pub metadata_recovery_rebootstrap_trigger: Duration,
    /// `send.buffer.bytes` (128 KiB); `None` (-1) = OS default.
    pub send_buffer_bytes: Option<u32>,
    /// `receive.buffer.bytes` (consumer 64 KiB, producer 32 KiB); `None` (-1) = OS default.
    pub receive_buffer_bytes: Option<u32>,
    /// `max.in.flight.requests.per.connection`: consumer 100 (fixed in Java's consumer),
    /// producer 5 (Java's producer default).
    pub max_in_flight_per_connection: u32,
    /// `connection.attempts.max.per.sec` (gregor, default 20): client-wide cap on new connection
    /// attempts. Per-node backoff alone lets N nodes be retried N times per backoff period; the
    /// cap bounds the total when a whole cluster flaps or a broker enforces a connection-rate
    /// quota (KIP-612). 20 still lets a client reach 19 brokers plus a coordinator in its first
    /// second.
    pub connection_attempts_per_sec: u32,
    /// `response.max.bytes` (gregor, default [`DEFAULT_RESPONSE_MAX_BYTES`]): largest response
    /// frame accepted; a larger length prefix closes the connection. Must exceed
    /// `fetch.max.bytes` and `max.partition.fetch.bytes` in a consumer.
    pub response_max_bytes: u32,
    /// `security.protocol`, `ssl.*`, `sasl.*`.
    pub security: SecurityConfig,
    /// `metrics.num.samples`, `metrics.sample.window.ms`, `metrics.recording.level`.
    pub metrics: super::MetricsConfig,
    pub(crate) explicit: Explicit,
}

impl NetConfig {
    /// Defaults for a consumer (100 requests in flight per connection).
    pub fn consumer_defaults() -> Self {
        Self::with_max_in_flight(100)
    }

    /// Defaults for a producer (5 requests in flight per connection, Java's producer
    /// `receive.buffer.bytes` of 32 KiB).
    pub fn producer_defaults() -> Self {
        NetConfig { receive_buffer_bytes: Some(32_768), ..Self::with_max_in_flight(5) }
    }

    fn with_max_in_flight(max_in_flight_per_connection: u32) -> Self {
        NetConfig {
            bootstrap_servers: Vec::new(),
            client_id: "gregor".to_string(),
            client_dns_lookup: ClientDnsLookup::default(),
            request_timeout: Duration::from_millis(30_000),
            retry_backoff: Duration::from_millis(100),
            retry_backoff_max: Duration::from_millis(1_000),
            reconnect_backoff: Duration::from_millis(50),
            reconnect_backoff_max: Duration::from_millis(1_000),
            connection_setup_timeout: Duration::from_millis(10_000),
            connection_setup_timeout_max: Duration::from_millis(30_000),
            connections_max_idle: Some(Duration::from_millis(540_000)),
            metadata_max_age: Duration::from_millis(300_000),
            metadata_recovery_strategy: MetadataRecoveryStrategy::default(),
            metadata_recovery_rebootstrap_trigger: Duration::from_millis(300_000),
            send_buffer_bytes: Some(131_072),
            receive_buffer_bytes: Some(65_536),
            max_in_flight_per_connection,
            connection_attempts_per_sec: DEFAULT_CONNECTION_ATTEMPTS_PER_SEC,
            response_max_bytes: DEFAULT_RESPONSE_MAX_BYTES,
            security: SecurityConfig::default(),
            metrics: super::MetricsConfig::default(),
            explicit: Explicit::default(),
        }
    }

    /// Whether `key` was set explicitly (not left at its default).
    pub fn is_explicit(&self, key: &str) -> bool {
        self.explicit.0.contains(key)
    }

    /// Applies one key; `Ok(false)` if it is not a connection or security key (so the caller
    /// can try its own keys). Values are checked at once; cross-key rules in [`validate`].
    ///
    /// [`validate`]: NetConfig::validate
    pub fn set(&mut self, key: &str, value: &str) -> Result<bool, ConfigError> {
        let canonical: &'static str = match key {
            "bootstrap.servers" => {
                self.bootstrap_servers = parse_list(value)
                    .iter()
                    .map(|e| BootstrapServer::parse(e))
                    .collect::<Result<_, _>>()?;
                "bootstrap.servers"
            }
            "client.id" => {
                // Java replaces an empty client.id with a generated one; gregor uses its default.
                self.client_id = parse_opt_string(value).unwrap_or_else(|| "gregor".to_string());
                "client.id"
            }
            "client.dns.lookup" => {
                self.client_dns_lookup = match value.trim().to_ascii_lowercase().as_str() {
                    "use_all_dns_ips" => ClientDnsLookup::UseAllDnsIps,
                    "resolve_canonical_bootstrap_servers_only" => {
                        ClientDnsLookup::ResolveCanonicalBootstrapServersOnly
                    }
                    _ => {
                        return Err(ConfigError::invalid(
                            key,
                            value,
                            "use_all_dns_ips or resolve_canonical_bootstrap_servers_only",
                        ))
                    }
                };
                "client.dns.lookup"
            }
            "request.timeout.ms" => {
                self.request_timeout = parse_ms_min(key, value, 1)?;
                "request.timeout.ms"
            }
            "retry.backoff.ms" => {
                self.retry_backoff = parse_ms(key, value)?;
                "retry.backoff.ms"
            }
            "retry.backoff.max.ms" => {
                self.retry_backoff_max = parse_ms(key, value)?;
                "retry.backoff.max.ms"
            }
            "reconnect.backoff.ms" => {
                self.reconnect_backoff = parse_ms(key, value)?;
                "reconnect.backoff.ms"
            }
            "reconnect.backoff.max.ms" => {
                self.reconnect_backoff_max = parse_ms(key, value)?;
                "reconnect.backoff.max.ms"
            }
            "socket.connection.setup.timeout.ms" => {
                self.connection_setup_timeout = parse_ms_min(key, value, 1)?;
                "socket.connection.setup.timeout.ms"
            }
            "socket.connection.setup.timeout.max.ms" => {
                self.connection_setup_timeout_max = parse_ms_min(key, value, 1)?;
                "socket.connection.setup.timeout.max.ms"
            }
            "connections.max.idle.ms" => {
                self.connections_max_idle = parse_ms_or_never(key, value)?;
                "connections.max.idle.ms"
            }
            "metadata.max.age.ms" => {
                self.metadata_max_age = parse_ms(key, value)?;
                "metadata.max.age.ms"
            }
            "metadata.recovery.strategy" => {
                self.metadata_recovery_strategy = match value.trim().to_ascii_lowercase().as_str() {
                    "rebootstrap" => MetadataRecoveryStrategy::Rebootstrap,
                    "none" => MetadataRecoveryStrategy::None,
                    _ => return Err(ConfigError::invalid(key, value, "rebootstrap or none")),
                };
                "metadata.recovery.strategy"
            }
            "metadata.recovery.rebootstrap.trigger.ms" => {
                self.metadata_recovery_rebootstrap_trigger = parse_ms(key, value)?;
                "metadata.recovery.rebootstrap.trigger.ms"
            }
            "send.buffer.bytes" => {
                self.send_buffer_bytes = parse_buffer(key, value)?;
                "send.buffer.bytes"
            }
            "receive.buffer.bytes" => {
                self.receive_buffer_bytes = parse_buffer(key, value)?;
                "receive.buffer.bytes"
            }
            "max.in.flight.requests.per.connection" => {
                self.max_in_flight_per_connection = parse_u32(key, value, 1)?;
                "max.in.flight.requests.per.connection"
            }
            "connection.attempts.max.per.sec" => {
                self.connection_attempts_per_sec = parse_u32(key, value, 1)?;
                "connection.attempts.max.per.sec"
            }
            "metrics.num.samples" => {
                self.metrics.num_samples = parse_u32(key, value, 1)?;
                "metrics.num.samples"
            }
            "metrics.sample.window.ms" => {
                self.metrics.sample_window = parse_ms_min(key, value, 1)?;
                "metrics.sample.window.ms"
            }
            "metrics.recording.level" => {
                self.metrics.recording_level = super::RecordingLevel::parse(key, value)?;
                "metrics.recording.level"
            }
            "response.max.bytes" => {
                // Below 1 KiB not even a Metadata response of a one-broker cluster fits.
                self.response_max_bytes = parse_u32(key, value, 1024)?;
                "response.max.bytes"
            }
            _ => {
                if !self.security.set(key, value)? {
                    return Ok(false);
                }
                match super::keys::ALL_KEYS.iter().find(|k| k.name == key) {
                    Some(info) => info.name,
                    None => return Ok(true),
                }
            }
        };
        self.explicit.0.insert(canonical);
        Ok(true)
    }

    /// Checks cross-key rules and applies Java's post-processing of backoff pairs (afterwards
    /// every `*_backoff <= *_backoff_max` and setup timeout `<=` its max).
    pub fn validate(&mut self) -> Result<(), ConfigError> {
        if self.bootstrap_servers.is_empty() {
            return Err(ConfigError::Missing {
                key: "bootstrap.servers",
                reason: "give at least one host:port to fetch the initial cluster metadata from",
            });
        }
        // Java `CommonClientConfigs.postProcessReconnectBackoffConfigs`: an explicit
        // reconnect.backoff.ms without an explicit max disables the exponential growth.
        if self.is_explicit("reconnect.backoff.ms") && !self.is_explicit("reconnect.backoff.max.ms")
        {
            self.reconnect_backoff_max = self.reconnect_backoff;
        }
        // Java `warnDisablingExponentialBackoff`: base > max means a static backoff of max.
        // Applied here so that the connection layer can trust `base <= max`.
        self.retry_backoff = self.retry_backoff.min(self.retry_backoff_max);
        self.reconnect_backoff = self.reconnect_backoff.min(self.reconnect_backoff_max);
        self.connection_setup_timeout =
            self.connection_setup_timeout.min(self.connection_setup_timeout_max);
        if let Some(idle) = self.connections_max_idle {
            if idle.is_zero() {
                return Err(ConfigError::invalid(
                    "connections.max.idle.ms",
                    "0",
                    "a positive number of milliseconds, or -1 for never (0 would close every connection at once)",
                ));
            }
        }
        self.security.validate(self.is_explicit("sasl.mechanism"))
    }
}

fn parse_buffer(key: &str, value: &str) -> Result<Option<u32>, ConfigError> {
    match parse_i64(key, value)? {
        -1 => Ok(None),
        _ => parse_range(key, value, 0, i64::from(i32::MAX))
            .map(|v| Some(v as u32))
            .map_err(|_| ConfigError::invalid(key, value, "a byte count >= 0, or -1 for the OS default")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bootstrap_entries() {
        let ok = |s: &str| BootstrapServer::parse(s).unwrap();
        assert_eq!(ok("localhost:9092"), BootstrapServer { host: "localhost".into(), port: 9092 });
        assert_eq!(ok(" [::1]:9093 "), BootstrapServer { host: "::1".into(), port: 9093 });
        assert_eq!(ok("[::1]:9093").to_string(), "[::1]:9093");
        assert_eq!(ok("kafka-0.kafka_svc.local:1").port, 1);
        for bad in [
            "localhost",
            "localhost:",
            "localhost:0",
            "localhost:65536",
            "localhost:x",
            ":9092",
            "::1:9092",
            "[::1]9092",
            "[nothex]:9092",
            "PLAINTEXT://localhost:9092",
            "bad host:9092",
        ] {
            let err = BootstrapServer::parse(bad).unwrap_err();
            assert_eq!(err.key(), Some("bootstrap.servers"), "{bad}");
        }
    }

    #[test]
    fn bootstrap_list_and_required() {
        let mut n = NetConfig::consumer_defaults();
        assert!(matches!(n.validate(), Err(ConfigError::Missing { key: "bootstrap.servers", .. })));
        n.set("bootstrap.servers", "a:1, b:2,,").unwrap();
        assert_eq!(n.bootstrap_servers.len(), 2);
        n.validate().unwrap();
        n.set("bootstrap.servers", " , ").unwrap();
        assert!(n.validate().is_err());
    }

    #[test]
    fn never_and_os_default_values() {
        let mut n = NetConfig::consumer_defaults();
        n.set("connections.max.idle.ms", "-1").unwrap();
        assert_eq!(n.connections_max_idle, None);
        n.set("receive.buffer.bytes", "-1").unwrap();
        assert_eq!(n.receive_buffer_bytes, None);
        assert!(n.set("send.buffer.bytes", "-2").is_err());
        assert!(n.set("connection.attempts.max.per.sec", "0").is_err());
        assert!(n.set("response.max.bytes", "10").is_err());
    }

    #[test]
    fn reconnect_backoff_without_max_is_static_like_java() {
        let mut n = NetConfig::consumer_defaults();
        n.set("bootstrap.servers", "a:1").unwrap();
        n.set("reconnect.backoff.ms", "200").unwrap();
        n.validate().unwrap();
        assert_eq!(n.reconnect_backoff_max, Duration::from_millis(200));

        let mut n = NetConfig::consumer_defaults();
        n.set("bootstrap.servers", "a:1").unwrap();
        n.set("retry.backoff.ms", "5000").unwrap();
        n.set("socket.connection.setup.timeout.ms", "60000").unwrap();
        n.validate().unwrap();
        assert_eq!(n.retry_backoff, Duration::from_millis(1000));
        assert_eq!(n.connection_setup_timeout, Duration::from_millis(30_000));
    }
}
