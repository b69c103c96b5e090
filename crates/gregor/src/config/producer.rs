//! [`ProducerConfig`]: the one configuration of gregor's producer, with the Java producer's key
//! names, value syntax and defaults (`org.apache.kafka.clients.producer.ProducerConfig`).
//!
//! The library's [`Producer`](crate::Producer), the CLI's `gregor produce` and the
//! [`Admin`](crate::Admin) client it uses to create topics all take this type (the admin client
//! its [`NetConfig`] part), so a `producer.properties` with TLS and SASL settings works for all
//! three.

use std::path::Path;
use std::time::Duration;

use super::error::ConfigError;
use super::keys;
use super::net::{Explicit, NetConfig};
use super::parse::{
    ms, parse_bool, parse_i64, parse_ms, parse_ms_min, parse_opt_string, parse_properties, parse_range, parse_u32,
};

/// `acks`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Acks {
    /// `0`: do not wait for the broker.
    None,
    /// `1`: the leader has written the records.
    Leader,
    /// `all` / `-1`: every in-sync replica has them (the default since Kafka 3.0).
    #[default]
    All,
}

impl Acks {
    /// The value of ProduceRequest `acks`.
    pub fn wire_value(self) -> i16 {
        match self {
            Acks::None => 0,
            Acks::Leader => 1,
            Acks::All => -1,
        }
    }
}

/// `compression.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CompressionType {
    /// No compression (the default).
    #[default]
    None,
    /// gzip.
    Gzip,
    /// Snappy (xerial framing).
    Snappy,
    /// LZ4 frame.
    Lz4,
    /// Zstandard.
    Zstd,
}

impl CompressionType {
    /// The record-batch attribute bits (Kafka `CompressionType.id`).
    pub fn attribute_id(self) -> i16 {
        match self {
            CompressionType::None => 0,
            CompressionType::Gzip => 1,
            CompressionType::Snappy => 2,
            CompressionType::Lz4 => 3,
            CompressionType::Zstd => 4,
        }
    }
}

/// The broker keeps the last 5 batches of each producer per partition to detect duplicates
/// (`ProducerStateEntry.NUM_BATCHES_TO_RETAIN`), so more in flight could not be deduplicated.
pub const MAX_IN_FLIGHT_FOR_IDEMPOTENCE: u32 = 5;

/// Everything gregor's producer can be configured with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerConfig {
    /// Connection and security settings (5 requests in flight per connection by default).
    pub net: NetConfig,
    /// `acks` (all).
    pub acks: Acks,
    /// `linger.ms` (5 ms, Java 4.x default per KIP-1030).
    pub linger: Duration,
    /// `batch.size` (16 KiB).
    pub batch_size: u32,
    /// `compression.type` (none).
    pub compression_type: CompressionType,
    /// `delivery.timeout.ms` (2 min).
    pub delivery_timeout: Duration,
    /// `retries` (i32::MAX: bounded by `delivery.timeout.ms` instead).
    pub retries: u32,
    /// `max.request.size` (1 MiB).
    pub max_request_size: u32,
    /// `buffer.memory` (32 MiB): `send` waits while this many bytes are buffered or in flight.
    pub buffer_memory: u64,
    /// `max.block.ms` (60 s): how long `send` may wait for metadata or buffer space, and how
    /// long `init_transactions` and the other transactional calls may block.
    pub max_block: Duration,
    /// `enable.idempotence` (true since Kafka 3.0, KIP-679): a producer id and per-partition
    /// sequence numbers let the broker drop duplicates of retried batches and refuse gaps. When
    /// not set explicitly it is turned off by `acks` other than `all` or `retries=0`, as in Java.
    pub enable_idempotence: bool,
    /// `transactional.id` (unset): enables transactions (KIP-98) and fences older producers
    /// with the same id. Requires idempotence.
    pub transactional_id: Option<String>,
    /// `transaction.timeout.ms` (60 s): the coordinator aborts a transaction open this long.
    pub transaction_timeout: Duration,
    /// `partitioner.ignore.keys` (false): when true, keyed records are spread like unkeyed
    /// ones (sticky) instead of by murmur2 of the key.
    pub partitioner_ignore_keys: bool,
    /// `partitioner` (librdkafka's key; `murmur2_random`, Java's placement): how keys map to
    /// partitions. `partitioner.class=org.apache.kafka.clients.producer.RoundRobinPartitioner`
    /// sets `round_robin`.
    pub partitioner: crate::producer::Partitioner,
    explicit: Explicit,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        ProducerConfig {
            net: NetConfig::producer_defaults(),
            acks: Acks::All,
            linger: Duration::from_millis(5),
            batch_size: 16_384,
            compression_type: CompressionType::None,
            delivery_timeout: Duration::from_millis(120_000),
            retries: i32::MAX as u32,
            max_request_size: 1_048_576,
            buffer_memory: 33_554_432,
            max_block: Duration::from_millis(60_000),
            enable_idempotence: true,
            transactional_id: None,
            transaction_timeout: Duration::from_millis(60_000),
            partitioner_ignore_keys: false,
            partitioner: crate::producer::Partitioner::Murmur2Random,
            explicit: Explicit::default(),
        }
    }
}

