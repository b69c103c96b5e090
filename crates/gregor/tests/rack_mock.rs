//! KIP-392 follower fetching against gregor-mock: with `client.rack` set, the leader redirects
//! the consumer (`preferred_read_replica`) to the in-sync follower in its rack, which then
//! serves every record; without it, the leader serves everything.

use std::collections::BTreeSet;
use std::time::Duration;

use gregor::{Consumer, ConsumerConfig, ConsumerRecord, TopicPartition};
use gregor_mock::MockCluster;

const WAIT: Duration = Duration::from_secs(60);
const FETCH: i16 = 1;
const PARTITIONS: i32 = 3;
const PER_PARTITION: usize = 40;

/// 3 brokers in racks r0..r2, topic "f" replicated on all, every partition led by broker 0.
async fn cluster() -> MockCluster {
    let cluster = MockCluster::builder()
        .brokers(3)
        .racks(&["r0", "r1", "r2"])
        .topic("f", PARTITIONS)
        .start()
        .await
        .unwrap();
    for p in 0..PARTITIONS {
        cluster.move_leader("f", p, 0);
        let mut replicas = cluster.partition_replicas("f", p).unwrap();
        replicas.sort();
        assert_eq!(
            replicas,
            vec![0, 1, 2],
            "racks replicate every partition on all brokers"
        );
        let recs: Vec<(String, String)> = (0..PER_PARTITION)
            .map(|i| (format!("k{i}"), format!("p{p}-{i}")))
            .collect();
        cluster.append_records("f", p, &recs).unwrap();
    }
    cluster
}

fn consumer(cluster: &MockCluster, rack: Option<&str>) -> Consumer {
    let mut b = ConsumerConfig::builder()
        .bootstrap_servers(cluster.bootstrap_servers())
        .set("auto.offset.reset", "earliest");
    if let Some(r) = rack {
        b = b.set("client.rack", r);
    }
    let c = Consumer::new(b.build().expect("valid config")).unwrap();
    c.assign((0..PARTITIONS).map(|p| TopicPartition::new("f", p)))
        .unwrap();
    c
}

/// Polls until every record arrived; fails on a duplicate or a timeout.
async fn read_all(c: &Consumer) -> Vec<ConsumerRecord> {
    let want = PARTITIONS as usize * PER_PARTITION;
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    while got.len() < want {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} of {want} records",
            got.len()
        );
        got.extend(c.poll(Duration::from_millis(200)).await.expect("poll"));
    }
    let seen: BTreeSet<(i32, i64)> = got.iter().map(|r| (r.partition, r.offset)).collect();
    assert_eq!(seen.len(), got.len(), "a record was delivered twice");
    assert_eq!(got.len(), want);
    got
}

fn fetches_to(cluster: &MockCluster, broker: i32) -> usize {
    cluster
        .connections()
        .iter()
        .filter(|c| c.broker_id == broker)
        .map(|c| c.count(FETCH))
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_in_rack_r2_fetches_from_the_follower_in_r2() {
    let cluster = cluster().await;
    let c = consumer(&cluster, Some("r2"));
    let got = read_all(&c).await;
    assert!(got.iter().all(|r| r
        .value_str()
        .is_some_and(|v| v.starts_with(&format!("p{}-", r.partition)))));
    // The leader (r0) only redirected: it returned no record bytes; the r2 follower served all.
    assert!(
        fetches_to(&cluster, 0) >= 1,
        "the first fetch goes to the leader"
    );
    assert!(fetches_to(&cluster, 2) >= 1, "fetches moved to broker 2");
    assert_eq!(fetches_to(&cluster, 1), 0, "broker 1 is in another rack");
    assert_eq!(cluster.fetched_bytes(0), 0, "the leader served records");
    assert_eq!(cluster.fetched_bytes(1), 0);
    assert!(cluster.fetched_bytes(2) > 0);
    c.close(Duration::from_secs(10)).await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_without_rack_fetches_from_the_leader() {
    let cluster = cluster().await;
    let c = consumer(&cluster, None);
    read_all(&c).await;
    assert!(fetches_to(&cluster, 0) >= 1);
    assert_eq!(fetches_to(&cluster, 1), 0);
    assert_eq!(fetches_to(&cluster, 2), 0);
    assert!(cluster.fetched_bytes(0) > 0);
    assert_eq!(cluster.fetched_bytes(2), 0);
    c.close(Duration::from_secs(10)).await;
    cluster.shutdown().await;
}
