//! Issue #17: the library's metrics through the `metrics` facade, under Java's names, seen by
//! a recorder the application installs, and the statistics snapshot. Each test uses its own
//! `client.id`: the recorder is global to this test binary.
//!
//! The recorder is a small one of this file's (values kept in atomics, read without being
//! reset): metrics-util's `DebuggingRecorder` resets every value it reports, so tests running
//! in parallel would read each other's zeros. (The `gregor::telemetry` doc example uses it.)

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use gregor::telemetry::names;
use gregor::{Consumer, ConsumerConfig, Producer, ProducerRecord, Role, TopicPartition};
use gregor_mock::MockCluster;
use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use tokio::time::Instant;

const WAIT: Duration = Duration::from_secs(30);

/// Counters and gauges (f64 bits) by key.
#[derive(Default)]
struct Store {
    counters: Mutex<HashMap<Key, Arc<AtomicU64>>>,
    gauges: Mutex<HashMap<Key, Arc<AtomicU64>>>,
}

struct TestRecorder(Arc<Store>);

impl Recorder for TestRecorder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(self.0.counters.lock().unwrap().entry(key.clone()).or_default().clone())
    }
    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(self.0.gauges.lock().unwrap().entry(key.clone()).or_default().clone())
    }
    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::noop()
    }
}

fn store() -> &'static Arc<Store> {
    static S: OnceLock<Arc<Store>> = OnceLock::new();
    S.get_or_init(|| {
        let s = Arc::new(Store::default());
        metrics::set_global_recorder(TestRecorder(s.clone())).expect("the only recorder of this test binary");
        s
    })
}

/// Every value of metric `name` for `client`, with its labels other than `client-id`.
fn values(name: &str, client: &str) -> Vec<(Vec<(String, String)>, f64)> {
    let s = store();
    let counters = s.counters.lock().unwrap();
    let gauges = s.gauges.lock().unwrap();
    let all = counters
        .iter()
        .map(|(k, v)| (k, v.load(Ordering::SeqCst) as f64))
        .chain(gauges.iter().map(|(k, v)| (k, f64::from_bits(v.load(Ordering::SeqCst)))));
    all.filter(|(k, _)| k.name() == name)
        .filter(|(k, _)| k.labels().any(|l| l.key() == names::LABEL_CLIENT_ID && l.value() == client))
        .map(|(k, v)| {
            let labels = k
                .labels()
                .filter(|l| l.key() != names::LABEL_CLIENT_ID)
                .map(|l| (l.key().to_string(), l.value().to_string()))
                .collect();
            (labels, v)
        })
        .collect()
}

/// The one value of an unlabelled (but for `client-id`) metric; panics if it was never recorded.
fn value(name: &str, client: &str) -> f64 {
    let v = values(name, client);
    assert_eq!(v.len(), 1, "{name} for {client}: {v:?}");
    v[0].1
}

/// The sum over labels (e.g. `connection-close-total` by reason); 0 if never recorded.
fn sum(name: &str, client: &str) -> f64 {
    values(name, client).iter().map(|(_, v)| v).sum()
}

async fn until(what: &str, consumer: &Consumer, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        consumer.poll(Duration::from_millis(50)).await.unwrap();
    }
}

fn records(n: usize) -> Vec<(String, String)> {
    (0..n).map(|i| (format!("k{i}"), format!("value-{i}"))).collect()
}

fn group_config(cluster: &MockCluster, client: &str, group: &str, protocol: &str) -> ConsumerConfig {
    let b = ConsumerConfig::builder()
        .bootstrap_servers(cluster.bootstrap_servers())
        .group_id(group)
        .set("client.id", client)
        .set("group.protocol", protocol)
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .set("max.poll.records", "3");
    // KIP-848: the broker sets the heartbeat interval (the mock's: 500 ms).
    let b = if protocol == "classic" { b.set("heartbeat.interval.ms", "100") } else { b };
    b.build().unwrap()
}

