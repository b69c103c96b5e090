//! The Kafka wire codec, without I/O: frames, request/response headers, ApiVersions.
//!
//! Every Kafka message on a socket is a 4-byte big-endian length followed by that many bytes
//! (the Kafka protocol guide, "Common Request and Response Structure"). Requests carry a header
//! with api key, api version, correlation id and client id; responses echo the correlation id.
//! Message bodies are encoded with the `kafka-protocol` crate's generated types.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, RequestHeader, ResponseHeader,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use std::collections::HashMap;

use super::guard::CheckedBody;
use crate::error::{Error, Result};
use crate::protocol_errors::KafkaCode;

/// The ApiVersions version gregor sends first (v3 introduced the flexible encoding and the
/// client software name/version fields; v4 only changes error semantics).
pub(crate) const API_VERSIONS_FIRST: i16 = 3;

/// Splits length-prefixed frames out of a read buffer.
///
/// The length is checked against `max_frame` *before* any buffer is grown, so a hostile or
/// corrupt length prefix (e.g. 2 GiB) costs nothing but an error.
#[derive(Debug)]
pub(crate) struct FrameDecoder {
    max_frame: usize,
}

impl FrameDecoder {
    pub(crate) fn new(max_frame: usize) -> Self {
        FrameDecoder { max_frame }
    }

    /// Takes one complete frame (without its length prefix) out of `buf`, if there is one.
    /// When the frame is incomplete, reserves room for the rest of it (bounded by the cap).
    pub(crate) fn decode(&self, buf: &mut BytesMut) -> Result<Option<Bytes>> {
        if buf.len() < 4 {
            return Ok(None);
        }
        let len = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
        if len < 0 {
            return Err(Error::protocol(format!("negative frame length {len}")));
        }
        let len = len as usize;
        if len > self.max_frame {
            return Err(Error::protocol(format!(
                "response frame of {len} bytes exceeds response.max.bytes ({} bytes)",
                self.max_frame
            )));
        }
        if buf.len() < 4 + len {
            buf.reserve(4 + len - buf.len());
            return Ok(None);
        }
        buf.advance(4);
        Ok(Some(buf.split_to(len).freeze()))
    }
}

/// Encodes one request frame: length prefix, header, body.
pub(crate) fn encode_request<R: Encodable>(
    api_key: ApiKey,
    version: i16,
    correlation_id: i32,
    client_id: &str,
    body: &R,
) -> Result<Bytes> {
    let header = RequestHeader::default()
        .with_request_api_key(api_key as i16)
        .with_request_api_version(version)
        .with_correlation_id(correlation_id)
        .with_client_id(Some(StrBytes::from_string(client_id.to_string())));
    let header_version = api_key.request_header_version(version);
    let size = header
        .compute_size(header_version)
        .and_then(|h| body.compute_size(version).map(|b| h + b))
        .map_err(|e| Error::protocol(format!("cannot size {api_key:?} v{version}: {e}")))?;
    let mut buf = BytesMut::with_capacity(4 + size);
    buf.put_i32(size as i32);
    header
        .encode(&mut buf, header_version)
        .and_then(|_| body.encode(&mut buf, version))
        .map_err(|e| Error::protocol(format!("cannot encode {api_key:?} v{version}: {e}")))?;
    Ok(buf.freeze())
}

/// Reads the correlation id at the front of a response frame without consuming it.
pub(crate) fn peek_correlation_id(frame: &Bytes) -> Result<i32> {
    if frame.len() < 4 {
        return Err(Error::protocol(format!(
            "response frame of {} bytes is too short for a header",
            frame.len()
        )));
    }
    Ok(i32::from_be_bytes([frame[0], frame[1], frame[2], frame[3]]))
}

/// Strips the response header (v0: correlation id; v1: plus tagged fields) and returns the body.
pub(crate) fn strip_response_header(
    mut frame: Bytes,
    api_key: ApiKey,
    version: i16,
) -> Result<Bytes> {
    let hv = response_header_version(api_key, version);
    ResponseHeader::decode(&mut frame, hv)
        .map_err(|e| Error::protocol(format!("bad {api_key:?} response header: {e}")))?;
    Ok(frame)
}

