//! Transaction version 2 (KIP-890 part 2) against the embedded mock, side by side with version
//! 1: which requests the producer sends under each (from the mock's request accounting), the
//! epoch bump of every EndTxn v5 and its adoption (a new producer id once the epoch is
//! exhausted), offsets committed without AddOffsetsToTxn, and fencing of a zombie instance.

mod common;

use std::time::Duration;

use gregor::{ConsumerGroupMetadata, ErrorKind, OffsetAndMetadata, Producer, ProducerRecord, TopicPartition};
use gregor_mock::{MockCluster, TransactionState};

const WAIT: Duration = Duration::from_secs(30);
// API keys as the mock records them.
const PRODUCE: i16 = 0;
const ADD_PARTITIONS_TO_TXN: i16 = 24;
const ADD_OFFSETS_TO_TXN: i16 = 25;
const END_TXN: i16 = 26;
const TXN_OFFSET_COMMIT: i16 = 28;

async fn mock(transaction_version: i16) -> MockCluster {
    common::init_tracing("error");
    MockCluster::builder().brokers(3).topic("t", 2).topic("in", 1).transaction_version(transaction_version).start().await.unwrap()
}

fn producer(mock: &MockCluster, txn_id: &str) -> Producer {
    common::transactional_producer(&mock.bootstrap_servers(), txn_id, Duration::from_secs(20))
}

/// (count, highest version) of the requests with `api_key` the mock received.
fn sent(mock: &MockCluster, api_key: i16) -> (usize, Option<i16>) {
    let reqs: Vec<_> = mock.connections().into_iter().flat_map(|c| c.requests).filter(|r| r.api_key == api_key).collect();
    (reqs.len(), reqs.iter().map(|r| r.api_version).max())
}

/// The values of `topic` a `read_committed` consumer reads, sorted.
async fn read_committed(mock: &MockCluster, topic: &str, partitions: i32) -> Vec<String> {
    common::read_values(&mock.bootstrap_servers(), topic, partitions, "read_committed", WAIT).await
}

async fn send_to_both_partitions(p: &Producer, value: &str) {
    for partition in 0..2 {
        let d = p.send(ProducerRecord::new("t").partition(partition).value(value.to_string())).await.expect("send");
        tokio::time::timeout(WAIT, d).await.expect("delivered in time").expect("delivered");
    }
}

