//! "sticky" and "cooperative-sticky": Java `StickyAssignor` / `CooperativeStickyAssignor`
//! semantics (KIP-54, KIP-429), with gregor's own algorithm.
//!
//! Goals, in priority order:
//! 1. *Balanced*: when all members subscribe to the same topics, partition counts differ by at most
//!    one. In general no partition can move to another member subscribed to its topic that holds
//!    at least two fewer partitions (the local optimum Java's `isBalanced` checks).
//! 2. *Sticky*: a member keeps the partitions it owned as far as balance allows; with equal
//!    subscriptions the number of moved partitions is the minimum possible.
//! 3. *Deterministic*: members are handled in member-id order, partitions in topic/partition
//!    order, and every tie has a fixed winner.
//!
//! Ownership claims come from `owned_partitions` and `generation_id` of the subscription
//! (cooperative-sticky; the generation falls back to the int32 in `user_data` for members whose
//! subscription predates v2) or from the `user_data` previous assignment (eager sticky, whose
//! members revoke everything before joining and so own nothing in the subscription). A claim is
//! ignored when the topic no longer exists, the partition is out of range, or the member no longer
//! subscribes to the topic. When several members claim one partition, the highest generation
//! wins; a tie at the highest generation voids the claim (Java logs "claiming the same
//! TopicPartition in the same generation" and invalidates it).
//!
//! Algorithm: every member keeps its valid claims; unclaimed partitions go, those with the fewest
//! eligible members first, to the eligible member with the fewest partitions; then, while some
//! member holds a partition that an eligible member with at least two fewer partitions could take,
//! the fullest such member hands one over (newly given partitions before owned ones) to the
//! emptiest eligible member. Each hand-over lowers the sum of squared counts, so this ends.
//!
//! Cooperative: a partition moving from A to B is withheld from B this round and only revoked
//! from A ([`super::make_cooperative`]); A rejoins and B gets it in the follow-up round. A
//! partition whose claims tied is withheld from everyone for one round, so all its claimants
//! revoke it first.
//! Rack-aware placement (KIP-881) is not implemented for the sticky assignors.

use std::collections::{BTreeMap, BTreeSet};

use super::protocol::{decode_cooperative_user_data, decode_sticky_user_data};
use super::{
    make_cooperative, Assignment, ClusterTopics, GroupAssignment, GroupMember, TopicPartition,
    DEFAULT_GENERATION,
};

/// A member's claim to previously owned partitions, with the generation they were owned in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MemberClaim {
    pub(crate) partitions: Vec<TopicPartition>,
    pub(crate) generation: i32,
}

/// Java `CooperativeStickyAssignor.memberData`.
pub(crate) fn cooperative_claim(m: &GroupMember) -> MemberClaim {
    let sub = &m.subscription;
    let generation = sub
        .generation_id
        .or_else(|| decode_cooperative_user_data(sub.user_data.as_deref()))
        .unwrap_or(DEFAULT_GENERATION);
    MemberClaim {
        partitions: sub.owned_partitions.clone(),
        generation,
    }
}

/// Java `StickyAssignor.memberData`: always from `user_data` (eager members own nothing when
/// they join).
pub(crate) fn eager_claim(m: &GroupMember) -> MemberClaim {
    let (partitions, generation) = decode_sticky_user_data(m.subscription.user_data.as_deref());
    MemberClaim {
        partitions,
        generation: generation.unwrap_or(DEFAULT_GENERATION),
    }
}

/// "cooperative-sticky" assignment: the balanced sticky target minus the partitions that must
/// first be revoked from their current owner.
pub fn assign_cooperative(members: &[GroupMember], topics: &ClusterTopics) -> GroupAssignment {
    let claims: Vec<MemberClaim> = members.iter().map(cooperative_claim).collect();
    let (mut out, contested) = sticky_target(members, topics, &claims);
    make_cooperative(members, &mut out);
    // A partition claimed by several members in the same generation is withheld from everyone
    // this round, so every claimant revokes it before anyone is given it (Java's constrained
    // path adds such partitions to `partitionsTransferringOwnership`).
    for a in out.values_mut() {
        a.partitions.retain(|tp| !contested.contains(tp));
    }
    out
}

/// Eager "sticky" assignment (Java `StickyAssignor`).
pub fn assign_eager(members: &[GroupMember], topics: &ClusterTopics) -> GroupAssignment {
    let claims: Vec<MemberClaim> = members.iter().map(eager_claim).collect();
    balanced_sticky(members, topics, &claims)
}

/// The sticky target assignment for `members` (parallel to `claims`), before any cooperative
/// adjustment. See the module docs.
pub(crate) fn balanced_sticky(
    members: &[GroupMember],
    topics: &ClusterTopics,
    claims: &[MemberClaim],
) -> GroupAssignment {
    sticky_target(members, topics, claims).0
}

