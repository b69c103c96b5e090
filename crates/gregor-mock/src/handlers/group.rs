//! Classic group APIs: JoinGroup, SyncGroup, Heartbeat, LeaveGroup, DescribeGroups, ListGroups.
//!
//! The rules live in `crate::group` (sans-io); this file decodes, checks that this broker is the
//! group's coordinator (NOT_COORDINATOR otherwise), parks requests on a oneshot, and encodes.

use std::time::Instant;

use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::{
    DescribeGroupsRequest, DescribeGroupsResponse, GroupId, HeartbeatRequest, HeartbeatResponse,
    JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest, LeaveGroupResponse, ListGroupsRequest,
    ListGroupsResponse, RequestHeader, SyncGroupRequest, SyncGroupResponse,
};
use tokio::sync::oneshot;

use super::{sb, Ctx, COORDINATOR_NOT_AVAILABLE, GROUP_ID_NOT_FOUND, NOT_COORDINATOR};
use crate::group::{JoinInput, JoinResult, Output, Reply, SyncResult};
use crate::group_io::INCONSISTENT_GROUP_PROTOCOL;

fn not_coordinator(ctx: &Ctx, group: &str) -> bool {
    ctx.shared.state().coordinator_for(group) != ctx.broker_id
}

fn join_response(r: JoinResult, v: i16) -> JoinGroupResponse {
    let members = r
        .members
        .into_iter()
        .map(|(id, inst, meta)| {
            JoinGroupResponseMember::default()
                .with_member_id(sb(id))
                .with_group_instance_id(if v >= 5 { inst.map(sb) } else { None })
                .with_metadata(meta)
        })
        .collect();
    let mut resp = JoinGroupResponse::default()
        .with_error_code(r.error_code)
        .with_generation_id(r.generation_id)
        .with_leader(sb(r.leader))
        .with_member_id(sb(r.member_id))
        .with_members(members);
    // Before v7 the protocol name is a non-nullable string ("" when unknown).
    resp.protocol_name = if v >= 7 {
        r.protocol_name.map(sb)
    } else {
        Some(sb(r.protocol_name.unwrap_or_default()))
    };
    if v >= 7 {
        resp.protocol_type = r.protocol_type.map(sb);
    }
    if v >= 9 {
        resp.skip_assignment = r.skip_assignment;
    }
    resp
}

pub(crate) async fn join(
    ctx: &Ctx,
    header: &RequestHeader,
    req: JoinGroupRequest,
    v: i16,
    forced: Option<i16>,
) -> JoinGroupResponse {
    let group = req.group_id.0.to_string();
    let error = |code| {
        join_response(
            JoinResult {
                error_code: code,
                generation_id: -1,
                member_id: req.member_id.to_string(),
                ..Default::default()
            },
            v,
        )
    };
    if let Some(code) = forced {
        return error(code);
    }
    if not_coordinator(ctx, &group) {
        return error(NOT_COORDINATOR);
    }
    let input = JoinInput {
        version: v,
        member_id: req.member_id.to_string(),
        instance_id: req.group_instance_id.as_ref().map(|s| s.to_string()),
        client_id: header
            .client_id
            .as_ref()
            .map(|s| s.to_string())
            .unwrap_or_default(),
        client_host: format!("/{}", ctx.client_host),
        session_timeout_ms: req.session_timeout_ms,
        rebalance_timeout_ms: if v >= 1 {
            req.rebalance_timeout_ms
        } else {
            req.session_timeout_ms
        },
        protocol_type: req.protocol_type.to_string(),
        protocols: req
            .protocols
            .iter()
            .map(|p| (p.name.to_string(), p.metadata.clone()))
            .collect(),
    };
    let (tx, rx) = oneshot::channel();
    let reply = {
        let mut st = ctx.shared.state();
        let ticket = st.new_ticket(tx);
        let r = st.groups.handle_join(Instant::now(), &group, ticket, input);
        if matches!(r, Reply::Now(_)) {
            st.parked.remove(&ticket);
        }
        st.flush_group_outputs();
        r
    };
    ctx.shared.group_notify.notify_one();
    match reply {
        Reply::Now(r) => join_response(r, v),
        Reply::Parked => match rx.await {
            Ok(Output::Join(r)) => join_response(r, v),
            _ => error(COORDINATOR_NOT_AVAILABLE),
        },
    }
}

