//! The guard against kafka-protocol: every layout, every version, default and populated bodies,
//! truncations and hostile lengths.

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, ResponseKind};
use kafka_protocol::protocol::{Encodable, StrBytes};

use super::schemas::{encode_default, SCHEMAS};
use super::*;

/// Seeds per API and version for the populated-body tests.
const SEEDS: u64 = 12;

fn api(key: i16) -> ApiKey {
    ApiKey::try_from(key).unwrap_or_else(|_| panic!("API key {key} has a layout but kafka-protocol lacks it"))
}

/// Every version of every layout, as (api, version).
fn all_versions() -> impl Iterator<Item = (ApiKey, i16)> {
    SCHEMAS.iter().flat_map(|s| (s.versions.0..=s.versions.1).map(move |v| (api(s.api_key), v)))
}

/// Decodes with kafka-protocol and returns the message and the bytes it left unread.
fn decode(api: ApiKey, v: i16, body: &[u8]) -> (ResponseKind, usize) {
    let mut b = Bytes::copy_from_slice(body);
    let m = ResponseKind::decode(api, &mut b, v).unwrap_or_else(|e| panic!("{api:?} v{v}: decoder refused {body:02x?}: {e}"));
    (m, bytes::Buf::remaining(&b))
}

fn walk_sites(api: ApiKey, v: i16, body: &[u8]) -> Vec<Site> {
    let s = schema(api as i16).unwrap();
    let mut w = Walker::new(body, v, v >= s.flexible_from);
    w.walk(s.body).unwrap_or_else(|b| panic!("{api:?} v{v}: {b}"));
    w.sites
}

/// The test that catches a new API or version nobody wrote a layout for: every request
/// kafka-protocol can encode (so every request gregor can send) gets a response the guard can
/// walk, at every version. Upgrading kafka-protocol without rerunning
/// `scripts/gen-guard-schemas.py` (it reads the new crate's decoders) fails here.
#[test]
fn every_api_kafka_protocol_knows_has_a_layout_at_every_version() {
    let mut n = 0;
    for key in ApiKey::iter() {
        let s = schema(key as i16).unwrap_or_else(|| panic!("no layout for {key:?}: rerun scripts/gen-guard-schemas.py"));
        assert_eq!(s.name, format!("{key:?}"));
        let range = key.valid_versions();
        assert!(
            s.versions.0 <= range.min && s.versions.1 >= range.max,
            "{key:?}: kafka-protocol speaks v{}..=v{}, the guard knows v{}..=v{}",
            range.min,
            range.max,
            s.versions.0,
            s.versions.1
        );
        n += 1;
    }
    assert!(n >= 80, "{n} APIs");
    assert!(SCHEMAS.windows(2).all(|w| w[0].api_key < w[1].api_key), "SCHEMAS sorted by key (binary search)");
}

#[test]
fn an_api_or_version_without_a_layout_is_refused() {
    let e = check_key(999, 0, &[0, 0, 0, 0]).unwrap_err().to_string();
    assert!(e.contains("unknown API (API key 999) v0") && e.contains("no layout"), "{e}");
    // A version past the layout (a newer kafka-protocol without regenerated layouts).
    let e = check(ApiKey::Metadata, 14, &[0; 64]).unwrap_err().to_string();
    assert!(e.contains("Metadata v14") && e.contains("v0..=v13 only"), "{e}");
    let e = check(ApiKey::ConsumerGroupHeartbeat, -1, &[]).unwrap_err().to_string();
    assert!(e.contains("ConsumerGroupHeartbeat v-1"), "{e}");
}

/// kafka-protocol's encoding of each response type's `Default` passes at every version, and
/// the decoder reads exactly the bytes the guard walked.
#[test]
fn default_responses_pass_at_every_version() {
    let mut n = 0;
    for (api, v) in all_versions() {
        let body = encode_default(api as i16, v).unwrap().unwrap_or_else(|e| panic!("{api:?} v{v}: {e}"));
        check(api, v, &body).unwrap_or_else(|e| panic!("{api:?} v{v}: {e}"));
        assert_eq!(decode(api, v, &body).1, 0, "{api:?} v{v}: decoder left bytes");
        n += 1;
    }
    assert!(n > 250, "{n} API versions");
}

/// Bodies written from the layouts, with populated arrays, strings, nullable structs and tagged
/// fields: kafka-protocol decodes every one and reads every byte (so the layout and the decoder
/// agree on each field), and its encoding of what it decoded passes the guard too.
#[test]
fn populated_bodies_agree_with_kafka_protocol_at_every_version() {
    let mut n = 0;
    for (api, v) in all_versions() {
        for seed in 1..=SEEDS {
            let body = sample_body(api, v, seed).unwrap();
            check(api, v, &body).unwrap_or_else(|e| panic!("{api:?} v{v} seed {seed}: {e}"));
            let (msg, left) = decode(api, v, &body);
            assert_eq!(left, 0, "{api:?} v{v} seed {seed}: the decoder read {} of {} bytes", body.len() - left, body.len());
            let mut again = BytesMut::new();
            msg.encode(&mut again, v).unwrap_or_else(|e| panic!("{api:?} v{v} seed {seed}: re-encode: {e}"));
            check(api, v, &again).unwrap_or_else(|e| panic!("{api:?} v{v} seed {seed}, kafka-protocol's encoding: {e}"));
            assert_eq!(decode(api, v, &again), (msg, 0), "{api:?} v{v} seed {seed}");
            n += 1;
        }
    }
    assert!(n > 3000, "{n} bodies");
}

