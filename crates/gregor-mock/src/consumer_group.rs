//! KIP-848 consumer-group coordinator (`group.protocol=consumer`) as a sans-io state machine.
//!
//! Follows the Java broker's `GroupMetadataManager.consumerGroupHeartbeat` and
//! `CurrentAssignmentBuilder` closely enough for clients to be tested against it:
//!
//! * the **group epoch** moves whenever membership, a subscription or a subscribed topic's
//!   partition count changes; the server-side assignor ("uniform", sticky, or "range") then
//!   computes a new **target assignment** at that epoch;
//! * each member converges towards its target one heartbeat at a time: first it is told to
//!   **revoke** the partitions it must give up (its member epoch stays), and only once a later
//!   heartbeat's owned partitions no longer list them does it move to the target epoch; a
//!   partition is handed to its new owner only after the previous owner released it;
//! * epoch 0 joins (member ids are client-generated from v1, KIP-1082; v0 gets one from here),
//!   -1 leaves, -2 is a static member's temporary leave (its partitions stay reserved for the
//!   same `group.instance.id` until the session expires);
//! * a wrong epoch answers FENCED_MEMBER_EPOCH (the previous epoch is tolerated when the member
//!   owns nothing beyond its assignment: it missed a response), an unknown member
//!   UNKNOWN_MEMBER_ID; sessions expire after the session timeout and a member that does not
//!   revoke within its rebalance timeout is fenced.
//!
//! Commits to a consumer group must carry the member id and its current epoch
//! (STALE_MEMBER_EPOCH otherwise), as in Java's `OffsetMetadataManager`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use crate::group_io::{NONE, UNKNOWN_MEMBER_ID};

pub(crate) const INVALID_REQUEST: i16 = 42;
pub(crate) const FENCED_MEMBER_EPOCH: i16 = 110;
pub(crate) const UNRELEASED_INSTANCE_ID: i16 = 111;
pub(crate) const UNSUPPORTED_ASSIGNOR: i16 = 112;
pub(crate) const STALE_MEMBER_EPOCH: i16 = 113;

/// (topic name, partition).
pub(crate) type Tp = (String, i32);

/// The assignors this coordinator runs (Kafka's `group.consumer.assignors`).
pub(crate) const ASSIGNORS: &[&str] = &["uniform", "range"];

/// A decoded ConsumerGroupHeartbeat (topic ids already mapped to names).
#[derive(Debug, Clone, Default)]
pub(crate) struct HeartbeatInput {
    pub member_id: String,
    pub member_epoch: i32,
    pub instance_id: Option<String>,
    pub rebalance_timeout_ms: i32,
    pub subscribed_topics: Option<Vec<String>>,
    pub server_assignor: Option<String>,
    pub owned: Option<BTreeSet<Tp>>,
}

/// The answer (mapped onto ConsumerGroupHeartbeatResponse by the handler).
#[derive(Debug, Clone, Default)]
pub(crate) struct HeartbeatOutput {
    pub error_code: i16,
    pub error_message: Option<String>,
    pub member_id: String,
    pub member_epoch: i32,
    pub heartbeat_interval_ms: i32,
    pub assignment: Option<BTreeSet<Tp>>,
}

#[derive(Debug, Clone)]
pub(crate) struct CMember {
    pub id: String,
    pub instance_id: Option<String>,
    pub epoch: i32,
    previous_epoch: i32,
    pub topics: BTreeSet<String>,
    assignor: Option<String>,
    rebalance_timeout: Duration,
    session_deadline: Instant,
    /// Partitions this member may own now (what the last response said).
    pub assigned: BTreeSet<Tp>,
    /// Partitions it was told to give up and has not yet released.
    pub revoking: BTreeSet<Tp>,
    revoke_deadline: Option<Instant>,
    /// A static member that left with epoch -2: its partitions wait for its return.
    pub left_static: bool,
}

