//! Connection events and metrics: every socket gregor opens or closes explains itself.
//!
//! SPEC §2.5: each open and close carries the node, the role, the endpoint, the local and remote
//! addresses and a reason. The same facts feed `tracing` (in the spirit of Java's
//! `NetworkClient` log lines) and counters named like Java's `consumer-metrics`.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

/// What a connection is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Role {
    /// Opened to an address from `bootstrap.servers`, before the client knew any broker id.
    Bootstrap,
    /// The connection to a broker by its id (metadata, fetches, list-offsets).
    Broker,
    /// The dedicated connection to the group coordinator (JoinGroup, SyncGroup, Heartbeat,
    /// OffsetCommit, ...). Dedicated because a broker serves one request per connection at a
    /// time: a parked JoinGroup or a long-poll Fetch must not delay heartbeats.
    Coordinator,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Bootstrap => "bootstrap",
            Role::Broker => "broker",
            Role::Coordinator => "coordinator",
        })
    }
}

/// Why a connection was opened: the request that needed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum OpenReason {
    /// The first contact with the cluster through `bootstrap.servers`.
    Bootstrap,
    /// A metadata refresh.
    Metadata,
    /// Group coordination (FindCoordinator result: JoinGroup, heartbeats, ...).
    Coordinator,
    /// Fetching records from a partition leader.
    Fetch,
    /// Looking up offsets (ListOffsets).
    ListOffsets,
    /// Committing or fetching committed offsets.
    Commit,
    /// Producing records.
    Produce,
    /// Administrative requests (CreateTopics, ...).
    Admin,
}

impl fmt::Display for OpenReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OpenReason::Bootstrap => "bootstrap",
            OpenReason::Metadata => "metadata",
            OpenReason::Coordinator => "coordinator",
            OpenReason::Fetch => "fetch",
            OpenReason::ListOffsets => "list-offsets",
            OpenReason::Commit => "commit",
            OpenReason::Produce => "produce",
            OpenReason::Admin => "admin",
        })
    }
}

/// Why a connection was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum CloseReason {
    /// A bootstrap connection whose broker already had a connection of its own: the duplicate
    /// is closed instead of being kept.
    AdoptedAway,
    /// A bootstrap connection whose address is not any broker's advertised endpoint (e.g. a
    /// load balancer): closed once metadata is known, whatever `connections.max.idle.ms` says.
    Retired,
    /// No traffic for `connections.max.idle.ms`.
    Idle,
    /// A request got no response within `request.timeout.ms`.
    RequestTimeout,
    /// TCP (+TLS, +SASL) setup did not finish within `socket.connection.setup.timeout.ms`.
    SetupTimeout,
    /// The broker closed the socket.
    BrokerClosed,
    /// Metadata shows the broker at another host or port (or no longer in the cluster).
    EndpointChanged,
    /// A protocol or I/O error on the socket; the event's `error` says which.
    Error,
    /// The client was closed or dropped.
    Shutdown,
    /// A broker connection the client no longer needs: the broker leads none of the partitions
    /// being fetched and is not the coordinator any more (after a leader change or a
    /// rebalance), for longer than a short grace. Java keeps such a socket until
    /// `connections.max.idle.ms` (9 minutes, or forever with -1).
    Unneeded,
}