/// Every proper prefix of a valid body is refused: the walk needs every field.
#[test]
fn truncated_bodies_are_refused() {
    for (api, v) in all_versions() {
        for seed in 1..=3 {
            let body = sample_body(api, v, seed).unwrap();
            for cut in 0..body.len() {
                assert!(check(api, v, &body[..cut]).is_err(), "{api:?} v{v} seed {seed}: cut at {cut} of {}", body.len());
            }
        }
    }
}

/// Every length and count of a valid body (array counts, string and bytes lengths, tag-section
/// counts, tagged-field sizes), made huge, is refused before anything is allocated.
#[test]
fn hostile_lengths_and_counts_are_refused() {
    let mut n = 0;
    for (api, v) in all_versions() {
        for seed in 1..=4 {
            let body = sample_body(api, v, seed).unwrap();
            for site in walk_sites(api, v, &body) {
                let hostile: &[u8] = match (site.varint, site.width) {
                    (true, _) => &[0xff, 0xff, 0xff, 0xff, 0x0f],
                    (false, 2) => &[0x7f, 0xff],
                    (false, _) => &[0x7f, 0xff, 0xff, 0xff],
                };
                let mut bad = body[..site.at].to_vec();
                bad.extend_from_slice(hostile);
                bad.extend_from_slice(&body[site.at + site.width..]);
                let e = check(api, v, &bad).expect_err(&format!("{api:?} v{v} seed {seed}: length at {} made huge", site.at));
                let e = e.to_string();
                assert!(e.contains("cannot fit") || e.contains("left"), "{api:?} v{v}: {e}");
                n += 1;
            }
        }
    }
    assert!(n > 5000, "{n} hostile lengths");
}

/// A known tagged field whose declared size differs from its value's: the decoder reads it by
/// type and the next reader by size, so the guard refuses it rather than check one reading and
/// pass the other.
#[test]
fn a_tagged_field_that_does_not_fill_its_declared_size_is_refused() {
    use kafka_protocol::messages::fetch_response::*;
    use kafka_protocol::messages::FetchResponse;
    let r = FetchResponse::default().with_responses(vec![FetchableTopicResponse::default().with_partitions(vec![
        PartitionData::default().with_diverging_epoch(EpochEndOffset::default().with_epoch(3).with_end_offset(9)),
    ])]);
    let body = enc(&r, 12);
    check(ApiKey::Fetch, 12, &body).unwrap();
    // The partition's tag section: 1 field, tag 0, size 13 (INT32 + INT64 + an empty tag section).
    let at = body.windows(3).position(|w| w == [1, 0, 13]).expect("diverging_epoch tag");
    for size in [12u8, 14] {
        let mut bad = body.clone();
        bad[at + 2] = size;
        let e = check(ApiKey::Fetch, 12, &bad).unwrap_err().to_string();
        assert!(e.contains("responses[0].partitions[0].diverging_epoch"), "{e}");
    }
}

fn enc<T: Encodable>(m: &T, v: i16) -> Vec<u8> {
    let mut b = BytesMut::new();
    m.encode(&mut b, v).unwrap();
    b.to_vec()
}

/// A valid body at `v` passes (versions the message type no longer has are skipped).
fn pass<T: Encodable>(api: ApiKey, v: i16, m: &T) {
    let mut b = BytesMut::new();
    if m.encode(&mut b, v).is_ok() {
        check(api, v, &b).unwrap_or_else(|e| panic!("{api:?} v{v}: {e}"));
    }
}

fn s(v: &'static str) -> StrBytes {
    StrBytes::from_static_str(v)
}