#[derive(Debug, Default)]
pub(crate) struct CGroup {
    pub epoch: i32,
    pub assignment_epoch: i32,
    pub members: BTreeMap<String, CMember>,
    pub target: BTreeMap<String, BTreeSet<Tp>>,
    topic_counts: BTreeMap<String, i32>,
    pub assignor: String,
}

/// Every consumer group of the cluster.
#[derive(Debug)]
pub(crate) struct ConsumerGroups {
    pub groups: HashMap<String, CGroup>,
    /// `group.consumer.heartbeat.interval.ms` (Kafka: 5000; the mock: 500).
    pub heartbeat_interval: Duration,
    /// `group.consumer.session.timeout.ms` (45000).
    pub session_timeout: Duration,
    next_member: u64,
}

impl Default for ConsumerGroups {
    fn default() -> Self {
        ConsumerGroups {
            groups: HashMap::new(),
            heartbeat_interval: Duration::from_millis(500),
            session_timeout: Duration::from_secs(45),
            next_member: 0,
        }
    }
}

fn error(code: i16, msg: &str, member_id: &str, epoch: i32) -> HeartbeatOutput {
    HeartbeatOutput {
        error_code: code,
        error_message: Some(msg.to_string()),
        member_id: member_id.to_string(),
        member_epoch: epoch,
        ..Default::default()
    }
}

impl ConsumerGroups {
    /// One heartbeat. `counts` gives every existing topic's partition count.
    pub(crate) fn handle_heartbeat(
        &mut self,
        now: Instant,
        group_id: &str,
        input: HeartbeatInput,
        counts: &BTreeMap<String, i32>,
    ) -> HeartbeatOutput {
        if let Some(a) = &input.server_assignor {
            if !ASSIGNORS.contains(&a.as_str()) {
                return error(
                    UNSUPPORTED_ASSIGNOR,
                    &format!("assignor {a} is not supported; use one of {ASSIGNORS:?}"),
                    &input.member_id,
                    input.member_epoch,
                );
            }
        }
        let interval_ms = self.heartbeat_interval.as_millis() as i32;
        let session = self.session_timeout;
        self.next_member += 1;
        let generated = format!("mock-member-{}", self.next_member);
        let g = self.groups.entry(group_id.to_string()).or_default();
        let id = match input.member_epoch {
            -1 | -2 => return g.leave(now, session, &input, interval_ms),
            0 => match g.join(now, session, input.clone(), generated) {
                Ok(id) => id,
                Err(e) => return e,
            },
            e if e > 0 => {
                let Some(m) = g.members.get_mut(&input.member_id) else {
                    return error(UNKNOWN_MEMBER_ID, "unknown member", &input.member_id, e);
                };
                let previous_ok = e == m.previous_epoch
                    && input
                        .owned
                        .as_ref()
                        .is_some_and(|o| o.is_subset(&m.assigned));
                if e != m.epoch && !previous_ok {
                    return error(
                        FENCED_MEMBER_EPOCH,
                        &format!("member epoch {e} is not the current {}", m.epoch),
                        &input.member_id,
                        e,
                    );
                }
                m.session_deadline = now + session;
                m.left_static = false;
                let mut changed = false;
                if let Some(t) = &input.subscribed_topics {
                    let t: BTreeSet<String> = t.iter().cloned().collect();
                    if t != m.topics {
                        m.topics = t;
                        changed = true;
                    }
                }
                if input.server_assignor.is_some() && input.server_assignor != m.assignor {
                    m.assignor = input.server_assignor.clone();
                    changed = true;
                }
                if input.rebalance_timeout_ms > 0 {
                    m.rebalance_timeout = Duration::from_millis(input.rebalance_timeout_ms as u64);
                }
                if changed {
                    g.epoch += 1;
                }
                input.member_id.clone()
            }
            _ => {
                return error(
                    INVALID_REQUEST,
                    "invalid member epoch",
                    &input.member_id,
                    input.member_epoch,
                )
            }
        };
        g.refresh_target(counts);
        let assignment = g.reconcile(now, &id, input.owned.as_ref());
        let epoch = g.members.get(&id).map_or(0, |m| m.epoch);
        HeartbeatOutput {
            error_code: NONE,
            error_message: None,
            member_id: id,
            member_epoch: epoch,
            heartbeat_interval_ms: interval_ms,
            assignment: Some(assignment),
        }
    }