/// Decodes a response body the guard has walked. Decoding runs under `catch_unwind` as a second
/// line of defence: anything a broker sends must become an error, never a panic in the
/// caller's task.
pub(crate) fn decode_body<T: Decodable>(checked: CheckedBody) -> Result<T> {
    let (api_key, version) = (checked.api_key(), checked.version());
    let mut body = checked.into_bytes();
    let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| T::decode(&mut body, version)));
    match res {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(Error::protocol(format!(
            "malformed {api_key:?} v{version} response: {e}"
        ))),
        Err(_) => Err(Error::protocol(format!(
            "malformed {api_key:?} v{version} response (decoder rejected it)"
        ))),
    }
}

/// Checks (the guard) and decodes a body that did not come through a connection task, e.g. a
/// handshake frame read before the task starts.
pub(crate) fn check_and_decode<T: Decodable>(body: Bytes, api_key: ApiKey, version: i16) -> Result<T> {
    decode_body(CheckedBody::new(api_key, version, body)?)
}

/// The API versions a broker supports, from its ApiVersions response.
#[derive(Debug, Clone, Default)]
pub(crate) struct BrokerVersions {
    ranges: HashMap<i16, (i16, i16)>,
    /// The broker's finalized features (KIP-584), for the client-wide view.
    pub(crate) features: super::features::FinalizedFeatures,
}

impl BrokerVersions {
    pub(crate) fn from_response(resp: &ApiVersionsResponse) -> Self {
        let ranges = resp
            .api_keys
            .iter()
            .map(|k| (k.api_key, (k.min_version, k.max_version)))
            .collect();
        BrokerVersions { ranges, features: super::features::FinalizedFeatures::from_response(resp) }
    }

    /// The highest version of `api_key` that both sides support, or `None`.
    pub(crate) fn pick(&self, api_key: ApiKey, ours: (i16, i16)) -> Option<i16> {
        let (bmin, bmax) = *self.ranges.get(&(api_key as i16))?;
        let hi = bmax.min(ours.1);
        let lo = bmin.max(ours.0);
        (lo <= hi).then_some(hi)
    }

    #[cfg(test)]
    pub(crate) fn from_ranges(r: &[(ApiKey, i16, i16)]) -> Self {
        BrokerVersions {
            ranges: r.iter().map(|(k, a, b)| (*k as i16, (*a, *b))).collect(),
            features: Default::default(),
        }
    }
}

/// The error for a request whose API the broker supports at no version gregor speaks.
///
/// Java's `NetworkClient` raises `UnsupportedVersionException` here, which is not retriable:
/// an old broker stays old. Where a missing API means a configured feature is unavailable, the
/// message says which setting to change (Java's `AbstractHeartbeatRequestManager` does the same
/// for KIP-848: "The cluster does not support the new CONSUMER group protocol").
pub(crate) fn unsupported_api(api_key: ApiKey, ours: (i16, i16), broker: &str) -> Error {
    let what = match api_key {
        ApiKey::ConsumerGroupHeartbeat => {
            "group.protocol=consumer needs the KIP-848 consumer group protocol (Apache Kafka 4.0+ \
             with group.version >= 1); set group.protocol=classic for this cluster"
                .to_string()
        }
        _ => format!("the broker supports no version of {api_key:?} in {}..={}", ours.0, ours.1),
    };
    Error::new(crate::error::ErrorKind::UnsupportedVersion, what).with_broker(broker)
}

/// The ApiVersions request gregor sends on every new connection.
pub(crate) fn api_versions_request() -> ApiVersionsRequest {
    ApiVersionsRequest::default()
        .with_client_software_name(StrBytes::from_static_str("gregor"))
        .with_client_software_version(StrBytes::from_static_str(env!("CARGO_PKG_VERSION")))
}

/// What an ApiVersions response means for the handshake.
#[derive(Debug)]
pub(crate) enum ApiVersionsOutcome {
    Ok(BrokerVersions),
    /// The broker does not support the version we sent; retry at this version.
    Retry(i16),
}

/// Decodes an ApiVersions response body sent in reply to a request at `sent_version`.
///
/// Java's `ApiVersionsResponse.parse`: a broker that does not know `sent_version` answers
/// UNSUPPORTED_VERSION, Apache Kafka in the v0 body layout (KIP-511), but other servers in the
/// layout of the version that was asked for. So the body is read at `sent_version` first and,
/// when that fails, at v0. Whichever layout reads is the answer.
pub(crate) fn parse_api_versions(body: Bytes, sent_version: i16) -> Result<ApiVersionsResponse> {
    match check_and_decode::<ApiVersionsResponse>(body.clone(), ApiKey::ApiVersions, sent_version) {
        Ok(r) => Ok(r),
        Err(e) if sent_version == 0 => Err(e),
        Err(e) => check_and_decode::<ApiVersionsResponse>(body, ApiKey::ApiVersions, 0).map_err(|e0| {
            Error::protocol(format!(
                "ApiVersions response is neither in the v{sent_version} layout ({e}) nor in the v0 layout ({e0})"
            ))
        }),
    }
}

