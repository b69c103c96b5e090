//! The idempotent producer (on by default) against the embedded mock, which keeps Kafka's
//! per-partition producer state: sequence numbers without gaps, duplicates of retried batches
//! dropped by the broker, epoch bumps after OUT_OF_ORDER_SEQUENCE_NUMBER and UNKNOWN_PRODUCER_ID
//! (KIP-360), up to 5 batches in flight per partition with order kept across a cut
//! connection and a leader change, and every record's outcome reported.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use gregor::{Consumer, ErrorKind, Producer, ProducerConfig, ProducerRecord, TopicPartition};
use gregor_mock::{Malformed, MockCluster};

const PRODUCE: i16 = 0;
const INIT_PRODUCER_ID: i16 = 22;
const OUT_OF_ORDER_SEQUENCE_NUMBER: i16 = 45;
const UNKNOWN_PRODUCER_ID: i16 = 59;
const WAIT: Duration = Duration::from_secs(30);

fn config(mock: &MockCluster, extra: &[(&str, &str)]) -> ProducerConfig {
    common::init_tracing("error");
    let mut kv = vec![("bootstrap.servers", mock.bootstrap_servers()), ("client.id", "idem-test".to_string())];
    kv.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    ProducerConfig::from_map(kv).unwrap()
}

/// (producer id, epoch, base sequence, record count) of a stored batch.
fn producer_fields(b: &Bytes) -> (i64, i16, i32, i32) {
    let i64_at = |at: usize| i64::from_be_bytes(b[at..at + 8].try_into().unwrap());
    let i32_at = |at: usize| i32::from_be_bytes(b[at..at + 4].try_into().unwrap());
    (i64_at(43), i16::from_be_bytes([b[51], b[52]]), i32_at(53), i32_at(57))
}

/// Sends records `range` to every partition (values `p<partition>-<i>`), keeps every delivery future,
/// and returns each record's outcome.
async fn send_numbered(p: &Producer, topic: &str, partitions: i32, range: std::ops::Range<usize>) -> Vec<gregor::Result<gregor::RecordMetadata>> {
    let mut futures = Vec::new();
    for i in range {
        for part in 0..partitions {
            let r = ProducerRecord::new(topic).partition(part).value(format!("p{part}-{i}"));
            futures.push(p.send(r).await.expect("send"));
        }
    }
    let mut out = Vec::new();
    for f in futures {
        out.push(tokio::time::timeout(WAIT, f).await.expect("every record's outcome is reported"));
    }
    out
}

/// Reads every record of the topic back (read_uncommitted) as partition → values in offset order.
async fn read_back(mock: &MockCluster, topic: &str, partitions: i32) -> BTreeMap<i32, Vec<String>> {
    let c = Consumer::from_properties([("bootstrap.servers", mock.bootstrap_servers().as_str())]).unwrap();
    let tps: Vec<TopicPartition> = (0..partitions).map(|p| TopicPartition::new(topic, p)).collect();
    c.assign(tps.clone()).unwrap();
    c.seek_to_beginning(&[]).unwrap();
    let mut out: BTreeMap<i32, Vec<String>> = BTreeMap::new();
    for r in common::read_to_end(&c, &tps, WAIT).await {
        out.entry(r.partition).or_default().push(r.value_str().unwrap_or_default().to_string());
    }
    c.close(WAIT).await;
    out
}

/// Every partition holds exactly `p<part>-0 .. p<part>-<n-1>`, in order: no duplicate, no gap.
fn assert_exactly_once_in_order(back: &BTreeMap<i32, Vec<String>>, partitions: i32, n: usize) {
    for part in 0..partitions {
        let want: Vec<String> = (0..n).map(|i| format!("p{part}-{i}")).collect();
        let got = back.get(&part).cloned().unwrap_or_default();
        if got != want {
            let dups = got.len() as i64 - want.len() as i64;
            let first_diff = got.iter().zip(&want).position(|(a, b)| a != b);
            panic!("partition {part}: {} records (want {n}, {dups:+}), first difference at {first_diff:?}", got.len());
        }
    }
}

