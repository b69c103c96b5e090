//! Statistics snapshots: what a client knows about its partitions and sockets right now, as
//! plain data (librdkafka's statistics JSON, as a Rust value).
//!
//! [`Consumer::statistics`](crate::Consumer::statistics) returns a [`ConsumerStatistics`];
//! [`Producer::connection_statistics`](crate::Producer::connection_statistics) the sockets of a
//! producer. Taking a snapshot locks the client's state briefly and sends nothing.

use std::net::SocketAddr;
use std::time::Duration;

use crate::consumer::TopicPartition;
use crate::net::events::{OpenReason, Role};

/// One assigned partition.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PartitionStatistics {
    /// The partition.
    pub partition: TopicPartition,
    /// The next offset `poll` hands out (`None` until it is known: committed offset or reset).
    pub position: Option<i64>,
    /// The last offset this consumer committed, or read as committed, for the partition
    /// (`None` until one was).
    pub committed: Option<i64>,
    /// The high watermark from the last fetch response (`None` before one).
    pub high_watermark: Option<i64>,
    /// The last stable offset from the last fetch response (`None` before one).
    pub last_stable_offset: Option<i64>,
    /// The log start offset from the last fetch response (`None` before one).
    pub log_start_offset: Option<i64>,
    /// [`Consumer::current_lag`](crate::Consumer::current_lag): the high watermark (last stable
    /// offset with `read_committed`) minus the position.
    pub lag: Option<i64>,
    /// The round trip of the last Fetch that brought data or an answer for this partition.
    pub last_fetch_latency: Option<Duration>,
    /// Fetched bytes waiting to be returned by `poll`.
    pub buffered_bytes: usize,
    /// Paused by [`Consumer::pause`](crate::Consumer::pause).
    pub paused: bool,
}

/// One socket.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ConnectionStatistics {
    /// The connection's id (as in [`ConnectionEvent::connection_id`](crate::ConnectionEvent)).
    pub connection_id: u64,
    /// What the connection is for now: bootstrap, broker (metadata, fetches, produce) or the
    /// dedicated coordinator connection.
    pub role: Role,
    /// The request that made the client open it (metadata, fetch, commit, ...).
    pub opened_for: OpenReason,
    /// `host:port` as configured or advertised.
    pub endpoint: String,
    /// The broker id, once known.
    pub node_id: Option<i32>,
    /// The socket's remote address, once connected.
    pub remote_addr: Option<SocketAddr>,
    /// The handshake (TCP, TLS, ApiVersions, SASL) is done.
    pub ready: bool,
    /// Since the client opened it.
    pub age: Duration,
    /// Requests answered on it.
    pub requests: u64,
    /// Requests waiting for their response now.
    pub in_flight: usize,
    /// Bytes written, frames included.
    pub bytes_out: u64,
    /// Bytes read, frames included.
    pub bytes_in: u64,
}

/// A consumer's statistics.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ConsumerStatistics {
    /// `client.id`.
    pub client_id: String,
    /// `group.id`, if any.
    pub group_id: Option<String>,
    /// The group generation (classic) or member epoch (KIP-848); -1 outside a group.
    pub generation: i32,
    /// The assigned partitions, in order.
    pub partitions: Vec<PartitionStatistics>,
    /// The open sockets, by connection id.
    pub connections: Vec<ConnectionStatistics>,
}

impl ConsumerStatistics {
    /// The sum of the known lags (as [`Consumer::lag`](crate::Consumer::lag)).
    pub fn total_lag(&self) -> Option<i64> {
        let known: Vec<i64> = self.partitions.iter().filter_map(|p| p.lag).map(|l| l.max(0)).collect();
        (!known.is_empty()).then(|| known.iter().sum())
    }

    /// The statistics of one partition, if it is assigned.
    pub fn partition(&self, tp: &TopicPartition) -> Option<&PartitionStatistics> {
        self.partitions.iter().find(|p| &p.partition == tp)
    }
}
