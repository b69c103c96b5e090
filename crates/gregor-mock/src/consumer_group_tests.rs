//! Sans-io tests of the KIP-848 coordinator: joins, revocation before reassignment, fencing.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use super::*;

fn counts() -> BTreeMap<String, i32> {
    BTreeMap::from([("t".to_string(), 6)])
}

fn hb(
    g: &mut ConsumerGroups,
    id: &str,
    epoch: i32,
    owned: Option<&BTreeSet<Tp>>,
) -> HeartbeatOutput {
    let input = HeartbeatInput {
        member_id: id.to_string(),
        member_epoch: epoch,
        rebalance_timeout_ms: 60_000,
        subscribed_topics: Some(vec!["t".to_string()]),
        owned: owned.cloned(),
        ..Default::default()
    };
    g.handle_heartbeat(Instant::now(), "g", input, &counts())
}

#[test]
fn partition_moves_only_after_release() {
    let mut g = ConsumerGroups::default();
    let a = hb(&mut g, "a", 0, None);
    assert_eq!(a.error_code, 0);
    let a_parts = a.assignment.clone().unwrap();
    assert_eq!(a_parts.len(), 6);
    // b joins: the target gives it 3, but they are still a's.
    let b = hb(&mut g, "b", 0, None);
    assert!(b.assignment.as_ref().unwrap().is_empty());
    // a is told to revoke 3 and keeps its epoch.
    let a2 = hb(&mut g, "a", a.member_epoch, Some(&a_parts));
    assert_eq!(a2.member_epoch, a.member_epoch);
    let kept = a2.assignment.clone().unwrap();
    assert_eq!(kept.len(), 3);
    // Still listed as owned by a: b gets nothing yet.
    let b2 = hb(&mut g, "b", b.member_epoch, Some(&BTreeSet::new()));
    assert!(b2.assignment.as_ref().unwrap().is_empty());
    // a acknowledges; it moves to the new epoch, then b gets the rest.
    let a3 = hb(&mut g, "a", a2.member_epoch, Some(&kept));
    assert!(a3.member_epoch > a.member_epoch);
    let b3 = hb(&mut g, "b", b2.member_epoch, Some(&BTreeSet::new()));
    let got = b3.assignment.unwrap();
    assert_eq!(got.len(), 3);
    assert!(got.is_disjoint(&kept));
}

#[test]
fn wrong_epoch_is_fenced_and_unknown_member_reported() {
    let mut g = ConsumerGroups::default();
    let a = hb(&mut g, "a", 0, None);
    let bad = hb(&mut g, "a", a.member_epoch + 5, Some(&BTreeSet::new()));
    assert_eq!(bad.error_code, FENCED_MEMBER_EPOCH);
    assert_eq!(
        hb(&mut g, "zz", 3, None).error_code,
        crate::group_io::UNKNOWN_MEMBER_ID
    );
    // Rejoining with epoch 0 recovers.
    let again = hb(&mut g, "a", 0, None);
    assert_eq!(again.error_code, 0);
    assert_eq!(again.assignment.unwrap().len(), 6);
}

#[test]
fn commit_needs_current_epoch() {
    let mut g = ConsumerGroups::default();
    let a = hb(&mut g, "a", 0, None);
    assert_eq!(g.validate_commit("g", "a", a.member_epoch), 0);
    assert_eq!(
        g.validate_commit("g", "a", a.member_epoch - 1),
        STALE_MEMBER_EPOCH
    );
    assert_eq!(
        g.validate_commit("g", "x", 1),
        crate::group_io::UNKNOWN_MEMBER_ID
    );
}

#[test]
fn uniform_is_sticky_when_a_member_joins() {
    let subs: BTreeMap<String, BTreeSet<String>> = ["a", "b", "c"]
        .iter()
        .map(|m| (m.to_string(), BTreeSet::from(["t".to_string()])))
        .collect();
    let first = uniform(&subs, &BTreeMap::new(), &counts());
    assert!(first.values().all(|s| s.len() == 2));
    let mut subs4 = subs.clone();
    subs4.insert("d".into(), BTreeSet::from(["t".to_string()]));
    let second = uniform(&subs4, &first, &counts());
    let moved: usize = first
        .iter()
        .map(|(m, s)| s.difference(&second[m]).count())
        .sum();
    // 6 over 4 members is 2,2,1,1: the newcomer gets 1, and only that one partition moves.
    assert_eq!(second["d"].len(), 1, "{second:?}");
    assert_eq!(moved, 1, "only the new member's share moves: {second:?}");
    let sizes: Vec<usize> = second.values().map(|s| s.len()).collect();
    assert_eq!(sizes.iter().sum::<usize>(), 6);
    assert!(sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1);
}

#[test]
fn range_assigns_contiguous_blocks_and_unknown_assignor_is_refused() {
    let subs: BTreeMap<String, BTreeSet<String>> =
        ["a", "b"].iter().map(|m| (m.to_string(), BTreeSet::from(["t".to_string()]))).collect();
    let r = range(&subs, &counts());
    let a: Vec<i32> = r["a"].iter().map(|tp| tp.1).collect();
    let b: Vec<i32> = r["b"].iter().map(|tp| tp.1).collect();
    assert_eq!((a, b), (vec![0, 1, 2], vec![3, 4, 5]));

    let mut g = ConsumerGroups::default();
    let input = HeartbeatInput {
        member_id: "a".into(),
        subscribed_topics: Some(vec!["t".into()]),
        server_assignor: Some("sticky-ish".into()),
        ..Default::default()
    };
    assert_eq!(g.handle_heartbeat(Instant::now(), "g", input, &counts()).error_code, UNSUPPORTED_ASSIGNOR);
}
