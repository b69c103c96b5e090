//! Every fault, asserted on the wire.

mod common;

use std::io::Read;
use std::time::{Duration, Instant};

use bytes::Buf;
use common::*;
use gregor_mock::{Malformed, MockCluster};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::*;

async fn cluster() -> MockCluster {
    MockCluster::builder()
        .brokers(3)
        .topic("t", 3)
        .start()
        .await
        .unwrap()
}

fn fetch_req(partition: i32, max_wait_ms: i32) -> FetchRequest {
    FetchRequest::default()
        .with_max_wait_ms(max_wait_ms)
        .with_min_bytes(1)
        .with_session_epoch(-1)
        .with_topics(vec![FetchTopic::default()
            .with_topic(TopicName(sb("t")))
            .with_partitions(vec![FetchPartition::default()
                .with_partition(partition)
                .with_fetch_offset(0)
                .with_partition_max_bytes(1 << 20)
                .with_current_leader_epoch(-1)])])
}

fn metadata() -> MetadataRequest {
    MetadataRequest::default().with_topics(Some(vec![
        MetadataRequestTopic::default().with_name(Some(TopicName(sb("t"))))
    ]))
}

#[tokio::test]
async fn broker_down_refuses_connects_and_drops_live_sockets_then_up_again() {
    let c = cluster().await;
    let addr = c.broker_addr(1).unwrap();
    let mut live = RawClient::connect(addr).await;
    live.call(&ApiVersionsRequest::default(), 0).await;
    c.broker_down(1).await;
    assert!(live.closed_by_peer().await, "live socket dropped");
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "connect refused while down"
    );
    assert!(c.open_connections().iter().all(|r| r.broker_id != 1));
    // Metadata from another broker no longer lists it; its partitions have no leader.
    let mut other = RawClient::connect(c.broker_addr(0).unwrap()).await;
    let md = other.call(&metadata(), 12).await;
    assert_eq!(md.brokers.len(), 2);
    let p1 = md.topics[0]
        .partitions
        .iter()
        .find(|p| p.partition_index == 1)
        .unwrap();
    assert_eq!(
        (p1.error_code, p1.leader_id.0),
        (5, -1),
        "LEADER_NOT_AVAILABLE"
    );
    c.broker_up(1).await.unwrap();
    let mut again = RawClient::connect(addr).await;
    assert_eq!(
        again
            .call(&ApiVersionsRequest::default(), 0)
            .await
            .error_code,
        0
    );
}

#[tokio::test]
async fn move_leader_bumps_epoch_and_old_leader_says_not_leader() {
    let c = cluster().await;
    let old = c.partition_leader("t", 0).unwrap();
    let new = (old + 1) % 3;
    c.move_leader("t", 0, new);
    assert_eq!(c.partition_leader("t", 0), Some(new));
    let mut cl = RawClient::connect(c.broker_addr(old).unwrap()).await;
    let resp = cl.call(&fetch_req(0, 0), 12).await;
    let p = &resp.responses[0].partitions[0];
    assert_eq!(
        (
            p.error_code,
            p.current_leader.leader_id.0,
            p.current_leader.leader_epoch
        ),
        (6, new, 1)
    );
    let md = cl.call(&metadata(), 12).await;
    let p0 = &md.topics[0].partitions[0];
    assert_eq!((p0.leader_id.0, p0.leader_epoch), (new, 1));
    // A fetch with the old epoch at the new leader is fenced.
    let mut nl = RawClient::connect(c.broker_addr(new).unwrap()).await;
    let mut req = fetch_req(0, 0);
    req.topics[0].partitions[0].current_leader_epoch = 0;
    assert_eq!(
        nl.call(&req, 12).await.responses[0].partitions[0].error_code,
        74,
        "FENCED_LEADER_EPOCH"
    );
}

