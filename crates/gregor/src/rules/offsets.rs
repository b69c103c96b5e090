//! Offsets: ListOffsets (positions by time, log start and end), OffsetCommit and OffsetFetch
//! (committed positions, through the group coordinator).

use super::Action;
use crate::protocol_errors::KafkaCode;

/// Partition-level error of a ListOffsets response.
///
/// Java `OffsetFetcherUtils.handleListOffsetResponse`: UNSUPPORTED_FOR_MESSAGE_FORMAT leaves
/// the partition out (the log predates timestamps); TOPIC_AUTHORIZATION_FAILED is thrown; every
/// other code — the leadership family, UNKNOWN_TOPIC_OR_PARTITION and anything unexpected — is
/// retried, and `OffsetFetcher.resetPositionsAsync` requests a metadata update for the retried
/// partitions. gregor follows that, except that codes which cannot change on a retry
/// (authorization, an invalid request) fail at once instead of until `default.api.timeout.ms`.
pub(crate) fn list_offsets_action(code: KafkaCode) -> Action {
    match code {
        KafkaCode::UNSUPPORTED_FOR_MESSAGE_FORMAT => Action::Skip,
        KafkaCode::TOPIC_AUTHORIZATION_FAILED
        | KafkaCode::CLUSTER_AUTHORIZATION_FAILED
        | KafkaCode::UNSUPPORTED_VERSION
        | KafkaCode::INVALID_REQUEST => Action::Fatal,
        _ => Action::RefreshMetadata,
    }
}

/// Partition-level error of an OffsetCommit response, classic protocol.
///
/// Java `ConsumerCoordinator.OffsetCommitResponseHandler.handle`:
/// * COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR, REQUEST_TIMED_OUT: `markCoordinatorUnknown`;
///   retriable (`commitOffsetsSync` retries until its timer expires).
/// * COORDINATOR_LOAD_IN_PROGRESS, UNKNOWN_TOPIC_OR_PARTITION: "just retry".
/// * REBALANCE_IN_PROGRESS: `requestRejoin` and fail with `RebalanceInProgressException`
///   (generation kept).
/// * ILLEGAL_GENERATION (member id kept) and UNKNOWN_MEMBER_ID (member id reset):
///   `resetStateOnResponseError` and `CommitFailedException` — unless the generation already
///   moved on while the member prepares a rebalance, then `RebalanceInProgressException`.
/// * FENCED_INSTANCE_ID: fatal for the member when the generation is unchanged.
/// * GROUP_AUTHORIZATION_FAILED, TOPIC_AUTHORIZATION_FAILED, OFFSET_METADATA_TOO_LARGE,
///   INVALID_COMMIT_OFFSET_SIZE and anything unexpected: the commit fails with that error.
pub(crate) fn offset_commit_action(code: KafkaCode) -> Action {
    match code {
        KafkaCode::COORDINATOR_NOT_AVAILABLE | KafkaCode::NOT_COORDINATOR | KafkaCode::REQUEST_TIMED_OUT => {
            Action::RediscoverCoordinator
        }
        KafkaCode::COORDINATOR_LOAD_IN_PROGRESS | KafkaCode::UNKNOWN_TOPIC_OR_PARTITION => Action::Retry,
        KafkaCode::REBALANCE_IN_PROGRESS => Action::Rejoin,
        KafkaCode::ILLEGAL_GENERATION => Action::ResetGeneration,
        KafkaCode::UNKNOWN_MEMBER_ID => Action::ResetMember,
        KafkaCode::FENCED_INSTANCE_ID => Action::Fenced,
        _ => Action::Fatal,
    }
}

/// Partition-level error of an OffsetCommit response, KIP-848 consumer protocol.
///
/// Java `CommitRequestManager.OffsetCommitRequestState.onResponse`:
/// * COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR, REQUEST_TIMED_OUT: `markCoordinatorUnknown`,
///   retriable.
/// * COORDINATOR_LOAD_IN_PROGRESS, UNKNOWN_TOPIC_OR_PARTITION, UNKNOWN_TOPIC_ID: retriable.
/// * UNKNOWN_MEMBER_ID: `CommitFailedException`; the membership is the heartbeat's business.
/// * STALE_MEMBER_EPOCH: the epoch sent is no longer the member's. `commitSync` fails with
///   `CommitFailedException`; the auto-commit before a revocation retries under the latest
///   epoch (`autoCommitSyncBeforeRebalanceWithRetries`).
/// * GROUP_AUTHORIZATION_FAILED, TOPIC_AUTHORIZATION_FAILED, OFFSET_METADATA_TOO_LARGE,
///   INVALID_COMMIT_OFFSET_SIZE and anything unexpected (FENCED_MEMBER_EPOCH included): the
///   commit fails with that error.
pub(crate) fn offset_commit_kip848_action(code: KafkaCode) -> Action {
    match code {
        KafkaCode::COORDINATOR_NOT_AVAILABLE | KafkaCode::NOT_COORDINATOR | KafkaCode::REQUEST_TIMED_OUT => {
            Action::RediscoverCoordinator
        }
        KafkaCode::COORDINATOR_LOAD_IN_PROGRESS
        | KafkaCode::UNKNOWN_TOPIC_OR_PARTITION
        | KafkaCode::UNKNOWN_TOPIC_ID => Action::Retry,
        KafkaCode::UNKNOWN_MEMBER_ID => Action::CommitFailed,
        KafkaCode::STALE_MEMBER_EPOCH => Action::StaleEpoch,
        _ => Action::Fatal,
    }
}

/// Group-level (and, before v8, top-level) error of an OffsetFetch response.
///
/// Java `ConsumerCoordinator.OffsetFetchResponseHandler.handle` (and
/// `CommitRequestManager.OffsetFetchRequestState.onFailure`, the same for these codes):
/// COORDINATOR_NOT_AVAILABLE and NOT_COORDINATOR: `markCoordinatorUnknown` and retry; any other
/// retriable code (COORDINATOR_LOAD_IN_PROGRESS, ...): retry; GROUP_AUTHORIZATION_FAILED and
/// anything else (KIP-848's UNKNOWN_MEMBER_ID, STALE_MEMBER_EPOCH): the request fails.
pub(crate) fn offset_fetch_action(code: KafkaCode) -> Action {
    match code {
        KafkaCode::COORDINATOR_NOT_AVAILABLE | KafkaCode::NOT_COORDINATOR => Action::RediscoverCoordinator,
        KafkaCode::GROUP_AUTHORIZATION_FAILED => Action::Fatal,
        c if c.is_retriable() => Action::Retry,
        _ => Action::Fatal,
    }
}

/// Partition-level error of an OffsetFetch response.
///
/// Java `ConsumerCoordinator.OffsetFetchResponseHandler.handle`: UNSTABLE_OFFSET_COMMIT (a
/// transactional commit still pending) is retried; UNKNOWN_TOPIC_OR_PARTITION ("does not
/// exist"), TOPIC_AUTHORIZATION_FAILED and anything else fail the request.
pub(crate) fn offset_fetch_partition_action(code: KafkaCode) -> Action {
    match code {
        KafkaCode::UNSTABLE_OFFSET_COMMIT => Action::Retry,
        _ => Action::Fatal,
    }
}
