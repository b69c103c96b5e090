//! The rules table, row by row: API × error code → the action Java 4.x takes, with the Java
//! method it comes from. A change to a rule must change a row here.

use super::{action, Action, Api};
use crate::protocol_errors::{KafkaCode as K, ERRORS};

use Action::*;
use Api::*;

/// (api, code, action, where Java decides it)
const TABLE: &[(Api, K, Action, &str)] = &[
    // Fetch, top level: FetchSessionHandler.handleResponse / AbstractFetch.handleFetchSuccess.
    (FetchSession, K::NONE, Proceed, "FetchSessionHandler.handleResponse"),
    (FetchSession, K::FETCH_SESSION_ID_NOT_FOUND, ResetFetchSession, "FetchSessionHandler.handleResponse"),
    (FetchSession, K::INVALID_FETCH_SESSION_EPOCH, ResetFetchSession, "FetchSessionHandler.handleResponse"),
    (FetchSession, K::FETCH_SESSION_TOPIC_ID_ERROR, RefreshMetadata, "AbstractFetch.handleFetchSuccess"),
    (FetchSession, K::UNKNOWN_SERVER_ERROR, ResetFetchSession, "FetchSessionHandler.handleResponse"),
    (FetchSession, K::NOT_LEADER_OR_FOLLOWER, ResetFetchSession, "FetchSessionHandler.handleResponse"),
    // Fetch, partition level: FetchCollector.handleInitializeErrors.
    (FetchPartition, K::NONE, Proceed, "FetchCollector.handleInitializeErrors"),
    (FetchPartition, K::NOT_LEADER_OR_FOLLOWER, RefreshMetadata, "FetchCollector.handleInitializeErrors"),
    (FetchPartition, K::REPLICA_NOT_AVAILABLE, RefreshMetadata, "FetchCollector.handleInitializeErrors"),
    (FetchPartition, K::KAFKA_STORAGE_ERROR, RefreshMetadata, "FetchCollector.handleInitializeErrors"),
    (FetchPartition, K::FENCED_LEADER_EPOCH, RefreshMetadata, "FetchCollector.handleInitializeErrors"),
    (FetchPartition, K::OFFSET_NOT_AVAILABLE, RefreshMetadata, "FetchCollector.handleInitializeErrors"),
    (FetchPartition, K::UNKNOWN_TOPIC_OR_PARTITION, RefreshMetadata, "FetchCollector.handleInitializeErrors"),
    (FetchPartition, K::UNKNOWN_TOPIC_ID, RefreshMetadata, "FetchCollector.handleInitializeErrors"),
    (FetchPartition, K::INCONSISTENT_TOPIC_ID, RefreshMetadata, "FetchCollector.handleInitializeErrors"),
    (FetchPartition, K::LEADER_NOT_AVAILABLE, RefreshMetadata, "gregor: as its siblings (Java never receives it)"),
    (FetchPartition, K::NETWORK_EXCEPTION, RefreshMetadata, "gregor: seen from Kafka 3.3 (Java: unexpected)"),
    (FetchPartition, K::UNKNOWN_LEADER_EPOCH, Retry, "FetchCollector.handleInitializeErrors (logged only)"),
    (FetchPartition, K::UNKNOWN_SERVER_ERROR, Retry, "FetchCollector.handleInitializeErrors (logged only)"),
    (FetchPartition, K::OFFSET_OUT_OF_RANGE, ResetPosition, "FetchCollector.handleInitializeErrors"),
    (FetchPartition, K::TOPIC_AUTHORIZATION_FAILED, Fatal, "FetchCollector.handleInitializeErrors"),
    (FetchPartition, K::CORRUPT_MESSAGE, Fatal, "FetchCollector.handleInitializeErrors"),
    (FetchPartition, K::UNSUPPORTED_COMPRESSION_TYPE, Fatal, "FetchCollector.handleInitializeErrors (unexpected)"),
    // ListOffsets: OffsetFetcherUtils.handleListOffsetResponse.
    (ListOffsets, K::NONE, Proceed, "OffsetFetcherUtils.handleListOffsetResponse"),
    (ListOffsets, K::UNSUPPORTED_FOR_MESSAGE_FORMAT, Skip, "OffsetFetcherUtils.handleListOffsetResponse"),
    (ListOffsets, K::NOT_LEADER_OR_FOLLOWER, RefreshMetadata, "OffsetFetcherUtils.handleListOffsetResponse"),
    (ListOffsets, K::REPLICA_NOT_AVAILABLE, RefreshMetadata, "OffsetFetcherUtils.handleListOffsetResponse"),
    (ListOffsets, K::KAFKA_STORAGE_ERROR, RefreshMetadata, "OffsetFetcherUtils.handleListOffsetResponse"),
    (ListOffsets, K::OFFSET_NOT_AVAILABLE, RefreshMetadata, "OffsetFetcherUtils.handleListOffsetResponse"),
    (ListOffsets, K::LEADER_NOT_AVAILABLE, RefreshMetadata, "OffsetFetcherUtils.handleListOffsetResponse"),
    (ListOffsets, K::FENCED_LEADER_EPOCH, RefreshMetadata, "OffsetFetcherUtils.handleListOffsetResponse"),
    (ListOffsets, K::UNKNOWN_LEADER_EPOCH, RefreshMetadata, "OffsetFetcherUtils.handleListOffsetResponse"),
    (ListOffsets, K::UNKNOWN_TOPIC_OR_PARTITION, RefreshMetadata, "OffsetFetcherUtils.handleListOffsetResponse"),
    (ListOffsets, K::REQUEST_TIMED_OUT, RefreshMetadata, "OffsetFetcherUtils.handleListOffsetResponse (default)"),
    (ListOffsets, K::TOPIC_AUTHORIZATION_FAILED, Fatal, "OffsetFetcherUtils.handleListOffsetResponse"),
    // Metadata: NetworkClient.DefaultMetadataUpdater.handleSuccessfulResponse, Metadata.handleMetadataResponse.
    (Metadata, K::NONE, Proceed, "NetworkClient.DefaultMetadataUpdater.handleSuccessfulResponse"),
    (Metadata, K::REBOOTSTRAP_REQUIRED, Rebootstrap, "NetworkClient.DefaultMetadataUpdater.handleSuccessfulResponse (KIP-1102)"),
    (Metadata, K::UNKNOWN_SERVER_ERROR, Retry, "NetworkClient.DefaultMetadataUpdater.handleSuccessfulResponse"),
    (MetadataTopic, K::UNKNOWN_TOPIC_OR_PARTITION, RefreshMetadata, "Metadata.handleMetadataResponse"),
    (MetadataTopic, K::LEADER_NOT_AVAILABLE, RefreshMetadata, "Metadata.handleMetadataResponse"),
    (MetadataTopic, K::TOPIC_AUTHORIZATION_FAILED, Fatal, "Metadata.handleMetadataResponse (unauthorizedTopics)"),
    (MetadataTopic, K::INVALID_TOPIC_EXCEPTION, Fatal, "Metadata.handleMetadataResponse (invalidTopics)"),
    // FindCoordinator: AbstractCoordinator.FindCoordinatorResponseHandler + ensureCoordinatorReady.
    (FindCoordinator, K::NONE, Proceed, "AbstractCoordinator.FindCoordinatorResponseHandler.onSuccess"),
    (FindCoordinator, K::COORDINATOR_NOT_AVAILABLE, RefreshMetadata, "AbstractCoordinator.ensureCoordinatorReady (retriable: backoff, awaitMetadataUpdate)"),
    (FindCoordinator, K::COORDINATOR_LOAD_IN_PROGRESS, RefreshMetadata, "AbstractCoordinator.ensureCoordinatorReady (retriable)"),
    (FindCoordinator, K::NOT_COORDINATOR, RefreshMetadata, "AbstractCoordinator.ensureCoordinatorReady (retriable)"),
    (FindCoordinator, K::GROUP_AUTHORIZATION_FAILED, Fatal, "AbstractCoordinator.FindCoordinatorResponseHandler.onSuccess"),
    (FindCoordinator, K::INVALID_REQUEST, Fatal, "AbstractCoordinator.ensureCoordinatorReady (fatal)"),
    // JoinGroup: AbstractCoordinator.JoinGroupResponseHandler.handle + joinGroupIfNeeded.
    (JoinGroup, K::NONE, Proceed, "AbstractCoordinator.JoinGroupResponseHandler.handle"),
    (JoinGroup, K::COORDINATOR_LOAD_IN_PROGRESS, Retry, "AbstractCoordinator.JoinGroupResponseHandler.handle (backoff and retry)"),
    (JoinGroup, K::UNKNOWN_MEMBER_ID, ResetMember, "AbstractCoordinator.JoinGroupResponseHandler.handle (resetStateOnResponseError)"),
    (JoinGroup, K::COORDINATOR_NOT_AVAILABLE, RediscoverCoordinator, "AbstractCoordinator.JoinGroupResponseHandler.handle (markCoordinatorUnknown)"),
    (JoinGroup, K::NOT_COORDINATOR, RediscoverCoordinator, "AbstractCoordinator.JoinGroupResponseHandler.handle (markCoordinatorUnknown)"),
    (JoinGroup, K::MEMBER_ID_REQUIRED, Rejoin, "AbstractCoordinator.JoinGroupResponseHandler.handle (KIP-394)"),
    (JoinGroup, K::REBALANCE_IN_PROGRESS, Rejoin, "AbstractCoordinator.JoinGroupResponseHandler.handle"),
    (JoinGroup, K::FENCED_INSTANCE_ID, Fenced, "AbstractCoordinator.JoinGroupResponseHandler.handle"),
    (JoinGroup, K::INCONSISTENT_GROUP_PROTOCOL, Fatal, "AbstractCoordinator.JoinGroupResponseHandler.handle"),
    (JoinGroup, K::INVALID_SESSION_TIMEOUT, Fatal, "AbstractCoordinator.JoinGroupResponseHandler.handle"),
    (JoinGroup, K::INVALID_GROUP_ID, Fatal, "AbstractCoordinator.JoinGroupResponseHandler.handle"),
    (JoinGroup, K::GROUP_AUTHORIZATION_FAILED, Fatal, "AbstractCoordinator.JoinGroupResponseHandler.handle"),
    (JoinGroup, K::GROUP_MAX_SIZE_REACHED, Fatal, "AbstractCoordinator.JoinGroupResponseHandler.handle"),
    (JoinGroup, K::UNSUPPORTED_VERSION, Fatal, "AbstractCoordinator.JoinGroupResponseHandler.handle"),
    (JoinGroup, K::UNKNOWN_SERVER_ERROR, Fatal, "AbstractCoordinator.JoinGroupResponseHandler.handle (unexpected)"),
    // SyncGroup: AbstractCoordinator.SyncGroupResponseHandler.handle.
    (SyncGroup, K::NONE, Proceed, "AbstractCoordinator.SyncGroupResponseHandler.handle"),
    (SyncGroup, K::REBALANCE_IN_PROGRESS, Rejoin, "AbstractCoordinator.SyncGroupResponseHandler.handle"),
    (SyncGroup, K::UNKNOWN_MEMBER_ID, ResetMember, "AbstractCoordinator.SyncGroupResponseHandler.handle"),
    (SyncGroup, K::ILLEGAL_GENERATION, ResetGeneration, "AbstractCoordinator.SyncGroupResponseHandler.handle"),
    (SyncGroup, K::COORDINATOR_NOT_AVAILABLE, RediscoverCoordinator, "AbstractCoordinator.SyncGroupResponseHandler.handle"),
    (SyncGroup, K::NOT_COORDINATOR, RediscoverCoordinator, "AbstractCoordinator.SyncGroupResponseHandler.handle"),
    (SyncGroup, K::COORDINATOR_LOAD_IN_PROGRESS, Retry, "gregor: a loading coordinator is a coordinator move (Java: unexpected)"),
    (SyncGroup, K::FENCED_INSTANCE_ID, Fenced, "AbstractCoordinator.SyncGroupResponseHandler.handle"),
    (SyncGroup, K::GROUP_AUTHORIZATION_FAILED, Fatal, "AbstractCoordinator.SyncGroupResponseHandler.handle"),
    (SyncGroup, K::UNKNOWN_SERVER_ERROR, Fatal, "AbstractCoordinator.SyncGroupResponseHandler.handle (unexpected)"),
    // Heartbeat: AbstractCoordinator.HeartbeatResponseHandler.handle + HeartbeatThread.run.
    (Heartbeat, K::NONE, Proceed, "AbstractCoordinator.HeartbeatResponseHandler.handle"),
    (Heartbeat, K::COORDINATOR_NOT_AVAILABLE, RediscoverCoordinator, "AbstractCoordinator.HeartbeatResponseHandler.handle"),
    (Heartbeat, K::NOT_COORDINATOR, RediscoverCoordinator, "AbstractCoordinator.HeartbeatResponseHandler.handle"),
    (Heartbeat, K::REBALANCE_IN_PROGRESS, Rejoin, "AbstractCoordinator.HeartbeatResponseHandler.handle (stable: requestRejoin)"),
    (Heartbeat, K::ILLEGAL_GENERATION, ResetGeneration, "AbstractCoordinator.HeartbeatResponseHandler.handle"),
    (Heartbeat, K::UNKNOWN_MEMBER_ID, ResetMember, "AbstractCoordinator.HeartbeatResponseHandler.handle"),
    (Heartbeat, K::FENCED_INSTANCE_ID, Fenced, "AbstractCoordinator.HeartbeatThread.run (setFailureCause)"),
    (Heartbeat, K::GROUP_AUTHORIZATION_FAILED, Fatal, "AbstractCoordinator.HeartbeatResponseHandler.handle"),
    (Heartbeat, K::COORDINATOR_LOAD_IN_PROGRESS, Retry, "AbstractCoordinator.HeartbeatThread.run (unexpected: failHeartbeat)"),
    (Heartbeat, K::UNKNOWN_SERVER_ERROR, Retry, "AbstractCoordinator.HeartbeatThread.run (unexpected: failHeartbeat)"),
    // LeaveGroup: AbstractCoordinator.LeaveGroupResponseHandler (logged; maybeLeaveGroup already reset).
    (LeaveGroup, K::NONE, Proceed, "AbstractCoordinator.LeaveGroupResponseHandler.handle"),
    (LeaveGroup, K::UNKNOWN_MEMBER_ID, Ignore, "AbstractCoordinator.LeaveGroupResponseHandler.handle (logged)"),
    (LeaveGroup, K::NOT_COORDINATOR, Ignore, "AbstractCoordinator.LeaveGroupResponseHandler.handle (logged)"),
    // ConsumerGroupHeartbeat: AbstractHeartbeatRequestManager.onErrorResponse,
    // ConsumerHeartbeatRequestManager.handleSpecificExceptionInResponse.
    (ConsumerGroupHeartbeat, K::NONE, Proceed, "ConsumerMembershipManager.onHeartbeatSuccess"),
    (ConsumerGroupHeartbeat, K::NOT_COORDINATOR, RediscoverCoordinator, "AbstractHeartbeatRequestManager.onErrorResponse"),
    (ConsumerGroupHeartbeat, K::COORDINATOR_NOT_AVAILABLE, RediscoverCoordinator, "AbstractHeartbeatRequestManager.onErrorResponse"),
    (ConsumerGroupHeartbeat, K::COORDINATOR_LOAD_IN_PROGRESS, Retry, "AbstractHeartbeatRequestManager.onErrorResponse"),
    (ConsumerGroupHeartbeat, K::FENCED_MEMBER_EPOCH, ResetMember, "AbstractHeartbeatRequestManager.onErrorResponse (transitionToFenced)"),
    (ConsumerGroupHeartbeat, K::UNKNOWN_MEMBER_ID, ResetMember, "AbstractHeartbeatRequestManager.onErrorResponse (transitionToFenced)"),
    (ConsumerGroupHeartbeat, K::FENCED_INSTANCE_ID, Fenced, "ConsumerHeartbeatRequestManager.handleSpecificExceptionInResponse"),
    (ConsumerGroupHeartbeat, K::UNRELEASED_INSTANCE_ID, Fenced, "ConsumerHeartbeatRequestManager.handleSpecificExceptionInResponse"),
    (ConsumerGroupHeartbeat, K::TOPIC_AUTHORIZATION_FAILED, Report, "AbstractHeartbeatRequestManager.onErrorResponse (ErrorEvent, member stays)"),
    (ConsumerGroupHeartbeat, K::GROUP_AUTHORIZATION_FAILED, Fatal, "AbstractHeartbeatRequestManager.onErrorResponse"),
    (ConsumerGroupHeartbeat, K::INVALID_REQUEST, Fatal, "AbstractHeartbeatRequestManager.onErrorResponse"),
    (ConsumerGroupHeartbeat, K::GROUP_MAX_SIZE_REACHED, Fatal, "AbstractHeartbeatRequestManager.onErrorResponse"),
    (ConsumerGroupHeartbeat, K::UNSUPPORTED_ASSIGNOR, Fatal, "AbstractHeartbeatRequestManager.onErrorResponse"),
    (ConsumerGroupHeartbeat, K::UNSUPPORTED_VERSION, Fatal, "ConsumerHeartbeatRequestManager.handleSpecificExceptionInResponse"),
    (ConsumerGroupHeartbeat, K::INVALID_REGULAR_EXPRESSION, Fatal, "AbstractHeartbeatRequestManager.onErrorResponse"),
    // OffsetCommit, classic: ConsumerCoordinator.OffsetCommitResponseHandler.handle.
    (OffsetCommit, K::NONE, Proceed, "ConsumerCoordinator.OffsetCommitResponseHandler.handle"),
    (OffsetCommit, K::COORDINATOR_NOT_AVAILABLE, RediscoverCoordinator, "ConsumerCoordinator.OffsetCommitResponseHandler.handle"),
    (OffsetCommit, K::NOT_COORDINATOR, RediscoverCoordinator, "ConsumerCoordinator.OffsetCommitResponseHandler.handle"),
    (OffsetCommit, K::REQUEST_TIMED_OUT, RediscoverCoordinator, "ConsumerCoordinator.OffsetCommitResponseHandler.handle"),
    (OffsetCommit, K::COORDINATOR_LOAD_IN_PROGRESS, Retry, "ConsumerCoordinator.OffsetCommitResponseHandler.handle (just retry)"),
    (OffsetCommit, K::UNKNOWN_TOPIC_OR_PARTITION, Retry, "ConsumerCoordinator.OffsetCommitResponseHandler.handle (just retry)"),
    (OffsetCommit, K::REBALANCE_IN_PROGRESS, Rejoin, "ConsumerCoordinator.OffsetCommitResponseHandler.handle (RebalanceInProgressException)"),
    (OffsetCommit, K::ILLEGAL_GENERATION, ResetGeneration, "ConsumerCoordinator.OffsetCommitResponseHandler.handle (CommitFailedException)"),
    (OffsetCommit, K::UNKNOWN_MEMBER_ID, ResetMember, "ConsumerCoordinator.OffsetCommitResponseHandler.handle (CommitFailedException)"),
    (OffsetCommit, K::FENCED_INSTANCE_ID, Fenced, "ConsumerCoordinator.OffsetCommitResponseHandler.handle"),
    (OffsetCommit, K::GROUP_AUTHORIZATION_FAILED, Fatal, "ConsumerCoordinator.OffsetCommitResponseHandler.handle"),
    (OffsetCommit, K::TOPIC_AUTHORIZATION_FAILED, Fatal, "ConsumerCoordinator.OffsetCommitResponseHandler.handle"),
    (OffsetCommit, K::OFFSET_METADATA_TOO_LARGE, Fatal, "ConsumerCoordinator.OffsetCommitResponseHandler.handle"),
    (OffsetCommit, K::INVALID_COMMIT_OFFSET_SIZE, Fatal, "ConsumerCoordinator.OffsetCommitResponseHandler.handle"),
    (OffsetCommit, K::UNKNOWN_SERVER_ERROR, Fatal, "ConsumerCoordinator.OffsetCommitResponseHandler.handle (unexpected)"),
    // OffsetCommit, KIP-848: CommitRequestManager.OffsetCommitRequestState.onResponse.
    (OffsetCommitKip848, K::NONE, Proceed, "CommitRequestManager.OffsetCommitRequestState.onResponse"),
    (OffsetCommitKip848, K::COORDINATOR_NOT_AVAILABLE, RediscoverCoordinator, "CommitRequestManager.OffsetCommitRequestState.onResponse"),
    (OffsetCommitKip848, K::NOT_COORDINATOR, RediscoverCoordinator, "CommitRequestManager.OffsetCommitRequestState.onResponse"),
    (OffsetCommitKip848, K::REQUEST_TIMED_OUT, RediscoverCoordinator, "CommitRequestManager.OffsetCommitRequestState.onResponse"),
    (OffsetCommitKip848, K::COORDINATOR_LOAD_IN_PROGRESS, Retry, "CommitRequestManager.OffsetCommitRequestState.onResponse"),
    (OffsetCommitKip848, K::UNKNOWN_TOPIC_OR_PARTITION, Retry, "CommitRequestManager.OffsetCommitRequestState.onResponse"),
    (OffsetCommitKip848, K::UNKNOWN_TOPIC_ID, Retry, "CommitRequestManager.OffsetCommitRequestState.onResponse"),
    (OffsetCommitKip848, K::UNKNOWN_MEMBER_ID, CommitFailed, "CommitRequestManager.OffsetCommitRequestState.onResponse"),
    (OffsetCommitKip848, K::STALE_MEMBER_EPOCH, StaleEpoch, "CommitRequestManager.OffsetCommitRequestState.onResponse"),
    (OffsetCommitKip848, K::GROUP_AUTHORIZATION_FAILED, Fatal, "CommitRequestManager.OffsetCommitRequestState.onResponse"),
    (OffsetCommitKip848, K::TOPIC_AUTHORIZATION_FAILED, Fatal, "CommitRequestManager.OffsetCommitRequestState.onResponse"),
    (OffsetCommitKip848, K::OFFSET_METADATA_TOO_LARGE, Fatal, "CommitRequestManager.OffsetCommitRequestState.onResponse"),
    (OffsetCommitKip848, K::FENCED_MEMBER_EPOCH, Fatal, "CommitRequestManager.OffsetCommitRequestState.onResponse (unexpected)"),
    // OffsetFetch: ConsumerCoordinator.OffsetFetchResponseHandler.handle.
    (OffsetFetch, K::NONE, Proceed, "ConsumerCoordinator.OffsetFetchResponseHandler.handle"),
    (OffsetFetch, K::COORDINATOR_NOT_AVAILABLE, RediscoverCoordinator, "ConsumerCoordinator.OffsetFetchResponseHandler.handle"),
    (OffsetFetch, K::NOT_COORDINATOR, RediscoverCoordinator, "ConsumerCoordinator.OffsetFetchResponseHandler.handle"),
    (OffsetFetch, K::COORDINATOR_LOAD_IN_PROGRESS, Retry, "ConsumerCoordinator.OffsetFetchResponseHandler.handle (retriable)"),
    (OffsetFetch, K::GROUP_AUTHORIZATION_FAILED, Fatal, "ConsumerCoordinator.OffsetFetchResponseHandler.handle"),
    (OffsetFetch, K::UNKNOWN_MEMBER_ID, Fatal, "CommitRequestManager.OffsetFetchRequestState.onFailure"),
    (OffsetFetch, K::STALE_MEMBER_EPOCH, Fatal, "CommitRequestManager.OffsetFetchRequestState.onFailure"),
    (OffsetFetchPartition, K::NONE, Proceed, "ConsumerCoordinator.OffsetFetchResponseHandler.handle"),
    (OffsetFetchPartition, K::UNSTABLE_OFFSET_COMMIT, Retry, "ConsumerCoordinator.OffsetFetchResponseHandler.handle"),
    (OffsetFetchPartition, K::UNKNOWN_TOPIC_OR_PARTITION, Fatal, "ConsumerCoordinator.OffsetFetchResponseHandler.handle"),
    (OffsetFetchPartition, K::TOPIC_AUTHORIZATION_FAILED, Fatal, "ConsumerCoordinator.OffsetFetchResponseHandler.handle"),
];

