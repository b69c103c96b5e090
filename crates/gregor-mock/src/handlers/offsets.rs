//! OffsetCommit (key 8) and OffsetFetch (key 9, v8+ multi-group form and the older one).

use std::time::Instant;

use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafka_protocol::messages::{
    OffsetCommitRequest, OffsetCommitResponse, OffsetFetchRequest, OffsetFetchResponse, TopicName,
};

use super::{sb, Ctx, NOT_COORDINATOR, UNKNOWN_TOPIC_OR_PARTITION};
use crate::state::{Committed, State};

pub(crate) fn commit(
    ctx: &Ctx,
    req: OffsetCommitRequest,
    v: i16,
    forced: Option<i16>,
) -> OffsetCommitResponse {
    let group = req.group_id.0.to_string();
    let mut st = ctx.shared.state();
    let group_code = if let Some(code) = forced {
        code
    } else if st.coordinator_for(&group) != ctx.broker_id {
        NOT_COORDINATOR
    } else {
        if st.cgroups.groups.contains_key(&group) {
            // KIP-848: a consumer group checks the member id and its current member epoch.
            st.cgroups.validate_commit(
                &group,
                req.member_id.as_str(),
                req.generation_id_or_member_epoch,
            )
        } else {
            let inst = if v >= 7 {
                req.group_instance_id.as_ref().map(|s| s.to_string())
            } else {
                None
            };
            st.groups.validate_commit(
                Instant::now(),
                &group,
                req.generation_id_or_member_epoch,
                req.member_id.as_str(),
                inst.as_deref(),
            )
        }
    };
    if group_code == 0 && !st.groups.groups.contains_key(&group) {
        // A simple commit creates an Empty group, as the Java coordinator does.
        st.groups.ensure_group(&group);
    }
    let topics = req
        .topics
        .iter()
        .map(|t| {
            let name = t.name.0.to_string();
            let parts = t
                .partitions
                .iter()
                .map(|p| {
                    let exists = st.topics.get(&name).is_some_and(|tp| {
                        (p.partition_index as usize) < tp.partitions.len() && p.partition_index >= 0
                    });
                    let code = if group_code != 0 {
                        group_code
                    } else if !exists {
                        UNKNOWN_TOPIC_OR_PARTITION
                    } else {
                        st.offsets.insert(
                            (group.clone(), name.clone(), p.partition_index),
                            Committed {
                                offset: p.committed_offset,
                                leader_epoch: if v >= 6 { p.committed_leader_epoch } else { -1 },
                                metadata: p.committed_metadata.as_ref().map(|m| m.to_string()),
                            },
                        );
                        0
                    };
                    OffsetCommitResponsePartition::default()
                        .with_partition_index(p.partition_index)
                        .with_error_code(code)
                })
                .collect();
            OffsetCommitResponseTopic::default()
                .with_name(t.name.clone())
                .with_partitions(parts)
        })
        .collect();
    OffsetCommitResponse::default().with_topics(topics)
}

/// Per topic: (partition, committed offset if any).
type TopicOffsets = Vec<(String, Vec<(i32, Option<Committed>)>)>;

/// (topic, partition, committed) for the requested partitions, or all of the group's if None.
fn lookup(st: &State, group: &str, topics: Option<Vec<(String, Vec<i32>)>>) -> TopicOffsets {
    match topics {
        Some(ts) => ts
            .into_iter()
            .map(|(t, ps)| {
                let parts = ps
                    .into_iter()
                    .map(|p| {
                        (
                            p,
                            st.offsets.get(&(group.to_string(), t.clone(), p)).cloned(),
                        )
                    })
                    .collect();
                (t, parts)
            })
            .collect(),
        None => {
            let mut out: TopicOffsets = Vec::new();
            for ((g, t, p), c) in &st.offsets {
                if g != group {
                    continue;
                }
                match out.last_mut() {
                    Some((lt, ps)) if lt == t => ps.push((*p, Some(c.clone()))),
                    _ => out.push((t.clone(), vec![(*p, Some(c.clone()))])),
                }
            }
            out
        }
    }
}

