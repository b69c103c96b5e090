//! Fetch: the fate of the fetch session (top-level error) and of each partition.

use super::Action;
use crate::protocol_errors::KafkaCode;

/// Top-level error of a Fetch response. None of the partitions in it carry data, so every one
/// of them is simply fetched again; what differs is whether the session survives.
///
/// Java `FetchSessionHandler.handleResponse`: FETCH_SESSION_ID_NOT_FOUND → `INITIAL` (a new
/// session); any other top-level error → `nextCloseExistingAttemptNew` (close the session and
/// open a new one). Both are a full fetch next time. `AbstractFetch.handleFetchSuccess` also
/// requests a metadata update for FETCH_SESSION_TOPIC_ID_ERROR (a topic id changed under the
/// session).
pub(crate) fn session_action(code: KafkaCode) -> Action {
    match code {
        KafkaCode::FETCH_SESSION_TOPIC_ID_ERROR => Action::RefreshMetadata,
        // The broker restarted or evicted the session, the epochs went out of step, or
        // anything else went wrong with the request as a whole (UNKNOWN_SERVER_ERROR, a
        // throttled empty full response, ...): all resolved by a new full fetch.
        _ => Action::ResetFetchSession,
    }
}

/// Partition-level error of a Fetch response.
///
/// Java `FetchCollector.handleInitializeErrors`:
/// * NOT_LEADER_OR_FOLLOWER, REPLICA_NOT_AVAILABLE, KAFKA_STORAGE_ERROR, FENCED_LEADER_EPOCH,
///   OFFSET_NOT_AVAILABLE, UNKNOWN_TOPIC_OR_PARTITION, UNKNOWN_TOPIC_ID, INCONSISTENT_TOPIC_ID:
///   `requestMetadataUpdate` (which also clears the preferred read replica), fetch again.
/// * UNKNOWN_LEADER_EPOCH: the broker has not caught up with the epoch the client sent (a
///   leader change is still propagating); only logged, the partition is fetched again.
/// * UNKNOWN_SERVER_ERROR: only logged, fetched again.
/// * OFFSET_OUT_OF_RANGE: reset per `auto.offset.reset` (after clearing a preferred replica,
///   which is handled by the caller).
/// * TOPIC_AUTHORIZATION_FAILED, CORRUPT_MESSAGE and anything unexpected: thrown to the
///   application.
///
/// LEADER_NOT_AVAILABLE and NETWORK_EXCEPTION are not in Java's list (it would throw "unexpected
/// error code"); brokers do send NETWORK_EXCEPTION for a partition whose replica fetch from a
/// restarted peer broke (seen on Kafka 3.3). gregor treats both like their siblings, refresh and
/// retry, rather than failing the application.
pub(crate) fn partition_action(code: KafkaCode) -> Action {
    match code {
        KafkaCode::NOT_LEADER_OR_FOLLOWER
        | KafkaCode::REPLICA_NOT_AVAILABLE
        | KafkaCode::KAFKA_STORAGE_ERROR
        | KafkaCode::FENCED_LEADER_EPOCH
        | KafkaCode::OFFSET_NOT_AVAILABLE
        | KafkaCode::UNKNOWN_TOPIC_OR_PARTITION
        | KafkaCode::UNKNOWN_TOPIC_ID
        | KafkaCode::INCONSISTENT_TOPIC_ID
        | KafkaCode::LEADER_NOT_AVAILABLE
        | KafkaCode::NETWORK_EXCEPTION => Action::RefreshMetadata,
        KafkaCode::UNKNOWN_LEADER_EPOCH | KafkaCode::UNKNOWN_SERVER_ERROR => Action::Retry,
        KafkaCode::OFFSET_OUT_OF_RANGE => Action::ResetPosition,
        _ => Action::Fatal,
    }
}
