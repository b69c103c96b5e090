//! Classic group coordinator as a sans-io state machine (time passed in as `now`).
//!
//! Follows the Java broker's classic protocol (`GroupCoordinator` / `ClassicGroup`):
//! states Empty -> PreparingRebalance -> CompletingRebalance -> Stable, JoinGroup parked until
//! every known member rejoined (or the rebalance timeout), MEMBER_ID_REQUIRED for v4+ (KIP-394),
//! static membership with FENCED_INSTANCE_ID (KIP-345), the initial rebalance delay
//! (`group.initial.rebalance.delay.ms`, KIP-134) and session expiry.
//!
//! Inputs are `handle_*`; parked requests are answered later through `poll_output`; the driver
//! calls `handle_timeout(now)` at `poll_timeout()`.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use bytes::Bytes;

pub(crate) use crate::group_io::*;

/// Identifies a parked request so the driver can route its answer.
pub(crate) type Ticket = u64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GroupState {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
}

impl GroupState {
    /// Names as DescribeGroups / ListGroups report them.
    pub(crate) fn name(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Member {
    pub id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout: Duration,
    pub rebalance_timeout: Duration,
    pub protocols: Vec<(String, Bytes)>,
    pub assignment: Bytes,
    pub session_deadline: Instant,
    join_ticket: Option<(Ticket, i16)>,
    sync_ticket: Option<Ticket>,
}

impl Member {
    fn metadata_for(&self, protocol: &str) -> Bytes {
        self.protocols
            .iter()
            .find(|(n, _)| n == protocol)
            .map(|(_, m)| m.clone())
            .unwrap_or_default()
    }
}

#[derive(Debug)]
pub(crate) struct Group {
    pub id: String,
    pub state: GroupState,
    pub generation: i32,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub leader: Option<String>,
    pub members: BTreeMap<String, Member>,
    /// member ids handed out with MEMBER_ID_REQUIRED, with their expiry (KIP-394).
    pending: HashMap<String, Instant>,
    static_members: HashMap<String, String>,
    rebalance_deadline: Option<Instant>,
    /// While Some, the join phase waits for the initial delay even if all members joined.
    initial_delay_until: Option<Instant>,
}

/// All groups of the cluster plus the outbox of answers to parked requests.
#[derive(Debug, Default)]
pub(crate) struct Groups {
    pub groups: HashMap<String, Group>,
    pub initial_rebalance_delay: Duration,
    outbox: VecDeque<(Ticket, Output)>,
    next_member: u64,
}

impl Groups {
    pub(crate) fn new(initial_rebalance_delay: Duration) -> Self {
        Groups {
            initial_rebalance_delay,
            ..Default::default()
        }
    }

    /// Next answer for a parked JoinGroup / SyncGroup.
    pub(crate) fn poll_output(&mut self) -> Option<(Ticket, Output)> {
        self.outbox.pop_front()
    }

    /// Earliest instant at which `handle_timeout` has work to do.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        let mut min: Option<Instant> = None;
        let mut see = |t: Instant| min = Some(min.map_or(t, |m: Instant| m.min(t)));
        for g in self.groups.values() {
            if let Some(t) = g.rebalance_deadline {
                see(t);
            }
            if let Some(t) = g.initial_delay_until {
                see(t);
            }
            g.pending.values().for_each(|&t| see(t));
            for m in g.members.values() {
                if m.join_ticket.is_none() && m.sync_ticket.is_none() {
                    see(m.session_deadline);
                }
            }
        }
        min
    }

    /// Creates an Empty group if absent (simple commits create one, like Java's coordinator).
    pub(crate) fn ensure_group(&mut self, id: &str) {
        group_entry(&mut self.groups, id);
    }
}

fn group_entry<'a>(groups: &'a mut HashMap<String, Group>, id: &str) -> &'a mut Group {
    groups.entry(id.to_string()).or_insert_with(|| Group {
        id: id.to_string(),
        state: GroupState::Empty,
        generation: 0,
        protocol_type: None,
        protocol_name: None,
        leader: None,
        members: BTreeMap::new(),
        pending: HashMap::new(),
        static_members: HashMap::new(),
        rebalance_deadline: None,
        initial_delay_until: None,
    })
}

