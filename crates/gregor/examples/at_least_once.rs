//! At-least-once consumption with stored offsets (`enable.auto.offset.store=false`): an offset
//! is stored only once its record is processed, and auto-commit, rebalances and `close` commit
//! only stored offsets. A consumer that dies mid-batch loses nothing: its successor reads again
//! from the last stored offset (a few records twice, none never).
//!
//! ```sh
//! cargo run -p gregor --example at_least_once
//! ```
//! runs against an embedded mock cluster (gregor-mock) and checks the promise: every record
//! processed at least once across a crash. `scripts/test.sh` runs it.

use std::collections::BTreeMap;
use std::time::Duration;

use gregor::{Consumer, ConsumerConfig, ConsumerRecord};
use gregor_mock::MockCluster;

const PARTITIONS: i32 = 3;
const PER_PARTITION: usize = 100;

/// The application's work; here it only remembers what it saw.
fn process(record: &ConsumerRecord, seen: &mut BTreeMap<(i32, i64), u32>) {
    *seen.entry((record.partition, record.offset)).or_default() += 1;
}

fn config(bootstrap: &str) -> Result<ConsumerConfig, gregor::config::ConfigError> {
    ConsumerConfig::builder()
        .bootstrap_servers(bootstrap)
        .group_id("billing")
        .set("auto.offset.reset", "earliest")
        .enable_auto_offset_store(false) // store what was processed ...
        .set("auto.commit.interval.ms", "200") // ... and let auto-commit commit it
        // The crashed member leaves no LeaveGroup: the group waits this long for it.
        .set("session.timeout.ms", "6000")
        .set("heartbeat.interval.ms", "500")
        .build()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cluster = MockCluster::builder().brokers(1).topic("orders", PARTITIONS).start().await?;
    for p in 0..PARTITIONS {
        let records: Vec<(String, String)> = (0..PER_PARTITION).map(|i| (format!("order-{i}"), format!("{i} widgets"))).collect();
        cluster.append_records("orders", p, &records)?;
    }
    let bootstrap = cluster.bootstrap_servers();
    let total = PARTITIONS as usize * PER_PARTITION;
    let mut seen = BTreeMap::new();

    // The first instance processes part of the topic, then dies without closing: whatever it
    // polled but did not process is not stored, so not committed.
    let first = Consumer::new(config(&bootstrap)?)?;
    first.subscribe(["orders"])?;
    let mut processed = 0;
    'crash: loop {
        for record in first.poll(Duration::from_millis(200)).await? {
            if processed == total / 2 {
                break 'crash; // the rest of this batch was never processed
            }
            process(&record, &mut seen);
            first.store_offset(&record)?;
            processed += 1;
        }
    }
    // Let the auto-commit of what was stored happen, then "crash" (no close, no final commit).
    let stored = first.commit_async().await?;
    println!("first instance: processed {processed}, committed {stored:?}");
    drop(first);

    // Its successor starts from the committed (= stored) offsets.
    let second = Consumer::new(config(&bootstrap)?)?;
    second.subscribe(["orders"])?;
    while seen.len() < total {
        for record in second.poll(Duration::from_millis(200)).await? {
            process(&record, &mut seen);
            second.store_offset(&record)?;
        }
    }
    second.close(Duration::from_secs(10)).await; // commits the last stored offsets

    let twice = seen.values().filter(|&&n| n > 1).count();
    println!("{} records processed, {twice} of them twice, none missing", seen.len());
    assert_eq!(seen.len(), total, "a record was never processed");
    Ok(())
}
