//! Kafka protocol error codes in one table.
//!
//! Codes and names are those of Java's `org.apache.kafka.common.protocol.Errors` (Kafka 4.1:
//! -1 to 133). `retriable` is true exactly when Java maps the code to a subclass of
//! `RetriableException`: the same request may succeed later without the client changing
//! anything (often after a metadata refresh or coordinator lookup). Codes this table does not
//! know (newer brokers) are handled gracefully: they print as `UNKNOWN_ERROR_CODE (n)` and are
//! treated as not retriable, which is the safe choice.
//!
//! The descriptions are gregor's own one-liners.

use std::fmt;

/// One row of the error table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorInfo {
    /// The wire code.
    pub code: i16,
    /// Java's enum name, e.g. `NOT_LEADER_OR_FOLLOWER`.
    pub name: &'static str,
    /// Whether retrying the same request can succeed (Java `RetriableException`).
    pub retriable: bool,
    /// One line for humans.
    pub description: &'static str,
}

macro_rules! error_table {
    ($( $code:literal $name:ident $retriable:literal $desc:literal ;)*) => {
        /// Every known code, sorted by code.
        pub static ERRORS: &[ErrorInfo] = &[
            $( ErrorInfo { code: $code, name: stringify!($name), retriable: $retriable, description: $desc }, )*
        ];

        /// Named constants for the codes, e.g. `KafkaCode::NOT_COORDINATOR`.
        #[allow(missing_docs)]
        impl KafkaCode {
            $( pub const $name: KafkaCode = KafkaCode($code); )*
        }
    };
}

