//! Virtual-time tests of the KIP-848 group member: no sockets, the test plays the coordinator.

use std::collections::HashMap;

use uuid::Uuid;

use super::commits::CommitOrigin;
use super::kip848::{Kip848Config, Kip848Member, LEAVE_EPOCH, STATIC_LEAVE_EPOCH};
use super::test_util::*;
use super::{ConsumerHeartbeat, ConsumerHeartbeatResult, Event, GroupMember, MetadataView, Request, Response, Target};
use crate::error::ErrorKind;
use crate::protocol_errors::KafkaCode as K;

const T: Uuid = Uuid::from_u128(0x7);

fn member(instance: Option<&str>) -> Sim<Kip848Member> {
    let cfg = Kip848Config {
        core: core_cfg(),
        instance_id: instance.map(str::to_string),
        rebalance_timeout: ms(300_000),
        heartbeat_interval: ms(3_000),
    };
    let mut s = Sim::new(Kip848Member::new(cfg, "member-a".to_string()));
    let view = MetadataView { names: HashMap::from([(T, "t".to_string())]), ..Default::default() };
    GroupMember::handle_metadata(&mut s.m, s.now, &view);
    s.m.handle_subscription(s.now, true);
    s.app_poll();
    s
}

fn is_hb(r: &Request) -> bool {
    matches!(r, Request::ConsumerHeartbeat(h) if h.epoch >= 0)
}
fn is_leave(r: &Request) -> bool {
    matches!(r, Request::ConsumerHeartbeat(h) if h.epoch < 0)
}
fn is_commit(r: &Request) -> bool {
    matches!(r, Request::OffsetCommit { .. })
}

fn hb(r: &Request) -> &ConsumerHeartbeat {
    match r {
        Request::ConsumerHeartbeat(h) => h,
        other => panic!("not a heartbeat: {other:?}"),
    }
}

fn ok(epoch: i32, assignment: Option<&[i32]>) -> ConsumerHeartbeatResult {
    ConsumerHeartbeatResult {
        code: K::NONE,
        message: None,
        member_id: Some("member-a".into()),
        epoch,
        interval_ms: 5_000,
        assignment: assignment.map(|ps| vec![(T, ps.to_vec())]),
    }
}

fn error(code: K) -> ConsumerHeartbeatResult {
    ConsumerHeartbeatResult { code, message: Some("no".into()), member_id: None, epoch: -1, interval_ms: 0, assignment: None }
}

/// Takes the commit sent under `epoch`, answering any other (the auto-commit's) with success.
fn take_commit_at(s: &mut Sim<Kip848Member>, epoch: i32) -> super::Outgoing {
    loop {
        let c = s.take("OffsetCommit", is_commit);
        let Request::OffsetCommit { membership, offsets } = &c.request else { unreachable!() };
        if membership.generation == epoch {
            return c;
        }
        let parts = offsets.keys().map(|tp| (tp.clone(), K::NONE)).collect();
        s.answer(c.id, Response::OffsetCommit(parts));
    }
}

fn owned_in(r: &Request) -> Vec<i32> {
    hb(r).owned.as_ref().map(|o| o.iter().flat_map(|(_, ps)| ps.clone()).collect()).unwrap_or_default()
}

/// Joined at epoch 3 owning t-0 and t-1 (acknowledged), coordinator broker 1.
fn member_owning_two(instance: Option<&str>) -> Sim<Kip848Member> {
    let mut s = member(instance);
    s.find_coordinator(1);
    let h = s.take("join heartbeat", is_hb);
    assert_eq!(hb(&h.request).epoch, 0);
    assert_eq!(hb(&h.request).member_id, "member-a", "KIP-1082: the client names itself");
    s.answer(h.id, Response::ConsumerHeartbeat(ok(3, Some(&[0, 1]))));
    assert_eq!(s.assignment.len(), 2);
    let ack = s.take("acknowledging heartbeat", is_hb);
    assert_eq!(owned_in(&ack.request), vec![0, 1], "acknowledged at once");
    s.answer(ack.id, Response::ConsumerHeartbeat(ok(3, None)));
    s.clear_events();
    s
}

