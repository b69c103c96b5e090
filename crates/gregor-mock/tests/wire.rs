//! Wire-level behaviour: ApiVersions, Metadata, Produce/Fetch, long poll, ordering, sessions,
//! ListOffsets and connection accounting.

mod common;

use bytes::{Buf, Bytes};
use common::*;
use gregor_mock::MockCluster;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic, ForgottenTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::Decodable;

async fn cluster() -> MockCluster {
    MockCluster::builder()
        .brokers(3)
        .topic("t", 6)
        .start()
        .await
        .unwrap()
}

fn fetch_req(topic: &str, partition: i32, offset: i64, max_wait_ms: i32) -> FetchRequest {
    FetchRequest::default()
        .with_max_wait_ms(max_wait_ms)
        .with_min_bytes(1)
        .with_session_epoch(-1)
        .with_topics(vec![FetchTopic::default()
            .with_topic(TopicName(sb(topic)))
            .with_partitions(vec![FetchPartition::default()
                .with_partition(partition)
                .with_fetch_offset(offset)
                .with_partition_max_bytes(1 << 20)])])
}

fn produce_req(topic: &str, partition: i32, records: Bytes, acks: i16) -> ProduceRequest {
    ProduceRequest::default()
        .with_acks(acks)
        .with_timeout_ms(5000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(TopicName(sb(topic)))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(partition)
                .with_records(Some(records))])])
}

#[tokio::test]
async fn api_versions_advertises_what_is_implemented_with_v0_response_header() {
    let c = cluster().await;
    let mut cl = RawClient::connect(c.broker_addr(0).unwrap()).await;
    // ApiVersions v3 is flexible, but its response header is always v0 (no tagged fields).
    let corr = cl
        .send(
            &ApiVersionsRequest::default()
                .with_client_software_name(sb("raw"))
                .with_client_software_version(sb("1")),
            3,
        )
        .await;
    let mut frame = cl.read_frame().await.unwrap();
    assert_eq!(frame.get_i32(), corr);
    let resp = ApiVersionsResponse::decode(&mut frame, 3).unwrap();
    assert_eq!(resp.error_code, 0);
    let adv: Vec<(i16, i16, i16)> = resp
        .api_keys
        .iter()
        .map(|k| (k.api_key, k.min_version, k.max_version))
        .collect();
    assert_eq!(adv, gregor_mock::advertised_versions());
    assert!(adv.contains(&(1, 4, 17)), "Fetch range {adv:?}");
}

#[tokio::test]
async fn too_new_api_versions_gets_unsupported_version_in_v0_layout() {
    let c = cluster().await;
    let mut cl = RawClient::connect(c.broker_addr(1).unwrap()).await;
    // Hand-made ApiVersions v9 request: key 18, version 9, corr 77, client id null, no tags.
    let mut body = vec![0, 18, 0, 9, 0, 0, 0, 77, 0xff, 0xff, 0];
    body.extend_from_slice(&[0, 0, 0]);
    cl.write_frame(&body).await;
    let mut frame = cl.read_frame().await.unwrap();
    assert_eq!(frame.get_i32(), 77);
    let resp = ApiVersionsResponse::decode(&mut frame, 0).unwrap();
    assert_eq!(resp.error_code, 35, "UNSUPPORTED_VERSION");
    assert!(resp
        .api_keys
        .iter()
        .any(|k| k.api_key == 18 && k.max_version == 4));
    assert!(!frame.has_remaining());
}

