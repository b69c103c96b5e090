//! Hostile brokers: every malformed response gregor-mock can produce, on a Fetch and on a
//! Metadata. The consumer must never panic, must close the socket that carried the bad bytes
//! (counted from the broker side), open a new one and carry on, or report a clear error where
//! the data itself is bad (CRC, decompression bomb) — and memory must stay bounded.

use std::time::Duration;

use gregor::{CloseReason, ConnectionEventKind, Consumer, ConsumerConfig, ErrorKind, TopicPartition};
use gregor_mock::{Malformed, MockCluster};

const WAIT: Duration = Duration::from_secs(30);
const FETCH: i16 = 1;
const METADATA: i16 = 3;

async fn setup() -> (MockCluster, Consumer) {
    let cluster = MockCluster::builder().brokers(1).topic("t", 1).start().await.unwrap();
    cluster.append_records("t", 0, &[("k", "v0"), ("k", "v1"), ("k", "v2")]).unwrap();
    let boot = cluster.broker_addr(0).unwrap();
    let config = ConsumerConfig::builder()
        .bootstrap_servers(format!("127.0.0.1:{}", boot.port()))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .build()
        .unwrap();
    let consumer = Consumer::new(config).unwrap();
    consumer.assign([TopicPartition::new("t", 0)]).unwrap();
    (cluster, consumer)
}

/// Polls until `want` records arrived; returns the errors poll reported on the way.
async fn consume(consumer: &Consumer, want: usize) -> Vec<gregor::Error> {
    let mut got = 0;
    let mut errors = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    while got < want {
        assert!(tokio::time::Instant::now() < deadline, "only {got} of {want} records; errors: {errors:?}");
        match consumer.poll(Duration::from_millis(200)).await {
            Ok(r) => got += r.len(),
            Err(e) => errors.push(e),
        }
    }
    errors
}

