//! Request dispatch: decode the header, route by API key to one handler file, frame the reply.

use std::sync::Arc;

use anyhow::{bail, Context as _};
use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable};

use crate::state::Shared;

mod admin_groups;
mod api_versions;
mod consumer_group;
mod coordinator;
mod fetch;
mod group;
mod list_offsets;
mod metadata;
mod offsets;
mod produce;
mod producer_id;
mod txn;

/// Per-request context handed to every handler.
pub(crate) struct Ctx {
    pub shared: Arc<Shared>,
    pub broker_id: i32,
    pub client_host: String,
}

/// Version ranges the mock implements and advertises in ApiVersions (min, max).
pub(crate) const SUPPORTED: &[(ApiKey, i16, i16)] = &[
    (ApiKey::Produce, 3, 12),
    (ApiKey::Fetch, 4, 17),
    (ApiKey::ListOffsets, 1, 10),
    (ApiKey::Metadata, 0, 13),
    (ApiKey::OffsetCommit, 2, 9),
    (ApiKey::OffsetFetch, 1, 9),
    (ApiKey::FindCoordinator, 0, 6),
    (ApiKey::JoinGroup, 0, 9),
    (ApiKey::Heartbeat, 0, 4),
    (ApiKey::LeaveGroup, 0, 5),
    (ApiKey::SyncGroup, 0, 5),
    (ApiKey::DescribeGroups, 0, 6),
    (ApiKey::ListGroups, 0, 5),
    (ApiKey::ApiVersions, 0, 4),
    (ApiKey::CreateTopics, 2, 7),
    (ApiKey::InitProducerId, 0, 5),
    (ApiKey::AddPartitionsToTxn, 0, 3),
    (ApiKey::AddOffsetsToTxn, 0, 3),
    (ApiKey::EndTxn, 0, 5),
    (ApiKey::TxnOffsetCommit, 0, 5),
    (ApiKey::ConsumerGroupHeartbeat, 0, 1),
    (ApiKey::DeleteGroups, 0, 2),
    (ApiKey::ConsumerGroupDescribe, 0, 1),
];

pub(crate) fn supported(key: ApiKey) -> Option<(i16, i16)> {
    SUPPORTED
        .iter()
        .find(|(k, _, _)| *k == key)
        .map(|&(_, a, b)| (a, b))
}

// Kafka error codes used by the handlers (org.apache.kafka.common.protocol.Errors).
pub(crate) const OFFSET_OUT_OF_RANGE: i16 = 1;
pub(crate) const CORRUPT_MESSAGE: i16 = 2;
pub(crate) const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
pub(crate) const LEADER_NOT_AVAILABLE: i16 = 5;
pub(crate) const NOT_LEADER_OR_FOLLOWER: i16 = 6;
pub(crate) const COORDINATOR_NOT_AVAILABLE: i16 = 15;
pub(crate) const NOT_COORDINATOR: i16 = 16;
pub(crate) const INVALID_REQUIRED_ACKS: i16 = 21;
pub(crate) const UNSUPPORTED_VERSION: i16 = 35;
pub(crate) const TOPIC_ALREADY_EXISTS: i16 = 36;
pub(crate) const INVALID_PARTITIONS: i16 = 37;
pub(crate) const UNSUPPORTED_FOR_MESSAGE_FORMAT: i16 = 43;
pub(crate) const FENCED_LEADER_EPOCH: i16 = 74;
pub(crate) const UNKNOWN_LEADER_EPOCH: i16 = 75;
pub(crate) const GROUP_ID_NOT_FOUND: i16 = 69;
pub(crate) const FETCH_SESSION_ID_NOT_FOUND: i16 = 70;
pub(crate) const INVALID_FETCH_SESSION_EPOCH: i16 = 71;
pub(crate) const UNKNOWN_TOPIC_ID: i16 = 100;

