//! Faults while a group consumes 100k records with commits (gregor-mock).
//!
//! For each fault the same invariants hold:
//! * every record is delivered at least once;
//! * a record is delivered again only from offsets that were not yet committed;
//! * committed offsets never move backwards;
//! * once the fault clears, consumption resumes with no action from the application;
//! * the socket count (counted by the mock) returns to L+1 per member: nothing leaked.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use gregor::{Consumer, ConsumerConfig, ErrorKind};
use gregor_mock::MockCluster;

const TOPIC: &str = "f";
const PARTITIONS: i32 = 6;
const PER_PARTITION: usize = 17_000; // 102k records
const WAIT: Duration = Duration::from_secs(90);

async fn cluster() -> MockCluster {
    let c = MockCluster::builder().brokers(3).topic(TOPIC, PARTITIONS).start().await.unwrap();
    let value = vec![b'x'; 32];
    for p in 0..PARTITIONS {
        for chunk in 0..(PER_PARTITION / 1000) {
            let recs: Vec<(String, &[u8])> =
                (0..1000).map(|i| (format!("{p}-{}", chunk * 1000 + i), &value[..])).collect();
            c.append_records(TOPIC, p, &recs).unwrap();
        }
    }
    c
}

fn member(cluster: &MockCluster, group: &str) -> Arc<Consumer> {
    let config = ConsumerConfig::builder()
        .bootstrap_servers(cluster.bootstrap_servers())
        .group_id(group)
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .set("heartbeat.interval.ms", "100")
        .set("session.timeout.ms", "6000")
        .set("request.timeout.ms", "5000")
        .set("fetch.max.wait.ms", "200")
        .set("default.api.timeout.ms", "5000")
        .set("max.partition.fetch.bytes", "65536")
        .build()
        .unwrap();
    let c = Arc::new(Consumer::new(config).unwrap());
    c.subscribe([TOPIC]).unwrap();
    c
}

fn committed(cluster: &MockCluster, group: &str) -> BTreeMap<i32, i64> {
    (0..PARTITIONS).filter_map(|p| cluster.committed_offset(group, TOPIC, p).map(|o| (p, o))).collect()
}

/// Consumes everything with two members, calling `inject` once a third has been read and
/// `heal` at two thirds. Returns the number of redelivered records.
async fn consume_through_fault(
    name: &str,
    inject: impl FnOnce(&MockCluster) -> futures_util::future::BoxFuture<'_, ()>,
    heal: impl FnOnce(&MockCluster) -> futures_util::future::BoxFuture<'_, ()>,
) -> usize {
    common::init_tracing("error");
    let cluster = cluster().await;
    let group = format!("g-{name}");
    let members = [member(&cluster, &group), member(&cluster, &group)];
    let total = PARTITIONS as usize * PER_PARTITION;
    let mut seen: HashMap<(i32, i64), u32> = HashMap::new();
    let mut last_committed: BTreeMap<i32, i64> = BTreeMap::new();
    let mut inject = Some(inject);
    let mut heal = Some(heal);
    let mut redelivered = 0usize;
    let mut injected_at: Option<tokio::time::Instant> = None;
    let deadline = tokio::time::Instant::now() + WAIT;
    while seen.len() < total {
        assert!(
            tokio::time::Instant::now() < deadline,
            "[{name}] stuck at {} of {total} records (committed {:?})",
            seen.len(),
            committed(&cluster, &group)
        );
        if seen.len() >= total / 3 {
            if let Some(f) = inject.take() {
                f(&cluster).await;
                injected_at = Some(tokio::time::Instant::now());
            }
        }
        // The fault lasts until two thirds are read, or 3 s if it stops progress altogether
        // (e.g. the group coordinator's broker is down).
        let long_enough = injected_at.is_some_and(|t| t.elapsed() >= Duration::from_secs(3));
        if seen.len() >= 2 * total / 3 || long_enough {
            if let Some(f) = heal.take() {
                f(&cluster).await;
            }
        }
        let before = committed(&cluster, &group);
        let polls = members.iter().map(|m| {
            let m = m.clone();
            async move {
                let recs = match m.poll(Duration::from_millis(100)).await {
                    Ok(r) => r,
                    Err(e) => {
                        assert!(e.is_retriable() || e.kind() == ErrorKind::Protocol, "poll error: {e}");
                        Vec::new()
                    }
                };
                if !recs.is_empty() {
                    if let Err(e) = m.commit_sync().await {
                        // A commit racing a rebalance fails cleanly (Java's
                        // RebalanceInProgressException / CommitFailedException); the records
                        // will be redelivered to the partition's next owner.
                        assert!(
                            matches!(e.kind(), ErrorKind::CommitFailed | ErrorKind::RebalanceInProgress | ErrorKind::Timeout)
                                || e.is_retriable(),
                            "commit error: {e}"
                        );
                    }
                }
                recs
            }
        });
        for recs in futures_util::future::join_all(polls).await {
            for r in recs {
                let n = seen.entry((r.partition, r.offset)).or_default();
                *n += 1;
                if *n > 1 {
                    redelivered += 1;
                    let c = before.get(&r.partition).copied().unwrap_or(0);
                    assert!(
                        r.offset >= c,
                        "[{name}] offset {} of partition {} redelivered although {c} was committed",
                        r.offset,
                        r.partition
                    );
                }
            }
        }
        let now = committed(&cluster, &group);
        for (p, o) in &now {
            let prev = last_committed.get(p).copied().unwrap_or(-1);
            assert!(*o >= prev, "[{name}] committed offset of partition {p} moved back: {prev} -> {o}");
        }
        last_committed = now;
    }
    for p in 0..PARTITIONS {
        for o in 0..PER_PARTITION as i64 {
            assert!(seen.contains_key(&(p, o)), "[{name}] record {p}@{o} never delivered");
        }
    }
    // Nothing leaked: each member is back to L + 1 sockets (3 leader brokers + its
    // coordinator socket), counted from the brokers' side.
    let expected = 2 * (3 + 1);
    let settled = cluster.wait_until(|c| c.iter().filter(|r| r.is_open()).count() == expected, WAIT).await;
    let open: Vec<_> = cluster.open_connections().iter().map(|c| (c.broker_id, c.peer)).collect();
    assert!(settled.is_ok(), "[{name}] {} sockets open, expected {expected}: {open:?}", open.len());
    for m in &members {
        m.close(Duration::from_secs(10)).await;
    }
    cluster
        .wait_until(|c| c.iter().all(|r| !r.is_open()), WAIT)
        .await
        .unwrap_or_else(|_| panic!("[{name}] sockets left open after close"));
    cluster.shutdown().await;
    redelivered
}

