//! The admin side of groups: ListGroups over both protocols (key 16), ConsumerGroupDescribe
//! (key 69, KIP-848) and DeleteGroups (key 42), as `kafka-consumer-groups.sh` uses them.

use kafka_protocol::messages::consumer_group_describe_response::{
    Assignment, DescribedGroup, Member, TopicPartitions,
};
use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::{
    ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse, DeleteGroupsRequest,
    DeleteGroupsResponse, GroupId, ListGroupsRequest, ListGroupsResponse, TopicName,
};

use super::{sb, Ctx, GROUP_ID_NOT_FOUND, NOT_COORDINATOR};

/// NON_EMPTY_GROUP: a group with members cannot be deleted.
const NON_EMPTY_GROUP: i16 = 68;

/// ListGroups: the classic groups (handlers/group.rs), then the consumer groups this broker
/// coordinates, with group type `consumer` (v5+, KIP-1043).
pub(crate) fn list(
    ctx: &Ctx,
    req: ListGroupsRequest,
    v: i16,
    forced: Option<i16>,
) -> ListGroupsResponse {
    let mut resp = super::group::list(ctx, req.clone(), v, forced);
    if forced.is_some() {
        return resp;
    }
    let st = ctx.shared.state();
    let wants_type = v < 5
        || req.types_filter.is_empty()
        || req
            .types_filter
            .iter()
            .any(|t| t.as_str().eq_ignore_ascii_case("consumer"));
    if !wants_type {
        return resp;
    }
    let mut ids: Vec<&String> = st.cgroups.groups.keys().collect();
    ids.sort();
    for id in ids {
        if st.coordinator_for(id) != ctx.broker_id {
            continue;
        }
        let g = &st.cgroups.groups[id];
        let state = consumer_group_state(g);
        if v >= 4
            && !req.states_filter.is_empty()
            && !req
                .states_filter
                .iter()
                .any(|s| s.as_str().eq_ignore_ascii_case(state))
        {
            continue;
        }
        let mut l = ListedGroup::default()
            .with_group_id(GroupId(sb(id.clone())))
            .with_protocol_type(sb("consumer"));
        if v >= 4 {
            l.group_state = sb(state);
        }
        if v >= 5 {
            l.group_type = sb("consumer");
        }
        resp.groups.push(l);
    }
    resp
}

/// Kafka's `ConsumerGroup.ConsumerGroupState` names: Empty, Reconciling (some member does
/// not own its target yet), Stable.
fn consumer_group_state(g: &crate::consumer_group::CGroup) -> &'static str {
    if g.members.is_empty() {
        "Empty"
    } else if g
        .members
        .values()
        .all(|m| g.target.get(&m.id).map_or(true, |t| *t == m.assigned))
    {
        "Stable"
    } else {
        "Reconciling"
    }
}

/// ConsumerGroupDescribe: KIP-848 groups; any other id answers GROUP_ID_NOT_FOUND, as Kafka
/// does for a classic group ("is not a consumer group").
pub(crate) fn consumer_describe(
    ctx: &Ctx,
    req: ConsumerGroupDescribeRequest,
    _v: i16,
    forced: Option<i16>,
) -> ConsumerGroupDescribeResponse {
    let st = ctx.shared.state();
    let groups = req
        .group_ids
        .iter()
        .map(|gid| {
            let id = gid.0.to_string();
            let d = DescribedGroup::default().with_group_id(gid.clone());
            if let Some(code) = forced {
                return d.with_error_code(code);
            }
            if st.coordinator_for(&id) != ctx.broker_id {
                return d.with_error_code(NOT_COORDINATOR);
            }
            let Some(g) = st.cgroups.groups.get(&id) else {
                return d
                    .with_error_code(GROUP_ID_NOT_FOUND)
                    .with_error_message(Some(sb(format!("Group {id} not found."))));
            };
            let members = g
                .members
                .values()
                .map(|m| {
                    let mut by_topic: std::collections::BTreeMap<&str, Vec<i32>> =
                        Default::default();
                    for (t, p) in &m.assigned {
                        by_topic.entry(t.as_str()).or_default().push(*p);
                    }
                    let tps = by_topic
                        .into_iter()
                        .map(|(t, ps)| {
                            TopicPartitions::default()
                                .with_topic_id(
                                    st.topics.get(t).map(|x| x.id).unwrap_or_default(),
                                )
                                .with_topic_name(TopicName(sb(t)))
                                .with_partitions(ps)
                        })
                        .collect();
                    Member::default()
                        .with_member_id(sb(m.id.clone()))
                        .with_instance_id(m.instance_id.clone().map(sb))
                        .with_member_epoch(m.epoch)
                        .with_subscribed_topic_names(
                            m.topics.iter().map(|t| TopicName(sb(t.clone()))).collect(),
                        )
                        .with_assignment(Assignment::default().with_topic_partitions(tps))
                })
                .collect();
            d.with_group_state(sb(consumer_group_state(g)))
                .with_group_epoch(g.epoch)
                .with_assignment_epoch(g.assignment_epoch)
                .with_assignor_name(sb(g.assignor.clone()))
                .with_members(members)
        })
        .collect();
    ConsumerGroupDescribeResponse::default().with_groups(groups)
}

/// DeleteGroups: a group (either protocol) with members is refused with NON_EMPTY_GROUP; an
/// unknown one (no group, no committed offsets) with GROUP_ID_NOT_FOUND; otherwise the group
/// and its committed offsets are removed.
pub(crate) fn delete(
    ctx: &Ctx,
    req: DeleteGroupsRequest,
    _v: i16,
    forced: Option<i16>,
) -> DeleteGroupsResponse {
    let mut st = ctx.shared.state();
    let results = req
        .groups_names
        .iter()
        .map(|gid| {
            let id = gid.0.to_string();
            let code = if let Some(code) = forced {
                code
            } else if st.coordinator_for(&id) != ctx.broker_id {
                NOT_COORDINATOR
            } else {
                let classic_members = st.groups.groups.get(&id).map(|g| g.members.len());
                let consumer_members = st.cgroups.groups.get(&id).map(|g| g.members.len());
                let has_offsets = st.offsets.keys().any(|(g, _, _)| *g == id);
                match (classic_members, consumer_members) {
                    (Some(n), _) | (_, Some(n)) if n > 0 => NON_EMPTY_GROUP,
                    (None, None) if !has_offsets => GROUP_ID_NOT_FOUND,
                    _ => {
                        st.groups.groups.remove(&id);
                        st.cgroups.groups.remove(&id);
                        st.offsets.retain(|(g, _, _), _| *g != id);
                        0
                    }
                }
            };
            DeletableGroupResult::default()
                .with_group_id(gid.clone())
                .with_error_code(code)
        })
        .collect();
    DeleteGroupsResponse::default().with_results(results)
}
