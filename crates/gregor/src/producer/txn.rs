//! The transactional producer's state (Java `TransactionManager`'s states and the partitions
//! of the open transaction), sans-io: the calls of [`Producer`](super::Producer) check and move
//! it; the sender asks it which partitions may be sent to and tells it about failures.

use std::collections::{BTreeSet, HashSet};

use super::accumulator::TopicPartition;
use super::txn_version::TxnVersion;
use crate::error::{Error, ErrorKind};

/// Java `TransactionManager.State`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// `init_transactions` not called (or not finished).
    Uninitialized,
    /// InitProducerId in progress.
    Initializing,
    /// Between transactions.
    Ready,
    /// `begin_transaction` was called.
    InTransaction,
    /// `commit_transaction` in progress.
    Committing,
    /// `abort_transaction` in progress.
    Aborting,
    /// A send or request failed: only `abort_transaction` is allowed.
    AbortableError,
    /// Fenced or otherwise unusable: only `close`.
    FatalError,
}

/// The open transaction and the producer's transactional state.
#[derive(Debug)]
pub(crate) struct TxnState {
    pub(crate) transactional_id: String,
    pub(crate) phase: Phase,
    /// Partitions added to the open transaction (AddPartitionsToTxn answered).
    added: HashSet<TopicPartition>,
    /// Partitions with records in the open transaction, not added yet.
    to_add: BTreeSet<TopicPartition>,
    /// An AddPartitionsToTxn is in flight.
    pub(crate) adding: bool,
    /// Partitions or offsets were added: the transaction must be ended with EndTxn.
    pub(crate) started: bool,
    /// Why the producer is in an error phase.
    error: Option<Error>,
    /// The transaction coordinator's broker id, once found.
    pub(crate) coordinator: Option<i32>,
    /// The transaction protocol (KIP-890): fixed for a transaction, re-read between them.
    pub(crate) version: TxnVersion,
    /// An upgrade to transaction version 2 was seen: the epoch is bumped before the next
    /// transaction (kept until the bump succeeds, so a retried call still does it).
    pub(crate) epoch_bump_pending: bool,
}

impl TxnState {
    pub(crate) fn new(transactional_id: String) -> Self {
        TxnState {
            transactional_id,
            phase: Phase::Uninitialized,
            added: HashSet::new(),
            to_add: BTreeSet::new(),
            adding: false,
            started: false,
            error: None,
            coordinator: None,
            version: TxnVersion::default(),
            epoch_bump_pending: false,
        }
    }

    fn illegal(&self, op: &str) -> Error {
        match (&self.phase, &self.error) {
            (Phase::AbortableError | Phase::FatalError, Some(e)) => Error::new(
                e.kind(),
                format!("cannot {op}: the transactional producer {} failed earlier: {e}", self.err_hint()),
            ),
            _ => Error::new(ErrorKind::State, format!("cannot {op} while the transactional producer is {:?}", self.phase)),
        }
    }