/// Interprets an ApiVersions response body sent in reply to a request at `sent_version`.
///
/// Java's `NetworkClient.handleApiVersionsResponse`: UNSUPPORTED_VERSION to a request above v0
/// means "retry lower" — at the broker's own maximum for ApiVersions when its answer lists one
/// (Kafka 2.4+), else at v0, which every broker speaks. Any other error is the broker's answer.
/// Unlike Java, a retry never goes up or stays put: a broker that claims to support the version
/// it just refused is retried at v0, so the negotiation always ends.
pub(crate) fn interpret_api_versions(body: Bytes, sent_version: i16) -> Result<ApiVersionsOutcome> {
    let resp = parse_api_versions(body, sent_version)?;
    match KafkaCode(resp.error_code) {
        KafkaCode::NONE => Ok(ApiVersionsOutcome::Ok(BrokerVersions::from_response(&resp))),
        KafkaCode::UNSUPPORTED_VERSION if sent_version > 0 => {
            let advertised = resp
                .api_keys
                .iter()
                .find(|k| k.api_key == ApiKey::ApiVersions as i16)
                .map(|k| k.max_version);
            let retry = match advertised {
                Some(max) if (0..sent_version).contains(&max) => max,
                _ => 0,
            };
            Ok(ApiVersionsOutcome::Retry(retry))
        }
        _ => Err(Error::broker_code(resp.error_code, format!("ApiVersions v{sent_version} failed"))),
    }
}