    /// Validates a commit (or an OffsetFetch naming a member) against a consumer group.
    pub(crate) fn validate_commit(&self, group: &str, member_id: &str, epoch: i32) -> i16 {
        let Some(g) = self.groups.get(group) else {
            return NONE;
        };
        if member_id.is_empty() && epoch < 0 {
            // A simple (group-less) commit is only allowed while the group has no members.
            return if g.members.is_empty() {
                NONE
            } else {
                UNKNOWN_MEMBER_ID
            };
        }
        match g.members.get(member_id) {
            None => UNKNOWN_MEMBER_ID,
            Some(m) if m.epoch != epoch => STALE_MEMBER_EPOCH,
            Some(_) => NONE,
        }
    }

    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.groups
            .values()
            .flat_map(|g| g.members.values())
            .flat_map(|m| [Some(m.session_deadline), m.revoke_deadline])
            .flatten()
            .min()
    }

    /// Expires sessions and overdue revocations.
    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        for g in self.groups.values_mut() {
            let gone: Vec<String> = g
                .members
                .values()
                .filter(|m| {
                    m.session_deadline <= now || m.revoke_deadline.is_some_and(|d| d <= now)
                })
                .map(|m| m.id.clone())
                .collect();
            for id in gone {
                g.members.remove(&id);
                g.target.remove(&id);
                g.epoch += 1;
            }
        }
    }
}

impl CGroup {
    fn join(
        &mut self,
        now: Instant,
        session: Duration,
        input: HeartbeatInput,
        generated: String,
    ) -> Result<String, HeartbeatOutput> {
        let id = if input.member_id.is_empty() {
            generated
        } else {
            input.member_id.clone()
        };
        let Some(topics) = input.subscribed_topics.clone() else {
            return Err(error(
                INVALID_REQUEST,
                "a joining member must send its subscription",
                &id,
                0,
            ));
        };
        let topics: BTreeSet<String> = topics.into_iter().collect();
        let mut inherited: Option<CMember> = None;
        if let Some(inst) = &input.instance_id {
            let holder = self
                .members
                .values()
                .find(|m| m.instance_id.as_ref() == Some(inst) && m.id != id);
            if let Some(h) = holder {
                if !h.left_static {
                    return Err(error(
                        UNRELEASED_INSTANCE_ID,
                        &format!("instance id {inst} is still used by member {}", h.id),
                        &id,
                        0,
                    ));
                }
                let old = h.id.clone();
                inherited = self.members.remove(&old);
                if let Some(t) = self.target.remove(&old) {
                    self.target.insert(id.clone(), t);
                }
            }
        }
        // A known member rejoining with epoch 0 (after being fenced) starts over: whatever it
        // held is released.
        self.members.remove(&id);
        let mut m = CMember {
            id: id.clone(),
            instance_id: input.instance_id.clone(),
            epoch: 0,
            previous_epoch: -1,
            topics: topics.clone(),
            assignor: input.server_assignor.clone(),
            rebalance_timeout: Duration::from_millis(input.rebalance_timeout_ms.max(1) as u64),
            session_deadline: now + session,
            assigned: BTreeSet::new(),
            revoking: BTreeSet::new(),
            revoke_deadline: None,
            left_static: false,
        };
        match inherited {
            // KIP-848 static membership: the new incarnation takes over the old one's
            // assignment and epoch, so nothing moves.
            Some(old) => {
                m.epoch = old.epoch;
                m.previous_epoch = old.previous_epoch;
                m.assigned = old.assigned;
                m.revoking = old.revoking;
                if old.topics != topics {
                    self.epoch += 1;
                }
            }
            None => self.epoch += 1,
        }
        self.members.insert(id.clone(), m);
        Ok(id)
    }

