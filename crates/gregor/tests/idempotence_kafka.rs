//! The idempotent producer (the default) against real Apache Kafka 4.3.1 while the cluster is
//! made to misbehave: connections cut under it (`ss -K`), a broker stopped and restarted, a
//! broker killed with SIGKILL and restarted — with up to 5 batches of a partition in flight.
//! Every record's outcome must be reported, and reading the topic back must show every
//! partition's numbered values exactly once and in order: no duplicate, no gap.
//!
//! Enabled when `GREGOR_KAFKA_BOOTSTRAP` is set (scripts/test.sh starts the cluster); it
//! restarts brokers, so run it alone: `cargo test -p gregor --test idempotence_kafka --
//! --test-threads=1`. About a minute and a half, most of it broker restarts.

mod common;

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::cluster_script;
use gregor::{Consumer, Producer, ProducerRecord, TopicPartition};

const PARTITIONS: i32 = 6;
const WAIT: Duration = Duration::from_secs(180);

/// Cuts every established TCP connection to the brokers' PLAINTEXT ports (the producer's, and
/// the brokers' own replication connections to them) with `ss -K`. Returns how many were
/// cut, or None when this kernel cannot (CONFIG_INET_DIAG_DESTROY).
fn cut_connections(bootstrap: &str) -> Option<usize> {
    let mut cut = 0;
    for port in bootstrap.split(',').filter_map(|hp| hp.rsplit_once(':')).map(|(_, p)| p.to_string()) {
        let out = Command::new("ss").args(["-K", "-t", "state", "established", "dport", "=", &format!(":{port}")]).output().ok()?;
        let text = String::from_utf8_lossy(&out.stdout);
        // One header line, then one line per socket killed.
        cut += text.lines().skip(1).filter(|l| !l.trim().is_empty()).count();
    }
    Some(cut)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_kafka_idempotent_producer_survives_restarts_and_cut_connections_without_duplicates_or_gaps() {
    // RUST_LOG=gregor=debug shows what the producer did with each batch (default: warnings).
    common::init_tracing("warn");
    let Some(bootstrap) = common::kafka_bootstrap("scripts/test.sh") else { return };
    let topic = common::unique("gregor-idempotence");
    // RF 3: a stopped broker's partitions move to another replica, and acks=all records survive
    // an unclean kill.
    cluster_script(&["topic-create", &topic, &PARTITIONS.to_string(), "3"]);

    let producer = Arc::new(
        Producer::from_properties([
            ("bootstrap.servers", bootstrap.as_str()),
            ("client.id", "idempotence-test"),
            // Small batches and no linger: many requests, several of a partition in flight.
            ("batch.size", "2048"),
            ("linger.ms", "0"),
            ("request.timeout.ms", "10000"),
            // The test asserts no loss, duplicate or gap, not latency: on a loaded machine a
            // restarted broker can take minutes to catch up, and acks=all waits for it. A batch
            // stranded by a bug is still caught: every outcome must arrive within WAIT of the
            // end, and records must keep flowing between faults.
            ("delivery.timeout.ms", "600000"),
            // GREGOR_TEST_IDEMPOTENCE=false shows what the test catches without idempotence.
            ("enable.idempotence", std::env::var("GREGOR_TEST_IDEMPOTENCE").as_deref().unwrap_or("true")),
        ])
        .unwrap(),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(AtomicU64::new(0));
    let sender = {
        let (producer, stop, acked) = (producer.clone(), stop.clone(), acked.clone());
        let topic = topic.clone();
        tokio::spawn(async move {
            let mut next = [0u64; PARTITIONS as usize];
            let mut pending = std::collections::VecDeque::new();
            let mut failures = Vec::new();
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let part = (i % PARTITIONS as u64) as i32;
                let n = next[part as usize];
                next[part as usize] += 1;
                i += 1;
                let record = ProducerRecord::new(&topic).partition(part).value(format!("p{part}-{n}"));
                pending.push_back(producer.send(record).await.expect("send"));
                // Keep a bounded window of unacknowledged records; pace the stream so the
                // faults below happen while it flows.
                while pending.len() > 20_000 {
                    match pending.pop_front().unwrap().await {
                        Ok(_) => acked.fetch_add(1, Ordering::Relaxed),
                        Err(e) => {
                            failures.push(e.to_string());
                            0
                        }
                    };
                }
                // About 5,000 records/s: enough batches in flight, little to read back.
                if i % 50 == 0 {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
            for f in pending {
                match tokio::time::timeout(WAIT, f).await.expect("every record's outcome is reported") {
                    Ok(_) => acked.fetch_add(1, Ordering::Relaxed),
                    Err(e) => {
                        failures.push(e.to_string());
                        0
                    }
                };
            }
            (next, failures)
        })
    };

    let flowing = |at_least: u64| {
        let acked = acked.clone();
        async move {
            let deadline = tokio::time::Instant::now() + WAIT;
            while acked.load(Ordering::Relaxed) < at_least {
                assert!(tokio::time::Instant::now() < deadline, "records stopped flowing");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    flowing(5_000).await;
    let mut cuts = Vec::new();
    cuts.push(cut_connections(&bootstrap));
    flowing(acked.load(Ordering::Relaxed) + 5_000).await;
    // A controlled shutdown (SIGTERM) and restart.
    tokio::task::spawn_blocking(|| cluster_script(&["stop-broker", "1"])).await.unwrap();
    flowing(acked.load(Ordering::Relaxed) + 5_000).await;
    tokio::task::spawn_blocking(|| cluster_script(&["start-broker", "1"])).await.unwrap();
    cuts.push(cut_connections(&bootstrap));
    flowing(acked.load(Ordering::Relaxed) + 5_000).await;
    // An unclean kill (SIGKILL) and restart.
    tokio::task::spawn_blocking(|| cluster_script(&["stop-broker", "2", "--kill"])).await.unwrap();
    flowing(acked.load(Ordering::Relaxed) + 5_000).await;
    tokio::task::spawn_blocking(|| cluster_script(&["start-broker", "2"])).await.unwrap();
    cuts.push(cut_connections(&bootstrap));
    flowing(acked.load(Ordering::Relaxed) + 5_000).await;
    stop.store(true, Ordering::Relaxed);
    let (sent, failures) = sender.await.unwrap();
    producer.close(WAIT).await.unwrap();
    let total: u64 = sent.iter().sum();
    eprintln!("sent {total} records; connections cut with ss -K: {cuts:?}");
    assert!(failures.is_empty(), "{} records failed, first: {:?}", failures.len(), failures.first());
    assert_eq!(acked.load(Ordering::Relaxed), total, "every record acknowledged");
    if cuts.iter().all(Option::is_none) {
        eprintln!("note: this kernel cannot cut sockets (ss -K); only broker restarts cut connections");
    }

    // Read everything back: each partition holds p<part>-0 .. p<part>-<n-1>, in order.
    let c = Consumer::from_properties([("bootstrap.servers", bootstrap.as_str())]).unwrap();
    let tps: Vec<TopicPartition> = (0..PARTITIONS).map(|p| TopicPartition::new(&topic, p)).collect();
    c.assign(tps.clone()).unwrap();
    c.seek_to_beginning(&[]).unwrap();
    let mut back: BTreeMap<i32, Vec<String>> = BTreeMap::new();
    for r in common::read_to_end(&c, &tps, WAIT).await {
        back.entry(r.partition).or_default().push(r.value_str().unwrap_or_default().to_string());
    }
    c.close(WAIT).await;
    for part in 0..PARTITIONS {
        let got = back.remove(&part).unwrap_or_default();
        let n = sent[part as usize] as usize;
        let mut seen = std::collections::HashSet::new();
        let dups = got.iter().filter(|v| !seen.insert(v.as_str())).count();
        let want: Vec<String> = (0..n).map(|i| format!("p{part}-{i}")).collect();
        assert_eq!(dups, 0, "partition {part}: {dups} duplicates");
        assert_eq!(got.len(), n, "partition {part}: {} records, {n} sent (gaps)", got.len());
        assert!(got == want, "partition {part}: out of order at {:?}", got.iter().zip(&want).position(|(a, b)| a != b));
    }
}