#[tokio::test]
async fn set_advertised_changes_metadata_and_find_coordinator() {
    let c = cluster().await;
    c.set_advertised(2, "broker-two.example", 19092);
    c.set_coordinator("g", 2);
    assert!(c.bootstrap_servers().contains("broker-two.example:19092"));
    let mut cl = RawClient::connect(c.broker_addr(0).unwrap()).await;
    let md = cl.call(&metadata(), 12).await;
    let b2 = md.brokers.iter().find(|b| b.node_id.0 == 2).unwrap();
    assert_eq!((b2.host.as_str(), b2.port), ("broker-two.example", 19092));
    let fc = cl
        .call(&FindCoordinatorRequest::default().with_key(sb("g")), 3)
        .await;
    assert_eq!((fc.host.as_str(), fc.port), ("broker-two.example", 19092));
}

#[tokio::test]
async fn latency_per_broker_and_per_api_key() {
    let c = cluster().await;
    let delay = Duration::from_millis(300);
    c.set_latency(Some(0), Some(3), delay);
    let mut b0 = RawClient::connect(c.broker_addr(0).unwrap()).await;
    let t = Instant::now();
    b0.call(&metadata(), 12).await;
    assert!(t.elapsed() >= delay, "metadata on broker 0 delayed");
    // Same API on another broker, or another API on broker 0: no latency rule applies. (Only
    // the lower bound is asserted; these just exercise the filters.)
    let mut b1 = RawClient::connect(c.broker_addr(1).unwrap()).await;
    b1.call(&metadata(), 12).await;
    c.set_latency(None, Some(18), delay);
    let t = Instant::now();
    b1.call(&ApiVersionsRequest::default(), 0).await;
    assert!(t.elapsed() >= delay, "ApiVersions delayed on every broker");
}

#[tokio::test]
async fn inject_errors_answers_next_n_requests_with_the_code() {
    let c = cluster().await;
    c.inject_errors(10, 15, 2);
    let mut cl = RawClient::connect(c.broker_addr(0).unwrap()).await;
    let fc = || FindCoordinatorRequest::default().with_key(sb("g"));
    assert_eq!(cl.call(&fc(), 3).await.error_code, 15);
    assert_eq!(cl.call(&fc(), 3).await.error_code, 15);
    assert_eq!(cl.call(&fc(), 3).await.error_code, 0);
    // A failed produce has no side effects.
    let leader = c.partition_leader("t", 1).unwrap();
    let mut p = RawClient::connect(c.broker_addr(leader).unwrap()).await;
    c.inject_errors(0, 6, 1);
    let req = ProduceRequest::default().with_acks(1).with_topic_data(vec![
        kafka_protocol::messages::produce_request::TopicProduceData::default()
            .with_name(TopicName(sb("t")))
            .with_partition_data(vec![
                kafka_protocol::messages::produce_request::PartitionProduceData::default()
                    .with_index(1)
                    .with_records(Some(batch(&[("k", "v")]))),
            ]),
    ]);
    assert_eq!(
        p.call(&req, 9).await.responses[0].partition_responses[0].error_code,
        6
    );
    assert_eq!(c.high_watermark("t", 1), Some(0));
    assert_eq!(
        p.call(&req, 9).await.responses[0].partition_responses[0].error_code,
        0
    );
    // Fetch: top-level error (v7+).
    c.inject_errors(1, 70, 1);
    assert_eq!(p.call(&fetch_req(1, 0), 12).await.error_code, 70);
}

#[tokio::test]
async fn drop_connection_at_nth_request() {
    let c = cluster().await;
    c.drop_connection_at(2, 3);
    let mut cl = RawClient::connect(c.broker_addr(2).unwrap()).await;
    cl.call(&ApiVersionsRequest::default(), 0).await;
    cl.call(&metadata(), 12).await;
    cl.send(&metadata(), 12).await;
    assert!(cl.closed_by_peer().await);
    c.wait_until(|cs| cs.iter().any(|r| !r.is_open()), WAIT)
        .await
        .unwrap();
    let rec = &c.connections()[0];
    assert_eq!(rec.requests.len(), 3);
    // One-shot: a new connection survives its third request.
    let mut cl = RawClient::connect(c.broker_addr(2).unwrap()).await;
    for _ in 0..4 {
        cl.call(&ApiVersionsRequest::default(), 0).await;
    }
}

