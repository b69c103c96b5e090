//! Offsets: committed offsets (OffsetFetch / OffsetCommit via the group coordinator) and log
//! offsets by time (ListOffsets via each partition's leader).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::offset_commit_request::{OffsetCommitRequestPartition, OffsetCommitRequestTopic};
use kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use kafka_protocol::messages::{
    BrokerId, GroupId, ListOffsetsRequest, OffsetCommitRequest, OffsetFetchRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use tokio::time::Instant;

use super::state::ResetTo;
use super::types::{OffsetAndMetadata, TopicPartition};
use super::Inner;
use crate::config::AutoOffsetReset;
use crate::error::{Error, ErrorKind, Result};
use crate::net::events::OpenReason;
use crate::net::manager::Target;
use crate::rules::{action_for, Action, Api};

/// ListOffsets timestamps with special meaning.
pub(crate) const EARLIEST: i64 = -2;
pub(crate) const LATEST: i64 = -1;

/// OffsetCommit v2..v9 (v10 switches to topic ids only).
const OFFSET_COMMIT_VERSIONS: (i16, i16) = (2, 9);
/// OffsetFetch v1..v9 (v10 switches to topic ids only).
const OFFSET_FETCH_VERSIONS: (i16, i16) = (1, 9);
/// ListOffsets v1..v9.
const LIST_OFFSETS_VERSIONS: (i16, i16) = (1, 9);

fn sb(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

/// Gives every assigned partition without a position one: its committed offset (group), else
/// `auto.offset.reset`, or the pending seek-to-beginning/end/time.
pub(crate) async fn initialize_positions(inner: &Arc<Inner>) -> Result<()> {
    let (need_committed, mut need_reset) = {
        let st = inner.lock_state();
        let mut committed = Vec::new();
        let mut reset = BTreeMap::new();
        for (tp, ps) in &st.assignment {
            if ps.position.is_some() || ps.error.is_some() {
                continue;
            }
            if let Some(r) = ps.reset {
                reset.insert(tp.clone(), r);
            } else if ps.awaiting_committed && inner.config.group_id.is_some() {
                committed.push(tp.clone());
            } else if let Some(r) = default_reset(inner) {
                reset.insert(tp.clone(), r);
            }
        }
        (committed, reset)
    };
    if need_committed.is_empty() && need_reset.is_empty() {
        return Ok(());
    }
    if !need_committed.is_empty() {
        let committed = fetch_committed(inner, &need_committed).await?;
        let mut st = inner.lock_state();
        for tp in &need_committed {
            let Some(ps) = st.assignment.get_mut(tp) else { continue };
            if ps.position.is_some() || !ps.awaiting_committed {
                continue;
            }
            match committed.get(tp) {
                Some(om) if om.offset >= 0 => {
                    tracing::debug!(partition = %tp, offset = om.offset, "starting at the committed offset");
                    ps.seek(om.offset);
                    if om.leader_epoch.is_some() {
                        ps.leader_epoch = om.leader_epoch;
                    }
                }
                _ => {
                    ps.awaiting_committed = false;
                    match default_reset(inner) {
                        Some(r) => {
                            need_reset.insert(tp.clone(), r);
                        }
                        None => {
                            ps.error = Some(Arc::new(Error::new(
                                ErrorKind::OffsetOutOfRange,
                                format!("{tp} has no committed offset and auto.offset.reset=none"),
                            )))
                        }
                    }
                }
            }
        }
    }
    if need_reset.is_empty() {
        return Ok(());
    }
    let query: BTreeMap<TopicPartition, i64> = need_reset
        .iter()
        .map(|(tp, r)| {
            let ts = match r {
                ResetTo::Earliest => EARLIEST,
                ResetTo::Latest => LATEST,
                ResetTo::Timestamp(t) => *t,
            };
            (tp.clone(), ts)
        })
        .collect();
    let found = list_offsets(inner, &query).await?;
    let mut st = inner.lock_state();
    for (tp, r) in need_reset {
        let Some(ps) = st.assignment.get_mut(&tp) else { continue };
        if ps.position.is_some() {
            continue;
        }
        if let Some((offset, _)) = found.get(&tp) {
            // A time with no later record answers -1: Java then uses the log end.
            let offset = if *offset < 0 { ps.high_watermark.max(0) } else { *offset };
            tracing::debug!(partition = %tp, offset, reset = ?r, "position reset");
            ps.seek(offset);
        }
    }
    drop(st);
    inner.fetch_wake.notify_one();
    Ok(())
}

fn default_reset(inner: &Inner) -> Option<ResetTo> {
    match inner.config.auto_offset_reset {
        AutoOffsetReset::Earliest => Some(ResetTo::Earliest),
        AutoOffsetReset::Latest => Some(ResetTo::Latest),
        AutoOffsetReset::ByDuration(d) => {
            Some(ResetTo::Timestamp(crate::time::now_ms() - d.as_millis() as i64))
        }
        AutoOffsetReset::None => None,
    }
}

/// ListOffsets for each partition at `timestamp` (or EARLIEST / LATEST), grouped by leader.
/// Returns tp → (offset, timestamp); partitions whose leader answered an error that persists
/// are missing from the result.
pub(crate) async fn list_offsets(
    inner: &Inner,
    query: &BTreeMap<TopicPartition, i64>,
) -> Result<HashMap<TopicPartition, (i64, i64)>> {
    let deadline = Instant::now() + inner.config.default_api_timeout;
    let mut pending: BTreeMap<TopicPartition, i64> = query.clone();
    let mut out = HashMap::new();
    let mut snapshot = inner.cluster.snapshot();
    loop {
        let mut by_leader: BTreeMap<i32, Vec<(TopicPartition, i64)>> = BTreeMap::new();
        let mut missing = Vec::new();
        for (tp, ts) in &pending {
            match snapshot.leader(&tp.topic, tp.partition) {
                Some(l) => by_leader.entry(l).or_default().push((tp.clone(), *ts)),
                None => missing.push(tp.clone()),
            }
        }
        let mut retry = !missing.is_empty();
        let calls = by_leader.into_iter().map(|(leader, parts)| {
            let net = inner.cluster.net.clone();
            let isolation = inner.config.isolation_level.wire_value();
            async move {
                let mut topics: BTreeMap<Arc<str>, Vec<ListOffsetsPartition>> = BTreeMap::new();
                for (tp, ts) in &parts {
                    topics.entry(tp.topic.clone()).or_default().push(
                        ListOffsetsPartition::default()
                            .with_partition_index(tp.partition)
                            .with_current_leader_epoch(-1)
                            .with_timestamp(*ts),
                    );
                }
                let build = move |v: i16| {
                    ListOffsetsRequest::default()
                        .with_replica_id(BrokerId(-1))
                        .with_isolation_level(if v >= 2 { isolation } else { 0 })
                        .with_topics(
                            topics
                                .into_iter()
                                .map(|(t, mut p)| {
                                    if v < 4 {
                                        for x in p.iter_mut() {
                                            x.current_leader_epoch = -1;
                                        }
                                    }
                                    ListOffsetsTopic::default().with_name(TopicName(sb(&t))).with_partitions(p)
                                })
                                .collect(),
                        )
                };
                let r = net
                    .send_built(Target::Broker(leader), OpenReason::ListOffsets, LIST_OFFSETS_VERSIONS, None, build)
                    .await;
                (parts, r)
            }
        });
        for (parts, r) in futures_util::future::join_all(calls).await {
            match r {
                Ok(resp) => {
                    for t in resp.topics {
                        for p in t.partitions {
                            let tp = TopicPartition::new(t.name.0.as_str(), p.partition_index);
                            match action_for(Api::ListOffsets, p.error_code) {
                                Action::Proceed => {
                                    pending.remove(&tp);
                                    out.insert(tp, (p.offset, p.timestamp));
                                }
                                // The log predates timestamps: no offset for this time.
                                Action::Skip => {
                                    pending.remove(&tp);
                                    out.insert(tp, (-1, -1));
                                }
                                Action::Fatal => {
                                    return Err(Error::broker_code(
                                        p.error_code,
                                        format!("ListOffsets for {tp} failed"),
                                    ))
                                }
                                // Leadership errors and anything transient: refresh and retry.
                                _ => retry = true,
                            }
                        }
                    }
                }
                Err(e) if e.is_retriable() => {
                    tracing::debug!(error = %e, partitions = parts.len(), "ListOffsets failed; retrying");
                    retry = true;
                }
                Err(e) => return Err(e),
            }
        }
        if pending.is_empty() || !retry {
            return Ok(out);
        }
        if Instant::now() >= deadline {
            return Err(Error::new(
                ErrorKind::Timeout,
                format!("could not list offsets of {} partitions within default.api.timeout.ms", pending.len()),
            ));
        }
        inner.cluster.request_update("ListOffsets needs fresh leaders");
        tokio::time::sleep_until(inner.cluster.next_refresh().max(Instant::now())).await;
        snapshot = inner.refresh_metadata_now("ListOffsets needs fresh leaders").await?;
    }
}

/// OffsetFetch: the group's committed offsets for `parts`.
pub(crate) async fn fetch_committed(
    inner: &Inner,
    parts: &[TopicPartition],
) -> Result<HashMap<TopicPartition, OffsetAndMetadata>> {
    let group = inner.config.group_id.clone().ok_or_else(no_group)?;
    let mut by_topic: BTreeMap<Arc<str>, Vec<i32>> = BTreeMap::new();
    for tp in parts {
        by_topic.entry(tp.topic.clone()).or_default().push(tp.partition);
    }
    let g = group.clone();
    let kip848 = inner.config.group_protocol == crate::config::GroupProtocol::Consumer;
    // v8 (KIP-709) moved to a list of groups; earlier versions name one group and its topics.
    let build = move |m: &super::group::Membership, v: i16| {
        if v >= 8 {
            // v9 (KIP-848): a consumer-protocol member names itself and its epoch.
            let (member, epoch) = if kip848 && v >= 9 && !m.member_id.is_empty() && m.generation >= 0 {
                (Some(sb(&m.member_id)), m.generation)
            } else {
                (None, -1)
            };
            let topics: Vec<OffsetFetchRequestTopics> = by_topic
                .iter()
                .map(|(t, p)| OffsetFetchRequestTopics::default().with_name(TopicName(sb(t))).with_partition_indexes(p.clone()))
                .collect();
            OffsetFetchRequest::default()
                .with_groups(vec![OffsetFetchRequestGroup::default()
                    .with_group_id(GroupId(sb(&g)))
                    .with_member_id(member)
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
    let resp = inner.group.coordinator_request(inner, OpenReason::Commit, build, OFFSET_FETCH_VERSIONS).await?;
    let mut out = HashMap::new();
    let check = |code: i16| -> Result<()> {
        if code == 0 {
            Ok(())
        } else {
            Err(Error::broker_code(code, format!("OffsetFetch for group {group} failed")))
        }
    };
    check(resp.error_code)?;
    // Before v8 the partitions come per topic; from v8 per group, then per topic. Both shapes
    // carry the same partition fields.
    let mut add = |topic: &str, partition: i32, code: i16, offset: i64, epoch: i32, meta: Option<StrBytes>| {
        check(code)?;
        out.insert(
            TopicPartition::new(topic, partition),
            OffsetAndMetadata {
                offset,
                metadata: meta.map(|m| m.to_string()),
                leader_epoch: (epoch >= 0).then_some(epoch),
            },
        );
        Ok::<(), Error>(())
    };
    for t in resp.topics {
        for p in t.partitions {
            add(&t.name.0, p.partition_index, p.error_code, p.committed_offset, p.committed_leader_epoch, p.metadata)?;
        }
    }
    for g in resp.groups {
        check(g.error_code)?;
        for t in g.topics {
            for p in t.partitions {
                add(&t.name.0, p.partition_index, p.error_code, p.committed_offset, p.committed_leader_epoch, p.metadata)?;
            }
        }
    }
    Ok(out)
}

fn no_group() -> Error {
    Error::new(ErrorKind::State, "this operation needs a group.id")
}

/// OffsetCommit of `offsets` with the current generation (or as a simple, group-less consumer
/// of the group when manually assigned).
pub(crate) async fn commit(inner: &Inner, offsets: &BTreeMap<TopicPartition, OffsetAndMetadata>) -> Result<()> {
    let membership = inner.group.membership();
    commit_as(inner, offsets, membership).await
}

/// OffsetCommit under an explicit membership. The generation must be the one under which the
/// offsets were read: a commit racing a rebalance must carry the old generation, so the
/// coordinator rejects it (ILLEGAL_GENERATION) instead of accepting offsets of a partition
/// that already belongs to another member.
pub(crate) async fn commit_as(
    inner: &Inner,
    offsets: &BTreeMap<TopicPartition, OffsetAndMetadata>,
    membership: super::group::Membership,
) -> Result<()> {
    let kip848 = inner.config.group_protocol == crate::config::GroupProtocol::Consumer;
    let mut m = membership;
    loop {
        match commit_once(inner, offsets, m.clone()).await {
            // KIP-848: every member's epoch moves when the group's target assignment does, even
            // when its own partitions stay. STALE_MEMBER_EPOCH then only means "retry under the
            // new epoch" as long as the partitions are still ours (Java's CommitRequestManager
            // retries too). Partitions are revoked before the epoch moves, so this cannot
            // commit a partition that another member already owns.
            Err(e) if kip848 && e.code() == Some(113) => {
                let now = inner.group.membership();
                let still_owned = {
                    let st = inner.lock_state();
                    offsets.keys().all(|tp| st.assignment.contains_key(tp))
                };
                if now.generation <= m.generation || !still_owned {
                    return Err(e);
                }
                m = now;
            }
            r => return r,
        }
    }
}

async fn commit_once(
    inner: &Inner,
    offsets: &BTreeMap<TopicPartition, OffsetAndMetadata>,
    membership: super::group::Membership,
) -> Result<()> {
    let group = inner.config.group_id.clone().ok_or_else(no_group)?;
    if offsets.is_empty() {
        return Ok(());
    }
    let mut by_topic: BTreeMap<Arc<str>, Vec<OffsetCommitRequestPartition>> = BTreeMap::new();
    for (tp, om) in offsets {
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
    let instance = inner.config.group_instance_id.clone();
    let resp = inner
        .group
        .coordinator_request(
            inner,
            OpenReason::Commit,
            move |_: &super::group::Membership, v: i16| {
                let m = &membership;
                OffsetCommitRequest::default()
                    .with_group_id(GroupId(sb(&group)))
                    .with_generation_id_or_member_epoch(m.generation)
                    .with_member_id(sb(&m.member_id))
                    .with_group_instance_id(if v >= 7 { instance.as_deref().map(sb) } else { None })
                    .with_topics(topics.clone())
            },
            OFFSET_COMMIT_VERSIONS,
        )
        .await?;
    for t in resp.topics {
        for p in t.partitions {
            match p.error_code {
                0 => {}
                // The group moved on without us (Java's CommitFailedException).
                // KIP-848: STALE_MEMBER_EPOCH, FENCED_MEMBER_EPOCH.
                22 | 25 | 27 | 82 | 110 | 113 => {
                    inner.group.request_rejoin(inner, "commit failed: member is no longer in the generation");
                    return Err(Error::new(
                        ErrorKind::CommitFailed,
                        format!(
                            "commit of {}-{} failed: the group rebalanced and this member's generation \
                             is no longer current ({}); the partitions may now be owned by another member",
                            t.name.0, p.partition_index, crate::protocol_errors::describe(p.error_code)
                        ),
                    )
                    .with_code(p.error_code))
                }
                code => {
                    return Err(Error::broker_code(
                        code,
                        format!("commit of {}-{} failed", t.name.0, p.partition_index),
                    ))
                }
            }
        }
    }
    Ok(())
}