#[tokio::test]
async fn metadata_lists_brokers_topics_with_ids_and_unknown_topic_errors() {
    let c = cluster().await;
    let mut cl = RawClient::connect(c.broker_addr(2).unwrap()).await;
    let req = MetadataRequest::default().with_topics(Some(vec![
        MetadataRequestTopic::default().with_name(Some(TopicName(sb("t")))),
        MetadataRequestTopic::default().with_name(Some(TopicName(sb("nope")))),
    ]));
    let resp = cl.call(&req, 12).await;
    assert_eq!(resp.brokers.len(), 3);
    for b in &resp.brokers {
        assert_eq!(c.broker_addr(b.node_id.0).unwrap().port() as i32, b.port);
        assert_eq!(b.host.as_str(), "127.0.0.1");
    }
    let t = &resp.topics[0];
    assert_eq!(t.error_code, 0);
    assert!(!t.topic_id.is_nil());
    let leaders: Vec<i32> = t.partitions.iter().map(|p| p.leader_id.0).collect();
    assert_eq!(leaders, vec![0, 1, 2, 0, 1, 2], "round-robin leaders");
    assert_eq!(
        resp.topics[1].error_code, 3,
        "UNKNOWN_TOPIC_OR_PARTITION, no auto-create"
    );
    assert!(c.partition_leader("nope", 0).is_none());
    // By topic id (v10+).
    let by_id = MetadataRequest::default().with_topics(Some(vec![
        MetadataRequestTopic::default().with_topic_id(t.topic_id)
    ]));
    let resp = cl.call(&by_id, 12).await;
    assert_eq!(
        resp.topics[0].name.as_ref().map(|n| n.0.as_str()),
        Some("t")
    );
    // Old version too.
    let resp = cl
        .call(&MetadataRequest::default().with_topics(Some(vec![])), 0)
        .await;
    assert_eq!(resp.topics.len(), 1, "v0 empty list means all topics");
}

#[tokio::test]
async fn produced_batches_are_stored_as_sent_and_fetched_back() {
    let c = cluster().await;
    let leader = c.partition_leader("t", 1).unwrap();
    let mut cl = RawClient::connect(c.broker_addr(leader).unwrap()).await;
    let b1 = batch(&[("a", "1"), ("b", "2"), ("c", "3")]);
    let b2 = batch(&[("d", "4")]);
    for (b, want_base) in [(b1.clone(), 0), (b2.clone(), 3)] {
        let resp = cl.call(&produce_req("t", 1, b, -1), 9).await;
        let p = &resp.responses[0].partition_responses[0];
        assert_eq!((p.error_code, p.base_offset), (0, want_base));
    }
    assert_eq!(c.high_watermark("t", 1), Some(4));
    let resp = cl.call(&fetch_req("t", 1, 0, 0), 12).await;
    let p = &resp.responses[0].partitions[0];
    assert_eq!(
        (
            p.error_code,
            p.high_watermark,
            p.last_stable_offset,
            p.log_start_offset
        ),
        (0, 4, 4, 0)
    );
    let records = p.records.clone().unwrap();
    // Bytes as produced, only the base offset (outside the CRC) rewritten.
    assert_eq!(records.len(), b1.len() + b2.len());
    assert_eq!(&records[8..b1.len()], &b1[8..]);
    assert_eq!(&records[b1.len()..b1.len() + 8], &3i64.to_be_bytes());
    assert_eq!(&records[b1.len() + 8..], &b2[8..]);
    // Produce to a non-leader.
    let other = (leader + 1) % 3;
    let mut cl2 = RawClient::connect(c.broker_addr(other).unwrap()).await;
    let resp = cl2
        .call(&produce_req("t", 1, batch(&[("x", "y")]), 1), 10)
        .await;
    let p = &resp.responses[0].partition_responses[0];
    assert_eq!(p.error_code, 6, "NOT_LEADER_OR_FOLLOWER");
    assert_eq!(p.current_leader.leader_id.0, leader);
    assert_eq!(resp.node_endpoints[0].node_id.0, leader);
    // A batch with a bad CRC is refused.
    let mut bad = batch(&[("x", "y")]).to_vec();
    let last = bad.len() - 1;
    bad[last] ^= 0xff;
    let resp = cl.call(&produce_req("t", 1, Bytes::from(bad), 1), 9).await;
    assert_eq!(
        resp.responses[0].partition_responses[0].error_code, 2,
        "CORRUPT_MESSAGE"
    );
    assert_eq!(c.high_watermark("t", 1), Some(4));
}

#[tokio::test]
async fn acks_zero_produce_gets_no_response() {
    let c = cluster().await;
    let leader = c.partition_leader("t", 0).unwrap();
    let mut cl = RawClient::connect(c.broker_addr(leader).unwrap()).await;
    cl.send(&produce_req("t", 0, batch(&[("k", "v")]), 0), 9)
        .await;
    let corr = cl.send(&ApiVersionsRequest::default(), 0).await;
    let (got, _) = cl.recv::<ApiVersionsRequest>(0).await;
    assert_eq!(
        got, corr,
        "the next frame answers ApiVersions: acks=0 produce had no response"
    );
    assert_eq!(c.high_watermark("t", 0), Some(1));
}

