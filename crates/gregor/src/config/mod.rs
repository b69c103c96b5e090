//! Client configuration with the Java client's key names and defaults.
//!
//! A Kafka user already knows `bootstrap.servers`, `group.id` and `session.timeout.ms`, so gregor
//! takes the same keys, the same value syntax and (with a few documented exceptions) the same
//! defaults as the Java `KafkaConsumer` / `KafkaProducer` (`ConsumerConfig`, `ProducerConfig`,
//! `CommonClientConfigs`). Configuration can come from
//!
//! * a map of strings ([`ConsumerConfig::from_map`]),
//! * a Java `.properties` file ([`ConsumerConfig::from_properties_file`] /
//!   [`ConsumerConfig::from_properties_str`]),
//! * key by key ([`ConsumerConfig::set`]), or
//! * a typed builder ([`ConsumerConfig::builder`]).
//!
//! Unlike Java, which logs "isn't a known config" and carries on, an unknown key is an error: a
//! misspelt `sesion.timeout.ms` silently falling back to the default is the kind of bug that only
//! shows up in production. The error names the nearest valid key. Keys that Java has but whose
//! meaning is tied to the JVM (deserializer classes, interceptors, metric reporters, JSSE tuning,
//! ...) are accepted with the values that describe what gregor does anyway (`ByteArrayDeserializer`,
//! no interceptors, ...), so a `consumer.properties` written for `kafka-console-consumer` mostly
//! works unchanged, and refused with the reason for any other value ([`keys::JAVA_ONLY_KEYS`]):
//! no key is silently ignored.
//!
//! The connection-related keys shared by consumer and producer live in [`NetConfig`], the one
//! type the connection layer takes.

mod consumer;
mod error;
pub mod keys;
mod metrics;
mod net;
mod oauth;
mod parse;
mod producer;
mod secret;
mod security;

#[cfg(test)]
mod tests;

pub use self::consumer::{
    Assignor, AutoOffsetReset, ConsumerConfig, ConsumerConfigBuilder, CoordinatorConnection,
    GroupProtocol, IsolationLevel,
};
pub use self::error::ConfigError;
pub use self::keys::{consumer_keys, producer_keys, AppliesTo, JavaOnlyKey, KeyInfo};
pub use self::metrics::{MetricsConfig, RecordingLevel};
pub use self::net::{
    BootstrapServer, ClientDnsLookup, MetadataRecoveryStrategy, NetConfig,
    DEFAULT_CONNECTION_ATTEMPTS_PER_SEC, DEFAULT_RESPONSE_MAX_BYTES,
};
pub use self::oauth::{LoginCallbackHandler, LoginRefreshConfig, OAuthBearerConfig};
pub use self::parse::parse_properties;
pub use self::producer::{Acks, CompressionType, ProducerConfig, ProducerConfigBuilder, MAX_IN_FLIGHT_FOR_IDEMPOTENCE};
pub use self::secret::Password;
pub use self::security::{
    SaslConfig, SaslCredentials, SaslMechanism, SecurityConfig, SecurityProtocol, TlsConfig, TlsVersion,
};
