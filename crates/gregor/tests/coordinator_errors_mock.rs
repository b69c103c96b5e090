//! Group-coordinator errors that are not coordinator changes keep the coordinator socket.
//!
//! Found by the compatibility run: a coordinator still loading `__consumer_offsets` answers
//! COORDINATOR_LOAD_IN_PROGRESS, and gregor treated that like NOT_COORDINATOR — forgot the
//! coordinator, closed its socket, looked it up again and opened a new one (6 sockets where 4
//! are enough). Java retries such a request on the same connection (the code is retriable; only
//! COORDINATOR_NOT_AVAILABLE and NOT_COORDINATOR call `markCoordinatorUnknown`). Here the mock
//! answers every group API with that code a few times; the consumer must read everything,
//! commit, see no error, and open exactly the sockets it opens without the errors.

mod common;

use std::time::Duration;

use gregor::{Consumer, ConsumerConfig};
use gregor_mock::MockCluster;

const WAIT: Duration = Duration::from_secs(60);
const COORDINATOR_LOAD_IN_PROGRESS: i16 = 14;
const OFFSET_COMMIT: i16 = 8;
const OFFSET_FETCH: i16 = 9;
const JOIN_GROUP: i16 = 11;
const HEARTBEAT: i16 = 12;
const SYNC_GROUP: i16 = 14;
const CONSUMER_GROUP_HEARTBEAT: i16 = 68;

/// Sockets ever opened by one group member reading 6 records of a topic led by 3 brokers, the
/// coordinator on broker 2, group requests on their own socket; with `inject`, the group
/// APIs answer COORDINATOR_LOAD_IN_PROGRESS first.
async fn sockets_opened(protocol: &str, inject: bool) -> usize {
    let cluster = MockCluster::builder().brokers(3).topic("orders", 6).start().await.unwrap();
    for p in 0..6 {
        cluster.append_records("orders", p, &[("k", format!("v{p}"))]).unwrap();
    }
    let group = format!("load-{protocol}-{inject}");
    cluster.set_coordinator(&group, 2);
    if inject {
        let apis: &[i16] = if protocol == "classic" {
            &[JOIN_GROUP, SYNC_GROUP, HEARTBEAT, OFFSET_FETCH, OFFSET_COMMIT]
        } else {
            &[CONSUMER_GROUP_HEARTBEAT, OFFSET_FETCH, OFFSET_COMMIT]
        };
        for api in apis {
            cluster.inject_errors(*api, COORDINATOR_LOAD_IN_PROGRESS, 2);
        }
    }
    let boot = cluster.broker_addr(0).unwrap();
    let mut config = ConsumerConfig::builder()
        .bootstrap_servers(format!("127.0.0.1:{}", boot.port()))
        .group_id(group)
        .set("group.protocol", protocol)
        .set("coordinator.connection", "dedicated")
        .set("auto.offset.reset", "earliest")
        .set("connections.max.idle.ms", "-1");
    if protocol == "classic" {
        // Heartbeats soon enough to meet their injected errors (KIP-848: the broker decides).
        config = config.set("heartbeat.interval.ms", "200");
    }
    let config = config.build().unwrap();
    let consumer = Consumer::new(config).unwrap();
    consumer.subscribe(["orders"]).unwrap();
    let mut got = 0;
    let deadline = tokio::time::Instant::now() + WAIT;
    while got < 6 {
        assert!(tokio::time::Instant::now() < deadline, "{protocol}: only {got} of 6 records arrived");
        got += consumer.poll(Duration::from_millis(200)).await.expect("no error reaches the application").len();
    }
    // Both commits meet the injected errors of OffsetCommit; they are retried, not failed.
    consumer.commit_sync().await.expect("commit_sync retries COORDINATOR_LOAD_IN_PROGRESS");
    consumer.commit_sync().await.expect("commit_sync retries COORDINATOR_LOAD_IN_PROGRESS");
    let committed = consumer.committed(&consumer.assignment()).await.unwrap();
    assert_eq!(committed.values().map(|o| o.offset).sum::<i64>(), 6, "every partition committed at 1");
    let n = cluster.connections().len();
    consumer.close(Duration::from_secs(5)).await;
    cluster.shutdown().await;
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn classic_coordinator_load_in_progress_keeps_the_coordinator_socket() {
    common::init_tracing("warn");
    let clean = sockets_opened("classic", false).await;
    let loaded = sockets_opened("classic", true).await;
    assert_eq!(clean, 4, "L + 1 sockets without errors");
    assert_eq!(loaded, clean, "COORDINATOR_LOAD_IN_PROGRESS: {loaded} sockets opened, {clean} without it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kip848_coordinator_load_in_progress_keeps_the_coordinator_socket() {
    common::init_tracing("warn");
    let clean = sockets_opened("consumer", false).await;
    let loaded = sockets_opened("consumer", true).await;
    assert_eq!(clean, 4, "L + 1 sockets without errors");
    assert_eq!(loaded, clean, "COORDINATOR_LOAD_IN_PROGRESS: {loaded} sockets opened, {clean} without it");
}