impl CloseReason {
    /// The reason as it appears in logs and metric tags.
    pub fn as_str(&self) -> &'static str {
        match self {
            CloseReason::AdoptedAway => "adopted-away",
            CloseReason::Retired => "retired",
            CloseReason::Idle => "idle",
            CloseReason::RequestTimeout => "request-timeout",
            CloseReason::SetupTimeout => "setup-timeout",
            CloseReason::BrokerClosed => "broker-closed",
            CloseReason::EndpointChanged => "endpoint-changed",
            CloseReason::Error => "error",
            CloseReason::Shutdown => "shutdown",
            CloseReason::Unneeded => "unneeded",
        }
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happened to a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectionEventKind {
    /// A TCP connect was started.
    Connecting,
    /// The connection is established and its ApiVersions handshake is done.
    Ready,
    /// A bootstrap connection was recognised as broker `broker_id`'s and kept as its
    /// connection instead of opening a second socket.
    Adopted {
        /// The broker the bootstrap address turned out to be.
        broker_id: i32,
    },
    /// The connect (or handshake) failed; the node backs off before the next attempt.
    ConnectFailed,
    /// The connection was closed.
    Closed(CloseReason),
    /// The connection's SASL session was renewed on the same socket before it expired
    /// (KIP-368 re-authentication).
    Reauthenticated {
        /// The new session's lifetime as the broker announced it (`None`: unlimited).
        session_lifetime: Option<Duration>,
    },
}

/// One open, adoption or close of a socket.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ConnectionEvent {
    /// A process-unique id of the connection (one id per socket).
    pub connection_id: u64,
    /// What happened.
    pub kind: ConnectionEventKind,
    /// The broker id, once known (`None` for a bootstrap connection not yet adopted).
    pub broker_id: Option<i32>,
    /// The node label Java would log: `-1`, `-2`, … for bootstrap servers, the broker id, and
    /// `2147483647 - id` for the coordinator connection.
    pub node: String,
    /// The connection's role (after this event).
    pub role: Role,
    /// `host:port` as configured or advertised.
    pub endpoint: String,
    /// The socket's local address, once connected.
    pub local_addr: Option<SocketAddr>,
    /// The socket's remote address, once connected.
    pub remote_addr: Option<SocketAddr>,
    /// Which request caused the connection to be opened.
    pub opened_for: OpenReason,
    /// The error behind a failed connect or an error close.
    pub error: Option<String>,
    /// Wall-clock time of the event.
    pub at: SystemTime,
}

impl fmt::Display for ConnectionEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match &self.kind {
            ConnectionEventKind::Connecting => "connecting".to_string(),
            ConnectionEventKind::Ready => "open".to_string(),
            ConnectionEventKind::Adopted { broker_id } => format!("adopted as broker {broker_id}"),
            ConnectionEventKind::ConnectFailed => "connect failed".to_string(),
            ConnectionEventKind::Closed(r) => format!("closed ({r})"),
            ConnectionEventKind::Reauthenticated { session_lifetime } => match session_lifetime {
                Some(l) => format!("reauthenticated ({} ms)", l.as_millis()),
                None => "reauthenticated".to_string(),
            },
        };
        write!(
            f,
            "#{} {what:<22} node={} role={} endpoint={} opened-for={}",
            self.connection_id, self.node, self.role, self.endpoint, self.opened_for
        )?;
        if let (Some(l), Some(r)) = (self.local_addr, self.remote_addr) {
            write!(f, " {l}->{r}")?;
        }
        if let Some(e) = &self.error {
            write!(f, " error=\"{e}\"")?;
        }
        Ok(())
    }
}

/// Per-node request statistics (Java's per-node `request-total`, `outgoing-byte-total`,
/// `incoming-byte-total`, `request-latency-avg/-max`).
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct NodeMetrics {
    /// Requests sent.
    pub request_total: u64,
    /// Bytes written, frames included.
    pub outgoing_byte_total: u64,
    /// Bytes read, frames included.
    pub incoming_byte_total: u64,
    /// Mean request latency.
    pub request_latency_avg: Duration,
    /// Highest request latency.
    pub request_latency_max: Duration,
    pub(crate) latency_sum: Duration,
    pub(crate) latency_count: u64,
}

impl NodeMetrics {
    pub(crate) fn record(&mut self, out_bytes: u64, in_bytes: u64, latency: Duration) {
        self.request_total += 1;
        self.outgoing_byte_total += out_bytes;
        self.incoming_byte_total += in_bytes;
        self.latency_sum += latency;
        self.latency_count += 1;
        self.request_latency_avg = self.latency_sum / self.latency_count.max(1) as u32;
        self.request_latency_max = self.request_latency_max.max(latency);
    }
}

/// A snapshot of the connection counters (Java's `consumer-metrics` group names).
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct ConnectionMetrics {
    /// `connection-count`: sockets open now (connecting or established).
    pub connection_count: u64,
    /// `connection-creation-total`: sockets ever opened (connect attempts).
    pub connection_creation_total: u64,
    /// `connection-close-total`, by reason.
    pub connection_close_total: BTreeMap<CloseReason, u64>,
    /// Failed connection attempts.
    pub connection_failed_total: u64,
    /// The most sockets open at once.
    pub connection_count_max: u64,
    /// Per node label (see [`ConnectionEvent::node`]).
    pub nodes: BTreeMap<String, NodeMetrics>,
    /// `successful-reauthentication-total`: SASL sessions renewed on their socket (KIP-368).
    pub successful_reauthentication_total: u64,
}

impl ConnectionMetrics {
    /// `connection-close-total` over all reasons.
    pub fn close_total(&self) -> u64 {
        self.connection_close_total.values().sum()
    }
}