/// A classic group member: fetch-manager, coordinator and connection metrics all move, under
/// Java's names, with the client's id and per-partition labels.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_metrics_move_under_java_names() {
    store();
    let client = "metrics-classic";
    let cluster = MockCluster::builder().brokers(1).topic("m", 2).start().await.unwrap();
    cluster.append_records("m", 0, &records(5)).unwrap();
    cluster.append_records("m", 1, &records(5)).unwrap();
    let consumer = Consumer::new(group_config(&cluster, client, "g-classic", "classic")).unwrap();
    consumer.subscribe(["m"]).unwrap();

    let mut got = 0;
    let mut lag_seen = 0.0f64;
    let deadline = Instant::now() + WAIT;
    while got < 10 {
        assert!(Instant::now() < deadline, "only {got} records");
        got += consumer.poll(Duration::from_millis(100)).await.unwrap().len();
        if got > 0 {
            lag_seen = lag_seen.max(value(names::RECORDS_LAG_MAX, client));
        }
    }
    // max.poll.records=3 of 5 per partition: some poll left records behind.
    assert!(lag_seen >= 1.0, "records-lag-max never above 0: {lag_seen}");
    assert_eq!(value(names::RECORDS_CONSUMED_TOTAL, client), 10.0);
    assert!(value(names::RECORDS_CONSUMED_RATE, client) > 0.0);
    assert!(value(names::FETCH_TOTAL, client) >= 1.0);
    assert!(value(names::BYTES_CONSUMED_TOTAL, client) > 0.0);
    assert!(value(names::BYTES_CONSUMED_RATE, client) > 0.0);
    assert!(value(names::FETCH_SIZE_AVG, client) > 0.0);
    assert!(value(names::FETCH_LATENCY_AVG, client).is_finite());
    assert!(value(names::FETCH_LATENCY_MAX, client) >= value(names::FETCH_LATENCY_AVG, client));
    assert!(value(names::FETCH_RATE, client) > 0.0);
    // records-lag per partition, labelled as Java tags it; 0 once everything is read.
    let mut lags = values(names::RECORDS_LAG, client);
    lags.sort_by(|a, b| a.0.cmp(&b.0));
    let want = |p: &str| vec![("topic".to_string(), "m".to_string()), ("partition".to_string(), p.to_string())];
    assert_eq!(lags, vec![(want("0"), 0.0), (want("1"), 0.0)]);

    // Coordinator metrics: one rebalance (first join), heartbeats, a commit.
    assert_eq!(value(names::REBALANCE_TOTAL, client), 1.0);
    assert!(value(names::REBALANCE_LATENCY_AVG, client).is_finite());
    assert!(value(names::REBALANCE_LATENCY_MAX, client) >= value(names::REBALANCE_LATENCY_AVG, client));
    assert_eq!(value(names::ASSIGNED_PARTITIONS, client), 2.0);
    assert!(values(names::COMMIT_TOTAL, client).is_empty() || value(names::COMMIT_TOTAL, client) == 0.0);
    consumer.commit_sync().await.unwrap();
    assert_eq!(value(names::COMMIT_TOTAL, client), 1.0);
    assert!(value(names::COMMIT_LATENCY_AVG, client).is_finite());
    assert!(value(names::COMMIT_RATE, client) > 0.0);
    until("a heartbeat", &consumer, || !values(names::HEARTBEAT_TOTAL, client).is_empty() && value(names::HEARTBEAT_TOTAL, client) >= 1.0).await;
    assert!(value(names::HEARTBEAT_RATE, client) > 0.0);
    assert!(value(names::HEARTBEAT_RESPONSE_TIME_MAX, client).is_finite());
    assert!(value(names::LAST_HEARTBEAT_SECONDS_AGO, client) < 60.0);

    // Connection metrics in `consumer-metrics`.
    let c = names::CONSUMER_CONNECTIONS;
    let opened = value(c.connection_creation_total, client);
    assert!(opened >= 2.0, "bootstrap/broker + coordinator: {opened}");
    assert!(value(c.connection_count, client) >= 1.0);
    assert!(value(c.request_total, client) > 0.0);
    assert!(value(c.incoming_byte_total, client) > 0.0);
    assert!(value(c.outgoing_byte_total, client) > 0.0);
    assert!(value(c.request_latency_avg, client).is_finite());
    // Per-node metrics only at metrics.recording.level=DEBUG (as Java).
    assert!(values(c.node_request_total, client).is_empty());

    consumer.close(Duration::from_secs(10)).await;
    assert_eq!(value(c.connection_count, client), 0.0);
    assert_eq!(sum(c.connection_close_total, client), value(c.connection_creation_total, client));
}

