//! Metadata: the response as a whole and each topic the client asked about.

use super::Action;
use crate::protocol_errors::KafkaCode;

/// Top-level error of a Metadata response (v13+).
///
/// Java `NetworkClient.DefaultMetadataUpdater.handleSuccessfulResponse`: REBOOTSTRAP_REQUIRED
/// (KIP-1102) makes the client drop its brokers and go back to `bootstrap.servers`; any other
/// top-level error is a failed update, retried after the backoff.
pub(crate) fn response_action(code: KafkaCode) -> Action {
    match code {
        KafkaCode::REBOOTSTRAP_REQUIRED => Action::Rebootstrap,
        KafkaCode::CLUSTER_AUTHORIZATION_FAILED => Action::Fatal,
        _ => Action::Retry,
    }
}

/// Topic-level error of a Metadata response, for a topic the client wants.
///
/// Java `Metadata.handleMetadataResponse` / `ConsumerMetadata`: TOPIC_AUTHORIZATION_FAILED and
/// INVALID_TOPIC_EXCEPTION are kept as unauthorized / invalid topics and thrown from `poll`;
/// UNKNOWN_TOPIC_OR_PARTITION and LEADER_NOT_AVAILABLE (a topic being created) and the other
/// retriable codes keep the topic out of the cluster view and ask for another update.
pub(crate) fn topic_action(code: KafkaCode) -> Action {
    match code {
        KafkaCode::TOPIC_AUTHORIZATION_FAILED | KafkaCode::INVALID_TOPIC_EXCEPTION => Action::Fatal,
        c if c.is_retriable() => Action::RefreshMetadata,
        _ => Action::Fatal,
    }
}
