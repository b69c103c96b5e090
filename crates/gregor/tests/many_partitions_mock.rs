//! Thousands of partitions (issue #14 item 3), counted from the broker side by gregor-mock's
//! accounting: a regex subscription over 1000 topics reads every matching record and nothing
//! else, and starting positions cost one OffsetFetch (to the coordinator) and one ListOffsets per
//! broker, never one per partition or per topic (Java batches the same way:
//! `OffsetFetcherUtils.regroupPartitionMapByNode` and one OffsetFetch per coordinator in
//! `ConsumerCoordinator.fetchCommittedOffsets`).

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use gregor::{Consumer, ConsumerConfig, ConsumerRecord};
use gregor_mock::MockCluster;

const WAIT: Duration = Duration::from_secs(120);
/// Kafka API keys counted below.
const LIST_OFFSETS: i16 = 2;
const OFFSET_FETCH: i16 = 9;

fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_test_writer()
        .try_init();
}

fn config(cluster: &MockCluster, group: Option<&str>) -> ConsumerConfig {
    let mut b = ConsumerConfig::builder()
        .bootstrap_servers(cluster.bootstrap_servers())
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false");
    if let Some(g) = group {
        b = b.group_id(g);
    }
    b.build().expect("valid config")
}

async fn poll_until(consumer: &Consumer, want: usize) -> Vec<ConsumerRecord> {
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    while got.len() < want {
        assert!(tokio::time::Instant::now() < deadline, "only {} of {want} records arrived", got.len());
        got.extend(consumer.poll(Duration::from_millis(200)).await.expect("poll"));
    }
    got
}

/// Requests of `api_key` each broker received, over every connection it accepted.
fn requests_per_broker(cluster: &MockCluster, api_key: i16) -> BTreeMap<i32, usize> {
    let mut out: BTreeMap<i32, usize> = cluster.broker_ids().into_iter().map(|b| (b, 0)).collect();
    for c in cluster.connections() {
        *out.entry(c.broker_id).or_default() += c.count(api_key);
    }
    out
}

/// Brokers leading at least one partition of `topics`.
fn leaders(cluster: &MockCluster, topics: &[(String, i32)]) -> HashSet<i32> {
    topics
        .iter()
        .flat_map(|(t, n)| (0..*n).filter_map(move |p| cluster.partition_leader(t, p)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_regex_subscription_over_1000_topics_reads_them_all_with_batched_offset_lookups() {
    init_tracing();
    let topics: Vec<(String, i32)> = (0..1000).map(|i| (format!("rx-{i:04}"), 1)).collect();
    let mut b = MockCluster::builder().brokers(3).topic("other", 2).topic("rx", 1);
    for (t, n) in &topics {
        b = b.topic(t, *n);
    }
    let cluster = b.start().await.unwrap();
    for (t, _) in &topics {
        cluster.append_records(t, 0, &[(format!("k-{t}"), format!("{t}-0")), (format!("k-{t}"), format!("{t}-1"))]).unwrap();
    }
    // Near misses: the pattern is anchored as Java's Pattern.matches is (whole name).
    cluster.append_records("other", 0, &[("k", "other")]).unwrap();
    cluster.append_records("rx", 0, &[("k", "rx")]).unwrap();

    let c = Consumer::new(config(&cluster, Some("g-rx"))).unwrap();
    c.subscribe_pattern(r"rx-\d{4}").unwrap();
    let got = poll_until(&c, 2000).await;
    let values: HashSet<String> = got.iter().map(|r| r.value_str().unwrap_or("").to_string()).collect();
    assert_eq!(values.len(), 2000, "every record of the 1000 topics, once");
    assert!(got.iter().all(|r| r.topic.starts_with("rx-")), "only matching topics");
    assert_eq!(c.assignment().len(), 1000, "all 1000 matching partitions assigned to the one member");

    // One OffsetFetch for the whole assignment (no committed offsets: then auto.offset.reset),
    // and one ListOffsets per broker leading any of the 1000 partitions.
    let fetches: usize = requests_per_broker(&cluster, OFFSET_FETCH).values().sum();
    assert_eq!(fetches, 1, "OffsetFetch requests for 1000 partitions");
    let lead = leaders(&cluster, &topics);
    assert_eq!(lead.len(), 3, "the mock spreads leadership over the 3 brokers");
    let list = requests_per_broker(&cluster, LIST_OFFSETS);
    for (broker, n) in &list {
        assert_eq!(*n, usize::from(lead.contains(broker)), "ListOffsets requests on broker {broker}: {list:?}");
    }
    c.close(Duration::from_secs(10)).await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assigning_2000_partitions_lists_offsets_once_per_broker() {
    init_tracing();
    let topics = vec![("wide".to_string(), 2000)];
    let cluster = MockCluster::builder().brokers(3).topic("wide", 2000).start().await.unwrap();
    for p in 0..2000 {
        cluster.append_records("wide", p, &[("k", format!("p{p}"))]).unwrap();
    }
    let c = Consumer::new(config(&cluster, None)).unwrap();
    let parts = c.partitions_for("wide").await.unwrap();
    assert_eq!(parts.len(), 2000);
    c.assign(parts).unwrap();
    let got = poll_until(&c, 2000).await;
    let partitions: HashSet<i32> = got.iter().map(|r| r.partition).collect();
    assert_eq!(partitions.len(), 2000, "one record from every partition");
    let lead = leaders(&cluster, &topics);
    assert_eq!(lead.len(), 3);
    let list = requests_per_broker(&cluster, LIST_OFFSETS);
    for (broker, n) in &list {
        assert_eq!(*n, usize::from(lead.contains(broker)), "ListOffsets requests on broker {broker}: {list:?}");
    }
    c.close(Duration::from_secs(10)).await;
    cluster.shutdown().await;
}

/// Joining with a pattern right after start-up reuses the metadata of every topic the client
/// just received instead of asking for it again for the coordinator lookup, each JoinGroup
/// (two with KIP-394's member id round) and the leader's assignment: Java's consumer refreshes
/// before a pattern join only once `Metadata.timeToAllowUpdate` allows it (`retry.backoff.ms`
/// after the last update, `ConsumerCoordinator.poll`) and assigns from the metadata it has.
/// `retry.backoff.ms` is raised so that this holds however slowly the machine runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pattern_join_right_after_start_up_asks_for_every_topics_metadata_once() {
    const METADATA: i16 = 3;
    init_tracing();
    let mut b = MockCluster::builder().brokers(3).topic("other", 1);
    for i in 0..50 {
        b = b.topic(&format!("rx-{i:04}"), 1);
    }
    let cluster = b.start().await.unwrap();
    for i in 0..50 {
        cluster.append_records(&format!("rx-{i:04}"), 0, &[("k", format!("v{i}"))]).unwrap();
    }
    let mut cfg = ConsumerConfig::builder()
        .bootstrap_servers(cluster.bootstrap_servers())
        .group_id("g-rx-once")
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .set("retry.backoff.ms", "600000")
        .set("retry.backoff.max.ms", "600000");
    cfg = cfg.set("metadata.max.age.ms", "600000");
    let c = Consumer::new(cfg.build().expect("valid config")).unwrap();
    c.subscribe_pattern(r"rx-\d{4}").unwrap();
    let got = poll_until(&c, 50).await;
    assert!(got.iter().all(|r| r.topic.starts_with("rx-")));
    let metadata: usize = requests_per_broker(&cluster, METADATA).values().sum();
    assert_eq!(metadata, 1, "Metadata requests from start to the first records of a pattern join");
    c.close(Duration::from_secs(10)).await;
    cluster.shutdown().await;
}
