//! Virtual-time tests of the classic group member: no sockets, the test plays the coordinator.

use std::collections::BTreeMap;

use super::classic::{ClassicConfig, ClassicMember};
use super::commits::CommitOrigin;
use super::test_util::*;
use super::timers::Timer;
use super::{Event, JoinResult, Membership, MetadataView, Request, Response, Target};
use crate::consumer::assignor::RebalanceProtocol;
use crate::error::{Error, ErrorKind};
use crate::protocol_errors::KafkaCode as K;

fn cfg(protocol: RebalanceProtocol, instance: Option<&str>) -> ClassicConfig {
    ClassicConfig {
        core: core_cfg(),
        instance_id: instance.map(str::to_string),
        session_timeout: ms(45_000),
        heartbeat_interval: ms(3_000),
        rebalance_timeout: ms(300_000),
        protocol,
    }
}

fn member(protocol: RebalanceProtocol, instance: Option<&str>) -> Sim<ClassicMember> {
    let mut s = Sim::new(ClassicMember::new(cfg(protocol, instance)));
    let view = MetadataView { topics: BTreeMap::from([("t".to_string(), 4)]), ..Default::default() };
    super::GroupMember::handle_metadata(&mut s.m, s.now, &view);
    s.m.handle_subscription(s.now, true);
    s.app_poll();
    s
}

fn is_join(r: &Request) -> bool {
    matches!(r, Request::JoinGroup { .. })
}
fn is_sync(r: &Request) -> bool {
    matches!(r, Request::SyncGroup { .. })
}
fn is_heartbeat(r: &Request) -> bool {
    matches!(r, Request::Heartbeat(_))
}
fn is_commit(r: &Request) -> bool {
    matches!(r, Request::OffsetCommit { .. })
}
fn is_leave(r: &Request) -> bool {
    matches!(r, Request::LeaveGroup { .. })
}

fn joined(generation: i32, member: &str) -> JoinResult {
    JoinResult {
        code: K::NONE,
        generation,
        member_id: member.to_string(),
        leader: "someone-else".to_string(),
        protocol: Some("range".to_string()),
        skip_assignment: false,
        members: Vec::new(),
    }
}

fn join_error(code: K, member: &str) -> JoinResult {
    JoinResult { code, generation: -1, ..joined(-1, member) }
}

/// Answers the outstanding JoinGroup and SyncGroup: generation `g`, member `id`, `assigned`.
fn complete_rebalance<'a>(s: &mut Sim<ClassicMember>, g: i32, id: &str, assigned: impl IntoIterator<Item = &'a crate::consumer::types::TopicPartition>) {
    let j = s.take("JoinGroup", is_join);
    s.answer(j.id, Response::JoinGroup(joined(g, id)));
    let sy = s.take("SyncGroup", is_sync);
    s.answer(sy.id, Response::SyncGroup { code: K::NONE, assignment: assigned.into_iter().cloned().collect() });
}

/// A member of generation 1 (`m-1`) owning t-0 and t-1, coordinator broker 2.
fn stable(protocol: RebalanceProtocol, instance: Option<&str>) -> Sim<ClassicMember> {
    let mut s = member(protocol, instance);
    s.find_coordinator(2);
    complete_rebalance(&mut s, 1, "m-1", &[tp("t", 0), tp("t", 1)]);
    assert!(s.m.is_stable());
    s.clear_events();
    s
}

