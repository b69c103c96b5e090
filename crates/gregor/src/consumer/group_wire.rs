//! The wire side of group membership (I/O, no decisions): building FindCoordinator, JoinGroup,
//! SyncGroup, Heartbeat, LeaveGroup, ConsumerGroupHeartbeat (KIP-848), OffsetCommit and OffsetFetch
//! requests for whatever version
//! the connection negotiates, sending them, and decoding the answers into the plain values the
//! membership machines take (`membership::Response`). Also the leader's job: computing the
//! group's assignment with the chosen assignor over fresh metadata.
//!
//! What to send and what an answer means is decided in `membership/`; nothing here looks at an
//! error code beyond copying it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::offset_commit_request::{OffsetCommitRequestPartition, OffsetCommitRequestTopic};
use kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::consumer_group_heartbeat_request::TopicPartitions;
use kafka_protocol::messages::{
    ConsumerGroupHeartbeatRequest, FindCoordinatorRequest, GroupId, HeartbeatRequest, JoinGroupRequest,
    LeaveGroupRequest, OffsetCommitRequest, OffsetFetchRequest, SyncGroupRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::assignor::{self, BuiltinAssignor, ClusterTopics, GroupMember, PartitionAssignor, RebalanceProtocol};
use super::membership::{
    ConsumerHeartbeat, ConsumerHeartbeatResult, JoinResult, JoinedMember, Membership, OffsetFetchResult, Response,
};
use super::state::Subscription;
use super::types::{OffsetAndMetadata, TopicPartition};
use super::Inner;
use crate::error::{Error, ErrorKind, Result};
use crate::net::events::OpenReason;
use crate::net::manager::Target;
use crate::protocol_errors::KafkaCode;

/// OffsetCommit v2..v9 (v10 names topics by id only).
const OFFSET_COMMIT_VERSIONS: (i16, i16) = (2, 9);
/// OffsetFetch v1..v9 (v10 names topics by id only).
const OFFSET_FETCH_VERSIONS: (i16, i16) = (1, 9);
/// ConsumerGroupHeartbeat v0 (Kafka 3.7+) .. v1 (4.0+, client-generated member ids).
pub(crate) const CONSUMER_HEARTBEAT_VERSIONS: (i16, i16) = (0, 1);

pub(crate) fn sb(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

fn group_id(inner: &Inner) -> String {
    inner.config.group_id.clone().unwrap_or_default()
}

/// The configured assignors, in preference order: the assignor objects
/// (`ConsumerConfigBuilder::partition_assignors`, custom ones included) when given, else the
/// built-ins `partition.assignment.strategy` names.
pub(crate) fn assignors(inner: &Inner) -> Vec<Arc<dyn PartitionAssignor>> {
    if !inner.config.partition_assignors.is_empty() {
        return inner.config.partition_assignors.assignors().to_vec();
    }
    let mut out: Vec<Arc<dyn PartitionAssignor>> = inner
        .config
        .partition_assignment_strategy
        .iter()
        .filter_map(|a| BuiltinAssignor::from_name(a.protocol_name()))
        .map(|a| Arc::new(a) as Arc<dyn PartitionAssignor>)
        .collect();
    if out.is_empty() {
        out.push(Arc::new(BuiltinAssignor::Range));
    }
    out
}

/// Eager, or cooperative when every configured assignor supports it (KIP-429).
pub(crate) fn rebalance_protocol(inner: &Inner) -> RebalanceProtocol {
    let list = assignors(inner);
    let dyns: Vec<&dyn PartitionAssignor> = list.iter().map(|a| a.as_ref()).collect();
    assignor::select_rebalance_protocol(&dyns).unwrap_or(RebalanceProtocol::Eager)
}

/// FindCoordinator for the group, to the least-loaded broker. A coordinator the metadata does
/// not list yet is looked up there first (the connection layer needs its address).
pub(crate) async fn find_coordinator(inner: &Inner) -> Result<Response> {
    // The first metadata request is usually in flight when the group starts: wait for it
    // rather than send a second one behind it.
    inner.cluster.settled().await;
    if inner.cluster.snapshot().brokers.is_empty() {
        inner.refresh_metadata_now("find the group coordinator").await?;
    }
    let g = group_id(inner);
    // v4 (KIP-699) batches keys in `coordinator_keys`; older versions take one `key`.
    let build = move |v: i16| {
        let req = FindCoordinatorRequest::default();
        if v >= 4 {
            req.with_coordinator_keys(vec![sb(&g)])
        } else {
            req.with_key(sb(&g))
        }
    };
    let resp = inner.cluster.net.send_built(Target::AnyNode, OpenReason::Coordinator, (0, 6), None, build).await?;
    let (code, node) = match resp.coordinators.first() {
        Some(c) => (KafkaCode(c.error_code), c.node_id.0),
        None => (KafkaCode(resp.error_code), resp.node_id.0),
    };
    if code.is_ok() && node >= 0 && !inner.cluster.snapshot().brokers.contains_key(&node) {
        inner.refresh_metadata_now("coordinator not in metadata").await?;
    }
    Ok(Response::FindCoordinator { code, node })
}

fn static_membership_unsupported(version: i16) -> Error {
    Error::new(
        ErrorKind::UnsupportedVersion,
        format!(
            "group.instance.id (static membership, KIP-345) needs JoinGroup v5 (Apache Kafka 2.3+); \
             the group coordinator speaks v{version}: remove group.instance.id for this cluster"
        ),
    )
}

/// JoinGroup, with one protocol per configured assignor carrying the subscription and `owned`.
pub(crate) async fn join_group(
    inner: &Inner,
    coord: i32,
    member_id: String,
    generation: i32,
    owned: Vec<TopicPartition>,
    reason: String,
) -> Result<Response> {
    // Metadata must cover the subscription (a pattern needs every topic).
    let topics = inner.subscription_topics().await?;
    let protocols: Vec<JoinGroupRequestProtocol> = assignors(inner)
        .iter()
        .map(|a| {
            let sub = assignor::Subscription {
                topics: topics.clone(),
                user_data: a.subscription_user_data(&owned, generation),
                owned_partitions: owned.clone(),
                generation_id: Some(generation),
                rack_id: inner.config.client_rack.clone(),
            };
            let meta = assignor::encode_subscription(&sub, assignor::CONSUMER_PROTOCOL_VERSION)
                .map_err(|e| Error::new(ErrorKind::Protocol, format!("cannot encode subscription: {e}")))?;
            Ok(JoinGroupRequestProtocol::default().with_name(sb(a.name())).with_metadata(meta))
        })
        .collect::<Result<_>>()?;
    let (g, inst) = (group_id(inner), inner.config.group_instance_id.clone());
    let (session_ms, rebalance_ms) =
        (inner.config.session_timeout.as_millis() as i32, inner.config.max_poll_interval.as_millis() as i32);
    let build = move |v: i16| {
        // KIP-345: static membership needs JoinGroup v5 (Kafka 2.3); below that the broker would
        // treat the member as dynamic, so refuse as Java's JoinGroupRequest.Builder does.
        if v < 5 && inst.is_some() {
            return Err(static_membership_unsupported(v));
        }
        Ok(JoinGroupRequest::default()
            .with_group_id(GroupId(sb(&g)))
            .with_session_timeout_ms(session_ms)
            .with_rebalance_timeout_ms(if v >= 1 { rebalance_ms } else { -1 })
            .with_member_id(sb(&member_id))
            .with_group_instance_id(if v >= 5 { inst.as_deref().map(sb) } else { None })
            .with_protocol_type(sb(assignor::CONSUMER_PROTOCOL_TYPE))
            .with_protocols(protocols)
            .with_reason(if v >= 8 { Some(sb(&reason)) } else { None }))
    };
    // Java: max(request.timeout.ms, max.poll.interval.ms + 5 s); the JoinGroup may park.
    let timeout = Some(inner.config.join_group_timeout());
    let resp = inner
        .cluster
        .net
        .send_built_checked(Target::Coordinator(coord), OpenReason::Coordinator, (0, 9), timeout, build)
        .await?;
    Ok(Response::JoinGroup(JoinResult {
        code: KafkaCode(resp.error_code),
        generation: resp.generation_id,
        member_id: resp.member_id.to_string(),
        leader: resp.leader.to_string(),
        protocol: resp.protocol_name.as_ref().map(|p| p.to_string()),
        skip_assignment: resp.skip_assignment,
        members: resp
            .members
            .into_iter()
            .map(|m| JoinedMember {
                member_id: m.member_id.to_string(),
                instance_id: m.group_instance_id.as_ref().map(|s| s.to_string()),
                metadata: m.metadata,
            })
            .collect(),
    }))
}

/// The leader's job: every member's assignment by the group's chosen assignor, over fresh
/// metadata of every topic any member subscribes to.
pub(crate) async fn leader_assign(inner: &Inner, protocol: &str, members: &[JoinedMember]) -> Result<Response> {
    let list = assignors(inner);
    // The coordinator chose a name every member offered, so it is one of ours.
    let chosen = list.iter().find(|a| a.name() == protocol).unwrap_or(&list[0]).clone();
    let mut gm = Vec::new();
    let mut all_topics: BTreeSet<String> = BTreeSet::new();
    for m in members {
        let sub = assignor::decode_subscription(&m.metadata)
            .map_err(|e| Error::new(ErrorKind::State, format!("member {} sent a bad subscription: {e}", m.member_id)))?;
        all_topics.extend(sub.topics.iter().cloned());
        gm.push(GroupMember { member_id: m.member_id.clone(), group_instance_id: m.instance_id.clone(), subscription: sub });
    }
    let wanted: Vec<String> = all_topics.into_iter().collect();
    let snapshot = inner.cluster.recent(Some(&wanted), "leader assignment").await?;
    let mut cluster: ClusterTopics = ClusterTopics::new();
    for t in &wanted {
        if let Some(info) = snapshot.topics.get(t).filter(|i| KafkaCode(i.error).is_ok()) {
            let mut ti = assignor::TopicInfo::new(info.partitions.len() as i32);
            for p in &info.partitions {
                let racks: Vec<String> =
                    p.replicas.iter().filter_map(|r| snapshot.brokers.get(r).and_then(|b| b.rack.clone())).collect();
                if !racks.is_empty() {
                    ti = ti.with_partition_racks(p.partition, racks);
                }
            }
            cluster.insert(t.clone(), ti);
        }
    }
    let result = chosen.assign(&gm, &cluster);
    if chosen.supported_protocols().contains(&RebalanceProtocol::Cooperative) {
        // KIP-429's safety rule, checked before anything is sent: no partition may move
        // straight from one owner to another in one round.
        if let Err(e) = assignor::validate_cooperative_assignment(&gm, &result) {
            return Err(Error::new(ErrorKind::State, format!("cooperative assignment is unsafe: {e}")));
        }
    }
    tracing::info!(members = members.len(), assignor = chosen.name(), "assignment computed");
    let out = result
        .into_iter()
        .map(|(member, a)| {
            let bytes = assignor::encode_assignment(&a, assignor::CONSUMER_PROTOCOL_VERSION)
                .map_err(|e| Error::protocol(format!("cannot encode assignment: {e}")))?;
            Ok((member, bytes))
        })
        .collect::<Result<Vec<(String, Bytes)>>>()?;
    Ok(Response::Assigned(out))
}

/// SyncGroup; the answer's assignment decoded.
pub(crate) async fn sync_group(
    inner: &Inner,
    coord: i32,
    membership: Membership,
    protocol: String,
    assignments: Vec<(String, Bytes)>,
) -> Result<Response> {
    let (g, inst) = (group_id(inner), inner.config.group_instance_id.clone());
    let assignments: Vec<SyncGroupRequestAssignment> = assignments
        .into_iter()
        .map(|(m, b)| SyncGroupRequestAssignment::default().with_member_id(sb(&m)).with_assignment(b))
        .collect();
    let build = move |v: i16| {
        SyncGroupRequest::default()
            .with_group_id(GroupId(sb(&g)))
            .with_generation_id(membership.generation)
            .with_member_id(sb(&membership.member_id))
            .with_group_instance_id(if v >= 3 { inst.as_deref().map(sb) } else { None })
            .with_protocol_type(if v >= 5 { Some(sb(assignor::CONSUMER_PROTOCOL_TYPE)) } else { None })
            .with_protocol_name(if v >= 5 && !protocol.is_empty() { Some(sb(&protocol)) } else { None })
            .with_assignments(assignments)
    };
    let timeout = Some(inner.config.join_group_timeout());
    let resp = inner
        .cluster
        .net
        .send_built(Target::Coordinator(coord), OpenReason::Coordinator, (0, 5), timeout, build)
        .await?;
    let code = KafkaCode(resp.error_code);
    let assignment = if code.is_ok() && !resp.assignment.is_empty() {
        assignor::decode_assignment(&resp.assignment)
            .map_err(|e| Error::new(ErrorKind::State, format!("cannot decode the group assignment: {e}")))?
            .partitions
    } else {
        Vec::new()
    };
    Ok(Response::SyncGroup { code, assignment })
}

pub(crate) async fn heartbeat(inner: &Inner, coord: i32, m: Membership) -> Result<Response> {
    let (g, inst) = (group_id(inner), inner.config.group_instance_id.clone());
    let build = move |v: i16| {
        HeartbeatRequest::default()
            .with_group_id(GroupId(sb(&g)))
            .with_generation_id(m.generation)
            .with_member_id(sb(&m.member_id))
            .with_group_instance_id(if v >= 3 { inst.as_deref().map(sb) } else { None })
    };
    let resp = inner.cluster.net.send_built(Target::Coordinator(coord), OpenReason::Coordinator, (0, 4), None, build).await?;
    Ok(Response::Heartbeat { code: KafkaCode(resp.error_code) })
}

/// LeaveGroup: v3 (KIP-345) leaves by a list of members; v5 adds a reason.
pub(crate) async fn leave_group(inner: &Inner, coord: i32, member: String, why: String) -> Result<Response> {
    let g = group_id(inner);
    let build = move |v: i16| {
        let req = LeaveGroupRequest::default().with_group_id(GroupId(sb(&g)));
        if v >= 3 {
            req.with_members(vec![MemberIdentity::default()
                .with_member_id(sb(&member))
                .with_reason(if v >= 5 { Some(sb(&why)) } else { None })])
        } else {
            req.with_member_id(sb(&member))
        }
    };
    let resp = inner.cluster.net.send_built(Target::Coordinator(coord), OpenReason::Coordinator, (0, 5), None, build).await?;
    let code = KafkaCode(resp.error_code);
    let code = if code.is_ok() { resp.members.first().map_or(code, |m| KafkaCode(m.error_code)) } else { code };
    Ok(Response::LeaveGroup { code })
}

/// OffsetCommit of `offsets` as `m` (a generation, a KIP-848 member epoch, or none).
pub(crate) async fn offset_commit(
    inner: &Inner,
    coord: i32,
    m: Membership,
    offsets: BTreeMap<TopicPartition, OffsetAndMetadata>,
) -> Result<Response> {
    let mut by_topic: BTreeMap<Arc<str>, Vec<OffsetCommitRequestPartition>> = BTreeMap::new();
    for (tp, om) in &offsets {
        by_topic.entry(tp.topic.clone()).or_default().push(
            OffsetCommitRequestPartition::default()
                .with_partition_index(tp.partition)
                .with_committed_offset(om.offset)
                .with_committed_leader_epoch(om.leader_epoch.unwrap_or(-1))
                .with_committed_metadata(Some(sb(om.metadata.as_deref().unwrap_or("")))),
        );
    }
    let topics: Vec<OffsetCommitRequestTopic> = by_topic
        .into_iter()
        .map(|(t, p)| OffsetCommitRequestTopic::default().with_name(TopicName(sb(&t))).with_partitions(p))
        .collect();
    let (g, inst) = (group_id(inner), inner.config.group_instance_id.clone());
    let static_member = m.generation >= 0;
    let build = move |v: i16| {
        OffsetCommitRequest::default()
            .with_group_id(GroupId(sb(&g)))
            .with_generation_id_or_member_epoch(m.generation)
            .with_member_id(sb(&m.member_id))
            .with_group_instance_id(if v >= 7 && static_member { inst.as_deref().map(sb) } else { None })
            .with_topics(topics)
    };
    let sent = tokio::time::Instant::now();
    let resp = inner
        .cluster
        .net
        .send_built(Target::Coordinator(coord), OpenReason::Commit, OFFSET_COMMIT_VERSIONS, None, build)
        .await?;
    let now = tokio::time::Instant::now();
    // Java `ConsumerCoordinator.sendOffsetCommitRequest`: `commit-latency` covers every
    // answered OffsetCommit.
    inner.telemetry.commit_done(now.saturating_duration_since(sent), now);
    let mut out = Vec::new();
    for t in resp.topics {
        for p in t.partitions {
            out.push((TopicPartition::new(t.name.0.as_str(), p.partition_index), KafkaCode(p.error_code)));
        }
    }
    // What the statistics snapshot reports as committed: the offsets the coordinator took.
    let mut st = inner.lock_state();
    for (tp, code) in &out {
        if let (true, Some(om), Some(ps)) = (code.is_ok(), offsets.get(tp), st.assignment.get_mut(tp)) {
            ps.committed = Some(om.offset);
        }
    }
    drop(st);
    Ok(Response::OffsetCommit(out))
}

/// OffsetFetch for `parts`; a KIP-848 member names itself and its epoch (v9).
pub(crate) async fn offset_fetch(
    inner: &Inner,
    coord: i32,
    parts: Vec<TopicPartition>,
    member: Option<Membership>,
) -> Result<Response> {
    let mut by_topic: BTreeMap<Arc<str>, Vec<i32>> = BTreeMap::new();
    for tp in &parts {
        by_topic.entry(tp.topic.clone()).or_default().push(tp.partition);
    }
    let g = group_id(inner);
    // v8 (KIP-709) moved to a list of groups; earlier versions name one group and its topics.
    let build = move |v: i16| {
        if v >= 8 {
            let (member_id, epoch) = match member.filter(|_| v >= 9) {
                Some(m) => (Some(sb(&m.member_id)), m.generation),
                None => (None, -1),
            };
            let topics: Vec<OffsetFetchRequestTopics> = by_topic
                .iter()
                .map(|(t, p)| OffsetFetchRequestTopics::default().with_name(TopicName(sb(t))).with_partition_indexes(p.clone()))
                .collect();
            OffsetFetchRequest::default()
                .with_groups(vec![OffsetFetchRequestGroup::default()
                    .with_group_id(GroupId(sb(&g)))
                    .with_member_id(member_id)
                    .with_member_epoch(epoch)
                    .with_topics(Some(topics))])
                .with_require_stable(true)
        } else {
            let topics: Vec<OffsetFetchRequestTopic> = by_topic
                .iter()
                .map(|(t, p)| OffsetFetchRequestTopic::default().with_name(TopicName(sb(t))).with_partition_indexes(p.clone()))
                .collect();
            OffsetFetchRequest::default()
                .with_group_id(GroupId(sb(&g)))
                .with_topics(Some(topics))
                .with_require_stable(v >= 7)
        }
    };
    let resp = inner
        .cluster
        .net
        .send_built(Target::Coordinator(coord), OpenReason::Commit, OFFSET_FETCH_VERSIONS, None, build)
        .await?;
    // Before v8 the partitions come per topic; from v8 per group, then per topic. Both shapes
    // carry the same partition fields; the error is the response's or the group's.
    let mut code = KafkaCode(resp.error_code);
    let mut partitions = Vec::new();
    let om = |offset: i64, epoch: i32, meta: Option<StrBytes>| OffsetAndMetadata {
        offset,
        metadata: meta.map(|m| m.to_string()),
        leader_epoch: (epoch >= 0).then_some(epoch),
    };
    for t in resp.topics {
        for p in t.partitions {
            let tp = TopicPartition::new(t.name.0.as_str(), p.partition_index);
            partitions.push((tp, KafkaCode(p.error_code), om(p.committed_offset, p.committed_leader_epoch, p.metadata)));
        }
    }
    for gr in resp.groups {
        if code.is_ok() {
            code = KafkaCode(gr.error_code);
        }
        for t in gr.topics {
            for p in t.partitions {
                let tp = TopicPartition::new(t.name.0.as_str(), p.partition_index);
                partitions.push((tp, KafkaCode(p.error_code), om(p.committed_offset, p.committed_leader_epoch, p.metadata)));
            }
        }
    }
    Ok(Response::OffsetFetch(OffsetFetchResult { code, partitions }))
}

/// The subscribed topic names now; a metadata round trip only for a join (epoch 0).
async fn subscribed_names(inner: &Inner, joining: bool) -> Result<Vec<String>> {
    if joining {
        return inner.subscription_topics().await;
    }
    let sub = inner.lock_state().subscription.clone();
    Ok(match sub {
        Subscription::Topics(t) => t.into_iter().collect(),
        Subscription::Pattern(re) => {
            let snap = inner.cluster.snapshot();
            let mut out: Vec<String> = snap
                .topics
                .values()
                .filter(|t| re.is_match(&t.name) && !(t.internal && inner.config.exclude_internal_topics))
                .map(|t| t.name.clone())
                .collect();
            out.sort();
            out
        }
        _ => Vec::new(),
    })
}

/// One ConsumerGroupHeartbeat (KIP-848): a full one (subscription, owned partitions) for a member, a bare
/// one with epoch -1/-2 for a leave.
pub(crate) async fn consumer_heartbeat(inner: &Inner, coord: i32, h: ConsumerHeartbeat) -> Result<Response> {
    let group = inner.config.group_id.clone().unwrap_or_default();
    let cfg = &inner.config;
    let mut req = ConsumerGroupHeartbeatRequest::default()
        .with_group_id(GroupId(sb(&group)))
        .with_member_id(sb(&h.member_id))
        .with_member_epoch(h.epoch)
        .with_instance_id(cfg.group_instance_id.as_deref().map(sb));
    match h.owned {
        Some(owned) => {
            let topics = subscribed_names(inner, h.epoch == 0).await?;
            req = req
                .with_rack_id(cfg.client_rack.as_deref().map(sb))
                .with_rebalance_timeout_ms(cfg.max_poll_interval.as_millis().min(i32::MAX as u128) as i32)
                .with_subscribed_topic_names(Some(topics.iter().map(|t| TopicName(sb(t))).collect()))
                .with_server_assignor(cfg.group_remote_assignor.as_deref().map(sb))
                .with_topic_partitions(Some(
                    owned
                        .into_iter()
                        .map(|(id, ps)| TopicPartitions::default().with_topic_id(id).with_partitions(ps))
                        .collect(),
                ));
        }
        None => req = req.with_rebalance_timeout_ms(-1),
    }
    let resp = inner
        .cluster
        .net
        .send_built(Target::Coordinator(coord), OpenReason::Coordinator, CONSUMER_HEARTBEAT_VERSIONS, None, move |_| req)
        .await?;
    Ok(Response::ConsumerHeartbeat(ConsumerHeartbeatResult {
        code: KafkaCode(resp.error_code),
        message: resp.error_message.as_ref().map(|s| s.to_string()),
        member_id: resp.member_id.as_ref().map(|s| s.to_string()),
        epoch: resp.member_epoch,
        interval_ms: resp.heartbeat_interval_ms,
        assignment: resp.assignment.map(|a| a.topic_partitions.into_iter().map(|t| (t.topic_id, t.partitions)).collect()),
    }))
}