/// KIP-848: the rebalance (a heartbeat bringing the assignment, reconciled) and the
/// ConsumerGroupHeartbeats count in the same metrics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kip848_rebalances_and_heartbeats_are_counted() {
    store();
    let client = "metrics-kip848";
    let cluster = MockCluster::builder().brokers(1).topic("k", 2).start().await.unwrap();
    cluster.append_records("k", 0, &records(2)).unwrap();
    let consumer = Consumer::new(group_config(&cluster, client, "g-848", "consumer")).unwrap();
    consumer.subscribe(["k"]).unwrap();
    until("the assignment", &consumer, || consumer.assignment().len() == 2).await;
    until("a rebalance", &consumer, || !values(names::REBALANCE_TOTAL, client).is_empty()).await;
    assert_eq!(value(names::REBALANCE_TOTAL, client), 1.0);
    assert!(value(names::REBALANCE_LATENCY_MAX, client).is_finite());
    assert!(value(names::HEARTBEAT_TOTAL, client) >= 1.0);
    consumer.close(Duration::from_secs(10)).await;
}

/// With `metrics.recording.level=DEBUG`, requests are also counted per broker
/// (`consumer-node-metrics`, `node-id` label).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debug_level_adds_per_node_metrics() {
    store();
    let client = "metrics-debug";
    let cluster = MockCluster::builder().brokers(1).topic("d", 1).start().await.unwrap();
    cluster.append_records("d", 0, &records(1)).unwrap();
    let consumer = Consumer::from_properties([
        ("bootstrap.servers", cluster.bootstrap_servers().as_str()),
        ("client.id", client),
        ("metrics.recording.level", "DEBUG"),
        ("auto.offset.reset", "earliest"),
    ])
    .unwrap();
    consumer.assign([TopicPartition::new("d", 0)]).unwrap();
    until("a record", &consumer, || values(names::RECORDS_CONSUMED_TOTAL, client).first().is_some_and(|v| v.1 == 1.0)).await;
    let per_node = values(names::CONSUMER_CONNECTIONS.node_request_total, client);
    assert!(!per_node.is_empty());
    assert!(per_node.iter().all(|(l, _)| l.len() == 1 && l[0].0 == "node-id" && l[0].1.starts_with("node-")), "{per_node:?}");
    let total: f64 = per_node.iter().map(|(_, v)| v).sum();
    assert_eq!(total, value(names::CONSUMER_CONNECTIONS.request_total, client));
    consumer.close(Duration::from_secs(5)).await;
}

