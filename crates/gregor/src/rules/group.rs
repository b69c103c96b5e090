//! Group membership: finding the coordinator, the classic protocol (JoinGroup, SyncGroup,
//! Heartbeat, LeaveGroup) and the KIP-848 consumer protocol (ConsumerGroupHeartbeat).
//!
//! The member state machines (`consumer/membership/`) act on these actions; what an action
//! means for the member (which partitions are lost, whether a commit fails) is theirs to say.

use super::Action;
use crate::protocol_errors::KafkaCode;

/// FindCoordinator, for the group key.
///
/// Java `AbstractCoordinator.FindCoordinatorResponseHandler` raises every error;
/// `ensureCoordinatorReady` then backs off, requests a metadata update
/// (`client.awaitMetadataUpdate`) and looks again for a retriable one (COORDINATOR_NOT_AVAILABLE
/// while `__consumer_offsets` is created or its leader moves, COORDINATOR_LOAD_IN_PROGRESS,
/// NOT_COORDINATOR), and throws anything else — GROUP_AUTHORIZATION_FAILED first of all
/// (`CoordinatorRequestManager.onFailedResponse` does the same for the new consumer).
pub(crate) fn find_coordinator_action(code: KafkaCode) -> Action {
    match code {
        KafkaCode::GROUP_AUTHORIZATION_FAILED => Action::Fatal,
        c if c.is_retriable() => Action::RefreshMetadata,
        _ => Action::Fatal,
    }
}

/// JoinGroup (classic protocol).
///
/// Java `AbstractCoordinator.JoinGroupResponseHandler.handle` and `joinGroupIfNeeded`:
/// * COORDINATOR_LOAD_IN_PROGRESS: back off and join again.
/// * UNKNOWN_MEMBER_ID: reset the member id (`resetStateOnResponseError(.., true)`), join again
///   at once.
/// * COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR: `markCoordinatorUnknown`, back off, find it
///   again and join.
/// * MEMBER_ID_REQUIRED (KIP-394: the coordinator hands out the member id first) and
///   REBALANCE_IN_PROGRESS: join again at once.
/// * FENCED_INSTANCE_ID: another instance holds `group.instance.id`: thrown (fatal).
/// * INCONSISTENT_GROUP_PROTOCOL, INVALID_SESSION_TIMEOUT, INVALID_GROUP_ID,
///   GROUP_AUTHORIZATION_FAILED, GROUP_MAX_SIZE_REACHED, UNSUPPORTED_VERSION and anything
///   unexpected: thrown.
pub(crate) fn join_group_action(code: KafkaCode) -> Action {
    match code {
        KafkaCode::COORDINATOR_LOAD_IN_PROGRESS => Action::Retry,
        KafkaCode::UNKNOWN_MEMBER_ID => Action::ResetMember,
        KafkaCode::COORDINATOR_NOT_AVAILABLE | KafkaCode::NOT_COORDINATOR => Action::RediscoverCoordinator,
        KafkaCode::MEMBER_ID_REQUIRED | KafkaCode::REBALANCE_IN_PROGRESS => Action::Rejoin,
        KafkaCode::FENCED_INSTANCE_ID => Action::Fenced,
        _ => Action::Fatal,
    }
}

/// SyncGroup (classic protocol).
///
/// Java `AbstractCoordinator.SyncGroupResponseHandler.handle`:
/// * REBALANCE_IN_PROGRESS: the group began another rebalance: join again at once.
/// * UNKNOWN_MEMBER_ID: reset the member id and join again; ILLEGAL_GENERATION: reset the
///   generation (keeping the member id) and join again. Either way the partitions this member
///   held are lost (`onJoinPrepare` sees the reset generation).
/// * COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR: `markCoordinatorUnknown`, back off, join again.
/// * FENCED_INSTANCE_ID: thrown (fatal); GROUP_AUTHORIZATION_FAILED and anything unexpected:
///   thrown.
///
/// gregor differs for one code: COORDINATOR_LOAD_IN_PROGRESS, which Java would throw as
/// "unexpected", is retried with a backoff like the JoinGroup rule. A coordinator that is still
/// loading the group is what a coordinator move explains (its `__consumer_offsets` partition just
/// changed leader), and no such error may reach the application.
pub(crate) fn sync_group_action(code: KafkaCode) -> Action {
    match code {
        KafkaCode::REBALANCE_IN_PROGRESS => Action::Rejoin,
        KafkaCode::UNKNOWN_MEMBER_ID => Action::ResetMember,
        KafkaCode::ILLEGAL_GENERATION => Action::ResetGeneration,
        KafkaCode::COORDINATOR_NOT_AVAILABLE | KafkaCode::NOT_COORDINATOR => Action::RediscoverCoordinator,
        KafkaCode::COORDINATOR_LOAD_IN_PROGRESS => Action::Retry,
        KafkaCode::FENCED_INSTANCE_ID => Action::Fenced,
        _ => Action::Fatal,
    }
}