    fn leave(
        &mut self,
        now: Instant,
        session: Duration,
        input: &HeartbeatInput,
        interval_ms: i32,
    ) -> HeartbeatOutput {
        let epoch = input.member_epoch;
        let Some(m) = self.members.get_mut(&input.member_id) else {
            return error(UNKNOWN_MEMBER_ID, "unknown member", &input.member_id, epoch);
        };
        if epoch == -2 && m.instance_id.is_some() {
            m.left_static = true;
            m.session_deadline = now + session;
        } else {
            self.members.remove(&input.member_id);
            self.target.remove(&input.member_id);
            self.epoch += 1;
        }
        HeartbeatOutput {
            member_id: input.member_id.clone(),
            member_epoch: epoch,
            heartbeat_interval_ms: interval_ms,
            ..Default::default()
        }
    }

    /// Recomputes the target assignment when the group epoch moved past it.
    fn refresh_target(&mut self, counts: &BTreeMap<String, i32>) {
        let subscribed: BTreeSet<&String> = self
            .members
            .values()
            .flat_map(|m| m.topics.iter())
            .collect();
        let now_counts: BTreeMap<String, i32> = subscribed
            .iter()
            .filter_map(|t| counts.get(*t).map(|c| ((*t).clone(), *c)))
            .collect();
        if now_counts != self.topic_counts {
            self.topic_counts = now_counts;
            self.epoch += 1;
        }
        if self.assignment_epoch == self.epoch {
            return;
        }
        // The most common assignor among members (Java's default selection), else uniform.
        let mut votes: BTreeMap<&str, usize> = BTreeMap::new();
        for m in self.members.values() {
            if let Some(a) = &m.assignor {
                *votes.entry(a.as_str()).or_default() += 1;
            }
        }
        self.assignor = votes
            .iter()
            .max_by_key(|(_, n)| **n)
            .map(|(a, _)| a.to_string())
            .unwrap_or_else(|| "uniform".to_string());
        let subs: BTreeMap<String, BTreeSet<String>> = self
            .members
            .values()
            .map(|m| (m.id.clone(), m.topics.clone()))
            .collect();
        self.target = if self.assignor == "range" {
            range(&subs, &self.topic_counts)
        } else {
            uniform(&subs, &self.target, &self.topic_counts)
        };
        self.assignment_epoch = self.epoch;
    }

    /// Moves one member a step towards its target (Java's `CurrentAssignmentBuilder`).
    fn reconcile(&mut self, now: Instant, id: &str, owned: Option<&BTreeSet<Tp>>) -> BTreeSet<Tp> {
        let target = self.target.get(id).cloned().unwrap_or_default();
        let held_by_others: BTreeSet<Tp> = self
            .members
            .values()
            .filter(|m| m.id != id)
            .flat_map(|m| m.assigned.iter().chain(m.revoking.iter()).cloned())
            .collect();
        let assignment_epoch = self.assignment_epoch;
        let Some(m) = self.members.get_mut(id) else {
            return BTreeSet::new();
        };
        if let Some(owned) = owned {
            // Released: the owner's heartbeat no longer lists it.
            m.revoking.retain(|tp| owned.contains(tp));
        }
        if !m.revoking.is_empty() {
            return m.assigned.clone();
        }
        m.revoke_deadline = None;
        let revoke: BTreeSet<Tp> = m.assigned.difference(&target).cloned().collect();
        if !revoke.is_empty() {
            for tp in &revoke {
                m.assigned.remove(tp);
            }
            m.revoking = revoke;
            m.revoke_deadline = Some(now + m.rebalance_timeout);
            return m.assigned.clone();
        }
        if m.epoch != assignment_epoch {
            m.previous_epoch = m.epoch;
            m.epoch = assignment_epoch;
        }
        for tp in target {
            if !held_by_others.contains(&tp) {
                m.assigned.insert(tp);
            }
        }
        m.assigned.clone()
    }
}

