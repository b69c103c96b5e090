//! The transactional producer against the embedded mock's transaction coordinator: commit and
//! abort as `read_committed` consumers see them (control batches, last stable offset, aborted
//! transactions), offsets committed in the transaction (KIP-447) and refused for a consumer
//! that is no longer in the group, a second instance fencing the first, retried and
//! rediscovered coordinator errors, and the `eos` example's consume-transform-produce loop
//! delivering every input exactly once across a crash.

#[path = "../examples/eos/pipeline.rs"]
#[allow(dead_code)]
mod pipeline;

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use gregor::{
    Consumer, ConsumerGroupMetadata, ErrorKind, OffsetAndMetadata, Producer, ProducerRecord,
    TopicPartition,
};
use gregor_mock::{MockCluster, TransactionState};

const WAIT: Duration = Duration::from_secs(30);
// API keys and error codes injected into the mock (the client names them through its table).
const END_TXN: i16 = 26;
const ADD_PARTITIONS_TO_TXN: i16 = 24;
const NOT_COORDINATOR: i16 = 16;
const COORDINATOR_LOAD_IN_PROGRESS: i16 = 14;
const CONCURRENT_TRANSACTIONS: i16 = 51;
const TOPIC_AUTHORIZATION_FAILED: i16 = 29;

async fn mock(topics: &[(&str, i32)]) -> MockCluster {
    common::init_tracing("error");
    let mut b = MockCluster::builder().brokers(3);
    for (t, n) in topics {
        b = b.topic(t, *n);
    }
    b.start().await.unwrap()
}

fn producer(mock: &MockCluster, txn_id: &str) -> Producer {
    common::transactional_producer(&mock.bootstrap_servers(), txn_id, Duration::from_secs(20))
}

async fn send_values(p: &Producer, topic: &str, values: &[&str]) {
    for (i, v) in values.iter().enumerate() {
        let r = ProducerRecord::new(topic).partition((i % 2) as i32).value(v.to_string());
        let _delivery = p.send(r).await.expect("send");
    }
}

