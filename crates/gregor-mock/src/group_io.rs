//! Inputs and outputs of the group state machine (`crate::group`), and the Kafka error codes it
//! answers with (org.apache.kafka.common.protocol.Errors).

use bytes::Bytes;

pub(crate) const NONE: i16 = 0;
pub(crate) const ILLEGAL_GENERATION: i16 = 22;
pub(crate) const INCONSISTENT_GROUP_PROTOCOL: i16 = 23;
pub(crate) const UNKNOWN_MEMBER_ID: i16 = 25;
pub(crate) const INVALID_SESSION_TIMEOUT: i16 = 26;
pub(crate) const REBALANCE_IN_PROGRESS: i16 = 27;
pub(crate) const MEMBER_ID_REQUIRED: i16 = 79;
pub(crate) const FENCED_INSTANCE_ID: i16 = 82;

/// JoinGroup input (decoded request fields plus connection facts).
#[derive(Debug, Clone)]
pub(crate) struct JoinInput {
    pub version: i16,
    pub member_id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout_ms: i32,
    pub rebalance_timeout_ms: i32,
    pub protocol_type: String,
    pub protocols: Vec<(String, Bytes)>,
}

/// A JoinGroup answer (mapped onto JoinGroupResponse by the handler).
#[derive(Debug, Clone, Default)]
pub(crate) struct JoinResult {
    pub error_code: i16,
    pub generation_id: i32,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub leader: String,
    pub member_id: String,
    /// (member id, instance id, metadata) — only for the leader.
    pub members: Vec<(String, Option<String>, Bytes)>,
    pub skip_assignment: bool,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct SyncResult {
    pub error_code: i16,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub assignment: Bytes,
}

#[derive(Debug, Clone)]
pub(crate) enum Output {
    Join(JoinResult),
    Sync(SyncResult),
}

/// Outcome of a request that may park.
pub(crate) enum Reply<T> {
    Now(T),
    Parked,
}
