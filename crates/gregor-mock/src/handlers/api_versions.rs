//! ApiVersions (key 18): advertises exactly what `SUPPORTED` lists.

use bytes::BytesMut;
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{ApiKey, ApiVersionsResponse};
use kafka_protocol::protocol::Encodable;

use super::{supported, SUPPORTED, UNSUPPORTED_VERSION};

pub(crate) fn handle(forced: Option<i16>) -> ApiVersionsResponse {
    let keys = SUPPORTED
        .iter()
        .map(|&(k, min, max)| {
            ApiVersion::default()
                .with_api_key(k as i16)
                .with_min_version(min)
                .with_max_version(max)
        })
        .collect();
    ApiVersionsResponse::default()
        .with_error_code(forced.unwrap_or(0))
        .with_api_keys(keys)
}

/// v0-layout body for a too-new ApiVersions request (`ApiVersionsRequest.getErrorResponse`).
pub(crate) fn unsupported(_requested: i16) -> anyhow::Result<BytesMut> {
    let (min, max) = supported(ApiKey::ApiVersions).unwrap_or((0, 0));
    let resp = ApiVersionsResponse::default()
        .with_error_code(UNSUPPORTED_VERSION)
        .with_api_keys(vec![ApiVersion::default()
            .with_api_key(ApiKey::ApiVersions as i16)
            .with_min_version(min)
            .with_max_version(max)]);
    let mut b = BytesMut::new();
    resp.encode(&mut b, 0)?;
    Ok(b)
}
