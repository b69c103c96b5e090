//! gregor: a pure-Rust Apache Kafka consumer that is frugal and explicit about its TCP
//! connections.
#![warn(missing_docs)]

pub(crate) mod cluster;
mod error;
pub(crate) mod net;
pub mod config;
pub mod consumer;
pub mod protocol_errors;
pub(crate) mod records;

pub use error::{Error, ErrorKind, Result};
pub use net::events::{
    CloseReason, ConnectionEvent, ConnectionEventKind, ConnectionMetrics, NodeMetrics, OpenReason, Role,
};
pub use config::{ConsumerConfig, ProducerConfig};
pub use consumer::{
    ConnectionEvents, Consumer, ConsumerRecord, Header, OffsetAndMetadata, OffsetAndTimestamp, RebalanceListener,
    RevokeContext, TimestampType, TopicPartition,
};

/// Fuzzing entry points (`fuzz/`); not a stable API.
#[doc(hidden)]
#[path = "fuzz_hooks.rs"]
pub mod __fuzz;
