//! The transactional producer's requests: what the producer does with each error code of
//! FindCoordinator (transaction and group keys), AddPartitionsToTxn, AddOffsetsToTxn,
//! TxnOffsetCommit and EndTxn. Java 4.3.1 `TransactionManager`'s handlers, which are the same
//! under transaction versions 1 and 2 (KIP-890): version 2 only sends fewer of these requests
//! (no AddPartitionsToTxn, no AddOffsetsToTxn) and always has an epoch bump to recover with, so
//! that UNKNOWN_PRODUCER_ID stays abortable (`abortableErrorIfPossible`: the coordinator
//! supports bumping the epoch, or version 2 bumps it at every EndTxn).

use crate::protocol_errors::KafkaCode;

/// The transactional requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum TxnApi {
    /// FindCoordinator for the transactional id or the consumer group.
    FindCoordinator,
    /// AddPartitionsToTxn (partition-level codes).
    AddPartitions,
    /// AddOffsetsToTxn.
    AddOffsets,
    /// TxnOffsetCommit (partition-level codes), to the group coordinator.
    TxnOffsetCommit,
    /// EndTxn, committing or aborting.
    EndTxn {
        /// `true`: commit.
        commit: bool,
    },
}

/// What the producer does about a transactional request's error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum TxnAction {
    /// Done.
    Proceed,
    /// The coordinator moved: look it up again, then retry.
    Rediscover,
    /// Transient: retry after the backoff.
    Retry,
    /// A newer producer with the same `transactional.id` exists: fatal
    /// (ProducerFencedException).
    Fenced,
    /// The transaction cannot commit; abort it and carry on (Java `abortableError`).
    Abortable,
    /// The producer cannot continue (Java `fatalError`).
    Fatal,
}

