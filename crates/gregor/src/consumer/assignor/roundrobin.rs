//! "roundrobin": Java `RoundRobinAssignor`.
//!
//! All partitions of all subscribed topics, sorted by topic then partition, are dealt to the
//! members in Java `MemberInfo` order (static members by `group.instance.id`, then member id),
//! cycling; a member not subscribed to a partition's topic is skipped for that partition and the
//! cycle continues from the next member. With C0 and C1 both on t0 and t1 of three partitions
//! each: C0 gets t0p0, t0p2, t1p1 and C1 gets t0p1, t1p0, t1p2.

use std::collections::BTreeSet;

use super::{
    empty_assignment, sorted_members, ClusterTopics, GroupAssignment, GroupMember, TopicPartition,
};

/// Round-robin assignment; see the module docs.
pub fn assign(members: &[GroupMember], topics: &ClusterTopics) -> GroupAssignment {
    let mut out = empty_assignment(members);
    let order = sorted_members(members);
    if order.is_empty() {
        return out;
    }
    let subs: Vec<BTreeSet<&str>> = order
        .iter()
        .map(|m| m.subscription.topics.iter().map(String::as_str).collect())
        .collect();
    let all_topics: BTreeSet<&str> = subs.iter().flatten().copied().collect();

    // Java's CircularIterator: `next` is the member the deal resumes from.
    let mut next = 0usize;
    for topic in all_topics {
        let Some(info) = topics.get(topic) else {
            continue;
        };
        for partition in 0..info.partition_count.max(0) {
            // Some member subscribes to `topic` (it came from a subscription), so this stops
            // within one full cycle.
            let Some(offset) =
                (0..order.len()).find(|k| subs[(next + k) % order.len()].contains(topic))
            else {
                break;
            };
            let idx = (next + offset) % order.len();
            if let Some(a) = out.get_mut(&order[idx].member_id) {
                a.partitions.push(TopicPartition::new(topic, partition));
            }
            next = (idx + 1) % order.len();
        }
    }
    out
}
