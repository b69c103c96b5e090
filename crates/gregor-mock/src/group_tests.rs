//! Sans-io tests of the group state machine: time is a value, nothing sleeps.

use super::*;

fn input(member: &str, version: i16, session_ms: i32) -> JoinInput {
    JoinInput {
        version,
        member_id: member.to_string(),
        instance_id: None,
        client_id: "c".into(),
        client_host: "/127.0.0.1".into(),
        session_timeout_ms: session_ms,
        rebalance_timeout_ms: 5_000,
        protocol_type: "consumer".into(),
        protocols: vec![("range".into(), Bytes::from_static(b"m"))],
    }
}

fn join_out(g: &mut Groups) -> Vec<(Ticket, JoinResult)> {
    let mut v = Vec::new();
    while let Some((t, o)) = g.poll_output() {
        if let Output::Join(r) = o {
            v.push((t, r));
        }
    }
    v
}

#[test]
fn member_id_required_then_join_completes_alone() {
    let t0 = Instant::now();
    let mut g = Groups::new(Duration::ZERO);
    let Reply::Now(r) = g.handle_join(t0, "g", 1, input("", 4, 10_000)) else {
        panic!("v4 must answer at once")
    };
    assert_eq!(r.error_code, MEMBER_ID_REQUIRED);
    assert!(matches!(
        g.handle_join(t0, "g", 2, input(&r.member_id, 4, 10_000)),
        Reply::Parked
    ));
    let out = join_out(&mut g);
    assert_eq!(out.len(), 1);
    assert_eq!(
        (out[0].0, out[0].1.generation_id, out[0].1.leader.clone()),
        (2, 1, r.member_id.clone())
    );
    assert_eq!(g.groups["g"].state, GroupState::CompletingRebalance);
}

#[test]
fn pending_member_id_blocks_completion_until_it_expires() {
    let t0 = Instant::now();
    let mut g = Groups::new(Duration::ZERO);
    let a = match g.handle_join(t0, "g", 1, input("", 4, 1_000)) {
        Reply::Now(r) => r.member_id,
        Reply::Parked => unreachable!(),
    };
    let _b = match g.handle_join(t0, "g", 2, input("", 4, 1_000)) {
        Reply::Now(r) => r.member_id,
        Reply::Parked => unreachable!(),
    };
    assert!(matches!(
        g.handle_join(t0, "g", 3, input(&a, 4, 1_000)),
        Reply::Parked
    ));
    assert!(join_out(&mut g).is_empty(), "B holds a pending member id");
    let deadline = g.poll_timeout().expect("pending expiry scheduled");
    assert_eq!(deadline, t0 + Duration::from_millis(1_000));
    g.handle_timeout(deadline);
    let out = join_out(&mut g);
    assert_eq!(out.len(), 1, "A completes once B's pending id expired");
}

#[test]
fn silent_member_expires_and_survivor_gets_new_generation() {
    let t0 = Instant::now();
    let mut g = Groups::new(Duration::ZERO);
    let _ = g.handle_join(t0, "g", 1, input("", 3, 1_000));
    let a = join_out(&mut g).remove(0).1.member_id;
    // The leader's own SyncGroup parks and is answered at once through the outbox.
    assert!(matches!(
        g.handle_sync(
            "g",
            2,
            1,
            &a,
            None,
            vec![(a.clone(), Bytes::from_static(b"x"))]
        ),
        Reply::Parked
    ));
    assert!(matches!(
        g.poll_output(),
        Some((
            2,
            Output::Sync(SyncResult {
                error_code: NONE,
                ..
            })
        ))
    ));
    assert_eq!(g.groups["g"].state, GroupState::Stable);
    let _ = g.handle_join(t0, "g", 3, input("", 3, 1_000));
    assert!(join_out(&mut g).is_empty(), "B waits for A to rejoin");
    // A heartbeats at t0+900: told to rejoin, session refreshed.
    assert_eq!(
        g.handle_heartbeat(t0 + Duration::from_millis(900), "g", 1, &a, None),
        REBALANCE_IN_PROGRESS
    );
    g.handle_timeout(t0 + Duration::from_millis(1_500));
    assert!(join_out(&mut g).is_empty(), "A's session runs to t0+1900");
    g.handle_timeout(t0 + Duration::from_millis(1_900));
    let out = join_out(&mut g);
    assert_eq!(out.len(), 1);
    assert_eq!(
        (out[0].0, out[0].1.generation_id, out[0].1.members.len()),
        (3, 2, 1)
    );
    assert_eq!(
        g.handle_heartbeat(t0 + Duration::from_millis(2_000), "g", 2, &a, None),
        UNKNOWN_MEMBER_ID
    );
}

