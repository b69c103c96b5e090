//! Every metric name gregor records, in one place.
//!
//! A name is Java's metric group and metric name joined by a dot —
//! `consumer-fetch-manager-metrics.records-lag-max` is what Java's JMX shows as
//! `kafka.consumer:type=consumer-fetch-manager-metrics,client-id=…` attribute `records-lag-max`
//! — and the labels are Java's tags: `client-id` on every metric, `topic` and `partition` on
//! per-partition ones, `node-id` on per-broker ones. A Prometheus exporter turns the dots and
//! dashes into underscores (`consumer_fetch_manager_metrics_records_lag_max{client_id="…"}`).
//!
//! Windowed values (`*-avg`, `*-max`, `*-rate`) are gauges computed over
//! `metrics.num.samples` windows of `metrics.sample.window.ms` (Java's `SampledStat`); they are
//! recomputed whenever the value changes and on every `poll`. `*-total` values are counters.
//! An average or maximum with nothing in its windows is NaN, as in Java.

/// Label: the client's `client.id` (every metric).
pub const LABEL_CLIENT_ID: &str = "client-id";
/// Label: the topic of a per-partition metric.
pub const LABEL_TOPIC: &str = "topic";
/// Label: the partition of a per-partition metric.
pub const LABEL_PARTITION: &str = "partition";
/// Label: the broker of a per-node metric (Java's `node-id`: `node-<id>`; gregor's node label
/// of the connection, see [`ConnectionEvent::node`](crate::ConnectionEvent::node)).
pub const LABEL_NODE_ID: &str = "node-id";
/// Label: why connections closed (`connection-close-total` only; see
/// [`CloseReason::as_str`](crate::CloseReason::as_str)). Java has no such split.
pub const LABEL_REASON: &str = "reason";

// ----- consumer-fetch-manager-metrics (Java `FetchMetricsRegistry`) -----

/// Gauge: the highest `records-lag` of any assigned partition in the window.
pub const RECORDS_LAG_MAX: &str = "consumer-fetch-manager-metrics.records-lag-max";
/// Gauge, per partition (`topic`, `partition`): the high watermark (last stable offset with
/// `read_committed`) minus the position, as of the last `poll`.
pub const RECORDS_LAG: &str = "consumer-fetch-manager-metrics.records-lag";
/// Gauge: mean time of a Fetch request, in milliseconds.
pub const FETCH_LATENCY_AVG: &str = "consumer-fetch-manager-metrics.fetch-latency-avg";
/// Gauge: longest Fetch request, in milliseconds.
pub const FETCH_LATENCY_MAX: &str = "consumer-fetch-manager-metrics.fetch-latency-max";
/// Gauge: Fetch requests per second.
pub const FETCH_RATE: &str = "consumer-fetch-manager-metrics.fetch-rate";
/// Counter: Fetch responses received.
pub const FETCH_TOTAL: &str = "consumer-fetch-manager-metrics.fetch-total";
/// Gauge: mean bytes of record data per Fetch response.
pub const FETCH_SIZE_AVG: &str = "consumer-fetch-manager-metrics.fetch-size-avg";
/// Gauge: most bytes of record data in one Fetch response.
pub const FETCH_SIZE_MAX: &str = "consumer-fetch-manager-metrics.fetch-size-max";
/// Gauge: bytes of record data fetched per second.
pub const BYTES_CONSUMED_RATE: &str = "consumer-fetch-manager-metrics.bytes-consumed-rate";
/// Counter: bytes of record data fetched.
pub const BYTES_CONSUMED_TOTAL: &str = "consumer-fetch-manager-metrics.bytes-consumed-total";
/// Gauge: records returned by `poll` per second.
pub const RECORDS_CONSUMED_RATE: &str = "consumer-fetch-manager-metrics.records-consumed-rate";
/// Counter: records returned by `poll`.
pub const RECORDS_CONSUMED_TOTAL: &str = "consumer-fetch-manager-metrics.records-consumed-total";

// ----- consumer-coordinator-metrics (Java `ConsumerCoordinatorMetrics`,
// `AbstractCoordinator.GroupCoordinatorMetrics`) -----