/// Every value of the topic's partitions as a consumer with `isolation` reads it (sorted).
async fn read_all(mock: &MockCluster, topic: &str, partitions: i32, isolation: &str) -> Vec<String> {
    common::read_values(&mock.bootstrap_servers(), topic, partitions, isolation, WAIT).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_records_are_shown_to_read_committed_and_aborted_ones_never() {
    let mock = mock(&[("t", 2)]).await;
    let p = producer(&mock, "tx-a");
    assert_eq!(p.send(ProducerRecord::new("t").value("x")).await.unwrap_err().kind(), ErrorKind::State, "send before init");
    p.init_transactions().await.unwrap();
    let snap = mock.transaction("tx-a").expect("registered with its coordinator");
    assert_eq!((snap.epoch, snap.state), (0, TransactionState::Empty));

    p.begin_transaction().unwrap();
    send_values(&p, "t", &["c1", "c2", "c3", "c4"]).await;
    p.flush().await;
    // Written but not committed: the last stable offset holds read_committed readers back.
    assert_eq!(mock.high_watermark("t", 0), Some(2));
    assert_eq!(mock.last_stable_offset("t", 0), Some(0));
    assert_eq!(read_all(&mock, "t", 2, "read_committed").await, Vec::<String>::new());
    p.commit_transaction().await.unwrap();
    assert_eq!(mock.transaction("tx-a").unwrap().state, TransactionState::CompleteCommit);
    assert_eq!(mock.last_stable_offset("t", 0), mock.high_watermark("t", 0), "the commit marker ends it");

    p.begin_transaction().unwrap();
    send_values(&p, "t", &["a1", "a2", "a3"]).await;
    p.flush().await;
    p.abort_transaction().await.unwrap();
    assert_eq!(mock.transaction("tx-a").unwrap().state, TransactionState::CompleteAbort);

    p.begin_transaction().unwrap();
    send_values(&p, "t", &["d1", "d2"]).await;
    p.commit_transaction().await.unwrap();

    assert_eq!(read_all(&mock, "t", 2, "read_committed").await, ["c1", "c2", "c3", "c4", "d1", "d2"]);
    let all = read_all(&mock, "t", 2, "read_uncommitted").await;
    assert_eq!(all, ["a1", "a2", "a3", "c1", "c2", "c3", "c4", "d1", "d2"], "read_uncommitted sees the aborted ones");
    p.close(WAIT).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_transaction_sends_nothing_and_calls_out_of_order_are_refused() {
    let mock = mock(&[("t", 1)]).await;
    let p = producer(&mock, "tx-empty");
    assert_eq!(p.begin_transaction().unwrap_err().kind(), ErrorKind::State, "begin before init");
    p.init_transactions().await.unwrap();
    assert_eq!(p.commit_transaction().await.unwrap_err().kind(), ErrorKind::State, "commit outside a transaction");
    p.begin_transaction().unwrap();
    assert_eq!(p.begin_transaction().unwrap_err().kind(), ErrorKind::State, "nested begin");
    p.commit_transaction().await.unwrap();
    assert_eq!(mock.transaction("tx-empty").unwrap().state, TransactionState::Empty, "no EndTxn for nothing");
    let plain = Producer::from_properties([("bootstrap.servers", mock.bootstrap_servers())]).unwrap();
    assert_eq!(plain.init_transactions().await.unwrap_err().kind(), ErrorKind::State, "no transactional.id");
    p.close(WAIT).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_instance_fences_the_first_and_aborts_its_open_transaction() {
    let mock = mock(&[("t", 2)]).await;
    let zombie = producer(&mock, "tx-f");
    zombie.init_transactions().await.unwrap();
    zombie.begin_transaction().unwrap();
    send_values(&zombie, "t", &["z1", "z2"]).await;
    zombie.flush().await;

    let fresh = producer(&mock, "tx-f");
    fresh.init_transactions().await.unwrap();
    let snap = mock.transaction("tx-f").unwrap();
    assert_eq!(snap.epoch, 1, "the epoch was bumped");
    assert_eq!(snap.state, TransactionState::Empty);

    let e = zombie.commit_transaction().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Fenced, "{e}");
    let e = zombie.begin_transaction().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Fenced, "fatal: every later call says why ({e})");
    assert!(zombie.abort_transaction().await.is_err(), "a fenced producer cannot even abort");

    fresh.begin_transaction().unwrap();
    send_values(&fresh, "t", &["f1", "f2"]).await;
    fresh.commit_transaction().await.unwrap();
    assert_eq!(read_all(&mock, "t", 2, "read_committed").await, ["f1", "f2"], "the zombie's records were aborted");
    fresh.close(WAIT).await.unwrap();
    let _ = zombie.close(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_sent_to_the_transaction_are_committed_with_it_only() {
    let mock = mock(&[("in", 1), ("out", 1)]).await;
    let records: Vec<(String, String)> = (0..10).map(|i| (format!("k{i}"), format!("v{i}"))).collect();
    mock.append_records("in", 0, &records).unwrap();
    let c = Consumer::from_properties([
        ("bootstrap.servers", mock.bootstrap_servers().as_str()),
        ("group.id", "g"),
        ("auto.offset.reset", "earliest"),
        ("enable.auto.commit", "false"),
    ])
    .unwrap();
    c.subscribe(["in"]).unwrap();
    let mut got = 0;
    let deadline = tokio::time::Instant::now() + WAIT;
    while got < 10 {
        assert!(tokio::time::Instant::now() < deadline, "consumed in time");
        got += c.poll(Duration::from_millis(100)).await.unwrap().len();
    }
    let group = c.group_metadata().expect("a group member");
    assert!(group.generation_id >= 0 && !group.member_id.is_empty(), "{group:?}");
    let tp = TopicPartition::new("in", 0);

    let p = producer(&mock, "tx-o");
    p.init_transactions().await.unwrap();
    p.begin_transaction().unwrap();
    p.send_offsets_to_transaction([(tp.clone(), OffsetAndMetadata::new(4))], &group).await.unwrap();
    p.abort_transaction().await.unwrap();
    assert_eq!(mock.committed_offset("g", "in", 0), None, "aborted: nothing committed");

    p.begin_transaction().unwrap();
    let _delivery = p.send(ProducerRecord::new("out").value("o")).await.unwrap();
    p.send_offsets_to_transaction([(tp.clone(), OffsetAndMetadata::new(10))], &group).await.unwrap();
    assert_eq!(mock.committed_offset("g", "in", 0), None, "not before the commit");
    p.commit_transaction().await.unwrap();
    assert_eq!(mock.committed_offset("g", "in", 0), Some(10));
    assert_eq!(c.committed(&[tp.clone()]).await.unwrap()[&tp].offset, 10, "the consumer sees it too");

    // KIP-447: metadata of a member the group does not know is refused, and the transaction
    // becomes abortable (not fatal): abort, then carry on.
    let stale = ConsumerGroupMetadata { generation_id: group.generation_id + 5, ..group.clone() };
    p.begin_transaction().unwrap();
    let _delivery = p.send(ProducerRecord::new("out").value("lost")).await.unwrap();
    let e = p.send_offsets_to_transaction([(tp.clone(), OffsetAndMetadata::new(3))], &stale).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Broker, "{e}");
    let e = p.commit_transaction().await.unwrap_err();
    assert!(e.to_string().contains("abort"), "commit refused, saying what to do: {e}");
    p.abort_transaction().await.unwrap();
    assert_eq!(mock.committed_offset("g", "in", 0), Some(10), "the zombie commit changed nothing");
    p.begin_transaction().unwrap();
    let _delivery = p.send(ProducerRecord::new("out").value("after")).await.unwrap();
    p.commit_transaction().await.unwrap();
    assert_eq!(read_all(&mock, "out", 1, "read_committed").await, ["after", "o"]);
    p.close(WAIT).await.unwrap();
    c.close(WAIT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coordinator_errors_are_retried_or_rediscovered_and_an_abortable_one_only_aborts() {
    let mock = mock(&[("t", 2)]).await;
    let p = producer(&mock, "tx-e");
    p.init_transactions().await.unwrap();
    // Retriable codes and a moved coordinator: the commit still goes through.
    p.begin_transaction().unwrap();
    send_values(&p, "t", &["r1", "r2"]).await;
    mock.inject_errors(ADD_PARTITIONS_TO_TXN, CONCURRENT_TRANSACTIONS, 2);
    p.flush().await;
    mock.inject_errors(END_TXN, NOT_COORDINATOR, 1);
    mock.inject_errors(END_TXN, COORDINATOR_LOAD_IN_PROGRESS, 1);
    p.commit_transaction().await.unwrap();
    assert_eq!(mock.transaction("tx-e").unwrap().state, TransactionState::CompleteCommit);

    // AddPartitionsToTxn refused for the topic: the records fail, the transaction must abort.
    p.begin_transaction().unwrap();
    mock.inject_errors(ADD_PARTITIONS_TO_TXN, TOPIC_AUTHORIZATION_FAILED, 1);
    let d = p.send(ProducerRecord::new("t").partition(0).value("denied")).await.unwrap();
    let e = tokio::time::timeout(WAIT, d).await.expect("the outcome is reported").unwrap_err();
    assert_ne!(e.kind(), ErrorKind::Fenced, "{e}");
    assert!(p.commit_transaction().await.is_err(), "cannot commit after a failed record");
    p.abort_transaction().await.unwrap();
    p.begin_transaction().unwrap();
    send_values(&p, "t", &["s1"]).await;
    p.commit_transaction().await.unwrap();
    assert_eq!(read_all(&mock, "t", 2, "read_committed").await, ["r1", "r2", "s1"]);
    p.close(WAIT).await.unwrap();
}

/// The next non-empty poll (there is input left).
async fn poll_some(c: &Consumer) -> Vec<gregor::ConsumerRecord> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        assert!(tokio::time::Instant::now() < deadline, "records in time");
        let r = c.poll(Duration::from_millis(100)).await.unwrap();
        if !r.is_empty() {
            return r;
        }
    }
}

/// The `eos` example's loop: a first instance processes part of the input and "crashes" in the
/// middle of a transaction (records written, offsets added, never committed: what `kill -9`
/// leaves behind); a second instance with the same `transactional.id` fences it, and the
/// committed output holds every input exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_eos_example_delivers_every_input_exactly_once_across_a_crash() {
    const N: usize = 300;
    let mock = mock(&[("in", 3), ("out", 3)]).await;
    for part in 0..3 {
        let recs: Vec<(String, String)> =
            (0..N).filter(|i| i % 3 == part).map(|i| (format!("k{i}"), format!("rec-{i:05}"))).collect();
        mock.append_records("in", part as i32, &recs).unwrap();
    }
    let o = pipeline::Options {
        bootstrap: mock.bootstrap_servers(),
        input: "in".into(),
        output: "out".into(),
        group: "eos".into(),
        transactional_id: "eos-1".into(),
        extra: vec![("group.instance.id".into(), "eos-1".into()), ("max.poll.records".into(), "40".into())],
        hold_open_at: None,
    };
    // The crashed instance: one committed transaction, then one left open with records written
    // and offsets added, and the process gone without closing anything.
    {
        let (c, p) = pipeline::start(&o).await.unwrap();
        let first = poll_some(&c).await;
        assert!(first.len() < N, "max.poll.records leaves input for the crashed transaction");
        pipeline::process(&o, &c, &p, &first).await.unwrap();
        let records = poll_some(&c).await;
        p.begin_transaction().unwrap();
        let mut next = BTreeMap::new();
        for r in &records {
            let _delivery = p.send(pipeline::transform(r, "out")).await.unwrap();
            next.insert(r.topic_partition(), OffsetAndMetadata::new(r.offset + 1));
        }
        p.flush().await;
        p.send_offsets_to_transaction(next, &c.group_metadata().unwrap()).await.unwrap();
        std::mem::forget(p);
        std::mem::forget(c);
    }
    assert_eq!(mock.transaction("eos-1").unwrap().state, TransactionState::Ongoing);
    let (c, p) = pipeline::start(&o).await.unwrap();
    // Done when the group's committed offsets reached the end of the input.
    let input_done =
        || (0..3).all(|p| mock.committed_offset("eos", "in", p).is_some() && mock.committed_offset("eos", "in", p) == mock.high_watermark("in", p));
    let started = tokio::time::Instant::now();
    let total = pipeline::run(&o, &c, &p, |_| {}, |_| {
        assert!(started.elapsed() < WAIT * 2, "the input processed in time");
        input_done()
    })
    .await
    .unwrap();
    assert!(total > 0);
    p.close(WAIT).await.unwrap();
    c.close(WAIT).await;
    let out = read_all(&mock, "out", 3, "read_committed").await;
    let want: Vec<String> = (0..N).map(|i| format!("REC-{i:05}")).collect();
    assert_eq!(out, want, "every input exactly once in the committed output");
    let all = read_all(&mock, "out", 3, "read_uncommitted").await;
    assert!(all.len() > N, "the crashed instance's open transaction was written, then aborted ({})", all.len());
}
