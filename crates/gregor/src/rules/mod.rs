//! Kafka's error rules in one place: for each API and error code, what the client does.
//!
//! [`crate::protocol_errors`] names the codes (Java's `Errors` enum); this module decides. Every
//! decision gregor takes on a broker error code — retry, refresh metadata, reset a position,
//! rediscover the coordinator, rejoin, give up as fenced, fail, rebootstrap — is a call to
//! [`action`] (or to the per-API function it dispatches to), keyed by named codes. Java differs
//! per API (UNKNOWN_SERVER_ERROR is retried by a Fetch but fatal elsewhere; UNKNOWN_LEADER_EPOCH
//! refreshes metadata for ListOffsets but only retries for Fetch), so the rules are per API, one
//! file per API family, each rule citing the Java class and method it follows (Kafka 4.x).
//!
//! `rules::tests` holds the table test: API × code → the action Java takes, asserted against
//! [`action`], plus a scan of the source tree that fails when a numeric error-code literal
//! appears outside `protocol_errors.rs` and this module.

pub(crate) mod fetch;
pub(crate) mod metadata;
pub(crate) mod offsets;
pub(crate) mod produce;
pub(crate) mod txn;

#[cfg(test)]
mod tests;

use crate::protocol_errors::KafkaCode;

/// The APIs whose error codes gregor acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Api {
    /// Top-level error of a Fetch response (the fetch session's fate).
    FetchSession,
    /// Partition-level error of a Fetch response.
    FetchPartition,
    /// Partition-level error of a ListOffsets response.
    ListOffsets,
    /// Top-level error of a Metadata response.
    Metadata,
    /// Topic-level error of a Metadata response, for a topic the client needs.
    MetadataTopic,
}

/// What the client does about an error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Action {
    /// No error: use the response.
    Proceed,
    /// Transient: send the same request again after the retry backoff, changing nothing else.
    Retry,
    /// The client's view of leaders, replicas or topic ids is wrong: refresh metadata, then
    /// retry (against the leader the new metadata names).
    RefreshMetadata,
    /// The incremental fetch session (KIP-227) is gone or out of step: the next Fetch to that
    /// broker is a full one that opens a new session. The partitions are fetched again.
    ResetFetchSession,
    /// The fetch position is outside the log: apply `auto.offset.reset` (or surface the
    /// error when it is `none`).
    ResetPosition,
    /// Leave the partition out of the result (e.g. a timestamp lookup the log cannot serve),
    /// without an error.
    Skip,
    /// The cluster asks the client to go back to `bootstrap.servers` (KIP-1102).
    Rebootstrap,
    /// Retrying cannot help (authorization, configuration, a broken record): surface it.
    Fatal,
}

/// The action for `code` in a response of `api`.
pub(crate) fn action(api: Api, code: KafkaCode) -> Action {
    if code == KafkaCode::NONE {
        return Action::Proceed;
    }
    match api {
        Api::FetchSession => fetch::session_action(code),
        Api::FetchPartition => fetch::partition_action(code),
        Api::ListOffsets => offsets::list_offsets_action(code),
        Api::Metadata => metadata::response_action(code),
        Api::MetadataTopic => metadata::topic_action(code),
    }
}

/// The action for a raw wire code.
pub(crate) fn action_for(api: Api, code: i16) -> Action {
    action(api, KafkaCode(code))
}
