//! Tests of the sticky assignors: Java's documented examples, balance, stickiness and the
//! cooperative two-phase hand-over.

use std::collections::{BTreeMap, BTreeSet};

use super::tests::{cluster, member, names, tp, Rng};
use super::*;

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

/// Members owning (cooperatively) what `prev` gave them, in `generation`.
fn owning(
    mut members: Vec<GroupMember>,
    prev: &GroupAssignment,
    generation: i32,
) -> Vec<GroupMember> {
    for m in &mut members {
        if let Some(a) = prev.get(&m.member_id) {
            m.subscription.owned_partitions = a.partitions.clone();
            m.subscription.generation_id = Some(generation);
        }
    }
    members
}

fn counts(out: &GroupAssignment) -> Vec<usize> {
    out.values().map(|a| a.partitions.len()).collect()
}

fn spread(out: &GroupAssignment) -> usize {
    let c = counts(out);
    c.iter().max().unwrap_or(&0) - c.iter().min().unwrap_or(&0)
}

#[test]
fn sticky_java_doc_example_member_leaves() {
    // Java StickyAssignor doc: C0..C2 on t0..t3 of two partitions each.
    let all = ["t0", "t1", "t2", "t3"];
    let topics = cluster(&[("t0", 2), ("t1", 2), ("t2", 2), ("t3", 2)]);
    let members = vec![member("C0", &all), member("C1", &all), member("C2", &all)];
    let first = sticky::assign_cooperative(&members, &topics);
    assert_eq!(names(&first, "C0"), s(&["t0p0", "t1p1", "t3p0"]));
    assert_eq!(names(&first, "C1"), s(&["t0p1", "t2p0", "t3p1"]));
    assert_eq!(names(&first, "C2"), s(&["t1p0", "t2p1"]));
    // C1 leaves: the survivors keep everything and split C1's partitions.
    let survivors = owning(vec![member("C0", &all), member("C2", &all)], &first, 1);
    let second = sticky::assign_cooperative(&survivors, &topics);
    assert_eq!(names(&second, "C0"), s(&["t0p0", "t1p1", "t2p0", "t3p0"]));
    assert_eq!(names(&second, "C2"), s(&["t0p1", "t1p0", "t2p1", "t3p1"]));
}

#[test]
fn sticky_java_doc_example_unequal_subscriptions() {
    let topics = cluster(&[("t0", 1), ("t1", 2), ("t2", 3)]);
    let members = vec![
        member("C0", &["t0"]),
        member("C1", &["t0", "t1"]),
        member("C2", &["t0", "t1", "t2"]),
    ];
    let first = sticky::assign_cooperative(&members, &topics);
    assert_eq!(names(&first, "C0"), s(&["t0p0"]));
    assert_eq!(names(&first, "C1"), s(&["t1p0", "t1p1"]));
    assert_eq!(names(&first, "C2"), s(&["t2p0", "t2p1", "t2p2"]));
    // C0 leaves: t0p0 goes to C1, nothing else moves.
    let rest = owning(
        vec![
            member("C1", &["t0", "t1"]),
            member("C2", &["t0", "t1", "t2"]),
        ],
        &first,
        1,
    );
    let second = sticky::assign_cooperative(&rest, &topics);
    assert_eq!(names(&second, "C1"), s(&["t0p0", "t1p0", "t1p1"]));
    assert_eq!(names(&second, "C2"), s(&["t2p0", "t2p1", "t2p2"]));
}

#[test]
fn eager_sticky_reads_previous_assignment_from_user_data() {
    let topics = cluster(&[("t", 4)]);
    let mut a = member("A", &["t"]);
    let mut b = member("B", &["t"]);
    // A previously had t-2 and t-3, B had t-0 and t-1 (reverse of a fresh assignment).
    a.subscription.user_data =
        BuiltinAssignor::Sticky.subscription_user_data(&[tp("t", 2), tp("t", 3)], 5);
    b.subscription.user_data =
        BuiltinAssignor::Sticky.subscription_user_data(&[tp("t", 0), tp("t", 1)], 5);
    let out = BuiltinAssignor::Sticky.assign(&[a, b, member("C", &["t"])], &topics);
    assert_eq!(spread(&out), 1);
    let kept = names(&out, "A").len() + names(&out, "B").len();
    assert_eq!(kept, 3, "only one partition moves to the new member C");
    assert!(names(&out, "A").iter().all(|p| p == "tp2" || p == "tp3"));
    assert!(names(&out, "B").iter().all(|p| p == "tp0" || p == "tp1"));
}

