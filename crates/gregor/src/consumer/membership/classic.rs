//! A member of a classic consumer group (JoinGroup / SyncGroup / Heartbeat / LeaveGroup),
//! without I/O: Java's `AbstractCoordinator` + `ConsumerCoordinator`, as a state machine.
//!
//! A rebalance, step by step:
//! 1. *Prepare* (Java `onJoinPrepare`): with the eager protocol every owned partition is
//!    revoked, with the cooperative one (KIP-429) only those of topics no longer subscribed.
//!    Revoking means: [`Event::Revoke`] (the driver runs the listener and takes the partitions
//!    out of the assignment), then a commit of their positions ([`CommitOrigin::Revocation`],
//!    bounded by the rebalance timeout), then the next step whatever the commit's outcome.
//! 2. *JoinGroup*, carrying the partitions still owned. A JoinGroup may park at the
//!    coordinator for up to the rebalance timeout; no heartbeats meanwhile.
//! 3. The leader computes the assignment ([`Request::Assign`], a local job of the driver).
//! 4. *SyncGroup*; heartbeats run from the JoinGroup answer on. The answer's partitions are
//!    compared with the owned ones: new ones are [`Event::Assigned`]; with the cooperative
//!    protocol, owned ones missing from it are revoked and a follow-up rebalance hands them to
//!    their next owner.
//!
//! Timers (one table, `timers.rs`): the heartbeat, the session (no successful heartbeat for
//! `session.timeout.ms` → the coordinator is presumed gone and looked up again; the broker then
//! tells whether the member survived), the poll interval (no `poll` for `max.poll.interval.ms`
//! → the partitions are lost, the member leaves and rejoins on the next poll), auto-commit, the
//! rejoin and coordinator backoffs, the commit queue, `close()`'s deadline.
//!
//! Every broker error code is decided by the rules table (`rules::group`, `rules::offsets`).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use super::commits::{CommitOrigin, OpId, PendingCommit};
use super::timers::Timer;
use super::{
    commit_failed, is_transport_retriable, rebalance_in_progress, Core, CoreConfig, Event, JoinResult, Membership,
    Outgoing, OffsetFetchResult, Request, RequestId, Response, Target,
};
use crate::consumer::assignor::RebalanceProtocol;
use crate::consumer::types::{OffsetAndMetadata, TopicPartition};
use crate::error::{Error, ErrorKind, Result};
use crate::protocol_errors::KafkaCode;
use crate::rules::{self, Action, Api};

/// Settings of a classic member.
#[derive(Debug, Clone)]
pub(crate) struct ClassicConfig {
    pub(crate) core: CoreConfig,
    /// `group.instance.id` (KIP-345 static membership).
    pub(crate) instance_id: Option<String>,
    pub(crate) session_timeout: Duration,
    pub(crate) heartbeat_interval: Duration,
    /// `max.poll.interval.ms`: the rebalance timeout and the poll interval.
    pub(crate) rebalance_timeout: Duration,
    /// Eager, or cooperative when every configured assignor supports it (KIP-429).
    pub(crate) protocol: RebalanceProtocol,
}

/// Where the member is in the join cycle (Java's `MemberState`, split where gregor waits for
/// different things).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Not in the group (not subscribed, left, or between a failure and the next join).
    Unjoined,
    /// Releasing partitions before a JoinGroup (`onJoinPrepare`).
    Preparing,
    /// JoinGroup to send (`None`: waiting for the coordinator or the backoff) or in flight.
    Joining(Option<RequestId>),
    /// The leader computes the assignment.
    Assigning(RequestId),
    /// SyncGroup in flight.
    Syncing(RequestId),
    Stable,
}

/// What follows a revocation once its commit ended.
#[derive(Debug, Clone, PartialEq, Eq)]
enum AfterRevoke {
    /// Send the JoinGroup (the revocation was the rebalance's preparation).
    Join,
    /// The cooperative follow-up rebalance (KIP-429).
    FollowUp,
    /// Nothing (an eager assignment that dropped partitions).
    Nothing,
    /// Leave the group (unsubscribed, or closing).
    Leave(String),
}

#[derive(Debug, Clone)]
struct Revocation {
    partitions: Vec<TopicPartition>,
    /// `None` until the driver reported the listener done (`handle_revoked`).
    commit: Option<Option<OpId>>,
    then: AfterRevoke,
}

/// The member.
#[derive(Debug)]
pub(crate) struct ClassicMember {
    cfg: ClassicConfig,
    core: Core,
    phase: Phase,
    generation: i32,
    member_id: String,
    owned: BTreeSet<TopicPartition>,
    /// Subscribed through `subscribe` (group-managed); false for `assign` or nothing.
    subscribed: bool,
    /// The subscribed topics and their partition counts, from the driver's metadata.
    topics: BTreeMap<String, usize>,
    /// The counts the current assignment was made for (a change means rejoin).
    assigned_counts: BTreeMap<String, usize>,
    /// A rejoin is needed, for this reason.
    rejoin: Option<String>,
    /// Left because the application stopped polling; rejoins on its next poll.
    stale: bool,
    revocation: Option<Revocation>,
    heartbeat_in_flight: Option<(RequestId, Membership)>,
    heartbeat_failures: u32,
    join_failures: u32,
    last_poll: Option<Instant>,
    /// When the current membership started counting the poll interval (Java resets the poll
    /// timer when the heartbeat thread is enabled, at the JoinGroup answer).
    poll_anchor: Option<Instant>,
    closing: bool,
    leave_in_flight: Option<RequestId>,
    closed: bool,
    /// The reason the next JoinGroup carries (JoinGroup v8+).
    join_reason: String,
    /// The assignor the coordinator chose in the last JoinGroup answer. SyncGroup v5+ must
    /// name it, the leader's included: Kafka's `KafkaApis.handleSyncGroupRequest` answers
    /// INCONSISTENT_GROUP_PROTOCOL when ProtocolType or ProtocolName is missing
    /// (`SyncGroupRequest.areMandatoryProtocolTypeAndNamePresent`).
    protocol: String,
}

