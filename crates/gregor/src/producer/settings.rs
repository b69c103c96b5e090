//! [`ProducerSettings`]: the producer's configuration, with Java's names and defaults.

use std::time::Duration;

use crate::cluster::ClusterSettings;
use crate::error::{Error, ErrorKind, Result};

use super::encode::Compression;

/// Producer configuration. Field names follow the Java producer's keys (`linger.ms` →
/// `linger`); defaults are Java 4.x's. Build with [`ProducerSettings::new`] and adjust fields,
/// or from Java-style keys with [`ProducerSettings::from_map`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ProducerSettings {
    /// `bootstrap.servers`: `host:port[,host:port...]`.
    pub bootstrap_servers: String,
    /// `client.id` (default `gregor-producer`).
    pub client_id: String,
    /// `acks`: 0 (no response), 1 (leader) or -1 (`all`, the default).
    pub acks: i16,
    /// `linger.ms` (5 ms, Java 4.x's default per KIP-1030).
    pub linger: Duration,
    /// `batch.size` in bytes (16384).
    pub batch_size: usize,
    /// `compression.type`: none (default), gzip, snappy, lz4 or zstd.
    pub compression_type: String,
    /// `request.timeout.ms` (30 s): how long the broker may take to answer a Produce request.
    pub request_timeout: Duration,
    /// `delivery.timeout.ms` (120 s): upper bound on the time from `send` to a result,
    /// retries included.
    pub delivery_timeout: Duration,
    /// `retries` (`i32::MAX`: retries are bounded by `delivery.timeout.ms` instead).
    pub retries: u32,
    /// `retry.backoff.ms` (100 ms).
    pub retry_backoff: Duration,
    /// `retry.backoff.max.ms` (1 s).
    pub retry_backoff_max: Duration,
    /// `max.request.size` (1 MiB): the largest Produce request (and so record) sent.
    pub max_request_size: usize,
    /// `max.in.flight.requests.per.connection` (5).
    pub max_in_flight: usize,
    /// `buffer.memory` (32 MiB): `send` waits while this many bytes are buffered or in flight.
    pub buffer_memory: usize,
    /// `max.block.ms` (60 s): how long `send` may wait for metadata or buffer space.
    pub max_block: Duration,
    /// `metadata.max.age.ms` (5 min).
    pub metadata_max_age: Duration,
    /// `connections.max.idle.ms` (9 min; `None` never closes idle connections).
    pub connections_max_idle: Option<Duration>,
}

impl ProducerSettings {
    /// Java's defaults with `bootstrap.servers` set.
    pub fn new(bootstrap_servers: &str) -> ProducerSettings {
        ProducerSettings {
            bootstrap_servers: bootstrap_servers.to_string(),
            client_id: "gregor-producer".into(),
            acks: -1,
            linger: Duration::from_millis(5),
            batch_size: 16_384,
            compression_type: "none".into(),
            request_timeout: Duration::from_millis(30_000),
            delivery_timeout: Duration::from_millis(120_000),
            retries: i32::MAX as u32,
            retry_backoff: Duration::from_millis(100),
            retry_backoff_max: Duration::from_millis(1_000),
            max_request_size: 1_048_576,
            max_in_flight: 5,
            buffer_memory: 33_554_432,
            max_block: Duration::from_millis(60_000),
            metadata_max_age: Duration::from_millis(300_000),
            connections_max_idle: Some(Duration::from_millis(540_000)),
        }
    }

    /// Builds from Java producer keys (`bootstrap.servers` is required). Unknown keys are an
    /// error, so a typo does not silently fall back to a default.
    pub fn from_map<K: AsRef<str>, V: AsRef<str>>(entries: impl IntoIterator<Item = (K, V)>) -> Result<Self> {
        let mut s = ProducerSettings::new("");
        for (k, v) in entries {
            s.set(k.as_ref(), v.as_ref())?;
        }
        if s.bootstrap_servers.trim().is_empty() {
            return Err(Error::new(ErrorKind::Config, "bootstrap.servers is required"));
        }
        s.validate()?;
        Ok(s)
    }

