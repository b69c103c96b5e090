//! "range": Java `RangeAssignor`.
//!
//! Per topic, the subscribed members are sorted (static members by `group.instance.id` first, then
//! dynamic members by member id; Java `MemberInfo`) and each takes a contiguous range of
//! `partitions / members` partitions, the first `partitions % members` members one more. With two
//! members C0, C1 and topics t0, t1 of three partitions each: C0 gets t0p0, t0p1, t1p0, t1p1 and
//! C1 gets t0p2, t1p2.
//!
//! Rack-aware mode (KIP-881) is used when members report racks, partitions have replica racks, and
//! some partition is not replicated on every rack. Each topic keeps the same per-member quotas
//! (so balance is unchanged); a first pass hands each member, in the same order, partitions whose
//! replicas share its rack, and the usual pass assigns what is left. Topics with the same
//! subscribers and the same partition count stay co-partitioned: partition p of all of them goes
//! to one member whose rack matches all of them.

use std::collections::{BTreeMap, BTreeSet};

use super::{
    empty_assignment, sorted_members, ClusterTopics, GroupAssignment, GroupMember, TopicInfo,
    TopicPartition,
};

/// Per-topic bookkeeping (quota and what is still unassigned).
struct TopicState<'a> {
    topic: &'a str,
    /// Subscribed members in Java `MemberInfo` order, with their rack (None = no rack).
    members: Vec<(&'a str, Option<&'a str>)>,
    info: &'a TopicInfo,
    unassigned: BTreeSet<i32>,
    assigned_count: BTreeMap<&'a str, usize>,
    per_member: usize,
    remaining_extra: usize,
    rack_aware: bool,
}

impl<'a> TopicState<'a> {
    fn new(topic: &'a str, info: &'a TopicInfo, members: Vec<(&'a str, Option<&'a str>)>) -> Self {
        let count = info.partition_count.max(0) as usize;
        let n = members.len();
        let consumer_racks: BTreeSet<&str> = members.iter().filter_map(|(_, r)| *r).collect();
        let partition_racks: BTreeSet<&str> = (0..info.partition_count)
            .filter_map(|p| info.replica_racks.get(&p))
            .flat_map(|racks| racks.iter().map(String::as_str))
            .collect();
        // Java AbstractPartitionAssignor.useRackAwareAssignment: only when racks on both sides
        // overlap and some partition's racks differ from the set of all partition racks.
        let rack_aware = !consumer_racks.is_empty()
            && !consumer_racks.is_disjoint(&partition_racks)
            && (0..info.partition_count).any(|p| {
                let racks: BTreeSet<&str> = info
                    .replica_racks
                    .get(&p)
                    .map(|r| r.iter().map(String::as_str).collect())
                    .unwrap_or_default();
                racks != partition_racks
            });
        TopicState {
            topic,
            assigned_count: members.iter().map(|(m, _)| (*m, 0)).collect(),
            members,
            info,
            unassigned: (0..info.partition_count).collect(),
            per_member: count.checked_div(n).unwrap_or(0),
            remaining_extra: count.checked_rem(n).unwrap_or(0),
            rack_aware,
        }
    }

    /// How many more partitions of this topic `member` may take.
    fn max_assignable(&self, member: &str) -> usize {
        let cap = self.per_member + usize::from(self.remaining_extra > 0);
        cap.saturating_sub(self.assigned_count.get(member).copied().unwrap_or(0))
    }

    /// A member without a rack matches everything (Java `racksMatch`).
    fn racks_match(&self, rack: Option<&str>, partition: i32) -> bool {
        match rack {
            None => true,
            Some(r) => self
                .info
                .replica_racks
                .get(&partition)
                .is_some_and(|racks| racks.contains(r)),
        }
    }

    fn assign(&mut self, member: &'a str, partitions: &[i32], out: &mut GroupAssignment) {
        let Some(count) = self.assigned_count.get_mut(member) else {
            return;
        };
        *count += partitions.len();
        if *count > self.per_member {
            self.remaining_extra = self.remaining_extra.saturating_sub(1);
        }
        for p in partitions {
            self.unassigned.remove(p);
        }
        if let Some(a) = out.get_mut(member) {
            a.partitions.extend(
                partitions
                    .iter()
                    .map(|&p| TopicPartition::new(self.topic, p)),
            );
        }
    }