impl Groups {
    pub(crate) fn handle_join(
        &mut self,
        now: Instant,
        group_id: &str,
        ticket: Ticket,
        j: JoinInput,
    ) -> Reply<JoinResult> {
        let err = |code: i16, member_id: String| {
            Reply::Now(JoinResult {
                error_code: code,
                generation_id: -1,
                member_id,
                ..Default::default()
            })
        };
        if j.session_timeout_ms <= 0 || j.session_timeout_ms > 1_800_000 {
            return err(INVALID_SESSION_TIMEOUT, j.member_id);
        }
        if j.protocol_type.is_empty() || j.protocols.is_empty() {
            return err(INCONSISTENT_GROUP_PROTOCOL, j.member_id);
        }
        self.next_member += 1;
        let seq = self.next_member;
        let delay = self.initial_rebalance_delay;
        let g = group_entry(&mut self.groups, group_id);
        if g.state != GroupState::Empty {
            let same_type = g.protocol_type.as_deref() == Some(j.protocol_type.as_str());
            let shared = j.protocols.iter().any(|(p, _)| {
                g.members
                    .values()
                    .all(|m| m.protocols.iter().any(|(q, _)| q == p))
            });
            if !same_type || !shared {
                return err(INCONSISTENT_GROUP_PROTOCOL, j.member_id);
            }
        }
        let session = Duration::from_millis(j.session_timeout_ms as u64);
        let rebalance =
            Duration::from_millis(j.rebalance_timeout_ms.max(j.session_timeout_ms) as u64);
        let mut member_id = j.member_id.clone();
        if member_id.is_empty() {
            let new_id = format!(
                "{}-{:08x}-{}",
                if j.client_id.is_empty() {
                    "member"
                } else {
                    &j.client_id
                },
                rand::random::<u32>(),
                seq
            );
            if let Some(inst) = &j.instance_id {
                // KIP-345: a static member rejoining with an empty id replaces (fences) the old id.
                if let Some(old) = g.static_members.get(inst).cloned() {
                    if let Some(mut m) = g.members.remove(&old) {
                        // The old incarnation's parked requests are fenced (KIP-345).
                        if let Some((t, _)) = m.join_ticket.take() {
                            self.outbox.push_back((
                                t,
                                Output::Join(JoinResult {
                                    error_code: FENCED_INSTANCE_ID,
                                    generation_id: -1,
                                    member_id: old.clone(),
                                    ..Default::default()
                                }),
                            ));
                        }
                        if let Some(t) = m.sync_ticket.take() {
                            self.outbox.push_back((
                                t,
                                Output::Sync(SyncResult {
                                    error_code: FENCED_INSTANCE_ID,
                                    ..Default::default()
                                }),
                            ));
                        }
                        m.id = new_id.clone();
                        if g.leader.as_deref() == Some(&old) {
                            g.leader = Some(new_id.clone());
                        }
                        let unchanged = same_subscription(&m.protocols, &j.protocols);
                        m.protocols = j.protocols.clone();
                        m.session_deadline = now + session;
                        m.join_ticket = None;
                        m.sync_ticket = None;
                        g.members.insert(new_id.clone(), m);
                        g.static_members.insert(inst.clone(), new_id.clone());
                        if g.state == GroupState::Stable && unchanged {
                            // No rebalance: hand back the current generation; SyncGroup returns the
                            // kept assignment (skip_assignment tells a v9 leader not to reassign).
                            let is_leader = g.leader.as_deref() == Some(&new_id);
                            return Reply::Now(g.join_result(
                                &new_id,
                                is_leader,
                                j.version >= 9 && is_leader,
                            ));
                        }
                        member_id = new_id;
                        g.members
                            .get_mut(&member_id)
                            .expect("just inserted")
                            .join_ticket = Some((ticket, j.version));
                        g.prepare_rebalance(now, delay, &mut self.outbox);
                        g.maybe_complete_join(now, &mut self.outbox);
                        return Reply::Parked;
                    }
                }
                g.static_members.insert(inst.clone(), new_id.clone());
                member_id = new_id;
            } else if j.version >= 4 {
                g.pending.insert(new_id.clone(), now + session);
                return err(MEMBER_ID_REQUIRED, new_id);
            } else {
                member_id = new_id;
            }
        } else {
            if let Some(inst) = &j.instance_id {
                if g.static_members.get(inst).is_some_and(|m| m != &member_id) {
                    return err(FENCED_INSTANCE_ID, member_id);
                }
            }
            let known = g.members.contains_key(&member_id) || g.pending.contains_key(&member_id);
            if !known {
                return err(UNKNOWN_MEMBER_ID, member_id);
            }
        }
        g.pending.remove(&member_id);
        let existing = g
            .members
            .get(&member_id)
            .map(|m| m.protocols == j.protocols);
        // A known follower rejoining with unchanged metadata in Stable/CompletingRebalance gets
        // the current generation back without a rebalance (GroupCoordinator.doCurrentMemberJoinGroup).
        if existing == Some(true)
            && matches!(
                g.state,
                GroupState::Stable | GroupState::CompletingRebalance
            )
            && (g.leader.as_deref() != Some(&member_id)
                || g.state == GroupState::CompletingRebalance)
        {
            let m = g.members.get_mut(&member_id).expect("exists");
            m.session_deadline = now + session;
            let is_leader = g.leader.as_deref() == Some(&member_id);
            return Reply::Now(g.join_result(&member_id, is_leader, false));
        }
        let m = g
            .members
            .entry(member_id.clone())
            .or_insert_with(|| Member {
                id: member_id.clone(),
                instance_id: j.instance_id.clone(),
                client_id: j.client_id.clone(),
                client_host: j.client_host.clone(),
                session_timeout: session,
                rebalance_timeout: rebalance,
                protocols: Vec::new(),
                assignment: Bytes::new(),
                session_deadline: now + session,
                join_ticket: None,
                sync_ticket: None,
            });
        m.protocols = j.protocols;
        m.session_timeout = session;
        m.rebalance_timeout = rebalance;
        m.session_deadline = now + session;
        m.join_ticket = Some((ticket, j.version));
        if g.protocol_type.is_none() || g.state == GroupState::Empty {
            g.protocol_type = Some(j.protocol_type);
        }
        if g.state != GroupState::PreparingRebalance {
            g.prepare_rebalance(now, delay, &mut self.outbox);
        } else if let Some(until) = g.initial_delay_until {
            // KIP-134: each new member during the initial delay extends it, bounded by the
            // rebalance timeout.
            let cap = g.rebalance_deadline.unwrap_or(until);
            g.initial_delay_until = Some((now + delay).min(cap).max(until));
        }
        g.maybe_complete_join(now, &mut self.outbox);
        Reply::Parked
    }

