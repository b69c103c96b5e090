//! The producer against the embedded mock cluster: batching, partitioning, compression, acks,
//! retries and the sockets it opens.

mod common;

use std::time::Duration;

use bytes::Bytes;
use gregor::{ErrorKind, Producer, ProducerConfig, ProducerRecord, RecordMetadata};
use gregor_mock::MockCluster;

const PRODUCE: i16 = 0;
const WAIT: Duration = Duration::from_secs(30);

/// Keys with the partition Java's default partitioner gives them among 6 partitions
/// (printed by kafka-clients 4.3.1's `Utils.murmur2`; also pinned in the unit tests).
const JAVA_KEYS_OF_6: &[(&str, i32)] = &[
    ("21", 0),
    ("foobar", 0),
    ("a-little-bit-long-string", 2),
    ("a-little-bit-longer-string", 5),
    ("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", 5),
    ("abc", 3),
    ("k", 2),
    ("key-0", 1),
    ("key-1", 0),
    ("key-12345", 3),
];

async fn cluster(topic: &str, partitions: i32) -> MockCluster {
    MockCluster::builder().brokers(3).topic(topic, partitions).start().await.expect("mock cluster")
}

fn settings(mock: &MockCluster) -> ProducerConfig {
    ProducerConfig::from_map([("bootstrap.servers", mock.bootstrap_servers().as_str()), ("client.id", "producer-test")])
        .unwrap()
}

async fn send_all(p: &Producer, records: Vec<ProducerRecord>) -> Vec<RecordMetadata> {
    let mut futures = Vec::new();
    for r in records {
        futures.push(p.send(r).await.expect("send"));
    }
    let mut out = Vec::new();
    for f in futures {
        out.push(tokio::time::timeout(WAIT, f).await.expect("delivered in time").expect("delivered"));
    }
    out
}

fn total_hw(mock: &MockCluster, topic: &str, partitions: i32) -> i64 {
    (0..partitions).map(|p| mock.high_watermark(topic, p).unwrap_or(0)).sum()
}

/// The compression codec id in a stored batch's attributes.
fn codec_of(batch: &Bytes) -> i16 {
    i16::from_be_bytes([batch[21], batch[22]]) & 7
}

#[tokio::test]
async fn keyed_records_land_on_javas_murmur2_partitions_with_every_compression() {
    let mock = cluster("unused", 1).await;
    for (name, codec) in [("none", 0), ("gzip", 1), ("snappy", 2), ("lz4", 3), ("zstd", 4)] {
        let topic = format!("keyed-{name}");
        assert!(mock.create_topic(&topic, 6));
        let mut s = settings(&mock);
        s.set("compression.type", name).unwrap();
        let p = Producer::new(s).unwrap();
        let rounds = 30;
        let mut records = Vec::new();
        for i in 0..rounds {
            for (k, _) in JAVA_KEYS_OF_6 {
                records.push(ProducerRecord::new(&topic).key(*k).value(format!("value {i} of {k} ").repeat(8)));
            }
        }
        let n = records.len() as i64;
        let metas = send_all(&p, records).await;
        for (i, m) in metas.iter().enumerate() {
            let (key, want) = JAVA_KEYS_OF_6[i % JAVA_KEYS_OF_6.len()];
            assert_eq!(m.partition, want, "{name}: key {key:?}");
            assert!(m.offset >= 0, "{name}: acks=all reports offsets");
        }
        assert_eq!(total_hw(&mock, &topic, 6), n, "{name}: every record written once");
        let mut expected_per_partition = [0i64; 6];
        for (_, p) in JAVA_KEYS_OF_6 {
            expected_per_partition[*p as usize] += rounds;
        }
        for (part, want) in expected_per_partition.iter().enumerate() {
            assert_eq!(mock.high_watermark(&topic, part as i32), Some(*want), "{name}: partition {part}");
        }
        let batches: Vec<Bytes> = (0..6).flat_map(|part| mock.batches(&topic, part)).collect();
        assert!(batches.iter().all(|b| codec_of(b) == codec), "{name}: codec id {codec} on every batch");
        assert!((batches.len() as i64) < n, "{name}: records were batched ({} batches for {n})", batches.len());
        p.close(WAIT).await.unwrap();
    }
}