/// The producer counts the records it sent, and its sockets in `producer-metrics`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn producer_counts_records_and_connections() {
    store();
    let client = "metrics-producer";
    let cluster = MockCluster::builder().brokers(1).topic("p", 1).start().await.unwrap();
    let producer = Producer::from_properties([
        ("bootstrap.servers", cluster.bootstrap_servers().as_str()),
        ("client.id", client),
        ("linger.ms", "0"),
    ])
    .unwrap();
    let mut pending = Vec::new();
    for i in 0..7 {
        pending.push(producer.send(ProducerRecord::new("p").key(format!("k{i}")).value("v")).await.unwrap());
    }
    for p in pending {
        p.await.unwrap();
    }
    assert_eq!(value(names::RECORD_SEND_TOTAL, client), 7.0);
    assert!(value(names::RECORD_SEND_RATE, client) > 0.0);
    assert!(values(names::RECORD_ERROR_TOTAL, client).iter().all(|(_, v)| *v == 0.0));
    assert!(value(names::PRODUCER_CONNECTIONS.connection_creation_total, client) >= 1.0);
    assert!(value(names::PRODUCER_CONNECTIONS.request_latency_avg, client).is_finite());
    let socks = producer.connection_statistics();
    assert!(socks.iter().any(|c| c.role == Role::Broker && c.requests > 0 && c.bytes_out > 0), "{socks:?}");
    producer.close(Duration::from_secs(5)).await.unwrap();
    // Nothing of the consumer's groups in a producer.
    assert!(values(names::CONSUMER_CONNECTIONS.connection_creation_total, client).is_empty());
}

/// `statistics()`: positions, committed offsets, watermarks, lag and fetch latency per
/// partition; role, broker, age and traffic per socket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statistics_snapshot_reports_partitions_and_sockets() {
    let cluster = MockCluster::builder().brokers(2).topic("s", 2).start().await.unwrap();
    cluster.append_records("s", 0, &records(4)).unwrap();
    cluster.append_records("s", 1, &records(6)).unwrap();
    let consumer = Consumer::new(group_config(&cluster, "stats", "g-stats", "classic")).unwrap();
    let before = consumer.statistics();
    assert!(before.partitions.is_empty() && before.connections.is_empty(), "{before:?}");
    consumer.subscribe(["s"]).unwrap();
    let mut got = 0;
    let deadline = Instant::now() + WAIT;
    while got < 10 {
        assert!(Instant::now() < deadline, "only {got} records");
        got += consumer.poll(Duration::from_millis(100)).await.unwrap().len();
    }
    let (p0, p1) = (TopicPartition::new("s", 0), TopicPartition::new("s", 1));
    let s = consumer.statistics();
    assert_eq!(s.client_id, "stats");
    assert_eq!(s.group_id.as_deref(), Some("g-stats"));
    assert!(s.generation >= 1, "{s:?}");
    let (a, b) = (s.partition(&p0).unwrap(), s.partition(&p1).unwrap());
    assert_eq!((a.position, a.high_watermark, a.lag, a.committed), (Some(4), Some(4), Some(0), None));
    assert_eq!((b.position, b.high_watermark, b.lag, b.committed), (Some(6), Some(6), Some(0), None));
    assert!(a.last_fetch_latency.is_some() && b.last_fetch_latency.is_some());
    assert_eq!(s.total_lag(), Some(0));

    consumer.commit_sync().await.unwrap();
    let s = consumer.statistics();
    assert_eq!(s.partition(&p0).unwrap().committed, Some(4));
    assert_eq!(s.partition(&p1).unwrap().committed, Some(6));

    // Sockets: the dedicated coordinator connection and the broker connections, each with
    // its traffic; ids as in the connection events.
    assert!(s.connections.iter().any(|c| c.role == Role::Coordinator && c.requests >= 3), "{:?}", s.connections);
    let brokers: Vec<_> = s.connections.iter().filter(|c| c.role == Role::Broker).collect();
    assert!(!brokers.is_empty(), "{:?}", s.connections);
    for c in &s.connections {
        assert!(c.ready && c.node_id.is_some() && c.remote_addr.is_some(), "{c:?}");
        assert!(c.requests == 0 || c.bytes_out > 0 && c.bytes_in > 0, "{c:?}");
    }
    let total: u64 = s.connections.iter().map(|c| c.requests).sum();
    assert!(total >= 5, "{total}");
    consumer.close(Duration::from_secs(10)).await;
    assert!(consumer.statistics().connections.is_empty());
}
