//! ConsumerGroupHeartbeat (key 68, KIP-848): decode, map topic ids to names, run
//! `crate::consumer_group`, map names back to ids, encode.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use kafka_protocol::messages::consumer_group_heartbeat_response::{Assignment, TopicPartitions};
use kafka_protocol::messages::{ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse};

use super::{sb, Ctx, NOT_COORDINATOR};
use crate::consumer_group::{HeartbeatInput, HeartbeatOutput};

fn response(
    out: HeartbeatOutput,
    ids: &BTreeMap<String, uuid::Uuid>,
) -> ConsumerGroupHeartbeatResponse {
    let assignment = out.assignment.map(|parts| {
        let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
        for (t, p) in &parts {
            by_topic.entry(t.as_str()).or_default().push(*p);
        }
        let tps = by_topic
            .into_iter()
            .filter_map(|(t, ps)| {
                ids.get(t).map(|id| {
                    TopicPartitions::default()
                        .with_topic_id(*id)
                        .with_partitions(ps)
                })
            })
            .collect();
        Assignment::default().with_topic_partitions(tps)
    });
    ConsumerGroupHeartbeatResponse::default()
        .with_error_code(out.error_code)
        .with_error_message(out.error_message.map(sb))
        .with_member_id((!out.member_id.is_empty()).then(|| sb(out.member_id)))
        .with_member_epoch(out.member_epoch)
        .with_heartbeat_interval_ms(out.heartbeat_interval_ms)
        .with_assignment(assignment)
}

pub(crate) fn heartbeat(
    ctx: &Ctx,
    req: ConsumerGroupHeartbeatRequest,
    _v: i16,
    forced: Option<i16>,
) -> ConsumerGroupHeartbeatResponse {
    let group = req.group_id.0.to_string();
    let fail = |code: i16| {
        response(
            HeartbeatOutput {
                error_code: code,
                member_id: req.member_id.to_string(),
                member_epoch: req.member_epoch,
                ..Default::default()
            },
            &BTreeMap::new(),
        )
    };
    if let Some(code) = forced {
        return fail(code);
    }
    let mut st = ctx.shared.state();
    if st.coordinator_for(&group) != ctx.broker_id {
        return fail(NOT_COORDINATOR);
    }
    let counts: BTreeMap<String, i32> = st
        .topics
        .iter()
        .map(|(n, t)| (n.clone(), t.partitions.len() as i32))
        .collect();
    let ids: BTreeMap<String, uuid::Uuid> =
        st.topics.iter().map(|(n, t)| (n.clone(), t.id)).collect();
    // Owned partitions of topics this cluster does not know (deleted) are simply not owned.
    let owned = req.topic_partitions.as_ref().map(|tps| {
        tps.iter()
            .filter_map(|t| {
                st.topic_by_id(t.topic_id)
                    .map(|n| (n.to_string(), &t.partitions))
            })
            .flat_map(|(n, ps)| ps.iter().map(move |p| (n.clone(), *p)))
            .collect::<BTreeSet<_>>()
    });
    let input = HeartbeatInput {
        member_id: req.member_id.to_string(),
        member_epoch: req.member_epoch,
        instance_id: req.instance_id.as_ref().map(|s| s.to_string()),
        rebalance_timeout_ms: req.rebalance_timeout_ms,
        subscribed_topics: req
            .subscribed_topic_names
            .as_ref()
            .map(|ts| ts.iter().map(|t| t.0.to_string()).collect()),
        server_assignor: req.server_assignor.as_ref().map(|s| s.to_string()),
        owned,
    };
    let out = st
        .cgroups
        .handle_heartbeat(Instant::now(), &group, input, &counts);
    drop(st);
    ctx.shared.group_notify.notify_one();
    response(out, &ids)
}