async fn malformed_client(c: &MockCluster, kind: Malformed) -> (RawClient, i32) {
    c.inject_malformed(Some(0), Some(18), kind);
    let mut cl = RawClient::connect(c.broker_addr(0).unwrap()).await;
    let corr = cl.send(&ApiVersionsRequest::default(), 0).await;
    (cl, corr)
}

#[tokio::test]
async fn malformed_oversized_length_prefix() {
    let c = cluster().await;
    let (mut cl, _) = malformed_client(&c, Malformed::OversizedLength).await;
    let mut len = [0u8; 4];
    tokio::io::AsyncReadExt::read_exact(&mut cl.sock, &mut len)
        .await
        .unwrap();
    assert!(i32::from_be_bytes(len) > 1 << 30, "about 2 GiB");
}

#[tokio::test]
async fn malformed_truncated_frame_then_hang_up() {
    let c = cluster().await;
    let (mut cl, _) = malformed_client(&c, Malformed::TruncatedThenHangUp).await;
    let mut all = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(&mut cl.sock, &mut all)
        .await
        .unwrap();
    let declared = i32::from_be_bytes(all[..4].try_into().unwrap()) as usize;
    assert!(
        all.len() - 4 < declared,
        "fewer bytes than the length prefix promised, then EOF"
    );
}

#[tokio::test]
async fn malformed_wrong_correlation_id_random_bytes_and_hang_up() {
    let c = cluster().await;
    let (mut cl, corr) = malformed_client(&c, Malformed::WrongCorrelationId).await;
    let mut f = cl.read_frame().await.unwrap();
    assert_ne!(f.get_i32(), corr);
    let (mut cl, _) = malformed_client(&c, Malformed::RandomBytes).await;
    assert_eq!(cl.read_frame().await.unwrap().len(), 64);
    let (mut cl, _) = malformed_client(&c, Malformed::HangUp).await;
    assert!(cl.closed_by_peer().await);
    // Rules are one-shot: the next ApiVersions is normal.
    let mut ok = RawClient::connect(c.broker_addr(0).unwrap()).await;
    assert_eq!(
        ok.call(&ApiVersionsRequest::default(), 0).await.error_code,
        0
    );
}

#[tokio::test]
async fn malformed_fetch_bad_crc_and_decompression_bomb() {
    let c = cluster().await;
    let leader = c.partition_leader("t", 0).unwrap();
    c.append_records("t", 0, &[("k", "v")]).unwrap();
    let mut cl = RawClient::connect(c.broker_addr(leader).unwrap()).await;
    c.inject_malformed(None, None, Malformed::BadCrc);
    let r = cl.call(&fetch_req(0, 0), 12).await;
    let rec = r.responses[0].partitions[0].records.clone().unwrap();
    let stored_crc = u32::from_be_bytes(rec[17..21].try_into().unwrap());
    assert_ne!(crc32c::crc32c(&rec[21..]), stored_crc, "CRC must not match");
    // Next fetch is clean again.
    let r = cl.call(&fetch_req(0, 0), 12).await;
    let rec = r.responses[0].partitions[0].records.clone().unwrap();
    assert_eq!(
        crc32c::crc32c(&rec[21..]),
        u32::from_be_bytes(rec[17..21].try_into().unwrap())
    );

    c.inject_malformed(Some(leader), Some(1), Malformed::DecompressionBomb);
    let r = cl.call(&fetch_req(0, 0), 12).await;
    let rec = r.responses[0].partitions[0].records.clone().unwrap();
    assert_eq!(
        i16::from_be_bytes([rec[21], rec[22]]) & 7,
        1,
        "gzip attribute"
    );
    assert_eq!(
        crc32c::crc32c(&rec[21..]),
        u32::from_be_bytes(rec[17..21].try_into().unwrap()),
        "valid CRC"
    );
    assert!(
        rec.len() < 1 << 20,
        "small on the wire: {} bytes",
        rec.len()
    );
    let mut inflated = 0u64;
    let mut d = flate2::read::GzDecoder::new(&rec[61..]);
    let mut buf = vec![0u8; 1 << 20];
    while inflated < 64 << 20 {
        let n = d.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        inflated += n as u64;
    }
    assert!(
        inflated >= 64 << 20,
        "inflates hugely (read {inflated} bytes before stopping)"
    );
}