#[test]
fn joins_with_epoch_zero_and_acknowledges_its_assignment_at_once() {
    let mut s = member_owning_two(None);
    assert_eq!(s.m.membership().generation, 3);
    assert!(!s.has(is_hb), "next heartbeat after the interval the coordinator asked for");
    s.advance(ms(4_999));
    assert!(!s.has(is_hb));
    s.advance(ms(1));
    let h = s.take("heartbeat", is_hb);
    assert_eq!(h.target, Target::Coordinator(1));
    assert_eq!(hb(&h.request).epoch, 3);
}

#[test]
fn fenced_epoch_loses_the_partitions_and_rejoins_with_the_same_member_id() {
    for code in [K::FENCED_MEMBER_EPOCH, K::UNKNOWN_MEMBER_ID] {
        let mut s = member_owning_two(None);
        s.advance(ms(5_000));
        let h = s.take("heartbeat", is_hb);
        s.answer(h.id, Response::ConsumerHeartbeat(error(code)));
        assert_eq!(s.count(|e| matches!(e, Event::Lost(p) if p.len() == 2)), 1, "{code:?}");
        assert_eq!(s.count(|e| matches!(e, Event::Revoke(_))), 0, "lost, not revoked");
        assert!(s.assignment.is_empty());
        let j = s.take("rejoin", is_hb);
        assert_eq!(hb(&j.request).epoch, 0, "{code:?}");
        assert_eq!(hb(&j.request).member_id, "member-a");
        assert!(owned_in(&j.request).is_empty());
        assert!(s.app_errors().is_empty());
    }
}

#[test]
fn a_revoked_partition_stays_unreleased_until_its_commit_is_done() {
    let mut s = member_owning_two(None);
    s.positions.insert(tp("t", 1), 41);
    s.advance(ms(5_000));
    let h = s.take("heartbeat", is_hb);
    // The new target takes t-1 away (it goes to another member), epoch 4.
    s.answer(h.id, Response::ConsumerHeartbeat(ok(4, Some(&[0]))));
    assert_eq!(s.count(|e| matches!(e, Event::Revoke(p) if p == &vec![tp("t", 1)])), 1);
    assert!(!s.assignment.contains(&tp("t", 1)), "no more records of t-1 for the application");
    let c = take_commit_at(&mut s, 4);
    let Request::OffsetCommit { offsets, membership } = &c.request else { unreachable!() };
    assert_eq!(offsets[&tp("t", 1)].offset, 41);
    assert_eq!(membership.generation, 4);
    // While the commit is in flight, heartbeats still list t-1: it is not released, so the
    // coordinator does not give it to its next owner yet.
    s.advance(ms(5_000));
    let h = s.take("heartbeat while revoking", is_hb);
    assert_eq!(owned_in(&h.request), vec![0, 1]);
    s.answer(h.id, Response::ConsumerHeartbeat(ok(4, None)));
    s.answer(c.id, Response::OffsetCommit(vec![(tp("t", 1), K::NONE)]));
    // Released: acknowledged at once without t-1.
    let ack = s.take("acknowledging heartbeat", is_hb);
    assert_eq!(owned_in(&ack.request), vec![0]);
}

#[test]
fn reconciliation_revokes_before_it_assigns() {
    let mut s = member_owning_two(None);
    s.advance(ms(5_000));
    let h = s.take("heartbeat", is_hb);
    // Swap: t-1 goes, t-2 comes.
    s.answer(h.id, Response::ConsumerHeartbeat(ok(5, Some(&[0, 2]))));
    assert_eq!(s.count(|e| matches!(e, Event::Revoke(_))), 1);
    // No positions, no auto-commit: the revocation ends at once... after the listener.
    let revoke_at = s.events.iter().position(|e| matches!(e, Event::Revoke(_))).unwrap();
    let assigned_at = s.events.iter().position(|e| matches!(e, Event::Assigned(_)));
    let assigned_at = assigned_at.expect("t-2 assigned once t-1 is released");
    assert!(revoke_at < assigned_at);
    let ack = s.take("ack", is_hb);
    assert_eq!(owned_in(&ack.request), vec![0, 2]);
}

