//! gregor: a pure-Rust Apache Kafka consumer that is frugal and explicit about its TCP
//! connections.
//!
//! gregor behaves like the Java `KafkaConsumer` where that is right — lazy sockets opened
//! inside `poll`, metadata to the least-loaded broker, a dedicated group-coordinator socket, one
//! fetch socket per leader broker, Java's config names and defaults — and does better where it
//! is not: sockets are keyed by endpoint, so the bootstrap socket is *adopted* as its broker's
//! connection instead of duplicated; a bootstrap socket that is no broker's is *retired* at
//! once (no zombie, even with `connections.max.idle.ms=-1`); and every open and close carries a
//! reason you can see ([`Consumer::connection_events`], `tracing`, [`ConnectionMetrics`]).
//! On a 3-broker cluster a group consumer opens 4 sockets where Java opens 5.
//!
//! # Subscribe, poll, commit
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # // An embedded 3-broker cluster stands in for Kafka here.
//! # let cluster = gregor_mock::MockCluster::builder().brokers(3).topic("orders", 3).start().await?;
//! # cluster.append_records("orders", 1, &[("order-1", "42 widgets")])?;
//! # let bootstrap = cluster.bootstrap_servers();
//! use std::time::Duration;
//! use gregor::{Consumer, ConsumerConfig};
//!
//! let config = ConsumerConfig::builder()
//!     .bootstrap_servers(bootstrap.clone())
//!     .group_id("orders-app")
//!     .set("auto.offset.reset", "earliest")
//!     .build()?;
//! let consumer = Consumer::new(config)?; // no socket is opened here
//! consumer.subscribe(["orders"])?;
//!
//! let mut handled = 0;
//! while handled == 0 {
//!     for record in consumer.poll(Duration::from_millis(500)).await? {
//!         println!("{}-{}@{}: {:?}", record.topic, record.partition, record.offset, record.value_str());
//!         handled += 1;
//!     }
//! }
//! consumer.commit_sync().await?; // commits everything poll returned
//! consumer.close(Duration::from_secs(10)).await; // commits (auto-commit), leaves, closes sockets
//! # assert_eq!(consumer.connection_metrics().connection_creation_total, 4);
//! # Ok(()) }
//! ```
//!
//! # Assign partitions and seek
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let cluster = gregor_mock::MockCluster::builder().brokers(1).topic("metrics", 1).start().await?;
//! # cluster.append_records("metrics", 0, &[("a", "1"), ("b", "2"), ("c", "3")])?;
//! # let bootstrap = cluster.bootstrap_servers();
//! use std::time::Duration;
//! use gregor::{Consumer, TopicPartition};
//!
//! // Java-style properties work too; no group.id is needed to read assigned partitions.
//! let consumer = Consumer::from_properties([("bootstrap.servers", bootstrap.as_str())])?;
//! let p0 = TopicPartition::new("metrics", 0);
//! consumer.assign([p0.clone()])?;
//! consumer.seek(&p0, 1)?; // skip the first record
//! let end = consumer.end_offsets(&[p0.clone()]).await?[&p0];
//! let mut values = Vec::new();
//! while consumer.position(&p0).await? < end {
//!     for r in consumer.poll(Duration::from_millis(500)).await? {
//!         values.push(r.value_str().unwrap_or_default().to_string());
//!     }
//! }
//! assert_eq!(values, ["2", "3"]);
//! consumer.close(Duration::from_secs(10)).await;
//! # Ok(()) }
//! ```
//!
//! # Watching the sockets
//!
//! [`Consumer::connection_events`] yields a [`ConnectionEvent`] for every socket opened,
//! adopted or closed — node, role ([`Role`]), endpoint, local and remote address, why it was
//! opened ([`OpenReason`]) and why it was closed ([`CloseReason`]). The same events are logged
//! with `tracing` at debug level (target `gregor::net::manager`), and counted in
//! [`ConnectionMetrics`] under Java's `consumer-metrics` names.
#![deny(missing_docs)]
// The only unsafe code is the GSSAPI binding (the optional `gssapi` feature), which allows it
// locally; every other build forbids it outright.
#![cfg_attr(not(feature = "gssapi"), forbid(unsafe_code))]
#![cfg_attr(feature = "gssapi", deny(unsafe_code))]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub(crate) mod cluster;
mod error;
pub(crate) mod net;
pub mod config;
pub mod consumer;
pub mod oauth;
pub mod protocol_errors;
pub(crate) mod rules;
pub(crate) mod time;
pub mod records;
pub mod serialization;
pub mod statistics;
pub mod telemetry;

pub use error::{Error, ErrorKind, Result};
/// Client-side partition assignment (the classic group protocol): the [`PartitionAssignor`]
/// trait for your own assignors, Java's built-ins, and the consumer-protocol encodings.
///
/// [`PartitionAssignor`]: assignor::PartitionAssignor
pub use consumer::assignor;

pub mod admin;
pub mod producer;
pub use admin::{Admin, NewTopic};
pub use producer::{DeliveryFuture, IntoTopic, Producer, ProducerRecord, RecordMetadata};
pub use net::events::{
    CloseReason, ConnectionEvent, ConnectionEventKind, ConnectionMetrics, NodeMetrics, OpenReason, Role,
};
pub use config::{ConsumerConfig, ProducerConfig};
pub use consumer::{
    CommitHandle, ConnectionEvents, Consumer, ConsumerGroupMetadata, ConsumerRecord, FetchBufferStats, Header,
    OffsetAndMetadata,
    OffsetAndTimestamp, RebalanceListener, RevokeContext, TimestampType, TopicPartition, WakeupHandle,
};

/// Fuzzing entry points (`fuzz/`, the `fuzz` feature); not a stable API.
#[cfg(any(test, feature = "fuzz"))]
#[doc(hidden)]
#[path = "fuzz_hooks.rs"]
pub mod __fuzz;

/// `docs/from-rdkafka.md`: its gregor examples are compiled as doctests, so the guide cannot
/// drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/from-rdkafka.md")]
pub struct FromRdkafkaGuide;
