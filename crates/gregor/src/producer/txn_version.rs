//! Which transaction protocol the transactional producer speaks (KIP-890 part 2), sans-io: the
//! one place that reads the finalized `transaction.version` feature and says what it changes.
//!
//! Transaction version 2 (`transaction.version` finalized at level 2 or more, Kafka 4.0+):
//! * no AddPartitionsToTxn: Produce v12+ adds a partition to the transaction implicitly
//!   (the broker asks the coordinator itself; Java `TransactionManager.maybeAddPartition` puts the
//!   partition straight into `partitionsInTransaction`, `Sender.sendProduceRequest` uses the
//!   latest Produce version);
//! * no AddOffsetsToTxn: TxnOffsetCommit v5+ goes straight to the group coordinator, which adds
//!   the group (Java `sendOffsetsToTransaction`: "In transaction V2, the client will skip
//!   sending AddOffsetsToTxn before sending txnOffsetCommit");
//! * EndTxn v5+: the coordinator bumps the epoch at the end of every transaction and returns
//!   the new producer id and epoch (a new id when the epoch is exhausted), which the producer
//!   adopts with fresh sequences (Java `EndTxnHandler.handleResponse`); so an abortable error
//!   needs no epoch bump of the producer's own (Java `needToTriggerEpochBumpFromClient`).
//!
//! Under version 1 the request versions stay below those that mean "version 2" to a broker:
//! Produce ≤ 11, EndTxn ≤ 4, TxnOffsetCommit ≤ 4 (Java `ProduceRequest.builder(.., true)`,
//! `EndTxnRequest.Builder.build`, `TxnOffsetCommitRequest.Builder.build`:
//! `LAST_STABLE_VERSION_BEFORE_TRANSACTION_V2`).
//!
//! When it is decided (Java `maybeUpdateTransactionV2Enabled`): after `init_transactions`, and
//! when a transaction ends, from the newest finalized features any broker announced. A
//! transaction runs to its end with the version it began with (Java builds the EndTxn request
//! before re-reading the features); an upgrade from 1 to 2 between transactions first bumps the
//! epoch with InitProducerId (KIP-360 style), so that no partition of the previous version-1
//! transaction counts as already added to the next one. A downgrade needs nothing.

use crate::net::features::FinalizedFeatures;

/// The feature's name (`TransactionVersion.FEATURE_NAME`).
pub(crate) const FEATURE: &str = "transaction.version";

/// The last request versions of transaction version 1
/// (`LAST_STABLE_VERSION_BEFORE_TRANSACTION_V2`).
const PRODUCE_V1_MAX: i16 = 11;
const END_TXN_V1_MAX: i16 = 4;
const TXN_OFFSET_COMMIT_V1_MAX: i16 = 4;

/// What the protocol version means for a request: its version range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TxnVersion {
    /// The finalized features epoch last read (Java `latestFinalizedFeaturesEpoch`).
    seen_epoch: i64,
    v2: bool,
}

impl Default for TxnVersion {
    fn default() -> Self {
        TxnVersion { seen_epoch: -1, v2: false }
    }
}

/// Whether `features` enable transaction version 2 (level ≥ 2; absent means 0).
pub(crate) fn enables_v2(features: &FinalizedFeatures) -> bool {
    features.level(FEATURE).is_some_and(|l| l >= 2)
}

impl TxnVersion {
    /// Reads the newest finalized features (Java `maybeUpdateTransactionV2Enabled`): nothing
    /// changes unless their epoch is newer than the last one read. Returns `true` when the
    /// producer must bump its epoch before the next transaction: an upgrade to version 2 seen
    /// at the end of a transaction (`on_init` false), never on initialization.
    pub(crate) fn handle_features(&mut self, features: &FinalizedFeatures, on_init: bool) -> bool {
        if self.seen_epoch >= features.epoch {
            return false;
        }
        self.seen_epoch = features.epoch;
        let was = self.v2;
        self.v2 = enables_v2(features);
        if was != self.v2 {
            tracing::info!(transaction_version_2 = self.v2, features_epoch = features.epoch, "transaction protocol changed");
        }
        !on_init && !was && self.v2
    }

    /// Transaction version 2 is in use.
    pub(crate) fn is_v2(&self) -> bool {
        self.v2
    }

    /// The Produce versions a transactional producer may send; `all` is the client's range.
    pub(crate) fn produce_versions(&self, all: (i16, i16)) -> (i16, i16) {
        if self.v2 {
            all
        } else {
            (all.0, all.1.min(PRODUCE_V1_MAX))
        }
    }

    /// EndTxn versions (v5 returns the bumped producer id and epoch).
    pub(crate) fn end_txn_versions(&self) -> (i16, i16) {
        (0, if self.v2 { 5 } else { END_TXN_V1_MAX })
    }

    /// TxnOffsetCommit versions (v5: the group coordinator adds the group to the transaction).
    pub(crate) fn txn_offset_commit_versions(&self) -> (i16, i16) {
        (0, if self.v2 { 5 } else { TXN_OFFSET_COMMIT_V1_MAX })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn features(epoch: i64, level: Option<i16>) -> FinalizedFeatures {
        let mut f = FinalizedFeatures { epoch, ..Default::default() };
        if let Some(l) = level {
            f.levels.insert(FEATURE.to_string(), l);
        }
        f
    }

    #[test]
    fn level_two_or_more_enables_version_2_and_picks_the_request_versions() {
        for (level, v2) in [(None, false), (Some(0), false), (Some(1), false), (Some(2), true), (Some(3), true)] {
            let mut t = TxnVersion::default();
            assert!(!t.handle_features(&features(1, level), true), "no bump on init");
            assert_eq!(t.is_v2(), v2, "{level:?}");
            assert_eq!(t.produce_versions((3, 12)), if v2 { (3, 12) } else { (3, 11) });
            assert_eq!(t.end_txn_versions(), (0, if v2 { 5 } else { 4 }));
            assert_eq!(t.txn_offset_commit_versions(), (0, if v2 { 5 } else { 4 }));
        }
        // A broker without KIP-584: version 1.
        let mut t = TxnVersion::default();
        t.handle_features(&FinalizedFeatures::default(), true);
        assert!(!t.is_v2());
    }

    #[test]
    fn an_upgrade_between_transactions_asks_for_an_epoch_bump_and_a_downgrade_does_not() {
        let mut t = TxnVersion::default();
        t.handle_features(&features(3, Some(1)), true);
        assert!(!t.handle_features(&features(3, Some(2)), false), "same epoch: nothing read");
        assert!(!t.is_v2());
        assert!(t.handle_features(&features(4, Some(2)), false), "upgrade at a transaction's end: bump");
        assert!(t.is_v2());
        assert!(!t.handle_features(&features(5, Some(2)), false), "still 2: no bump");
        assert!(!t.handle_features(&features(6, Some(1)), false), "downgrade: no bump");
        assert!(!t.is_v2());
        // An upgrade seen by init_transactions needs no bump: the epoch is fresh.
        let mut t = TxnVersion::default();
        assert!(!t.handle_features(&features(9, Some(2)), true));
        assert!(t.is_v2());
    }
}