/// Gauge: mean OffsetCommit time, in milliseconds.
pub const COMMIT_LATENCY_AVG: &str = "consumer-coordinator-metrics.commit-latency-avg";
/// Gauge: longest OffsetCommit, in milliseconds.
pub const COMMIT_LATENCY_MAX: &str = "consumer-coordinator-metrics.commit-latency-max";
/// Gauge: OffsetCommit requests per second.
pub const COMMIT_RATE: &str = "consumer-coordinator-metrics.commit-rate";
/// Counter: OffsetCommit requests answered.
pub const COMMIT_TOTAL: &str = "consumer-coordinator-metrics.commit-total";
/// Gauge: mean rebalance time, in milliseconds (classic: first JoinGroup to assignment;
/// KIP-848: the heartbeat bringing a new assignment to its reconciliation).
pub const REBALANCE_LATENCY_AVG: &str = "consumer-coordinator-metrics.rebalance-latency-avg";
/// Gauge: longest rebalance, in milliseconds.
pub const REBALANCE_LATENCY_MAX: &str = "consumer-coordinator-metrics.rebalance-latency-max";
/// Counter: milliseconds spent in rebalances.
pub const REBALANCE_LATENCY_TOTAL: &str = "consumer-coordinator-metrics.rebalance-latency-total";
/// Counter: rebalances this member completed.
pub const REBALANCE_TOTAL: &str = "consumer-coordinator-metrics.rebalance-total";
/// Gauge: seconds since the last completed rebalance.
pub const LAST_REBALANCE_SECONDS_AGO: &str = "consumer-coordinator-metrics.last-rebalance-seconds-ago";
/// Gauge: heartbeats (Heartbeat or ConsumerGroupHeartbeat responses) per second.
pub const HEARTBEAT_RATE: &str = "consumer-coordinator-metrics.heartbeat-rate";
/// Counter: heartbeat responses.
pub const HEARTBEAT_TOTAL: &str = "consumer-coordinator-metrics.heartbeat-total";
/// Gauge: longest heartbeat round trip, in milliseconds.
pub const HEARTBEAT_RESPONSE_TIME_MAX: &str = "consumer-coordinator-metrics.heartbeat-response-time-max";
/// Gauge: seconds since the last heartbeat response.
pub const LAST_HEARTBEAT_SECONDS_AGO: &str = "consumer-coordinator-metrics.last-heartbeat-seconds-ago";
/// Gauge: partitions assigned to this consumer.
pub const ASSIGNED_PARTITIONS: &str = "consumer-coordinator-metrics.assigned-partitions";

// ----- producer-metrics (Java `SenderMetricsRegistry`) -----

/// Counter: records handed to the producer that were sent (acknowledged or not).
pub const RECORD_SEND_TOTAL: &str = "producer-metrics.record-send-total";
/// Gauge: records sent per second.
pub const RECORD_SEND_RATE: &str = "producer-metrics.record-send-rate";
/// Counter: records whose send failed.
pub const RECORD_ERROR_TOTAL: &str = "producer-metrics.record-error-total";
/// Gauge: records failed per second.
pub const RECORD_ERROR_RATE: &str = "producer-metrics.record-error-rate";

/// The names of the connection metrics of one client kind: Java records them in the client's
/// own group (`consumer-metrics`, `producer-metrics`, `admin-client-metrics`) and, per broker,
/// in `<kind>-node-metrics` with a `node-id` tag.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct ConnectionNames {
    /// Gauge: sockets open now (connecting or established).
    pub connection_count: &'static str,
    /// Counter: sockets opened.
    pub connection_creation_total: &'static str,
    /// Counter: sockets closed, with a `reason` label.
    pub connection_close_total: &'static str,
    /// Counter: requests answered.
    pub request_total: &'static str,
    /// Gauge: mean request round trip, in milliseconds.
    pub request_latency_avg: &'static str,
    /// Gauge: longest request round trip, in milliseconds.
    pub request_latency_max: &'static str,
    /// Counter: bytes read from brokers, frames included.
    pub incoming_byte_total: &'static str,
    /// Counter: bytes written to brokers, frames included.
    pub outgoing_byte_total: &'static str,
    /// Counter, per broker (`node-id`; recorded with `metrics.recording.level=DEBUG`): requests.
    pub node_request_total: &'static str,
    /// Gauge, per broker: mean request round trip, in milliseconds.
    pub node_request_latency_avg: &'static str,
    /// Gauge, per broker: longest request round trip, in milliseconds.
    pub node_request_latency_max: &'static str,
    /// Counter, per broker: bytes read.
    pub node_incoming_byte_total: &'static str,
    /// Counter, per broker: bytes written.
    pub node_outgoing_byte_total: &'static str,
}

macro_rules! connection_names {
    ($group:literal, $node_group:literal) => {
        ConnectionNames {
            connection_count: concat!($group, ".connection-count"),
            connection_creation_total: concat!($group, ".connection-creation-total"),
            connection_close_total: concat!($group, ".connection-close-total"),
            request_total: concat!($group, ".request-total"),
            request_latency_avg: concat!($group, ".request-latency-avg"),
            request_latency_max: concat!($group, ".request-latency-max"),
            incoming_byte_total: concat!($group, ".incoming-byte-total"),
            outgoing_byte_total: concat!($group, ".outgoing-byte-total"),
            node_request_total: concat!($node_group, ".request-total"),
            node_request_latency_avg: concat!($node_group, ".request-latency-avg"),
            node_request_latency_max: concat!($node_group, ".request-latency-max"),
            node_incoming_byte_total: concat!($node_group, ".incoming-byte-total"),
            node_outgoing_byte_total: concat!($node_group, ".outgoing-byte-total"),
        }
    };
}

/// A consumer's connection metrics (`consumer-metrics`, `consumer-node-metrics`).
pub const CONSUMER_CONNECTIONS: ConnectionNames = connection_names!("consumer-metrics", "consumer-node-metrics");
/// A producer's connection metrics (`producer-metrics`, `producer-node-metrics`).
pub const PRODUCER_CONNECTIONS: ConnectionNames = connection_names!("producer-metrics", "producer-node-metrics");
/// An admin client's connection metrics (`admin-client-metrics`, `admin-client-node-metrics`).
pub const ADMIN_CONNECTIONS: ConnectionNames = connection_names!("admin-client-metrics", "admin-client-node-metrics");