impl ClassicMember {
    pub(crate) fn new(cfg: ClassicConfig) -> Self {
        ClassicMember {
            core: Core::new(cfg.core.clone()),
            cfg,
            phase: Phase::Unjoined,
            generation: -1,
            member_id: String::new(),
            owned: BTreeSet::new(),
            subscribed: false,
            topics: BTreeMap::new(),
            assigned_counts: BTreeMap::new(),
            rejoin: None,
            stale: false,
            revocation: None,
            heartbeat_in_flight: None,
            heartbeat_failures: 0,
            join_failures: 0,
            last_poll: None,
            poll_anchor: None,
            closing: false,
            leave_in_flight: None,
            closed: false,
            join_reason: String::new(),
            protocol: String::new(),
        }
    }

    /// The generation and member id commits of positions read now must carry.
    pub(crate) fn membership(&self) -> Membership {
        Membership { generation: self.generation, member_id: self.member_id.clone() }
    }

    /// The coordinator, when known.
    pub(crate) fn coordinator(&self) -> Option<i32> {
        self.core.coordinator.known()
    }

    /// Classic heartbeats have a socket of their own (or may wait): nothing to tell the fetch
    /// planner.
    pub(crate) fn next_heartbeat(&self) -> Option<Instant> {
        None
    }

    pub(crate) fn handle_metadata_view(&mut self, now: Instant, view: &super::MetadataView) {
        self.handle_metadata(now, view.topics.clone());
    }

    /// True once the member took part in a completed rebalance and has not left since.
    #[cfg(test)]
    pub(crate) fn is_stable(&self) -> bool {
        self.phase == Phase::Stable
    }

    /// The next request for the driver.
    pub(crate) fn poll_request(&mut self, now: Instant) -> Option<Outgoing> {
        self.drive(now);
        self.core.poll_request()
    }

    /// The next local effect for the driver.
    pub(crate) fn poll_event(&mut self) -> Option<Event> {
        self.core.poll_event()
    }