    /// One pass over the members in order; each takes up to its quota of the still-unassigned
    /// partitions that `rack_only` allows, lowest first (Java `assignRanges`).
    fn assign_ranges(&mut self, rack_only: bool, out: &mut GroupAssignment) {
        for i in 0..self.members.len() {
            if self.unassigned.is_empty() {
                break;
            }
            let (member, rack) = self.members[i];
            let take: Vec<i32> = self
                .unassigned
                .iter()
                .copied()
                .filter(|&p| !rack_only || self.racks_match(rack, p))
                .take(self.max_assignable(member))
                .collect();
            if !take.is_empty() {
                self.assign(member, &take, out);
            }
        }
    }
}

/// Range assignment; see the module docs.
pub fn assign(members: &[GroupMember], topics: &ClusterTopics) -> GroupAssignment {
    let mut out = empty_assignment(members);
    let sorted = sorted_members(members);
    let subscribed: BTreeSet<&str> = members
        .iter()
        .flat_map(|m| m.subscription.topics.iter().map(String::as_str))
        .collect();

    let mut states: Vec<TopicState> = Vec::new();
    for topic in subscribed {
        let Some(info) = topics.get(topic) else {
            continue;
        };
        if info.partition_count <= 0 {
            continue;
        }
        let mut seen = BTreeSet::new();
        let topic_members: Vec<(&str, Option<&str>)> = sorted
            .iter()
            .filter(|m| m.subscription.topics.iter().any(|t| t == topic))
            .filter(|m| seen.insert(m.member_id.as_str()))
            .map(|m| {
                let rack = m.subscription.rack_id.as_deref().filter(|r| !r.is_empty());
                (m.member_id.as_str(), rack)
            })
            .collect();
        states.push(TopicState::new(topic, info, topic_members));
    }

    let use_racks = states.iter().any(|s| s.rack_aware);
    if use_racks {
        assign_with_rack_matching(&mut states, &mut out);
    }
    for state in &mut states {
        state.assign_ranges(false, &mut out);
    }
    for a in out.values_mut() {
        a.partitions.sort();
    }
    out
}

/// Rack-matching first pass (Java `assignWithRackMatching`): topics are grouped by identical
/// subscriber lists and partition counts; a group of several topics is assigned partition by
/// partition to keep co-partitioning, a lone topic gets a rack-filtered range pass.
fn assign_with_rack_matching(states: &mut [TopicState<'_>], out: &mut GroupAssignment) {
    let mut groups: BTreeMap<(Vec<&str>, i32), Vec<usize>> = BTreeMap::new();
    for (i, s) in states.iter().enumerate() {
        if s.members.iter().all(|(_, r)| r.is_none()) {
            continue; // no member of this topic has a rack: nothing to match
        }
        let key = (
            s.members.iter().map(|(m, _)| *m).collect(),
            s.info.partition_count,
        );
        groups.entry(key).or_default().push(i);
    }
    for ((members, partition_count), idx) in groups {
        if idx.len() == 1 {
            let s = &mut states[idx[0]];
            if s.rack_aware {
                s.assign_ranges(true, out);
            }
            continue;
        }
        // Co-partitioned topics: give partition p of every topic to the first member (in order)
        // whose rack matches p in all of them and that still has quota in all of them.
        let mut remaining: Vec<&str> = members;
        for p in 0..partition_count {
            let pick = remaining.iter().position(|&m| {
                idx.iter().all(|&i| {
                    let s = &states[i];
                    let rack = s
                        .members
                        .iter()
                        .find(|(id, _)| *id == m)
                        .and_then(|(_, r)| *r);
                    s.racks_match(rack, p) && s.max_assignable(m) > 0
                })
            });
            let Some(pos) = pick else { continue };
            let member = remaining[pos];
            for &i in &idx {
                states[i].assign(member, &[p], out);
            }
            if idx.iter().all(|&i| states[i].max_assignable(member) == 0) {
                remaining.remove(pos);
                if remaining.is_empty() {
                    break;
                }
            }
        }
    }
}