/// The action for `code` in a response of `api`.
///
/// * NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE (and for TxnOffsetCommit REQUEST_TIMED_OUT):
///   `lookupCoordinator` and re-enqueue;
/// * INVALID_PRODUCER_EPOCH, PRODUCER_FENCED: `fatalError(ProducerFencedException)` ("we could
///   still receive INVALID_PRODUCER_EPOCH from old versioned transaction coordinator");
/// * TRANSACTION_ABORTABLE (KIP-890): `abortableError`;
/// * other retriable codes (CONCURRENT_TRANSACTIONS, COORDINATOR_LOAD_IN_PROGRESS, ...): retry;
/// * TRANSACTIONAL_ID_AUTHORIZATION_FAILED, INVALID_TXN_STATE, INVALID_PRODUCER_ID_MAPPING:
///   fatal (TxnOffsetCommit: TRANSACTIONAL_ID_AUTHORIZATION_FAILED and
///   UNSUPPORTED_FOR_MESSAGE_FORMAT);
/// * UNKNOWN_PRODUCER_ID: `abortableErrorIfPossible` (abortable: the abort then bumps the
///   epoch, KIP-360, or EndTxn v5 does under transaction version 2);
/// * EndTxn of an abort answered TRANSACTION_ABORTABLE: fatal (`EndTxnHandler`: "if an abort
///   operation itself encounters an abortable error, retrying the abort would create a
///   cycle");
/// * AddPartitionsToTxn: TOPIC_AUTHORIZATION_FAILED, OPERATION_NOT_ATTEMPTED and anything else
///   → abortable;
/// * AddOffsetsToTxn: GROUP_AUTHORIZATION_FAILED → abortable, anything else → fatal;
/// * TxnOffsetCommit: GROUP_AUTHORIZATION_FAILED, FENCED_INSTANCE_ID, UNKNOWN_MEMBER_ID,
///   ILLEGAL_GENERATION (the consumer lost its partitions: KIP-447's zombie check) → abortable,
///   anything else → fatal;
/// * EndTxn: anything else → fatal;
/// * FindCoordinator (`FindCoordinatorHandler`): TRANSACTIONAL_ID_AUTHORIZATION_FAILED → fatal,
///   GROUP_AUTHORIZATION_FAILED → abortable, retriable → retry, else fatal.
pub(crate) fn txn_action(api: TxnApi, code: KafkaCode) -> TxnAction {
    use TxnAction::*;
    if code == KafkaCode::NONE {
        return Proceed;
    }
    if api == TxnApi::FindCoordinator {
        return match code {
            KafkaCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED => Fatal,
            KafkaCode::GROUP_AUTHORIZATION_FAILED => Abortable,
            c if c.is_retriable() => Retry,
            _ => Fatal,
        };
    }
    match code {
        KafkaCode::NOT_COORDINATOR | KafkaCode::COORDINATOR_NOT_AVAILABLE => return Rediscover,
        KafkaCode::REQUEST_TIMED_OUT if api == TxnApi::TxnOffsetCommit => return Rediscover,
        KafkaCode::INVALID_PRODUCER_EPOCH | KafkaCode::PRODUCER_FENCED => return Fenced,
        KafkaCode::TRANSACTION_ABORTABLE if api == TxnApi::EndTxn { commit: false } => return Fatal,
        KafkaCode::TRANSACTION_ABORTABLE => return Abortable,
        c if c.is_retriable() => return Retry,
        _ => {}
    }
    match (api, code) {
        (TxnApi::TxnOffsetCommit, KafkaCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED | KafkaCode::UNSUPPORTED_FOR_MESSAGE_FORMAT) => Fatal,
        (
            TxnApi::TxnOffsetCommit,
            KafkaCode::GROUP_AUTHORIZATION_FAILED
            | KafkaCode::FENCED_INSTANCE_ID
            | KafkaCode::UNKNOWN_MEMBER_ID
            | KafkaCode::ILLEGAL_GENERATION,
        ) => Abortable,
        (TxnApi::TxnOffsetCommit, _) => Fatal,
        (
            _,
            KafkaCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED | KafkaCode::INVALID_TXN_STATE | KafkaCode::INVALID_PRODUCER_ID_MAPPING,
        ) => Fatal,
        (_, KafkaCode::UNKNOWN_PRODUCER_ID) => Abortable,
        (TxnApi::AddPartitions, _) => Abortable,
        (TxnApi::AddOffsets, KafkaCode::GROUP_AUTHORIZATION_FAILED) => Abortable,
        _ => Fatal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TxnAction::*;
    use TxnApi::*;

    const END_COMMIT: TxnApi = EndTxn { commit: true };
    const END_ABORT: TxnApi = EndTxn { commit: false };

    /// Java's action for each (API, code), from the handlers cited above.
    #[test]
    fn txn_rules_match_javas_transaction_manager() {
        for (api, code, want) in [
            (END_COMMIT, KafkaCode::NONE, Proceed),
            (END_COMMIT, KafkaCode::NOT_COORDINATOR, Rediscover),
            (AddPartitions, KafkaCode::COORDINATOR_NOT_AVAILABLE, Rediscover),
            (TxnOffsetCommit, KafkaCode::REQUEST_TIMED_OUT, Rediscover),
            (END_COMMIT, KafkaCode::REQUEST_TIMED_OUT, Retry),
            (AddPartitions, KafkaCode::CONCURRENT_TRANSACTIONS, Retry),
            (AddOffsets, KafkaCode::COORDINATOR_LOAD_IN_PROGRESS, Retry),
            (TxnOffsetCommit, KafkaCode::UNKNOWN_TOPIC_OR_PARTITION, Retry),
            (END_COMMIT, KafkaCode::PRODUCER_FENCED, Fenced),
            (AddPartitions, KafkaCode::INVALID_PRODUCER_EPOCH, Fenced),
            (TxnOffsetCommit, KafkaCode::INVALID_PRODUCER_EPOCH, Fenced),
            (END_COMMIT, KafkaCode::TRANSACTION_ABORTABLE, Abortable),
            (END_COMMIT, KafkaCode::INVALID_TXN_STATE, Fatal),
            (AddPartitions, KafkaCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED, Fatal),
            (END_COMMIT, KafkaCode::INVALID_PRODUCER_ID_MAPPING, Fatal),
            (AddPartitions, KafkaCode::INVALID_PRODUCER_ID_MAPPING, Fatal),
            (END_COMMIT, KafkaCode::UNKNOWN_PRODUCER_ID, Abortable),
            (AddPartitions, KafkaCode::UNKNOWN_PRODUCER_ID, Abortable),
            (END_ABORT, KafkaCode::TRANSACTION_ABORTABLE, Fatal),
            (END_ABORT, KafkaCode::PRODUCER_FENCED, Fenced),
            (END_ABORT, KafkaCode::CONCURRENT_TRANSACTIONS, Retry),
            (TxnOffsetCommit, KafkaCode::TRANSACTION_ABORTABLE, Abortable),
            (AddPartitions, KafkaCode::TOPIC_AUTHORIZATION_FAILED, Abortable),
            (AddPartitions, KafkaCode::OPERATION_NOT_ATTEMPTED, Abortable),
            (AddOffsets, KafkaCode::GROUP_AUTHORIZATION_FAILED, Abortable),
            (AddOffsets, KafkaCode::UNKNOWN_SERVER_ERROR, Fatal),
            (TxnOffsetCommit, KafkaCode::ILLEGAL_GENERATION, Abortable),
            (TxnOffsetCommit, KafkaCode::UNKNOWN_MEMBER_ID, Abortable),
            (TxnOffsetCommit, KafkaCode::FENCED_INSTANCE_ID, Abortable),
            (TxnOffsetCommit, KafkaCode::UNSUPPORTED_FOR_MESSAGE_FORMAT, Fatal),
            (END_COMMIT, KafkaCode::UNKNOWN_SERVER_ERROR, Fatal),
            (FindCoordinator, KafkaCode::COORDINATOR_NOT_AVAILABLE, Retry),
            (FindCoordinator, KafkaCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED, Fatal),
            (FindCoordinator, KafkaCode::GROUP_AUTHORIZATION_FAILED, Abortable),
        ] {
            assert_eq!(txn_action(api, code), want, "{api:?} {code:?}");
        }
    }
}
