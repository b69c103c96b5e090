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

pub mod admin;
pub mod producer;
pub use admin::{Admin, NewTopic};
pub use producer::{DeliveryFuture, Producer, ProducerRecord, ProducerSettings, RecordMetadata};
pub use net::events::{
    CloseReason, ConnectionEvent, ConnectionEventKind, ConnectionMetrics, NodeMetrics, OpenReason, Role,
};
pub use config::{ConsumerConfig, ProducerConfig};
pub use consumer::{
    ConnectionEvents, Consumer, ConsumerRecord, Header, OffsetAndMetadata, OffsetAndTimestamp, RebalanceListener,
    RevokeContext, TimestampType, TopicPartition,
};