    pub(crate) fn handle_sync(
        &mut self,
        group_id: &str,
        ticket: Ticket,
        generation: i32,
        member_id: &str,
        instance_id: Option<&str>,
        assignments: Vec<(String, Bytes)>,
    ) -> Reply<SyncResult> {
        let err = |code| {
            Reply::Now(SyncResult {
                error_code: code,
                ..Default::default()
            })
        };
        let Some(g) = self.groups.get_mut(group_id) else {
            return err(UNKNOWN_MEMBER_ID);
        };
        if let Some(code) = g.check_member(member_id, instance_id) {
            return err(code);
        }
        if generation != g.generation {
            return err(ILLEGAL_GENERATION);
        }
        match g.state {
            GroupState::Empty => err(UNKNOWN_MEMBER_ID),
            GroupState::PreparingRebalance => err(REBALANCE_IN_PROGRESS),
            GroupState::Stable => {
                let m = &g.members[member_id];
                Reply::Now(SyncResult {
                    error_code: NONE,
                    protocol_type: g.protocol_type.clone(),
                    protocol_name: g.protocol_name.clone(),
                    assignment: m.assignment.clone(),
                })
            }
            GroupState::CompletingRebalance => {
                g.members.get_mut(member_id).expect("checked").sync_ticket = Some(ticket);
                if g.leader.as_deref() == Some(member_id) {
                    let mut map: HashMap<String, Bytes> = assignments.into_iter().collect();
                    for m in g.members.values_mut() {
                        m.assignment = map.remove(&m.id).unwrap_or_default();
                    }
                    g.state = GroupState::Stable;
                    g.rebalance_deadline = None;
                    for m in g.members.values_mut() {
                        if let Some(t) = m.sync_ticket.take() {
                            self.outbox.push_back((
                                t,
                                Output::Sync(SyncResult {
                                    error_code: NONE,
                                    protocol_type: g.protocol_type.clone(),
                                    protocol_name: g.protocol_name.clone(),
                                    assignment: m.assignment.clone(),
                                }),
                            ));
                        }
                    }
                }
                Reply::Parked
            }
        }
    }