/// Handles one request frame body; returns the full response frame (length prefix included),
/// or None when the protocol sends no response (Produce with acks=0). An error closes the
/// connection, as a broker does on an unparseable request.
pub(crate) async fn dispatch(ctx: &Ctx, body: Bytes) -> anyhow::Result<Option<BytesMut>> {
    let raw_key = i16::from_be_bytes([body[0], body[1]]);
    let version = i16::from_be_bytes([body[2], body[3]]);
    let correlation_id = i32::from_be_bytes([body[4], body[5], body[6], body[7]]);
    let key =
        ApiKey::try_from(raw_key).map_err(|_| anyhow::anyhow!("unknown api key {raw_key}"))?;
    let Some((min, max)) = supported(key) else {
        bail!("unsupported api {key:?}")
    };
    if version < min || version > max {
        if key == ApiKey::ApiVersions {
            // KIP-511: answer a too-new ApiVersions in the v0 layout with UNSUPPORTED_VERSION so
            // the client can retry with a version we list.
            let body = api_versions::unsupported(version)?;
            return Ok(Some(frame(correlation_id, 0, &body)?));
        }
        bail!("unsupported version {version} of {key:?}");
    }
    let mut buf = body;
    let header = RequestHeader::decode(&mut buf, key.request_header_version(version))
        .context("request header")?;
    let forced = ctx.shared.faults().take_error(raw_key);
    let v = version;
    let resp: Option<BytesMut> = match key {
        ApiKey::ApiVersions => Some(enc(&api_versions::handle(ctx, v, forced), v)?),
        ApiKey::Metadata => Some(enc(
            &metadata::handle(ctx, dec(&mut buf, v)?, v, forced),
            v,
        )?),
        ApiKey::CreateTopics => Some(enc(
            &metadata::create_topics(ctx, dec(&mut buf, v)?, v, forced),
            v,
        )?),
        ApiKey::Produce => produce::handle(ctx, dec(&mut buf, v)?, v, forced)
            .map(|r| enc(&r, v))
            .transpose()?,
        ApiKey::Fetch => Some(enc(
            &fetch::handle(ctx, dec(&mut buf, v)?, v, forced).await,
            v,
        )?),
        ApiKey::ListOffsets => Some(enc(
            &list_offsets::handle(ctx, dec(&mut buf, v)?, v, forced),
            v,
        )?),
        ApiKey::FindCoordinator => Some(enc(
            &coordinator::handle(ctx, dec(&mut buf, v)?, v, forced),
            v,
        )?),
        ApiKey::JoinGroup => Some(enc(
            &group::join(ctx, &header, dec(&mut buf, v)?, v, forced).await,
            v,
        )?),
        ApiKey::SyncGroup => Some(enc(
            &group::sync(ctx, dec(&mut buf, v)?, v, forced).await,
            v,
        )?),
        ApiKey::Heartbeat => Some(enc(
            &group::heartbeat(ctx, dec(&mut buf, v)?, v, forced),
            v,
        )?),
        ApiKey::LeaveGroup => Some(enc(&group::leave(ctx, dec(&mut buf, v)?, v, forced), v)?),
        ApiKey::DescribeGroups => {
            Some(enc(&group::describe(ctx, dec(&mut buf, v)?, v, forced), v)?)
        }
        ApiKey::ListGroups => Some(enc(
            &admin_groups::list(ctx, dec(&mut buf, v)?, v, forced),
            v,
        )?),
        ApiKey::DeleteGroups => Some(enc(
            &admin_groups::delete(ctx, dec(&mut buf, v)?, v, forced),
            v,
        )?),
        ApiKey::ConsumerGroupDescribe => Some(enc(
            &admin_groups::consumer_describe(ctx, dec(&mut buf, v)?, v, forced),
            v,
        )?),
        ApiKey::OffsetCommit => Some(enc(&offsets::commit(ctx, dec(&mut buf, v)?, v, forced), v)?),
        ApiKey::InitProducerId => Some(enc(
            &producer_id::handle(ctx, dec(&mut buf, v)?, v, forced),
            v,
        )?),
        ApiKey::AddPartitionsToTxn => Some(enc(&txn::add_partitions(ctx, dec(&mut buf, v)?, v, forced), v)?),
        ApiKey::AddOffsetsToTxn => Some(enc(&txn::add_offsets(ctx, dec(&mut buf, v)?, v, forced), v)?),
        ApiKey::EndTxn => Some(enc(&txn::end_txn(ctx, dec(&mut buf, v)?, v, forced), v)?),
        ApiKey::TxnOffsetCommit => Some(enc(&txn::txn_offset_commit(ctx, dec(&mut buf, v)?, v, forced), v)?),
        ApiKey::OffsetFetch => Some(enc(&offsets::fetch(ctx, dec(&mut buf, v)?, v, forced), v)?),
        ApiKey::ConsumerGroupHeartbeat => Some(enc(
            &consumer_group::heartbeat(ctx, dec(&mut buf, v)?, v, forced),
            v,
        )?),
        _ => bail!("unsupported api {key:?}"),
    };
    match resp {
        Some(body) => Ok(Some(frame(
            header.correlation_id,
            key.response_header_version(version),
            &body,
        )?)),
        None => Ok(None),
    }
}

fn dec<T: Decodable>(buf: &mut Bytes, version: i16) -> anyhow::Result<T> {
    T::decode(buf, version).context("request body")
}

fn enc<T: Encodable>(msg: &T, version: i16) -> anyhow::Result<BytesMut> {
    let mut b = BytesMut::new();
    msg.encode(&mut b, version).context("encoding response")?;
    Ok(b)
}

/// Length prefix + response header (v0, or v1 with tagged fields for flexible versions) + body.
pub(crate) fn frame(
    correlation_id: i32,
    header_version: i16,
    body: &[u8],
) -> anyhow::Result<BytesMut> {
    let mut out = BytesMut::with_capacity(body.len() + 16);
    out.put_i32(0);
    ResponseHeader::default()
        .with_correlation_id(correlation_id)
        .encode(&mut out, header_version)?;
    out.extend_from_slice(body);
    let len = (out.len() - 4) as i32;
    out[0..4].copy_from_slice(&len.to_be_bytes());
    Ok(out)
}

/// `StrBytes` from an owned string.
pub(crate) fn sb(s: impl Into<String>) -> kafka_protocol::protocol::StrBytes {
    kafka_protocol::protocol::StrBytes::from_string(s.into())
}