#[tokio::test]
async fn fetch_long_poll_is_woken_by_produce() {
    let c = cluster().await;
    let leader = c.partition_leader("t", 2).unwrap();
    let addr = c.broker_addr(leader).unwrap();
    let mut cl = RawClient::connect(addr).await;
    let corr = cl.send(&fetch_req("t", 2, 0, 60_000), 12).await;
    c.wait_until(|cs| cs.iter().any(|r| r.count(1) == 1), WAIT)
        .await
        .unwrap();
    let pending = tokio::time::timeout(std::time::Duration::ZERO, cl.read_frame()).await;
    assert!(
        pending.is_err(),
        "fetch must be parked while there is no data (max_wait 60 s)"
    );
    c.append_records("t", 2, &[("k", "woken")]).unwrap();
    let (got, resp) = cl.recv::<FetchRequest>(12).await;
    assert_eq!(got, corr);
    let p = &resp.responses[0].partitions[0];
    assert_eq!(p.high_watermark, 1);
    assert!(!p.records.as_ref().unwrap().is_empty());
}

#[tokio::test]
async fn one_request_at_a_time_a_parked_fetch_delays_the_next_request() {
    let c = cluster().await;
    let leader = c.partition_leader("t", 3).unwrap();
    let mut cl = RawClient::connect(c.broker_addr(leader).unwrap()).await;
    let fetch_corr = cl.send(&fetch_req("t", 3, 0, 60_000), 12).await;
    let av_corr = cl.send(&ApiVersionsRequest::default(), 0).await;
    c.wait_until(|cs| cs.iter().any(|r| r.count(1) == 1), WAIT)
        .await
        .unwrap();
    c.append_records("t", 3, &[("k", "v")]).unwrap();
    // The Fetch answer comes first and carries the record: the ApiVersions behind it was not
    // answered while the Fetch was parked.
    let (first, resp) = cl.recv::<FetchRequest>(12).await;
    assert_eq!(first, fetch_corr);
    assert!(!resp.responses[0].partitions[0]
        .records
        .as_ref()
        .unwrap()
        .is_empty());
    let (second, _) = cl.recv::<ApiVersionsRequest>(0).await;
    assert_eq!(second, av_corr);
    let conns = c.connections();
    assert_eq!(conns.len(), 1);
    assert_eq!(conns[0].api_keys(), vec![1, 18]);
}

#[tokio::test]
async fn fetch_returns_first_batch_even_if_larger_than_max_bytes() {
    let c = cluster().await;
    let leader = c.partition_leader("t", 4).unwrap();
    let big = "x".repeat(10_000);
    c.append_records("t", 4, &[("k", big.as_str())]).unwrap();
    c.append_records("t", 4, &[("k2", "small")]).unwrap();
    let sizes: Vec<usize> = c.batches("t", 4).iter().map(|b| b.len()).collect();
    let mut cl = RawClient::connect(c.broker_addr(leader).unwrap()).await;
    let mut req = fetch_req("t", 4, 0, 0);
    req.topics[0].partitions[0].partition_max_bytes = 100;
    let resp = cl.call(&req, 12).await;
    assert_eq!(
        resp.responses[0].partitions[0]
            .records
            .as_ref()
            .unwrap()
            .len(),
        sizes[0],
        "exactly the first (oversized) batch"
    );
    req.topics[0].partitions[0].partition_max_bytes = (sizes[0] + sizes[1]) as i32;
    req.max_bytes = sizes[0] as i32 + 1;
    let resp = cl.call(&req, 12).await;
    assert_eq!(
        resp.responses[0].partitions[0]
            .records
            .as_ref()
            .unwrap()
            .len(),
        sizes[0],
        "response max_bytes bounds it"
    );
    req.max_bytes = i32::MAX;
    let resp = cl.call(&req, 12).await;
    assert_eq!(
        resp.responses[0].partitions[0]
            .records
            .as_ref()
            .unwrap()
            .len(),
        sizes[0] + sizes[1]
    );
    // Out of range.
    let resp = cl.call(&fetch_req("t", 4, 99, 0), 12).await;
    assert_eq!(
        resp.responses[0].partitions[0].error_code, 1,
        "OFFSET_OUT_OF_RANGE"
    );
}