fn sync_response(r: SyncResult, v: i16) -> SyncGroupResponse {
    let mut resp = SyncGroupResponse::default()
        .with_error_code(r.error_code)
        .with_assignment(r.assignment);
    if v >= 5 {
        resp.protocol_type = r.protocol_type.map(sb);
        resp.protocol_name = r.protocol_name.map(sb);
    }
    resp
}

pub(crate) async fn sync(
    ctx: &Ctx,
    req: SyncGroupRequest,
    v: i16,
    forced: Option<i16>,
) -> SyncGroupResponse {
    let group = req.group_id.0.to_string();
    let error = |code| {
        sync_response(
            SyncResult {
                error_code: code,
                ..Default::default()
            },
            v,
        )
    };
    if let Some(code) = forced {
        return error(code);
    }
    // As Kafka's `KafkaApis.handleSyncGroupRequest`: from v5 on, ProtocolType and ProtocolName
    // are mandatory, the leader's SyncGroup included.
    if v >= 5 && (req.protocol_type.is_none() || req.protocol_name.is_none()) {
        return error(INCONSISTENT_GROUP_PROTOCOL);
    }
    if not_coordinator(ctx, &group) {
        return error(NOT_COORDINATOR);
    }
    let (tx, rx) = oneshot::channel();
    let reply = {
        let mut st = ctx.shared.state();
        let ticket = st.new_ticket(tx);
        let assignments = req
            .assignments
            .iter()
            .map(|a| (a.member_id.to_string(), a.assignment.clone()))
            .collect();
        let inst = req.group_instance_id.as_ref().map(|s| s.to_string());
        let r = st.groups.handle_sync(
            &group,
            ticket,
            req.generation_id,
            req.member_id.as_str(),
            inst.as_deref(),
            assignments,
        );
        if matches!(r, Reply::Now(_)) {
            st.parked.remove(&ticket);
        }
        st.flush_group_outputs();
        r
    };
    ctx.shared.group_notify.notify_one();
    match reply {
        Reply::Now(r) => sync_response(r, v),
        Reply::Parked => match rx.await {
            Ok(Output::Sync(r)) => sync_response(r, v),
            _ => error(COORDINATOR_NOT_AVAILABLE),
        },
    }
}

pub(crate) fn heartbeat(
    ctx: &Ctx,
    req: HeartbeatRequest,
    _v: i16,
    forced: Option<i16>,
) -> HeartbeatResponse {
    let group = req.group_id.0.to_string();
    let code = if let Some(code) = forced {
        code
    } else if not_coordinator(ctx, &group) {
        NOT_COORDINATOR
    } else {
        let inst = req.group_instance_id.as_ref().map(|s| s.to_string());
        let mut st = ctx.shared.state();
        st.groups.handle_heartbeat(
            Instant::now(),
            &group,
            req.generation_id,
            req.member_id.as_str(),
            inst.as_deref(),
        )
    };
    ctx.shared.group_notify.notify_one();
    HeartbeatResponse::default().with_error_code(code)
}

