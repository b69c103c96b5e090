//! Found by the chaos suite (issue #12): records handed out while a revoked partition's offsets
//! were being committed were read again by the partition's next owner. Java marks revoked
//! partitions "pending revocation" first (no more records from them), then commits; so must
//! gregor. The OffsetCommit of the revocation is slowed down so that the application polls
//! during it; no record may be delivered to both members.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gregor::{Consumer, ConsumerConfig};
use gregor_mock::MockCluster;

const PARTITIONS: i32 = 4;
const PER_PARTITION: usize = 3000;
const OFFSET_COMMIT: i16 = 8; // the mock's API key of OffsetCommit

async fn no_record_is_read_by_two_members(protocol: &str) {
    let cluster = MockCluster::builder().brokers(1).topic("r", PARTITIONS).start().await.unwrap();
    for p in 0..PARTITIONS {
        let recs: Vec<(String, String)> = (0..PER_PARTITION).map(|i| (format!("k{i}"), format!("v{i}"))).collect();
        cluster.append_records("r", p, &recs).unwrap();
    }
    let config = || {
        let mut b = ConsumerConfig::builder()
            .bootstrap_servers(cluster.bootstrap_servers())
            .group_id(format!("rv-{protocol}"))
            .set("auto.offset.reset", "earliest")
            .set("max.poll.records", "5");
        if protocol == "classic" {
            b = b.set("heartbeat.interval.ms", "100").set("session.timeout.ms", "6000");
        } else {
            b = b.set("group.protocol", protocol);
        }
        b.build().unwrap()
    };
    let seen: Arc<Mutex<HashMap<(i32, i64), Vec<usize>>>> = Arc::default();
    let a = Arc::new(Consumer::new(config()).unwrap());
    a.subscribe(["r"]).unwrap();
    // A owns everything and is reading.
    while seen.lock().unwrap().is_empty() {
        for r in a.poll(Duration::from_millis(100)).await.unwrap() {
            seen.lock().unwrap().entry((r.partition, r.offset)).or_default().push(0);
        }
    }
    cluster.set_latency(None, Some(OFFSET_COMMIT), Duration::from_millis(400));
    let b = Arc::new(Consumer::new(config()).unwrap());
    b.subscribe(["r"]).unwrap();
    let total = PARTITIONS as usize * PER_PARTITION;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    while seen.lock().unwrap().len() < total {
        assert!(tokio::time::Instant::now() < deadline, "only {} of {total} read", seen.lock().unwrap().len());
        let (ra, rb) = tokio::join!(a.poll(Duration::from_millis(50)), b.poll(Duration::from_millis(50)));
        for (who, recs) in [(0, ra.unwrap()), (1, rb.unwrap())] {
            for r in recs {
                seen.lock().unwrap().entry((r.partition, r.offset)).or_default().push(who);
            }
        }
    }
    let both: Vec<(i32, i64)> = {
        let s = seen.lock().unwrap();
        let mut v: Vec<(i32, i64)> = s.iter().filter(|(_, w)| w.len() > 1).map(|(k, _)| *k).collect();
        v.sort();
        v
    };
    assert!(
        b.assignment().len() + a.assignment().len() == PARTITIONS as usize && !b.assignment().is_empty(),
        "the partitions were shared"
    );
    assert!(both.is_empty(), "{protocol}: {} records read twice, e.g. {:?}", both.len(), &both[..both.len().min(5)]);
    a.close(Duration::from_secs(5)).await;
    b.close(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn classic_revocation_hands_out_nothing_after_its_commit() {
    no_record_is_read_by_two_members("classic").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kip848_revocation_hands_out_nothing_after_its_commit() {
    no_record_is_read_by_two_members("consumer").await;
}
