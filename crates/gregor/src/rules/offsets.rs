//! Offsets: ListOffsets (positions by time, log start and end).

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
