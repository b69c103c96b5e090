//! A rebalance listener that commits what was processed before partitions move (Java's
//! `ConsumerRebalanceListener` pattern, with auto-commit off): the application records the next
//! offset to read per partition as it processes; when partitions are revoked the listener
//! commits exactly those, so their next owner starts right after the last processed record.
//!
//! ```sh
//! cargo run -p gregor --example rebalance_listener
//! ```
//! runs two members against an embedded mock cluster (gregor-mock) and checks that the
//! revocation committed what the first member had processed. `scripts/test.sh` runs it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gregor::{Consumer, ConsumerConfig, OffsetAndMetadata, RebalanceListener, RevokeContext, TopicPartition};
use gregor_mock::MockCluster;

/// Next offset to read, per partition, of what the application has finished with.
type Processed = Arc<Mutex<BTreeMap<TopicPartition, i64>>>;

struct CommitOnRevoke {
    name: &'static str,
    processed: Processed,
}

impl RebalanceListener for CommitOnRevoke {
    fn on_partitions_revoked(&self, partitions: &[TopicPartition], ctx: &mut RevokeContext) {
        let processed = self.processed.lock().unwrap();
        let offsets: BTreeMap<TopicPartition, OffsetAndMetadata> = partitions
            .iter()
            .filter_map(|tp| processed.get(tp).map(|&o| (tp.clone(), OffsetAndMetadata::new(o))))
            .collect();
        println!("{}: revoked {partitions:?}, committing {offsets:?}", self.name);
        ctx.commit(offsets); // committed before the partitions are released
    }

    fn on_partitions_assigned(&self, partitions: &[TopicPartition]) {
        println!("{}: assigned {partitions:?}", self.name);
    }
}

fn member(bootstrap: &str, name: &'static str, processed: &Processed) -> Result<Consumer, Box<dyn std::error::Error>> {
    let consumer = Consumer::new(
        ConsumerConfig::builder()
            .bootstrap_servers(bootstrap)
            .group_id("inventory")
            .client_id(name)
            .enable_auto_commit(false)
            .set("auto.offset.reset", "earliest")
            .set("partition.assignment.strategy", "range")
            .build()?,
    )?;
    consumer.set_rebalance_listener(CommitOnRevoke { name, processed: processed.clone() });
    consumer.subscribe(["stock"])?;
    Ok(consumer)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cluster = MockCluster::builder().brokers(1).topic("stock", 2).start().await?;
    for p in 0..2 {
        let records: Vec<(String, String)> = (0..50).map(|i| (format!("item-{i}"), format!("{i}"))).collect();
        cluster.append_records("stock", p, &records)?;
    }
    let bootstrap = cluster.bootstrap_servers();
    let processed_a: Processed = Arc::default();
    let a = member(&bootstrap, "member-a", &processed_a)?;
    // A processes 20 records of each partition (and polls past them: positions run ahead).
    while processed_a.lock().unwrap().values().filter(|&&o| o >= 20).count() < 2 {
        for r in a.poll(Duration::from_millis(100)).await? {
            let mut p = processed_a.lock().unwrap();
            let next = p.entry(r.topic_partition()).or_insert(0);
            if *next < 20 {
                *next = r.offset + 1; // "processed"
            }
        }
    }
    // B joins: the group rebalances, A's listener commits what A processed.
    let b = member(&bootstrap, "member-b", &Arc::default())?;
    while b.assignment().is_empty() {
        let (ra, rb) = tokio::join!(a.poll(Duration::from_millis(50)), b.poll(Duration::from_millis(50)));
        ra?;
        rb?;
    }
    let parts = [TopicPartition::new("stock", 0), TopicPartition::new("stock", 1)];
    let committed = b.committed(&parts).await?;
    println!("committed after the rebalance: {committed:?}");
    for tp in &parts {
        assert_eq!(committed.get(tp).map(|o| o.offset), Some(20), "{tp}: the processed offset was committed");
    }
    a.close(Duration::from_secs(5)).await;
    b.close(Duration::from_secs(5)).await;
    Ok(())
}