error_table! {
    -1 UNKNOWN_SERVER_ERROR false "The broker hit an unexpected internal error; its log has the details.";
    0 NONE false "No error.";
    1 OFFSET_OUT_OF_RANGE false "The requested offset is below the log start or above the log end of the partition.";
    2 CORRUPT_MESSAGE true "A record failed its CRC check, had an invalid size, or was otherwise malformed.";
    3 UNKNOWN_TOPIC_OR_PARTITION true "The broker does not host this topic-partition (it may not exist or metadata is stale).";
    4 INVALID_FETCH_SIZE false "The fetch size in the request is not acceptable.";
    5 LEADER_NOT_AVAILABLE true "The partition has no leader right now, usually because an election is under way.";
    6 NOT_LEADER_OR_FOLLOWER true "This broker is not the leader (or not a replica) for the partition; refresh metadata.";
    7 REQUEST_TIMED_OUT true "The broker gave up on the request before it could complete.";
    8 BROKER_NOT_AVAILABLE false "The broker is not available.";
    9 REPLICA_NOT_AVAILABLE true "The requested replica of the partition is not available on this broker.";
    10 MESSAGE_TOO_LARGE false "A record is larger than the broker or topic maximum message size.";
    11 STALE_CONTROLLER_EPOCH false "The request came from a controller that has since been replaced.";
    12 OFFSET_METADATA_TOO_LARGE false "The metadata string attached to a committed offset is too long.";
    13 NETWORK_EXCEPTION true "The connection was lost before a response arrived.";
    14 COORDINATOR_LOAD_IN_PROGRESS true "The coordinator is still loading its state and cannot serve the request yet.";
    15 COORDINATOR_NOT_AVAILABLE true "No coordinator is currently available for this group or transaction.";
    16 NOT_COORDINATOR true "This broker is not the coordinator for the group or transaction; look it up again.";
    17 INVALID_TOPIC_EXCEPTION false "The topic name is invalid or the operation is not allowed on this topic.";
    18 RECORD_LIST_TOO_LARGE false "A record batch is larger than the log segment size allows.";
    19 NOT_ENOUGH_REPLICAS true "Fewer in-sync replicas than min.insync.replicas; the write was rejected.";
    20 NOT_ENOUGH_REPLICAS_AFTER_APPEND true "The write was stored but fewer in-sync replicas than required acknowledged it.";
    21 INVALID_REQUIRED_ACKS false "The produce request used an acks value the broker does not accept.";
    22 ILLEGAL_GENERATION false "The group generation in the request is not the current one; rejoin the group.";
    23 INCONSISTENT_GROUP_PROTOCOL false "The member's protocol type or assignors do not match the rest of the group.";
    24 INVALID_GROUP_ID false "The group id is empty or otherwise invalid.";
    25 UNKNOWN_MEMBER_ID false "The coordinator does not know this member id; rejoin with an empty member id.";
    26 INVALID_SESSION_TIMEOUT false "The session timeout is outside the broker's group.min/max.session.timeout.ms range.";
    27 REBALANCE_IN_PROGRESS false "The group is rebalancing; the member must rejoin.";
    28 INVALID_COMMIT_OFFSET_SIZE false "The offset commit is too large to store.";
    29 TOPIC_AUTHORIZATION_FAILED false "The principal is not authorized to access the topic.";
    30 GROUP_AUTHORIZATION_FAILED false "The principal is not authorized to access the group.";
    31 CLUSTER_AUTHORIZATION_FAILED false "The principal is not authorized for this cluster-level operation.";
    32 INVALID_TIMESTAMP false "A record timestamp is outside the range the topic accepts.";
    33 UNSUPPORTED_SASL_MECHANISM false "The broker does not offer the requested SASL mechanism.";
    34 ILLEGAL_SASL_STATE false "The request is not allowed at this point of the SASL exchange.";
    35 UNSUPPORTED_VERSION false "The broker does not support this API version.";
    36 TOPIC_ALREADY_EXISTS false "A topic with this name already exists.";
    37 INVALID_PARTITIONS false "The partition count is invalid.";
    38 INVALID_REPLICATION_FACTOR false "The replication factor is invalid or exceeds the number of brokers.";
    39 INVALID_REPLICA_ASSIGNMENT false "The explicit replica assignment is invalid.";
    40 INVALID_CONFIG false "A configuration value in the request is invalid.";
    41 NOT_CONTROLLER true "This broker is not the active controller.";
    42 INVALID_REQUEST false "The broker could not make sense of the request; it may be malformed or unsupported.";
    43 UNSUPPORTED_FOR_MESSAGE_FORMAT false "The topic's message format version is too old for this request.";
    44 POLICY_VIOLATION false "The request breaks a policy configured on the broker.";
    45 OUT_OF_ORDER_SEQUENCE_NUMBER false "The broker saw a producer sequence number out of order.";
    46 DUPLICATE_SEQUENCE_NUMBER false "The broker already has a batch with this producer sequence number.";
    47 INVALID_PRODUCER_EPOCH false "The producer epoch is older than the broker's current one.";
    48 INVALID_TXN_STATE false "The transactional operation is not valid in the transaction's current state.";
    49 INVALID_PRODUCER_ID_MAPPING false "The producer id is not the one currently assigned to this transactional id.";
    50 INVALID_TRANSACTION_TIMEOUT false "The transaction timeout exceeds the broker's transaction.max.timeout.ms.";
    51 CONCURRENT_TRANSACTIONS true "Another operation on the same transaction is still in progress.";
    52 TRANSACTION_COORDINATOR_FENCED false "The transaction coordinator that sent this marker is no longer current.";
    53 TRANSACTIONAL_ID_AUTHORIZATION_FAILED false "The principal is not authorized to use the transactional id.";
    54 SECURITY_DISABLED false "Security features are turned off on the broker.";
    55 OPERATION_NOT_ATTEMPTED false "The broker skipped this item because another part of the batch failed.";
    56 KAFKA_STORAGE_ERROR true "The broker had a disk error accessing the log; another replica may serve it.";
    57 LOG_DIR_NOT_FOUND false "The log directory named in the request is not configured on the broker.";
    58 SASL_AUTHENTICATION_FAILED false "SASL authentication failed (bad credentials or mechanism setup).";
    59 UNKNOWN_PRODUCER_ID false "The broker has no state for this producer id, e.g. its records expired.";
    60 REASSIGNMENT_IN_PROGRESS false "A partition reassignment is already running.";
    61 DELEGATION_TOKEN_AUTH_DISABLED false "Delegation tokens are not enabled on the broker.";
    62 DELEGATION_TOKEN_NOT_FOUND false "The delegation token does not exist.";
    63 DELEGATION_TOKEN_OWNER_MISMATCH false "The principal is not the owner or a renewer of the token.";
    64 DELEGATION_TOKEN_REQUEST_NOT_ALLOWED false "Token requests are refused on this kind of channel or authentication.";
    65 DELEGATION_TOKEN_AUTHORIZATION_FAILED false "The principal is not authorized for this delegation token operation.";
    66 DELEGATION_TOKEN_EXPIRED false "The delegation token has expired.";
    67 INVALID_PRINCIPAL_TYPE false "The principal type is not supported.";
    68 NON_EMPTY_GROUP false "The group still has members, so it cannot be deleted.";
    69 GROUP_ID_NOT_FOUND false "The group does not exist.";
    70 FETCH_SESSION_ID_NOT_FOUND true "The broker no longer has this incremental fetch session; start a new one.";
    71 INVALID_FETCH_SESSION_EPOCH true "The fetch session epoch does not match the broker's; start a new session.";
    72 LISTENER_NOT_FOUND true "The leader has no listener matching the one this request arrived on.";
    73 TOPIC_DELETION_DISABLED false "Topic deletion is turned off on the broker.";
    74 FENCED_LEADER_EPOCH true "The leader epoch in the request is older than the broker's; refresh metadata.";
    75 UNKNOWN_LEADER_EPOCH true "The leader epoch in the request is newer than the broker knows; retry later.";
    76 UNSUPPORTED_COMPRESSION_TYPE false "The client cannot handle the partition's compression type at this request version.";
    77 STALE_BROKER_EPOCH false "The broker epoch in the request is out of date.";
    78 OFFSET_NOT_AVAILABLE true "A new leader's high watermark has not caught up yet, so offsets are not final.";
    79 MEMBER_ID_REQUIRED false "The member must rejoin using the member id the coordinator just assigned.";
    80 PREFERRED_LEADER_NOT_AVAILABLE true "The preferred leader replica cannot take leadership now.";
    81 GROUP_MAX_SIZE_REACHED false "The group already has the maximum number of members.";
    82 FENCED_INSTANCE_ID false "Another member registered with the same group.instance.id.";
    83 ELIGIBLE_LEADERS_NOT_AVAILABLE true "No replica is eligible to become leader right now.";
    84 ELECTION_NOT_NEEDED true "The partition already has the desired leader.";
    85 NO_REASSIGNMENT_IN_PROGRESS false "There is no reassignment running to cancel.";
    86 GROUP_SUBSCRIBED_TO_TOPIC false "Offsets of a topic cannot be deleted while the group consumes it.";
    87 INVALID_RECORD false "The broker's validation rejected a record.";
    88 UNSTABLE_OFFSET_COMMIT true "A pending transactional offset commit must complete before offsets can be read.";
    89 THROTTLING_QUOTA_EXCEEDED true "The request exceeded a mutation rate quota; retry after the throttle time.";
    90 PRODUCER_FENCED false "A newer producer with the same transactional id has fenced this one.";
    91 RESOURCE_NOT_FOUND false "The request referred to a resource that does not exist.";
    92 DUPLICATE_RESOURCE false "The request named the same resource more than once.";
    93 UNACCEPTABLE_CREDENTIAL false "The requested credential does not meet the acceptance criteria.";
    94 INCONSISTENT_VOTER_SET false "The sender or receiver of a quorum request is not an expected voter.";
    95 INVALID_UPDATE_VERSION false "The feature update version is invalid.";
    96 FEATURE_UPDATE_FAILED false "Finalized features could not be updated because of a server error.";
    97 PRINCIPAL_DESERIALIZATION_FAILURE false "A forwarded request's principal could not be deserialized.";
    98 SNAPSHOT_NOT_FOUND false "The requested metadata snapshot does not exist.";
    99 POSITION_OUT_OF_RANGE false "The requested position lies outside the snapshot.";
    100 UNKNOWN_TOPIC_ID true "The broker does not host a topic with this id; refresh metadata.";
    101 DUPLICATE_BROKER_REGISTRATION false "Another broker already registered this broker id.";
    102 BROKER_ID_NOT_REGISTERED false "This broker id is not registered with the controller.";
    103 INCONSISTENT_TOPIC_ID true "The topic id in the request differs from the one in the log; refresh metadata.";
    104 INCONSISTENT_CLUSTER_ID false "The cluster id in the request differs from the server's.";
    105 TRANSACTIONAL_ID_NOT_FOUND false "The transactional id does not exist.";
    106 FETCH_SESSION_TOPIC_ID_ERROR true "The fetch session mixed or changed topic ids; start a new session.";
    107 INELIGIBLE_REPLICA false "The proposed ISR contains a replica that is not eligible.";
    108 NEW_LEADER_ELECTED false "The partition state was updated but leadership moved to another replica.";
    109 OFFSET_MOVED_TO_TIERED_STORAGE false "The offset now lives only in tiered (remote) storage.";
    110 FENCED_MEMBER_EPOCH false "The coordinator fenced this member's epoch; give up partitions and rejoin.";
    111 UNRELEASED_INSTANCE_ID false "Another member still holds this group.instance.id and must leave first.";
    112 UNSUPPORTED_ASSIGNOR false "The group does not support the requested server-side assignor.";
    113 STALE_MEMBER_EPOCH false "The member epoch is out of date; retry with the epoch from the next heartbeat.";
    114 MISMATCHED_ENDPOINT_TYPE false "The request reached an endpoint of the wrong type (broker vs controller).";
    115 UNSUPPORTED_ENDPOINT_TYPE false "This endpoint type is not supported yet.";
    116 UNKNOWN_CONTROLLER_ID false "The controller id is not known.";
    117 UNKNOWN_SUBSCRIPTION_ID false "The client telemetry subscription id is unknown or outdated.";
    118 TELEMETRY_TOO_LARGE false "The pushed client telemetry is larger than the broker accepts.";
    119 INVALID_REGISTRATION false "The controller considers the broker registration invalid.";
    120 TRANSACTION_ABORTABLE false "The transaction hit an error; abort it to keep using the transactional id.";
    121 INVALID_RECORD_STATE false "The record's delivery state does not allow this acknowledgement.";
    122 SHARE_SESSION_NOT_FOUND true "The broker has no such share session.";
    123 INVALID_SHARE_SESSION_EPOCH true "The share session epoch does not match the broker's.";
    124 FENCED_STATE_EPOCH false "The share-group state epoch did not match the share coordinator's.";
    125 INVALID_VOTER_KEY false "The voter key does not match the receiving replica's.";
    126 DUPLICATE_VOTER false "The voter is already in the voter set.";
    127 VOTER_NOT_FOUND false "The voter is not in the voter set.";
    128 INVALID_REGULAR_EXPRESSION false "The subscription regular expression is invalid.";
    129 REBOOTSTRAP_REQUIRED false "The client's metadata is too stale; it should go back to its bootstrap servers.";
    130 STREAMS_INVALID_TOPOLOGY false "The Streams topology supplied is invalid.";
    131 STREAMS_INVALID_TOPOLOGY_EPOCH false "The Streams topology epoch supplied is invalid.";
    132 STREAMS_TOPOLOGY_FENCED false "The Streams topology epoch supplied is out of date.";
    133 SHARE_SESSION_LIMIT_REACHED true "The broker's limit on share sessions has been reached.";
}

