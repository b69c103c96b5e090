//! ApiVersions (key 18): advertises exactly what `SUPPORTED` lists, and (v3+) the finalized
//! `transaction.version` feature (KIP-584, KIP-890) when the cluster sets one.

use bytes::BytesMut;
use kafka_protocol::messages::api_versions_response::{ApiVersion, FinalizedFeatureKey, SupportedFeatureKey};
use kafka_protocol::messages::{ApiKey, ApiVersionsResponse};
use kafka_protocol::protocol::Encodable;

use super::{sb, supported, Ctx, SUPPORTED, UNSUPPORTED_VERSION};

pub(crate) fn handle(ctx: &Ctx, v: i16, forced: Option<i16>) -> ApiVersionsResponse {
    let keys = SUPPORTED
        .iter()
        .map(|&(k, min, max)| {
            ApiVersion::default()
                .with_api_key(k as i16)
                .with_min_version(min)
                .with_max_version(max)
        })
        .collect();
    let resp = ApiVersionsResponse::default().with_error_code(forced.unwrap_or(0)).with_api_keys(keys);
    let (level, epoch) = {
        let st = ctx.shared.state();
        (st.txns.transaction_version, st.txns.features_epoch)
    };
    // The feature fields are tagged fields of v3+; level 0 is "not finalized" (a cluster that
    // never enabled it, as a pre-KIP-890 broker): nothing is listed.
    if v < 3 || level <= 0 {
        return resp;
    }
    resp.with_supported_features(vec![SupportedFeatureKey::default()
        .with_name(sb(crate::txn::TRANSACTION_VERSION_FEATURE))
        .with_min_version(0)
        .with_max_version(2)])
        .with_finalized_features_epoch(epoch)
        .with_finalized_features(vec![FinalizedFeatureKey::default()
            .with_name(sb(crate::txn::TRANSACTION_VERSION_FEATURE))
            .with_max_version_level(level)
            .with_min_version_level(level)])
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
