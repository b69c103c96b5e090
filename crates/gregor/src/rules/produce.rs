//! Produce and InitProducerId: for each broker error code, what the producer does. The
//! producer's decisions need actions the consumer's [`Action`](super::Action) lacks (complete
//! without an offset, ask the sequence bookkeeping, fenced, abortable), so they have their own
//! enums; each rule cites the Java 4.x method it follows.

use crate::protocol_errors::KafkaCode;

/// What the producer does with one partition's result in a Produce response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProduceAction {
    /// Written: complete the batch with the returned offset.
    Complete,
    /// Already written by an earlier attempt that the broker no longer has the metadata of:
    /// complete without an offset (Java `Sender.completeBatch`, DUPLICATE_SEQUENCE_NUMBER).
    CompleteWithoutOffset,
    /// The producer's sequence state decides (idempotent producer), else fail.
    Sequence,
    /// Transient: retry after `retry.backoff.ms` (within `retries` and `delivery.timeout.ms`).
    Retry,
    /// The leader may have moved: refresh metadata, then retry against the new leader.
    RefreshMetadataAndRetry,
    /// A transactional producer's epoch is no longer current: it is fenced (fatal).
    Fenced,
    /// The transaction must be aborted (KIP-890 TRANSACTION_ABORTABLE, and the abortable
    /// INVALID_PRODUCER_EPOCH of KIP-588); for an idempotent producer, fail the batch.
    Abortable,
    /// Retrying cannot help: fail the batch (and, for a transactional producer, the
    /// transaction must be aborted).
    Fail,
}

/// A partition's error code in a Produce response.
///
/// Java `Sender.completeBatch` + `Sender.canRetry` + `TransactionManager.canRetry`:
/// * NONE → complete; DUPLICATE_SEQUENCE_NUMBER → complete without offset;
/// * OUT_OF_ORDER_SEQUENCE_NUMBER and UNKNOWN_PRODUCER_ID → the transaction manager's
///   sequence rules (`Sequencer::verdict`);
/// * `InvalidMetadataException` subclasses (NOT_LEADER_OR_FOLLOWER, LEADER_NOT_AVAILABLE,
///   UNKNOWN_TOPIC_OR_PARTITION, KAFKA_STORAGE_ERROR, FENCED_LEADER_EPOCH,
///   UNKNOWN_LEADER_EPOCH, UNKNOWN_TOPIC_ID, INCONSISTENT_TOPIC_ID) → `metadata.requestUpdate`
///   and retry;
/// * other `RetriableException`s (NOT_ENOUGH_REPLICAS, REQUEST_TIMED_OUT, CORRUPT_MESSAGE,
///   NETWORK_EXCEPTION, ...) → retry;
/// * PRODUCER_FENCED → fatal (`maybeTransitionToErrorState`); INVALID_PRODUCER_EPOCH and
///   TRANSACTION_ABORTABLE → abortable (KIP-588, KIP-890);
/// * everything else (MESSAGE_TOO_LARGE, RECORD_LIST_TOO_LARGE, INVALID_RECORD,
///   TOPIC_AUTHORIZATION_FAILED, ...) → fail. (Java splits a batch refused with
///   MESSAGE_TOO_LARGE and retries the halves; gregor fails it: its batches stay within
///   `batch.size`, far below the broker's `message.max.bytes` unless a topic lowers it.)
pub(crate) fn produce_action(code: KafkaCode) -> ProduceAction {
    match code {
        KafkaCode::NONE => ProduceAction::Complete,
        KafkaCode::DUPLICATE_SEQUENCE_NUMBER => ProduceAction::CompleteWithoutOffset,
        KafkaCode::OUT_OF_ORDER_SEQUENCE_NUMBER | KafkaCode::UNKNOWN_PRODUCER_ID => ProduceAction::Sequence,
        c if needs_metadata_refresh(c) => ProduceAction::RefreshMetadataAndRetry,
        KafkaCode::PRODUCER_FENCED => ProduceAction::Fenced,
        KafkaCode::INVALID_PRODUCER_EPOCH | KafkaCode::TRANSACTION_ABORTABLE => ProduceAction::Abortable,
        c if c.is_retriable() => ProduceAction::Retry,
        _ => ProduceAction::Fail,
    }
}

/// Whether a batch failing with `code` makes a transactional producer unusable (fatal) rather
/// than its transaction abortable. Java 4.3.1 `TransactionManager.maybeTransitionToErrorState`:
/// ClusterAuthorization, TransactionalIdAuthorization, ProducerFenced, UnsupportedVersion and
/// InvalidPidMapping are fatal; anything else (INVALID_PRODUCER_EPOCH, INVALID_TXN_STATE — a
/// partition a version-2 Produce could not add —, TRANSACTION_ABORTABLE, retriable codes out
/// of retries, ...) only makes the transaction abortable. The same under transaction versions 1
/// and 2 (KIP-890).
pub(crate) fn fatal_for_transaction(code: KafkaCode) -> bool {
    matches!(
        code,
        KafkaCode::CLUSTER_AUTHORIZATION_FAILED
            | KafkaCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED
            | KafkaCode::PRODUCER_FENCED
            | KafkaCode::UNSUPPORTED_VERSION
            | KafkaCode::INVALID_PRODUCER_ID_MAPPING
    )
}