#[test]
fn joins_with_the_member_id_the_coordinator_hands_out_and_leads_the_assignment() {
    let mut s = member(RebalanceProtocol::Eager, None);
    s.find_coordinator(2);
    let j = s.take("JoinGroup", is_join);
    assert_eq!(j.target, Target::Coordinator(2));
    let Request::JoinGroup { member_id, .. } = &j.request else { unreachable!() };
    assert_eq!(member_id, "");
    // KIP-394: the first JoinGroup only obtains a member id; the second one uses it.
    s.answer(j.id, Response::JoinGroup(join_error(K::MEMBER_ID_REQUIRED, "m-1")));
    let j = s.take("JoinGroup", is_join);
    let Request::JoinGroup { member_id, .. } = &j.request else { unreachable!() };
    assert_eq!(member_id, "m-1");
    let mut answer = joined(5, "m-1");
    answer.leader = "m-1".to_string();
    s.answer(j.id, Response::JoinGroup(answer));
    let a = s.take("Assign", |r| matches!(r, Request::Assign { .. }));
    assert_eq!(a.target, Target::Local);
    s.answer(a.id, Response::Assigned(vec![("m-1".to_string(), bytes::Bytes::from_static(b"x"))]));
    let sy = s.take("SyncGroup", is_sync);
    let Request::SyncGroup { membership, assignments, protocol } = &sy.request else { unreachable!() };
    assert_eq!(membership, &Membership { generation: 5, member_id: "m-1".into() });
    assert_eq!(assignments.len(), 1);
    // SyncGroup v5+ must name the chosen assignor, the leader's too (else Kafka answers
    // INCONSISTENT_GROUP_PROTOCOL).
    assert_eq!(protocol, "range");
    s.answer(sy.id, Response::SyncGroup { code: K::NONE, assignment: vec![tp("t", 0)] });
    assert!(s.m.is_stable());
    assert_eq!(s.assignment.iter().cloned().collect::<Vec<_>>(), vec![tp("t", 0)]);
    // Heartbeats every heartbeat.interval.ms.
    s.advance(ms(3_000));
    let h = s.take("Heartbeat", is_heartbeat);
    s.answer(h.id, Response::Heartbeat { code: K::NONE });
    assert!(!s.has(is_heartbeat));
    s.advance(ms(3_000));
    assert!(s.has(is_heartbeat));
}

#[test]
fn session_expiry_rediscovers_the_coordinator_and_the_broker_says_the_member_is_gone() {
    let mut s = stable(RebalanceProtocol::Eager, None);
    // Heartbeats keep failing (the coordinator is still loading after a move) for longer than
    // session.timeout.ms: Java's heartbeat thread then marks the coordinator unknown.
    let mut t = 0;
    while t < 45_000 {
        s.app_poll();
        s.advance(ms(500));
        t += 500;
        if s.has(is_heartbeat) {
            let h = s.take("Heartbeat", is_heartbeat);
            s.answer(h.id, Response::Heartbeat { code: K::COORDINATOR_LOAD_IN_PROGRESS });
        }
    }
    assert!(s.count(|e| matches!(e, Event::Coordinator(None))) >= 1, "{:?}", s.events);
    assert_eq!(s.m.coordinator(), None);
    assert_eq!(s.assignment.len(), 2, "partitions are kept until the broker says otherwise");
    s.find_coordinator(1);
    s.advance(ms(1_000));
    let h = s.take("Heartbeat", is_heartbeat);
    assert_eq!(h.target, Target::Coordinator(1));
    s.answer(h.id, Response::Heartbeat { code: K::UNKNOWN_MEMBER_ID });
    assert!(s.assignment.is_empty(), "lost: {:?}", s.events);
    assert_eq!(s.count(|e| matches!(e, Event::Lost(p) if p.len() == 2)), 1);
    let j = s.take("JoinGroup", is_join);
    let Request::JoinGroup { member_id, .. } = &j.request else { unreachable!() };
    assert_eq!(member_id, "", "UNKNOWN_MEMBER_ID rejoins as a new member");
    assert!(s.app_errors().is_empty());
}

#[test]
fn max_poll_interval_exceeded_leaves_and_the_next_poll_rejoins() {
    let mut s = stable(RebalanceProtocol::Eager, None);
    // The application stops polling; heartbeats go on.
    for _ in 0..99 {
        s.advance(ms(3_000));
        if s.has(is_heartbeat) {
            let h = s.take("Heartbeat", is_heartbeat);
            s.answer(h.id, Response::Heartbeat { code: K::NONE });
        }
    }
    assert_eq!(s.assignment.len(), 2);
    s.advance(ms(3_001));
    let l = s.take("LeaveGroup", is_leave);
    let Request::LeaveGroup { member_id, .. } = &l.request else { unreachable!() };
    assert_eq!(member_id, "m-1");
    assert!(s.assignment.is_empty(), "the partitions are given up at once");
    assert_eq!(s.count(|e| matches!(e, Event::PollTimedOut(true))), 1);
    s.answer(l.id, Response::LeaveGroup { code: K::NONE });
    // Nothing until the application polls again.
    s.advance(ms(60_000));
    assert!(!s.has(is_join) && !s.has(is_heartbeat), "{:#?}", s.out);
    s.app_poll();
    assert_eq!(s.count(|e| matches!(e, Event::PollTimedOut(false))), 1);
    let j = s.take("JoinGroup", is_join);
    let Request::JoinGroup { member_id, .. } = &j.request else { unreachable!() };
    assert_eq!(member_id, "");
    assert!(s.app_errors().is_empty());
}