#[test]
fn every_row_of_the_table_is_what_gregor_does() {
    let mut wrong = Vec::new();
    for (api, code, want, java) in TABLE {
        let got = action(*api, *code);
        if got != *want {
            wrong.push(format!("{api:?} × {code:?}: gregor {got:?}, Java {want:?} ({java})"));
        }
    }
    assert!(wrong.is_empty(), "rules that differ from Java:\n{}", wrong.join("\n"));
}

#[test]
fn unknown_leader_epoch_is_never_fatal() {
    // The defect of issue #19: code 75 was written as 76 in two places, so a Fetch answered
    // UNKNOWN_LEADER_EPOCH during a leader change failed the partition.
    assert_eq!(K::UNKNOWN_LEADER_EPOCH.code(), 75);
    assert_ne!(action(FetchPartition, K::UNKNOWN_LEADER_EPOCH), Fatal);
    assert_ne!(action(ListOffsets, K::UNKNOWN_LEADER_EPOCH), Fatal);
    assert_eq!(action(FetchPartition, K::UNSUPPORTED_COMPRESSION_TYPE), Fatal);
}

#[test]
fn every_code_has_an_action_for_every_api_and_no_error_is_proceed() {
    for &api in Api::ALL {
        for e in ERRORS.iter().filter(|e| e.code != 0) {
            assert_ne!(action(api, K(e.code)), Proceed, "{api:?} × {}", e.name);
        }
        // Codes newer than the table are handled too, never as success.
        assert_ne!(action(api, K(999)), Proceed);
    }
}