#[tokio::test]
async fn offsets_are_consecutive_within_a_partition() {
    let mock = cluster("t", 1).await;
    let p = Producer::new(settings(&mock)).unwrap();
    let metas = send_all(&p, (0..100).map(|i| ProducerRecord::new("t").value(format!("v{i}"))).collect()).await;
    assert_eq!(metas.iter().map(|m| m.offset).collect::<Vec<_>>(), (0..100).collect::<Vec<_>>());
    p.close(WAIT).await.unwrap();
}

#[tokio::test]
async fn acks_zero_writes_every_record_without_offsets() {
    let mock = cluster("t", 3).await;
    let mut s = settings(&mock);
    s.set("acks", "0").unwrap();
    let p = Producer::new(s).unwrap();
    let metas = send_all(&p, (0..300).map(|i| ProducerRecord::new("t").key(format!("k{i}")).value("v")).collect()).await;
    assert!(metas.iter().all(|m| m.offset == -1), "no response, no offset");
    mock.wait_for(|m| total_hw(m, "t", 3) == 300, WAIT).await.expect("all 300 records reach the brokers");
    p.close(WAIT).await.unwrap();
}

#[tokio::test]
async fn no_socket_before_the_first_send_then_one_per_leader_with_bootstrap_adopted() {
    let mock = cluster("t", 6).await;
    let p = Producer::new(settings(&mock)).unwrap();
    tokio::task::yield_now().await;
    assert!(mock.connections().is_empty(), "Producer::new opens nothing");
    let records = (0..600).map(|i| ProducerRecord::new("t").key(format!("key-{i}")).value("v")).collect();
    send_all(&p, records).await;
    let conns = mock.connections();
    let mut brokers: Vec<i32> = conns.iter().map(|c| c.broker_id).collect();
    brokers.sort();
    assert_eq!(brokers, vec![0, 1, 2], "one socket per leader, the bootstrap one adopted: {conns:?}");
    p.close(WAIT).await.unwrap();
    mock.wait_until(|c| c.iter().all(|r| !r.is_open()), WAIT).await.expect("close() closes every socket");
}

#[tokio::test]
async fn one_produce_request_per_broker_carries_all_its_partitions() {
    let mock = cluster("t", 6).await;
    let mut s = settings(&mock);
    // Nothing leaves before flush(): then every batch is ready at once.
    s.linger = Duration::from_secs(600);
    let p = Producer::new(s).unwrap();
    let mut futures = Vec::new();
    for part in 0..6 {
        for i in 0..5 {
            futures.push(p.send(ProducerRecord::new("t").partition(part).value(format!("{i}"))).await.unwrap());
        }
    }
    assert_eq!(mock.connections().iter().map(|c| c.count(PRODUCE)).sum::<usize>(), 0, "lingering");
    tokio::time::timeout(WAIT, p.flush()).await.expect("flush completes without waiting for linger");
    for f in futures {
        f.await.unwrap();
    }
    for broker in 0..3 {
        let produces: usize = mock.connections().iter().filter(|c| c.broker_id == broker).map(|c| c.count(PRODUCE)).sum();
        assert_eq!(produces, 1, "broker {broker} leads 2 partitions and got one request for both");
    }
    for part in 0..6 {
        assert_eq!(mock.high_watermark("t", part), Some(5));
        assert_eq!(mock.batches("t", part).len(), 1, "one batch per partition");
    }
    p.close(WAIT).await.unwrap();
}

#[tokio::test]
async fn unkeyed_records_stick_to_one_partition_per_batch() {
    let mock = cluster("t", 4).await;
    let mut s = settings(&mock);
    s.linger = Duration::from_secs(600);
    s.batch_size = 1_000_000;
    let p = Producer::new(s).unwrap();
    let mut futures = Vec::new();
    for i in 0..50 {
        futures.push(p.send(ProducerRecord::new("t").value(format!("v{i}"))).await.unwrap());
    }
    p.flush().await;
    let mut parts = Vec::new();
    for f in futures {
        parts.push(f.await.unwrap().partition);
    }
    parts.dedup();
    assert_eq!(parts.len(), 1, "under batch.size bytes, all unkeyed records go to one partition");
    p.close(WAIT).await.unwrap();
}