pub(crate) fn leave(
    ctx: &Ctx,
    req: LeaveGroupRequest,
    v: i16,
    forced: Option<i16>,
) -> LeaveGroupResponse {
    let group = req.group_id.0.to_string();
    let top = forced.or_else(|| not_coordinator(ctx, &group).then_some(NOT_COORDINATOR));
    if let Some(code) = top {
        return LeaveGroupResponse::default().with_error_code(code);
    }
    let resp = {
        let mut st = ctx.shared.state();
        let now = Instant::now();
        let resp = if v >= 3 {
            // KIP-345: batch leave, per-member errors, top-level NONE.
            let members = req
                .members
                .iter()
                .map(|m| {
                    let inst = m.group_instance_id.as_ref().map(|s| s.to_string());
                    let code =
                        st.groups
                            .handle_leave(now, &group, m.member_id.as_str(), inst.as_deref());
                    MemberResponse::default()
                        .with_member_id(m.member_id.clone())
                        .with_group_instance_id(m.group_instance_id.clone())
                        .with_error_code(code)
                })
                .collect();
            LeaveGroupResponse::default().with_members(members)
        } else {
            let code = st
                .groups
                .handle_leave(now, &group, req.member_id.as_str(), None);
            LeaveGroupResponse::default().with_error_code(code)
        };
        st.flush_group_outputs();
        resp
    };
    ctx.shared.group_notify.notify_one();
    resp
}

pub(crate) fn describe(
    ctx: &Ctx,
    req: DescribeGroupsRequest,
    v: i16,
    forced: Option<i16>,
) -> DescribeGroupsResponse {
    let st = ctx.shared.state();
    let groups = req
        .groups
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
            match st.groups.groups.get(&id) {
                None if v >= 6 => d
                    .with_error_code(GROUP_ID_NOT_FOUND)
                    .with_group_state(sb("Dead")),
                None => d.with_group_state(sb("Dead")),
                Some(g) => {
                    let proto = g.protocol_name.clone().unwrap_or_default();
                    let stable = g.state == crate::group::GroupState::Stable;
                    let members = g
                        .members
                        .values()
                        .map(|m| {
                            DescribedGroupMember::default()
                                .with_member_id(sb(m.id.clone()))
                                .with_group_instance_id(if v >= 4 {
                                    m.instance_id.clone().map(sb)
                                } else {
                                    None
                                })
                                .with_client_id(sb(m.client_id.clone()))
                                .with_client_host(sb(m.client_host.clone()))
                                .with_member_metadata(
                                    m.protocols
                                        .iter()
                                        .find(|(n, _)| *n == proto)
                                        .map(|(_, b)| b.clone())
                                        .unwrap_or_default(),
                                )
                                .with_member_assignment(if stable {
                                    m.assignment.clone()
                                } else {
                                    Default::default()
                                })
                        })
                        .collect();
                    d.with_group_state(sb(g.state.name()))
                        .with_protocol_type(sb(g.protocol_type.clone().unwrap_or_default()))
                        .with_protocol_data(sb(if stable { proto } else { String::new() }))
                        .with_members(members)
                }
            }
        })
        .collect();
    DescribeGroupsResponse::default().with_groups(groups)
}

pub(crate) fn list(
    ctx: &Ctx,
    req: ListGroupsRequest,
    v: i16,
    forced: Option<i16>,
) -> ListGroupsResponse {
    if let Some(code) = forced {
        return ListGroupsResponse::default().with_error_code(code);
    }
    let st = ctx.shared.state();
    let groups = st
        .groups
        .list()
        .into_iter()
        .filter(|(id, _, _)| st.coordinator_for(id) == ctx.broker_id)
        .filter(|(_, state, _)| {
            v < 4
                || req.states_filter.is_empty()
                || req
                    .states_filter
                    .iter()
                    .any(|s| s.as_str().eq_ignore_ascii_case(state.name()))
        })
        .filter(|(_, _, _)| {
            v < 5
                || req.types_filter.is_empty()
                || req
                    .types_filter
                    .iter()
                    .any(|s| s.as_str().eq_ignore_ascii_case("classic"))
        })
        .map(|(id, state, ptype)| {
            let mut g = ListedGroup::default()
                .with_group_id(GroupId(sb(id)))
                .with_protocol_type(sb(ptype));
            if v >= 4 {
                g.group_state = sb(state.name());
            }
            if v >= 5 {
                g.group_type = sb("classic");
            }
            g
        })
        .collect();
    ListGroupsResponse::default().with_groups(groups)
}