    /// Sets one Java producer key.
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        let v = value.trim();
        let ms = |v: &str| -> Result<Duration> {
            v.parse::<u64>().map(Duration::from_millis).map_err(|_| bad(key, v, "milliseconds"))
        };
        let n = |v: &str| -> Result<usize> { v.parse::<usize>().map_err(|_| bad(key, v, "a byte count")) };
        match key {
            "bootstrap.servers" => self.bootstrap_servers = v.to_string(),
            "client.id" => self.client_id = v.to_string(),
            "acks" => {
                self.acks = match v {
                    "all" | "-1" => -1,
                    "0" => 0,
                    "1" => 1,
                    _ => return Err(bad(key, v, "0, 1, all or -1")),
                }
            }
            "linger.ms" => self.linger = ms(v)?,
            "batch.size" => self.batch_size = n(v)?,
            "compression.type" => {
                Compression::parse(v)?;
                self.compression_type = v.to_ascii_lowercase();
            }
            "request.timeout.ms" => self.request_timeout = ms(v)?,
            "delivery.timeout.ms" => self.delivery_timeout = ms(v)?,
            "retries" => self.retries = v.parse().map_err(|_| bad(key, v, "a count"))?,
            "retry.backoff.ms" => self.retry_backoff = ms(v)?,
            "retry.backoff.max.ms" => self.retry_backoff_max = ms(v)?,
            "max.request.size" => self.max_request_size = n(v)?,
            "max.in.flight.requests.per.connection" => self.max_in_flight = n(v)?,
            "buffer.memory" => self.buffer_memory = n(v)?,
            "max.block.ms" => self.max_block = ms(v)?,
            "metadata.max.age.ms" => self.metadata_max_age = ms(v)?,
            "connections.max.idle.ms" => {
                self.connections_max_idle = match v.parse::<i64>() {
                    Ok(x) if x < 0 => None,
                    Ok(x) => Some(Duration::from_millis(x as u64)),
                    Err(_) => return Err(bad(key, v, "milliseconds (-1 = never)")),
                }
            }
            // Accepted for compatibility with Java property files; gregor's producer is never
            // idempotent (it has no producer id), which these keys only matter for.
            "enable.idempotence" | "key.serializer" | "value.serializer" => {}
            _ => return Err(Error::new(ErrorKind::Config, format!("unknown producer config key {key:?}"))),
        }
        Ok(())
    }

    /// Checks the values that would make the producer misbehave.
    pub(crate) fn validate(&self) -> Result<()> {
        if !(-1..=1).contains(&self.acks) {
            return Err(bad("acks", &self.acks.to_string(), "0, 1 or -1"));
        }
        if self.max_in_flight == 0 {
            return Err(bad("max.in.flight.requests.per.connection", "0", "at least 1"));
        }
        if self.max_request_size == 0 || self.max_request_size > i32::MAX as usize {
            return Err(bad("max.request.size", &self.max_request_size.to_string(), "1..=2147483647"));
        }
        Compression::parse(&self.compression_type)?;
        parse_bootstrap(&self.bootstrap_servers)?;
        Ok(())
    }

    /// The connection layer's settings (Java's producer defaults where the producer has no key).
    pub(crate) fn cluster_settings(&self) -> Result<ClusterSettings> {
        Ok(ClusterSettings {
            bootstrap: parse_bootstrap(&self.bootstrap_servers)?,
            client_id: self.client_id.clone(),
            request_timeout: self.request_timeout,
            api_timeout: self.max_block,
            reconnect_backoff: (Duration::from_millis(50), Duration::from_millis(1000)),
            setup_timeout: (Duration::from_millis(10_000), Duration::from_millis(30_000)),
            retry_backoff: (self.retry_backoff, self.retry_backoff_max.max(self.retry_backoff)),
            idle_timeout: self.connections_max_idle,
            metadata_max_age: self.metadata_max_age,
            rebootstrap_trigger: Some(Duration::from_millis(300_000)),
            attempts_per_sec: 50,
            // A Produce response is small; room for a large Metadata response.
            max_frame: 52_428_800 + 1_048_576,
            send_buffer: Some(131_072),
            receive_buffer: Some(32_768),
            shared_coordinator: false,
            // TLS/SASL come through `Producer::from_config` (ProducerConfig carries them).
            security: Default::default(),
        })
    }
}

fn bad(key: &str, value: &str, want: &str) -> Error {
    Error::new(ErrorKind::Config, format!("{key}={value:?}: expected {want}"))
}

/// Parses `host:port[,host:port...]`; IPv6 hosts in brackets (`[::1]:9092`).
pub(crate) fn parse_bootstrap(s: &str) -> Result<Vec<(String, u16)>> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (host, port) = part
            .rsplit_once(':')
            .ok_or_else(|| bad("bootstrap.servers", part, "host:port"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let port: u16 = port
            .parse()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| bad("bootstrap.servers", part, "host:port with a port in 1..=65535"))?;
        if host.is_empty() {
            return Err(bad("bootstrap.servers", part, "host:port"));
        }
        out.push((host.to_string(), port));
    }
    if out.is_empty() {
        return Err(Error::new(ErrorKind::Config, "bootstrap.servers is empty"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_javas() {
        let s = ProducerSettings::new("localhost:9092");
        assert_eq!((s.acks, s.batch_size, s.max_in_flight), (-1, 16_384, 5));
        assert_eq!(s.linger, Duration::from_millis(5));
        let c = s.cluster_settings().unwrap();
        assert_eq!(c.bootstrap, vec![("localhost".to_string(), 9092)]);
        assert_eq!(c.retry_backoff, (Duration::from_millis(100), Duration::from_millis(1000)));
    }

    #[test]
    fn from_map_reads_java_keys_and_rejects_typos() {
        let s = ProducerSettings::from_map([
            ("bootstrap.servers", "a:1,[::1]:2"),
            ("acks", "all"),
            ("compression.type", "zstd"),
            ("linger.ms", "20"),
        ])
        .unwrap();
        assert_eq!(s.acks, -1);
        assert_eq!(s.compression_type, "zstd");
        assert_eq!(s.cluster_settings().unwrap().bootstrap[1], ("::1".to_string(), 2));
        let e = ProducerSettings::from_map([("bootstrap.servers", "a:1"), ("lingr.ms", "1")]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(ProducerSettings::from_map([("acks", "1")]).is_err(), "bootstrap.servers required");
        assert!(ProducerSettings::from_map([("bootstrap.servers", "a:0")]).is_err());
        assert!(ProducerSettings::from_map([("bootstrap.servers", "a:1"), ("acks", "2")]).is_err());
    }
}