/// A Kafka error code as read off the wire. Any `i16` is valid; unknown codes are handled.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KafkaCode(pub i16);

impl KafkaCode {
    /// Looks up a code in the table.
    pub fn from_code(code: i16) -> Option<&'static ErrorInfo> {
        from_code(code)
    }

    /// The table row, if the code is known.
    pub fn info(self) -> Option<&'static ErrorInfo> {
        from_code(self.0)
    }

    /// The raw code.
    pub fn code(self) -> i16 {
        self.0
    }

    /// Whether this is code 0 (no error).
    pub fn is_ok(self) -> bool {
        self.0 == 0
    }

    /// `Ok(())` for code 0, else `Err(self)`; handy with `?` on response fields.
    pub fn ok(self) -> Result<(), KafkaCode> {
        if self.is_ok() {
            Ok(())
        } else {
            Err(self)
        }
    }

    /// Java's name, or `UNKNOWN_ERROR_CODE` for a code this table does not know.
    pub fn name(self) -> &'static str {
        self.info().map_or("UNKNOWN_ERROR_CODE", |i| i.name)
    }

    /// Whether retrying can succeed. Unknown codes are not retriable.
    pub fn is_retriable(self) -> bool {
        self.info().is_some_and(|i| i.retriable)
    }

    /// A one-line description.
    pub fn description(self) -> &'static str {
        self.info()
            .map_or("An error code this version of gregor does not know.", |i| i.description)
    }

    /// The group coordinator moved, is loading, or is unavailable: find the coordinator again
    /// (Java `AbstractCoordinator.markCoordinatorUnknown` on these three codes).
    pub fn is_coordinator_error(self) -> bool {
        matches!(
            self,
            KafkaCode::COORDINATOR_NOT_AVAILABLE
                | KafkaCode::NOT_COORDINATOR
                | KafkaCode::COORDINATOR_LOAD_IN_PROGRESS
        )
    }

    /// The client's view of partition leadership or topic identity is wrong: refresh metadata
    /// before retrying. Follows the Java consumer (`FetchCollector.handleInitializeErrors`,
    /// `OffsetFetcherUtils`) and the `InvalidMetadataException` family. `UNKNOWN_LEADER_EPOCH`
    /// is included although Java's fetch path merely retries it (the broker lags our epoch), as
    /// ListOffsets retries it through a metadata update; an extra refresh is harmless.
    pub fn invalidates_metadata(self) -> bool {
        matches!(
            self,
            KafkaCode::UNKNOWN_TOPIC_OR_PARTITION
                | KafkaCode::LEADER_NOT_AVAILABLE
                | KafkaCode::NOT_LEADER_OR_FOLLOWER
                | KafkaCode::REPLICA_NOT_AVAILABLE
                | KafkaCode::KAFKA_STORAGE_ERROR
                | KafkaCode::LISTENER_NOT_FOUND
                | KafkaCode::FENCED_LEADER_EPOCH
                | KafkaCode::UNKNOWN_LEADER_EPOCH
                | KafkaCode::OFFSET_NOT_AVAILABLE
                | KafkaCode::UNKNOWN_TOPIC_ID
                | KafkaCode::INCONSISTENT_TOPIC_ID
        )
    }

    /// The broker asks the client to discard its metadata and start over from
    /// `bootstrap.servers` (KIP-1102).
    pub fn requires_rebootstrap(self) -> bool {
        self == KafkaCode::REBOOTSTRAP_REQUIRED
    }

    /// An authorization or authentication failure: retrying will not help until an operator
    /// changes ACLs or credentials.
    pub fn is_auth_error(self) -> bool {
        matches!(
            self,
            KafkaCode::TOPIC_AUTHORIZATION_FAILED
                | KafkaCode::GROUP_AUTHORIZATION_FAILED
                | KafkaCode::CLUSTER_AUTHORIZATION_FAILED
                | KafkaCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED
                | KafkaCode::DELEGATION_TOKEN_AUTHORIZATION_FAILED
                | KafkaCode::SASL_AUTHENTICATION_FAILED
                | KafkaCode::UNSUPPORTED_SASL_MECHANISM
                | KafkaCode::ILLEGAL_SASL_STATE
        )
    }

    /// The incremental fetch session (KIP-227) is gone or out of step: send a full fetch.
    pub fn resets_fetch_session(self) -> bool {
        matches!(
            self,
            KafkaCode::FETCH_SESSION_ID_NOT_FOUND
                | KafkaCode::INVALID_FETCH_SESSION_EPOCH
                | KafkaCode::FETCH_SESSION_TOPIC_ID_ERROR
        )
    }
}

