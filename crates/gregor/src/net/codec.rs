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

use crate::error::{Error, Result};

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

/// Decodes a response body. Decoding runs under `catch_unwind` as a second line of defence:
/// anything a broker sends must become an error, never a panic in the caller's task.
pub(crate) fn decode_body<T: Decodable>(mut body: Bytes, api_key: ApiKey, version: i16) -> Result<T> {
    // Array counts are checked against the bytes first: the decoder preallocates from them.
    super::guard::check(api_key, version, &body)?;
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

/// The API versions a broker supports, from its ApiVersions response.
#[derive(Debug, Clone, Default)]
pub(crate) struct BrokerVersions {
    ranges: HashMap<i16, (i16, i16)>,
}

impl BrokerVersions {
    pub(crate) fn from_response(resp: &ApiVersionsResponse) -> Self {
        let ranges = resp
            .api_keys
            .iter()
            .map(|k| (k.api_key, (k.min_version, k.max_version)))
            .collect();
        BrokerVersions { ranges }
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
        }
    }
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

/// Interprets an ApiVersions response body sent in reply to a request at `sent_version`.
///
/// A broker that does not know `sent_version` answers UNSUPPORTED_VERSION (35) using the v0
/// body layout (KIP-511), listing its own range for ApiVersions so the client can retry at the
/// broker's max. If that list is missing, retry at v0, which every broker speaks.
pub(crate) fn interpret_api_versions(body: Bytes, sent_version: i16) -> Result<ApiVersionsOutcome> {
    const UNSUPPORTED_VERSION: i16 = 35;
    let parsed: Result<ApiVersionsResponse> =
        decode_body(body.clone(), ApiKey::ApiVersions, sent_version);
    let resp = match parsed {
        Ok(r) if r.error_code != UNSUPPORTED_VERSION => r,
        // Either the body decoded at our version says "unsupported", or it is in the v0 layout
        // and did not decode at our (flexible) version: read it as v0.
        _ => {
            let v0: ApiVersionsResponse = decode_body(body, ApiKey::ApiVersions, 0)?;
            if v0.error_code != UNSUPPORTED_VERSION {
                return Err(Error::broker_code(v0.error_code, "ApiVersions failed"));
            }
            let max = v0
                .api_keys
                .iter()
                .find(|k| k.api_key == ApiKey::ApiVersions as i16)
                .map(|k| k.max_version)
                .unwrap_or(0);
            let retry = if max < sent_version { max.max(0) } else { 0 };
            if retry >= sent_version {
                return Err(Error::protocol("ApiVersions negotiation did not converge"));
            }
            return Ok(ApiVersionsOutcome::Retry(retry));
        }
    };
    if resp.error_code != 0 {
        return Err(Error::broker_code(resp.error_code, "ApiVersions failed"));
    }
    Ok(ApiVersionsOutcome::Ok(BrokerVersions::from_response(&resp)))
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

    fn v0_unsupported(max: Option<i16>) -> Bytes {
        let mut resp = ApiVersionsResponse::default().with_error_code(35);
        if let Some(m) = max {
            resp.api_keys.push(
                ApiVersion::default()
                    .with_api_key(ApiKey::ApiVersions as i16)
                    .with_min_version(0)
                    .with_max_version(m),
            );
        }
        let mut b = BytesMut::new();
        resp.encode(&mut b, 0).unwrap();
        b.freeze()
    }

    #[test]
    fn too_new_api_versions_retries_at_broker_max() {
        match interpret_api_versions(v0_unsupported(Some(2)), 3).unwrap() {
            ApiVersionsOutcome::Retry(v) => assert_eq!(v, 2),
            o => panic!("unexpected {o:?}"),
        }
    }

    #[test]
    fn too_new_api_versions_without_range_retries_at_v0() {
        match interpret_api_versions(v0_unsupported(None), 3).unwrap() {
            ApiVersionsOutcome::Retry(v) => assert_eq!(v, 0),
            o => panic!("unexpected {o:?}"),
        }
    }

    #[test]
    fn garbage_api_versions_is_an_error_not_a_panic() {
        assert!(interpret_api_versions(Bytes::from_static(&[1, 2, 3]), 3).is_err());
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