#[tokio::test]
async fn fetch_sessions_full_incremental_forgotten_and_errors() {
    let c = MockCluster::builder()
        .brokers(1)
        .topic("a", 2)
        .start()
        .await
        .unwrap();
    let id = {
        let mut cl = RawClient::connect(c.broker_addr(0).unwrap()).await;
        let md = cl
            .call(&MetadataRequest::default().with_topics(None), 12)
            .await;
        md.topics[0].topic_id
    };
    let mut cl = RawClient::connect(c.broker_addr(0).unwrap()).await;
    let part = |p: i32, off: i64| {
        FetchPartition::default()
            .with_partition(p)
            .with_fetch_offset(off)
            .with_partition_max_bytes(1 << 20)
    };
    // Full fetch, epoch 0: creates a session (v13+: topics by id).
    let full = FetchRequest::default()
        .with_max_wait_ms(0)
        .with_session_id(0)
        .with_session_epoch(0)
        .with_topics(vec![FetchTopic::default()
            .with_topic_id(id)
            .with_partitions(vec![part(0, 0), part(1, 0)])]);
    let resp = cl.call(&full, 13).await;
    assert_ne!(resp.session_id, 0);
    assert_eq!(
        resp.responses[0].partitions.len(),
        2,
        "full response has every partition"
    );
    let sid = resp.session_id;
    // Incremental, epoch 1, nothing changed: no partitions.
    let inc = |epoch: i32| {
        FetchRequest::default()
            .with_max_wait_ms(0)
            .with_session_id(sid)
            .with_session_epoch(epoch)
    };
    let resp = cl.call(&inc(1), 13).await;
    assert_eq!((resp.error_code, resp.session_id), (0, sid));
    assert!(resp.responses.is_empty(), "{resp:?}");
    // New data on partition 1 only: only it comes back.
    c.append_records("a", 1, &[("k", "v")]).unwrap();
    let resp = cl.call(&inc(2), 13).await;
    assert_eq!(resp.responses.len(), 1);
    assert_eq!(resp.responses[0].topic_id, id);
    let ps: Vec<i32> = resp.responses[0]
        .partitions
        .iter()
        .map(|p| p.partition_index)
        .collect();
    assert_eq!(ps, vec![1]);
    // Forget partition 1; new data there is no longer reported.
    let resp = cl
        .call(
            &inc(3).with_forgotten_topics_data(vec![ForgottenTopic::default()
                .with_topic_id(id)
                .with_partitions(vec![1])]),
            13,
        )
        .await;
    assert_eq!(resp.error_code, 0);
    c.append_records("a", 1, &[("k", "v2")]).unwrap();
    let resp = cl.call(&inc(4), 13).await;
    assert!(
        resp.responses.is_empty(),
        "forgotten partition must not be reported: {resp:?}"
    );
    // Wrong epoch and unknown session id.
    assert_eq!(
        cl.call(&inc(9), 13).await.error_code,
        71,
        "INVALID_FETCH_SESSION_EPOCH"
    );
    let unknown = FetchRequest::default()
        .with_session_id(sid + 1000)
        .with_session_epoch(1);
    assert_eq!(
        cl.call(&unknown, 13).await.error_code,
        70,
        "FETCH_SESSION_ID_NOT_FOUND"
    );
}

