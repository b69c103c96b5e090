//! Transaction version 2 (KIP-890 part 2) on real Kafka 4.3.1, which finalizes
//! `transaction.version=2` by default: the transactional producer must see that in the
//! brokers' ApiVersions and send no AddPartitionsToTxn and no AddOffsetsToTxn, Produce v12 and
//! EndTxn v5 instead (checked from the client's own TRACE log of every request it sends), while
//! commits, aborts, offsets in the transaction and fencing work as before.
//!
//! Run by `scripts/test.sh` against `scripts/kafka-cluster.sh`'s cluster (a few seconds); skipped
//! without `GREGOR_KAFKA_BOOTSTRAP`.

mod common;

use std::time::Duration;

use common::cluster_script;
use gregor::{ConsumerGroupMetadata, ErrorKind, OffsetAndMetadata, Producer, ProducerRecord, TopicPartition};

const WAIT: Duration = Duration::from_secs(60);

fn producer(bootstrap: &str, txn_id: &str) -> Producer {
    common::transactional_producer(bootstrap, txn_id, Duration::from_secs(60))
}

async fn send(p: &Producer, topic: &str, partition: i32, value: &str) {
    let d = p.send(ProducerRecord::new(topic).partition(partition).value(value.to_string())).await.expect("send");
    tokio::time::timeout(WAIT, d).await.expect("delivered in time").expect("delivered");
}

/// How many requests of `api` at `version` (any version: `None`) the client's TRACE log shows
/// it sent (`net::connection`: "sending request" with `api` and `version`).
fn sent(log: &str, api: &str, version: Option<i16>) -> usize {
    log.lines()
        .filter(|l| l.contains("sending request") && l.contains(&format!("api={api} ")))
        .filter(|l| version.is_none_or(|v| l.contains(&format!("version={v} "))))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_kafka_uses_transaction_version_2_and_still_fences() {
    let capture = common::log_capture();
    let Some(bootstrap) = common::kafka_bootstrap("scripts/test.sh") else { return };
    let topic = common::unique("gregor-txn-v2");
    cluster_script(&["topic-create", &topic, "2", "3"]);
    let txn_id = common::unique("gregor-txn-v2");
    let group = ConsumerGroupMetadata::new(common::unique("gregor-txn-v2-group"));
    let tp = TopicPartition::new(&topic, 0);
    capture.clear();

    let p = producer(&bootstrap, &txn_id);
    p.init_transactions().await.unwrap();
    for (value, commit) in [("c1", true), ("a1", false), ("c2", true)] {
        p.begin_transaction().unwrap();
        send(&p, &topic, 0, value).await;
        send(&p, &topic, 1, value).await;
        p.send_offsets_to_transaction([(tp.clone(), OffsetAndMetadata::new(3))], &group).await.unwrap();
        if commit {
            p.commit_transaction().await.unwrap();
        } else {
            p.abort_transaction().await.unwrap();
        }
    }
    let log = capture.text();
    assert!(log.contains("transaction_version_2=true"), "4.3.1 finalizes transaction.version=2");
    assert_eq!(sent(&log, "AddPartitionsToTxn", None), 0, "Produce v12 adds the partitions");
    assert_eq!(sent(&log, "AddOffsetsToTxn", None), 0, "TxnOffsetCommit v5 adds the group");
    // A request may be retried (e.g. CONCURRENT_TRANSACTIONS while the previous transaction's
    // markers are written): at least one per transaction, every one at the version-2 version.
    assert!(sent(&log, "EndTxn", Some(5)) >= 3, "an EndTxn v5 per transaction");
    assert_eq!(sent(&log, "EndTxn", None), sent(&log, "EndTxn", Some(5)), "only v5");
    assert!(sent(&log, "TxnOffsetCommit", Some(5)) >= 3);
    assert_eq!(sent(&log, "TxnOffsetCommit", None), sent(&log, "TxnOffsetCommit", Some(5)), "only v5");
    assert!(sent(&log, "Produce", Some(12)) >= 2, "records went at Produce v12");
    assert_eq!(sent(&log, "Produce", None), sent(&log, "Produce", Some(12)), "and only at v12");

    // A second instance fences the first, whose next commit fails for good.
    p.begin_transaction().unwrap();
    send(&p, &topic, 0, "zombie").await;
    let fresh = producer(&bootstrap, &txn_id);
    fresh.init_transactions().await.unwrap();
    let e = p.commit_transaction().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Fenced, "{e}");
    fresh.begin_transaction().unwrap();
    send(&fresh, &topic, 1, "f1").await;
    fresh.commit_transaction().await.unwrap();
    fresh.close(WAIT).await.unwrap();
    let _ = p.close(Duration::from_secs(5)).await;

    let values = common::read_values(&bootstrap, &topic, 2, "read_committed", WAIT).await;
    assert_eq!(values, ["c1", "c1", "c2", "c2", "f1"], "committed records only, the zombie's aborted");
}