#[test]
fn conflicting_claims_highest_generation_wins_and_ties_are_void() {
    let topics = cluster(&[("t", 2)]);
    let mut old = member("A", &["t"]);
    old.subscription.owned_partitions = vec![tp("t", 0), tp("t", 1)];
    old.subscription.generation_id = Some(3);
    let mut new = member("B", &["t"]);
    new.subscription.owned_partitions = vec![tp("t", 0), tp("t", 1)];
    new.subscription.generation_id = Some(4);
    let claims: Vec<_> = [&old, &new]
        .iter()
        .map(|m| sticky::cooperative_claim(m))
        .collect();
    let target = sticky::balanced_sticky(&[old.clone(), new.clone()], &topics, &claims);
    // B (generation 4) keeps one, balance moves the other to A.
    assert_eq!(target["A"].partitions.len(), 1);
    assert_eq!(target["B"].partitions.len(), 1);
    let mut c = member("C", &["t"]);
    c.subscription.owned_partitions = vec![tp("t", 1)];
    c.subscription.generation_id = Some(4);
    let mut b1 = member("B", &["t"]);
    b1.subscription.owned_partitions = vec![tp("t", 1)];
    b1.subscription.generation_id = Some(4);
    let members = vec![b1, c];
    let claims: Vec<_> = members.iter().map(sticky::cooperative_claim).collect();
    let target = sticky::balanced_sticky(&members, &topics, &claims);
    // Same-generation tie on t-1: neither claim counts, so the fresh order applies (B gets t-0).
    assert_eq!(names(&target, "B"), s(&["tp0"]));
    assert_eq!(names(&target, "C"), s(&["tp1"]));
}

#[test]
fn generation_falls_back_to_cooperative_user_data() {
    let mut m = member("A", &["t"]);
    m.subscription.user_data = BuiltinAssignor::CooperativeSticky.subscription_user_data(&[], 9);
    assert_eq!(sticky::cooperative_claim(&m).generation, 9);
    m.subscription.generation_id = Some(11);
    assert_eq!(sticky::cooperative_claim(&m).generation, 11);
    m.subscription.user_data = None;
    m.subscription.generation_id = None;
    assert_eq!(sticky::cooperative_claim(&m).generation, DEFAULT_GENERATION);
}

/// A random group: topics with random sizes; members subscribe to all topics when `equal`, to a
/// random non-empty subset otherwise.
fn random_group(rng: &mut Rng, equal: bool, first_id: usize) -> (ClusterTopics, Vec<GroupMember>) {
    let nt = 1 + rng.below(5);
    let topic_names: Vec<String> = (0..nt).map(|i| format!("t{i}")).collect();
    let topics: ClusterTopics = topic_names
        .iter()
        .map(|t| (t.clone(), TopicInfo::new(rng.below(13) as i32)))
        .collect();
    let nm = 1 + rng.below(8);
    let members = (0..nm)
        .map(|i| {
            let mut subs: Vec<&str> = topic_names
                .iter()
                .map(String::as_str)
                .filter(|_| equal || rng.below(2) == 0)
                .collect();
            if subs.is_empty() {
                subs.push(topic_names[rng.below(nt)].as_str());
            }
            member(&format!("m{:02}", first_id + i), &subs)
        })
        .collect();
    (topics, members)
}

/// No partition of member A could go to a member B subscribed to its topic holding two fewer.
fn assert_locally_balanced(members: &[GroupMember], out: &GroupAssignment, ctx: &str) {
    for a in members {
        let from = out[&a.member_id].partitions.len();
        for p in &out[&a.member_id].partitions {
            for b in members {
                if b.subscription.topics.iter().any(|t| **t == *p.topic) {
                    let to = out[&b.member_id].partitions.len();
                    assert!(
                        to + 2 > from,
                        "{ctx}: {p} could move from {} ({from}) to {} ({to})",
                        a.member_id,
                        b.member_id
                    );
                }
            }
        }
    }
}

