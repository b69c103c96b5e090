//! The cluster's finalized features (KIP-584), as brokers announce them in their ApiVersions
//! responses (v3+: `FinalizedFeaturesEpoch` and `FinalizedFeatures`), sans-io.
//!
//! Every connection's handshake brings one broker's view; brokers learn feature changes from
//! the controller at different times, so the view with the highest epoch wins (Java
//! `ApiVersions.update`: "if maxFinalizedFeaturesEpoch < nodeApiVersions.finalizedFeaturesEpoch"
//! then take that node's features). Clients read it where a feature changes what they send:
//! the transactional producer reads `transaction.version` (KIP-890,
//! [`crate::producer::txn_version`]).

use std::collections::BTreeMap;

use kafka_protocol::messages::ApiVersionsResponse;

/// One broker's (or the newest known) finalized feature levels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FinalizedFeatures {
    /// `FinalizedFeaturesEpoch`; -1 when the broker announced none (ApiVersions below v3, or a
    /// broker that predates KIP-584).
    pub(crate) epoch: i64,
    /// Feature name → finalized max version level.
    pub(crate) levels: BTreeMap<String, i16>,
}

impl Default for FinalizedFeatures {
    fn default() -> Self {
        FinalizedFeatures { epoch: -1, levels: BTreeMap::new() }
    }
}

impl FinalizedFeatures {
    /// The features of one ApiVersions response. Names and levels are data off the wire: a
    /// negative level is kept as is (the readers compare with `>=`), a repeated name keeps the
    /// last one.
    pub(crate) fn from_response(resp: &ApiVersionsResponse) -> Self {
        FinalizedFeatures {
            epoch: resp.finalized_features_epoch,
            levels: resp.finalized_features.iter().map(|f| (f.name.to_string(), f.max_version_level)).collect(),
        }
    }

    /// The finalized level of `name` (`None`: not finalized, as for a feature the cluster does
    /// not know).
    pub(crate) fn level(&self, name: &str) -> Option<i16> {
        self.levels.get(name).copied()
    }

    /// Takes `other` if it is newer (Java `ApiVersions.update`); returns whether it did.
    pub(crate) fn update(&mut self, other: &FinalizedFeatures) -> bool {
        if other.epoch > self.epoch {
            *self = other.clone();
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::api_versions_response::FinalizedFeatureKey;
    use kafka_protocol::protocol::StrBytes;

    fn resp(epoch: i64, tv: Option<i16>) -> ApiVersionsResponse {
        let mut r = ApiVersionsResponse::default().with_finalized_features_epoch(epoch);
        if let Some(level) = tv {
            r.finalized_features.push(
                FinalizedFeatureKey::default()
                    .with_name(StrBytes::from_static_str("transaction.version"))
                    .with_max_version_level(level)
                    .with_min_version_level(level),
            );
        }
        r
    }

    #[test]
    fn the_view_with_the_highest_epoch_wins() {
        let mut known = FinalizedFeatures::default();
        assert_eq!(known.level("transaction.version"), None);
        assert!(known.update(&FinalizedFeatures::from_response(&resp(5, Some(1)))));
        assert_eq!(known.level("transaction.version"), Some(1));
        // A broker that has not caught up yet (older epoch) does not undo a newer view.
        assert!(!known.update(&FinalizedFeatures::from_response(&resp(4, Some(2)))));
        assert!(!known.update(&FinalizedFeatures::from_response(&resp(5, Some(2)))), "same epoch: no change");
        assert_eq!(known.level("transaction.version"), Some(1));
        assert!(known.update(&FinalizedFeatures::from_response(&resp(6, Some(2)))));
        assert_eq!((known.epoch, known.level("transaction.version")), (6, Some(2)));
        // A downgrade comes with a newer epoch too, and the feature may disappear.
        assert!(known.update(&FinalizedFeatures::from_response(&resp(7, None))));
        assert_eq!(known.level("transaction.version"), None);
        // A broker without KIP-584 (epoch -1) never replaces anything.
        assert!(!known.update(&FinalizedFeatures::default()));
    }
}