impl From<i16> for KafkaCode {
    fn from(code: i16) -> Self {
        KafkaCode(code)
    }
}

impl fmt::Debug for KafkaCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.name(), self.0)
    }
}

/// `NOT_LEADER_OR_FOLLOWER (6): This broker is not the leader ...`
impl fmt::Display for KafkaCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.name(), self.0, self.description())
    }
}

/// So that a `KafkaCode` can be an error source in the client's `Error`.
impl std::error::Error for KafkaCode {}

/// Whether retrying a request that failed with `code` can succeed (unknown codes: no).
pub fn is_retriable(code: i16) -> bool {
    KafkaCode(code).is_retriable()
}

/// `NAME (code): description`, for error messages.
pub fn describe(code: i16) -> String {
    KafkaCode(code).to_string()
}

/// Looks a code up in the table (a direct index: codes are dense from -1).
pub fn from_code(code: i16) -> Option<&'static ErrorInfo> {
    let idx = usize::try_from(i32::from(code) + 1).ok()?;
    ERRORS.get(idx).filter(|i| i.code == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_dense_sorted_and_unique() {
        for (i, e) in ERRORS.iter().enumerate() {
            assert_eq!(i32::from(e.code), i as i32 - 1, "{} out of place", e.name);
            assert!(e.name.chars().all(|c| c.is_ascii_uppercase() || c == '_'), "{}", e.name);
            assert!(e.description.ends_with('.'), "{}", e.name);
        }
        let mut names: Vec<_> = ERRORS.iter().map(|e| e.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), ERRORS.len());
        assert_eq!(ERRORS.last().map(|e| e.code), Some(133));
    }

    #[test]
    fn well_known_codes() {
        let e = from_code(6).unwrap();
        assert_eq!((e.name, e.retriable), ("NOT_LEADER_OR_FOLLOWER", true));
        assert_eq!(KafkaCode(3).name(), "UNKNOWN_TOPIC_OR_PARTITION");
        assert_eq!(KafkaCode(-1).name(), "UNKNOWN_SERVER_ERROR");
        assert_eq!(KafkaCode(27).name(), "REBALANCE_IN_PROGRESS");
        assert_eq!(KafkaCode(35).name(), "UNSUPPORTED_VERSION");
        assert_eq!(KafkaCode(58).name(), "SASL_AUTHENTICATION_FAILED");
        assert_eq!(KafkaCode(79).name(), "MEMBER_ID_REQUIRED");
        assert_eq!(KafkaCode(110).name(), "FENCED_MEMBER_EPOCH");
        assert_eq!(KafkaCode(129).name(), "REBOOTSTRAP_REQUIRED");
        assert_eq!(KafkaCode::NOT_COORDINATOR, KafkaCode(16));
    }

    #[test]
    fn retriable_flags_follow_java() {
        for c in [2, 3, 5, 6, 7, 9, 13, 14, 15, 16, 19, 20, 41, 51, 56, 70, 71, 72, 74, 75, 78, 88, 89, 100, 103] {
            assert!(KafkaCode(c).is_retriable(), "{c}");
        }
        // Group membership errors need a rejoin, not a blind retry; auth errors need an operator.
        for c in [-1, 0, 1, 22, 25, 27, 29, 30, 35, 58, 79, 82, 110, 113, 129] {
            assert!(!KafkaCode(c).is_retriable(), "{c}");
        }
    }

    #[test]
    fn unknown_codes_are_graceful() {
        for c in [134, 1000, i16::MAX, -2, i16::MIN] {
            let k = KafkaCode(c);
            assert!(from_code(c).is_none());
            assert_eq!(k.name(), "UNKNOWN_ERROR_CODE");
            assert!(!k.is_retriable());
            assert!(k.to_string().starts_with(&format!("UNKNOWN_ERROR_CODE ({c}): ")));
        }
    }

    #[test]
    fn display_and_debug() {
        let k = KafkaCode::NOT_LEADER_OR_FOLLOWER;
        assert_eq!(
            k.to_string(),
            "NOT_LEADER_OR_FOLLOWER (6): This broker is not the leader (or not a replica) for the partition; refresh metadata."
        );
        assert_eq!(format!("{k:?}"), "NOT_LEADER_OR_FOLLOWER(6)");
        assert_eq!(KafkaCode(0).ok(), Ok(()));
        assert_eq!(KafkaCode(16).ok(), Err(KafkaCode::NOT_COORDINATOR));
        assert_eq!(describe(16), KafkaCode(16).to_string());
        assert!(is_retriable(6) && !is_retriable(25) && !is_retriable(999));
    }

    #[test]
    fn helper_classes() {
        let coord: Vec<i16> = ERRORS.iter().filter(|e| KafkaCode(e.code).is_coordinator_error()).map(|e| e.code).collect();
        assert_eq!(coord, vec![14, 15, 16]);
        for c in [3, 5, 6, 9, 56, 74, 75, 78, 100, 103] {
            assert!(KafkaCode(c).invalidates_metadata(), "{c}");
        }
        for c in [0, 1, 14, 16, 25, 27, 29] {
            assert!(!KafkaCode(c).invalidates_metadata(), "{c}");
        }
        // Everything that invalidates metadata is also retriable.
        for e in ERRORS {
            if KafkaCode(e.code).invalidates_metadata() || KafkaCode(e.code).is_coordinator_error() {
                assert!(e.retriable, "{}", e.name);
            }
        }
        assert!(KafkaCode(129).requires_rebootstrap());
        assert!(KafkaCode(29).is_auth_error() && !KafkaCode(6).is_auth_error());
        assert!(KafkaCode(70).resets_fetch_session());
    }
}