/// One committed transaction with records and offsets, one aborted one, one committed one.
async fn three_transactions(mock: &MockCluster, p: &Producer) {
    let group = ConsumerGroupMetadata::new("g");
    let tp = TopicPartition::new("in", 0);
    p.init_transactions().await.unwrap();
    p.begin_transaction().unwrap();
    send_to_both_partitions(p, "c1").await;
    p.send_offsets_to_transaction([(tp.clone(), OffsetAndMetadata::new(7))], &group).await.unwrap();
    p.commit_transaction().await.unwrap();
    assert_eq!(mock.committed_offset("g", "in", 0), Some(7), "offsets committed with the transaction");

    p.begin_transaction().unwrap();
    send_to_both_partitions(p, "a1").await;
    p.send_offsets_to_transaction([(tp.clone(), OffsetAndMetadata::new(9))], &group).await.unwrap();
    p.abort_transaction().await.unwrap();
    assert_eq!(mock.committed_offset("g", "in", 0), Some(7), "aborted offsets are not committed");

    p.begin_transaction().unwrap();
    send_to_both_partitions(p, "c2").await;
    p.commit_transaction().await.unwrap();
    let values = read_committed(mock, "t", 2).await;
    assert_eq!(values, ["c1", "c1", "c2", "c2"], "read_committed sees the committed transactions only");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_2_adds_partitions_and_offsets_implicitly_and_bumps_the_epoch_at_every_end() {
    let mock = mock(2).await;
    let p = producer(&mock, "tx-v2");
    three_transactions(&mock, &p).await;
    assert_eq!(sent(&mock, ADD_PARTITIONS_TO_TXN).0, 0, "Produce v12 adds the partitions");
    assert_eq!(sent(&mock, ADD_OFFSETS_TO_TXN).0, 0, "TxnOffsetCommit v5 adds the group");
    assert_eq!(sent(&mock, PRODUCE).1, Some(12));
    assert_eq!(sent(&mock, END_TXN), (3, Some(5)));
    assert_eq!(sent(&mock, TXN_OFFSET_COMMIT), (2, Some(5)));
    let snap = mock.transaction("tx-v2").unwrap();
    assert_eq!((snap.epoch, snap.state), (3, TransactionState::CompleteCommit), "one bump per EndTxn, adopted each time");
    p.close(WAIT).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_1_is_kept_for_a_cluster_without_the_feature() {
    for level in [0, 1] {
        let mock = mock(level).await;
        let p = producer(&mock, "tx-v1");
        three_transactions(&mock, &p).await;
        assert!(sent(&mock, ADD_PARTITIONS_TO_TXN).0 >= 3, "level {level}: one per transaction at least");
        assert_eq!(sent(&mock, ADD_OFFSETS_TO_TXN).0, 2, "level {level}");
        assert_eq!(sent(&mock, PRODUCE).1, Some(11), "level {level}: below the version that means version 2");
        assert_eq!(sent(&mock, END_TXN), (3, Some(4)), "level {level}");
        assert_eq!(sent(&mock, TXN_OFFSET_COMMIT), (2, Some(4)), "level {level}");
        assert_eq!(mock.transaction("tx-v1").unwrap().epoch, 0, "level {level}: no bump without an error");
        p.close(WAIT).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_2_adopts_the_new_producer_id_when_the_epoch_is_exhausted() {
    let mock = mock(2).await;
    let first = producer(&mock, "tx-x");
    first.init_transactions().await.unwrap();
    let old_id = mock.transaction("tx-x").unwrap().producer_id;
    first.close(WAIT).await.unwrap();
    // The next InitProducerId gives MAX - 2, the first EndTxn MAX - 1 (exhausted), the second a
    // new producer id with epoch 0.
    assert!(mock.set_transaction_epoch("tx-x", i16::MAX - 3));
    let p = producer(&mock, "tx-x");
    p.init_transactions().await.unwrap();
    for (i, value) in ["e1", "e2", "e3"].iter().enumerate() {
        p.begin_transaction().unwrap();
        send_to_both_partitions(&p, value).await;
        p.commit_transaction().await.unwrap_or_else(|e| panic!("transaction {i}: {e}"));
    }
    let snap = mock.transaction("tx-x").unwrap();
    assert_ne!(snap.producer_id, old_id, "a new producer id after the overflow");
    assert_eq!(snap.epoch, 1, "then bumped once more by the third EndTxn");
    assert_eq!(read_committed(&mock, "t", 2).await, ["e1", "e1", "e2", "e2", "e3", "e3"]);
    p.close(WAIT).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_2_still_fences_a_zombie_instance() {
    let mock = mock(2).await;
    let zombie = producer(&mock, "tx-z");
    zombie.init_transactions().await.unwrap();
    zombie.begin_transaction().unwrap();
    send_to_both_partitions(&zombie, "z1").await;

    let fresh = producer(&mock, "tx-z");
    fresh.init_transactions().await.unwrap();
    assert_eq!(mock.transaction("tx-z").unwrap().state, TransactionState::Empty, "the zombie's transaction was aborted");

    // The zombie's next record is refused by the implicit add (PRODUCER_FENCED): fatal.
    let d = zombie.send(ProducerRecord::new("t").partition(0).value("z2")).await.unwrap();
    let e = tokio::time::timeout(WAIT, d).await.expect("the outcome is reported").unwrap_err();
    assert_eq!(e.code(), Some(gregor::protocol_errors::KafkaCode::PRODUCER_FENCED.0), "{e}");
    let e = zombie.commit_transaction().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Fenced, "{e}");

    fresh.begin_transaction().unwrap();
    send_to_both_partitions(&fresh, "f1").await;
    fresh.commit_transaction().await.unwrap();
    assert_eq!(read_committed(&mock, "t", 2).await, ["f1", "f1"]);
    fresh.close(WAIT).await.unwrap();
    let _ = zombie.close(Duration::from_secs(1)).await;
}