    /// When `handle_timeout` must be called next.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.core.timers.next()
    }

    /// Whatever timers are due.
    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        if self.core.timers.expired(Timer::Close, now) {
            self.core.timers.stop(Timer::Close);
            if !self.closed {
                tracing::warn!("close: leaving the group did not complete before the deadline");
                self.finish_close();
            }
        }
        if self.core.timers.expired(Timer::PollInterval, now) {
            self.core.timers.stop(Timer::PollInterval);
            self.poll_interval_expired(now);
        }
        if self.core.timers.expired(Timer::Session, now) && self.heartbeating() {
            // Java `HeartbeatThread.run`: the session expired without a successful heartbeat
            // response; make sure the coordinator is still the coordinator. The broker's answer
            // to the next heartbeat says whether the member is still in the group.
            self.core.timers.stop(Timer::Session);
            self.core.coordinator_lost("session timed out without a heartbeat response");
        } else if self.core.timers.expired(Timer::Session, now) {
            self.core.timers.stop(Timer::Session);
        }
        if self.core.timers.expired(Timer::AutoCommit, now) {
            self.core.auto_commit_from(now);
            if self.phase == Phase::Stable && self.revocation.is_none() && !self.core.commits.has(CommitOrigin::Auto) {
                self.core.emit(Event::AutoCommitDue);
            }
        }
        if self.core.timers.expired(Timer::RejoinBackoff, now) {
            self.core.timers.stop(Timer::RejoinBackoff);
        }
        if self.core.timers.expired(Timer::CoordinatorBackoff, now) {
            self.core.timers.stop(Timer::CoordinatorBackoff);
        }
        if self.core.timers.expired(Timer::Heartbeat, now)
            && (self.core.coordinator.known().is_none() || !self.heartbeating() || self.heartbeat_in_flight.is_some())
        {
            // Due, but nobody to send it to: it goes out once the coordinator is found.
            self.core.timers.stop(Timer::Heartbeat);
        }
        if self.core.timers.expired(Timer::Requests, now) {
            for c in self.core.expire_requests(now) {
                self.after_commit(now, &c);
            }
        }
        self.drive(now);
    }

    /// The application polled at `at` (the input of the poll-interval timer).
    pub(crate) fn handle_application_poll(&mut self, now: Instant, at: Instant) {
        if self.last_poll.is_some_and(|p| p >= at) {
            return;
        }
        self.last_poll = Some(at);
        if self.stale {
            // Java: the next poll after a poll timeout rejoins.
            self.stale = false;
            self.core.emit(Event::PollTimedOut(false));
            self.request_rejoin("poll after max.poll.interval.ms expired");
        }
        self.arm_poll_timer();
        self.drive(now);
    }

    /// `subscribe` (true) or `unsubscribe` / `assign` (false) was called.
    pub(crate) fn handle_subscription(&mut self, now: Instant, subscribed: bool) {
        let was = self.subscribed;
        self.subscribed = subscribed;
        if subscribed {
            self.request_rejoin("subscription changed");
        } else if was {
            self.rejoin = None;
            self.stale = false;
            self.start_leave(now, "unsubscribed");
        }
        self.drive(now);
    }

    /// The subscribed topics (a pattern resolved against metadata) and their partition counts.
    /// A change of the counts after an assignment means a new rebalance (Java
    /// `ConsumerCoordinator.rejoinNeededOrPending`: the metadata snapshot moved).
    pub(crate) fn handle_metadata(&mut self, now: Instant, topics: BTreeMap<String, usize>) {
        if topics == self.topics {
            return;
        }
        self.topics = topics;
        if self.phase == Phase::Stable && !self.topics.is_empty() {
            if self.assigned_counts.is_empty() {
                self.assigned_counts = self.topics.clone();
            } else if self.assigned_counts != self.topics {
                self.request_rejoin("subscribed topics or their partitions changed");
            }
        }
        self.drive(now);
    }

    /// The application (or the driver) asks for a rejoin.
    pub(crate) fn request_rejoin(&mut self, why: &str) {
        if !self.subscribed {
            return;
        }
        if self.rejoin.is_none() {
            tracing::info!(reason = why, "rejoin requested");
            self.rejoin = Some(why.to_string());
        }
    }

    /// `close()`: commit (through the revocation) and leave by `deadline`; [`Event::Closed`]
    /// tells when it is done.
    pub(crate) fn handle_close(&mut self, now: Instant, deadline: Instant) {
        if self.closing {
            return;
        }
        self.closing = true;
        self.rejoin = None;
        self.core.timers.set(Timer::Close, deadline);
        self.core.timers.stop(Timer::PollInterval);
        self.core.timers.stop(Timer::AutoCommit);
        if self.core.failed {
            self.finish_close();
            return;
        }
        if self.subscribed {
            self.start_leave(now, "the consumer is closing");
        } else if self.core.cfg.auto_commit.is_some() {
            // Manual assignment: Java's close commits the consumed positions
            // (`maybeAutoCommitOffsetsSync`); the driver answers with `handle_auto_commit`.
            self.core.emit(Event::AutoCommitDue);
        } else {
            self.finish_close();
        }
        self.drive(now);
    }

    /// Queues a commit. `read_under` is the membership the positions were read under (the
    /// published one, read together with them); `None` means now.
    pub(crate) fn commit(
        &mut self,
        now: Instant,
        offsets: BTreeMap<TopicPartition, OffsetAndMetadata>,
        read_under: Option<Membership>,
        origin: CommitOrigin,
    ) -> OpId {
        let read_under = read_under.unwrap_or_else(|| self.membership());
        let deadline = now + self.core.cfg.api_timeout;
        let id = self.core.commits.push_commit(offsets, read_under, origin, deadline);
        self.drive(now);
        id
    }

    /// The consumed positions the driver collected for [`Event::AutoCommitDue`].
    pub(crate) fn handle_auto_commit(&mut self, now: Instant, positions: BTreeMap<TopicPartition, OffsetAndMetadata>) {
        if self.closing && !self.subscribed {
            if positions.is_empty() {
                self.finish_close();
                return;
            }
            let deadline = self.core.timers.get(Timer::Close).unwrap_or(now);
            let read = self.membership();
            let id = self.core.commits.push_commit(positions, read, CommitOrigin::Close, deadline);
            self.revocation =
                Some(Revocation { partitions: Vec::new(), commit: Some(Some(id)), then: AfterRevoke::Leave(String::new()) });
        } else if !positions.is_empty() {
            // One attempt; a stuck one ends before the next interval.
            let interval = self.core.cfg.auto_commit.unwrap_or(self.core.cfg.api_timeout);
            let read = self.membership();
            self.core.commits.push_commit(positions, read, CommitOrigin::Auto, now + interval);
        }
        self.drive(now);
    }

    /// Queues an offset lookup for `partitions` (bounded by `default.api.timeout.ms`).
    pub(crate) fn fetch_committed(&mut self, now: Instant, partitions: Vec<TopicPartition>) -> OpId {
        let id = self.core.commits.push_fetch(partitions, now + self.core.cfg.api_timeout);
        self.drive(now);
        id
    }

    /// The listener ran for an [`Event::Revoke`] and the partitions left the assignment:
    /// commit `listener_commit` and, with auto-commit, the positions.
    pub(crate) fn handle_revoked(
        &mut self,
        now: Instant,
        positions: BTreeMap<TopicPartition, OffsetAndMetadata>,
        listener_commit: BTreeMap<TopicPartition, OffsetAndMetadata>,
    ) {
        let Some(rev) = self.revocation.as_mut().filter(|r| r.commit.is_none()) else { return };
        let mut offsets = listener_commit;
        if self.core.cfg.auto_commit.is_some() {
            for (tp, om) in positions {
                offsets.entry(tp).or_insert(om);
            }
        }
        if offsets.is_empty() {
            rev.commit = Some(None);
            self.finish_revocation(now);
        } else {
            let deadline = match self.core.timers.get(Timer::Close) {
                Some(close) => close,
                None => now + self.cfg.rebalance_timeout,
            };
            let origin = if self.closing { CommitOrigin::Close } else { CommitOrigin::Revocation };
            let read = Membership { generation: self.generation, member_id: self.member_id.clone() };
            let id = self.core.commits.push_commit(offsets, read, origin, deadline);
            if let Some(rev) = self.revocation.as_mut() {
                rev.commit = Some(Some(id));
            }
        }
        self.drive(now);
    }

    /// An answer to request `id`.
    pub(crate) fn handle_response(&mut self, now: Instant, id: RequestId, r: Response) {
        match r {
            Response::FindCoordinator { code, node } => self.handle_find_coordinator_response(now, id, code, node),
            Response::JoinGroup(j) => self.handle_join_response(now, id, j),
            Response::Assigned(a) => self.handle_assignment(now, id, Ok(a)),
            Response::SyncGroup { code, assignment } => self.handle_sync_response(now, id, code, assignment),
            Response::Heartbeat { code } => self.handle_heartbeat_response(now, id, code),
            Response::LeaveGroup { code } => self.handle_leave_response(now, id, code),
            Response::OffsetCommit(parts) => self.handle_commit_response(now, id, parts),
            Response::OffsetFetch(f) => self.handle_offset_fetch_response(now, id, f),
            Response::ConsumerHeartbeat(_) => tracing::debug!("a KIP-848 heartbeat answer for a classic member"),
        }
        self.drive(now);
    }

    /// Request `id` got no answer (connection lost, timed out, could not be built, or the
    /// driver's local job failed).
    pub(crate) fn handle_failure(&mut self, now: Instant, id: RequestId, e: &Error) {
        let retriable = is_transport_retriable(e);
        if self.core.coordinator.is_lookup(id) {
            let o = self.core.coordinator.handle_failure(now, id, e);
            self.core.apply_find(o);
        } else if let Some(c) = self.core.commits.take_commit_by_request(id) {
            if retriable {
                self.core.coordinator_lost(&e.to_string());
            }
            self.settle_commit(now, c, if retriable { Err(e.clone()) } else { Ok(Err(e.clone())) });
        } else if self.core.handle_offset_fetch_failure(now, id, e) {
        } else if self.heartbeat_in_flight.as_ref().is_some_and(|(h, _)| *h == id) {
            self.heartbeat_in_flight = None;
            if retriable {
                self.core.coordinator_lost(&e.to_string());
                self.heartbeat_backoff(now);
            } else {
                self.fail(now, e.clone());
            }
        } else if self.phase == Phase::Joining(Some(id)) || self.phase == Phase::Syncing(id) {
            let what = if matches!(self.phase, Phase::Joining(_)) { "JoinGroup" } else { "SyncGroup" };
            if retriable {
                self.core.coordinator_lost(&e.to_string());
                self.join_failed(now, &format!("{what} failed: {e}"));
            } else {
                self.fail(now, e.clone());
            }
        } else if self.phase == Phase::Assigning(id) {
            self.handle_assignment(now, id, Err(e.clone()));
        } else if self.leave_in_flight == Some(id) {
            tracing::debug!(error = %e, "LeaveGroup failed");
            self.leave_done();
        }
        self.drive(now);
    }

    fn handle_find_coordinator_response(&mut self, now: Instant, id: RequestId, code: KafkaCode, node: i32) {
        let o = self.core.coordinator.handle_response(now, id, code, node);
        if self.core.apply_find(o).is_some() && self.heartbeating() {
            // Java `FindCoordinatorResponseHandler`: `heartbeat.resetSessionTimeout()`.
            self.core.timers.set(Timer::Session, now + self.cfg.session_timeout);
            if self.core.timers.get(Timer::Heartbeat).is_none() {
                self.core.timers.set(Timer::Heartbeat, now);
            }
        }
    }

    /// JoinGroup's answer (Java `JoinGroupResponseHandler.handle`).
    pub(crate) fn handle_join_response(&mut self, now: Instant, id: RequestId, r: JoinResult) {
        if self.phase != Phase::Joining(Some(id)) {
            tracing::debug!("ignoring the answer to an abandoned JoinGroup");
            return;
        }
        match rules::action(Api::JoinGroup, r.code) {
            Action::Proceed => {
                self.generation = r.generation;
                self.member_id = r.member_id.clone();
                self.publish();
                // The heartbeat thread is enabled from here on (`resetTimeouts`).
                self.core.timers.set(Timer::Heartbeat, now + self.cfg.heartbeat_interval);
                self.core.timers.set(Timer::Session, now + self.cfg.session_timeout);
                self.poll_anchor = Some(now);
                self.arm_poll_timer();
                let protocol = r.protocol.clone().unwrap_or_default();
                self.protocol = protocol.clone();
                if r.leader == r.member_id && !r.skip_assignment {
                    tracing::info!(generation = r.generation, members = r.members.len(), assignor = %protocol, "leading the rebalance");
                    let req = self.core.send(Target::Local, Request::Assign { protocol, members: r.members });
                    self.phase = Phase::Assigning(req);
                } else {
                    self.send_sync(now, protocol, Vec::new());
                }
            }
            Action::Rejoin => {
                if r.code == KafkaCode::MEMBER_ID_REQUIRED {
                    // KIP-394: the first JoinGroup only obtains a member id.
                    self.member_id = r.member_id;
                    self.publish();
                }
                tracing::debug!(code = r.code.name(), "JoinGroup: joining again");
                self.phase = Phase::Joining(None);
            }
            Action::ResetMember => {
                self.reset(now, true, "JoinGroup: UNKNOWN_MEMBER_ID");
                self.phase = Phase::Joining(None);
            }
            Action::RediscoverCoordinator => {
                self.core.coordinator_lost(&format!("JoinGroup: {}", r.code.name()));
                self.join_failed(now, "JoinGroup: the coordinator moved");
            }
            Action::Retry => self.join_failed(now, &format!("JoinGroup: {}", r.code.name())),
            Action::Fenced => self.fail(now, self.fenced_error(r.code)),
            _ => self.fail(now, Error::broker_code(r.code.code(), "JoinGroup failed")),
        }
    }

    /// The leader's assignment, computed by the driver.
    pub(crate) fn handle_assignment(&mut self, now: Instant, id: RequestId, r: Result<Vec<(String, Bytes)>>) {
        if self.phase != Phase::Assigning(id) {
            return;
        }
        match r {
            Ok(assignments) => self.send_sync(now, self.protocol.clone(), assignments),
            Err(e) if is_transport_retriable(&e) => self.join_failed(now, &format!("assignment failed: {e}")),
            Err(e) => self.fail(now, e),
        }
    }

    /// SyncGroup's answer (Java `SyncGroupResponseHandler.handle`, then `onJoinComplete`).
    pub(crate) fn handle_sync_response(&mut self, now: Instant, id: RequestId, code: KafkaCode, assigned: Vec<TopicPartition>) {
        if self.phase != Phase::Syncing(id) {
            tracing::debug!("ignoring the answer to an abandoned SyncGroup");
            return;
        }
        match rules::action(Api::SyncGroup, code) {
            Action::Proceed => self.complete_rebalance(now, assigned),
            Action::Rejoin => {
                tracing::info!("SyncGroup: the group began another rebalance; joining again");
                self.phase = Phase::Joining(None);
            }
            Action::ResetGeneration => {
                self.reset(now, false, "SyncGroup: ILLEGAL_GENERATION");
                self.phase = Phase::Joining(None);
            }
            Action::ResetMember => {
                self.reset(now, true, "SyncGroup: UNKNOWN_MEMBER_ID");
                self.phase = Phase::Joining(None);
            }
            Action::RediscoverCoordinator => {
                self.core.coordinator_lost(&format!("SyncGroup: {}", code.name()));
                self.join_failed(now, "SyncGroup: the coordinator moved");
            }
            Action::Retry => self.join_failed(now, &format!("SyncGroup: {}", code.name())),
            Action::Fenced => self.fail(now, self.fenced_error(code)),
            _ => self.fail(now, Error::broker_code(code.code(), "SyncGroup failed")),
        }
    }

    fn complete_rebalance(&mut self, now: Instant, assigned: Vec<TopicPartition>) {
        self.phase = Phase::Stable;
        self.join_failures = 0;
        self.core.timers.stop(Timer::RejoinBackoff);
        let assigned: BTreeSet<TopicPartition> = assigned.into_iter().collect();
        let added: Vec<TopicPartition> = assigned.difference(&self.owned).cloned().collect();
        let revoked: Vec<TopicPartition> = self.owned.difference(&assigned).cloned().collect();
        tracing::info!(
            generation = self.generation, assigned = assigned.len(), added = added.len(), revoked = revoked.len(),
            "joined the group"
        );
        self.owned.extend(added.iter().cloned());
        self.assigned_counts = self.topics.clone();
        if self.core.timers.get(Timer::AutoCommit).is_none() {
            self.core.auto_commit_from(now);
        }
        self.core.emit(Event::Assigned(added));
        if !revoked.is_empty() {
            // KIP-429: revoked partitions are handed over in a follow-up rebalance, once this
            // member released them.
            let then = if self.cfg.protocol == RebalanceProtocol::Cooperative {
                AfterRevoke::FollowUp
            } else {
                AfterRevoke::Nothing
            };
            self.revoke(revoked, then);
        }
    }

    /// Heartbeat's answer (Java `HeartbeatResponseHandler.handle` and the heartbeat thread).
    pub(crate) fn handle_heartbeat_response(&mut self, now: Instant, id: RequestId, code: KafkaCode) {
        let Some((_, sent)) = self.heartbeat_in_flight.take_if(|(h, _)| *h == id) else { return };
        let unchanged = sent == self.membership();
        match rules::action(Api::Heartbeat, code) {
            Action::Proceed => self.heartbeat_ok(now),
            Action::RediscoverCoordinator => {
                self.core.coordinator_lost(&format!("heartbeat: {}", code.name()));
                self.heartbeat_backoff(now);
            }
            Action::Rejoin => {
                // Still alive as far as the session goes (`receiveHeartbeat`).
                self.heartbeat_ok(now);
                if self.phase == Phase::Stable {
                    self.request_rejoin("heartbeat: the group is rebalancing");
                }
            }
            Action::ResetGeneration | Action::ResetMember if unchanged => {
                self.reset(now, code == KafkaCode::UNKNOWN_MEMBER_ID, &format!("heartbeat: {}", code.name()));
            }
            Action::Fenced if unchanged => self.fail(now, self.fenced_error(code)),
            Action::ResetGeneration | Action::ResetMember | Action::Fenced => {
                tracing::debug!(code = code.name(), "ignoring a heartbeat error for an older generation");
            }
            Action::Fatal => self.fail(now, Error::broker_code(code.code(), "heartbeat failed")),
            _ => {
                tracing::debug!(code = code.name(), "heartbeat failed; retrying");
                self.heartbeat_backoff(now);
            }
        }
        if self.heartbeating() && self.core.timers.get(Timer::Heartbeat).is_none() {
            // The next one came due while this one was in flight.
            self.core.timers.set(Timer::Heartbeat, now);
        }
    }

    fn handle_leave_response(&mut self, _now: Instant, id: RequestId, code: KafkaCode) {
        if self.leave_in_flight != Some(id) {
            return;
        }
        if rules::action(Api::LeaveGroup, code) != Action::Proceed {
            tracing::debug!(code = code.name(), "LeaveGroup answered with an error (the session timeout removes the member)");
        }
        self.leave_done();
    }

    /// OffsetCommit's answer (Java `OffsetCommitResponseHandler.handle`).
    pub(crate) fn handle_commit_response(&mut self, now: Instant, id: RequestId, partitions: Vec<(TopicPartition, KafkaCode)>) {
        let Some(c) = self.core.commits.take_commit_by_request(id) else { return };
        let Some((tp, code)) = partitions.iter().find(|(_, code)| !code.is_ok()).cloned() else {
            self.settle_commit(now, c, Ok(Ok(())));
            return;
        };
        let sent = c.sent_as.clone().unwrap_or_default();
        let unchanged = sent == self.membership();
        let rebalancing = self.rebalancing();
        let err = |what: &str| Error::broker_code(code.code(), format!("commit of {tp} {what}"));
        let step = match rules::action(Api::OffsetCommit, code) {
            Action::RediscoverCoordinator => {
                self.core.coordinator_lost(&format!("OffsetCommit: {}", code.name()));
                Err(err("failed"))
            }
            Action::Retry => Err(err("failed")),
            Action::Rejoin => {
                self.request_rejoin("offset commit: the group is rebalancing");
                Ok(Err(rebalance_in_progress("the coordinator answered REBALANCE_IN_PROGRESS")))
            }
            Action::ResetGeneration | Action::ResetMember | Action::Fenced if !unchanged => {
                // The generation moved on while the commit was in flight: the member's new
                // generation is not at fault (gregor resets only the generation it sent).
                Ok(Err(if rebalancing {
                    rebalance_in_progress("the member's generation is already stale")
                } else {
                    commit_failed(code.name(), Some(code))
                }))
            }
            Action::ResetGeneration | Action::ResetMember => {
                self.reset(now, code == KafkaCode::UNKNOWN_MEMBER_ID, &format!("OffsetCommit: {}", code.name()));
                Ok(Err(commit_failed(code.name(), Some(code))))
            }
            Action::Fenced => {
                let e = self.fenced_error(code);
                self.fail(now, e.clone());
                Ok(Err(e))
            }
            _ => Ok(Err(err("failed"))),
        };
        self.settle_commit(now, c, step);
    }

    fn handle_offset_fetch_response(&mut self, now: Instant, id: RequestId, r: OffsetFetchResult) {
        self.core.handle_offset_fetch_response(now, id, r);
    }

    /// Ends or retries a commit. `Err` is a retriable failure, `Ok(r)` the final result.
    fn settle_commit(&mut self, now: Instant, c: PendingCommit, step: std::result::Result<Result<()>, Error>) {
        match step {
            Ok(result) => {
                self.core.finish_commit(&c, result);
                self.after_commit(now, &c);
            }
            Err(e) => match self.core.commits.retry_commit(now, c, e) {
                Ok(()) => {}
                Err((c, e)) => {
                    if c.origin == CommitOrigin::Auto {
                        self.core.auto_commit_soon(now);
                    }
                    self.core.finish_commit(&c, Err(e));
                    self.after_commit(now, &c);
                }
            },
        }
    }

    fn after_commit(&mut self, now: Instant, c: &PendingCommit) {
        if self.revocation.as_ref().is_some_and(|r| r.commit == Some(Some(c.id))) {
            self.finish_revocation(now);
        }
    }

    // ----- internal steps -----

    /// The membership the next request or commit is sent as, published to the driver.
    fn publish(&mut self) {
        self.core.emit(Event::Membership(self.membership()));
    }

    fn heartbeating(&self) -> bool {
        self.generation >= 0
            && !self.member_id.is_empty()
            && matches!(self.phase, Phase::Preparing | Phase::Assigning(_) | Phase::Syncing(_) | Phase::Stable)
    }

    /// Between the JoinGroup answer and the SyncGroup answer (Java: `rebalanceInProgress()`
    /// after the generation moved).
    fn rebalancing(&self) -> bool {
        matches!(self.phase, Phase::Preparing | Phase::Joining(_) | Phase::Assigning(_) | Phase::Syncing(_))
    }

    fn arm_poll_timer(&mut self) {
        let anchor = match (self.last_poll, self.poll_anchor) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        let member = self.subscribed && !self.stale && !self.closing && self.phase != Phase::Unjoined;
        let at = anchor.filter(|_| member).map(|a| a + self.cfg.rebalance_timeout);
        self.core.timers.set_opt(Timer::PollInterval, at);
    }

    fn heartbeat_ok(&mut self, now: Instant) {
        self.heartbeat_failures = 0;
        self.core.timers.set(Timer::Session, now + self.cfg.session_timeout);
    }

    /// Java `Heartbeat.failHeartbeat`: the next heartbeat after the retry backoff.
    fn heartbeat_backoff(&mut self, now: Instant) {
        let wait = self.core.commits.backoff(self.heartbeat_failures);
        self.heartbeat_failures = self.heartbeat_failures.saturating_add(1);
        self.core.timers.set(Timer::Heartbeat, now + wait);
    }

    fn fenced_error(&self, code: KafkaCode) -> Error {
        Error::new(
            ErrorKind::State,
            format!(
                "group.instance.id {:?} is in use by another member ({}): this consumer is fenced",
                self.cfg.instance_id.as_deref().unwrap_or(""),
                code.name()
            ),
        )
        .with_code(code.code())
    }

    /// The generation (and with `member`, the member id) is gone: the partitions are lost and
    /// the member joins again (Java `resetStateOnResponseError` + `onJoinPrepare`).
    fn reset(&mut self, _now: Instant, member: bool, why: &str) {
        tracing::info!(reason = why, "resetting the generation{}", if member { " and member id" } else { "" });
        self.lose(why);
        self.generation = -1;
        if member {
            self.member_id.clear();
        }
        self.publish();
        self.heartbeat_in_flight = None;
        self.stop_heartbeats();
        // Join again at once; a JoinGroup already in flight is waited for (its answer tells).
        if matches!(self.phase, Phase::Preparing | Phase::Assigning(_) | Phase::Syncing(_) | Phase::Stable) {
            self.phase = Phase::Joining(None);
            self.join_reason = why.to_string();
        }
    }

    fn lose(&mut self, why: &str) {
        self.revocation = None;
        if self.owned.is_empty() {
            return;
        }
        let lost: Vec<TopicPartition> = std::mem::take(&mut self.owned).into_iter().collect();
        tracing::warn!(reason = why, partitions = lost.len(), "partitions lost");
        self.core.emit(Event::Lost(lost));
    }

    fn stop_heartbeats(&mut self) {
        self.core.timers.stop(Timer::Heartbeat);
        self.core.timers.stop(Timer::Session);
    }

    /// The member cannot go on: its partitions are lost, the error goes to the application.
    fn fail(&mut self, _now: Instant, e: Error) {
        self.lose("the member failed");
        self.phase = Phase::Unjoined;
        self.stop_heartbeats();
        self.core.timers.stop(Timer::PollInterval);
        self.core.timers.stop(Timer::AutoCommit);
        self.core.fail(e);
        if self.closing {
            self.finish_close();
        }
    }

    fn join_failed(&mut self, now: Instant, why: &str) {
        let wait = self.core.commits.backoff(self.join_failures);
        self.join_failures = self.join_failures.saturating_add(1);
        tracing::info!(reason = why, retry_in_ms = wait.as_millis() as u64, "rebalance did not complete; retrying");
        self.phase = Phase::Joining(None);
        self.core.timers.set(Timer::RejoinBackoff, now + wait);
    }

    /// No poll for `max.poll.interval.ms`.
    fn poll_interval_expired(&mut self, now: Instant) {
        if !self.subscribed || self.stale || self.closing || self.phase == Phase::Unjoined {
            return;
        }
        tracing::warn!(
            max_poll_interval_ms = self.cfg.rebalance_timeout.as_millis() as u64,
            "poll() not called within max.poll.interval.ms: leaving the group; the next poll rejoins"
        );
        // Java `handlePollTimeoutExpiry` → `maybeLeaveGroup`: LeaveGroup (dynamic members),
        // generation and member id reset; the partitions are lost (the next `onJoinPrepare`
        // gives them up as lost since the generation was reset). gregor gives them up at once,
        // so that no records of partitions another member now owns are handed out.
        self.lose("max.poll.interval.ms exceeded");
        self.send_leave("consumer poll timeout has expired");
        self.generation = -1;
        self.member_id.clear();
        self.publish();
        self.phase = Phase::Unjoined;
        self.stop_heartbeats();
        self.core.timers.stop(Timer::AutoCommit);
        self.rejoin = None;
        self.stale = true;
        self.core.emit(Event::PollTimedOut(true));
        let _ = now;
    }

    /// Unsubscribing or closing: revoke what is owned (with its commit), then leave.
    fn start_leave(&mut self, _now: Instant, why: &str) {
        self.core.timers.stop(Timer::AutoCommit);
        let owned: Vec<TopicPartition> = self.owned.iter().cloned().collect();
        if self.phase == Phase::Unjoined && owned.is_empty() {
            self.finish_leave(why);
            return;
        }
        if !owned.is_empty() && self.generation >= 0 {
            self.revoke(owned, AfterRevoke::Leave(why.to_string()));
        } else {
            self.lose(why);
            self.finish_leave(why);
        }
    }

    fn finish_leave(&mut self, why: &str) {
        self.send_leave(why);
        self.generation = -1;
        self.member_id.clear();
        self.publish();
        self.phase = Phase::Unjoined;
        self.stop_heartbeats();
        self.core.timers.stop(Timer::PollInterval);
        if self.closing && self.leave_in_flight.is_none() {
            self.finish_close();
        }
    }

    /// LeaveGroup, so the group rebalances at once instead of after `session.timeout.ms`.
    /// Static members do not leave (KIP-345: their partitions wait for them).
    fn send_leave(&mut self, why: &str) {
        let Some(coord) = self.core.coordinator.known() else { return };
        if self.member_id.is_empty() || self.cfg.instance_id.is_some() || self.core.failed {
            return;
        }
        tracing::info!(member = %self.member_id, reason = why, "leaving the group");
        let id = self.core.send(
            Target::Coordinator(coord),
            Request::LeaveGroup { member_id: self.member_id.clone(), reason: why.to_string() },
        );
        self.leave_in_flight = Some(id);
    }

    fn leave_done(&mut self) {
        self.leave_in_flight = None;
        if self.closing {
            self.finish_close();
        }
    }

    fn finish_close(&mut self) {
        if !self.closed {
            self.closed = true;
            self.core.timers.stop(Timer::Close);
            self.core.emit(Event::Closed);
        }
    }

    fn revoke(&mut self, partitions: Vec<TopicPartition>, then: AfterRevoke) {
        tracing::info!(partitions = partitions.len(), "revoking partitions");
        self.core.emit(Event::Revoke(partitions.clone()));
        self.revocation = Some(Revocation { partitions, commit: None, then });
    }

    fn finish_revocation(&mut self, now: Instant) {
        let Some(rev) = self.revocation.take() else { return };
        for tp in &rev.partitions {
            self.owned.remove(tp);
        }
        if !rev.partitions.is_empty() {
            self.core.emit(Event::Released(rev.partitions.clone()));
        }
        match rev.then {
            AfterRevoke::Join => self.phase = Phase::Joining(None),
            AfterRevoke::FollowUp => self.request_rejoin("cooperative follow-up after revocation"),
            AfterRevoke::Nothing => {}
            AfterRevoke::Leave(why) => {
                if self.closing && !self.subscribed {
                    self.finish_close();
                } else {
                    self.finish_leave(&why);
                }
            }
        }
        let _ = now;
    }

    fn send_sync(&mut self, _now: Instant, protocol: String, assignments: Vec<(String, Bytes)>) {
        let Some(coord) = self.core.coordinator.known() else {
            // Java: `RequestFuture.coordinatorNotAvailable()`, a retriable failure.
            self.join_failed(_now, "SyncGroup: the coordinator is unknown");
            return;
        };
        let req = self.core.send(
            Target::Coordinator(coord),
            Request::SyncGroup { membership: self.membership(), protocol, assignments },
        );
        self.phase = Phase::Syncing(req);
    }

    /// Java `onJoinPrepare` for a new rebalance.
    fn start_join(&mut self, _now: Instant, reason: String) {
        self.rejoin = None;
        let revoke: Vec<TopicPartition> = match self.cfg.protocol {
            RebalanceProtocol::Eager => self.owned.iter().cloned().collect(),
            // Cooperative: only partitions of topics no longer subscribed (KIP-429).
            RebalanceProtocol::Cooperative => {
                self.owned.iter().filter(|tp| !self.topics.contains_key(&*tp.topic)).cloned().collect()
            }
        };
        tracing::info!(reason = %reason, "joining the group");
        self.join_reason = reason;
        if revoke.is_empty() || self.generation < 0 {
            self.phase = Phase::Joining(None);
        } else {
            self.phase = Phase::Preparing;
            self.revoke(revoke, AfterRevoke::Join);
        }
    }

    /// Sends whatever is due: JoinGroup, heartbeats, commits, offset lookups, FindCoordinator.
    fn drive(&mut self, now: Instant) {
        if self.core.failed || self.closed {
            return;
        }
        let joining_wanted = self.subscribed && !self.stale && !self.closing;
        if joining_wanted
            && self.revocation.is_none()
            && matches!(self.phase, Phase::Unjoined | Phase::Stable)
            && (self.phase == Phase::Unjoined || self.rejoin.is_some())
        {
            let reason = self.rejoin.take().unwrap_or_else(|| "join".to_string());
            self.start_join(now, reason);
        }
        let coord = self.core.coordinator.known();
        if let (Phase::Joining(None), Some(coord)) = (self.phase, coord) {
            if !self.core.timers.get(Timer::RejoinBackoff).is_some_and(|t| t > now) && joining_wanted {
                self.core.timers.stop(Timer::RejoinBackoff);
                let owned = match self.cfg.protocol {
                    RebalanceProtocol::Cooperative => self.owned.iter().cloned().collect(),
                    RebalanceProtocol::Eager => Vec::new(),
                };
                let reason = std::mem::take(&mut self.join_reason);
                let req = self.core.send(
                    Target::Coordinator(coord),
                    Request::JoinGroup {
                        member_id: self.member_id.clone(),
                        generation: self.generation,
                        owned,
                        reason: if reason.is_empty() { "rejoin".to_string() } else { reason },
                    },
                );
                // No heartbeats while the JoinGroup is parked (Java disables the thread).
                self.heartbeat_in_flight = None;
                self.stop_heartbeats();
                self.phase = Phase::Joining(Some(req));
            }
        }
        if let (true, Some(coord), None) = (self.heartbeating(), coord, &self.heartbeat_in_flight) {
            if self.core.timers.expired(Timer::Heartbeat, now) {
                let m = self.membership();
                let req = self.core.send(Target::Coordinator(coord), Request::Heartbeat(m.clone()));
                self.heartbeat_in_flight = Some((req, m));
                self.core.timers.set(Timer::Heartbeat, now + self.cfg.heartbeat_interval);
            }
        }
        self.drive_commits(now);
        self.core.drive_fetches(now, None);
        let needed = (self.subscribed && !self.stale && !self.closing)
            || self.core.commits.needs_coordinator()
            || self.heartbeating()
            || (self.closing && self.revocation.is_some());
        self.core.drive_coordinator(now, needed);
        self.core.sync_requests_timer(now);
    }

    fn drive_commits(&mut self, now: Instant) {
        let Some(coord) = self.core.coordinator.known() else { return };
        while let Some(id) = self.core.commits.next_sendable_commit(now) {
            let Some(c) = self.core.commits.commit(id) else { break };
            match self.commit_membership(c) {
                Ok(m) => {
                    let offsets = c.offsets.clone();
                    let req = self
                        .core
                        .send(Target::Coordinator(coord), Request::OffsetCommit { membership: m.clone(), offsets });
                    self.core.commits.commit_sent(id, req, m);
                }
                Err(e) => {
                    if let Some(c) = self.core.commits.take_commit(id) {
                        self.core.finish_commit(&c, Err(e));
                        self.after_commit(now, &c);
                    }
                }
            }
        }
    }

    /// The generation a commit goes out with (Java `sendOffsetCommitRequest`):
    /// * manual assignment: none (`Generation.NO_GENERATION`);
    /// * positions read under an older generation: the group moved on, the commit fails
    ///   (`RebalanceInProgress` while this member is rebalancing, `CommitFailed` otherwise);
    /// * between the JoinGroup answer and the SyncGroup answer: `RebalanceInProgress`
    ///   (`generationIfStable()` is null);
    /// * not in the group: `CommitFailed`.
    ///
    /// While the JoinGroup is in flight the old generation still holds at the coordinator (a
    /// group preparing a rebalance accepts commits of the current generation), so the commit
    /// goes out: the partitions are still this member's until the rebalance completes.
    fn commit_membership(&self, c: &PendingCommit) -> Result<Membership> {
        let current = self.membership();
        if !self.subscribed && current.generation < 0 {
            return Ok(Membership::default());
        }
        if !self.subscribed {
            // Leaving after an unsubscribe: the revocation's commit, as the member it still is.
            return if c.read_under == current {
                Ok(current)
            } else {
                Err(commit_failed("the offsets were read under an earlier generation", None))
            };
        }
        if c.read_under != current {
            return Err(if matches!(self.phase, Phase::Assigning(_) | Phase::Syncing(_) | Phase::Joining(Some(_))) {
                rebalance_in_progress("the offsets were read before the current rebalance")
            } else {
                commit_failed("the offsets were read under an earlier generation", None)
            });
        }
        match self.phase {
            Phase::Stable | Phase::Preparing | Phase::Joining(Some(_)) if current.generation >= 0 => Ok(current),
            Phase::Assigning(_) | Phase::Syncing(_) => {
                Err(rebalance_in_progress("the member is completing a rebalance"))
            }
            _ => Err(commit_failed("the consumer is not part of an active group", None)),
        }
    }
}
