//! Issue #17's commit API against the mock cluster: `commit_async` / `commit_offsets_async`
//! with a handle for the outcome, the store-offsets mode (`enable.auto.offset.store=false`, the
//! at-least-once pattern), and `current_lag` per partition.

use std::collections::BTreeMap;
use std::time::Duration;

use gregor::protocol_errors::KafkaCode;
use gregor::{Consumer, ConsumerConfig, ConsumerRecord, ErrorKind, OffsetAndMetadata, TopicPartition};
use gregor_mock::MockCluster;
use tokio::time::Instant;

const OFFSET_COMMIT: i16 = 8; // the mock's API key of OffsetCommit
const WAIT: Duration = Duration::from_secs(30);

fn records(n: usize) -> Vec<(String, String)> {
    (0..n).map(|i| (format!("k{i}"), format!("v{i}"))).collect()
}

fn config(cluster: &MockCluster, group: &str, extra: &[(&str, &str)]) -> ConsumerConfig {
    let mut b = ConsumerConfig::builder()
        .bootstrap_servers(cluster.bootstrap_servers())
        .group_id(group)
        .set("auto.offset.reset", "earliest")
        .set("heartbeat.interval.ms", "100")
        .set("session.timeout.ms", "6000");
    for (k, v) in extra {
        b = b.set(*k, *v);
    }
    b.build().unwrap()
}

/// Polls until `n` records of `tp` have come.
async fn poll_n(consumer: &Consumer, tp: &TopicPartition, n: usize) -> Vec<ConsumerRecord> {
    let deadline = Instant::now() + WAIT;
    let mut got = Vec::new();
    while got.len() < n {
        assert!(Instant::now() < deadline, "only {} of {n} records", got.len());
        got.extend(consumer.poll(Duration::from_millis(100)).await.unwrap().into_iter().filter(|r| r.topic_partition() == *tp));
    }
    got
}

async fn committed(consumer: &Consumer, tp: &TopicPartition) -> Option<i64> {
    consumer.committed(&[tp.clone()]).await.unwrap().get(tp).map(|om| om.offset)
}

fn offsets(tp: &TopicPartition, offset: i64) -> BTreeMap<TopicPartition, OffsetAndMetadata> {
    BTreeMap::from([(tp.clone(), OffsetAndMetadata::new(offset))])
}

/// What was stored is what commit_sync, commit_async and close commit — never the position poll
/// reached — and a restarted member reads again from there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_offsets_are_what_the_consumer_commits() {
    let cluster = MockCluster::builder().brokers(1).topic("s", 1).start().await.unwrap();
    cluster.append_records("s", 0, &records(10)).unwrap();
    let p0 = TopicPartition::new("s", 0);
    // Auto-commit on, with an interval longer than the test: commits come from the calls below.
    let cfg = config(&cluster, "st", &[("enable.auto.offset.store", "false"), ("auto.commit.interval.ms", "600000")]);
    let consumer = Consumer::new(cfg.clone()).unwrap();
    consumer.subscribe(["s"]).unwrap();
    let got = poll_n(&consumer, &p0, 10).await;
    assert_eq!(consumer.position(&p0).await.unwrap(), 10);

    // Nothing stored yet: nothing to commit.
    consumer.commit_sync().await.unwrap();
    assert_eq!(committed(&consumer, &p0).await, None);

    consumer.store_offset(&got[3]).unwrap(); // records 0..=3 processed
    consumer.commit_sync().await.unwrap();
    assert_eq!(committed(&consumer, &p0).await, Some(4));

    consumer.store_offset(&got[5]).unwrap();
    let done = consumer.commit_async().await.unwrap();
    assert_eq!(done, offsets(&p0, 6), "commit_async commits the stored offset");
    assert_eq!(committed(&consumer, &p0).await, Some(6));

    consumer.store_offset(&got[6]).unwrap();
    consumer.close(Duration::from_secs(10)).await; // auto-commit's close commit: the stored 7
    let next = Consumer::new(cfg).unwrap();
    next.subscribe(["s"]).unwrap();
    let again = poll_n(&next, &p0, 3).await;
    assert_eq!(again[0].offset, 7, "the records after the last stored offset are read again");
    next.close(Duration::from_secs(10)).await;
}

