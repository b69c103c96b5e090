//! Every codec round-trips: records produced by gregor's producer and by librdkafka
//! (confluent-kafka from PyPI), compressed with none/gzip/snappy/lz4/zstd, are consumed back
//! intact by gregor's consumer, with keys, values, headers and null values.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use gregor::{Consumer, ConsumerConfig, Producer, ProducerConfig, ProducerRecord};
use gregor_mock::MockCluster;

const CODECS: [&str; 5] = ["none", "gzip", "snappy", "lz4", "zstd"];
const N: usize = 500;

async fn read_all(cluster: &MockCluster, topic: &str, want: usize) -> Vec<gregor::ConsumerRecord> {
    let config = ConsumerConfig::builder()
        .bootstrap_servers(cluster.bootstrap_servers())
        .set("auto.offset.reset", "earliest")
        .build()
        .unwrap();
    let c = Consumer::new(config).unwrap();
    let parts = c.partitions_for(topic).await.unwrap();
    c.assign(parts).unwrap();
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while got.len() < want {
        assert!(tokio::time::Instant::now() < deadline, "{topic}: {} of {want}", got.len());
        got.extend(c.poll(Duration::from_millis(200)).await.unwrap());
    }
    c.close(Duration::from_secs(5)).await;
    got.sort_by_key(|r| (r.partition, r.offset));
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gregor_producer_to_gregor_consumer_every_codec() {
    let cluster = MockCluster::builder().brokers(3).start().await.unwrap();
    for codec in CODECS {
        let topic = format!("g-{codec}");
        cluster.create_topic(&topic, 1);
        let s = ProducerConfig::from_map([("bootstrap.servers", cluster.bootstrap_servers().as_str()), ("compression.type", codec)])
            .unwrap();
        let p = Producer::new(s).unwrap();
        let mut acks = Vec::new();
        for i in 0..N {
            let mut r = ProducerRecord::new(&topic).key(format!("key-{i}")).header("h", Some(Bytes::from(format!("{i}"))));
            if i % 10 != 0 {
                r = r.value(format!("value-{i}-{}", "x".repeat(i % 50)));
            }
            acks.push(p.send(r).await.unwrap());
        }
        for a in acks {
            a.await.unwrap();
        }
        p.close(Duration::from_secs(5)).await.unwrap();
        let got = read_all(&cluster, &topic, N).await;
        assert_eq!(got.len(), N, "{codec}");
        for (i, r) in got.iter().enumerate() {
            assert_eq!(r.offset, i as i64, "{codec}");
            assert_eq!(r.key_str(), Some(format!("key-{i}").as_str()), "{codec}");
            if i % 10 == 0 {
                assert_eq!(r.value, None, "{codec}: null value survives");
            } else {
                assert_eq!(r.value_str(), Some(format!("value-{i}-{}", "x".repeat(i % 50)).as_str()), "{codec}");
            }
            assert_eq!(r.headers.len(), 1);
            assert_eq!(r.headers[0].value.as_deref(), Some(format!("{i}").as_bytes()));
        }
        let batches = cluster.batches(&topic, 0);
        assert!(batches.len() < N, "{codec}: records were batched ({} batches)", batches.len());
        if codec != "none" {
            // attributes (int16 at offset 21 of a v2 batch) carry the codec in the low 3 bits
            let attr = i16::from_be_bytes([batches[0][21], batches[0][22]]) & 7;
            assert_ne!(attr, 0, "{codec}: the stored batch is compressed");
        }
    }
    cluster.shutdown().await;
}

fn python() -> Option<String> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/setup-python.sh");
    let out = Command::new("bash").arg(script).output().ok()?;
    if !out.status.success() {
        return None;
    }
    Some(String::from_utf8_lossy(&out.stdout).lines().last()?.trim().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn librdkafka_producer_to_gregor_consumer_every_codec() {
    let Some(py) = python() else {
        panic!("scripts/setup-python.sh failed: confluent-kafka is needed for this test");
    };
    let cluster = MockCluster::builder().brokers(3).start().await.unwrap();
    let code = r#"
import sys
from confluent_kafka import Producer
bootstrap, n = sys.argv[1], int(sys.argv[2])
for codec in sys.argv[3:]:
    p = Producer({"bootstrap.servers": bootstrap, "compression.type": codec, "linger.ms": 20})
    for i in range(n):
        p.produce("r-" + codec, key=f"key-{i}".encode(), value=None if i % 10 == 0 else f"value-{i}".encode(),
                  headers=[("h", str(i).encode())], partition=0)
    assert p.flush(30) == 0
"#;
    for codec in CODECS {
        cluster.create_topic(&format!("r-{codec}"), 1);
    }
    let mut args = vec!["-c".to_string(), code.to_string(), cluster.bootstrap_servers(), N.to_string()];
    args.extend(CODECS.iter().map(|c| c.to_string()));
    // Run the blocking producer off the runtime so the mock keeps serving.
    let out = tokio::task::spawn_blocking(move || Command::new(py).args(args).output().unwrap()).await.unwrap();
    assert!(out.status.success(), "librdkafka producer failed: {}", String::from_utf8_lossy(&out.stderr));
    for codec in CODECS {
        let topic = format!("r-{codec}");
        let got = read_all(&cluster, &topic, N).await;
        for (i, r) in got.iter().enumerate() {
            assert_eq!(r.key_str(), Some(format!("key-{i}").as_str()), "{codec}");
            let want = (i % 10 != 0).then(|| format!("value-{i}"));
            assert_eq!(r.value_str().map(str::to_string), want, "{codec}");
            assert_eq!(r.headers[0].value.as_deref(), Some(i.to_string().as_bytes()), "{codec}");
        }
    }
    cluster.shutdown().await;
}
