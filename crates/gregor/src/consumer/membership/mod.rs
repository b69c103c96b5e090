//! Group membership without I/O: what a group member sends, when, and what each answer means.
//!
//! Two state machines, in the manner of `net/manager.rs` (and quinn-proto):
//! * [`classic::ClassicMember`]: JoinGroup / SyncGroup / Heartbeat / LeaveGroup, eager and
//!   cooperative (KIP-429) rebalancing, static membership (KIP-345) — Java's
//!   `AbstractCoordinator` + `ConsumerCoordinator`.
//! * [`kip848::Kip848Member`]: ConsumerGroupHeartbeat with member epochs, reconciliation that
//!   revokes before it assigns, fencing — Java's `ConsumerMembershipManager` +
//!   `ConsumerHeartbeatRequestManager`.
//!
//! Both share the coordinator lookup ([`coordinator`]), the queue of commits and offset lookups
//! ([`commits`]) and one timer table ([`timers`]), held together in [`Core`]. Inputs are
//! `handle_*` calls with an explicit `now`; outputs are [`Outgoing`] requests
//! (`poll_request`), local [`Event`]s for the driver to carry out (`poll_event`), and the next
//! wake-up (`poll_timeout`). The driver (`consumer/group.rs`) owns the sockets, the clock, the
//! rebalance listener and the consumer's partition state; the tests (`*_tests.rs`) drive the
//! machines with made-up instants and no sockets. Every decision on a broker error code is a
//! call to the rules table (`crate::rules`).

pub(crate) mod classic;
pub(crate) mod commits;
pub(crate) mod coordinator;
pub(crate) mod kip848;
pub(crate) mod timers;

#[cfg(test)]
mod classic_tests;
#[cfg(test)]
mod kip848_tests;
#[cfg(test)]
mod test_util;

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use crate::consumer::types::{OffsetAndMetadata, TopicPartition};
use crate::error::{Error, ErrorKind, Result};
use crate::net::backoff::ExponentialBackoff;
use crate::protocol_errors::KafkaCode;
use crate::rules::{self, Action, Api};
use commits::{CommitOrigin, CommitQueue, Committed, OpId, PendingCommit};
use coordinator::{CoordinatorLookup, FindOutcome};
use timers::{Timer, Timers};

/// The member's place in the group, as commits and offset lookups carry it: the generation
/// (classic) or member epoch (KIP-848), and the member id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Membership {
    pub(crate) generation: i32,
    pub(crate) member_id: String,
}

impl Default for Membership {
    fn default() -> Self {
        // Java's `Generation.NO_GENERATION`: what a group-less (assign) commit uses.
        Membership { generation: -1, member_id: String::new() }
    }
}

/// Identifies one request handed to the driver.
pub(crate) type RequestId = u64;

/// Where a request goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// The least-loaded broker (FindCoordinator).
    AnyNode,
    /// The group coordinator, this broker.
    Coordinator(i32),
    /// Nothing to send: a local job of the driver (the leader's assignment).
    Local,
}

/// A member of the group as JoinGroup lists it, for the leader's assignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JoinedMember {
    pub(crate) member_id: String,
    pub(crate) instance_id: Option<String>,
    /// The member's subscription, as the consumer protocol encodes it.
    pub(crate) metadata: Bytes,
}

/// What the driver must send (or, for [`Request::Assign`], compute).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Request {
    /// FindCoordinator for the group.
    FindCoordinator,
    /// JoinGroup. The driver adds the subscription of each configured assignor (it needs
    /// metadata to resolve a pattern) with `owned` as the owned partitions (KIP-429).
    JoinGroup { member_id: String, generation: i32, owned: Vec<TopicPartition>, reason: String },
    /// The leader's job: run the assignor `protocol` over `members`; answer with
    /// [`Response::Assigned`].
    Assign { protocol: String, members: Vec<JoinedMember> },
    /// SyncGroup; the leader's carries every member's assignment.
    SyncGroup { membership: Membership, protocol: String, assignments: Vec<(String, Bytes)> },
    /// Heartbeat (classic).
    Heartbeat(Membership),
    /// LeaveGroup (classic).
    LeaveGroup { member_id: String, reason: String },
    /// ConsumerGroupHeartbeat (KIP-848). The driver adds the subscribed topic names.
    ConsumerHeartbeat(ConsumerHeartbeat),
    /// OffsetCommit of `offsets` as `membership`.
    OffsetCommit { membership: Membership, offsets: BTreeMap<TopicPartition, OffsetAndMetadata> },
    /// OffsetFetch for `partitions`; KIP-848 members name themselves (OffsetFetch v9).
    OffsetFetch { partitions: Vec<TopicPartition>, member: Option<Membership> },
}

