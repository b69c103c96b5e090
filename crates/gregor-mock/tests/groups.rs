//! Group coordinator over the wire: FindCoordinator, JoinGroup (MEMBER_ID_REQUIRED), SyncGroup,
//! Heartbeat, LeaveGroup, OffsetCommit/OffsetFetch, session expiry, static membership.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use gregor_mock::MockCluster;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::*;

const G: &str = "grp";

async fn coordinator_client(c: &MockCluster, group: &str) -> RawClient {
    RawClient::connect(c.broker_addr(c.coordinator(group)).unwrap()).await
}

fn join(member: &str, session_ms: i32) -> JoinGroupRequest {
    JoinGroupRequest::default()
        .with_group_id(GroupId(sb(G)))
        .with_session_timeout_ms(session_ms)
        .with_rebalance_timeout_ms(30_000)
        .with_member_id(sb(member))
        .with_protocol_type(sb("consumer"))
        .with_protocols(vec![
            JoinGroupRequestProtocol::default()
                .with_name(sb("range"))
                .with_metadata(Bytes::from_static(b"meta-range")),
            JoinGroupRequestProtocol::default()
                .with_name(sb("roundrobin"))
                .with_metadata(Bytes::from_static(b"meta-rr")),
        ])
}

fn sync(
    member: &str,
    generation: i32,
    assignments: Vec<(&str, &'static [u8])>,
) -> SyncGroupRequest {
    SyncGroupRequest::default()
        .with_group_id(GroupId(sb(G)))
        .with_generation_id(generation)
        .with_member_id(sb(member))
        .with_assignments(
            assignments
                .into_iter()
                .map(|(m, a)| {
                    SyncGroupRequestAssignment::default()
                        .with_member_id(sb(m))
                        .with_assignment(Bytes::from_static(a))
                })
                .collect(),
        )
}

fn heartbeat(member: &str, generation: i32) -> HeartbeatRequest {
    HeartbeatRequest::default()
        .with_group_id(GroupId(sb(G)))
        .with_generation_id(generation)
        .with_member_id(sb(member))
}

fn commit(member: &str, generation: i32, offset: i64) -> OffsetCommitRequest {
    OffsetCommitRequest::default()
        .with_group_id(GroupId(sb(G)))
        .with_generation_id_or_member_epoch(generation)
        .with_member_id(sb(member))
        .with_topics(vec![OffsetCommitRequestTopic::default()
            .with_name(TopicName(sb("t")))
            .with_partitions(vec![OffsetCommitRequestPartition::default()
                .with_partition_index(0)
                .with_committed_offset(offset)])])
}

/// MEMBER_ID_REQUIRED round then the real join (v5); returns the parked join's correlation id
/// and the member id.
async fn start_join(cl: &mut RawClient, session_ms: i32) -> String {
    let r = cl.call(&join("", session_ms), 5).await;
    assert_eq!(r.error_code, 79, "MEMBER_ID_REQUIRED");
    assert!(!r.member_id.is_empty());
    r.member_id.to_string()
}

#[tokio::test]
async fn find_coordinator_single_and_batched_keys() {
    let c = MockCluster::builder().brokers(3).start().await.unwrap();
    let mut cl = RawClient::connect(c.broker_addr(0).unwrap()).await;
    let r = cl
        .call(&FindCoordinatorRequest::default().with_key(sb("g1")), 3)
        .await;
    assert_eq!((r.error_code, r.node_id.0), (0, c.coordinator("g1")));
    assert_eq!(r.port, c.broker_addr(r.node_id.0).unwrap().port() as i32);
    c.set_coordinator("g2", 2);
    let r = cl
        .call(
            &FindCoordinatorRequest::default().with_coordinator_keys(vec![sb("g1"), sb("g2")]),
            4,
        )
        .await;
    let ids: Vec<(String, i32)> = r
        .coordinators
        .iter()
        .map(|k| (k.key.to_string(), k.node_id.0))
        .collect();
    assert_eq!(
        ids,
        vec![("g1".into(), c.coordinator("g1")), ("g2".into(), 2)]
    );
    // Asking a non-coordinator for group work gives NOT_COORDINATOR.
    c.set_coordinator(G, 1);
    let mut wrong = RawClient::connect(c.broker_addr(0).unwrap()).await;
    assert_eq!(wrong.call(&heartbeat("m", 1), 3).await.error_code, 16);
    // Coordinator down: COORDINATOR_NOT_AVAILABLE.
    c.broker_down(1).await;
    let r = cl
        .call(&FindCoordinatorRequest::default().with_key(sb(G)), 3)
        .await;
    assert_eq!(r.error_code, 15);
}

#[tokio::test]
async fn two_members_join_sync_heartbeat_leave() {
    let c = MockCluster::builder()
        .brokers(3)
        .topic("t", 4)
        .start()
        .await
        .unwrap();
    let mut a = coordinator_client(&c, G).await;
    let mut b = coordinator_client(&c, G).await;
    let ma = start_join(&mut a, 10_000).await;
    let ra = a.call(&join(&ma, 10_000), 5).await;
    assert_eq!(
        (ra.error_code, ra.generation_id, ra.leader.to_string()),
        (0, 1, ma.clone())
    );
    assert_eq!(ra.protocol_name.as_ref().unwrap().as_str(), "range");
    assert_eq!(ra.members.len(), 1);
    let sa = a.call(&sync(&ma, 1, vec![(&ma, b"A1")]), 3).await;
    assert_eq!((sa.error_code, &sa.assignment[..]), (0, &b"A1"[..]));
    assert_eq!(a.call(&heartbeat(&ma, 1), 3).await.error_code, 0);

    // B joins: its join parks until A rejoins; A's heartbeat says REBALANCE_IN_PROGRESS.
    let mb = start_join(&mut b, 10_000).await;
    let b_corr = b.send(&join(&mb, 10_000), 5).await;
    c.wait_for(
        |c| c.group(G).is_some_and(|g| g.state == "PreparingRebalance"),
        WAIT,
    )
    .await
    .unwrap();
    assert_eq!(a.call(&heartbeat(&ma, 1), 3).await.error_code, 27);
    let ra = a.call(&join(&ma, 10_000), 5).await;
    let (corr, rb) = b.recv::<JoinGroupRequest>(5).await;
    assert_eq!(corr, b_corr);
    assert_eq!((ra.generation_id, rb.generation_id), (2, 2));
    assert_eq!(ra.leader, rb.leader);
    let (leader, lead_resp, follower) = if ra.leader.as_str() == ma {
        (&mut a, &ra, &mut b)
    } else {
        (&mut b, &rb, &mut a)
    };
    assert_eq!(lead_resp.members.len(), 2, "leader gets the member list");
    let lid = lead_resp.leader.to_string();
    let fid = if lid == ma { mb.clone() } else { ma.clone() };
    // Follower's SyncGroup parks until the leader's arrives.
    let f_corr = follower.send(&sync(&fid, 2, vec![]), 3).await;
    let ls = leader
        .call(&sync(&lid, 2, vec![(&lid, b"L"), (&fid, b"F")]), 3)
        .await;
    let (corr, fs) = follower.recv::<SyncGroupRequest>(3).await;
    assert_eq!(corr, f_corr);
    assert_eq!(
        (&ls.assignment[..], &fs.assignment[..]),
        (&b"L"[..], &b"F"[..])
    );
    let g = c.group(G).unwrap();
    assert_eq!(
        (g.state.as_str(), g.generation, g.members.len()),
        ("Stable", 2, 2)
    );
    assert_eq!(follower.call(&heartbeat(&fid, 2), 3).await.error_code, 0);
    assert_eq!(
        follower.call(&heartbeat(&fid, 1), 3).await.error_code,
        22,
        "ILLEGAL_GENERATION"
    );

    // Leader leaves (v3 batch form): the group rebalances down to the follower.
    let lr = leader
        .call(
            &LeaveGroupRequest::default()
                .with_group_id(GroupId(sb(G)))
                .with_members(vec![MemberIdentity::default().with_member_id(sb(&lid))]),
            3,
        )
        .await;
    assert_eq!((lr.error_code, lr.members[0].error_code), (0, 0));
    assert_eq!(follower.call(&heartbeat(&fid, 2), 3).await.error_code, 27);
    let rf = follower.call(&join(&fid, 10_000), 5).await;
    assert_eq!((rf.generation_id, rf.leader.to_string()), (3, fid.clone()));
    // Unknown member leaving (v1 form).
    let lr = leader
        .call(
            &LeaveGroupRequest::default()
                .with_group_id(GroupId(sb(G)))
                .with_member_id(sb("nobody")),
            1,
        )
        .await;
    assert_eq!(lr.error_code, 25);
}

#[tokio::test]
async fn offset_commit_checks_generation_and_member_and_offset_fetch_forms() {
    let c = MockCluster::builder()
        .brokers(3)
        .topic("t", 2)
        .start()
        .await
        .unwrap();
    let mut a = coordinator_client(&c, G).await;
    // Simple commit (generation -1) while the group has no members.
    let r = a.call(&commit("", -1, 5), 2).await;
    assert_eq!(r.topics[0].partitions[0].error_code, 0);
    assert_eq!(c.committed_offset(G, "t", 0), Some(5));
    let m = start_join(&mut a, 10_000).await;
    let j = a.call(&join(&m, 10_000), 5).await;
    a.call(&sync(&m, j.generation_id, vec![(&m, b"x")]), 3)
        .await;
    let code = |r: OffsetCommitResponse| r.topics[0].partitions[0].error_code;
    assert_eq!(
        code(a.call(&commit("", -1, 6), 8).await),
        25,
        "simple commit into an active group"
    );
    assert_eq!(
        code(a.call(&commit("stranger", j.generation_id, 6), 8).await),
        25,
        "UNKNOWN_MEMBER_ID"
    );
    assert_eq!(
        code(a.call(&commit(&m, j.generation_id + 1, 6), 8).await),
        22,
        "ILLEGAL_GENERATION"
    );
    assert_eq!(code(a.call(&commit(&m, j.generation_id, 7), 8).await), 0);
    assert_eq!(c.committed_offset(G, "t", 0), Some(7));
    // OffsetFetch v8 multi-group form.
    let req = OffsetFetchRequest::default().with_groups(vec![OffsetFetchRequestGroup::default()
        .with_group_id(GroupId(sb(G)))
        .with_topics(Some(vec![OffsetFetchRequestTopics::default()
            .with_name(TopicName(sb("t")))
            .with_partition_indexes(vec![0, 1])]))]);
    let r = a.call(&req, 8).await;
    let offs: Vec<i64> = r.groups[0].topics[0]
        .partitions
        .iter()
        .map(|p| p.committed_offset)
        .collect();
    assert_eq!(offs, vec![7, -1]);
    // Old form (v5) with all topics (null).
    let r = a
        .call(
            &OffsetFetchRequest::default()
                .with_group_id(GroupId(sb(G)))
                .with_topics(None),
            5,
        )
        .await;
    assert_eq!(
        (r.error_code, r.topics[0].partitions[0].committed_offset),
        (0, 7)
    );
    let r = a
        .call(
            &OffsetFetchRequest::default()
                .with_group_id(GroupId(sb(G)))
                .with_topics(Some(vec![OffsetFetchRequestTopic::default()
                    .with_name(TopicName(sb("t")))
                    .with_partition_indexes(vec![1])])),
            1,
        )
        .await;
    assert_eq!(r.topics[0].partitions[0].committed_offset, -1);
}

#[tokio::test]
async fn session_timeout_expires_a_silent_member_and_rebalances() {
    let c = MockCluster::builder().brokers(1).start().await.unwrap();
    let mut a = coordinator_client(&c, G).await;
    let mut b = coordinator_client(&c, G).await;
    // Old JoinGroup v3: no MEMBER_ID_REQUIRED round.
    let ra = a.call(&join("", 200), 3).await;
    assert_eq!(ra.error_code, 0);
    let ma = ra.member_id.to_string();
    a.call(&sync(&ma, 1, vec![]), 3).await;
    // A never heartbeats: B's join completes once A's session (200 ms) expired.
    let rb = b
        .call(&join("", 60_000).with_rebalance_timeout_ms(60_000), 3)
        .await;
    assert_eq!(rb.error_code, 0);
    assert_eq!(rb.generation_id, 2);
    assert_eq!(rb.members.len(), 1, "only B is left");
    let g = c.group(G).unwrap();
    assert!(g.members.iter().all(|m| m.member_id != ma));
    assert_eq!(a.call(&heartbeat(&ma, 1), 3).await.error_code, 25);
}

#[tokio::test]
async fn static_member_rejoin_fences_the_old_member_id() {
    let c = MockCluster::builder().brokers(1).start().await.unwrap();
    let mut a = coordinator_client(&c, G).await;
    let j = |member: &str| join(member, 10_000).with_group_instance_id(Some(sb("inst-1")));
    let r1 = a.call(&j(""), 5).await;
    assert_eq!(r1.error_code, 0, "static members skip MEMBER_ID_REQUIRED");
    let old = r1.member_id.to_string();
    a.call(
        &sync(&old, 1, vec![(&old, b"keep")]).with_group_instance_id(Some(sb("inst-1"))),
        3,
    )
    .await;
    // Restart: same instance id, empty member id -> new id, no rebalance, same generation.
    let r2 = a.call(&j(""), 5).await;
    assert_eq!((r2.error_code, r2.generation_id), (0, 1));
    assert_ne!(r2.member_id.to_string(), old);
    let hb = heartbeat(&old, 1).with_group_instance_id(Some(sb("inst-1")));
    assert_eq!(a.call(&hb, 3).await.error_code, 82, "FENCED_INSTANCE_ID");
    let s = a
        .call(
            &sync(r2.member_id.as_str(), 1, vec![]).with_group_instance_id(Some(sb("inst-1"))),
            3,
        )
        .await;
    assert_eq!(&s.assignment[..], b"keep");
}

#[tokio::test]
async fn initial_rebalance_delay_gathers_members_into_one_generation() {
    let c = MockCluster::builder()
        .brokers(1)
        .rebalance_delay(Duration::from_millis(1500))
        .start()
        .await
        .unwrap();
    let mut a = coordinator_client(&c, G).await;
    let mut b = coordinator_client(&c, G).await;
    let a_corr = a.send(&join("", 10_000), 3).await;
    c.wait_for(|c| c.group(G).is_some_and(|g| g.members.len() == 1), WAIT)
        .await
        .unwrap();
    let rb = b.call(&join("", 10_000), 3).await;
    let (corr, ra) = a.recv::<JoinGroupRequest>(3).await;
    assert_eq!(corr, a_corr);
    assert_eq!(
        (ra.generation_id, rb.generation_id),
        (1, 1),
        "both in the first generation"
    );
    assert_eq!(ra.members.len().max(rb.members.len()), 2);
}

#[tokio::test]
async fn describe_and_list_groups() {
    let c = MockCluster::builder().brokers(2).start().await.unwrap();
    let mut a = coordinator_client(&c, G).await;
    let m = start_join(&mut a, 10_000).await;
    a.call(&join(&m, 10_000), 5).await;
    a.call(&sync(&m, 1, vec![(&m, b"asg")]), 3).await;
    let d = a
        .call(
            &DescribeGroupsRequest::default()
                .with_groups(vec![GroupId(sb(G)), GroupId(sb("none"))]),
            5,
        )
        .await;
    let g = &d.groups[0];
    assert_eq!(
        (
            g.error_code,
            g.group_state.as_str(),
            g.protocol_data.as_str()
        ),
        (0, "Stable", "range")
    );
    assert_eq!(&g.members[0].member_assignment[..], b"asg");
    assert_eq!(g.members[0].client_id.as_str(), "raw-test");
    let l = a.call(&ListGroupsRequest::default(), 4).await;
    assert_eq!(
        l.groups
            .iter()
            .map(|g| (g.group_id.0.to_string(), g.group_state.to_string()))
            .collect::<Vec<_>>(),
        vec![(G.to_string(), "Stable".to_string())]
    );
}