    pub(crate) fn handle_heartbeat(
        &mut self,
        now: Instant,
        group_id: &str,
        generation: i32,
        member_id: &str,
        instance_id: Option<&str>,
    ) -> i16 {
        let Some(g) = self.groups.get_mut(group_id) else {
            return UNKNOWN_MEMBER_ID;
        };
        if let Some(code) = g.check_member(member_id, instance_id) {
            return code;
        }
        let m = g.members.get_mut(member_id).expect("checked");
        m.session_deadline = now + m.session_timeout;
        if generation != g.generation {
            return ILLEGAL_GENERATION;
        }
        match g.state {
            GroupState::PreparingRebalance => REBALANCE_IN_PROGRESS,
            GroupState::Empty => UNKNOWN_MEMBER_ID,
            _ => NONE,
        }
    }

    /// Removes one member (LeaveGroup). Empty `member_id` with an instance id looks it up (v3+).
    pub(crate) fn handle_leave(
        &mut self,
        now: Instant,
        group_id: &str,
        member_id: &str,
        instance_id: Option<&str>,
    ) -> i16 {
        let delay = self.initial_rebalance_delay;
        let Some(g) = self.groups.get_mut(group_id) else {
            return UNKNOWN_MEMBER_ID;
        };
        let id = match (member_id.is_empty(), instance_id) {
            (true, Some(inst)) => match g.static_members.get(inst) {
                Some(id) => id.clone(),
                None => return UNKNOWN_MEMBER_ID,
            },
            _ => member_id.to_string(),
        };
        if let Some(code) = g.check_member(&id, instance_id) {
            return code;
        }
        g.remove_member(now, &id, delay, &mut self.outbox);
        NONE
    }

    /// Validates a commit's generation/member against the group (classic rules).
    pub(crate) fn validate_commit(
        &mut self,
        now: Instant,
        group_id: &str,
        generation: i32,
        member_id: &str,
        instance_id: Option<&str>,
    ) -> i16 {
        let Some(g) = self.groups.get_mut(group_id) else {
            return if generation < 0 {
                NONE
            } else {
                ILLEGAL_GENERATION
            };
        };
        if generation < 0 && g.state == GroupState::Empty {
            return NONE; // simple commit by a consumer outside any group
        }
        if let Some(code) = g.check_member(member_id, instance_id) {
            return code;
        }
        if generation != g.generation {
            return ILLEGAL_GENERATION;
        }
        if g.state == GroupState::CompletingRebalance {
            return REBALANCE_IN_PROGRESS;
        }
        let m = g.members.get_mut(member_id).expect("checked");
        m.session_deadline = now + m.session_timeout;
        NONE
    }

    /// Expires sessions, pending members, initial delays and rebalance timeouts due at `now`.
    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        let delay = self.initial_rebalance_delay;
        for g in self.groups.values_mut() {
            g.pending.retain(|_, &mut t| t > now);
            // Members awaiting a JoinGroup/SyncGroup answer are kept alive (MemberMetadata.shouldKeepAlive).
            let expired: Vec<String> = g
                .members
                .values()
                .filter(|m| {
                    m.join_ticket.is_none() && m.sync_ticket.is_none() && m.session_deadline <= now
                })
                .map(|m| m.id.clone())
                .collect();
            for id in expired {
                tracing::debug!(group = %g.id, member = %id, "mock: session expired");
                g.remove_member(now, &id, delay, &mut self.outbox);
            }
            if g.initial_delay_until.is_some_and(|t| t <= now) {
                g.initial_delay_until = None;
            }
            if g.state == GroupState::CompletingRebalance
                && g.rebalance_deadline.is_some_and(|t| t <= now)
            {
                // Pending-sync timeout (Java: ClassicGroup pending sync members, KAFKA-13216): members
                // that did not send SyncGroup within the rebalance timeout are removed.
                let lagging: Vec<String> = g
                    .members
                    .values()
                    .filter(|m| m.sync_ticket.is_none())
                    .map(|m| m.id.clone())
                    .collect();
                g.rebalance_deadline = None;
                for id in lagging {
                    g.remove_member(now, &id, delay, &mut self.outbox);
                }
            }
            if g.state == GroupState::PreparingRebalance {
                if g.rebalance_deadline.is_some_and(|t| t <= now) {
                    // Rebalance timeout: members that did not rejoin are dropped (Java:
                    // onCompleteJoin removes members not awaiting join).
                    let gone: Vec<String> = g
                        .members
                        .values()
                        .filter(|m| m.join_ticket.is_none())
                        .map(|m| m.id.clone())
                        .collect();
                    for id in gone {
                        g.members.remove(&id);
                        if let Some(inst) = g
                            .static_members
                            .iter()
                            .find(|(_, v)| **v == id)
                            .map(|(k, _)| k.clone())
                        {
                            g.static_members.remove(&inst);
                        }
                    }
                    g.pending.clear();
                    g.initial_delay_until = None;
                }
                g.maybe_complete_join(now, &mut self.outbox);
            }
        }
    }

    /// Groups that exist (have members or ever had a generation) as (id, state, protocol type).
    pub(crate) fn list(&self) -> Vec<(String, GroupState, String)> {
        let mut v: Vec<_> = self
            .groups
            .values()
            .map(|g| {
                (
                    g.id.clone(),
                    g.state,
                    g.protocol_type.clone().unwrap_or_default(),
                )
            })
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }
}