/// Java's `InvalidMetadataException` subclasses: after these the producer's metadata is stale.
pub(crate) fn needs_metadata_refresh(code: KafkaCode) -> bool {
    matches!(
        code,
        KafkaCode::UNKNOWN_TOPIC_OR_PARTITION
            | KafkaCode::LEADER_NOT_AVAILABLE
            | KafkaCode::NOT_LEADER_OR_FOLLOWER
            | KafkaCode::KAFKA_STORAGE_ERROR
            | KafkaCode::FENCED_LEADER_EPOCH
            | KafkaCode::UNKNOWN_LEADER_EPOCH
            | KafkaCode::UNKNOWN_TOPIC_ID
            | KafkaCode::INCONSISTENT_TOPIC_ID
    )
}

/// A topic-level error in Metadata that `send` reports at once instead of waiting for the
/// topic to appear (Java `KafkaProducer.waitOnMetadata` throws for unauthorized and invalid
/// topics; unknown topics are waited for up to `max.block.ms`).
pub(crate) fn topic_error_is_final(code: KafkaCode) -> bool {
    matches!(code, KafkaCode::TOPIC_AUTHORIZATION_FAILED | KafkaCode::INVALID_TOPIC_EXCEPTION)
}

/// What to do with an InitProducerId error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InitAction {
    /// Use the producer id.
    Proceed,
    /// Look the transaction coordinator up again, then retry.
    FindCoordinator,
    /// Retry after the backoff.
    Retry,
    /// Another producer with this transactional.id has a newer epoch: fatal.
    Fenced,
    /// Fail the call (authorization, TRANSACTION_ABORTABLE, ...).
    Fail,
}

/// Java `TransactionManager.InitProducerIdHandler.handleResponse`.
pub(crate) fn init_producer_id_action(code: KafkaCode) -> InitAction {
    match code {
        KafkaCode::NONE => InitAction::Proceed,
        KafkaCode::NOT_COORDINATOR | KafkaCode::COORDINATOR_NOT_AVAILABLE => InitAction::FindCoordinator,
        KafkaCode::INVALID_PRODUCER_EPOCH | KafkaCode::PRODUCER_FENCED => InitAction::Fenced,
        c if c.is_retriable() => InitAction::Retry,
        _ => InitAction::Fail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Java's action for each code, from the methods cited above.
    #[test]
    fn produce_rules_match_javas_sender() {
        use ProduceAction::*;
        for (code, want) in [
            (KafkaCode::NONE, Complete),
            (KafkaCode::DUPLICATE_SEQUENCE_NUMBER, CompleteWithoutOffset),
            (KafkaCode::OUT_OF_ORDER_SEQUENCE_NUMBER, Sequence),
            (KafkaCode::UNKNOWN_PRODUCER_ID, Sequence),
            (KafkaCode::NOT_LEADER_OR_FOLLOWER, RefreshMetadataAndRetry),
            (KafkaCode::UNKNOWN_TOPIC_OR_PARTITION, RefreshMetadataAndRetry),
            (KafkaCode::KAFKA_STORAGE_ERROR, RefreshMetadataAndRetry),
            (KafkaCode::NOT_ENOUGH_REPLICAS, Retry),
            (KafkaCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND, Retry),
            (KafkaCode::REQUEST_TIMED_OUT, Retry),
            (KafkaCode::CORRUPT_MESSAGE, Retry),
            (KafkaCode::PRODUCER_FENCED, Fenced),
            (KafkaCode::INVALID_PRODUCER_EPOCH, Abortable),
            (KafkaCode::TRANSACTION_ABORTABLE, Abortable),
            (KafkaCode::MESSAGE_TOO_LARGE, Fail),
            (KafkaCode::TOPIC_AUTHORIZATION_FAILED, Fail),
            (KafkaCode::INVALID_RECORD, Fail),
            (KafkaCode::UNKNOWN_SERVER_ERROR, Fail),
        ] {
            assert_eq!(produce_action(code), want, "{code:?}");
        }
    }

    #[test]
    fn transactional_produce_errors_are_fatal_only_where_java_says() {
        for code in [
            KafkaCode::PRODUCER_FENCED,
            KafkaCode::INVALID_PRODUCER_ID_MAPPING,
            KafkaCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
            KafkaCode::CLUSTER_AUTHORIZATION_FAILED,
            KafkaCode::UNSUPPORTED_VERSION,
        ] {
            assert!(fatal_for_transaction(code), "{code:?}");
        }
        for code in [
            KafkaCode::INVALID_PRODUCER_EPOCH,
            KafkaCode::INVALID_TXN_STATE,
            KafkaCode::TRANSACTION_ABORTABLE,
            KafkaCode::CONCURRENT_TRANSACTIONS,
            KafkaCode::NOT_ENOUGH_REPLICAS,
            KafkaCode::TOPIC_AUTHORIZATION_FAILED,
        ] {
            assert!(!fatal_for_transaction(code), "{code:?}");
        }
    }

    #[test]
    fn init_producer_id_rules_match_javas_handler() {
        assert_eq!(init_producer_id_action(KafkaCode::NOT_COORDINATOR), InitAction::FindCoordinator);
        assert_eq!(init_producer_id_action(KafkaCode::COORDINATOR_LOAD_IN_PROGRESS), InitAction::Retry);
        assert_eq!(init_producer_id_action(KafkaCode::CONCURRENT_TRANSACTIONS), InitAction::Retry);
        assert_eq!(init_producer_id_action(KafkaCode::PRODUCER_FENCED), InitAction::Fenced);
        assert_eq!(init_producer_id_action(KafkaCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED), InitAction::Fail);
    }
}