/// A ConsumerGroupHeartbeat to send.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ConsumerHeartbeat {
    pub(crate) member_id: String,
    /// 0 joins, -1 leaves, -2 leaves as a static member (its partitions wait for it).
    pub(crate) epoch: i32,
    /// The partitions the member owns, by topic id; `None` on a leave.
    pub(crate) owned: Option<Vec<(uuid::Uuid, Vec<i32>)>>,
}

/// A request with its id and destination.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Outgoing {
    pub(crate) id: RequestId,
    pub(crate) target: Target,
    pub(crate) request: Request,
}

/// A JoinGroup answer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct JoinResult {
    pub(crate) code: KafkaCode,
    pub(crate) generation: i32,
    pub(crate) member_id: String,
    pub(crate) leader: String,
    pub(crate) protocol: Option<String>,
    /// KIP-814: the leader is a static member whose assignment is unchanged.
    pub(crate) skip_assignment: bool,
    pub(crate) members: Vec<JoinedMember>,
}

/// A ConsumerGroupHeartbeat answer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ConsumerHeartbeatResult {
    pub(crate) code: KafkaCode,
    pub(crate) message: Option<String>,
    pub(crate) member_id: Option<String>,
    pub(crate) epoch: i32,
    pub(crate) interval_ms: i32,
    /// A new target assignment, by topic id.
    pub(crate) assignment: Option<Vec<(uuid::Uuid, Vec<i32>)>>,
}

/// An OffsetFetch answer: the error of the response or of the group, and the partitions
/// (offset -1: nothing committed).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OffsetFetchResult {
    pub(crate) code: KafkaCode,
    pub(crate) partitions: Vec<(TopicPartition, KafkaCode, OffsetAndMetadata)>,
}

/// An answer, decoded by the driver.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Response {
    FindCoordinator { code: KafkaCode, node: i32 },
    JoinGroup(JoinResult),
    /// The leader's assignment, each member's encoded.
    Assigned(Vec<(String, Bytes)>),
    /// SyncGroup; `assignment` decoded (empty unless `code` is NONE).
    SyncGroup { code: KafkaCode, assignment: Vec<TopicPartition> },
    Heartbeat { code: KafkaCode },
    LeaveGroup { code: KafkaCode },
    ConsumerHeartbeat(ConsumerHeartbeatResult),
    /// OffsetCommit: each partition's error code.
    OffsetCommit(Vec<(TopicPartition, KafkaCode)>),
    OffsetFetch(OffsetFetchResult),
}

/// What the driver must do locally.
#[derive(Debug, Clone)]
pub(crate) enum Event {
    /// The coordinator is this broker now (`None`: unknown, being looked up).
    Coordinator(Option<i32>),
    /// Publish the member's generation or epoch and id (what commits of positions read from
    /// now on carry).
    Membership(Membership),
    /// Stop handing out records of these partitions and read their positions (under one lock:
    /// Java's `markPendingRevocation`), run `on_partitions_revoked`, then call `handle_revoked`
    /// with the positions and the listener's commit. The partitions stay assigned (paused)
    /// until [`Event::Released`].
    Revoke(Vec<TopicPartition>),
    /// The revocation's commit ended: take these partitions out of the assignment.
    Released(Vec<TopicPartition>),
    /// Add these partitions to the assignment and run `on_partitions_assigned`.
    Assigned(Vec<TopicPartition>),
    /// Take these partitions out of the assignment and run `on_partitions_lost`.
    Lost(Vec<TopicPartition>),
    /// Commit the consumed positions now (`commit` with [`CommitOrigin::Auto`]).
    AutoCommitDue,
    /// A commit ended.
    CommitDone { id: OpId, origin: CommitOrigin, result: Result<()> },
    /// An offset lookup ended.
    OffsetsFetched { id: OpId, result: Result<Committed> },
    /// Ask for a metadata refresh.
    RefreshMetadata(String),
    /// True: the member left because `poll` was not called within `max.poll.interval.ms`
    /// and rejoins on the next poll; false: it is rejoining.
    PollTimedOut(bool),
    /// An error the application must see (returned by `poll`).
    Error(Error),
    /// `close()` is done with the group (left, or gave up at the deadline).
    Closed,
}

