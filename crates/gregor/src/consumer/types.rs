//! The consumer's public value types.

use bytes::Bytes;

pub use crate::records::{Header, TimestampType};
use std::fmt;
use std::sync::Arc;

/// A topic and a partition number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    /// The topic name.
    pub topic: Arc<str>,
    /// The partition number.
    pub partition: i32,
}

impl TopicPartition {
    /// `TopicPartition::new("orders", 3)`.
    pub fn new(topic: impl AsRef<str>, partition: i32) -> Self {
        TopicPartition { topic: Arc::from(topic.as_ref()), partition }
    }
}

impl fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

/// A record as the application receives it. Keys, values and headers are `Bytes` slices of the
/// fetched (or decompressed) buffer: handing a record out copies no payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerRecord {
    /// The topic.
    pub topic: Arc<str>,
    /// The partition.
    pub partition: i32,
    /// The record's offset.
    pub offset: i64,
    /// Milliseconds since the epoch (or -1).
    pub timestamp: i64,
    /// What the timestamp means.
    pub timestamp_type: TimestampType,
    /// The key, `None` for a null key.
    pub key: Option<Bytes>,
    /// The value, `None` for a null value (a tombstone).
    pub value: Option<Bytes>,
    /// Headers in order.
    pub headers: Vec<Header>,
    /// The partition leader epoch of the batch, when known.
    pub leader_epoch: Option<i32>,
}

impl ConsumerRecord {
    /// The record's topic and partition.
    pub fn topic_partition(&self) -> TopicPartition {
        TopicPartition { topic: self.topic.clone(), partition: self.partition }
    }

    /// The value as UTF-8, if it is.
    pub fn value_str(&self) -> Option<&str> {
        self.value.as_deref().and_then(|v| std::str::from_utf8(v).ok())
    }

    /// The key as UTF-8, if it is.
    pub fn key_str(&self) -> Option<&str> {
        self.key.as_deref().and_then(|v| std::str::from_utf8(v).ok())
    }
}

/// An offset to commit, with optional metadata (Java's `OffsetAndMetadata`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetAndMetadata {
    /// The next offset to consume (the last processed offset + 1).
    pub offset: i64,
    /// Free-form metadata stored with the commit.
    pub metadata: Option<String>,
    /// The leader epoch of the last consumed record, when known.
    pub leader_epoch: Option<i32>,
}

impl OffsetAndMetadata {
    /// An offset with no metadata.
    pub fn new(offset: i64) -> Self {
        OffsetAndMetadata { offset, metadata: None, leader_epoch: None }
    }
}

/// An offset found by time (Java's `OffsetAndTimestamp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetAndTimestamp {
    /// The earliest offset whose timestamp is at or after the requested time.
    pub offset: i64,
    /// That record's timestamp.
    pub timestamp: i64,
}

/// Why a partition is or is not being fetched right now (see [`Consumer::fetch_states`]).
///
/// [`Consumer::fetch_states`]: crate::Consumer::fetch_states
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FetchState {
    /// In the Fetch in flight to this broker.
    Fetching {
        /// The broker fetched from.
        broker: i32,
    },
    /// Goes in the next Fetch to this broker (one Fetch per broker at a time).
    WaitingForBroker {
        /// The broker it will be fetched from.
        broker: i32,
    },
    /// The broker's last Fetch failed; retried after `remaining`.
    BrokerBackoff {
        /// The broker.
        broker: i32,
        /// Time left in the backoff.
        remaining: std::time::Duration,
    },
    /// The partition was answered with a retriable error; retried after `remaining`.
    RetryBackoff {
        /// Time left in the backoff.
        remaining: std::time::Duration,
    },
    /// No leader is known; metadata is being refreshed.
    LeaderUnknown,
    /// Fetched records fill the buffer; fetching resumes as `poll` hands them out.
    BufferFull,
    /// At the high watermark; nothing to fetch.
    CaughtUp,
    /// Paused by the application.
    Paused,
    /// Being revoked by a rebalance: no more records are fetched or handed out while its
    /// offsets are committed.
    Revoking,
    /// Waiting for the committed offset or an offset reset.
    AwaitingPosition,
    /// An error waits to be returned by `poll`.
    Failed,
}

impl fmt::Display for FetchState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchState::Fetching { broker } => write!(f, "in a fetch to broker {broker}"),
            FetchState::WaitingForBroker { broker } => write!(f, "waiting for the fetch in flight to broker {broker}"),
            FetchState::BrokerBackoff { broker, remaining } => {
                write!(f, "broker {broker} failed; retrying in {} ms", remaining.as_millis())
            }
            FetchState::RetryBackoff { remaining } => write!(f, "retriable error; retrying in {} ms", remaining.as_millis()),
            FetchState::LeaderUnknown => f.write_str("no leader known; refreshing metadata"),
            FetchState::BufferFull => f.write_str("buffer full; waiting for poll"),
            FetchState::CaughtUp => f.write_str("caught up"),
            FetchState::Paused => f.write_str("paused"),
            FetchState::Revoking => f.write_str("being revoked"),
            FetchState::AwaitingPosition => f.write_str("waiting for a committed offset or reset"),
            FetchState::Failed => f.write_str("an error waits for poll"),
        }
    }
}

/// One assigned partition's fetch state, for statistics and diagnosis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionFetchState {
    /// The partition.
    pub partition: TopicPartition,
    /// The next offset `poll` returns, once known.
    pub position: Option<i64>,
    /// The next offset to fetch (ahead of `position` while records are buffered).
    pub fetch_offset: Option<i64>,
    /// The last high watermark a fetch response gave, or -1.
    pub high_watermark: i64,
    /// Buffered bytes not yet handed out.
    pub buffered_bytes: usize,
    /// What fetching is doing for it.
    pub state: FetchState,
    /// Time since it was last fetched (or had nothing to fetch).
    pub since_last_fetch: Option<std::time::Duration>,
}

/// The prefetch budget (`queued.max.messages.kbytes`) and what uses it, from the consumer's
/// own accounting (see [`Consumer::fetch_buffer`]).
///
/// [`Consumer::fetch_buffer`]: crate::Consumer::fetch_buffer
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct FetchBufferStats {
    /// The budget in bytes.
    pub budget_bytes: usize,
    /// Bytes of Fetch responses held: each response whose data `poll` has not finished
    /// handing out counts whole (its memory is one allocation).
    pub fetched_bytes: usize,
    /// Decompressed buffers of the batches being handed out.
    pub decompressed_bytes: usize,
    /// Decompression buffers kept for reuse.
    pub pooled_bytes: usize,
    /// Room reserved for the Fetches in flight (what their responses may bring).
    pub reserved_bytes: usize,
    /// The highest `fetched + decompressed + pooled` seen so far.
    pub peak_bytes: usize,
    /// The highest `fetched + decompressed + pooled + reserved` seen when fetches were planned
    /// or answered: what the budget bounds.
    pub peak_committed_bytes: usize,
    /// Decompression buffers reused / newly allocated so far.
    pub buffers_reused: u64,
    /// See `buffers_reused`.
    pub buffers_allocated: u64,
}
