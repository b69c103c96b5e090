//! Metrics through the [`metrics`](https://docs.rs/metrics) facade, under Java's names.
//!
//! gregor records its metrics into whatever recorder the application installed —
//! `metrics-exporter-prometheus`, `metrics-util`'s `DebuggingRecorder`, a StatsD or OpenTelemetry
//! bridge. Without one the calls do nothing. Install the recorder **before** creating the
//! client: each client registers its handles once, when it is created (and per partition or
//! broker when it first sees one).
//!
//! [`names`] lists every metric with its meaning; the names are Java's
//! (`consumer-fetch-manager-metrics.records-lag-max`, `consumer-metrics.connection-count`, …)
//! and the labels Java's tags (`client-id`, `topic`, `partition`, `node-id`).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let cluster = gregor_mock::MockCluster::builder().brokers(1).topic("t", 1).start().await?;
//! # cluster.append_records("t", 0, &[("k", "v")])?;
//! use gregor::telemetry::names;
//! // The application's recorder (here metrics-util's test recorder).
//! let recorder = metrics_util::debugging::DebuggingRecorder::new();
//! let snapshotter = recorder.snapshotter();
//! recorder.install()?;
//!
//! let consumer = gregor::Consumer::from_properties([
//!     ("bootstrap.servers", cluster.bootstrap_servers().as_str()),
//!     ("client.id", "reader"),
//!     ("auto.offset.reset", "earliest"),
//! ])?;
//! consumer.assign([gregor::TopicPartition::new("t", 0)])?;
//! while consumer.poll(std::time::Duration::from_millis(200)).await?.is_empty() {}
//!
//! let consumed: u64 = snapshotter
//!     .snapshot()
//!     .into_vec()
//!     .into_iter()
//!     .filter(|(key, ..)| key.key().name() == names::RECORDS_CONSUMED_TOTAL)
//!     .map(|(.., value)| match value {
//!         metrics_util::debugging::DebugValue::Counter(n) => n,
//!         _ => 0,
//!     })
//!     .sum();
//! assert_eq!(consumed, 1);
//! # consumer.close(std::time::Duration::from_secs(5)).await;
//! # Ok(()) }
//! ```

pub mod names;
pub(crate) mod sampled;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use metrics::{Counter, Gauge, Label};
use tokio::time::Instant;

use crate::config::{MetricsConfig, RecordingLevel};
use crate::consumer::TopicPartition;
use crate::net::events::CloseReason;
use names::ConnectionNames;
use sampled::Sampled;

/// Which client the metrics belong to (Java records connection metrics in the client's group).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClientKind {
    Consumer,
    Producer,
    Admin,
}

impl ClientKind {
    fn connection_names(self) -> &'static ConnectionNames {
        match self {
            ClientKind::Consumer => &names::CONSUMER_CONNECTIONS,
            ClientKind::Producer => &names::PRODUCER_CONNECTIONS,
            ClientKind::Admin => &names::ADMIN_CONNECTIONS,
        }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The labels of a client's metrics.
#[derive(Debug, Clone)]
struct Labels(Vec<Label>);

impl Labels {
    fn client(client_id: &str) -> Self {
        Labels(vec![Label::new(names::LABEL_CLIENT_ID, client_id.to_string())])
    }

    fn with(&self, key: &'static str, value: String) -> Vec<Label> {
        let mut v = self.0.clone();
        v.push(Label::new(key, value));
        v
    }

    fn counter(&self, name: &'static str) -> Counter {
        metrics::counter!(name, self.0.clone())
    }

    fn gauge(&self, name: &'static str) -> Gauge {
        metrics::gauge!(name, self.0.clone())
    }
}

// ----- connections -----

struct NodeHandles {
    requests: Counter,
    incoming: Counter,
    outgoing: Counter,
    latency_avg: Gauge,
    latency_max: Gauge,
    latency: Sampled,
}

struct NetStats {
    latency: Sampled,
    closes: HashMap<CloseReason, Counter>,
    nodes: HashMap<String, NodeHandles>,
}

/// The connection metrics of one client (`<kind>-metrics`, `<kind>-node-metrics`).
pub(crate) struct NetTelemetry {
    names: &'static ConnectionNames,
    labels: Labels,
    cfg: MetricsConfig,
    connection_count: Gauge,
    creation_total: Counter,
    request_total: Counter,
    incoming_total: Counter,
    outgoing_total: Counter,
    latency_avg: Gauge,
    latency_max: Gauge,
    stats: Mutex<NetStats>,
}

impl std::fmt::Debug for NetTelemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetTelemetry").field("group", &self.names.connection_count).finish()
    }
}