fn noop(_: &MockCluster) -> futures_util::future::BoxFuture<'_, ()> {
    Box::pin(async {})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_kill_and_restart() {
    consume_through_fault(
        "kill",
        |c| Box::pin(async move { c.broker_down(1).await }),
        |c| Box::pin(async move { c.broker_up(1).await.unwrap() }),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coordinator_moves() {
    consume_through_fault(
        "coord",
        |c| {
            Box::pin(async move {
                let now = c.coordinator("g-coord");
                c.set_coordinator("g-coord", (now + 1) % 3);
            })
        },
        noop,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaders_move() {
    consume_through_fault(
        "leaders",
        |c| {
            Box::pin(async move {
                for p in 0..PARTITIONS {
                    let l = c.partition_leader(TOPIC, p).unwrap();
                    c.move_leader(TOPIC, p, (l + 1) % 3);
                }
            })
        },
        noop,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_errors_and_latency() {
    consume_through_fault(
        "errors",
        |c| {
            Box::pin(async move {
                c.inject_errors(1, 6, 5); // Fetch: NOT_LEADER_OR_FOLLOWER
                c.inject_errors(12, 27, 2); // Heartbeat: REBALANCE_IN_PROGRESS
                c.inject_errors(8, 15, 1); // OffsetCommit: COORDINATOR_NOT_AVAILABLE
                c.set_latency(Some(0), None, Duration::from_millis(150));
            })
        },
        |c| Box::pin(async move { c.set_latency(Some(0), None, Duration::ZERO) }),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_connections() {
    consume_through_fault(
        "drops",
        |c| {
            Box::pin(async move {
                for b in 0..3 {
                    c.drop_connection_at(b, 3);
                }
            })
        },
        noop,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn advertised_endpoint_changes() {
    consume_through_fault(
        "endpoint",
        |c| {
            Box::pin(async move {
                // Same listener, new advertised host: every socket to broker 2 must move.
                let port = c.broker_addr(2).unwrap().port();
                c.set_advertised(2, "localhost", port);
            })
        },
        noop,
    )
    .await;
}

/// Found by the chaos suite on real Kafka: a metadata request sent on a connection that the
/// broker closes (it is restarting) failed `end_offsets`/`partitions_for` at once with "could
/// not get metadata ... within default.api.timeout.ms", because the retry waited for the next
/// `metadata.max.age.ms` instead of the retry backoff.
#[tokio::test]
async fn a_metadata_request_cut_off_by_the_broker_is_retried() {
    common::init_tracing("error");
    let c = MockCluster::builder().brokers(1).topic(TOPIC, 2).start().await.unwrap();
    let consumer = Consumer::from_properties([("bootstrap.servers", c.bootstrap_servers().as_str())]).unwrap();
    assert_eq!(consumer.partitions_for(TOPIC).await.unwrap().len(), 2);
    // The connection's next request (its third, after ApiVersions and Metadata) is cut off.
    c.drop_connection_at(0, 3);
    let parts = consumer.partitions_for(TOPIC).await.expect("retried on a new connection");
    assert_eq!(parts.len(), 2);
    assert_eq!(c.connections().len(), 2, "a new connection replaced the one the broker closed");
    consumer.close(Duration::from_secs(5)).await;
}