impl Group {
    fn check_member(&self, member_id: &str, instance_id: Option<&str>) -> Option<i16> {
        if let Some(inst) = instance_id {
            match self.static_members.get(inst) {
                Some(id) if id != member_id => return Some(FENCED_INSTANCE_ID),
                _ => {}
            }
        }
        if !self.members.contains_key(member_id) {
            return Some(UNKNOWN_MEMBER_ID);
        }
        None
    }

    fn join_result(
        &self,
        member_id: &str,
        with_members: bool,
        skip_assignment: bool,
    ) -> JoinResult {
        let proto = self.protocol_name.clone().unwrap_or_default();
        JoinResult {
            error_code: NONE,
            generation_id: self.generation,
            protocol_type: self.protocol_type.clone(),
            protocol_name: self.protocol_name.clone(),
            leader: self.leader.clone().unwrap_or_default(),
            member_id: member_id.to_string(),
            members: if with_members {
                self.members
                    .values()
                    .map(|m| (m.id.clone(), m.instance_id.clone(), m.metadata_for(&proto)))
                    .collect()
            } else {
                Vec::new()
            },
            skip_assignment,
        }
    }

    fn prepare_rebalance(
        &mut self,
        now: Instant,
        delay: Duration,
        outbox: &mut VecDeque<(Ticket, Output)>,
    ) {
        // Parked SyncGroups of the old generation learn about the new rebalance.
        for m in self.members.values_mut() {
            if let Some(t) = m.sync_ticket.take() {
                outbox.push_back((
                    t,
                    Output::Sync(SyncResult {
                        error_code: REBALANCE_IN_PROGRESS,
                        ..Default::default()
                    }),
                ));
            }
        }
        let timeout = self
            .members
            .values()
            .map(|m| m.rebalance_timeout)
            .max()
            .unwrap_or_default();
        self.rebalance_deadline = Some(now + timeout);
        if self.state == GroupState::Empty && !delay.is_zero() {
            self.initial_delay_until = Some(now + delay.min(timeout));
        }
        self.state = GroupState::PreparingRebalance;
    }

    fn remove_member(
        &mut self,
        now: Instant,
        id: &str,
        delay: Duration,
        outbox: &mut VecDeque<(Ticket, Output)>,
    ) {
        let Some(m) = self.members.remove(id) else {
            return;
        };
        if let Some(inst) = &m.instance_id {
            if self.static_members.get(inst).is_some_and(|v| v == id) {
                self.static_members.remove(inst);
            }
        }
        if let Some((t, _)) = m.join_ticket {
            outbox.push_back((
                t,
                Output::Join(JoinResult {
                    error_code: UNKNOWN_MEMBER_ID,
                    generation_id: -1,
                    member_id: id.to_string(),
                    ..Default::default()
                }),
            ));
        }
        if let Some(t) = m.sync_ticket {
            outbox.push_back((
                t,
                Output::Sync(SyncResult {
                    error_code: UNKNOWN_MEMBER_ID,
                    ..Default::default()
                }),
            ));
        }
        if self.leader.as_deref() == Some(id) {
            self.leader = None;
        }
        match self.state {
            GroupState::Stable | GroupState::CompletingRebalance => {
                if self.members.is_empty() {
                    self.state = GroupState::Empty;
                    self.generation += 1;
                    self.rebalance_deadline = None;
                } else {
                    self.prepare_rebalance(now, delay, outbox);
                }
            }
            GroupState::PreparingRebalance => self.maybe_complete_join(now, outbox),
            GroupState::Empty => {}
        }
    }