/// A bad store changes nothing; the mode must be on; offsets must be valid.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_offsets_is_all_or_nothing() {
    let cluster = MockCluster::builder().brokers(1).topic("a", 2).start().await.unwrap();
    cluster.append_records("a", 0, &records(5)).unwrap();
    let (p0, p1) = (TopicPartition::new("a", 0), TopicPartition::new("a", 1));
    let consumer = Consumer::new(config(&cluster, "aon", &[("enable.auto.offset.store", "false")])).unwrap();
    consumer.assign([p0.clone()]).unwrap();
    poll_n(&consumer, &p0, 5).await;

    let mut both = offsets(&p0, 3);
    both.insert(p1.clone(), OffsetAndMetadata::new(1));
    let e = consumer.store_offsets(&both).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::State);
    assert!(e.to_string().contains("a-1") && e.to_string().contains("not assigned"), "{e}");
    let e = consumer.store_offsets(&offsets(&p0, -1)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::State, "{e}");
    consumer.commit_sync().await.unwrap();
    assert_eq!(committed(&consumer, &p0).await, None, "the failed stores stored nothing");

    consumer.store_offsets(&offsets(&p0, 2)).unwrap();
    consumer.commit_sync().await.unwrap();
    assert_eq!(committed(&consumer, &p0).await, Some(2));
    consumer.close(Duration::from_secs(10)).await;

    // With the default (enable.auto.offset.store=true) the consumer stores positions itself.
    let auto = Consumer::new(config(&cluster, "aon2", &[])).unwrap();
    auto.assign([p0.clone()]).unwrap();
    let e = auto.store_offsets(&offsets(&p0, 1)).unwrap_err();
    assert!(e.to_string().contains("enable.auto.offset.store=false"), "{e}");
    auto.close(Duration::from_secs(10)).await;
}

/// The commit before a rebalance (auto-commit on) commits the stored offsets of the revoked
/// partitions, not their positions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_commits_the_stored_offsets() {
    let cluster = MockCluster::builder().brokers(1).topic("r", 2).start().await.unwrap();
    cluster.append_records("r", 0, &records(10)).unwrap();
    cluster.append_records("r", 1, &records(10)).unwrap();
    let (p0, p1) = (TopicPartition::new("r", 0), TopicPartition::new("r", 1));
    let extra = [
        ("enable.auto.offset.store", "false"),
        ("auto.commit.interval.ms", "600000"),
        ("partition.assignment.strategy", "range"),
    ];
    let a = Consumer::new(config(&cluster, "rev", &extra)).unwrap();
    a.subscribe(["r"]).unwrap();
    let (mut got0, mut got1) = (Vec::new(), Vec::new());
    let deadline = Instant::now() + WAIT;
    while got0.len() < 10 || got1.len() < 10 {
        assert!(Instant::now() < deadline, "only {} and {} records", got0.len(), got1.len());
        for r in a.poll(Duration::from_millis(100)).await.unwrap() {
            if r.partition == 0 { got0.push(r) } else { got1.push(r) }
        }
    }
    a.store_offset(&got0[3]).unwrap();
    a.store_offset(&got1[1]).unwrap();
    let b = Consumer::new(config(&cluster, "rev", &extra)).unwrap();
    b.subscribe(["r"]).unwrap();
    let deadline = Instant::now() + WAIT;
    while b.assignment().is_empty() || a.assignment().len() != 1 {
        assert!(Instant::now() < deadline, "no rebalance");
        let (ra, rb) = tokio::join!(a.poll(Duration::from_millis(50)), b.poll(Duration::from_millis(50)));
        ra.unwrap();
        rb.unwrap();
    }
    // Eager (range): A revoked both partitions and committed what it had stored.
    assert_eq!(committed(&a, &p0).await, Some(4));
    assert_eq!(committed(&a, &p1).await, Some(2));
    a.close(Duration::from_secs(10)).await;
    b.close(Duration::from_secs(10)).await;
}