impl ProducerConfig {
    /// A typed builder.
    pub fn builder() -> ProducerConfigBuilder {
        ProducerConfigBuilder {
            config: ProducerConfig::default(),
            error: None,
        }
    }

    /// Builds from `(key, value)` pairs (applied in order) and validates.
    pub fn from_map<K, V>(entries: impl IntoIterator<Item = (K, V)>) -> Result<Self, ConfigError>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut c = ProducerConfig::default();
        for (k, v) in entries {
            c.set(k.as_ref(), v.as_ref())?;
        }
        c.validate()?;
        Ok(c)
    }

    /// Builds from Java `.properties` text and validates.
    pub fn from_properties_str(text: &str) -> Result<Self, ConfigError> {
        Self::from_map(parse_properties(text)?)
    }

    /// Reads a Java `.properties` file (UTF-8) and validates.
    pub fn from_properties_file(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        Self::from_properties_str(&super::parse::read_properties_file(path.as_ref())?)
    }

    /// Whether `key` was set explicitly (not left at its default).
    pub fn is_explicit(&self, key: &str) -> bool {
        self.explicit.0.contains(key) || self.net.is_explicit(key)
    }

    /// Whether this producer is idempotent (after [`validate`](Self::validate) applied Java's
    /// rules: `enable.idempotence` left at its default is turned off by `acks` other than `all`
    /// or by `retries=0`).
    pub fn idempotent(&self) -> bool {
        self.enable_idempotence
    }

    /// Sets one key (a producer key or an ignored Java key).
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), ConfigError> {
        let key = key.trim();
        let canonical: &'static str = match key {
            "acks" => {
                self.acks = match value.trim().to_ascii_lowercase().as_str() {
                    "0" => Acks::None,
                    "1" => Acks::Leader,
                    "all" | "-1" => Acks::All,
                    _ => return Err(ConfigError::invalid(key, value, "0, 1, all or -1")),
                };
                "acks"
            }
            "linger.ms" => {
                self.linger = parse_ms(key, value)?;
                "linger.ms"
            }
            "batch.size" => {
                self.batch_size = parse_u32(key, value, 0)?;
                "batch.size"
            }
            "compression.type" => {
                self.compression_type = match value.trim().to_ascii_lowercase().as_str() {
                    "none" => CompressionType::None,
                    "gzip" => CompressionType::Gzip,
                    "snappy" => CompressionType::Snappy,
                    "lz4" => CompressionType::Lz4,
                    #[cfg(feature = "zstd")]
                    "zstd" => CompressionType::Zstd,
                    #[cfg(not(feature = "zstd"))]
                    "zstd" => return Err(ConfigError::invalid(key, value, crate::records::compression::NO_ZSTD)),
                    _ => {
                        return Err(ConfigError::invalid(
                            key,
                            value,
                            "none, gzip, snappy, lz4 or zstd",
                        ))
                    }
                };
                "compression.type"
            }
            "delivery.timeout.ms" => {
                self.delivery_timeout = parse_ms(key, value)?;
                "delivery.timeout.ms"
            }
            "retries" => {
                let v = parse_i64(key, value)?;
                if !(0..=i64::from(i32::MAX)).contains(&v) {
                    return Err(ConfigError::invalid(key, value, "an integer between 0 and 2147483647"));
                }
                self.retries = v as u32;
                "retries"
            }
            "max.request.size" => {
                self.max_request_size = parse_u32(key, value, 1)?;
                "max.request.size"
            }
            "buffer.memory" => {
                self.buffer_memory = parse_range(key, value, 0, i64::MAX)? as u64;
                "buffer.memory"
            }
            "max.block.ms" => {
                self.max_block = parse_ms(key, value)?;
                "max.block.ms"
            }
            "enable.idempotence" => {
                self.enable_idempotence = parse_bool(key, value)?;
                "enable.idempotence"
            }
            "transactional.id" => {
                self.transactional_id = parse_opt_string(value);
                "transactional.id"
            }
            "transaction.timeout.ms" => {
                self.transaction_timeout = parse_ms_min(key, value, 1)?;
                "transaction.timeout.ms"
            }
            "partitioner.ignore.keys" => {
                self.partitioner_ignore_keys = parse_bool(key, value)?;
                "partitioner.ignore.keys"
            }
            "partitioner" => {
                self.partitioner = crate::producer::Partitioner::parse(key, value)?;
                "partitioner"
            }
            "partitioner.class" => {
                // Java 4.x ships one partitioner class; custom classes cannot run here.
                match value.trim() {
                    "" => {}
                    v if v == "org.apache.kafka.clients.producer.RoundRobinPartitioner" || v == "RoundRobinPartitioner" => {
                        self.partitioner = crate::producer::Partitioner::RoundRobin
                    }
                    v => {
                        return Err(ConfigError::Unsupported {
                            key: key.to_string(),
                            value: v.to_string(),
                            reason: "gregor cannot load Java classes: choose a built-in placement with `partitioner` \
                                     (murmur2_random, consistent_random, fnv1a_random, random, round_robin, ...)",
                        })
                    }
                }
                "partitioner"
            }
            _ => {
                if self.net.set(key, value)? {
                    return Ok(());
                }
                if let Some(checked) = keys::check_java_only(key, value, true) {
                    return checked;
                }
                return Err(keys::unknown_key(key, true));
            }
        };
        self.explicit.0.insert(canonical);
        Ok(())
    }

    /// Cross-key rules.
    pub fn validate(&mut self) -> Result<(), ConfigError> {
        self.net.validate()?;
        // Java `KafkaProducer.configureDeliveryTimeout`: a delivery timeout shorter than one
        // linger plus one request could never be met. Java errors only if the user set it, and
        // otherwise raises it silently; gregor does the same.
        let floor = self.linger + self.net.request_timeout;
        if self.delivery_timeout < floor {
            if self.explicit.0.contains("delivery.timeout.ms") {
                return Err(ConfigError::conflict(
                    &["delivery.timeout.ms", "linger.ms", "request.timeout.ms"],
                    format!(
                        "delivery.timeout.ms ({}) must be at least linger.ms + request.timeout.ms ({})",
                        ms(self.delivery_timeout),
                        ms(floor)
                    ),
                ));
            }
            self.delivery_timeout = floor;
        }
        self.validate_idempotence()
    }

    /// Java `ProducerConfig.postProcessAndValidateIdempotenceConfigs`: idempotence needs
    /// `acks=all`, `retries > 0` and at most 5 requests in flight per connection (the broker
    /// keeps the last 5 batches per producer to detect duplicates). An explicit
    /// `enable.idempotence=true` that contradicts them is an error; the default is quietly
    /// turned off by `acks`/`retries` (and is an error with `max.in.flight > 5`, as in Java 4.x).
    /// A `transactional.id` needs idempotence.
    fn validate_idempotence(&mut self) -> Result<(), ConfigError> {
        let explicit = self.explicit.0.contains("enable.idempotence");
        if self.enable_idempotence {
            let mut disable = false;
            if self.retries == 0 {
                if explicit {
                    return Err(ConfigError::conflict(
                        &["enable.idempotence", "retries"],
                        "the idempotent producer needs retries > 0 (set enable.idempotence=false to send without retries)",
                    ));
                }
                tracing::info!("idempotence disabled because retries=0");
                disable = true;
            }
            if self.acks != Acks::All {
                if explicit {
                    return Err(ConfigError::conflict(
                        &["enable.idempotence", "acks"],
                        "the idempotent producer needs acks=all; otherwise it cannot guarantee idempotence",
                    ));
                }
                tracing::info!(acks = self.acks.wire_value(), "idempotence disabled because acks is not all");
                disable = true;
            }
            let in_flight = self.net.max_in_flight_per_connection;
            if in_flight > MAX_IN_FLIGHT_FOR_IDEMPOTENCE {
                return Err(ConfigError::conflict(
                    &["enable.idempotence", "max.in.flight.requests.per.connection"],
                    format!(
                        "the idempotent producer needs max.in.flight.requests.per.connection <= 5 (it is {in_flight}); \
                         set enable.idempotence=false to allow more"
                    ),
                ));
            }
            if disable {
                self.enable_idempotence = false;
            }
        }
        if self.transactional_id.is_some() && !self.enable_idempotence {
            return Err(ConfigError::conflict(
                &["transactional.id", "enable.idempotence"],
                "a transactional.id needs idempotence (enable.idempotence=true, acks=all, retries > 0)",
            ));
        }
        Ok(())
    }
}