#[test]
fn rebalance_in_progress_on_a_commit_fails_commit_sync_and_rejoins() {
    let mut s = stable(RebalanceProtocol::Eager, None);
    let id = s.commit(offsets(&[(&tp("t", 0), 10)]), Some(s.m.membership()), CommitOrigin::Sync);
    let c = s.take("OffsetCommit", is_commit);
    let Request::OffsetCommit { membership, .. } = &c.request else { unreachable!() };
    assert_eq!(membership.generation, 1);
    s.answer(c.id, Response::OffsetCommit(vec![(tp("t", 0), K::REBALANCE_IN_PROGRESS)]));
    let err = s.commit_result(id).expect("ended").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RebalanceInProgress, "{err}");
    // Java requests a rejoin and keeps the generation: eager revokes first, then joins.
    assert_eq!(s.count(|e| matches!(e, Event::Revoke(p) if p.len() == 2)), 1);
    assert!(s.has(is_join), "{:#?}", s.out);
    assert!(s.app_errors().is_empty(), "nothing reaches poll");
}

#[test]
fn auto_commit_failures_during_a_rebalance_are_logged_not_surfaced() {
    let mut s = stable(RebalanceProtocol::Eager, None);
    s.positions.insert(tp("t", 0), 7);
    s.advance(ms(3_000));
    let h = s.take("Heartbeat", is_heartbeat);
    s.answer(h.id, Response::Heartbeat { code: K::NONE });
    s.advance(ms(2_000));
    assert_eq!(s.count(|e| matches!(e, Event::AutoCommitDue)), 1);
    let c = s.take("OffsetCommit", is_commit);
    s.answer(c.id, Response::OffsetCommit(vec![(tp("t", 0), K::REBALANCE_IN_PROGRESS)]));
    assert!(s.count(|e| matches!(e, Event::CommitDone { origin: CommitOrigin::Auto, result: Err(_), .. })) == 1);
    // The coordinator moving: NOT_COORDINATOR on the next one is retried after a lookup.
    assert!(s.app_errors().is_empty());
    let c = s.take("OffsetCommit (revocation)", is_commit);
    s.answer(c.id, Response::OffsetCommit(vec![(tp("t", 0), K::NOT_COORDINATOR)]));
    assert_eq!(s.m.coordinator(), None);
    s.find_coordinator(0);
    s.advance(ms(200));
    let c = s.take("OffsetCommit (revocation, retried)", is_commit);
    assert_eq!(c.target, Target::Coordinator(0));
    s.answer(c.id, Response::OffsetCommit(vec![(tp("t", 0), K::NONE)]));
    assert!(s.has(is_join), "the rebalance goes on once the revocation committed");
    assert!(s.app_errors().is_empty());
}