/// What the member needs to know from the cluster metadata.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct MetadataView {
    /// The subscribed topics (a pattern resolved) and their partition counts, for those the
    /// metadata knows.
    pub(crate) topics: BTreeMap<String, usize>,
    /// Topic names by id (KIP-848 assignments name topics by id).
    pub(crate) names: std::collections::HashMap<uuid::Uuid, String>,
}

/// The interface the driver (and the tests) use, whichever protocol the member speaks.
pub(crate) trait GroupMember: Send + std::fmt::Debug {
    /// The coordinator, when known.
    fn coordinator(&self) -> Option<i32>;
    /// When the next heartbeat is due, for members whose heartbeats may share a socket with
    /// Fetches (KIP-848).
    fn next_heartbeat(&self) -> Option<Instant> {
        None
    }
    /// The next request to send.
    fn poll_request(&mut self, now: Instant) -> Option<Outgoing>;
    /// The next local effect.
    fn poll_event(&mut self) -> Option<Event>;
    /// When `handle_timeout` must be called next.
    fn poll_timeout(&self) -> Option<Instant>;
    fn handle_timeout(&mut self, now: Instant);
    fn handle_response(&mut self, now: Instant, id: RequestId, r: Response);
    fn handle_failure(&mut self, now: Instant, id: RequestId, e: &Error);
    /// The application called `poll` at `at`.
    fn handle_application_poll(&mut self, now: Instant, at: Instant);
    /// `subscribe` (true) or `unsubscribe` / `assign` (false).
    fn handle_subscription(&mut self, now: Instant, subscribed: bool);
    fn handle_metadata(&mut self, now: Instant, view: &MetadataView);
    /// `close()`: be done with the group by `deadline` ([`Event::Closed`]).
    fn handle_close(&mut self, now: Instant, deadline: Instant);
    /// Queues a commit of offsets read under `read_under` (`None`: now).
    fn commit(
        &mut self,
        now: Instant,
        offsets: BTreeMap<TopicPartition, OffsetAndMetadata>,
        read_under: Option<Membership>,
        origin: CommitOrigin,
    ) -> OpId;
    /// The consumed positions, answering [`Event::AutoCommitDue`].
    fn handle_auto_commit(&mut self, now: Instant, positions: BTreeMap<TopicPartition, OffsetAndMetadata>);
    /// Queues a lookup of committed offsets.
    fn fetch_committed(&mut self, now: Instant, partitions: Vec<TopicPartition>) -> OpId;
    /// The listener ran for an [`Event::Revoke`]; `positions` are the revoked partitions'
    /// positions, `listener_commit` what the listener asked to commit.
    fn handle_revoked(
        &mut self,
        now: Instant,
        positions: BTreeMap<TopicPartition, OffsetAndMetadata>,
        listener_commit: BTreeMap<TopicPartition, OffsetAndMetadata>,
    );
}

