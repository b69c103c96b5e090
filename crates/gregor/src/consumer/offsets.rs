//! Offsets: starting positions (the committed offset, through the group task, or
//! `auto.offset.reset`) and log offsets by time (ListOffsets via each partition's leader).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::{BrokerId, ListOffsetsRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use tokio::time::Instant;

use super::state::ResetTo;
use super::types::TopicPartition;
use super::Inner;
use crate::config::AutoOffsetReset;
use crate::error::{Error, ErrorKind, Result};
use crate::net::events::OpenReason;
use crate::net::manager::Target;
use crate::rules::{action_for, Action, Api};

/// ListOffsets timestamps with special meaning.
pub(crate) const EARLIEST: i64 = -2;
pub(crate) const LATEST: i64 = -1;

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
        let committed = super::group::fetch_committed(inner, &need_committed).await?;
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
                    ps.committed = Some(om.offset);
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