/// Hand-built responses of the APIs the consumer and producer depend on, populated the way
/// brokers fill them.
#[test]
fn hand_built_responses_pass_at_every_version() {
    use kafka_protocol::messages::*;
    let metadata = MetadataResponse::default()
        .with_brokers(vec![metadata_response::MetadataResponseBroker::default()
            .with_node_id(BrokerId(1))
            .with_host(s("h"))
            .with_port(9092)])
        .with_topics(vec![metadata_response::MetadataResponseTopic::default()
            .with_name(Some(TopicName(s("t"))))
            .with_partitions(vec![metadata_response::MetadataResponsePartition::default()
                .with_replica_nodes(vec![BrokerId(1)])])]);
    for v in 0..=13 {
        pass(ApiKey::Metadata, v, &metadata);
    }
    for v in 4..=18 {
        let mut t = fetch_response::FetchableTopicResponse::default()
            .with_partitions(vec![fetch_response::PartitionData::default().with_records(Some(Bytes::from_static(b"abcdef")))]);
        if v >= 13 {
            t.topic_id = uuid::Uuid::from_u128(7);
        } else {
            t.topic = TopicName(s("t"));
        }
        pass(ApiKey::Fetch, v, &FetchResponse::default().with_responses(vec![t]));
    }
    let join = JoinGroupResponse::default().with_members(vec![join_group_response::JoinGroupResponseMember::default()
        .with_member_id(s("m"))
        .with_metadata(Bytes::from_static(b"meta"))]);
    for v in 0..=9 {
        pass(ApiKey::JoinGroup, v, &join);
    }
    for v in 0..=10 {
        let mut r = OffsetFetchResponse::default();
        if v <= 7 {
            r.topics = vec![offset_fetch_response::OffsetFetchResponseTopic::default()
                .with_name(TopicName(s("t")))
                .with_partitions(vec![offset_fetch_response::OffsetFetchResponsePartition::default()])];
        } else {
            r.groups = vec![offset_fetch_response::OffsetFetchResponseGroup::default().with_group_id(GroupId(s("g"))).with_topics(vec![
                offset_fetch_response::OffsetFetchResponseTopics::default()
                    .with_name(TopicName(s("t")))
                    .with_partitions(vec![offset_fetch_response::OffsetFetchResponsePartitions::default()]),
            ])];
        }
        pass(ApiKey::OffsetFetch, v, &r);
    }
    let hb = ConsumerGroupHeartbeatResponse::default().with_member_id(Some(s("m"))).with_assignment(Some(
        consumer_group_heartbeat_response::Assignment::default().with_topic_partitions(vec![
            consumer_group_heartbeat_response::TopicPartitions::default()
                .with_topic_id(uuid::Uuid::from_u128(5))
                .with_partitions(vec![0, 1, 2]),
        ]),
    ));
    for v in 0..=1 {
        pass(ApiKey::ConsumerGroupHeartbeat, v, &hb);
    }
    for v in 3..=13 {
        let mut t = produce_response::TopicProduceResponse::default().with_partition_responses(vec![
            produce_response::PartitionProduceResponse::default()
                .with_base_offset(42)
                .with_record_errors(if v >= 8 {
                    vec![produce_response::BatchIndexAndErrorMessage::default().with_batch_index(1)]
                } else {
                    vec![]
                })
                .with_current_leader(if v >= 10 {
                    produce_response::LeaderIdAndEpoch::default().with_leader_id(BrokerId(2)).with_leader_epoch(5)
                } else {
                    Default::default()
                }),
        ]);
        if v >= 13 {
            t.topic_id = uuid::Uuid::from_u128(9);
        } else {
            t.name = TopicName(s("t"));
        }
        pass(ApiKey::Produce, v, &ProduceResponse::default().with_responses(vec![t]));
    }
    for v in 0..=6 {
        pass(ApiKey::InitProducerId, v, &InitProducerIdResponse::default().with_producer_id(ProducerId(7)).with_producer_epoch(1));
    }
    let topics = CreateTopicsResponse::default().with_topics(vec![create_topics_response::CreatableTopicResult::default()
        .with_name(TopicName(s("t")))
        .with_num_partitions(3)
        .with_configs(Some(vec![create_topics_response::CreatableTopicConfigs::default()
            .with_name(s("cleanup.policy"))
            .with_value(Some(s("delete")))]))]);
    for v in 2..=7 {
        let mut r = topics.clone();
        if v < 5 {
            r.topics[0].configs = None;
            r.topics[0].num_partitions = -1;
        }
        pass(ApiKey::CreateTopics, v, &r);
    }
    let hs = SaslHandshakeResponse::default().with_mechanisms(vec![s("PLAIN"), s("SCRAM-SHA-512")]);
    for v in 0..=1 {
        check(ApiKey::SaslHandshake, v, &enc(&hs, v)).unwrap();
    }
}

#[test]
fn huge_array_count_in_a_small_body_is_rejected() {
    // Metadata v12: throttle, then the brokers compact array with count 0xFFFF_FFFE.
    let body = [0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f, 0];
    let e = check(ApiKey::Metadata, 12, &body).unwrap_err().to_string();
    assert!(e.contains("Metadata v12") && e.contains("brokers: array count 4294967294 cannot fit"), "{e}");
    // Metadata v1 (non-flexible): brokers array count i32::MAX.
    let body = [0x7f, 0xff, 0xff, 0xff, 0];
    assert!(check(ApiKey::Metadata, 1, &body).is_err());
    // ConsumerGroupHeartbeat v0 with an assignment of u32::MAX - 1 topics.
    let mut body = vec![0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    body.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0]);
    let e = check(ApiKey::ConsumerGroupHeartbeat, 0, &body).unwrap_err().to_string();
    assert!(e.contains("assignment.topic_partitions: array count"), "{e}");
}
