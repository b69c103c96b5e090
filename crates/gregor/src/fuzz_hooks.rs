//! Entry points for fuzzing (`fuzz/`, and the stable-toolchain mutation test
//! `src/fuzz_hooks_tests.rs`). Not a stable API.
//!
//! Each function runs exactly the code a connection runs on bytes from a broker, minus the
//! `catch_unwind` safety net of [`decode_body`](crate::net::codec::decode_body), so that a fuzzer
//! sees any panic. None of them may panic, abort or allocate more than a small multiple of the
//! input, whatever the input.

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsResponse, FetchResponse, FindCoordinatorResponse, MetadataResponse,
};
use kafka_protocol::protocol::{Decodable, Encodable};

use crate::net::codec::{self, FrameDecoder};
use crate::net::guard;
use crate::records::{AbortedTransaction, DecodeOptions, FetchRecords, IsolationLevel};

/// The responses the fuzz target decodes, with the versions gregor requests.
pub const RESPONSE_APIS: &[(ApiKey, i16, i16)] = &[
    (ApiKey::Fetch, 4, 17),
    (ApiKey::Metadata, 0, 12),
    (ApiKey::ApiVersions, 0, 4),
    (ApiKey::FindCoordinator, 0, 6),
];

/// Largest frame the fuzz target accepts (the real cap is `response.max.bytes`).
const MAX_FRAME: usize = 1 << 20;

/// Input layout: `[api selector, version selector, frame bytes...]`; the frame bytes are a
/// stream of length-prefixed frames, as read off a socket.
pub fn decode_response(data: &[u8]) {
    let [a, v, rest @ ..] = data else { return };
    let (api, lo, hi) = RESPONSE_APIS[*a as usize % RESPONSE_APIS.len()];
    let version = lo + (i16::from(*v) % (hi - lo + 1));
    let dec = FrameDecoder::new(MAX_FRAME);
    let mut buf = BytesMut::from(rest);
    while let Ok(Some(frame)) = dec.decode(&mut buf) {
        let _ = codec::peek_correlation_id(&frame);
        let Ok(body) = codec::strip_response_header(frame, api, version) else { continue };
        if guard::check(api, version, &body).is_err() {
            continue;
        }
        match api {
            ApiKey::Fetch => {
                if let Ok(resp) = FetchResponse::decode(&mut body.clone(), version) {
                    for t in &resp.responses {
                        for p in &t.partitions {
                            if let Some(records) = &p.records {
                                drain_records(records.clone(), p.last_stable_offset, &DecodeOptions::default());
                            }
                        }
                    }
                }
            }
            ApiKey::Metadata => {
                let _ = MetadataResponse::decode(&mut body.clone(), version);
            }
            ApiKey::ApiVersions => {
                let _ = codec::interpret_api_versions(body, version);
            }
            ApiKey::FindCoordinator => {
                let _ = FindCoordinatorResponse::decode(&mut body.clone(), version);
            }
            _ => {}
        }
    }
}

/// Input layout: `[option bits, records...]`: the bytes of one partition in a Fetch response.
pub fn decode_records(data: &[u8]) {
    let [bits, rest @ ..] = data else { return };
    let options = DecodeOptions {
        check_crcs: bits & 1 == 0,
        isolation: if bits & 2 == 0 { IsolationLevel::ReadUncommitted } else { IsolationLevel::ReadCommitted },
        max_decompressed_bytes: 1 << 20,
    };
    drain_records(Bytes::copy_from_slice(rest), i64::from(bits >> 2), &options);
}

fn drain_records(records: Bytes, fetch_offset: i64, options: &DecodeOptions) {
    let aborted = [AbortedTransaction { producer_id: 1, first_offset: 0 }];
    let mut it = FetchRecords::new(records, fetch_offset, &aborted, options);
    // Bounded: the iterator ends at the first error, and every record consumes input bytes.
    for r in it.by_ref().take(100_000) {
        if r.is_err() {
            break;
        }
    }
    let _ = it.next_offset();
    let _ = it.tail();
}