#[test]
fn rebalance_timeout_drops_members_that_do_not_rejoin() {
    let t0 = Instant::now();
    let mut g = Groups::new(Duration::ZERO);
    let _ = g.handle_join(t0, "g", 1, input("", 3, 60_000));
    let a = join_out(&mut g).remove(0).1.member_id;
    let _ = g.handle_sync("g", 2, 1, &a, None, vec![]);
    let _ = g.handle_join(t0, "g", 3, input("", 3, 60_000));
    // A keeps heartbeating but never rejoins; rebalance timeout is 60 s (max of session/rebalance).
    let at = t0 + Duration::from_secs(30);
    assert_eq!(
        g.handle_heartbeat(at, "g", 1, &a, None),
        REBALANCE_IN_PROGRESS
    );
    g.handle_timeout(t0 + Duration::from_secs(60));
    let out = join_out(&mut g);
    assert_eq!(out.len(), 1);
    assert!(!g.groups["g"].members.contains_key(&a));
}

#[test]
fn initial_delay_holds_the_first_join() {
    let t0 = Instant::now();
    let mut g = Groups::new(Duration::from_millis(3_000));
    let _ = g.handle_join(t0, "g", 1, input("", 3, 10_000));
    assert!(join_out(&mut g).is_empty());
    let _ = g.handle_join(
        t0 + Duration::from_millis(100),
        "g",
        2,
        input("", 3, 10_000),
    );
    g.handle_timeout(t0 + Duration::from_millis(2_999));
    assert!(join_out(&mut g).is_empty());
    g.handle_timeout(t0 + Duration::from_millis(3_100));
    let out = join_out(&mut g);
    assert_eq!(out.len(), 2);
    assert!(out.iter().all(|(_, r)| r.generation_id == 1));
}

#[test]
fn leader_that_never_syncs_is_removed_after_rebalance_timeout() {
    let t0 = Instant::now();
    let mut g = Groups::new(Duration::ZERO);
    let _ = g.handle_join(t0, "g", 1, input("", 3, 10_000));
    let a = join_out(&mut g).remove(0).1.member_id;
    assert_eq!(g.groups["g"].state, GroupState::CompletingRebalance);
    g.handle_timeout(t0 + Duration::from_millis(10_000));
    assert_eq!(g.groups["g"].state, GroupState::Empty);
    assert!(!g.groups["g"].members.contains_key(&a));
}

#[test]
fn simple_commit_only_into_empty_group() {
    let t0 = Instant::now();
    let mut g = Groups::new(Duration::ZERO);
    assert_eq!(g.validate_commit(t0, "nobody", -1, "", None), NONE);
    assert_eq!(
        g.validate_commit(t0, "nobody", 3, "m", None),
        ILLEGAL_GENERATION
    );
    let _ = g.handle_join(t0, "g", 1, input("", 3, 10_000));
    let a = join_out(&mut g).remove(0).1.member_id;
    assert_eq!(
        g.validate_commit(t0, "g", 1, &a, None),
        REBALANCE_IN_PROGRESS,
        "CompletingRebalance"
    );
    let _ = g.handle_sync("g", 2, 1, &a, None, vec![]);
    assert_eq!(g.validate_commit(t0, "g", 1, &a, None), NONE);
    assert_eq!(g.validate_commit(t0, "g", -1, "", None), UNKNOWN_MEMBER_ID);
}