#[tokio::test]
async fn not_leader_refreshes_metadata_and_retries_to_the_new_leader() {
    let mock = cluster("t", 1).await;
    let p = Producer::new(settings(&mock)).unwrap();
    let first = send_all(&p, vec![ProducerRecord::new("t").value("a")]).await;
    let old = mock.partition_leader("t", 0).unwrap();
    let new = (old + 1) % 3;
    mock.move_leader("t", 0, new);
    let second = send_all(&p, vec![ProducerRecord::new("t").value("b")]).await;
    assert_eq!((first[0].offset, second[0].offset), (0, 1));
    let produces_to = |b: i32| -> usize {
        mock.connections().iter().filter(|c| c.broker_id == b).map(|c| c.count(PRODUCE)).sum()
    };
    assert_eq!(produces_to(old), 2, "first record, then the attempt that got NOT_LEADER_OR_FOLLOWER");
    assert_eq!(produces_to(new), 1, "the retry went to the new leader");
    p.close(WAIT).await.unwrap();
}

#[tokio::test]
async fn retriable_errors_are_retried_and_fatal_ones_reported() {
    let mock = cluster("t", 1).await;
    let p = Producer::new(settings(&mock)).unwrap();
    // NOT_ENOUGH_REPLICAS (19) is retriable: two failures, then success.
    mock.inject_errors(PRODUCE, 19, 2);
    let m = send_all(&p, vec![ProducerRecord::new("t").value("x")]).await;
    assert_eq!(m[0].offset, 0);
    assert_eq!(mock.high_watermark("t", 0), Some(1), "written once");
    // INVALID_RECORD (87) is not.
    mock.inject_errors(PRODUCE, 87, 1);
    let f = p.send(ProducerRecord::new("t").value("y")).await.unwrap();
    let e = tokio::time::timeout(WAIT, f).await.unwrap().unwrap_err();
    assert_eq!(e.code(), Some(87), "{e}");
    p.close(WAIT).await.unwrap();
}

#[tokio::test]
async fn retries_zero_fails_on_the_first_retriable_error() {
    let mock = cluster("t", 1).await;
    let mut s = settings(&mock);
    s.retries = 0;
    let p = Producer::new(s).unwrap();
    mock.inject_errors(PRODUCE, 19, 1);
    let f = p.send(ProducerRecord::new("t").value("x")).await.unwrap();
    let e = tokio::time::timeout(WAIT, f).await.unwrap().unwrap_err();
    assert_eq!(e.code(), Some(19));
    p.close(WAIT).await.unwrap();
}

#[tokio::test]
async fn unknown_topic_fails_after_max_block() {
    let mock = cluster("t", 1).await;
    let mut s = settings(&mock);
    s.max_block = Duration::from_millis(300);
    let p = Producer::new(s).unwrap();
    let e = p.send(ProducerRecord::new("missing").value("x")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::UnknownTopic, "{e}");
    let e = p.send(ProducerRecord::new("t").partition(5).value("x")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::UnknownTopic, "partition 5 of a 1-partition topic: {e}");
    p.close(WAIT).await.unwrap();
}

#[tokio::test]
async fn records_larger_than_max_request_size_are_rejected_before_sending() {
    let mock = cluster("t", 1).await;
    let mut s = settings(&mock);
    s.max_request_size = 1000;
    let p = Producer::new(s).unwrap();
    let e = p.send(ProducerRecord::new("t").value(vec![0u8; 2000])).await.unwrap_err();
    assert_eq!(e.code(), Some(10), "MESSAGE_TOO_LARGE: {e}");
    assert!(mock.connections().is_empty(), "rejected without any I/O");
}