#[tokio::test]
async fn list_offsets_earliest_latest_and_by_timestamp() {
    let c = cluster().await;
    let leader = c.partition_leader("t", 5).unwrap();
    let mut cl = RawClient::connect(c.broker_addr(leader).unwrap()).await;
    cl.call(&produce_req("t", 5, batch(&[("a", "1"), ("b", "2")]), 1), 9)
        .await; // ts 1000,1001
    let req = |ts: i64| {
        ListOffsetsRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_topics(vec![ListOffsetsTopic::default()
                .with_name(TopicName(sb("t")))
                .with_partitions(vec![ListOffsetsPartition::default()
                    .with_partition_index(5)
                    .with_timestamp(ts)])])
    };
    let off = |r: ListOffsetsResponse| {
        (
            r.topics[0].partitions[0].error_code,
            r.topics[0].partitions[0].offset,
        )
    };
    assert_eq!(off(cl.call(&req(-2), 7).await), (0, 0));
    assert_eq!(off(cl.call(&req(-1), 7).await), (0, 2));
    assert_eq!(off(cl.call(&req(500), 7).await), (0, 0));
    assert_eq!(off(cl.call(&req(5000), 7).await), (0, -1));
    assert_eq!(off(cl.call(&req(-3), 7).await).1, 1, "max timestamp offset");
}

#[tokio::test]
async fn accounting_records_every_connection_its_addresses_and_requests() {
    let c = cluster().await;
    let mut a = RawClient::connect(c.broker_addr(0).unwrap()).await;
    let mut b = RawClient::connect(c.broker_addr(1).unwrap()).await;
    a.call(&ApiVersionsRequest::default(), 0).await;
    a.call(&MetadataRequest::default().with_topics(None), 9)
        .await;
    a.call(&MetadataRequest::default().with_topics(None), 9)
        .await;
    b.call(&ApiVersionsRequest::default(), 0).await;
    let a_local = a.sock.local_addr().unwrap();
    drop(a);
    c.wait_until(|cs| cs.iter().filter(|r| !r.is_open()).count() == 1, WAIT)
        .await
        .unwrap();
    let conns = c.connections();
    assert_eq!(conns.len(), 2);
    let ca = conns.iter().find(|r| r.broker_id == 0).unwrap();
    assert_eq!(ca.peer, a_local);
    assert_eq!(ca.local, c.broker_addr(0).unwrap());
    assert_eq!(ca.api_keys(), vec![18, 3, 3]);
    assert_eq!((ca.count(3), ca.count(18)), (2, 1));
    assert!(ca.closed_at.unwrap() >= ca.opened_at);
    let open = c.open_connections();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].broker_id, 1);
    assert!(c
        .wait_until(|cs| cs.len() == 5, std::time::Duration::from_millis(1))
        .await
        .is_err());
}

#[tokio::test]
async fn init_producer_id_for_idempotent_and_transactional_producers() {
    let c = cluster().await;
    let mut cl = RawClient::connect(c.broker_addr(0).unwrap()).await;
    let r = cl
        .call(
            &InitProducerIdRequest::default()
                .with_transactional_id(None)
                .with_transaction_timeout_ms(60_000),
            4,
        )
        .await;
    assert_eq!((r.error_code, r.producer_epoch), (0, 0));
    assert!(r.producer_id.0 >= 0);
    let r2 = cl
        .call(
            &InitProducerIdRequest::default()
                .with_producer_id(r.producer_id)
                .with_producer_epoch(0),
            4,
        )
        .await;
    assert_eq!(
        (r2.producer_id, r2.producer_epoch),
        (r.producer_id, 1),
        "epoch bump (KIP-360)"
    );
    // A transactional id is served by its transaction coordinator only; every new
    // InitProducerId bumps its epoch (fencing the previous instance).
    let txn = InitProducerIdRequest::default()
        .with_transactional_id(Some(TransactionalId(sb("tx"))))
        .with_transaction_timeout_ms(60_000)
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    let mut answers = Vec::new();
    for id in c.broker_ids() {
        let mut b = RawClient::connect(c.broker_addr(id).unwrap()).await;
        answers.push(b.call(&txn, 4).await);
    }
    let served: Vec<_> = answers.iter().filter(|r| r.error_code == 0).collect();
    assert_eq!(served.len(), 1, "one coordinator");
    assert!(answers.iter().all(|r| r.error_code == 0 || r.error_code == 16), "others: NOT_COORDINATOR");
    assert_eq!(served[0].producer_epoch, 0);
    let snap = c.transaction("tx").unwrap();
    assert_eq!((snap.producer_id, snap.epoch), (served[0].producer_id.0, 0));
}