macro_rules! delegate_group_member {
    ($t:ty) => {
        impl $crate::consumer::membership::GroupMember for $t {
            fn coordinator(&self) -> Option<i32> {
                <$t>::coordinator(self)
            }
            fn next_heartbeat(&self) -> Option<Instant> {
                <$t>::next_heartbeat(self)
            }
            fn poll_request(&mut self, now: Instant) -> Option<Outgoing> {
                <$t>::poll_request(self, now)
            }
            fn poll_event(&mut self) -> Option<Event> {
                <$t>::poll_event(self)
            }
            fn poll_timeout(&self) -> Option<Instant> {
                <$t>::poll_timeout(self)
            }
            fn handle_timeout(&mut self, now: Instant) {
                <$t>::handle_timeout(self, now)
            }
            fn handle_response(&mut self, now: Instant, id: RequestId, r: Response) {
                <$t>::handle_response(self, now, id, r)
            }
            fn handle_failure(&mut self, now: Instant, id: RequestId, e: &Error) {
                <$t>::handle_failure(self, now, id, e)
            }
            fn handle_application_poll(&mut self, now: Instant, at: Instant) {
                <$t>::handle_application_poll(self, now, at)
            }
            fn handle_subscription(&mut self, now: Instant, subscribed: bool) {
                <$t>::handle_subscription(self, now, subscribed)
            }
            fn handle_metadata(&mut self, now: Instant, view: &MetadataView) {
                <$t>::handle_metadata_view(self, now, view)
            }
            fn handle_close(&mut self, now: Instant, deadline: Instant) {
                <$t>::handle_close(self, now, deadline)
            }
            fn commit(
                &mut self,
                now: Instant,
                offsets: BTreeMap<TopicPartition, OffsetAndMetadata>,
                read_under: Option<Membership>,
                origin: CommitOrigin,
            ) -> OpId {
                <$t>::commit(self, now, offsets, read_under, origin)
            }
            fn handle_auto_commit(&mut self, now: Instant, positions: BTreeMap<TopicPartition, OffsetAndMetadata>) {
                <$t>::handle_auto_commit(self, now, positions)
            }
            fn fetch_committed(&mut self, now: Instant, partitions: Vec<TopicPartition>) -> OpId {
                <$t>::fetch_committed(self, now, partitions)
            }
            fn handle_revoked(
                &mut self,
                now: Instant,
                positions: BTreeMap<TopicPartition, OffsetAndMetadata>,
                listener_commit: BTreeMap<TopicPartition, OffsetAndMetadata>,
            ) {
                <$t>::handle_revoked(self, now, positions, listener_commit)
            }
        }
    };
}

delegate_group_member!(classic::ClassicMember);
delegate_group_member!(kip848::Kip848Member);

/// Settings both members share.
#[derive(Debug, Clone)]
pub(crate) struct CoreConfig {
    /// `retry.backoff.ms` .. `retry.backoff.max.ms`.
    pub(crate) retry_backoff: ExponentialBackoff,
    /// `default.api.timeout.ms`: how long an application's commit or lookup may take.
    pub(crate) api_timeout: Duration,
    /// `auto.commit.interval.ms`, when `enable.auto.commit` is on.
    pub(crate) auto_commit: Option<Duration>,
}

/// What the two member machines share: timers, the coordinator, the commit queue, and the
/// queues of requests and events for the driver.
#[derive(Debug)]
pub(crate) struct Core {
    pub(crate) cfg: CoreConfig,
    pub(crate) timers: Timers,
    pub(crate) coordinator: CoordinatorLookup,
    pub(crate) commits: CommitQueue,
    out: VecDeque<Outgoing>,
    events: VecDeque<Event>,
    next_request: RequestId,
    /// Set once the member cannot go on (fenced, unauthorized): nothing more is sent.
    pub(crate) failed: bool,
}

impl Core {
    pub(crate) fn new(cfg: CoreConfig) -> Self {
        Core {
            timers: Timers::default(),
            coordinator: CoordinatorLookup::new(cfg.retry_backoff),
            commits: CommitQueue::new(cfg.retry_backoff),
            cfg,
            out: VecDeque::new(),
            events: VecDeque::new(),
            next_request: 1,
            failed: false,
        }
    }

    /// Queues a request for the driver.
    pub(crate) fn send(&mut self, target: Target, request: Request) -> RequestId {
        let id = self.next_request;
        self.next_request += 1;
        self.out.push_back(Outgoing { id, target, request });
        id
    }

    pub(crate) fn emit(&mut self, e: Event) {
        self.events.push_back(e);
    }

    pub(crate) fn poll_request(&mut self) -> Option<Outgoing> {
        self.out.pop_front()
    }

    pub(crate) fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The group coordinator is gone or moved: forget it (Java `markCoordinatorUnknown`).
    pub(crate) fn coordinator_lost(&mut self, why: &str) {
        if self.coordinator.mark_unknown() {
            tracing::info!(reason = why, "group coordinator marked unknown; will rediscover");
            self.emit(Event::Coordinator(None));
        }
    }

    /// Sends FindCoordinator when the coordinator is needed, unknown, and the backoff is over.
    pub(crate) fn drive_coordinator(&mut self, now: Instant, needed: bool) {
        if self.failed || !needed || !self.coordinator.should_find() {
            return;
        }
        if self.timers.get(Timer::CoordinatorBackoff).is_some_and(|t| t > now) {
            return;
        }
        self.timers.stop(Timer::CoordinatorBackoff);
        let id = self.send(Target::AnyNode, Request::FindCoordinator);
        self.coordinator.sent(id);
    }

