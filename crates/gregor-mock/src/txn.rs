//! The transaction coordinator (Kafka's `TransactionCoordinator`, transaction version 1):
//! transactional ids with their producer id and epoch, the partitions and groups of the open
//! transaction, the offsets it will commit, and ending it by writing markers.
//!
//! Simplifications: a transaction ends at once (markers are written synchronously, so there
//! is no `PrepareCommit` / `PrepareAbort` to wait out and CONCURRENT_TRANSACTIONS is never
//! returned), `transaction.timeout.ms` is recorded but never expires a transaction, and the
//! state lives in memory (no `__transaction_state` topic).

use std::collections::{BTreeSet, HashMap};

use crate::state::{Committed, State};

/// Error codes of the transactional APIs (`Errors`).
pub(crate) const INVALID_PRODUCER_EPOCH: i16 = 47;
pub(crate) const INVALID_TXN_STATE: i16 = 48;
pub(crate) const INVALID_PRODUCER_ID_MAPPING: i16 = 49;
pub(crate) const PRODUCER_FENCED: i16 = 90;
pub(crate) const TRANSACTIONAL_ID_AUTHORIZATION_FAILED: i16 = 53;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Empty,
    Ongoing,
    CompleteCommit,
    CompleteAbort,
}

#[derive(Debug, Clone)]
pub(crate) struct TxnMeta {
    pub producer_id: i64,
    pub epoch: i16,
    pub timeout_ms: i32,
    pub phase: Phase,
    pub partitions: BTreeSet<(String, i32)>,
    pub groups: BTreeSet<String>,
}

#[derive(Debug)]
pub(crate) struct TxnCoordinator {
    pub txns: HashMap<String, TxnMeta>,
    next_producer_id: i64,
    /// Offsets a transaction will commit: (group, producer id) → (topic, partition, offset).
    pending_offsets: HashMap<(String, i64), Vec<(String, i32, Committed)>>,
    /// Epoch of this coordinator, written into markers.
    pub coordinator_epoch: i32,
}

impl Default for TxnCoordinator {
    fn default() -> Self {
        TxnCoordinator { txns: HashMap::new(), next_producer_id: 5000, pending_offsets: HashMap::new(), coordinator_epoch: 0 }
    }
}

impl TxnCoordinator {
    /// A new producer id (idempotent producers and new transactional ids).
    pub(crate) fn allocate_producer_id(&mut self) -> i64 {
        let id = self.next_producer_id;
        self.next_producer_id += 1;
        id
    }

    /// Checks the producer id and epoch a request carries against the transactional id's
    /// (Kafka `TransactionCoordinator`: an unknown id or another producer id is
    /// INVALID_PRODUCER_ID_MAPPING; an older epoch is fenced).
    pub(crate) fn validate(&self, txn_id: &str, producer_id: i64, epoch: i16, fenced_code: i16) -> Result<&TxnMeta, i16> {
        let m = self.txns.get(txn_id).ok_or(INVALID_PRODUCER_ID_MAPPING)?;
        if m.producer_id != producer_id {
            return Err(INVALID_PRODUCER_ID_MAPPING);
        }
        if epoch != m.epoch {
            return Err(fenced_code);
        }
        Ok(m)
    }

    /// Records offsets of the open transaction of `producer_id` for `group`.
    pub(crate) fn add_pending_offsets(&mut self, group: &str, producer_id: i64, offsets: Vec<(String, i32, Committed)>) {
        self.pending_offsets.entry((group.to_string(), producer_id)).or_default().extend(offsets);
    }
}

impl State {
    /// Ends the open transaction of `txn_id`: a marker with `marker_epoch` on every partition
    /// it wrote to, its pending offsets committed (or dropped). The phase becomes
    /// CompleteCommit / CompleteAbort.
    pub(crate) fn complete_txn(&mut self, txn_id: &str, commit: bool, marker_epoch: i16) {
        let Some(meta) = self.txns.txns.get(txn_id).cloned() else { return };
        let coordinator_epoch = self.txns.coordinator_epoch;
        for (topic, partition) in &meta.partitions {
            if let Some(p) = self.topics.get_mut(topic).and_then(|t| t.partitions.get_mut(*partition as usize)) {
                p.log.append_marker(meta.producer_id, marker_epoch, commit, coordinator_epoch);
            }
        }
        for group in &meta.groups {
            let pending = self.txns.pending_offsets.remove(&(group.clone(), meta.producer_id)).unwrap_or_default();
            if commit {
                for (topic, partition, c) in pending {
                    self.offsets.insert((group.clone(), topic, partition), c);
                }
            }
        }
        if let Some(m) = self.txns.txns.get_mut(txn_id) {
            m.phase = if commit { Phase::CompleteCommit } else { Phase::CompleteAbort };
            m.partitions.clear();
            m.groups.clear();
        }
    }

    /// Whether `(topic, partition)` is part of the open transaction of `producer_id`.
    pub(crate) fn in_open_txn(&self, producer_id: i64, topic: &str, partition: i32) -> bool {
        self.txns
            .txns
            .values()
            .any(|m| m.producer_id == producer_id && m.phase == Phase::Ongoing && m.partitions.contains(&(topic.to_string(), partition)))
    }
}