impl NetTelemetry {
    pub(crate) fn new(kind: ClientKind, client_id: &str, cfg: MetricsConfig) -> Self {
        let names = kind.connection_names();
        let labels = Labels::client(client_id);
        NetTelemetry {
            connection_count: labels.gauge(names.connection_count),
            creation_total: labels.counter(names.connection_creation_total),
            request_total: labels.counter(names.request_total),
            incoming_total: labels.counter(names.incoming_byte_total),
            outgoing_total: labels.counter(names.outgoing_byte_total),
            latency_avg: labels.gauge(names.request_latency_avg),
            latency_max: labels.gauge(names.request_latency_max),
            stats: Mutex::new(NetStats { latency: Sampled::new(&cfg), closes: HashMap::new(), nodes: HashMap::new() }),
            names,
            labels,
            cfg,
        }
    }

    /// A socket was opened (connect attempt); `open` sockets exist now.
    pub(crate) fn connection_created(&self, open: usize) {
        self.creation_total.increment(1);
        self.connection_count.set(open as f64);
    }

    /// A socket is gone; `open` sockets remain.
    pub(crate) fn connection_closed(&self, reason: CloseReason, open: usize) {
        self.connection_count.set(open as f64);
        let mut st = lock(&self.stats);
        st.closes
            .entry(reason)
            .or_insert_with(|| {
                metrics::counter!(
                    self.names.connection_close_total,
                    self.labels.with(names::LABEL_REASON, reason.as_str().to_string())
                )
            })
            .increment(1);
    }

    /// A request got its response.
    pub(crate) fn request_done(&self, node: &str, bytes_out: u64, bytes_in: u64, latency: Duration, now: Instant) {
        self.request_total.increment(1);
        self.outgoing_total.increment(bytes_out);
        self.incoming_total.increment(bytes_in);
        let mut st = lock(&self.stats);
        st.latency.record(ms(latency), now);
        self.latency_avg.set(st.latency.avg(now));
        self.latency_max.set(st.latency.max(now));
        // Java records the per-node sensors at DEBUG (`Selector.SelectorMetrics`).
        if self.cfg.recording_level < RecordingLevel::Debug {
            return;
        }
        let n = st.nodes.entry(node.to_string()).or_insert_with(|| {
            let l = self.labels.with(names::LABEL_NODE_ID, format!("node-{node}"));
            NodeHandles {
                requests: metrics::counter!(self.names.node_request_total, l.clone()),
                incoming: metrics::counter!(self.names.node_incoming_byte_total, l.clone()),
                outgoing: metrics::counter!(self.names.node_outgoing_byte_total, l.clone()),
                latency_avg: metrics::gauge!(self.names.node_request_latency_avg, l.clone()),
                latency_max: metrics::gauge!(self.names.node_request_latency_max, l),
                latency: Sampled::new(&self.cfg),
            }
        });
        n.requests.increment(1);
        n.incoming.increment(bytes_in);
        n.outgoing.increment(bytes_out);
        n.latency.record(ms(latency), now);
        n.latency_avg.set(n.latency.avg(now));
        n.latency_max.set(n.latency.max(now));
    }
}

// ----- consumer -----

struct ConsumerStats {
    fetch_latency: Sampled,
    fetch_size: Sampled,
    records_consumed: Sampled,
    records_lag: Sampled,
    commit_latency: Sampled,
    rebalance_latency: Sampled,
    heartbeat: Sampled,
    last_heartbeat: Option<Instant>,
    last_rebalance: Option<Instant>,
    partition_lag: HashMap<TopicPartition, Gauge>,
}

/// The fetch-manager and coordinator metrics of one consumer.
pub(crate) struct ConsumerTelemetry {
    labels: Labels,
    fetch_total: Counter,
    fetch_latency_avg: Gauge,
    fetch_latency_max: Gauge,
    fetch_rate: Gauge,
    fetch_size_avg: Gauge,
    fetch_size_max: Gauge,
    bytes_consumed_total: Counter,
    bytes_consumed_rate: Gauge,
    records_consumed_total: Counter,
    records_consumed_rate: Gauge,
    records_lag_max: Gauge,
    commit_total: Counter,
    commit_latency_avg: Gauge,
    commit_latency_max: Gauge,
    commit_rate: Gauge,
    rebalance_total: Counter,
    rebalance_latency_total: Counter,
    rebalance_latency_avg: Gauge,
    rebalance_latency_max: Gauge,
    last_rebalance_ago: Gauge,
    heartbeat_total: Counter,
    heartbeat_rate: Gauge,
    heartbeat_response_max: Gauge,
    last_heartbeat_ago: Gauge,
    assigned_partitions: Gauge,
    stats: Mutex<ConsumerStats>,
}