    /// Applies a FindCoordinator outcome; returns the coordinator when it was found.
    pub(crate) fn apply_find(&mut self, outcome: FindOutcome) -> Option<i32> {
        match outcome {
            FindOutcome::Found(node) => {
                tracing::debug!(coordinator = node, "found the group coordinator");
                self.emit(Event::Coordinator(Some(node)));
                Some(node)
            }
            FindOutcome::RetryAt { at, refresh, why } => {
                tracing::debug!(reason = %why, "group coordinator not found yet; retrying");
                self.timers.set(Timer::CoordinatorBackoff, at);
                if refresh {
                    self.emit(Event::RefreshMetadata(why));
                }
                None
            }
            FindOutcome::Fatal(e) => {
                self.fail(e);
                None
            }
            FindOutcome::Stale => None,
        }
    }

    /// The member cannot go on: report `e` once, end everything queued with it.
    pub(crate) fn fail(&mut self, e: Error) {
        if self.failed {
            return;
        }
        tracing::error!(error = %e, "group membership failed");
        self.failed = true;
        let (commits, fetches) = self.commits.fail_all(&e);
        for c in commits {
            self.finish_commit(&c, Err(e.clone()));
        }
        for id in fetches {
            self.emit(Event::OffsetsFetched { id, result: Err(e.clone()) });
        }
        self.emit(Event::Error(e));
    }

    /// Reports a commit's end (and logs the ones nobody waits for).
    pub(crate) fn finish_commit(&mut self, c: &PendingCommit, result: Result<()>) {
        if let Err(e) = &result {
            match c.origin {
                CommitOrigin::Sync => tracing::debug!(error = %e, "commit failed"),
                // Java logs auto-commit failures and never throws them: a rebalance or a
                // coordinator move explains them, and the next one covers the same offsets.
                CommitOrigin::Auto if e.is_retriable() => tracing::debug!(error = %e, "auto-commit failed; retrying soon"),
                CommitOrigin::Auto => tracing::warn!(error = %e, "auto-commit failed"),
                CommitOrigin::Async => tracing::warn!(error = %e, "asynchronous commit failed"),
                CommitOrigin::Revocation => {
                    tracing::warn!(error = %e, "commit before releasing partitions failed; the rebalance goes on")
                }
                CommitOrigin::Close => tracing::warn!(error = %e, "commit on close failed"),
            }
        }
        self.emit(Event::CommitDone { id: c.id, origin: c.origin, result });
    }

    /// Sends the offset lookups waiting for the coordinator. `member` names a KIP-848 member.
    pub(crate) fn drive_fetches(&mut self, now: Instant, member: Option<Membership>) {
        let Some(coord) = self.coordinator.known() else { return };
        if self.failed {
            return;
        }
        while let Some(id) = self.commits.next_sendable_fetch(now) {
            let partitions = self.commits.fetch(id).map(|f| f.partitions.clone()).unwrap_or_default();
            let req = self.send(Target::Coordinator(coord), Request::OffsetFetch { partitions, member: member.clone() });
            self.commits.fetch_sent(id, req);
        }
    }

    /// An OffsetFetch answer. False when `req` is no lookup of ours.
    pub(crate) fn handle_offset_fetch_response(&mut self, now: Instant, req: RequestId, r: OffsetFetchResult) -> bool {
        let Some(f) = self.commits.take_fetch_by_request(req) else { return false };
        let step = match rules::action(Api::OffsetFetch, r.code) {
            Action::Proceed => {
                let mut out = Committed::new();
                let mut step = Ok(());
                for (tp, code, om) in r.partitions {
                    match rules::action(Api::OffsetFetchPartition, code) {
                        Action::Proceed => {
                            if om.offset >= 0 {
                                out.insert(tp, om);
                            }
                        }
                        Action::Retry => {
                            step = Err((true, Error::broker_code(code.code(), format!("committed offset of {tp}"))));
                        }
                        _ => {
                            step = Err((false, Error::broker_code(code.code(), format!("committed offset of {tp}"))));
                            break;
                        }
                    }
                }
                match step {
                    Ok(()) => {
                        self.emit(Event::OffsetsFetched { id: f.id, result: Ok(out) });
                        return true;
                    }
                    Err(s) => s,
                }
            }
            Action::RediscoverCoordinator => {
                self.coordinator_lost(&format!("OffsetFetch: {}", r.code.name()));
                (true, Error::broker_code(r.code.code(), "OffsetFetch"))
            }
            Action::Retry => (true, Error::broker_code(r.code.code(), "OffsetFetch")),
            _ => (false, Error::broker_code(r.code.code(), "OffsetFetch for the group failed")),
        };
        self.settle_fetch(now, f, step);
        true
    }