fn all_partitions(topics: &BTreeSet<&String>, counts: &BTreeMap<String, i32>) -> Vec<Tp> {
    topics
        .iter()
        .filter_map(|t| counts.get(*t).map(|c| (t, *c)))
        .flat_map(|(t, c)| (0..c).map(move |p| ((*t).clone(), p)))
        .collect()
}

/// Sticky, balanced assignment (the idea of Kafka's `UniformAssignor`): members keep what they
/// had up to their fair share; only the surplus and the unowned partitions move.
fn uniform(
    subs: &BTreeMap<String, BTreeSet<String>>,
    prev: &BTreeMap<String, BTreeSet<Tp>>,
    counts: &BTreeMap<String, i32>,
) -> BTreeMap<String, BTreeSet<Tp>> {
    let mut out: BTreeMap<String, BTreeSet<Tp>> =
        subs.keys().map(|m| (m.clone(), BTreeSet::new())).collect();
    if subs.is_empty() {
        return out;
    }
    let topics: BTreeSet<&String> = subs.values().flatten().collect();
    let all = all_partitions(&topics, counts);
    let exists: BTreeSet<&Tp> = all.iter().collect();
    let mut taken: BTreeSet<Tp> = BTreeSet::new();
    for (m, parts) in prev {
        let Some(sub) = subs.get(m) else { continue };
        for tp in parts {
            if sub.contains(&tp.0) && exists.contains(tp) && taken.insert(tp.clone()) {
                out.get_mut(m).expect("member").insert(tp.clone());
            }
        }
    }
    let n = subs.len();
    let (min, mut extra) = (all.len() / n, all.len() % n);
    let mut order: Vec<String> = out.keys().cloned().collect();
    order.sort_by_key(|m| std::cmp::Reverse(out[m].len()));
    for m in order {
        let set = out.get_mut(&m).expect("member");
        let cap = if extra > 0 && set.len() > min {
            extra -= 1;
            min + 1
        } else {
            min
        };
        while set.len() > cap {
            if let Some(tp) = set.pop_last() {
                taken.remove(&tp);
            }
        }
    }
    for tp in all {
        if taken.contains(&tp) {
            continue;
        }
        let pick = out
            .iter()
            .filter(|(m, _)| subs[*m].contains(&tp.0))
            .filter(|(_, s)| s.len() < min || extra > 0 || n == 1)
            .min_by_key(|(m, s)| (s.len(), (*m).clone()))
            .or_else(|| {
                out.iter()
                    .filter(|(m, _)| subs[*m].contains(&tp.0))
                    .min_by_key(|(_, s)| s.len())
            })
            .map(|(m, s)| (m.clone(), s.len()));
        if let Some((m, len)) = pick {
            if len >= min && extra > 0 {
                extra -= 1;
            }
            out.get_mut(&m).expect("member").insert(tp.clone());
            taken.insert(tp);
        }
    }
    out
}

/// Kafka's `RangeAssignor` (server side): per topic, contiguous ranges over the sorted members.
fn range(
    subs: &BTreeMap<String, BTreeSet<String>>,
    counts: &BTreeMap<String, i32>,
) -> BTreeMap<String, BTreeSet<Tp>> {
    let mut out: BTreeMap<String, BTreeSet<Tp>> =
        subs.keys().map(|m| (m.clone(), BTreeSet::new())).collect();
    for (topic, &count) in counts {
        let members: Vec<&String> = subs
            .iter()
            .filter(|(_, t)| t.contains(topic))
            .map(|(m, _)| m)
            .collect();
        if members.is_empty() {
            continue;
        }
        let (per, extra) = (
            count as usize / members.len(),
            count as usize % members.len(),
        );
        let mut start = 0usize;
        for (i, m) in members.iter().enumerate() {
            let len = per + usize::from(i < extra);
            for p in start..start + len {
                out.get_mut(*m)
                    .expect("member")
                    .insert((topic.clone(), p as i32));
            }
            start += len;
        }
    }
    out
}

#[cfg(test)]
#[path = "consumer_group_tests.rs"]
mod tests;