    fn err_hint(&self) -> &'static str {
        if self.phase == Phase::AbortableError {
            "(abort the transaction to continue)"
        } else {
            "(fatal: close the producer)"
        }
    }

    /// The error that put the producer in an error phase.
    pub(crate) fn error(&self) -> Option<&Error> {
        self.error.as_ref()
    }

    /// `init_transactions` may start (Java: from UNINITIALIZED; a retried call after a timeout
    /// continues).
    pub(crate) fn begin_init(&mut self) -> Result<(), Error> {
        match self.phase {
            Phase::Uninitialized | Phase::Initializing => {
                self.phase = Phase::Initializing;
                Ok(())
            }
            _ => Err(self.illegal("initialize transactions")),
        }
    }

    /// InitProducerId answered.
    pub(crate) fn init_done(&mut self) {
        if self.phase != Phase::FatalError {
            self.phase = Phase::Ready;
            self.error = None;
        }
    }

    /// `begin_transaction`.
    pub(crate) fn begin(&mut self) -> Result<(), Error> {
        if self.phase != Phase::Ready {
            return Err(self.illegal("begin a transaction"));
        }
        self.phase = Phase::InTransaction;
        Ok(())
    }

    /// A record for `tp` is being sent: the partition joins the transaction (Java
    /// `maybeAddPartition`). Under transaction version 2 it is part of it at once: its first
    /// Produce request (v12+) adds it, so the transaction has started.
    pub(crate) fn add_partition(&mut self, tp: &TopicPartition) -> Result<(), Error> {
        if self.phase != Phase::InTransaction {
            return Err(self.illegal("send"));
        }
        if self.version.is_v2() {
            self.added.insert(tp.clone());
            self.started = true;
        } else if !self.added.contains(tp) {
            self.to_add.insert(tp.clone());
        }
        Ok(())
    }

    /// `send_offsets_to_transaction` may run.
    pub(crate) fn check_in_transaction(&self, op: &str) -> Result<(), Error> {
        if self.phase != Phase::InTransaction {
            return Err(self.illegal(op));
        }
        Ok(())
    }

    /// Whether batches of `tp` may go (Java `isSendToPartitionAllowed`): in an error phase
    /// only partitions already added (their batches are then failed or flushed by the abort).
    pub(crate) fn send_allowed(&self, tp: &TopicPartition) -> bool {
        self.added.contains(tp)
    }

    /// The partitions to add next, if an AddPartitionsToTxn should be sent now.
    pub(crate) fn take_to_add(&mut self) -> Option<Vec<TopicPartition>> {
        if self.adding || self.to_add.is_empty() || !matches!(self.phase, Phase::InTransaction | Phase::Committing) {
            return None;
        }
        self.adding = true;
        Some(self.to_add.iter().cloned().collect())
    }

    /// AddPartitionsToTxn added `partitions`.
    pub(crate) fn added(&mut self, partitions: &[TopicPartition]) {
        self.adding = false;
        for tp in partitions {
            self.to_add.remove(tp);
            self.added.insert(tp.clone());
        }
        self.started = true;
    }

    /// AddPartitionsToTxn must be retried.
    pub(crate) fn add_failed(&mut self) {
        self.adding = false;
    }

    /// The transaction cannot commit (Java `transitionToAbortableError`); ignored in a fatal
    /// phase or while aborting.
    pub(crate) fn abortable(&mut self, e: Error) {
        if matches!(self.phase, Phase::FatalError | Phase::Aborting | Phase::Uninitialized | Phase::Ready) {
            return;
        }
        tracing::warn!(transactional_id = %self.transactional_id, error = %e, "transaction must be aborted");
        self.phase = Phase::AbortableError;
        self.error = Some(e);
    }

    /// The producer cannot continue (fenced, unauthorized, ...).
    pub(crate) fn fatal(&mut self, e: Error) {
        if self.phase == Phase::FatalError {
            return;
        }
        tracing::error!(transactional_id = %self.transactional_id, error = %e, "transactional producer failed");
        self.phase = Phase::FatalError;
        self.error = Some(e);
    }

    /// `commit_transaction` may start (Java `beginCommit`).
    pub(crate) fn begin_commit(&mut self) -> Result<(), Error> {
        match self.phase {
            Phase::InTransaction | Phase::Committing => {
                self.phase = Phase::Committing;
                Ok(())
            }
            _ => Err(self.illegal("commit the transaction")),
        }
    }

    /// `abort_transaction` may start (Java `beginAbort`): from a transaction or an abortable
    /// error.
    pub(crate) fn begin_abort(&mut self) -> Result<(), Error> {
        match self.phase {
            Phase::InTransaction | Phase::AbortableError | Phase::Aborting | Phase::Committing => {
                self.phase = Phase::Aborting;
                Ok(())
            }
            _ => Err(self.illegal("abort the transaction")),
        }
    }

    /// The transaction ended (Java `completeTransaction`).
    pub(crate) fn complete(&mut self) {
        if self.phase != Phase::FatalError {
            self.phase = Phase::Ready;
            self.error = None;
        }
        self.added.clear();
        self.to_add.clear();
        self.adding = false;
        self.started = false;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn tp(p: i32) -> TopicPartition {
        TopicPartition { topic: Arc::from("t"), partition: p }
    }

    #[test]
    fn the_calls_follow_javas_state_machine() {
        let mut t = TxnState::new("tx".into());
        assert_eq!(t.begin().unwrap_err().kind(), ErrorKind::State, "begin before init");
        t.begin_init().unwrap();
        t.init_done();
        assert!(t.add_partition(&tp(0)).is_err(), "send outside a transaction");
        t.begin().unwrap();
        assert!(t.begin().is_err(), "no nested transactions");
        t.add_partition(&tp(0)).unwrap();
        t.add_partition(&tp(1)).unwrap();
        assert!(!t.send_allowed(&tp(0)), "not added yet");
        let adding = t.take_to_add().unwrap();
        assert_eq!(adding, vec![tp(0), tp(1)]);
        assert_eq!(t.take_to_add(), None, "one AddPartitionsToTxn at a time");
        t.added(&adding);
        assert!(t.send_allowed(&tp(0)) && t.started);
        t.begin_commit().unwrap();
        t.complete();
        assert_eq!(t.phase, Phase::Ready);
        assert!(!t.send_allowed(&tp(0)), "the next transaction adds its partitions again");
        assert!(t.begin_init().is_err(), "init once");
    }

    #[test]
    fn under_transaction_version_2_a_partition_is_sendable_at_once_and_starts_the_transaction() {
        let mut t = TxnState::new("tx".into());
        t.begin_init().unwrap();
        let mut f = crate::net::features::FinalizedFeatures { epoch: 1, ..Default::default() };
        f.levels.insert("transaction.version".into(), 2);
        t.version.handle_features(&f, true);
        t.init_done();
        t.begin().unwrap();
        assert!(!t.started);
        t.add_partition(&tp(0)).unwrap();
        assert!(t.send_allowed(&tp(0)) && t.started, "no AddPartitionsToTxn to wait for");
        assert_eq!(t.take_to_add(), None, "nothing to add explicitly");
        t.begin_commit().unwrap();
        t.complete();
        assert!(!t.send_allowed(&tp(0)) && !t.started, "the next transaction starts empty");
    }

    #[test]
    fn an_abortable_error_allows_only_abort_and_a_fatal_one_nothing() {
        let mut t = TxnState::new("tx".into());
        t.begin_init().unwrap();
        t.init_done();
        t.begin().unwrap();
        t.abortable(Error::new(ErrorKind::Broker, "batch failed"));
        let e = t.begin_commit().unwrap_err();
        assert!(e.to_string().contains("batch failed") && e.to_string().contains("abort"), "{e}");
        assert!(t.add_partition(&tp(0)).is_err());
        t.begin_abort().unwrap();
        t.complete();
        t.begin().unwrap();
        t.fatal(Error::new(ErrorKind::Broker, "fenced"));
        assert!(t.begin_abort().is_err());
        t.abortable(Error::new(ErrorKind::Broker, "later"));
        assert_eq!(t.phase, Phase::FatalError, "fatal stays fatal");
    }
}