    fn maybe_complete_join(&mut self, now: Instant, outbox: &mut VecDeque<(Ticket, Output)>) {
        if self.state != GroupState::PreparingRebalance || self.initial_delay_until.is_some() {
            return;
        }
        let all_joined =
            self.members.values().all(|m| m.join_ticket.is_some()) && self.pending.is_empty();
        let timed_out = self.rebalance_deadline.is_some_and(|t| t <= now);
        if !all_joined && !timed_out {
            return;
        }
        self.members.retain(|_, m| m.join_ticket.is_some());
        self.rebalance_deadline = None;
        self.generation += 1;
        if self.members.is_empty() {
            self.state = GroupState::Empty;
            self.leader = None;
            self.protocol_name = None;
            return;
        }
        // Protocol: among those every member supports, the one with most first-choice votes
        // (ClassicGroup.selectProtocol).
        let first = self.members.values().next().expect("non-empty");
        let candidates: Vec<String> = first
            .protocols
            .iter()
            .map(|(p, _)| p.clone())
            .filter(|p| {
                self.members
                    .values()
                    .all(|m| m.protocols.iter().any(|(q, _)| q == p))
            })
            .collect();
        let mut votes: Vec<(String, usize)> = candidates.iter().map(|c| (c.clone(), 0)).collect();
        for m in self.members.values() {
            if let Some((p, _)) = m.protocols.iter().find(|(p, _)| candidates.contains(p)) {
                if let Some(v) = votes.iter_mut().find(|(c, _)| c == p) {
                    v.1 += 1;
                }
            }
        }
        let chosen = votes.iter().max_by_key(|(_, n)| *n).map(|(p, _)| p.clone());
        self.protocol_name = chosen;
        if self
            .leader
            .as_ref()
            .is_none_or(|l| !self.members.contains_key(l))
        {
            self.leader = self.members.keys().next().cloned();
        }
        self.state = GroupState::CompletingRebalance;
        let sync_timeout = self
            .members
            .values()
            .map(|m| m.rebalance_timeout)
            .max()
            .unwrap_or_default();
        self.rebalance_deadline = Some(now + sync_timeout);
        let leader = self.leader.clone().unwrap_or_default();
        let ids: Vec<String> = self.members.keys().cloned().collect();
        for id in ids {
            let res = self.join_result(&id, id == leader, false);
            let m = self.members.get_mut(&id).expect("exists");
            m.session_deadline = now + m.session_timeout;
            if let Some((t, _v)) = m.join_ticket.take() {
                outbox.push_back((t, Output::Join(res)));
            }
        }
    }
}

#[cfg(test)]
#[path = "group_tests.rs"]
mod tests;

/// Whether two JoinGroup protocol lists ask for the same thing: the same protocol names with
/// the same subscribed topics. Kafka compares what the member subscribes to, not the raw
/// metadata bytes: a restarted static member's metadata differs in owned partitions and
/// generation, and that alone must not cause a rebalance (KIP-345).
fn same_subscription(a: &[(String, Bytes)], b: &[(String, Bytes)]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|((na, ma), (nb, mb))| {
            na == nb && (ma == mb || subscribed_topics(ma).is_some_and(|t| Some(t) == subscribed_topics(mb)))
        })
}

/// The topic list of a ConsumerProtocol subscription (version, then an int32-counted array of
/// int16-length strings — the same in every version), sorted.
fn subscribed_topics(meta: &[u8]) -> Option<Vec<String>> {
    let mut pos = 2usize;
    let count = i32::from_be_bytes(meta.get(pos..pos + 4)?.try_into().ok()?);
    pos += 4;
    if count < 0 || count as usize > meta.len() {
        return None;
    }
    let mut out = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let len = i16::from_be_bytes(meta.get(pos..pos + 2)?.try_into().ok()?);
        pos += 2;
        let len = usize::try_from(len).ok()?;
        out.push(String::from_utf8(meta.get(pos..pos + len)?.to_vec()).ok()?);
        pos += len;
    }
    out.sort();
    Some(out)
}
