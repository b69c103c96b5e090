//! Integration tests against real Apache Kafka 4.3.1 (`scripts/kafka-cluster.sh`).
//!
//! Enabled when `GREGOR_KAFKA_BOOTSTRAP` holds the cluster's `bootstrap.servers` (scripts/test.sh
//! starts the cluster and sets it); otherwise each test prints "skipped" and passes. Data is
//! written with the cluster script's tools (Java's ProducerPerformance) and, for transactions,
//! with librdkafka's transactional producer (confluent-kafka from PyPI).

mod common;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::process::Command;
use std::time::Duration;

use common::{cluster_script, repo, unique};
use gregor::{CloseReason, ConnectionEventKind, Consumer, ConsumerConfig, TopicPartition};

const WAIT: Duration = Duration::from_secs(120);

/// The cluster of scripts/test.sh, with gregor's own log (RUST_LOG, default warn) in the
/// test's output, which the harness prints for a failing test.
fn bootstrap() -> Option<String> {
    common::init_tracing("warn");
    common::kafka_bootstrap("scripts/test.sh")
}

/// Creates a topic and returns the set of brokers leading its partitions.
fn create_topic(name: &str, partitions: u32, rf: u32) -> BTreeSet<i32> {
    cluster_script(&["topic-create", name, &partitions.to_string(), &rf.to_string()]);
    let described = cluster_script(&["topic", "--describe", "--topic", name]);
    described
        .split_whitespace()
        .collect::<Vec<_>>()
        .windows(2)
        .filter(|w| w[0] == "Leader:")
        .filter_map(|w| w[1].parse().ok())
        .collect()
}

fn produce(topic: &str, n: usize, size: usize, compression: &str) {
    cluster_script(&["produce", topic, &n.to_string(), &size.to_string(), compression]);
}

fn config(bootstrap: &str, group: Option<&str>, extra: &[(&str, &str)]) -> ConsumerConfig {
    let mut b = ConsumerConfig::builder()
        .bootstrap_servers(bootstrap)
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false");
    if let Some(g) = group {
        b = b.group_id(g);
    }
    for (k, v) in extra {
        b = b.set(k, *v);
    }
    b.build().unwrap()
}

fn first_broker(bootstrap: &str) -> String {
    bootstrap.split(',').next().unwrap().to_string()
}

/// The spec's scenario on real Kafka: a group consumer opens L + 1 sockets (the bootstrap one
/// adopted), reads everything, and closes every socket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_kafka_group_consumer_opens_l_plus_one_sockets() {
    let Some(b) = bootstrap() else { return };
    let topic = unique("conn");
    let leaders = create_topic(&topic, 6, 1);
    produce(&topic, 3000, 100, "none");
    let c = Consumer::new(config(&first_broker(&b), Some(&unique("g")), &[("connections.max.idle.ms", "-1")])).unwrap();
    let mut events = c.connection_events();
    c.subscribe([topic.clone()]).unwrap();
    let got = common::poll_until(&c, 3000, WAIT).await;
    assert_eq!(got.len(), 3000);
    c.commit_sync().await.unwrap();
    let m = c.connection_metrics();
    let mut adopted = false;
    while let Some(ev) = events.try_recv() {
        adopted |= matches!(ev.kind, ConnectionEventKind::Adopted { .. });
    }
    assert!(adopted, "the bootstrap socket was adopted");
    assert_eq!(
        m.connection_creation_total as usize,
        leaders.len() + 1,
        "L+1 sockets for {} leader brokers: {m:?}",
        leaders.len()
    );
    assert_eq!(m.close_total(), 0, "nothing was closed and reopened: {m:?}");
    c.close(Duration::from_secs(30)).await;
    assert_eq!(c.open_connections(), 0);
    assert_eq!(c.connection_metrics().connection_close_total.get(&CloseReason::Shutdown).copied().unwrap_or(0) as usize, leaders.len() + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_kafka_two_members_share_and_a_restart_resumes_from_commits() {
    let Some(b) = bootstrap() else { return };
    let topic = unique("share");
    create_topic(&topic, 6, 1);
    produce(&topic, 2000, 50, "lz4");
    let group = unique("gs");
    let a = Consumer::new(config(&b, Some(&group), &[])).unwrap();
    let c2 = Consumer::new(config(&b, Some(&group), &[])).unwrap();
    a.subscribe([topic.clone()]).unwrap();
    c2.subscribe([topic.clone()]).unwrap();
    let mut seen: Vec<(i32, i64)> = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    // Until both own partitions and their positions are at the end of all six: with
    // enable.auto.commit=false nothing is committed when the first member's partitions are
    // revoked for the second (Java's `ConsumerCoordinator.onJoinPrepare` commits there only
    // with auto-commit), so what the first read before the rebalance is read again.
    async fn positions(c: &Consumer) -> i64 {
        let mut sum = 0;
        for tp in c.assignment() {
            // An error here is a rebalance between the two calls: count it as not at the end.
            sum += c.position(&tp).await.unwrap_or(0);
        }
        sum
    }
    while seen.len() < 2000
        || a.assignment().is_empty()
        || c2.assignment().is_empty()
        || positions(&a).await + positions(&c2).await < 2000
    {
        assert!(tokio::time::Instant::now() < deadline, "read {} of 2000", seen.len());
        let (ra, rb) = tokio::join!(a.poll(Duration::from_millis(300)), c2.poll(Duration::from_millis(300)));
        seen.extend(ra.unwrap().iter().map(|r| (r.partition, r.offset)));
        seen.extend(rb.unwrap().iter().map(|r| (r.partition, r.offset)));
    }
    let distinct: HashSet<(i32, i64)> = seen.iter().copied().collect();
    assert_eq!(distinct.len(), 2000, "together they read everything");
    let sa: BTreeSet<TopicPartition> = a.assignment().into_iter().collect();
    let sb: BTreeSet<TopicPartition> = c2.assignment().into_iter().collect();
    assert!(sa.is_disjoint(&sb), "no partition owned twice");
    assert_eq!(sa.len() + sb.len(), 6);
    a.commit_sync().await.unwrap();
    c2.commit_sync().await.unwrap();
    a.close(Duration::from_secs(30)).await;
    c2.close(Duration::from_secs(30)).await;

    produce(&topic, 100, 50, "zstd");
    let r = Consumer::new(config(&b, Some(&group), &[])).unwrap();
    r.subscribe([topic.clone()]).unwrap();
    let got = common::poll_until(&r, 100, WAIT).await;
    assert_eq!(got.len(), 100, "only the records produced after the commits");
    assert!(r.poll(Duration::from_secs(1)).await.unwrap().is_empty());
    r.close(Duration::from_secs(30)).await;
}

/// Kill and restart one broker while consuming: the consumer recovers by itself and every
/// record is delivered at least once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_kafka_broker_restart_mid_consumption() {
    let Some(b) = bootstrap() else { return };
    let topic = unique("restart");
    create_topic(&topic, 6, 3);
    produce(&topic, 4000, 100, "none");
    let c = Consumer::new(config(&b, Some(&unique("gr")), &[])).unwrap();
    c.subscribe([topic.clone()]).unwrap();
    let mut seen: BTreeMap<(i32, i64), usize> = BTreeMap::new();
    for r in common::poll_until(&c, 500, WAIT).await {
        *seen.entry((r.partition, r.offset)).or_default() += 1;
    }
    cluster_script(&["stop-broker", "1"]);
    produce(&topic, 1000, 100, "none");
    let deadline = tokio::time::Instant::now() + WAIT;
    while seen.len() < 5000 {
        assert!(tokio::time::Instant::now() < deadline, "read {} of 5000 with broker 1 down", seen.len());
        for r in c.poll(Duration::from_millis(500)).await.unwrap() {
            *seen.entry((r.partition, r.offset)).or_default() += 1;
        }
    }
    cluster_script(&["start-broker", "1"]);
    produce(&topic, 500, 100, "none");
    let deadline = tokio::time::Instant::now() + WAIT;
    while seen.len() < 5500 {
        assert!(tokio::time::Instant::now() < deadline, "read {} of 5500 after restart", seen.len());
        for r in c.poll(Duration::from_millis(500)).await.unwrap() {
            *seen.entry((r.partition, r.offset)).or_default() += 1;
        }
    }
    c.commit_sync().await.unwrap();
    c.close(Duration::from_secs(30)).await;
    assert_eq!(c.open_connections(), 0);
}