/// Heartbeat (classic protocol).
///
/// Java `AbstractCoordinator.HeartbeatResponseHandler.handle` and the heartbeat thread's
/// listener (`HeartbeatThread.run`):
/// * COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR: `markCoordinatorUnknown`; the heartbeat is
///   retried with a backoff (`failHeartbeat`) once the coordinator is found again.
/// * REBALANCE_IN_PROGRESS: a stable member requests a rejoin (ignored while a rebalance is
///   already under way); the session counts as alive (`receiveHeartbeat`).
/// * ILLEGAL_GENERATION (keep the member id), UNKNOWN_MEMBER_ID (reset it): when the generation
///   sent is still the member's, reset and rejoin (the partitions are lost); a stale answer to
///   an older generation is ignored.
/// * FENCED_INSTANCE_ID: the heartbeat thread fails the consumer (`setFailureCause`).
/// * GROUP_AUTHORIZATION_FAILED: fatal.
/// * Anything else (COORDINATOR_LOAD_IN_PROGRESS included) is an unexpected error, on which the
///   heartbeat thread only backs off and heartbeats again (`failHeartbeat`).
pub(crate) fn heartbeat_action(code: KafkaCode) -> Action {
    match code {
        KafkaCode::COORDINATOR_NOT_AVAILABLE | KafkaCode::NOT_COORDINATOR => Action::RediscoverCoordinator,
        KafkaCode::REBALANCE_IN_PROGRESS => Action::Rejoin,
        KafkaCode::ILLEGAL_GENERATION => Action::ResetGeneration,
        KafkaCode::UNKNOWN_MEMBER_ID => Action::ResetMember,
        KafkaCode::FENCED_INSTANCE_ID => Action::Fenced,
        KafkaCode::GROUP_AUTHORIZATION_FAILED => Action::Fatal,
        _ => Action::Retry,
    }
}

/// LeaveGroup (classic protocol).
///
/// Java `AbstractCoordinator.LeaveGroupResponseHandler`: an error is logged and nothing else
/// happens — `maybeLeaveGroup` has already reset the generation and member id whatever the
/// answer (`resetGenerationOnLeaveGroup`), and the session timeout removes a member whose leave
/// did not arrive.
pub(crate) fn leave_group_action(_code: KafkaCode) -> Action {
    Action::Ignore
}

/// ConsumerGroupHeartbeat (KIP-848 consumer protocol).
///
/// Java `AbstractHeartbeatRequestManager.onErrorResponse` and
/// `ConsumerHeartbeatRequestManager.handleSpecificExceptionInResponse`:
/// * NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE: `markCoordinatorUnknown`, heartbeat again as
///   soon as the coordinator is found (no backoff).
/// * COORDINATOR_LOAD_IN_PROGRESS: back off and heartbeat again.
/// * FENCED_MEMBER_EPOCH, UNKNOWN_MEMBER_ID: `transitionToFenced`: the partitions are lost
///   (`onPartitionsLost`), the epoch goes back to 0 and the member joins again at once. (With
///   KIP-1082 the member id is the client's own and survives the rejoin.)
/// * FENCED_INSTANCE_ID, UNRELEASED_INSTANCE_ID: another instance holds `group.instance.id`:
///   fatal (`handleFatalFailure`).
/// * TOPIC_AUTHORIZATION_FAILED: reported to the application once; the member stays as it is,
///   to recover when the ACLs are fixed.
/// * GROUP_AUTHORIZATION_FAILED, INVALID_REQUEST, GROUP_MAX_SIZE_REACHED,
///   UNSUPPORTED_ASSIGNOR, UNSUPPORTED_VERSION, INVALID_REGULAR_EXPRESSION and anything
///   unexpected: fatal.
pub(crate) fn consumer_heartbeat_action(code: KafkaCode) -> Action {
    match code {
        KafkaCode::NOT_COORDINATOR | KafkaCode::COORDINATOR_NOT_AVAILABLE => Action::RediscoverCoordinator,
        KafkaCode::COORDINATOR_LOAD_IN_PROGRESS => Action::Retry,
        KafkaCode::FENCED_MEMBER_EPOCH | KafkaCode::UNKNOWN_MEMBER_ID => Action::ResetMember,
        KafkaCode::FENCED_INSTANCE_ID | KafkaCode::UNRELEASED_INSTANCE_ID => Action::Fenced,
        KafkaCode::TOPIC_AUTHORIZATION_FAILED => Action::Report,
        _ => Action::Fatal,
    }
}