#[tokio::test]
async fn idempotent_by_default_batches_carry_one_producer_id_and_gapless_sequences() {
    let mock = MockCluster::builder().brokers(3).topic("t", 3).start().await.unwrap();
    let p = Producer::new(config(&mock, &[("batch.size", "500"), ("linger.ms", "2")])).unwrap();
    let outcomes = send_numbered(&p, "t", 3, 0..500).await;
    assert!(outcomes.iter().all(|o| o.is_ok()));
    p.close(WAIT).await.unwrap();
    let mut ids = std::collections::BTreeSet::new();
    for part in 0..3 {
        let mut next = 0;
        let batches = mock.batches("t", part);
        assert!(batches.len() > 5, "several batches per partition");
        for b in batches {
            let (id, epoch, base, count) = producer_fields(&b);
            ids.insert((id, epoch));
            assert_eq!(base, next, "partition {part}: sequences continue without a gap");
            next += count;
        }
        assert_eq!(next, 500);
    }
    assert_eq!(ids.len(), 1, "one producer id and epoch: {ids:?}");
    assert!(ids.iter().all(|(id, e)| *id >= 0 && *e == 0));
    let inits: usize = mock.connections().iter().map(|c| c.count(INIT_PRODUCER_ID)).sum();
    assert_eq!(inits, 1, "one InitProducerId");
}

#[tokio::test]
async fn acks_1_turns_the_default_idempotence_off() {
    let mock = MockCluster::builder().brokers(1).topic("t", 1).start().await.unwrap();
    let p = Producer::new(config(&mock, &[("acks", "1")])).unwrap();
    assert!(send_numbered(&p, "t", 1, 0..10).await.iter().all(|o| o.is_ok()));
    p.close(WAIT).await.unwrap();
    assert!(mock.batches("t", 0).iter().all(|b| producer_fields(b).0 == -1));
    let inits: usize = mock.connections().iter().map(|c| c.count(INIT_PRODUCER_ID)).sum();
    assert_eq!(inits, 0);
}

#[tokio::test]
async fn a_lost_response_is_retried_and_the_broker_drops_the_duplicate() {
    let mock = MockCluster::builder().brokers(1).topic("t", 2).start().await.unwrap();
    let p = Producer::new(config(&mock, &[("linger.ms", "5")])).unwrap();
    assert!(send_numbered(&p, "t", 2, 0..50).await.iter().all(|o| o.is_ok()));
    // The next Produce is written, then the connection breaks before the answer arrives.
    mock.inject_malformed(None, Some(PRODUCE), Malformed::TruncatedThenHangUp);
    let outcomes = send_numbered(&p, "t", 2, 50..100).await;
    let offsets: Vec<i64> = outcomes.iter().map(|o| o.as_ref().expect("delivered").offset).collect();
    p.close(WAIT).await.unwrap();
    assert_eq!(mock.high_watermark("t", 0), Some(100), "written once");
    assert_eq!(mock.high_watermark("t", 1), Some(100));
    // The retried batch got its original offsets back.
    let mut p0: Vec<i64> = offsets.iter().step_by(2).copied().collect();
    p0.dedup();
    assert_eq!(p0, (50..100).collect::<Vec<_>>());
    let back = read_back(&mock, "t", 2).await;
    assert_exactly_once_in_order(&back, 2, 100);
}

#[tokio::test]
async fn out_of_order_sequence_bumps_the_epoch_and_nothing_is_lost() {
    let mock = MockCluster::builder().brokers(1).topic("t", 1).start().await.unwrap();
    let p = Producer::new(config(&mock, &[("linger.ms", "1")])).unwrap();
    assert!(send_numbered(&p, "t", 1, 0..20).await.iter().all(|o| o.is_ok()));
    mock.inject_errors(PRODUCE, OUT_OF_ORDER_SEQUENCE_NUMBER, 1);
    assert!(send_numbered(&p, "t", 1, 20..40).await.iter().all(|o| o.is_ok()), "retried after the bump");
    p.close(WAIT).await.unwrap();
    let epochs: Vec<i16> = mock.batches("t", 0).iter().map(|b| producer_fields(b).1).collect();
    assert_eq!(epochs.first(), Some(&0));
    assert_eq!(epochs.last(), Some(&1), "a new epoch after the gap: {epochs:?}");
    let first_of_epoch_1 = mock.batches("t", 0).into_iter().find(|b| producer_fields(b).1 == 1).unwrap();
    assert_eq!(producer_fields(&first_of_epoch_1).2, 0, "sequences restart at 0");
    assert_exactly_once_in_order(&read_back(&mock, "t", 1).await, 1, 40);
}