#[test]
fn eager_rebalance_commits_revoked_positions_before_the_joingroup() {
    let mut s = stable(RebalanceProtocol::Eager, None);
    s.positions.insert(tp("t", 0), 4);
    s.positions.insert(tp("t", 1), 9);
    s.advance(ms(3_000));
    let h = s.take("Heartbeat", is_heartbeat);
    s.answer(h.id, Response::Heartbeat { code: K::REBALANCE_IN_PROGRESS });
    assert_eq!(s.count(|e| matches!(e, Event::Revoke(p) if p.len() == 2)), 1);
    assert!(!s.has(is_join), "the JoinGroup waits for the commit");
    let c = s.take("OffsetCommit", is_commit);
    let Request::OffsetCommit { offsets, membership } = &c.request else { unreachable!() };
    assert_eq!(membership.generation, 1, "committed under the generation that owned them");
    assert_eq!(offsets.values().map(|o| o.offset).collect::<Vec<_>>(), vec![4, 9]);
    s.answer(c.id, Response::OffsetCommit(vec![(tp("t", 0), K::NONE), (tp("t", 1), K::NONE)]));
    let j = s.take("JoinGroup", is_join);
    let Request::JoinGroup { owned, generation, .. } = &j.request else { unreachable!() };
    assert!(owned.is_empty(), "eager members own nothing when they join");
    assert_eq!(*generation, 1);
}

#[test]
fn the_coordinator_moving_mid_join_is_found_again_and_the_join_goes_there() {
    let mut s = member(RebalanceProtocol::Eager, None);
    s.find_coordinator(2);
    let j = s.take("JoinGroup", is_join);
    s.answer(j.id, Response::JoinGroup(join_error(K::NOT_COORDINATOR, "")));
    assert_eq!(s.m.coordinator(), None);
    s.advance(ms(100));
    s.find_coordinator(0);
    s.advance(ms(100));
    let j = s.take("JoinGroup", is_join);
    assert_eq!(j.target, Target::Coordinator(0));
    // And a dropped connection mid-join: the same.
    s.fail(j.id, Error::new(ErrorKind::Disconnected, "connection closed"));
    assert_eq!(s.m.coordinator(), None);
    s.advance(ms(300));
    s.find_coordinator(1);
    s.advance(ms(1_000));
    let j = s.take("JoinGroup", is_join);
    assert_eq!(j.target, Target::Coordinator(1));
    s.answer(j.id, Response::JoinGroup(joined(3, "m-3")));
    let sy = s.take("SyncGroup", is_sync);
    s.answer(sy.id, Response::SyncGroup { code: K::NONE, assignment: vec![tp("t", 2)] });
    assert!(s.m.is_stable());
    assert!(s.app_errors().is_empty());
}

#[test]
fn the_coordinator_moving_mid_sync_rejoins_at_the_new_one_with_the_same_member_id() {
    let mut s = member(RebalanceProtocol::Eager, None);
    s.find_coordinator(2);
    let j = s.take("JoinGroup", is_join);
    s.answer(j.id, Response::JoinGroup(joined(7, "m-7")));
    let sy = s.take("SyncGroup", is_sync);
    s.answer(sy.id, Response::SyncGroup { code: K::COORDINATOR_NOT_AVAILABLE, assignment: vec![] });
    assert_eq!(s.m.coordinator(), None);
    s.advance(ms(100));
    s.find_coordinator(1);
    s.advance(ms(100));
    let j = s.take("JoinGroup", is_join);
    assert_eq!(j.target, Target::Coordinator(1));
    let Request::JoinGroup { member_id, .. } = &j.request else { unreachable!() };
    assert_eq!(member_id, "m-7");
    s.answer(j.id, Response::JoinGroup(joined(8, "m-7")));
    let sy = s.take("SyncGroup", is_sync);
    // A coordinator still loading the group is a coordinator move too: retried, not thrown.
    s.answer(sy.id, Response::SyncGroup { code: K::COORDINATOR_LOAD_IN_PROGRESS, assignment: vec![] });
    s.advance(ms(1_000));
    complete_rebalance(&mut s, 9, "m-7", &[tp("t", 0)]);
    assert!(s.m.is_stable());
    assert!(s.app_errors().is_empty());
}

