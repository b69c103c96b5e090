//! Produces keyed records and waits for each acknowledgement.
//!
//! ```sh
//! cargo run -p gregor --example produce                       # against an embedded mock cluster
//! cargo run -p gregor --example produce -- 127.0.0.1:9092 orders [key=value ...]
//! ```
//! Extra settings are Java's producer keys (`acks`, `linger.ms`, `compression.type`,
//! `partitioner=consistent_random` for librdkafka's key placement, ...). `scripts/test.sh` runs
//! it against the mock.

use std::time::Duration;

use gregor::{Producer, ProducerConfig, ProducerRecord};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // Without a bootstrap address, an embedded cluster stands in for Kafka.
    let mock;
    let (bootstrap, topic) = match args.as_slice() {
        [bootstrap, topic, ..] => (bootstrap.clone(), topic.clone()),
        _ => {
            mock = gregor_mock::MockCluster::builder().brokers(3).topic("orders", 6).start().await?;
            (mock.bootstrap_servers(), "orders".to_string())
        }
    };
    let mut config = ProducerConfig::builder().bootstrap_servers(bootstrap).set("linger.ms", "10");
    for kv in args.iter().skip(2) {
        let (k, v) = kv.split_once('=').ok_or("extra settings are key=value")?;
        config = config.set(k, v);
    }
    let producer = Producer::new(config.build()?)?;

    // `send` queues the record (waiting only when buffer.memory is full) and returns a future
    // of its acknowledgement; queue many, then await them, to let batching work.
    let mut deliveries = Vec::new();
    for i in 0..100 {
        let record = ProducerRecord::new(topic.clone())
            .key(format!("customer-{}", i % 10))
            .value(format!("order {i}"))
            .header("source", Some("example".into()));
        deliveries.push(producer.send(record).await?);
    }
    let mut by_partition = std::collections::BTreeMap::<i32, usize>::new();
    for d in deliveries {
        let meta = d.await?; // Err: the record was not written (after retries)
        *by_partition.entry(meta.partition).or_default() += 1;
    }
    println!("acknowledged per partition: {by_partition:?}");
    producer.close(Duration::from_secs(10)).await?;
    assert_eq!(by_partition.values().sum::<usize>(), 100);
    Ok(())
}