/// read_committed skips records of aborted transactions written by librdkafka's transactional
/// producer; read_uncommitted sees them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_kafka_read_committed_skips_aborted_transactions() {
    let Some(b) = bootstrap() else { return };
    let topic = unique("txn");
    create_topic(&topic, 1, 1);
    let py = Command::new("bash").arg(repo().join("scripts/setup-python.sh")).output().unwrap();
    assert!(py.status.success(), "setup-python.sh failed: {}", String::from_utf8_lossy(&py.stderr));
    let python = String::from_utf8_lossy(&py.stdout).lines().last().unwrap().trim().to_string();
    let code = r#"
import sys
from confluent_kafka import Producer
p = Producer({"bootstrap.servers": sys.argv[1], "transactional.id": "gregor-test-" + sys.argv[2]})
p.init_transactions()
for tag, commit in (("c1", True), ("ab", False), ("c2", True)):
    p.begin_transaction()
    for i in range(10):
        p.produce(sys.argv[2], value=f"{tag}-{i}".encode(), key=b"k")
    p.flush()
    p.commit_transaction() if commit else p.abort_transaction()
"#;
    let out = Command::new(&python).args(["-c", code, &b, &topic]).output().unwrap();
    assert!(out.status.success(), "transactional producer failed: {}", String::from_utf8_lossy(&out.stderr));

    let tp = TopicPartition::new(&topic, 0);
    let committed = Consumer::new(config(&b, None, &[("isolation.level", "read_committed")])).unwrap();
    committed.assign([tp.clone()]).unwrap();
    let got = common::poll_until(&committed, 20, WAIT).await;
    let values: Vec<String> = got.iter().map(|r| r.value_str().unwrap().to_string()).collect();
    assert_eq!(values.len(), 20, "{values:?}");
    assert!(values.iter().all(|v| v.starts_with('c')), "no aborted record: {values:?}");
    assert!(committed.poll(Duration::from_secs(1)).await.unwrap().is_empty());
    committed.close(Duration::from_secs(10)).await;

    let all = Consumer::new(config(&b, None, &[])).unwrap();
    all.assign([tp]).unwrap();
    let got = common::poll_until(&all, 30, WAIT).await;
    assert_eq!(got.iter().filter(|r| r.value_str().unwrap().starts_with("ab")).count(), 10);
    all.close(Duration::from_secs(10)).await;
}