#[test]
fn unknown_member_and_illegal_generation_lose_the_partitions_and_rejoin() {
    for (code, keeps_id) in [(K::UNKNOWN_MEMBER_ID, false), (K::ILLEGAL_GENERATION, true)] {
        let mut s = stable(RebalanceProtocol::Cooperative, None);
        s.advance(ms(3_000));
        let h = s.take("Heartbeat", is_heartbeat);
        s.answer(h.id, Response::Heartbeat { code });
        assert!(s.assignment.is_empty(), "{code:?}");
        assert_eq!(s.count(|e| matches!(e, Event::Lost(p) if p.len() == 2)), 1, "{code:?}");
        assert_eq!(s.count(|e| matches!(e, Event::Revoke(_))), 0, "lost, not revoked");
        let j = s.take("JoinGroup", is_join);
        let Request::JoinGroup { member_id, owned, generation, .. } = &j.request else { unreachable!() };
        assert_eq!(member_id == "m-1", keeps_id, "{code:?}");
        assert!(owned.is_empty() && *generation == -1, "{code:?}");
        assert!(s.app_errors().is_empty());
    }
}

#[test]
fn a_heartbeat_error_for_an_older_generation_is_ignored() {
    let mut s = stable(RebalanceProtocol::Cooperative, None);
    s.advance(ms(3_000));
    let old = s.take("Heartbeat", is_heartbeat);
    // Meanwhile the member rebalanced into generation 2 (REBALANCE_IN_PROGRESS on a commit).
    s.commit(offsets(&[(&tp("t", 0), 1)]), None, CommitOrigin::Sync);
    let c = s.take("OffsetCommit", is_commit);
    s.answer(c.id, Response::OffsetCommit(vec![(tp("t", 0), K::REBALANCE_IN_PROGRESS)]));
    complete_rebalance(&mut s, 2, "m-1", &[tp("t", 0), tp("t", 1)]);
    s.answer(old.id, Response::Heartbeat { code: K::ILLEGAL_GENERATION });
    assert_eq!(s.assignment.len(), 2, "generation 2 is unaffected: {:?}", s.events);
    assert!(!s.has(is_join));
}

#[test]
fn fenced_instance_id_is_fatal_for_the_member() {
    let mut s = stable(RebalanceProtocol::Eager, Some("app-1"));
    s.advance(ms(3_000));
    let h = s.take("Heartbeat", is_heartbeat);
    s.answer(h.id, Response::Heartbeat { code: K::FENCED_INSTANCE_ID });
    let errs = s.app_errors();
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].contains("app-1") && errs[0].contains("FENCED_INSTANCE_ID"), "{errs:?}");
    assert!(s.assignment.is_empty());
    s.advance(ms(60_000));
    assert!(s.out.is_empty(), "a fenced member sends nothing more: {:#?}", s.out);
}

#[test]
fn cooperative_rebalance_runs_in_two_phases() {
    let mut s = stable(RebalanceProtocol::Cooperative, None);
    s.positions.insert(tp("t", 1), 33);
    s.advance(ms(3_000));
    let h = s.take("Heartbeat", is_heartbeat);
    s.answer(h.id, Response::Heartbeat { code: K::REBALANCE_IN_PROGRESS });
    // Phase 1: nothing is revoked before the JoinGroup, which lists what is owned.
    assert_eq!(s.count(|e| matches!(e, Event::Revoke(_))), 0);
    let j = s.take("JoinGroup", is_join);
    let Request::JoinGroup { owned, .. } = &j.request else { unreachable!() };
    assert_eq!(owned, &vec![tp("t", 0), tp("t", 1)]);
    s.answer(j.id, Response::JoinGroup(joined(2, "m-1")));
    let sy = s.take("SyncGroup", is_sync);
    s.answer(sy.id, Response::SyncGroup { code: K::NONE, assignment: vec![tp("t", 0)] });
    // t-1 goes to another member: revoked (with its commit) while t-0 keeps being consumed.
    assert_eq!(s.count(|e| matches!(e, Event::Revoke(p) if p == &vec![tp("t", 1)])), 1);
    assert!(s.assignment.contains(&tp("t", 0)) && !s.assignment.contains(&tp("t", 1)));
    assert!(!s.has(is_join), "the follow-up waits for the revocation's commit");
    let c = s.take("OffsetCommit", is_commit);
    let Request::OffsetCommit { offsets, membership } = &c.request else { unreachable!() };
    assert_eq!(offsets.get(&tp("t", 1)).map(|o| o.offset), Some(33));
    assert_eq!(membership.generation, 2);
    s.answer(c.id, Response::OffsetCommit(vec![(tp("t", 1), K::NONE)]));
    // Phase 2: the follow-up rebalance hands t-1 over.
    let j = s.take("JoinGroup", is_join);
    let Request::JoinGroup { owned, .. } = &j.request else { unreachable!() };
    assert_eq!(owned, &vec![tp("t", 0)]);
    s.answer(j.id, Response::JoinGroup(joined(3, "m-1")));
    let sy = s.take("SyncGroup", is_sync);
    s.answer(sy.id, Response::SyncGroup { code: K::NONE, assignment: vec![tp("t", 0)] });
    assert!(s.m.is_stable());
    assert!(!s.has(is_join), "no third round");
    assert_eq!(s.count(|e| matches!(e, Event::Lost(_))), 0);
}