#[test]
fn sticky_is_balanced_over_random_groups() {
    let mut rng = Rng::new(2024);
    for round in 0..400 {
        let equal = round % 2 == 0;
        let (topics, members) = random_group(&mut rng, equal, 0);
        // Random (possibly unbalanced) prior ownership.
        let mut owned: BTreeMap<String, Vec<TopicPartition>> = BTreeMap::new();
        for (t, info) in &topics {
            for p in 0..info.partition_count {
                if rng.below(3) > 0 {
                    let m = &members[rng.below(members.len())];
                    owned.entry(m.member_id.clone()).or_default().push(tp(t, p));
                }
            }
        }
        let members: Vec<GroupMember> = members
            .into_iter()
            .map(|mut m| {
                m.subscription.owned_partitions = owned.remove(&m.member_id).unwrap_or_default();
                m.subscription.generation_id = Some(1);
                m
            })
            .collect();
        let claims: Vec<_> = members.iter().map(sticky::cooperative_claim).collect();
        let out = sticky::balanced_sticky(&members, &topics, &claims);
        let ctx = format!("round {round}");
        if equal {
            assert!(spread(&out) <= 1, "{ctx}: counts {:?}", counts(&out));
        }
        assert_locally_balanced(&members, &out, &ctx);
    }
}

/// The fewest partitions any balanced assignment must take away from their owners, for equal
/// subscriptions: the members owning the most get the `total % n` slots of `total / n + 1`.
fn minimum_moves(owned_counts: &[usize], total: usize) -> usize {
    let n = owned_counts.len();
    let (base, extra) = (total / n, total % n);
    let mut sorted = owned_counts.to_vec();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    sorted
        .iter()
        .enumerate()
        .map(|(i, &o)| o.saturating_sub(base + usize::from(i < extra)))
        .sum()
}

fn moved(members: &[GroupMember], out: &GroupAssignment) -> usize {
    members
        .iter()
        .map(|m| {
            let now: BTreeSet<_> = out[&m.member_id].partitions.iter().collect();
            m.subscription
                .owned_partitions
                .iter()
                .filter(|p| !now.contains(p))
                .count()
        })
        .sum()
}

#[test]
fn adding_or_removing_members_moves_the_minimum_number_of_partitions() {
    let mut rng = Rng::new(99);
    for round in 0..300 {
        let (topics, members) = random_group(&mut rng, true, 0);
        let start = BuiltinAssignor::CooperativeSticky.assign(&members, &topics);
        let mut next = owning(members, &start, 1);
        if next.len() > 1 && rng.below(2) == 0 {
            let gone = rng.below(next.len());
            next.remove(gone);
        } else {
            let all: Vec<&str> = topics.keys().map(String::as_str).collect();
            for i in 0..1 + rng.below(3) {
                next.push(member(&format!("new{i}"), &all));
            }
        }
        let claims: Vec<_> = next.iter().map(sticky::cooperative_claim).collect();
        let out = sticky::balanced_sticky(&next, &topics, &claims);
        let total: usize = topics.values().map(|i| i.partition_count as usize).sum();
        let owned: Vec<usize> = next
            .iter()
            .map(|m| m.subscription.owned_partitions.len())
            .collect();
        assert!(spread(&out) <= 1, "round {round}");
        assert_eq!(
            moved(&next, &out),
            minimum_moves(&owned, total),
            "round {round}"
        );
    }
}

#[test]
fn stickiness_is_minimal_from_arbitrary_ownership() {
    let mut rng = Rng::new(5);
    for round in 0..300 {
        let (topics, members) = random_group(&mut rng, true, 0);
        let mut members = members;
        for (t, info) in &topics {
            for p in 0..info.partition_count {
                if rng.below(4) > 0 {
                    let k = rng.below(members.len());
                    members[k].subscription.owned_partitions.push(tp(t, p));
                }
            }
        }
        let claims: Vec<_> = members.iter().map(sticky::cooperative_claim).collect();
        let out = sticky::balanced_sticky(&members, &topics, &claims);
        let total: usize = topics.values().map(|i| i.partition_count as usize).sum();
        let owned: Vec<usize> = members
            .iter()
            .map(|m| m.subscription.owned_partitions.len())
            .collect();
        assert_eq!(
            moved(&members, &out),
            minimum_moves(&owned, total),
            "round {round}"
        );
    }
}