impl std::fmt::Debug for ConsumerTelemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsumerTelemetry").finish_non_exhaustive()
    }
}

impl ConsumerTelemetry {
    pub(crate) fn new(client_id: &str, cfg: &MetricsConfig) -> Self {
        let l = Labels::client(client_id);
        let s = || Sampled::new(cfg);
        ConsumerTelemetry {
            fetch_total: l.counter(names::FETCH_TOTAL),
            fetch_latency_avg: l.gauge(names::FETCH_LATENCY_AVG),
            fetch_latency_max: l.gauge(names::FETCH_LATENCY_MAX),
            fetch_rate: l.gauge(names::FETCH_RATE),
            fetch_size_avg: l.gauge(names::FETCH_SIZE_AVG),
            fetch_size_max: l.gauge(names::FETCH_SIZE_MAX),
            bytes_consumed_total: l.counter(names::BYTES_CONSUMED_TOTAL),
            bytes_consumed_rate: l.gauge(names::BYTES_CONSUMED_RATE),
            records_consumed_total: l.counter(names::RECORDS_CONSUMED_TOTAL),
            records_consumed_rate: l.gauge(names::RECORDS_CONSUMED_RATE),
            records_lag_max: l.gauge(names::RECORDS_LAG_MAX),
            commit_total: l.counter(names::COMMIT_TOTAL),
            commit_latency_avg: l.gauge(names::COMMIT_LATENCY_AVG),
            commit_latency_max: l.gauge(names::COMMIT_LATENCY_MAX),
            commit_rate: l.gauge(names::COMMIT_RATE),
            rebalance_total: l.counter(names::REBALANCE_TOTAL),
            rebalance_latency_total: l.counter(names::REBALANCE_LATENCY_TOTAL),
            rebalance_latency_avg: l.gauge(names::REBALANCE_LATENCY_AVG),
            rebalance_latency_max: l.gauge(names::REBALANCE_LATENCY_MAX),
            last_rebalance_ago: l.gauge(names::LAST_REBALANCE_SECONDS_AGO),
            heartbeat_total: l.counter(names::HEARTBEAT_TOTAL),
            heartbeat_rate: l.gauge(names::HEARTBEAT_RATE),
            heartbeat_response_max: l.gauge(names::HEARTBEAT_RESPONSE_TIME_MAX),
            last_heartbeat_ago: l.gauge(names::LAST_HEARTBEAT_SECONDS_AGO),
            assigned_partitions: l.gauge(names::ASSIGNED_PARTITIONS),
            stats: Mutex::new(ConsumerStats {
                fetch_latency: s(),
                fetch_size: s(),
                records_consumed: s(),
                records_lag: s(),
                commit_latency: s(),
                rebalance_latency: s(),
                heartbeat: s(),
                last_heartbeat: None,
                last_rebalance: None,
                partition_lag: HashMap::new(),
            }),
            labels: l,
        }
    }

    /// A Fetch response arrived after `latency`, with `bytes` of record data.
    pub(crate) fn fetch_done(&self, latency: Duration, bytes: u64, now: Instant) {
        self.fetch_total.increment(1);
        self.bytes_consumed_total.increment(bytes);
        let mut st = lock(&self.stats);
        st.fetch_latency.record(ms(latency), now);
        st.fetch_size.record(bytes as f64, now);
        self.fetch_latency_avg.set(st.fetch_latency.avg(now));
        self.fetch_latency_max.set(st.fetch_latency.max(now));
        self.fetch_size_avg.set(st.fetch_size.avg(now));
        self.fetch_size_max.set(st.fetch_size.max(now));
        self.fetch_rate.set(st.fetch_latency.rate(now, true));
        self.bytes_consumed_rate.set(st.fetch_size.rate(now, false));
    }

    /// `poll` returned `records` records; `lags` are the assigned partitions' lags now.
    pub(crate) fn polled<'a>(
        &self,
        records: usize,
        lags: impl Iterator<Item = (&'a TopicPartition, Option<i64>)>,
        assigned: usize,
        now: Instant,
    ) {
        self.records_consumed_total.increment(records as u64);
        self.assigned_partitions.set(assigned as f64);
        let mut st = lock(&self.stats);
        if records > 0 {
            st.records_consumed.record(records as f64, now);
        }
        for (tp, lag) in lags {
            let Some(lag) = lag else { continue };
            let lag = lag.max(0) as f64;
            // Java `FetchMetricsManager.recordPartitionLag`: the partition's gauge, and the
            // value into `records-lag-max`.
            st.records_lag.record(lag, now);
            let labels = &self.labels;
            st.partition_lag
                .entry(tp.clone())
                .or_insert_with(|| {
                    let mut l = labels.with(names::LABEL_TOPIC, tp.topic.to_string());
                    l.push(Label::new(names::LABEL_PARTITION, tp.partition.to_string()));
                    metrics::gauge!(names::RECORDS_LAG, l)
                })
                .set(lag);
        }
        self.refresh(&mut st, now);
    }

