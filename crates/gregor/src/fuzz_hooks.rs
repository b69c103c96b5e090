//! Entry points for fuzzing (`fuzz/`, and the stable-toolchain mutation test
//! `tests/fuzz_decode.rs`). Not a stable API.
//!
//! Each function runs exactly the code a connection runs on bytes from a broker, minus the
//! `catch_unwind` safety net of [`decode_body`](crate::net::codec::decode_body), so that a fuzzer
//! sees any panic. None of them may panic, abort or allocate more than a small multiple of the
//! input, whatever the input.

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, FetchResponse, JoinGroupResponse, ResponseKind, SyncGroupResponse};
use kafka_protocol::protocol::{Decodable, Encodable};

use crate::consumer::assignor;
use crate::net::codec::{self, FrameDecoder};
use crate::net::guard;
use crate::records::{AbortedTransaction, DecodeOptions, FetchRecords, IsolationLevel};

/// The responses the `decode_response` target decodes: every API gregor sends a request for
/// (consumer, producer with transactions, admin and CLI, SASL), each at every version
/// kafka-protocol speaks (`ApiKey::valid_versions`). `tests/fuzz_decode.rs` scans gregor's
/// sources and fails when a request type appears that is missing here.
///
/// Append new APIs at the end: the first byte of a fuzz input indexes this list, so the order
/// keeps the committed corpus and regression inputs meaning what they meant.
pub const RESPONSE_APIS: &[ApiKey] = &[
    ApiKey::Fetch,
    ApiKey::Metadata,
    ApiKey::ApiVersions,
    ApiKey::FindCoordinator,
    // The consumer.
    ApiKey::ListOffsets,
    ApiKey::OffsetFetch,
    ApiKey::OffsetCommit,
    ApiKey::JoinGroup,
    ApiKey::SyncGroup,
    ApiKey::Heartbeat,
    ApiKey::LeaveGroup,
    ApiKey::ConsumerGroupHeartbeat,
    ApiKey::SaslHandshake,
    ApiKey::SaslAuthenticate,
    // The producer, transactions included.
    ApiKey::Produce,
    ApiKey::InitProducerId,
    ApiKey::AddPartitionsToTxn,
    ApiKey::AddOffsetsToTxn,
    ApiKey::TxnOffsetCommit,
    ApiKey::EndTxn,
    // Admin and CLI.
    ApiKey::CreateTopics,
    ApiKey::DeleteTopics,
    ApiKey::CreatePartitions,
    ApiKey::DescribeConfigs,
    ApiKey::ListGroups,
    ApiKey::DescribeGroups,
    ApiKey::ConsumerGroupDescribe,
    ApiKey::DeleteGroups,
    ApiKey::OffsetDelete,
    ApiKey::DescribeCluster,
];

/// The versions of `api` the fuzz targets try: every version kafka-protocol speaks.
pub fn response_versions(api: ApiKey) -> (i16, i16) {
    let r = api.valid_versions();
    (r.min, r.max)
}

/// Largest frame the fuzz target accepts (the real cap is `response.max.bytes`).
const MAX_FRAME: usize = 1 << 20;

/// Input layout: `[api selector, version selector, frame bytes...]`; the frame bytes are a
/// stream of length-prefixed frames, as read off a socket. Each frame goes through the header,
/// the guard and the decoder, and then through what gregor decodes inside the body: the records
/// of a Fetch, the consumer-protocol assignment of a SyncGroup and subscriptions of a JoinGroup.
pub fn decode_response(data: &[u8]) {
    let [a, v, rest @ ..] = data else { return };
    let api = RESPONSE_APIS[*a as usize % RESPONSE_APIS.len()];
    let (lo, hi) = response_versions(api);
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
            ApiKey::ApiVersions => {
                let _ = codec::interpret_api_versions(body, version);
            }
            ApiKey::SyncGroup => {
                if let Ok(resp) = SyncGroupResponse::decode(&mut body.clone(), version) {
                    let _ = assignor::decode_assignment(&resp.assignment);
                }
            }
            ApiKey::JoinGroup => {
                if let Ok(resp) = JoinGroupResponse::decode(&mut body.clone(), version) {
                    for m in &resp.members {
                        let _ = assignor::decode_subscription(&m.metadata);
                    }
                }
            }
            _ => {
                let _ = ResponseKind::decode(api, &mut body.clone(), version);
            }
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
/// `tests/fuzz_decode.rs` and used there as the mutation seeds.
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
    for (i, &api) in RESPONSE_APIS.iter().enumerate() {
        let (lo, hi) = response_versions(api);
        for version in [lo, (lo + hi) / 2, hi] {
            let bodies = match api {
                // A Fetch seed carries real record batches; the sampled one random bytes.
                ApiKey::Fetch => vec![fetch_with_records(version, &records), guard::sample_body(api, version, 1)],
                _ => vec![guard::sample_body(api, version, 1), guard::sample_body(api, version, 2)],
            };
            for (n, body) in bodies.into_iter().enumerate() {
                let Some(body) = body else { continue };
                let mut input = vec![i as u8, (version - lo) as u8];
                input.extend_from_slice(&frame(api, version, &body));
                out.push(("decode_response", format!("{api:?}-v{version}-{n}").to_lowercase(), input));
            }
        }
    }
    out
}

/// A response frame: length prefix, header with correlation id 7, body.
fn frame(api: ApiKey, version: i16, body: &[u8]) -> Vec<u8> {
    let hv = codec::response_header_version(api, version);
    let mut header = BytesMut::new();
    let _ = kafka_protocol::messages::ResponseHeader::default().with_correlation_id(7).encode(&mut header, hv);
    let mut frame = Vec::new();
    frame.extend_from_slice(&((header.len() + body.len()) as i32).to_be_bytes());
    frame.extend_from_slice(&header);
    frame.extend_from_slice(body);
    frame
}

fn fetch_with_records(version: i16, records: &Bytes) -> Option<Vec<u8>> {
    use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
    use kafka_protocol::messages::TopicName;
    use kafka_protocol::protocol::StrBytes;
    let mut t = FetchableTopicResponse::default()
        .with_partitions(vec![PartitionData::default().with_high_watermark(3).with_records(Some(records.clone()))]);
    if version >= 13 {
        t.topic_id = uuid::Uuid::from_u128(42);
    } else {
        t.topic = TopicName(StrBytes::from_static_str("t"));
    }
    let mut b = BytesMut::new();
    FetchResponse::default().with_responses(vec![t]).encode(&mut b, version).ok().map(|_| b.to_vec())
}
