//! The producer and `Admin` against a real Kafka (4.x), e.g. one started with
//! `scripts/kafka-cluster.sh start`:
//!
//! ```text
//! GREGOR_KAFKA_BOOTSTRAP=127.0.0.1:19092 cargo test -p gregor --test producer_kafka -- --ignored
//! ```
//!
//! A real broker decompresses and validates every compressed batch it accepts (Kafka's
//! `LogValidator`), so success here proves each codec's framing, which the mock does not check.

use std::collections::HashMap;
use std::time::Duration;

use gregor::{Admin, NewTopic, Producer, ProducerRecord};

const WAIT: Duration = Duration::from_secs(60);

fn bootstrap() -> String {
    std::env::var("GREGOR_KAFKA_BOOTSTRAP").expect("set GREGOR_KAFKA_BOOTSTRAP=host:port of a running Kafka")
}

#[tokio::test]
#[ignore = "needs a real Kafka: GREGOR_KAFKA_BOOTSTRAP=host:port"]
async fn real_kafka_accepts_every_codec_and_assigns_consecutive_offsets() {
    let bootstrap = bootstrap();
    let admin = Admin::from_properties([("bootstrap.servers", bootstrap.as_str())]).unwrap();
    let run = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis();
    for codec in ["none", "gzip", "snappy", "lz4", "zstd"] {
        let topic = format!("gregor-producer-{codec}-{run}");
        admin.create_topics(&[NewTopic::new(&topic, 3, 1)], false, WAIT).await.unwrap();
        // acks=all first: right after CreateTopics a broker may still answer
        // NOT_LEADER_OR_FOLLOWER for a moment, which an acked producer retries but acks=0 cannot
        // even see (the broker just closes the connection). The acks=1 run after acks=0 then
        // proves the acks=0 records landed: its offsets start after them.
        for (run, acks) in [-1i16, 0, 1].into_iter().enumerate() {
            let acks_value = acks.to_string();
            let p = Producer::from_properties([
                ("bootstrap.servers", bootstrap.as_str()),
                ("compression.type", codec),
                ("acks", acks_value.as_str()),
            ])
            .unwrap();
            let mut futures = Vec::new();
            for i in 0..3000 {
                let r = ProducerRecord::new(&topic).key(format!("key-{i}")).value(format!("value {i} ").repeat(10));
                futures.push(p.send(r).await.unwrap());
            }
            let mut per_partition: HashMap<i32, Vec<i64>> = HashMap::new();
            for f in futures {
                let m = tokio::time::timeout(WAIT, f).await.unwrap().unwrap_or_else(|e| panic!("{codec} acks={acks}: {e}"));
                per_partition.entry(m.partition).or_default().push(m.offset);
            }
            assert_eq!(per_partition.values().map(Vec::len).sum::<usize>(), 3000);
            for offsets in per_partition.values() {
                if acks == 0 {
                    assert!(offsets.iter().all(|o| *o == -1));
                } else {
                    assert!(offsets.windows(2).all(|w| w[1] == w[0] + 1), "{codec} acks={acks}: consecutive offsets: {:?}", offsets.windows(2).filter(|w| w[1] != w[0] + 1).take(5).collect::<Vec<_>>());
                    // Every run writes the same keys, so each partition got as many records in
                    // every earlier run.
                    assert_eq!(offsets[0], run as i64 * offsets.len() as i64, "{codec} acks={acks}: earlier runs all landed");
                }
            }
            p.close(WAIT).await.unwrap();
            if acks == 0 {
                // acks=0 is done once written to the socket; the broker may still be appending
                // (slowly, e.g. right after a broker restart). Wait for the log end to show all
                // of it before the next run, or its late batches interleave with the next run's.
                let want = 3000 * (run as i64 + 1);
                let c = gregor::Consumer::from_properties([("bootstrap.servers", bootstrap.as_str())]).unwrap();
                let parts = c.partitions_for(&topic).await.unwrap();
                let deadline = tokio::time::Instant::now() + WAIT;
                loop {
                    let end: i64 = c.end_offsets(&parts).await.unwrap().values().sum();
                    if end >= want {
                        break;
                    }
                    assert!(tokio::time::Instant::now() < deadline, "{codec}: acks=0 records never all landed ({end} of {want})");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                c.close(WAIT).await;
            }
        }
        let listed = admin.list_topics().await.unwrap();
        assert_eq!(listed.get(&topic), Some(&3));
        admin.delete_topics(&[topic.as_str()], false, WAIT).await.unwrap();
        assert!(!admin.list_topics().await.unwrap().contains_key(&topic), "deleted");
    }
    admin.close(WAIT).await;
}