#[tokio::test]
async fn headers_timestamps_and_null_values_are_kept() {
    let mock = cluster("t", 1).await;
    let p = Producer::new(settings(&mock)).unwrap();
    let r = ProducerRecord::new("t").key("k").header("h1", Some(Bytes::from_static(b"v1"))).header("h2", None).timestamp(1234);
    let m = send_all(&p, vec![r]).await;
    assert_eq!(m[0].timestamp, 1234);
    let batch = &mock.batches("t", 0)[0];
    assert_eq!(i64::from_be_bytes(batch[27..35].try_into().unwrap()), 1234, "base timestamp");
    let raw = &batch[61..];
    assert!(raw.windows(2).any(|w| w == b"h1") && raw.windows(2).any(|w| w == b"v1"));
    p.close(WAIT).await.unwrap();
}

#[tokio::test]
async fn send_after_close_fails_and_close_closes_sockets() {
    let mock = cluster("t", 1).await;
    let p = Producer::new(settings(&mock)).unwrap();
    send_all(&p, vec![ProducerRecord::new("t").value("x")]).await;
    p.close(WAIT).await.unwrap();
    let e = p.send(ProducerRecord::new("t").value("y")).await.unwrap_err();
    assert!(e.is_closed());
    mock.wait_until(|c| c.iter().all(|r| !r.is_open()), WAIT).await.expect("sockets closed");
}

#[tokio::test]
async fn dropping_the_producer_still_delivers_queued_records() {
    let mock = cluster("t", 2).await;
    let mut s = settings(&mock);
    s.linger = Duration::from_secs(600);
    let p = Producer::new(s).unwrap();
    let mut futures = Vec::new();
    for i in 0..10 {
        futures.push(p.send(ProducerRecord::new("t").key(format!("{i}")).value("v")).await.unwrap());
    }
    drop(p);
    for f in futures {
        tokio::time::timeout(WAIT, f).await.unwrap().unwrap();
    }
    assert_eq!(total_hw(&mock, "t", 2), 10);
}

#[tokio::test]
async fn leader_broker_down_retries_to_the_new_leader() {
    let mock = cluster("t", 1).await;
    let p = Producer::new(settings(&mock)).unwrap();
    send_all(&p, vec![ProducerRecord::new("t").value("a")]).await;
    let old = mock.partition_leader("t", 0).unwrap();
    let new = (old + 1) % 3;
    mock.broker_down(old).await;
    mock.move_leader("t", 0, new);
    let m = send_all(&p, vec![ProducerRecord::new("t").value("b")]).await;
    assert_eq!(m[0].offset, 1, "written once, at the new leader");
    let at_new: usize = mock.connections().iter().filter(|c| c.broker_id == new).map(|c| c.count(PRODUCE)).sum();
    assert_eq!(at_new, 1);
    p.close(WAIT).await.unwrap();
}

#[tokio::test]
async fn producer_from_the_java_style_config() {
    let mock = cluster("t", 2).await;
    let config = gregor::ProducerConfig::from_map([
        ("bootstrap.servers", mock.bootstrap_servers().as_str()),
        ("compression.type", "lz4"),
        ("acks", "1"),
        ("client.id", "from-config"),
    ])
    .unwrap();
    let p = Producer::new(config).unwrap();
    assert!(mock.connections().is_empty(), "a new producer opens nothing");
    let metas = send_all(&p, (0..50).map(|i| ProducerRecord::new("t").key(format!("k{i}")).value("v")).collect()).await;
    assert!(metas.iter().all(|m| m.offset >= 0));
    assert_eq!(total_hw(&mock, "t", 2), 50);
    let batches: Vec<Bytes> = (0..2).flat_map(|part| mock.batches("t", part)).collect();
    assert!(batches.iter().all(|b| codec_of(b) == 3), "lz4 from compression.type");
    p.close(WAIT).await.unwrap();
}

