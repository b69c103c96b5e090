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
pub(crate) mod group;
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
    /// FindCoordinator for the consumer group.
    FindCoordinator,
    /// JoinGroup (classic protocol).
    JoinGroup,
    /// SyncGroup (classic protocol).
    SyncGroup,
    /// Heartbeat (classic protocol).
    Heartbeat,
    /// LeaveGroup (classic protocol).
    LeaveGroup,
    /// ConsumerGroupHeartbeat (KIP-848 consumer protocol).
    ConsumerGroupHeartbeat,
    /// Partition-level error of an OffsetCommit response, classic protocol
    /// (`ConsumerCoordinator`).
    OffsetCommit,
    /// Partition-level error of an OffsetCommit response, KIP-848 consumer protocol
    /// (`CommitRequestManager`).
    OffsetCommitKip848,
    /// Group-level error of an OffsetFetch response.
    OffsetFetch,
    /// Partition-level error of an OffsetFetch response.
    OffsetFetchPartition,
}

impl Api {
    /// Every API, for tests that walk the whole table.
    #[cfg(test)]
    pub(crate) const ALL: &'static [Api] = &[
        Api::FetchSession,
        Api::FetchPartition,
        Api::ListOffsets,
        Api::Metadata,
        Api::MetadataTopic,
        Api::FindCoordinator,
        Api::JoinGroup,
        Api::SyncGroup,
        Api::Heartbeat,
        Api::LeaveGroup,
        Api::ConsumerGroupHeartbeat,
        Api::OffsetCommit,
        Api::OffsetCommitKip848,
        Api::OffsetFetch,
        Api::OffsetFetchPartition,
    ];
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
    /// The group coordinator moved or is unavailable: mark it unknown, find it again
    /// (FindCoordinator), then retry (Java `AbstractCoordinator.markCoordinatorUnknown`).
    RediscoverCoordinator,
    /// The group is rebalancing (or hands out a member id first): join again, keeping the
    /// member id and generation.
    Rejoin,
    /// The member's generation is over (classic ILLEGAL_GENERATION): its partitions are lost;
    /// join again with the same member id.
    ResetGeneration,
    /// The coordinator does not know the member (or fenced its KIP-848 epoch): its partitions
    /// are lost; join again as a new member (epoch 0).
    ResetMember,
    /// Another consumer holds this `group.instance.id` (KIP-345): this member cannot go on.
    Fenced,
    /// A commit that cannot succeed for this member as it is (Java `CommitFailedException`);
    /// the membership itself is left to the heartbeat.
    CommitFailed,
    /// KIP-848: the member epoch the request carried is no longer current.
    StaleEpoch,
    /// Tell the application once, change nothing (the member carries on).
    Report,
    /// Nothing to do beyond logging it: the response changes nothing.
    Ignore,
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
        Api::FindCoordinator => group::find_coordinator_action(code),
        Api::JoinGroup => group::join_group_action(code),
        Api::SyncGroup => group::sync_group_action(code),
        Api::Heartbeat => group::heartbeat_action(code),
        Api::LeaveGroup => group::leave_group_action(code),
        Api::ConsumerGroupHeartbeat => group::consumer_heartbeat_action(code),
        Api::OffsetCommit => offsets::offset_commit_action(code),
        Api::OffsetCommitKip848 => offsets::offset_commit_kip848_action(code),
        Api::OffsetFetch => offsets::offset_fetch_action(code),
        Api::OffsetFetchPartition => offsets::offset_fetch_partition_action(code),
    }
}

/// The action for a raw wire code.
pub(crate) fn action_for(api: Api, code: i16) -> Action {
    action(api, KafkaCode(code))
}