#[tokio::test]
async fn unknown_producer_id_bumps_the_epoch_and_retries() {
    let mock = MockCluster::builder().brokers(1).topic("t", 1).start().await.unwrap();
    let p = Producer::new(config(&mock, &[("linger.ms", "1")])).unwrap();
    assert!(send_numbered(&p, "t", 1, 0..10).await.iter().all(|o| o.is_ok()));
    mock.inject_errors(PRODUCE, UNKNOWN_PRODUCER_ID, 1);
    assert!(send_numbered(&p, "t", 1, 10..20).await.iter().all(|o| o.is_ok()));
    p.close(WAIT).await.unwrap();
    assert!(mock.batches("t", 0).iter().any(|b| producer_fields(b).1 == 1), "epoch bumped");
    assert_exactly_once_in_order(&read_back(&mock, "t", 1).await, 1, 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_batches_in_flight_keep_their_order_through_a_cut_connection_and_a_leader_move() {
    let mock = MockCluster::builder().brokers(3).topic("t", 1).start().await.unwrap();
    // Small batches and a slow broker: several Produce requests of the one partition are on
    // the wire at once when the connection is cut.
    let p = std::sync::Arc::new(Producer::new(config(&mock, &[("batch.size", "200"), ("linger.ms", "0")])).unwrap());
    let leader = mock.partition_leader("t", 0).unwrap();
    mock.set_latency(Some(leader), Some(PRODUCE), Duration::from_millis(30));
    let sender = {
        let p = p.clone();
        tokio::spawn(async move { send_numbered(&p, "t", 1, 0..3000).await })
    };
    // Wait until records are flowing, then cut the connection and move the leader.
    mock.wait_for(|m| m.high_watermark("t", 0).unwrap_or(0) > 300, WAIT).await.unwrap();
    mock.broker_down(leader).await;
    mock.move_leader("t", 0, (leader + 1) % 3);
    let outcomes = sender.await.unwrap();
    assert!(outcomes.iter().all(|o| o.is_ok()), "{:?}", outcomes.iter().find(|o| o.is_err()));
    mock.broker_up(leader).await.unwrap();
    p.close(WAIT).await.unwrap();
    let offsets: Vec<i64> = outcomes.iter().map(|o| o.as_ref().unwrap().offset).collect();
    assert!(offsets.windows(2).all(|w| w[1] > w[0]), "acknowledged in send order");
    assert_exactly_once_in_order(&read_back(&mock, "t", 1).await, 1, 3000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_move_with_batches_in_flight_reorders_nothing() {
    let mock = MockCluster::builder().brokers(2).topic("t", 1).start().await.unwrap();
    let p = std::sync::Arc::new(Producer::new(config(&mock, &[("batch.size", "100"), ("linger.ms", "0")])).unwrap());
    let leader = mock.partition_leader("t", 0).unwrap();
    mock.set_latency(Some(leader), Some(PRODUCE), Duration::from_millis(20));
    let sender = {
        let p = p.clone();
        tokio::spawn(async move { send_numbered(&p, "t", 1, 0..1000).await })
    };
    mock.wait_for(|m| m.high_watermark("t", 0).unwrap_or(0) > 100, WAIT).await.unwrap();
    // The old leader answers NOT_LEADER_OR_FOLLOWER to every batch still queued on it.
    mock.move_leader("t", 0, (leader + 1) % 2);
    assert!(sender.await.unwrap().iter().all(|o| o.is_ok()));
    p.close(WAIT).await.unwrap();
    assert_exactly_once_in_order(&read_back(&mock, "t", 1).await, 1, 1000);
}

#[tokio::test]
async fn every_record_fails_with_a_timeout_after_delivery_timeout_when_the_leader_never_returns() {
    let mock = MockCluster::builder().brokers(2).topic("t", 1).start().await.unwrap();
    let p = Producer::new(config(
        &mock,
        &[("linger.ms", "0"), ("request.timeout.ms", "500"), ("delivery.timeout.ms", "1500"), ("retry.backoff.max.ms", "100")],
    ))
    .unwrap();
    assert!(send_numbered(&p, "t", 1, 0..5).await.iter().all(|o| o.is_ok()));
    let leader = mock.partition_leader("t", 0).unwrap();
    mock.broker_down(leader).await;
    let outcomes = send_numbered(&p, "t", 1, 5..25).await;
    assert_eq!(outcomes.len(), 20);
    for o in &outcomes {
        let e = o.as_ref().expect_err("the leader is gone for good");
        assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    }
    let _ = p.close(Duration::from_secs(1)).await;
}