    /// Recomputes the values that change with time alone (rates, "seconds ago").
    fn refresh(&self, st: &mut ConsumerStats, now: Instant) {
        self.records_lag_max.set(st.records_lag.max(now));
        self.records_consumed_rate.set(st.records_consumed.rate(now, false));
        self.fetch_rate.set(st.fetch_latency.rate(now, true));
        self.bytes_consumed_rate.set(st.fetch_size.rate(now, false));
        self.commit_rate.set(st.commit_latency.rate(now, true));
        self.heartbeat_rate.set(st.heartbeat.rate(now, true));
        if let Some(t) = st.last_heartbeat {
            self.last_heartbeat_ago.set(now.saturating_duration_since(t).as_secs_f64());
        }
        if let Some(t) = st.last_rebalance {
            self.last_rebalance_ago.set(now.saturating_duration_since(t).as_secs_f64());
        }
    }

    /// An OffsetCommit request was answered after `latency`.
    pub(crate) fn commit_done(&self, latency: Duration, now: Instant) {
        self.commit_total.increment(1);
        let mut st = lock(&self.stats);
        st.commit_latency.record(ms(latency), now);
        self.commit_latency_avg.set(st.commit_latency.avg(now));
        self.commit_latency_max.set(st.commit_latency.max(now));
        self.commit_rate.set(st.commit_latency.rate(now, true));
    }

    /// A heartbeat was answered after `latency`.
    pub(crate) fn heartbeat_done(&self, latency: Duration, now: Instant) {
        self.heartbeat_total.increment(1);
        let mut st = lock(&self.stats);
        st.heartbeat.record(ms(latency), now);
        st.last_heartbeat = Some(now);
        self.heartbeat_response_max.set(st.heartbeat.max(now));
        self.heartbeat_rate.set(st.heartbeat.rate(now, true));
        self.last_heartbeat_ago.set(0.0);
    }

    /// A rebalance that took `latency` completed.
    pub(crate) fn rebalance_done(&self, latency: Duration, now: Instant) {
        self.rebalance_total.increment(1);
        self.rebalance_latency_total.increment(latency.as_millis() as u64);
        let mut st = lock(&self.stats);
        st.rebalance_latency.record(ms(latency), now);
        st.last_rebalance = Some(now);
        self.rebalance_latency_avg.set(st.rebalance_latency.avg(now));
        self.rebalance_latency_max.set(st.rebalance_latency.max(now));
        self.last_rebalance_ago.set(0.0);
    }
}

// ----- producer -----

struct ProducerStats {
    sent: Sampled,
    errors: Sampled,
}

/// The record counts of one producer (`producer-metrics`).
pub(crate) struct ProducerTelemetry {
    send_total: Counter,
    send_rate: Gauge,
    error_total: Counter,
    error_rate: Gauge,
    stats: Mutex<ProducerStats>,
}

impl std::fmt::Debug for ProducerTelemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProducerTelemetry").finish_non_exhaustive()
    }
}

impl ProducerTelemetry {
    pub(crate) fn new(client_id: &str, cfg: &MetricsConfig) -> Self {
        let l = Labels::client(client_id);
        ProducerTelemetry {
            send_total: l.counter(names::RECORD_SEND_TOTAL),
            send_rate: l.gauge(names::RECORD_SEND_RATE),
            error_total: l.counter(names::RECORD_ERROR_TOTAL),
            error_rate: l.gauge(names::RECORD_ERROR_RATE),
            stats: Mutex::new(ProducerStats { sent: Sampled::new(cfg), errors: Sampled::new(cfg) }),
        }
    }

    /// A batch of `records` records was acknowledged.
    pub(crate) fn sent(&self, records: usize, now: Instant) {
        self.send_total.increment(records as u64);
        let mut st = lock(&self.stats);
        st.sent.record(records as f64, now);
        self.send_rate.set(st.sent.rate(now, false));
    }

    /// A batch of `records` records failed for good.
    pub(crate) fn failed(&self, records: usize, now: Instant) {
        self.error_total.increment(records as u64);
        let mut st = lock(&self.stats);
        st.errors.record(records as f64, now);
        self.error_rate.set(st.errors.rate(now, false));
    }
}