/// The consumer recovers from a broken response on a socket: that socket is closed (broker
/// side), a new one is opened, and all records still arrive.
async fn recovers_after(kind: Malformed, api: i16) {
    let (cluster, consumer) = setup().await;
    let mut events = consumer.connection_events();
    cluster.inject_malformed(Some(0), Some(api), kind);
    let errors = consume(&consumer, 3).await;
    for e in &errors {
        // Anything surfaced must name the broker.
        assert!(e.broker().is_some() || e.to_string().contains("127.0.0.1"), "{kind:?}: {e}");
    }
    // The socket that carried the bad response is closed and another one serves the rest.
    cluster
        .wait_until(|c| c.iter().any(|r| r.closed_at.is_some()) && c.iter().any(|r| r.is_open()), WAIT)
        .await
        .unwrap_or_else(|_| panic!("{kind:?}: no closed + reopened socket: {:?}", cluster.connections().len()));
    let conns = cluster.connections();
    assert!(conns.len() >= 2, "{kind:?}: a new socket was opened");
    // The client explains the close, naming the endpoint.
    let mut explained = false;
    while let Some(ev) = events.try_recv() {
        if let ConnectionEventKind::Closed(r) = ev.kind {
            if matches!(r, CloseReason::Error | CloseReason::BrokerClosed) {
                assert!(ev.endpoint.contains("127.0.0.1"), "{ev:?}");
                explained = true;
            }
        }
    }
    assert!(explained, "{kind:?}: no close event with a reason");
    consumer.close(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_frame_on_fetch() {
    recovers_after(Malformed::OversizedLength, FETCH).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_frame_on_fetch() {
    recovers_after(Malformed::TruncatedThenHangUp, FETCH).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_correlation_id_on_fetch() {
    recovers_after(Malformed::WrongCorrelationId, FETCH).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_bytes_on_fetch() {
    recovers_after(Malformed::RandomBytes, FETCH).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hang_up_on_fetch() {
    recovers_after(Malformed::HangUp, FETCH).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_frame_on_metadata() {
    recovers_after(Malformed::OversizedLength, METADATA).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_bytes_on_metadata() {
    recovers_after(Malformed::RandomBytes, METADATA).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_frame_on_metadata() {
    recovers_after(Malformed::TruncatedThenHangUp, METADATA).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_crc_is_a_corrupt_record_error_naming_the_partition() {
    let (cluster, consumer) = setup().await;
    cluster.inject_malformed(Some(0), Some(FETCH), Malformed::BadCrc);
    let deadline = tokio::time::Instant::now() + WAIT;
    let err = loop {
        assert!(tokio::time::Instant::now() < deadline, "no CRC error surfaced");
        match consumer.poll(Duration::from_millis(200)).await {
            Err(e) => break e,
            Ok(r) => assert!(r.is_empty(), "records from a corrupt batch were delivered"),
        }
    };
    assert_eq!(err.kind(), ErrorKind::CorruptRecord, "{err}");
    assert!(err.to_string().contains("t-0"), "names the partition: {err}");
    consumer.close(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decompression_bomb_is_stopped_at_the_cap() {
    let (cluster, consumer) = setup().await;
    cluster.inject_malformed(Some(0), Some(FETCH), Malformed::DecompressionBomb);
    let deadline = tokio::time::Instant::now() + WAIT;
    let err = loop {
        assert!(tokio::time::Instant::now() < deadline, "the bomb was not reported");
        match consumer.poll(Duration::from_millis(200)).await {
            Err(e) => break e,
            Ok(r) => assert!(r.is_empty(), "records from the bomb were delivered"),
        }
    };
    // The records layer stops inflating at its cap (64 MiB by default, far below the bomb's
    // 256 MiB): the error says so rather than the process running out of memory.
    assert_eq!(err.kind(), ErrorKind::CorruptRecord, "{err}");
    let text = err.to_string();
    assert!(text.contains("t-0"), "{text}");
    assert!(text.contains("decompress") || text.contains("cap") || text.contains("large"), "{text}");
    consumer.close(Duration::from_secs(5)).await;
}

/// A broker that speaks ApiVersions correctly, then answers every Metadata request with a
/// 10-byte body announcing four billion brokers. kafka-protocol would preallocate hundreds of
/// GiB for that and abort the process; gregor's guard rejects the body first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_array_count_in_a_tiny_metadata_frame_does_not_abort() {
    use bytes::{Buf, BufMut, BytesMut};
    use kafka_protocol::messages::api_versions_response::ApiVersion;
    use kafka_protocol::messages::{ApiVersionsResponse, ResponseHeader};
    use kafka_protocol::protocol::Encodable;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hostile_answers = Arc::new(AtomicUsize::new(0));
    let answered = hostile_answers.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let answered = answered.clone();
            tokio::spawn(async move {
                loop {
                    let mut len = [0u8; 4];
                    if s.read_exact(&mut len).await.is_err() {
                        return;
                    }
                    let mut req = vec![0u8; u32::from_be_bytes(len) as usize];
                    if s.read_exact(&mut req).await.is_err() {
                        return;
                    }
                    let mut r = &req[..];
                    let (key, version, cid) = (r.get_i16(), r.get_i16(), r.get_i32());
                    let mut body = BytesMut::new();
                    if key == 18 {
                        ResponseHeader::default().with_correlation_id(cid).encode(&mut body, 0).unwrap();
                        let v = ApiVersionsResponse::default().with_api_keys(vec![
                            ApiVersion::default().with_api_key(18).with_min_version(0).with_max_version(3),
                            ApiVersion::default().with_api_key(3).with_min_version(0).with_max_version(12),
                        ]);
                        v.encode(&mut body, version).unwrap();
                    } else {
                        // Metadata v12 (flexible): header v1 (id + empty tags), throttle, then
                        // a brokers compact array whose count is 0xFFFF_FFFE.
                        body.put_i32(cid);
                        body.put_u8(0);
                        body.put_i32(0);
                        body.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
                        answered.fetch_add(1, Ordering::SeqCst);
                    }
                    let mut frame = BytesMut::new();
                    frame.put_i32(body.len() as i32);
                    frame.extend_from_slice(&body);
                    if s.write_all(&frame).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    let config = ConsumerConfig::builder()
        .bootstrap_servers(format!("127.0.0.1:{port}"))
        .set("default.api.timeout.ms", "1000")
        .build()
        .unwrap();
    let consumer = Consumer::new(config).unwrap();
    // Still alive to see the error: the process did not abort.
    let err = consumer.partitions_for("t").await.unwrap_err();
    assert!(hostile_answers.load(Ordering::SeqCst) >= 1, "the hostile body was sent: {err}");
    let chain = format!("{err} {:?}", err);
    assert!(chain.contains("cannot fit"), "the guard rejected it: {chain}");
    consumer.close(Duration::from_secs(5)).await;
}