/// Drives a group through cooperative rebalances the way consumers would: every member reports
/// what it owns; after SyncGroup a member that lost partitions rejoins. Checks that no round
/// hands a partition to a member while another still owns it, and that the follow-up round
/// completes the balanced assignment.
#[test]
fn cooperative_two_phase_rebalance() {
    let mut rng = Rng::new(77);
    let assignor = BuiltinAssignor::CooperativeSticky;
    for round in 0..300 {
        let equal = round % 3 != 0;
        let (topics, members) = random_group(&mut rng, equal, 0);
        let stable = assignor.assign(&members, &topics);
        let mut group = owning(members, &stable, 1);
        // Membership change: some join, maybe one leaves.
        let all: Vec<&str> = topics.keys().map(String::as_str).collect();
        for i in 0..1 + rng.below(3) {
            let subs: Vec<&str> = if equal {
                all.clone()
            } else {
                vec![all[rng.below(all.len())]]
            };
            group.push(member(&format!("z{i}"), &subs));
        }
        if rng.below(2) == 0 {
            let gone = rng.below(group.len());
            group.remove(gone);
        }
        let mut generation = 2;
        let mut rounds = 0;
        loop {
            rounds += 1;
            assert!(rounds <= 3, "round {round}: did not converge");
            let out = assignor.assign(&group, &topics);
            validate_cooperative_assignment(&group, &out)
                .unwrap_or_else(|e| panic!("round {round}/{rounds}: {e}"));
            let mut rejoin = false;
            for m in &group {
                let d = diff_assignment(
                    &m.subscription.owned_partitions,
                    &out[&m.member_id].partitions,
                );
                rejoin |= d.needs_rejoin(RebalanceProtocol::Cooperative);
            }
            group = owning(group, &out, generation);
            generation += 1;
            if !rejoin {
                // Final state: everything assigned and balanced.
                let total: usize = topics
                    .iter()
                    .filter(|(t, _)| group.iter().any(|m| m.subscription.topics.contains(t)))
                    .map(|(_, i)| i.partition_count as usize)
                    .sum();
                assert_eq!(counts(&out).iter().sum::<usize>(), total, "round {round}");
                if equal {
                    assert!(spread(&out) <= 1, "round {round}: {:?}", counts(&out));
                }
                assert_locally_balanced(&group, &out, &format!("round {round}"));
                // And stable: another rebalance changes nothing.
                assert_eq!(assignor.assign(&group, &topics), out, "round {round}");
                break;
            }
        }
        assert!(rounds <= 2, "round {round}: needed {rounds} rebalances");
    }
}

#[test]
fn cooperative_first_round_only_revokes() {
    let topics = cluster(&[("t", 4)]);
    let a = member("A", &["t"]);
    let first = BuiltinAssignor::CooperativeSticky.assign(std::slice::from_ref(&a), &topics);
    assert_eq!(first["A"].partitions.len(), 4);
    let group = owning(vec![a, member("B", &["t"])], &first, 1);
    let second = BuiltinAssignor::CooperativeSticky.assign(&group, &topics);
    assert_eq!(second["A"].partitions.len(), 2, "A gives up two partitions");
    assert!(
        second["B"].partitions.is_empty(),
        "B gets nothing until A has revoked"
    );
    let group = owning(group, &second, 2);
    let third = BuiltinAssignor::CooperativeSticky.assign(&group, &topics);
    assert_eq!(third["A"].partitions, second["A"].partitions);
    assert_eq!(third["B"].partitions.len(), 2);
}

#[test]
fn large_group_from_one_owner_finishes() {
    // 40 topics x 50 partitions all owned by one member; 60 members with overlapping
    // subscriptions join. Pins that the hand-over loop stays polynomial and balanced.
    let topics: ClusterTopics = (0..40)
        .map(|t| (format!("t{t:02}"), TopicInfo::new(50)))
        .collect();
    let names_all: Vec<String> = topics.keys().cloned().collect();
    let mut owner = member(
        "a-owner",
        &names_all.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    owner.subscription.owned_partitions = topics
        .iter()
        .flat_map(|(t, i)| (0..i.partition_count).map(move |p| tp(t, p)))
        .collect();
    owner.subscription.generation_id = Some(1);
    let mut group = vec![owner];
    for i in 0..60 {
        let subs: Vec<&str> = names_all
            .iter()
            .map(String::as_str)
            .skip(i % 7)
            .step_by(1 + i % 3)
            .collect();
        group.push(member(&format!("m{i:02}"), &subs));
    }
    let claims: Vec<_> = group.iter().map(sticky::cooperative_claim).collect();
    let out = sticky::balanced_sticky(&group, &topics, &claims);
    assert_eq!(counts(&out).iter().sum::<usize>(), 2000);
    assert_locally_balanced(&group, &out, "large");
}
