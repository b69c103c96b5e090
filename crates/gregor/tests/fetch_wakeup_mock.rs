//! A record produced while the consumer's Fetches are parked at the brokers reaches `poll`
//! without waiting out `fetch.max.wait.ms`.
//!
//! A Kafka broker parks a Fetch that has less than `fetch.min.bytes` to return
//! (`DelayedFetch`) and completes it as soon as a produce gives it enough; gregor-mock does the
//! same. End-to-end latency at a low rate therefore depends on the consumer always having a
//! Fetch parked that covers every partition it may be asked about: a partition left out of the
//! Fetch in flight to its broker (for instance because some of its records were still
//! buffered when that Fetch was planned) waits until that Fetch comes back, i.e. up to
//! `fetch.max.wait.ms`. These tests set `fetch.max.wait.ms` far above the `poll` timeout, so a
//! record that waits out a parked Fetch makes `poll` return empty and the test fail: no timing
//! threshold, only "the record came back from this poll or it did not".

mod common;

use std::time::Duration;

use gregor::{Consumer, ConsumerConfig, TopicPartition};
use gregor_mock::MockCluster;

/// Far longer than any `poll` below waits.
const PARKED_FETCH_MS: &str = "120000";
const POLL: Duration = Duration::from_secs(30);

async fn parked_consumer(cluster: &MockCluster, extra: &[(&str, &str)]) -> Consumer {
    let mut b = ConsumerConfig::builder()
        .bootstrap_servers(cluster.bootstrap_servers())
        .set("auto.offset.reset", "earliest")
        .set("fetch.max.wait.ms", PARKED_FETCH_MS)
        .set("request.timeout.ms", "180000");
    for (k, v) in extra {
        b = b.set(k, *v);
    }
    let consumer = Consumer::new(b.build().unwrap()).unwrap();
    let parts: Vec<TopicPartition> = consumer.partitions_for("t").await.unwrap();
    assert_eq!(parts.len(), 12);
    consumer.assign(parts).unwrap();
    // Nothing to read yet: the Fetches park (or are about to).
    assert!(consumer.poll(Duration::from_millis(200)).await.unwrap().is_empty());
    consumer
}

/// Polls until `want` records came back; every `poll` must return something.
async fn poll_exactly(consumer: &Consumer, want: &[String], step: &str) {
    let mut got = Vec::new();
    while got.len() < want.len() {
        let recs = consumer.poll(POLL).await.unwrap();
        assert!(
            !recs.is_empty(),
            "{step}: poll waited {POLL:?} with {} of {} records still missing (a record waited for a parked Fetch)",
            want.len() - got.len(),
            want.len()
        );
        got.extend(recs.iter().map(|r| r.value_str().unwrap().to_string()));
    }
    let (mut a, mut b) = (got, want.to_vec());
    a.sort();
    b.sort();
    assert_eq!(a, b, "{step}");
}

/// One record at a time, round-robin over 12 partitions on 3 brokers: each one is returned by
/// the next `poll` (the Fetch parked at its leader completes on the produce).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_record_at_a_time_never_waits_for_a_parked_fetch() {
    common::init_tracing("warn");
    let cluster = MockCluster::builder().brokers(3).topic("t", 12).start().await.unwrap();
    let consumer = parked_consumer(&cluster, &[]).await;
    for i in 0..36 {
        let p = i % 12;
        let v = format!("r{i}");
        cluster.append_records("t", p, &[("k".to_string(), v.clone())]).unwrap();
        poll_exactly(&consumer, &[v], &format!("record {i} to partition {p}")).await;
    }
    consumer.close(Duration::from_secs(5)).await;
}

/// Records still buffered when the next Fetch is planned: with `max.poll.records=1` a burst
/// over several partitions is handed out one record per `poll`, so Fetches are planned while
/// those partitions hold unread records. The next record to each of them must still come back
/// on the next `poll`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_to_partitions_with_unread_records_never_wait_for_a_parked_fetch() {
    common::init_tracing("warn");
    let cluster = MockCluster::builder().brokers(3).topic("t", 12).start().await.unwrap();
    let consumer = parked_consumer(&cluster, &[("max.poll.records", "1")]).await;
    for round in 0..4 {
        // A burst: two records to each of 12 partitions, handed out one per poll.
        let mut burst = Vec::new();
        for p in 0..12 {
            let recs: Vec<(String, String)> = (0..2).map(|j| ("k".to_string(), format!("b{round}-p{p}-{j}"))).collect();
            burst.extend(recs.iter().map(|(_, v)| v.clone()));
            cluster.append_records("t", p, &recs).unwrap();
        }
        // Read half of it, then add one record to every partition while the rest is buffered.
        let mut got = Vec::new();
        while got.len() < 12 {
            let recs = consumer.poll(POLL).await.unwrap();
            assert!(!recs.is_empty(), "round {round}: burst record missing after {POLL:?}");
            got.extend(recs.iter().map(|r| r.value_str().unwrap().to_string()));
        }
        let mut rest: Vec<String> = burst.into_iter().filter(|v| !got.contains(v)).collect();
        for p in 0..12 {
            let v = format!("late{round}-p{p}");
            cluster.append_records("t", p, &[("k".to_string(), v.clone())]).unwrap();
            rest.push(v);
        }
        poll_exactly(&consumer, &rest, &format!("round {round}")).await;
    }
    consumer.close(Duration::from_secs(5)).await;
}
