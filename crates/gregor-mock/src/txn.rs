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
    /// The producer id before an epoch overflow gave a new one (-1: none), so that a retried
    /// EndTxn of the old id is recognised (transaction version 2).
    pub prev_producer_id: i64,
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
    /// The finalized `transaction.version` the brokers advertise (0: none, as before KIP-890;
    /// 2: transaction version 2). The mock serves both protocols whatever the level, like a
    /// broker, which goes by request versions (Produce v12+, EndTxn v5+, TxnOffsetCommit v5+).
    pub transaction_version: i16,
    /// `FinalizedFeaturesEpoch`, bumped by every change of the level.
    pub features_epoch: i64,
}

/// `TransactionVersion.FEATURE_NAME`.
pub(crate) const TRANSACTION_VERSION_FEATURE: &str = "transaction.version";

impl Default for TxnCoordinator {
    fn default() -> Self {
        TxnCoordinator {
            txns: HashMap::new(),
            next_producer_id: 5000,
            pending_offsets: HashMap::new(),
            coordinator_epoch: 0,
            transaction_version: 0,
            features_epoch: 1,
        }
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

    /// Transaction version 2: a Produce v12+ batch of `producer_id` at `epoch` adds
    /// `(topic, partition)` to that producer's transaction, starting one if none is open
    /// (Kafka's `TransactionCoordinator.handleAddPartitionsToTransaction` with TV_2). Errors
    /// as the coordinator's: an unknown producer id is INVALID_PRODUCER_ID_MAPPING, another
    /// epoch PRODUCER_FENCED.
    pub(crate) fn add_partition_implicitly(&mut self, producer_id: i64, epoch: i16, topic: &str, partition: i32) -> Result<(), i16> {
        let m = self.txns.txns.values_mut().find(|m| m.producer_id == producer_id).ok_or(INVALID_PRODUCER_ID_MAPPING)?;
        if m.epoch != epoch {
            return Err(PRODUCER_FENCED);
        }
        m.partitions.insert((topic.to_string(), partition));
        m.phase = Phase::Ongoing;
        Ok(())
    }

    /// Transaction version 2 (EndTxn v5+): the coordinator bumps the epoch of `txn_id` at the
    /// end of every transaction — a new producer id with epoch 0 when the epoch is exhausted
    /// (`TransactionMetadata.prepareAbortOrCommit`, `isProducerEpochExhausted`) — and writes
    /// the markers with the bumped epoch, which fences the ended transaction's epoch on every
    /// partition it wrote to. Returns the new producer id and epoch.
    pub(crate) fn end_txn_with_bump(&mut self, txn_id: &str, commit: bool) -> Option<(i64, i16)> {
        let m = self.txns.txns.get(txn_id)?.clone();
        let exhausted = m.epoch >= i16::MAX - 1;
        let marker_epoch = if exhausted { m.epoch } else { m.epoch + 1 };
        self.complete_txn(txn_id, commit, marker_epoch);
        let next = if exhausted { (self.txns.allocate_producer_id(), 0) } else { (m.producer_id, marker_epoch) };
        if let Some(m) = self.txns.txns.get_mut(txn_id) {
            m.prev_producer_id = if exhausted { m.producer_id } else { -1 };
            m.producer_id = next.0;
            m.epoch = next.1;
        }
        Some(next)
    }

    /// Whether `(topic, partition)` is part of the open transaction of `producer_id`.
    pub(crate) fn in_open_txn(&self, producer_id: i64, topic: &str, partition: i32) -> bool {
        self.txns
            .txns
            .values()
            .any(|m| m.producer_id == producer_id && m.phase == Phase::Ongoing && m.partitions.contains(&(topic.to_string(), partition)))
    }
}