#[test]
fn a_static_member_does_not_leave_and_rejoins_by_its_instance_id() {
    let mut s = stable(RebalanceProtocol::Eager, Some("app-1"));
    // A poll timeout: no LeaveGroup for a static member (KIP-345; Java `maybeLeaveGroup`).
    for _ in 0..101 {
        s.advance(ms(3_000));
        if s.has(is_heartbeat) {
            let h = s.take("Heartbeat", is_heartbeat);
            s.answer(h.id, Response::Heartbeat { code: K::NONE });
        }
    }
    assert_eq!(s.count(|e| matches!(e, Event::PollTimedOut(true))), 1);
    assert!(!s.has(is_leave));
    s.app_poll();
    let j = s.take("JoinGroup", is_join);
    // The coordinator recognises the instance id and gives back the same partitions, with
    // no rebalance for the others.
    s.answer(j.id, Response::JoinGroup(joined(1, "m-1b")));
    let sy = s.take("SyncGroup", is_sync);
    s.answer(sy.id, Response::SyncGroup { code: K::NONE, assignment: vec![tp("t", 0), tp("t", 1)] });
    assert_eq!(s.assignment.len(), 2);
    // Closing: commit, no LeaveGroup, done.
    s.positions.insert(tp("t", 0), 5);
    let deadline = s.now + ms(30_000);
    s.m.handle_close(s.now, deadline);
    s.pump();
    let c = s.take("OffsetCommit", is_commit);
    s.answer(c.id, Response::OffsetCommit(vec![]));
    assert!(!s.has(is_leave));
    assert_eq!(s.count(|e| matches!(e, Event::Closed)), 1);
    // Another instance with the same id (this member's restart while the old one lingered)
    // fences the old one's JoinGroup: fatal.
    let mut s2 = member(RebalanceProtocol::Eager, Some("app-1"));
    s2.find_coordinator(2);
    let j = s2.take("JoinGroup", is_join);
    s2.answer(j.id, Response::JoinGroup(join_error(K::FENCED_INSTANCE_ID, "")));
    assert_eq!(s2.app_errors().len(), 1);
}

#[test]
fn commits_carry_the_generation_their_positions_were_read_under() {
    let mut s = stable(RebalanceProtocol::Cooperative, None);
    let old = s.m.membership();
    s.commit(offsets(&[(&tp("t", 0), 1)]), None, CommitOrigin::Sync);
    let c = s.take("OffsetCommit", is_commit);
    s.answer(c.id, Response::OffsetCommit(vec![(tp("t", 0), K::REBALANCE_IN_PROGRESS)]));
    let j = s.take("JoinGroup", is_join);
    // While the JoinGroup is parked the old generation still holds: a commit goes out.
    let id = s.commit(offsets(&[(&tp("t", 0), 2)]), Some(old.clone()), CommitOrigin::Sync);
    let c = s.take("OffsetCommit", is_commit);
    s.answer(c.id, Response::OffsetCommit(vec![(tp("t", 0), K::NONE)]));
    assert!(s.commit_result(id).unwrap().is_ok());
    s.answer(j.id, Response::JoinGroup(joined(2, "m-1")));
    // Between the JoinGroup and the SyncGroup answers: RebalanceInProgress, nothing sent.
    let id = s.commit(offsets(&[(&tp("t", 0), 3)]), Some(s.m.membership()), CommitOrigin::Sync);
    assert_eq!(s.commit_result(id).unwrap().unwrap_err().kind(), ErrorKind::RebalanceInProgress);
    assert!(!s.has(is_commit));
    let sy = s.take("SyncGroup", is_sync);
    s.answer(sy.id, Response::SyncGroup { code: K::NONE, assignment: vec![tp("t", 0), tp("t", 1)] });
    // Positions read under generation 1, committed after generation 2 completed: the group
    // went on, CommitFailed, without asking the broker.
    let id = s.commit(offsets(&[(&tp("t", 0), 4)]), Some(old), CommitOrigin::Sync);
    let e = s.commit_result(id).unwrap().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::CommitFailed);
    assert!(e.to_string().contains("rebalanced"), "{e}");
    assert!(!s.has(is_commit));
    // An ILLEGAL_GENERATION answer: CommitFailed, and the member rejoins.
    let id = s.commit(offsets(&[(&tp("t", 0), 5)]), None, CommitOrigin::Sync);
    let c = s.take("OffsetCommit", is_commit);
    s.answer(c.id, Response::OffsetCommit(vec![(tp("t", 0), K::ILLEGAL_GENERATION)]));
    assert_eq!(s.commit_result(id).unwrap().unwrap_err().kind(), ErrorKind::CommitFailed);
    assert!(s.has(is_join));
}