/// Typed builder for [`ProducerConfig`]; setters go through [`ProducerConfig::set`].
#[derive(Debug)]
pub struct ProducerConfigBuilder {
    config: ProducerConfig,
    error: Option<ConfigError>,
}

impl ProducerConfigBuilder {
    /// Sets any key by name.
    pub fn set(mut self, key: &str, value: impl AsRef<str>) -> Self {
        if self.error.is_none() {
            if let Err(e) = self.config.set(key, value.as_ref()) {
                self.error = Some(e);
            }
        }
        self
    }
    /// `bootstrap.servers`.
    pub fn bootstrap_servers(self, servers: impl AsRef<str>) -> Self {
        self.set("bootstrap.servers", servers)
    }
    /// `client.id`.
    pub fn client_id(self, id: impl AsRef<str>) -> Self {
        self.set("client.id", id)
    }
    /// `acks`.
    pub fn acks(self, acks: Acks) -> Self {
        self.set("acks", acks.wire_value().to_string())
    }
    /// `linger.ms`.
    pub fn linger(self, d: Duration) -> Self {
        self.set("linger.ms", d.as_millis().to_string())
    }
    /// `batch.size`.
    pub fn batch_size(self, n: u32) -> Self {
        self.set("batch.size", n.to_string())
    }
    /// `partitioner` (librdkafka's placement names, e.g. `consistent_random`).
    pub fn partitioner(self, p: crate::producer::Partitioner) -> Self {
        self.set("partitioner", p.as_str())
    }
    /// `compression.type`.
    pub fn compression_type(self, c: CompressionType) -> Self {
        let v = match c {
            CompressionType::None => "none",
            CompressionType::Gzip => "gzip",
            CompressionType::Snappy => "snappy",
            CompressionType::Lz4 => "lz4",
            CompressionType::Zstd => "zstd",
        };
        self.set("compression.type", v)
    }
    /// `delivery.timeout.ms`.
    pub fn delivery_timeout(self, d: Duration) -> Self {
        self.set("delivery.timeout.ms", d.as_millis().to_string())
    }
    /// `request.timeout.ms`.
    pub fn request_timeout(self, d: Duration) -> Self {
        self.set("request.timeout.ms", d.as_millis().to_string())
    }
    /// `max.request.size`.
    pub fn max_request_size(self, n: u32) -> Self {
        self.set("max.request.size", n.to_string())
    }
    /// `buffer.memory`.
    pub fn buffer_memory(self, bytes: u64) -> Self {
        self.set("buffer.memory", bytes.to_string())
    }
    /// `max.block.ms`.
    pub fn max_block(self, d: Duration) -> Self {
        self.set("max.block.ms", d.as_millis().to_string())
    }
    /// `enable.idempotence`.
    pub fn enable_idempotence(self, on: bool) -> Self {
        self.set("enable.idempotence", on.to_string())
    }
    /// `transactional.id`.
    pub fn transactional_id(self, id: impl AsRef<str>) -> Self {
        self.set("transactional.id", id)
    }
    /// `transaction.timeout.ms`.
    pub fn transaction_timeout(self, d: Duration) -> Self {
        self.set("transaction.timeout.ms", d.as_millis().to_string())
    }
    /// `security.protocol`.
    pub fn security_protocol(self, p: super::SecurityProtocol) -> Self {
        self.set("security.protocol", p.as_str())
    }
    /// `sasl.mechanism` with librdkafka-style `sasl.username` / `sasl.password`.
    pub fn sasl(self, mechanism: super::SaslMechanism, username: &str, password: &str) -> Self {
        self.set("sasl.mechanism", mechanism.as_str())
            .set("sasl.username", username)
            .set("sasl.password", password)
    }
    /// OAUTHBEARER tokens from an application callback (with `sasl.mechanism=OAUTHBEARER`);
    /// see [`crate::oauth`].
    pub fn oauthbearer_token_provider(mut self, provider: std::sync::Arc<dyn crate::oauth::OAuthBearerTokenProvider>) -> Self {
        self.config.net.security.sasl.set_oauthbearer_token_provider(provider);
        self
    }

    /// Validates and returns the configuration.
    pub fn build(self) -> Result<ProducerConfig, ConfigError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let mut c = self.config;
        c.validate()?;
        Ok(c)
    }
}