/// Files whose error handling still compares raw numbers; each is being moved onto the rules
/// table. The scan fails when a file not listed here has a numeric code, and when a listed
/// file no longer has one (so the list only shrinks).
const NOT_YET_ON_THE_TABLE: &[&str] = &[
];

/// No numeric error-code literal outside the table: every comparison or match on an error
/// code names it. The scan looks for the shapes such code takes (`error_code == 3`,
/// `code() == Some(25)`, a match arm `22 | 25 =>` on an error code).
#[test]
fn no_numeric_error_code_literals_outside_the_table() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let cmp = regex::Regex::new(r"(error_code|error|code\(\))\s*(==|!=)\s*(Some\()?-?[0-9]+").unwrap();
    let arm = regex::Regex::new(r"^\s*-?[0-9]+(\s*\|\s*-?[0-9]+)*\s*=>").unwrap();
    let matcher = regex::Regex::new(r"match\s+[^{]*(error_code|\.error\b|code\(\)|code\b)").unwrap();
    let mut found = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "rules") {
                    stack.push(path);
                }
                continue;
            }
            let name = path.strip_prefix(&root).unwrap().display().to_string();
            if !name.ends_with(".rs") || name == "protocol_errors.rs" {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let mut in_code_match = 0usize; // lines left in a `match` on an error code
            for (i, line) in text.lines().enumerate() {
                let code_part = line.split("//").next().unwrap_or("");
                if matcher.is_match(code_part) {
                    in_code_match = 40;
                }
                if cmp.is_match(code_part) || (in_code_match > 0 && arm.is_match(code_part)) {
                    found.push(format!("{name}:{}: {}", i + 1, line.trim()));
                }
                in_code_match = in_code_match.saturating_sub(1);
            }
        }
    }
    let unlisted: Vec<&String> =
        found.iter().filter(|f| !NOT_YET_ON_THE_TABLE.iter().any(|p| f.starts_with(&format!("{p}:")))).collect();
    assert!(
        unlisted.is_empty(),
        "numeric error codes outside the rules table (use KafkaCode::NAME):\n{}",
        unlisted.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n")
    );
    let clean: Vec<&&str> =
        NOT_YET_ON_THE_TABLE.iter().filter(|p| !found.iter().any(|f| f.starts_with(&format!("{p}:")))).collect();
    assert!(clean.is_empty(), "these files are on the table now; remove them from NOT_YET_ON_THE_TABLE: {clean:?}");
}
