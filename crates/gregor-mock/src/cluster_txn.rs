//! `MockCluster` accessors for idempotent and transactional producers: the transaction
//! coordinator's view of a transactional id, a partition's last stable offset, and a fault
//! that makes a partition forget its producers.

use crate::cluster::MockCluster;
use crate::txn::Phase;

/// Where a transaction stands (Kafka's `TransactionState`, without the prepare phases the
/// mock never shows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionState {
    /// InitProducerId done, nothing added yet.
    Empty,
    /// Partitions or a group were added.
    Ongoing,
    /// The last transaction committed.
    CompleteCommit,
    /// The last transaction aborted.
    CompleteAbort,
}

/// The transaction coordinator's record of one `transactional.id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionSnapshot {
    /// Producer id.
    pub producer_id: i64,
    /// Current epoch (bumped by every InitProducerId, fencing older instances).
    pub epoch: i16,
    /// State.
    pub state: TransactionState,
    /// `transaction.timeout.ms` the producer asked for (the mock never expires transactions).
    pub timeout_ms: i32,
    /// Partitions in the open transaction.
    pub partitions: Vec<(String, i32)>,
    /// Groups whose offsets the open transaction commits.
    pub groups: Vec<String>,
}

impl MockCluster {
    /// The transaction coordinator's record of `transactional_id`, if any.
    pub fn transaction(&self, transactional_id: &str) -> Option<TransactionSnapshot> {
        let st = self.shared.state();
        let m = st.txns.txns.get(transactional_id)?;
        Some(TransactionSnapshot {
            producer_id: m.producer_id,
            epoch: m.epoch,
            state: match m.phase {
                Phase::Empty => TransactionState::Empty,
                Phase::Ongoing => TransactionState::Ongoing,
                Phase::CompleteCommit => TransactionState::CompleteCommit,
                Phase::CompleteAbort => TransactionState::CompleteAbort,
            },
            timeout_ms: m.timeout_ms,
            partitions: m.partitions.iter().cloned().collect(),
            groups: m.groups.iter().cloned().collect(),
        })
    }

    /// The partition's last stable offset: where `read_committed` consumers stop (the first
    /// offset of the oldest open transaction, else the high watermark).
    pub fn last_stable_offset(&self, topic: &str, partition: i32) -> Option<i64> {
        let st = self.shared.state();
        let p = st.topics.get(topic)?.partitions.get(partition as usize)?;
        Some(p.log.producers.last_stable_offset(p.log.high_watermark))
    }

    /// Changes the finalized `transaction.version` (as `kafka-features upgrade` does), with a
    /// new features epoch; clients see it in the ApiVersions of their next connections.
    pub fn set_transaction_version(&self, level: i16) {
        let mut st = self.shared.state();
        st.txns.transaction_version = level.max(0);
        st.txns.features_epoch += 1;
    }

    /// Sets the epoch the coordinator holds for `transactional_id` (as if that many
    /// transactions had passed): lets tests reach an exhausted epoch, where the next bump
    /// hands out a new producer id. Returns false for an unknown id.
    pub fn set_transaction_epoch(&self, transactional_id: &str, epoch: i16) -> bool {
        let mut st = self.shared.state();
        match st.txns.txns.get_mut(transactional_id) {
            Some(m) => {
                m.epoch = epoch;
                true
            }
            None => false,
        }
    }

    /// Makes the partition forget every producer's sequence state, as when retention deleted
    /// all their records: the next batch of any sequence is accepted.
    pub fn forget_producers(&self, topic: &str, partition: i32) {
        let mut st = self.shared.state();
        if let Some(p) = st.topics.get_mut(topic).and_then(|t| t.partitions.get_mut(partition as usize)) {
            p.log.producers.forget();
        }
    }
}