#[test]
fn commit_sync_retries_coordinator_errors_until_its_deadline() {
    let mut s = stable(RebalanceProtocol::Eager, None);
    let id = s.commit(offsets(&[(&tp("t", 0), 1)]), None, CommitOrigin::Sync);
    let c = s.take("OffsetCommit", is_commit);
    s.answer(c.id, Response::OffsetCommit(vec![(tp("t", 0), K::COORDINATOR_LOAD_IN_PROGRESS)]));
    assert!(s.commit_result(id).is_none(), "retried");
    s.advance(ms(100));
    let c = s.take("OffsetCommit", is_commit);
    s.fail(c.id, Error::new(ErrorKind::Timeout, "request timed out"));
    assert_eq!(s.m.coordinator(), None, "a timeout closes the connection: rediscover");
    // The coordinator stays unreachable: the commit ends with a timeout at its deadline.
    let mut finds = 0;
    while s.commit_result(id).is_none() {
        s.advance(ms(1_000));
        if s.has(|r| matches!(r, Request::FindCoordinator)) {
            let f = s.take("FindCoordinator", |r| matches!(r, Request::FindCoordinator));
            s.answer(f.id, Response::FindCoordinator { code: K::COORDINATOR_NOT_AVAILABLE, node: -1 });
            finds += 1;
        }
        if s.has(is_heartbeat) {
            let h = s.take("Heartbeat", is_heartbeat);
            s.fail(h.id, Error::new(ErrorKind::Disconnected, "gone"));
        }
    }
    assert!(finds > 10);
    assert_eq!(s.commit_result(id).unwrap().unwrap_err().kind(), ErrorKind::Timeout);
    assert!(s.app_errors().is_empty());
}

#[test]
fn unsubscribing_revokes_commits_and_leaves() {
    let mut s = stable(RebalanceProtocol::Cooperative, None);
    s.positions.insert(tp("t", 0), 12);
    s.m.handle_subscription(s.now, false);
    s.pump();
    assert_eq!(s.count(|e| matches!(e, Event::Revoke(p) if p.len() == 2)), 1);
    let c = s.take("OffsetCommit", is_commit);
    let Request::OffsetCommit { membership, .. } = &c.request else { unreachable!() };
    assert_eq!(membership.generation, 1);
    assert!(!s.has(is_leave), "the leave waits for the commit");
    s.answer(c.id, Response::OffsetCommit(vec![(tp("t", 0), K::NONE)]));
    s.take("LeaveGroup", is_leave);
    assert_eq!(s.m.membership(), Membership::default());
    s.advance(ms(10_000));
    assert!(!s.has(is_heartbeat) && !s.has(is_join));
    assert!(s.m.poll_timeout().is_none() || s.m.poll_timeout() != Some(s.now), "no busy timer");
    let _ = Timer::Heartbeat;
}