#[tokio::test]
async fn send_waits_for_buffer_memory_and_fails_after_max_block() {
    let mock = cluster("t", 1).await;
    let mut s = settings(&mock);
    s.buffer_memory = 2_000;
    s.max_block = Duration::from_millis(200);
    s.linger = Duration::from_secs(600);
    let p = Producer::new(s).unwrap();
    let mut queued = Vec::new();
    let err = loop {
        match p.send(ProducerRecord::new("t").value(vec![b'x'; 300])).await {
            Ok(f) => queued.push(f),
            Err(e) => break e,
        }
        assert!(queued.len() < 10, "buffer.memory=2000 must stop 300-byte records well before 10");
    };
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(!queued.is_empty());
    p.flush().await;
    for f in queued {
        f.await.unwrap();
    }
    // Space is free again once the batches are acknowledged.
    let f = p.send(ProducerRecord::new("t").value(vec![b'x'; 300])).await.unwrap();
    p.flush().await;
    f.await.unwrap();
    p.close(WAIT).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_tasks_share_one_producer() {
    let mock = cluster("t", 6).await;
    let p = std::sync::Arc::new(Producer::new(settings(&mock)).unwrap());
    let mut tasks = Vec::new();
    for t in 0..4 {
        let p = p.clone();
        tasks.push(tokio::spawn(async move {
            let mut fs = Vec::new();
            for i in 0..250 {
                fs.push(p.send(ProducerRecord::new("t").key(format!("{t}-{i}")).value("v")).await.unwrap());
            }
            for f in fs {
                f.await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(total_hw(&mock, "t", 6), 1000);
    assert!(mock.connections().len() <= 3, "still one socket per leader");
    p.close(WAIT).await.unwrap();
}

/// A metadata refresh that hangs (on a loaded cluster a Metadata request can wait behind
/// acks=all Produce requests a broker holds until a dead follower leaves the ISR) must not hold
/// back the batches of partitions whose leaders are known: the sender refreshes beside its
/// sends, as Java's does. Before, the sender awaited the refresh, and every partition waited
/// up to request.timeout.ms with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_metadata_refresh_does_not_hold_back_partitions_with_known_leaders() {
    const METADATA: i16 = 3;
    const NOT_LEADER_OR_FOLLOWER: i16 = 6;
    common::init_tracing("error");
    let mock = cluster("m", 3).await;
    let p = Producer::new(
        ProducerConfig::from_map([
            ("bootstrap.servers", mock.bootstrap_servers().as_str()),
            ("request.timeout.ms", "600000"),
            ("delivery.timeout.ms", "1200000"),
        ])
        .unwrap(),
    )
    .unwrap();
    // Metadata known and a connection to every leader.
    send_all(&p, (0..3).map(|i| ProducerRecord::new("m").partition(i).value("warm")).collect()).await;
    let metadata_by_broker = || {
        let mut m = std::collections::BTreeMap::new();
        for c in mock.connections() {
            *m.entry(c.broker_id).or_insert(0usize) += c.count(METADATA);
        }
        m
    };
    let before = metadata_by_broker();
    // From now on a Metadata request takes 10 minutes (and holds its connection, as a broker
    // does); a refused Produce asks for one.
    mock.set_latency(None, Some(METADATA), Duration::from_secs(600));
    mock.inject_errors(PRODUCE, NOT_LEADER_OR_FOLLOWER, 1);
    let _waiting = p.send(ProducerRecord::new("m").partition(0).value("waits for metadata")).await.unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    let hanging_on = loop {
        let now = metadata_by_broker();
        if let Some((b, _)) = now.iter().find(|(b, n)| **n > before.get(*b).copied().unwrap_or(0)) {
            break *b;
        }
        assert!(tokio::time::Instant::now() < deadline, "the refused batch asks for metadata");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    // Another partition, led by another broker: its record goes while the refresh hangs.
    let other = (1..3).find(|i| mock.partition_leader("m", *i) != Some(hanging_on)).expect("a partition led elsewhere");
    let d = p.send(ProducerRecord::new("m").partition(other).value("goes")).await.unwrap();
    let md = tokio::time::timeout(WAIT, d).await.expect("not held back by the hanging metadata refresh").unwrap();
    assert_eq!(md.partition, other);
    mock.set_latency(None, Some(METADATA), Duration::ZERO);
    let _ = p.close(Duration::from_secs(1)).await;
}