/// Valid inputs for both targets: `(target, name, bytes)`, written to `fuzz/corpus/` by
/// `src/fuzz_hooks_tests.rs` and used there as the mutation seeds.
pub fn seed_corpus() -> Vec<(&'static str, String, Vec<u8>)> {
    use crate::records::{encode_batch, Compression, ProduceRecord};
    let mut out = Vec::new();
    let headers: &[(&str, Option<&[u8]>)] = &[("h", Some(b"v"))];
    let recs: Vec<ProduceRecord<'_>> = (0..3)
        .map(|i| ProduceRecord {
            key: Some(b"key"),
            value: Some(if i == 1 { b"value-one" } else { b"v" }),
            headers,
            timestamp: 1_700_000_000_000 + i,
        })
        .collect();
    let mut batches = Vec::new();
    for c in [Compression::None, Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd] {
        if let Ok(b) = encode_batch(&recs, c) {
            let mut input = vec![0u8];
            input.extend_from_slice(&b);
            out.push(("decode_records", format!("batch-{c:?}").to_lowercase(), input));
            batches.push(b);
        }
    }
    let records = batches.first().cloned().unwrap_or_default();
    for (i, &(api, lo, hi)) in RESPONSE_APIS.iter().enumerate() {
        for version in [lo, hi, (lo + hi) / 2] {
            let body = sample_response(api, version, &records);
            let Some(body) = body else { continue };
            let mut frame = Vec::new();
            let hv = codec::response_header_version(api, version);
            let mut header = BytesMut::new();
            let _ = kafka_protocol::messages::ResponseHeader::default().with_correlation_id(7).encode(&mut header, hv);
            frame.extend_from_slice(&((header.len() + body.len()) as i32).to_be_bytes());
            frame.extend_from_slice(&header);
            frame.extend_from_slice(&body);
            let mut input = vec![i as u8, (version - lo) as u8];
            input.extend_from_slice(&frame);
            out.push(("decode_response", format!("{api:?}-v{version}").to_lowercase(), input));
        }
    }
    out
}

fn sample_response(api: ApiKey, version: i16, records: &Bytes) -> Option<Vec<u8>> {
    use kafka_protocol::messages::api_versions_response::ApiVersion;
    use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
    use kafka_protocol::messages::find_coordinator_response::Coordinator;
    use kafka_protocol::messages::metadata_response::{MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic};
    use kafka_protocol::messages::{BrokerId, TopicName};
    use kafka_protocol::protocol::StrBytes;
    let s = StrBytes::from_static_str;
    let mut b = BytesMut::new();
    let r = match api {
        ApiKey::Fetch => {
            let mut t = FetchableTopicResponse::default()
                .with_partitions(vec![PartitionData::default().with_high_watermark(3).with_records(Some(records.clone()))]);
            if version >= 13 {
                t.topic_id = uuid::Uuid::from_u128(42);
            } else {
                t.topic = TopicName(s("t"));
            }
            FetchResponse::default().with_responses(vec![t]).encode(&mut b, version)
        }
        ApiKey::Metadata => MetadataResponse::default()
            .with_brokers(vec![MetadataResponseBroker::default().with_node_id(BrokerId(0)).with_host(s("127.0.0.1")).with_port(9092)])
            .with_topics(vec![MetadataResponseTopic::default().with_name(Some(TopicName(s("t")))).with_partitions(vec![
                MetadataResponsePartition::default().with_replica_nodes(vec![BrokerId(0)]).with_isr_nodes(vec![BrokerId(0)]),
            ])])
            .encode(&mut b, version),
        ApiKey::ApiVersions => ApiVersionsResponse::default()
            .with_api_keys(vec![ApiVersion::default().with_api_key(1).with_min_version(4).with_max_version(17)])
            .encode(&mut b, version),
        ApiKey::FindCoordinator => {
            let mut r = FindCoordinatorResponse::default();
            if version >= 4 {
                r.coordinators = vec![Coordinator::default().with_key(s("g")).with_host(s("127.0.0.1")).with_port(9092)];
            } else {
                r.host = s("127.0.0.1");
                r.port = 9092;
            }
            r.encode(&mut b, version)
        }
        _ => return None,
    };
    r.ok().map(|_| b.to_vec())
}