#[test]
fn a_partition_of_a_topic_not_in_metadata_waits_and_a_refresh_is_asked_for() {
    let mut s = member_owning_two(None);
    let other = Uuid::from_u128(0x99);
    s.advance(ms(5_000));
    let h = s.take("heartbeat", is_hb);
    let mut r = ok(6, Some(&[0, 1]));
    r.assignment.as_mut().unwrap().push((other, vec![0]));
    s.answer(h.id, Response::ConsumerHeartbeat(r));
    assert!(s.count(|e| matches!(e, Event::RefreshMetadata(_))) >= 1);
    assert_eq!(s.assignment.len(), 2, "the unknown topic waits");
    let view = MetadataView {
        names: HashMap::from([(T, "t".to_string()), (other, "u".to_string())]),
        ..Default::default()
    };
    GroupMember::handle_metadata(&mut s.m, s.now, &view);
    s.pump();
    assert!(s.assignment.contains(&tp("u", 0)));
    let ack = s.take("ack", is_hb);
    assert_eq!(hb(&ack.request).owned.as_ref().unwrap().len(), 2, "two topics owned");
}

#[test]
fn stale_epoch_retries_the_revocation_commit_but_fails_commit_sync() {
    let mut s = member_owning_two(None);
    // commit_sync racing an epoch bump: CommitFailed, as Java's commitSync.
    let read = s.m.membership();
    let id = s.commit(offsets(&[(&tp("t", 0), 5)]), Some(read), CommitOrigin::Sync);
    let c = s.take("OffsetCommit", is_commit);
    s.answer(c.id, Response::OffsetCommit(vec![(tp("t", 0), K::STALE_MEMBER_EPOCH)]));
    assert_eq!(s.commit_result(id).unwrap().unwrap_err().kind(), ErrorKind::CommitFailed);
    // A revocation's commit answered STALE_MEMBER_EPOCH after the epoch moved: retried under
    // the new epoch (the partition was owned throughout).
    s.positions.insert(tp("t", 1), 8);
    s.advance(ms(5_000));
    let h = s.take("heartbeat", is_hb);
    s.answer(h.id, Response::ConsumerHeartbeat(ok(4, Some(&[0]))));
    let c = take_commit_at(&mut s, 4);
    s.advance(ms(5_000));
    let h = s.take("heartbeat", is_hb);
    s.answer(h.id, Response::ConsumerHeartbeat(ok(5, None)));
    s.answer(c.id, Response::OffsetCommit(vec![(tp("t", 1), K::STALE_MEMBER_EPOCH)]));
    s.advance(ms(100));
    let c = take_commit_at(&mut s, 5);
    s.answer(c.id, Response::OffsetCommit(vec![(tp("t", 1), K::NONE)]));
    let ack = s.take("ack", is_hb);
    assert_eq!(owned_in(&ack.request), vec![0]);
}

#[test]
fn an_epoch_bump_does_not_fail_a_commit_of_partitions_owned_throughout() {
    let mut s = member_owning_two(None);
    let read = s.m.membership();
    s.advance(ms(5_000));
    let h = s.take("heartbeat", is_hb);
    s.answer(h.id, Response::ConsumerHeartbeat(ok(9, None)));
    let id = s.commit(offsets(&[(&tp("t", 0), 5)]), Some(read.clone()), CommitOrigin::Sync);
    let c = s.take("OffsetCommit", is_commit);
    let Request::OffsetCommit { membership, .. } = &c.request else { unreachable!() };
    assert_eq!(membership.generation, 9, "sent with the current epoch, as Java");
    s.answer(c.id, Response::OffsetCommit(vec![(tp("t", 0), K::NONE)]));
    assert!(s.commit_result(id).unwrap().is_ok());
    // But after a fence (the partition was lost in between), positions read before are stale.
    s.advance(ms(5_000));
    let h = s.take("heartbeat", is_hb);
    s.answer(h.id, Response::ConsumerHeartbeat(error(K::FENCED_MEMBER_EPOCH)));
    let j = s.take("rejoin", is_hb);
    s.answer(j.id, Response::ConsumerHeartbeat(ok(12, Some(&[0, 1]))));
    let id = s.commit(offsets(&[(&tp("t", 0), 5)]), Some(read), CommitOrigin::Sync);
    assert_eq!(s.commit_result(id).unwrap().unwrap_err().kind(), ErrorKind::CommitFailed);
}

