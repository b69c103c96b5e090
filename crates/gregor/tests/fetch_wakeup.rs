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
//!
//! The same two scenarios run against a real cluster (`real_kafka_*`, `GREGOR_KAFKA_BOOTSTRAP`,
//! scripts/test.sh), where the broker's fetch sessions (KIP-227) decide which partitions a
//! parked incremental Fetch covers.

mod common;

use std::time::Duration;

use gregor::{Admin, Consumer, ConsumerConfig, NewTopic, Producer, ProducerRecord, TopicPartition};
use gregor_mock::MockCluster;

/// Where the records go: the embedded mock, or a real cluster through a producer.
enum Target {
    Mock(MockCluster),
    Real { bootstrap: String, topic: String, producer: Producer },
}

impl Target {
    fn bootstrap(&self) -> String {
        match self {
            Target::Mock(c) => c.bootstrap_servers(),
            Target::Real { bootstrap, .. } => bootstrap.clone(),
        }
    }

    fn topic(&self) -> &str {
        match self {
            Target::Mock(_) => "t",
            Target::Real { topic, .. } => topic,
        }
    }

    /// Appends `values` to `partition` (acknowledged before this returns).
    async fn append(&self, partition: i32, values: &[String]) {
        match self {
            Target::Mock(c) => {
                let recs: Vec<(String, String)> = values.iter().map(|v| ("k".to_string(), v.clone())).collect();
                c.append_records("t", partition, &recs).unwrap();
            }
            Target::Real { topic, producer, .. } => {
                let mut acks = Vec::new();
                for v in values {
                    let rec = ProducerRecord::new(topic.as_str()).partition(partition).key("k").value(v.clone());
                    acks.push(producer.send(rec).await.unwrap());
                }
                for a in acks {
                    a.await.unwrap();
                }
            }
        }
    }
}

async fn mock() -> Target {
    Target::Mock(MockCluster::builder().brokers(3).topic("t", 12).start().await.unwrap())
}

/// A fresh 12-partition topic on the real cluster, or None (skipped).
async fn real() -> Option<Target> {
    let bootstrap = common::kafka_bootstrap("scripts/test.sh")?;
    let topic = common::unique("gregor-fetch-wakeup");
    let admin = Admin::from_properties([("bootstrap.servers", bootstrap.as_str())]).unwrap();
    admin.create_topics(&[NewTopic::new(&topic, 12, 1)], false, Duration::from_secs(60)).await.unwrap();
    admin.close(Duration::from_secs(5)).await;
    let producer =
        Producer::from_properties([("bootstrap.servers", bootstrap.as_str()), ("linger.ms", "0")]).unwrap();
    Some(Target::Real { bootstrap, topic, producer })
}

/// Far longer than any `poll` below waits.
const PARKED_FETCH_MS: &str = "120000";
const POLL: Duration = Duration::from_secs(30);

async fn parked_consumer(target: &Target, extra: &[(&str, &str)]) -> Consumer {
    let mut b = ConsumerConfig::builder()
        .bootstrap_servers(target.bootstrap())
        .set("auto.offset.reset", "earliest")
        .set("fetch.max.wait.ms", PARKED_FETCH_MS)
        .set("request.timeout.ms", "180000");
    for (k, v) in extra {
        b = b.set(k, *v);
    }
    let consumer = Consumer::new(b.build().unwrap()).unwrap();
    let parts: Vec<TopicPartition> = consumer.partitions_for(target.topic()).await.unwrap();
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
async fn one_record_at_a_time(target: Target) {
    let consumer = parked_consumer(&target, &[]).await;
    for i in 0..36 {
        let p = i % 12;
        let v = format!("r{i}");
        target.append(p, std::slice::from_ref(&v)).await;
        poll_exactly(&consumer, &[v], &format!("record {i} to partition {p}")).await;
    }
    consumer.close(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_record_at_a_time_never_waits_for_a_parked_fetch() {
    common::init_tracing("warn");
    one_record_at_a_time(mock().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_kafka_one_record_at_a_time_never_waits_for_a_parked_fetch() {
    common::init_tracing("warn");
    if let Some(t) = real().await {
        one_record_at_a_time(t).await;
    }
}

/// Records still buffered when the next Fetch is planned: with `max.poll.records=1` a burst
/// over several partitions is handed out one record per `poll`, so Fetches are planned while
/// those partitions hold unread records. The next record to each of them must still come back
/// on the next `poll`.
async fn records_to_partitions_with_unread_records(target: Target) {
    let consumer = parked_consumer(&target, &[("max.poll.records", "1")]).await;
    for round in 0..4 {
        // A burst: two records to each of 12 partitions, handed out one per poll.
        let mut burst = Vec::new();
        for p in 0..12 {
            let recs: Vec<String> = (0..2).map(|j| format!("b{round}-p{p}-{j}")).collect();
            burst.extend(recs.iter().cloned());
            target.append(p, &recs).await;
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
            target.append(p, std::slice::from_ref(&v)).await;
            rest.push(v);
        }
        poll_exactly(&consumer, &rest, &format!("round {round}")).await;
    }
    consumer.close(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_to_partitions_with_unread_records_never_wait_for_a_parked_fetch() {
    common::init_tracing("warn");
    records_to_partitions_with_unread_records(mock().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_kafka_records_to_partitions_with_unread_records_never_wait_for_a_parked_fetch() {
    common::init_tracing("warn");
    if let Some(t) = real().await {
        records_to_partitions_with_unread_records(t).await;
    }
}