/// commit_offsets_async's handle gives the committed offsets or the broker's error; a dropped
/// handle does not cancel the commit; without group.id the handle holds the error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_async_handles_report_the_outcome() {
    let cluster = MockCluster::builder().brokers(1).topic("c", 1).start().await.unwrap();
    cluster.append_records("c", 0, &records(8)).unwrap();
    let p0 = TopicPartition::new("c", 0);
    let consumer = Consumer::new(config(&cluster, "ca", &[("enable.auto.commit", "false")])).unwrap();
    consumer.assign([p0.clone()]).unwrap();
    poll_n(&consumer, &p0, 8).await;

    let handle = consumer.commit_offsets_async(offsets(&p0, 3));
    assert_eq!(handle.offsets(), &offsets(&p0, 3));
    assert_eq!(handle.await.unwrap(), offsets(&p0, 3));
    assert_eq!(committed(&consumer, &p0).await, Some(3));

    // The positions, as Java's commitAsync().
    assert_eq!(consumer.commit_async().await.unwrap(), offsets(&p0, 8));
    assert_eq!(committed(&consumer, &p0).await, Some(8));

    cluster.inject_errors(OFFSET_COMMIT, KafkaCode::OFFSET_METADATA_TOO_LARGE.0, 1);
    let e = consumer.commit_offsets_async(offsets(&p0, 5)).await.unwrap_err();
    assert_eq!(e.code(), Some(KafkaCode::OFFSET_METADATA_TOO_LARGE.0), "{e}");
    assert_eq!(committed(&consumer, &p0).await, Some(8), "the failed commit changed nothing");

    drop(consumer.commit_offsets_async(offsets(&p0, 6)));
    let deadline = Instant::now() + WAIT;
    while committed(&consumer, &p0).await != Some(6) {
        assert!(Instant::now() < deadline, "the dropped handle's commit never happened");
    }
    consumer.close(Duration::from_secs(10)).await;

    let no_group = Consumer::from_properties([("bootstrap.servers", cluster.bootstrap_servers().as_str())]).unwrap();
    no_group.assign([p0.clone()]).unwrap();
    let e = no_group.commit_offsets_async(offsets(&p0, 1)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::State, "{e}");
    no_group.close(Duration::from_secs(5)).await;
    let e = no_group.commit_async().await.unwrap_err();
    assert!(e.is_closed(), "{e}");
}

/// Java's currentLag: unknown before a fetch response, then high watermark − position; an
/// error for a partition not assigned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn current_lag_per_partition() {
    let cluster = MockCluster::builder().brokers(1).topic("l", 2).start().await.unwrap();
    cluster.append_records("l", 0, &records(10)).unwrap();
    cluster.append_records("l", 1, &records(3)).unwrap();
    let (p0, p1) = (TopicPartition::new("l", 0), TopicPartition::new("l", 1));
    let consumer = Consumer::from_properties([
        ("bootstrap.servers", cluster.bootstrap_servers().as_str()),
        ("auto.offset.reset", "earliest"),
        ("max.poll.records", "4"),
    ])
    .unwrap();
    consumer.assign([p0.clone(), p1.clone()]).unwrap();
    assert_eq!(consumer.current_lag(&p0).unwrap(), None, "no fetch response yet");
    let mut n0 = 0;
    let deadline = Instant::now() + WAIT;
    while n0 < 4 || consumer.current_lag(&p1).unwrap().is_none() {
        assert!(Instant::now() < deadline, "no records");
        n0 += consumer.poll(Duration::from_millis(100)).await.unwrap().iter().filter(|r| r.partition == 0).count() as i64;
    }
    assert_eq!(consumer.position(&p0).await.unwrap(), n0);
    assert_eq!(consumer.current_lag(&p0).unwrap(), Some(10 - n0));
    let lag1 = consumer.current_lag(&p1).unwrap().unwrap();
    assert_eq!(lag1, 3 - consumer.position(&p1).await.unwrap());
    assert_eq!(consumer.lag(), Some(10 - n0 + lag1), "lag() is the sum");
    let e = consumer.current_lag(&TopicPartition::new("l", 7)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::State);
    consumer.close(Duration::from_secs(5)).await;
}