#[test]
fn max_poll_interval_leaves_with_epoch_minus_one_and_rejoins_on_the_next_poll() {
    for (instance, epoch) in [(None, LEAVE_EPOCH), (Some("app-1"), STATIC_LEAVE_EPOCH)] {
        let mut s = member_owning_two(instance);
        let mut waited = 0;
        while waited < 300_000 {
            s.advance(ms(5_000));
            waited += 5_000;
            if s.has(is_hb) {
                let h = s.take("heartbeat", is_hb);
                s.answer(h.id, Response::ConsumerHeartbeat(ok(3, None)));
            }
        }
        let l = s.take("leave", is_leave);
        assert_eq!(hb(&l.request).epoch, epoch);
        assert_eq!(s.count(|e| matches!(e, Event::Lost(p) if p.len() == 2)), 1);
        assert_eq!(s.count(|e| matches!(e, Event::PollTimedOut(true))), 1);
        s.answer(l.id, Response::ConsumerHeartbeat(ok(-1, None)));
        s.advance(ms(60_000));
        assert!(!s.has(is_hb), "stale: no heartbeat until the next poll");
        s.app_poll();
        let j = s.take("rejoin", is_hb);
        assert_eq!(hb(&j.request).epoch, 0);
        assert!(s.app_errors().is_empty());
    }
}

#[test]
fn the_coordinator_moving_is_followed_by_an_immediate_heartbeat() {
    let mut s = member_owning_two(None);
    s.advance(ms(5_000));
    let h = s.take("heartbeat", is_hb);
    s.answer(h.id, Response::ConsumerHeartbeat(error(K::NOT_COORDINATOR)));
    assert_eq!(s.m.coordinator(), None);
    s.find_coordinator(2);
    let h = s.take("heartbeat to the new coordinator", is_hb);
    assert_eq!(h.target, Target::Coordinator(2));
    assert_eq!(hb(&h.request).epoch, 3, "still a member");
    assert_eq!(s.assignment.len(), 2);
    // A dropped connection: backoff, then the same.
    s.fail(h.id, crate::error::Error::new(ErrorKind::Disconnected, "closed"));
    s.advance(ms(100));
    s.find_coordinator(0);
    assert!(s.has(is_hb));
    assert!(s.app_errors().is_empty());
}

#[test]
fn unreleased_instance_id_is_fatal_and_closing_a_static_member_leaves_with_minus_two() {
    let mut s = member(Some("app-1"));
    s.find_coordinator(1);
    let h = s.take("join", is_hb);
    s.answer(h.id, Response::ConsumerHeartbeat(error(K::UNRELEASED_INSTANCE_ID)));
    assert_eq!(s.app_errors().len(), 1);
    s.advance(ms(30_000));
    assert!(!s.has(is_hb));

    let mut s = member_owning_two(Some("app-1"));
    let deadline = s.now + ms(30_000);
    s.m.handle_close(s.now, deadline);
    s.pump();
    assert_eq!(s.count(|e| matches!(e, Event::Revoke(p) if p.len() == 2)), 1);
    let l = s.take("leave", is_leave);
    assert_eq!(hb(&l.request).epoch, STATIC_LEAVE_EPOCH);
    s.answer(l.id, Response::ConsumerHeartbeat(ok(-2, None)));
    assert_eq!(s.count(|e| matches!(e, Event::Closed)), 1);
}

/// A broker with the API but without the protocol enabled answers UNSUPPORTED_VERSION: one
/// clear UnsupportedVersion error naming `group.protocol=classic`, and no more heartbeats
/// (`compat_mock.rs` checks the same through the whole consumer).
#[test]
fn unsupported_version_is_one_clear_error_naming_the_classic_protocol() {
    let mut s = member(None);
    s.find_coordinator(1);
    let h = s.take("join", is_hb);
    s.answer(h.id, Response::ConsumerHeartbeat(error(K::UNSUPPORTED_VERSION)));
    let kinds: Vec<_> = s.events.iter().filter_map(|e| if let Event::Error(e) = e { Some(e.kind()) } else { None }).collect();
    assert_eq!(kinds, [crate::error::ErrorKind::UnsupportedVersion]);
    let errors = s.app_errors();
    assert!(errors[0].contains("group.protocol=classic"), "{}", errors[0]);
    s.advance(ms(30_000));
    assert!(!s.has(is_hb));
}