/// The response header version for ApiVersions is always 0, whatever the request version
/// (so a client can read the error of a too-new request).
pub(crate) fn response_header_version(api_key: ApiKey, version: i16) -> i16 {
    if api_key == ApiKey::ApiVersions {
        0
    } else {
        api_key.response_header_version(version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::api_versions_response::ApiVersion;

    #[test]
    fn frame_longer_than_cap_is_rejected_before_allocation() {
        let dec = FrameDecoder::new(1024);
        let mut buf = BytesMut::from(&[0x7f, 0xff, 0xff, 0xff, 1, 2][..]);
        let cap_before = buf.capacity();
        let err = dec.decode(&mut buf).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Protocol);
        assert!(err.to_string().contains("exceeds response.max.bytes"), "{err}");
        assert_eq!(buf.capacity(), cap_before, "no buffer growth for a rejected frame");
    }

    #[test]
    fn frames_split_across_reads_are_reassembled() {
        let dec = FrameDecoder::new(1024);
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&[0, 0, 0, 3, b'a']);
        assert!(dec.decode(&mut buf).unwrap().is_none());
        buf.extend_from_slice(b"bc\x00\x00\x00\x01z");
        assert_eq!(&dec.decode(&mut buf).unwrap().unwrap()[..], b"abc");
        assert_eq!(&dec.decode(&mut buf).unwrap().unwrap()[..], b"z");
        assert!(dec.decode(&mut buf).unwrap().is_none());
    }

    #[test]
    fn negative_frame_length_is_an_error() {
        let dec = FrameDecoder::new(1024);
        let mut buf = BytesMut::from(&[0xff, 0xff, 0xff, 0xfe][..]);
        assert!(dec.decode(&mut buf).is_err());
    }

    #[test]
    fn version_pick_is_highest_common() {
        let v = BrokerVersions::from_ranges(&[(ApiKey::Fetch, 4, 12)]);
        assert_eq!(v.pick(ApiKey::Fetch, (4, 17)), Some(12));
        assert_eq!(v.pick(ApiKey::Fetch, (13, 17)), None);
        assert_eq!(v.pick(ApiKey::Metadata, (0, 12)), None);
    }

    /// An ApiVersions response body as a broker would write it in `layout`.
    fn answer(layout: i16, error: KafkaCode, ranges: &[(ApiKey, i16, i16)]) -> Bytes {
        let mut resp = ApiVersionsResponse::default().with_error_code(error.0);
        for (k, lo, hi) in ranges {
            resp.api_keys.push(
                ApiVersion::default().with_api_key(*k as i16).with_min_version(*lo).with_max_version(*hi),
            );
        }
        let mut b = BytesMut::new();
        resp.encode(&mut b, layout).unwrap();
        b.freeze()
    }

    fn retry_version(body: Bytes, sent: i16) -> i16 {
        match interpret_api_versions(body, sent).unwrap() {
            ApiVersionsOutcome::Retry(v) => v,
            o => panic!("expected a retry, got {o:?}"),
        }
    }

    // Apache Kafka's way (KIP-511): UNSUPPORTED_VERSION in the v0 layout.
    #[test]
    fn v0_layout_refusal_retries_at_the_advertised_max() {
        let body = answer(0, KafkaCode::UNSUPPORTED_VERSION, &[(ApiKey::ApiVersions, 0, 2)]);
        assert_eq!(retry_version(body, 3), 2);
    }

    #[test]
    fn v0_layout_refusal_without_a_range_retries_at_v0() {
        assert_eq!(retry_version(answer(0, KafkaCode::UNSUPPORTED_VERSION, &[]), 3), 0);
    }

    // Issue #13: other Kafka-protocol servers answer in the layout of the version asked for;
    // reading that only as v0 failed ("array count 16781824 cannot fit ...") forever.
    #[test]
    fn request_layout_refusal_retries_at_the_advertised_max() {
        let body = answer(3, KafkaCode::UNSUPPORTED_VERSION, &[(ApiKey::ApiVersions, 0, 2)]);
        assert!(check_and_decode::<ApiVersionsResponse>(body.clone(), ApiKey::ApiVersions, 0).is_err(), "not v0-readable");
        assert_eq!(retry_version(body, 3), 2);
    }

    #[test]
    fn request_layout_refusal_without_a_range_retries_at_v0() {
        assert_eq!(retry_version(answer(3, KafkaCode::UNSUPPORTED_VERSION, &[]), 3), 0);
    }

    #[test]
    fn refusal_whose_range_covers_the_refused_version_retries_at_v0() {
        // A broker that contradicts itself must not make us repeat the same version forever.
        let body = answer(3, KafkaCode::UNSUPPORTED_VERSION, &[(ApiKey::ApiVersions, 0, 4)]);
        assert_eq!(retry_version(body, 3), 0);
    }

    #[test]
    fn success_in_the_request_layout_gives_the_ranges() {
        let body = answer(3, KafkaCode::NONE, &[(ApiKey::ApiVersions, 0, 3), (ApiKey::Fetch, 4, 12)]);
        match interpret_api_versions(body, 3).unwrap() {
            ApiVersionsOutcome::Ok(v) => assert_eq!(v.pick(ApiKey::Fetch, (4, 17)), Some(12)),
            o => panic!("unexpected {o:?}"),
        }
    }

    #[test]
    fn success_in_the_v0_layout_to_a_newer_request_is_accepted() {
        // Java's parse falls back to v0 whatever the error code; so do we.
        let body = answer(0, KafkaCode::NONE, &[(ApiKey::ApiVersions, 0, 1), (ApiKey::Metadata, 0, 7)]);
        match interpret_api_versions(body, 3).unwrap() {
            ApiVersionsOutcome::Ok(v) => assert_eq!(v.pick(ApiKey::Metadata, (0, 12)), Some(7)),
            o => panic!("unexpected {o:?}"),
        }
    }

    #[test]
    fn refusal_of_v0_is_an_error() {
        let err = interpret_api_versions(answer(0, KafkaCode::UNSUPPORTED_VERSION, &[]), 0).unwrap_err();
        assert_eq!(err.code(), Some(KafkaCode::UNSUPPORTED_VERSION.0), "{err}");
    }

    #[test]
    fn another_error_code_is_the_brokers_answer() {
        let err = interpret_api_versions(answer(3, KafkaCode::INVALID_REQUEST, &[]), 3).unwrap_err();
        assert_eq!(err.code(), Some(KafkaCode::INVALID_REQUEST.0), "{err}");
    }

    #[test]
    fn garbage_api_versions_is_an_error_not_a_panic() {
        let err = interpret_api_versions(Bytes::from_static(&[1, 2, 3]), 3).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Protocol);
        let msg = err.to_string();
        assert!(msg.contains("v3 layout") && msg.contains("v0 layout"), "{msg}");
    }

    #[test]
    fn request_frame_has_length_prefix() {
        let f = encode_request(ApiKey::ApiVersions, 3, 7, "c", &api_versions_request()).unwrap();
        let len = i32::from_be_bytes([f[0], f[1], f[2], f[3]]) as usize;
        assert_eq!(len, f.len() - 4);
        // api key 18, version 3, correlation 7
        assert_eq!(&f[4..12], &[0, 18, 0, 3, 0, 0, 0, 7]);
    }
}