pub(crate) fn fetch(
    ctx: &Ctx,
    req: OffsetFetchRequest,
    v: i16,
    forced: Option<i16>,
) -> OffsetFetchResponse {
    let st = ctx.shared.state();
    let group_error = |g: &str| {
        forced.or_else(|| (st.coordinator_for(g) != ctx.broker_id).then_some(NOT_COORDINATOR))
    };
    if v >= 8 {
        let groups = req
            .groups
            .iter()
            .map(|g| {
                let id = g.group_id.0.to_string();
                let out = OffsetFetchResponseGroup::default().with_group_id(g.group_id.clone());
                if let Some(code) = group_error(&id) {
                    return out.with_error_code(code);
                }
                // v9 (KIP-848): a member reading its group's offsets names itself.
                if let Some(member) = g.member_id.as_ref().filter(|_| v >= 9) {
                    let code = st
                        .cgroups
                        .validate_commit(&id, member.as_str(), g.member_epoch);
                    if code != 0 {
                        return out.with_error_code(code);
                    }
                }
                let wanted = g.topics.as_ref().map(|ts| {
                    ts.iter()
                        .map(|t| (t.name.0.to_string(), t.partition_indexes.clone()))
                        .collect()
                });
                let topics = lookup(&st, &id, wanted)
                    .into_iter()
                    .map(|(t, ps)| {
                        let parts = ps
                            .into_iter()
                            .map(|(p, c)| {
                                let c = c.unwrap_or(Committed {
                                    offset: -1,
                                    leader_epoch: -1,
                                    metadata: Some(String::new()),
                                });
                                OffsetFetchResponsePartitions::default()
                                    .with_partition_index(p)
                                    .with_committed_offset(c.offset)
                                    .with_committed_leader_epoch(c.leader_epoch)
                                    .with_metadata(c.metadata.map(sb))
                            })
                            .collect();
                        OffsetFetchResponseTopics::default()
                            .with_name(TopicName(sb(t)))
                            .with_partitions(parts)
                    })
                    .collect();
                out.with_topics(topics)
            })
            .collect();
        return OffsetFetchResponse::default().with_groups(groups);
    }
    let id = req.group_id.0.to_string();
    if let Some(code) = group_error(&id) {
        let mut r = OffsetFetchResponse::default();
        if v >= 2 {
            r.error_code = code;
        }
        // v1 has no top-level error: report it on every requested partition.
        if v < 2 {
            r.topics = req
                .topics
                .unwrap_or_default()
                .iter()
                .map(|t| {
                    let parts = t
                        .partition_indexes
                        .iter()
                        .map(|&p| {
                            OffsetFetchResponsePartition::default()
                                .with_partition_index(p)
                                .with_committed_offset(-1)
                                .with_error_code(code)
                        })
                        .collect();
                    OffsetFetchResponseTopic::default()
                        .with_name(t.name.clone())
                        .with_partitions(parts)
                })
                .collect();
        }
        return r;
    }
    let wanted = req.topics.as_ref().map(|ts| {
        ts.iter()
            .map(|t| (t.name.0.to_string(), t.partition_indexes.clone()))
            .collect()
    });
    let topics = lookup(&st, &id, wanted)
        .into_iter()
        .map(|(t, ps)| {
            let parts = ps
                .into_iter()
                .map(|(p, c)| {
                    let c = c.unwrap_or(Committed {
                        offset: -1,
                        leader_epoch: -1,
                        metadata: Some(String::new()),
                    });
                    let mut r = OffsetFetchResponsePartition::default()
                        .with_partition_index(p)
                        .with_committed_offset(c.offset)
                        .with_metadata(c.metadata.map(sb));
                    if v >= 5 {
                        r.committed_leader_epoch = c.leader_epoch;
                    }
                    r
                })
                .collect();
            OffsetFetchResponseTopic::default()
                .with_name(TopicName(sb(t)))
                .with_partitions(parts)
        })
        .collect();
    OffsetFetchResponse::default().with_topics(topics)
}