/// [`balanced_sticky`], plus the partitions whose claims tied at the highest generation.
fn sticky_target(
    members: &[GroupMember],
    topics: &ClusterTopics,
    claims: &[MemberClaim],
) -> (GroupAssignment, BTreeSet<TopicPartition>) {
    // Members in member-id order; a duplicated id keeps its first entry.
    let mut order: Vec<usize> = (0..members.len()).collect();
    order.sort_by(|&a, &b| {
        members[a]
            .member_id
            .cmp(&members[b].member_id)
            .then(a.cmp(&b))
    });
    order.dedup_by(|a, b| members[*a].member_id == members[*b].member_id);
    let ms: Vec<&GroupMember> = order.iter().map(|&i| &members[i]).collect();
    let member_claims: Vec<Option<&MemberClaim>> = order.iter().map(|&i| claims.get(i)).collect();

    // Topic → eligible member indexes (into `ms`), for subscribed topics that exist.
    let mut eligible: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, m) in ms.iter().enumerate() {
        let subscribed: BTreeSet<&str> = m.subscription.topics.iter().map(String::as_str).collect();
        for t in subscribed {
            if topics.get(t).is_some_and(|info| info.partition_count > 0) {
                eligible.entry(t).or_default().push(i);
            }
        }
    }
    let exists = |tp: &TopicPartition| {
        topics
            .get(&*tp.topic)
            .is_some_and(|info| tp.partition >= 0 && tp.partition < info.partition_count)
    };

    // Resolve claims: highest generation wins, a tie at the top voids the claim.
    let mut best: BTreeMap<TopicPartition, (i32, Option<usize>)> = BTreeMap::new();
    for (i, claim) in member_claims.iter().enumerate() {
        let Some(claim) = claim else { continue };
        let subscribed = |t: &str| eligible.get(t).is_some_and(|e| e.contains(&i));
        let unique: BTreeSet<&TopicPartition> = claim.partitions.iter().collect();
        for tp in unique {
            if !exists(tp) || !subscribed(&tp.topic) {
                continue;
            }
            match best.get_mut(tp) {
                None => {
                    best.insert(tp.clone(), (claim.generation, Some(i)));
                }
                Some(entry) if claim.generation > entry.0 => *entry = (claim.generation, Some(i)),
                Some(entry) if claim.generation == entry.0 => entry.1 = None,
                Some(_) => {}
            }
        }
    }

    let n = ms.len();
    let mut held: Vec<Holding> = vec![Holding::default(); n];
    for (tp, (_, owner)) in &best {
        if let Some(i) = owner {
            held[*i].kept.insert(tp.clone());
        }
    }

    // Unclaimed partitions, most constrained first.
    let mut pool: Vec<(usize, TopicPartition)> = Vec::new();
    for (topic, elig) in &eligible {
        let count = topics.get(*topic).map_or(0, |info| info.partition_count);
        for p in 0..count {
            let tp = TopicPartition::new(*topic, p);
            if !matches!(best.get(&tp), Some((_, Some(_)))) {
                pool.push((elig.len(), tp));
            }
        }
    }
    pool.sort();
    for (_, tp) in pool {
        let Some(elig) = eligible.get(&*tp.topic) else {
            continue;
        };
        if let Some(&to) = elig.iter().min_by_key(|&&i| (held[i].len(), i)) {
            held[to].fresh.insert(tp);
        }
    }

    rebalance(&mut held, &eligible);

    let mut out: GroupAssignment = members
        .iter()
        .map(|m| (m.member_id.clone(), Assignment::default()))
        .collect();
    for (i, m) in ms.iter().enumerate() {
        if let Some(a) = out.get_mut(&m.member_id) {
            let h = std::mem::take(&mut held[i]);
            let mut all: Vec<TopicPartition> = h.kept.into_iter().chain(h.fresh).collect();
            all.sort();
            a.partitions = all;
        }
    }
    let contested = best
        .into_iter()
        .filter(|(_, (_, owner))| owner.is_none())
        .map(|(tp, _)| tp)
        .collect();
    (out, contested)
}

/// What one member holds during assignment: partitions it owned and keeps, and partitions given
/// to it this round. Kept apart so hand-overs take fresh partitions first (they cost no
/// stickiness) without searching.
#[derive(Debug, Clone, Default)]
struct Holding {
    kept: BTreeSet<TopicPartition>,
    fresh: BTreeSet<TopicPartition>,
}

impl Holding {
    fn len(&self) -> usize {
        self.kept.len() + self.fresh.len()
    }
}

/// Moves partitions from fuller to emptier eligible members until no partition can go to an
/// eligible member holding at least two fewer (see the module docs).
fn rebalance(held: &mut [Holding], eligible: &BTreeMap<&str, Vec<usize>>) {
    loop {
        // The emptiest eligible member of each topic (ties: lowest index).
        let emptiest: BTreeMap<&str, usize> = eligible
            .iter()
            .filter_map(|(t, e)| {
                e.iter()
                    .min_by_key(|&&i| (held[i].len(), i))
                    .map(|&i| (*t, i))
            })
            .collect();
        let mut sources: Vec<usize> = (0..held.len()).collect();
        sources.sort_by_key(|&i| (std::cmp::Reverse(held[i].len()), i));

        let mut chosen: Option<(usize, usize, TopicPartition, bool)> = None;
        'search: for &from in &sources {
            let from_len = held[from].len();
            if from_len < 2 {
                break; // no member can hold two fewer than this one, nor than any after it
            }
            // Newly given partitions move first (free), then owned ones, highest first.
            let h = &held[from];
            let candidates = h
                .fresh
                .iter()
                .rev()
                .map(|tp| (tp, false))
                .chain(h.kept.iter().rev().map(|tp| (tp, true)));
            for (tp, was_kept) in candidates {
                if let Some(&to) = emptiest.get(&*tp.topic) {
                    if held[to].len() + 2 <= from_len {
                        chosen = Some((from, to, tp.clone(), was_kept));
                        break 'search;
                    }
                }
            }
        }
        let Some((from, to, tp, was_kept)) = chosen else {
            return;
        };
        if was_kept {
            held[from].kept.remove(&tp);
        } else {
            held[from].fresh.remove(&tp);
        }
        held[to].fresh.insert(tp);
    }
}
