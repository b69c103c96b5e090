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
    for api in [FetchSession, FetchPartition, ListOffsets, Metadata, MetadataTopic] {
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
    "consumer/group.rs",
    "consumer/group_consumer.rs",
    "consumer/offsets.rs",
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