    /// An OffsetFetch that got no answer.
    pub(crate) fn handle_offset_fetch_failure(&mut self, now: Instant, req: RequestId, e: &Error) -> bool {
        let Some(f) = self.commits.take_fetch_by_request(req) else { return false };
        let retriable = is_transport_retriable(e);
        if retriable {
            self.coordinator_lost(&e.to_string());
        }
        self.settle_fetch(now, f, (retriable, e.clone()));
        true
    }

    fn settle_fetch(&mut self, now: Instant, f: commits::PendingFetch, (retriable, e): (bool, Error)) {
        let id = f.id;
        if !retriable {
            self.emit(Event::OffsetsFetched { id, result: Err(e) });
            return;
        }
        tracing::debug!(error = %e, "committed-offset lookup failed; retrying");
        if let Err((id, e)) = self.commits.retry_fetch(now, f, e) {
            self.emit(Event::OffsetsFetched { id, result: Err(e) });
        }
    }

    /// Ends commits and lookups whose deadline passed while they waited.
    pub(crate) fn expire_requests(&mut self, now: Instant) -> Vec<PendingCommit> {
        let (commits, fetches) = self.commits.expire(now);
        for (id, e) in fetches {
            self.emit(Event::OffsetsFetched { id, result: Err(e) });
        }
        let mut ended = Vec::new();
        for (c, e) in commits {
            self.finish_commit(&c, Err(e));
            ended.push(c);
        }
        ended
    }

    /// Re-arms the requests timer from the queue (call after any change to it).
    pub(crate) fn sync_requests_timer(&mut self, now: Instant) {
        let at = self.commits.next_wakeup(now);
        self.timers.set_opt(Timer::Requests, at);
    }

    /// A retriable commit failure of the auto-commit: try again after the retry backoff
    /// instead of a whole interval (Java `autoCommitOffsetsAsync`'s callback).
    pub(crate) fn auto_commit_soon(&mut self, now: Instant) {
        if let Some(at) = self.timers.get(Timer::AutoCommit) {
            self.timers.set(Timer::AutoCommit, at.min(now + self.cfg.retry_backoff.base(0)));
        }
    }

    /// Arms the auto-commit timer a whole interval from now (when enabled).
    pub(crate) fn auto_commit_from(&mut self, now: Instant) {
        let at = self.cfg.auto_commit.map(|i| now + i);
        self.timers.set_opt(Timer::AutoCommit, at);
    }
}

/// Whether a failed request (no answer) is worth retrying, and says the coordinator may be
/// gone: a dropped connection, a timeout (which closes the connection), an unreachable broker.
/// Java's `CoordinatorResponseHandler.onFailure` marks the coordinator unknown on a
/// `DisconnectException`, which is what a request timeout becomes too.
pub(crate) fn is_transport_retriable(e: &Error) -> bool {
    matches!(e.kind(), ErrorKind::Disconnected | ErrorKind::Io | ErrorKind::Timeout | ErrorKind::Unreachable)
        || (e.kind() == ErrorKind::Broker && e.is_retriable())
}

/// The error an application's commit gets when the group went on without the offsets'
/// generation (Java `CommitFailedException`).
pub(crate) fn commit_failed(detail: &str, code: Option<KafkaCode>) -> Error {
    let e = Error::new(
        ErrorKind::CommitFailed,
        format!(
            "commit failed: the group rebalanced and this member's generation is no longer current ({detail}); \
             the partitions may now be owned by another member"
        ),
    );
    match code {
        Some(c) => e.with_code(c.code()),
        None => e,
    }
}

/// The error a commit gets while the member is in the middle of a rebalance (Java
/// `RebalanceInProgressException`): poll to complete the rebalance, then commit again.
pub(crate) fn rebalance_in_progress(detail: &str) -> Error {
    Error::new(
        ErrorKind::RebalanceInProgress,
        format!("commit not possible now: the group is rebalancing ({detail}); poll() completes the rebalance, then commit again"),
    )
}
