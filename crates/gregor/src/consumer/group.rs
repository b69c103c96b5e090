//! Group membership with the classic protocol: FindCoordinator → JoinGroup → SyncGroup →
//! Heartbeat, in a background task so heartbeats go out however often the application polls.
//!
//! Java's `AbstractCoordinator` + `ConsumerCoordinator`, reshaped for async: one task owns the
//! membership loop; the rest of the consumer reads the membership (generation, member id) for
//! commits and asks for a rejoin with a reason. Group requests use the *dedicated coordinator
//! connection* (`Target::Coordinator`): a JoinGroup parks on the broker for up to the rebalance
//! timeout, and the broker answers one request per connection at a time, so sharing the socket
//! with fetches would delay heartbeats and commits.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::{
    FindCoordinatorRequest, GroupId, HeartbeatRequest, JoinGroupRequest, LeaveGroupRequest, SyncGroupRequest,
};
use kafka_protocol::protocol::{Request, StrBytes};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::assignor::{
    self, BuiltinAssignor, ClusterTopics, GroupMember, PartitionAssignor, RebalanceProtocol,
};
use super::types::{OffsetAndMetadata, TopicPartition};
use super::{Inner, RevokeContext};
use crate::error::{Error, ErrorKind, Result};
use crate::net::events::OpenReason;
use crate::net::manager::Target;

/// The member's place in the group, as commits need it.
#[derive(Debug, Clone)]
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

/// Group state shared between the membership task and the rest of the consumer.
#[derive(Debug, Default)]
pub(crate) struct GroupShared {
    coordinator: Mutex<Option<i32>>,
    membership: Mutex<Membership>,
    find_lock: tokio::sync::Mutex<()>,
    rejoin: AtomicBool,
    rejoin_reason: Mutex<Option<String>>,
    pub(crate) wake: Notify,
}

fn sb(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

fn is_coordinator_error(code: i16) -> bool {
    // COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR
    matches!(code, 14 | 15 | 16)
}

impl GroupShared {
    pub(crate) fn membership(&self) -> Membership {
        self.membership.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub(crate) fn set_membership(&self, m: Membership) {
        *self.membership.lock().unwrap_or_else(|p| p.into_inner()) = m;
    }

    pub(crate) fn request_rejoin(&self, _inner: &Inner, why: &str) {
        let mut r = self.rejoin_reason.lock().unwrap_or_else(|p| p.into_inner());
        if r.is_none() {
            *r = Some(why.to_string());
        }
        self.rejoin.store(true, Ordering::SeqCst);
        self.wake.notify_one();
    }

    pub(crate) fn take_rejoin(&self) -> Option<String> {
        if self.rejoin.swap(false, Ordering::SeqCst) {
            Some(self.rejoin_reason.lock().unwrap_or_else(|p| p.into_inner()).take().unwrap_or_default())
        } else {
            None
        }
    }

    /// The coordinator's broker id if known (no lookup).
    pub(crate) fn known_coordinator(&self) -> Option<i32> {
        *self.coordinator.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn coordinator_dead(&self, inner: &Inner, why: &str) {
        let mut c = self.coordinator.lock().unwrap_or_else(|p| p.into_inner());
        if c.take().is_some() {
            tracing::info!(reason = why, "group coordinator marked unknown; will rediscover");
            inner.cluster.net.handle_coordinator(None);
        }
    }

    /// The coordinator's broker id, finding it (FindCoordinator to the least-loaded node) when
    /// unknown.
    pub(crate) async fn coordinator(&self, inner: &Inner) -> Result<i32> {
        if let Some(c) = *self.coordinator.lock().unwrap_or_else(|p| p.into_inner()) {
            return Ok(c);
        }
        let _one = self.find_lock.lock().await;
        if let Some(c) = *self.coordinator.lock().unwrap_or_else(|p| p.into_inner()) {
            return Ok(c);
        }
        let group = inner.config.group_id.clone().ok_or_else(|| Error::new(ErrorKind::State, "no group.id"))?;
        let deadline = Instant::now() + inner.config.default_api_timeout;
        let mut last: Option<Error>;
        loop {
            if inner.is_closed() {
                return Err(Error::closed());
            }
            if inner.cluster.snapshot().brokers.is_empty() {
                inner.refresh_metadata_now("find the group coordinator").await?;
            }
            let g = group.clone();
            // v4 (KIP-699) batches keys in `coordinator_keys`; older versions take one `key`.
            let build = move |v: i16| {
                let req = FindCoordinatorRequest::default();
                if v >= 4 {
                    req.with_coordinator_keys(vec![sb(&g)])
                } else {
                    req.with_key(sb(&g))
                }
            };
            match inner.cluster.net.send_built(Target::AnyNode, OpenReason::Coordinator, (0, 6), None, build).await {
                Ok(resp) => {
                    let (code, node) = match resp.coordinators.first() {
                        Some(c) => (c.error_code, c.node_id.0),
                        None => (resp.error_code, resp.node_id.0),
                    };
                    if code == 0 && node >= 0 {
                        if !inner.cluster.snapshot().brokers.contains_key(&node) {
                            inner.refresh_metadata_now("coordinator not in metadata").await?;
                        }
                        tracing::debug!(group = %group, coordinator = node, "found group coordinator");
                        *self.coordinator.lock().unwrap_or_else(|p| p.into_inner()) = Some(node);
                        inner.cluster.net.handle_coordinator(Some(node));
                        return Ok(node);
                    }
                    let e = Error::broker_code(code, format!("FindCoordinator for group {group} failed"));
                    if !is_coordinator_error(code) && !e.is_retriable() {
                        return Err(e);
                    }
                    last = Some(e);
                }
                Err(e) if e.is_retriable() => last = Some(e),
                Err(e) => return Err(e),
            }
            if Instant::now() + inner.retry_backoff() >= deadline {
                return Err(Error::new(
                    ErrorKind::Timeout,
                    format!("could not find the coordinator of group {group} within default.api.timeout.ms"),
                )
                .with_source(last.unwrap_or_else(|| Error::new(ErrorKind::Timeout, "timed out"))));
            }
            tokio::time::sleep(inner.retry_backoff()).await;
        }
    }

    /// Sends a request to the coordinator, rediscovering it on coordinator errors and
    /// disconnects, until `default.api.timeout.ms`. `build` gets the current membership.
    pub(crate) async fn coordinator_request<R, F>(
        &self,
        inner: &Inner,
        why: OpenReason,
        build: F,
        versions: (i16, i16),
    ) -> Result<R::Response>
    where
        R: Request + Send + 'static,
        R::Response: CoordinatorError,
        F: Fn(&Membership, i16) -> R + Send + Sync + 'static,
    {
        let build = Arc::new(build);
        let deadline = Instant::now() + inner.config.default_api_timeout;
        loop {
            let coord = self.coordinator(inner).await?;
            let m = self.membership();
            let b = build.clone();
            let one = move |v: i16| b(&m, v);
            match inner.cluster.net.send_built(Target::Coordinator(coord), why, versions, None, one).await {
                Ok(resp) if is_coordinator_error(resp.coordinator_error()) => {
                    self.coordinator_dead(inner, "coordinator error in response");
                }
                Ok(resp) => return Ok(resp),
                Err(e) if e.is_retriable() && e.kind() != ErrorKind::Closed => {
                    self.coordinator_dead(inner, &e.to_string());
                    if Instant::now() >= deadline {
                        return Err(e);
                    }
                }
                Err(e) => return Err(e),
            }
            if Instant::now() >= deadline {
                return Err(Error::new(ErrorKind::Timeout, "the group coordinator did not answer in time"));
            }
            tokio::time::sleep(inner.retry_backoff()).await;
        }
    }
}

/// Where a response carries a coordinator error, for [`GroupShared::coordinator_request`].
pub(crate) trait CoordinatorError {
    fn coordinator_error(&self) -> i16;
}

impl CoordinatorError for kafka_protocol::messages::OffsetCommitResponse {
    fn coordinator_error(&self) -> i16 {
        self.topics.iter().flat_map(|t| t.partitions.iter()).map(|p| p.error_code).find(|c| *c != 0).unwrap_or(0)
    }
}

impl CoordinatorError for kafka_protocol::messages::OffsetFetchResponse {
    fn coordinator_error(&self) -> i16 {
        if self.error_code != 0 {
            return self.error_code;
        }
        self.groups.iter().map(|g| g.error_code).find(|c| *c != 0).unwrap_or(0)
    }
}

/// What the membership loop remembers between rounds.
struct Round {
    owned: Vec<TopicPartition>,
    protocol: RebalanceProtocol,
    /// Partition counts of the subscribed topics at the last assignment (a change means
    /// rejoin, Java `ConsumerCoordinator.rejoinNeededOrPending`).
    topic_counts: BTreeMap<String, usize>,
    joined: bool,
    last_auto_commit: Instant,
    /// Heartbeats keep their own schedule, whatever else wakes the loop.
    next_heartbeat: Instant,
}

fn to_assignor_tp(tp: &TopicPartition) -> assignor::TopicPartition {
    assignor::TopicPartition::new(tp.topic.to_string(), tp.partition)
}

fn from_assignor_tp(tp: &assignor::TopicPartition) -> TopicPartition {
    TopicPartition::new(&tp.topic, tp.partition)
}

/// The configured assignors, in preference order.
fn assignors(inner: &Inner) -> Vec<BuiltinAssignor> {
    let mut out: Vec<BuiltinAssignor> = inner
        .config
        .partition_assignment_strategy
        .iter()
        .filter_map(|a| BuiltinAssignor::from_name(a.protocol_name()))
        .collect();
    if out.is_empty() {
        out.push(BuiltinAssignor::Range);
    }
    out
}

/// The membership task. Runs until the consumer closes.
pub(crate) async fn run(inner: Arc<Inner>) {
    let list = assignors(&inner);
    let dyns: Vec<&dyn PartitionAssignor> = list.iter().map(|a| a as &dyn PartitionAssignor).collect();
    let protocol = assignor::select_rebalance_protocol(&dyns).unwrap_or(RebalanceProtocol::Eager);
    let mut round = Round {
        owned: Vec::new(),
        protocol,
        topic_counts: BTreeMap::new(),
        joined: false,
        last_auto_commit: Instant::now(),
        next_heartbeat: Instant::now(),
    };
    let mut failures: u32 = 0;
    loop {
        if inner.is_closed() {
            return;
        }
        let wake = inner.group.wake.notified();
        tokio::pin!(wake);
        wake.as_mut().enable();
        let subscribed = inner.lock_state().subscription.is_group();
        if !subscribed {
            if round.joined {
                leave(&inner, &mut round, "unsubscribed").await;
            }
            wake.await;
            continue;
        }
        // Poll-interval enforcement (Java: the heartbeat thread leaves the group when the
        // application has not called poll within max.poll.interval.ms).
        let last_poll = inner.lock_state().last_poll;
        if round.joined {
            if let Some(lp) = last_poll {
                if lp.elapsed() > inner.config.max_poll_interval {
                    tracing::warn!(
                        "poll() not called within max.poll.interval.ms ({} ms): leaving the group; \
                         the next poll rejoins",
                        inner.config.max_poll_interval.as_millis()
                    );
                    leave(&inner, &mut round, "max.poll.interval.ms exceeded").await;
                    inner.lock_state().poll_timed_out = true;
                    continue;
                }
            }
        } else if inner.lock_state().poll_timed_out {
            // Wait for the application's next poll.
            wake.await;
            continue;
        }
        if let Some(reason) = inner.group.take_rejoin().or_else(|| (!round.joined).then(|| "join".to_string())) {
            match join_round(&inner, &mut round, &list, &reason).await {
                Ok(()) => failures = 0,
                Err(e) if e.is_closed() => return,
                Err(e) => {
                    failures += 1;
                    if !e.is_retriable() && e.kind() != ErrorKind::Broker {
                        tracing::error!(error = %e, "group membership failed");
                        inner.lock_state().fatal = Some(Arc::new(e));
                        inner.data_ready.notify_waiters();
                        return;
                    }
                    tracing::info!(error = %e, "rebalance did not complete; retrying");
                    if e.kind() == ErrorKind::Unreachable || e.kind() == ErrorKind::Timeout {
                        inner.maybe_unreachable(e);
                    }
                    inner.group.request_rejoin(&inner, "retry after failed rebalance");
                    let backoff = inner.retry_backoff() * failures.min(10);
                    tokio::time::sleep(backoff).await;
                }
            }
            continue;
        }
        if topics_changed(&inner, &round) {
            inner.group.request_rejoin(&inner, "subscribed topics changed");
            continue;
        }
        // Steady state: heartbeat, auto-commit, wait.
        let hb_at = round.next_heartbeat;
        let commit_at = if inner.config.enable_auto_commit {
            round.last_auto_commit + inner.config.auto_commit_interval
        } else {
            hb_at + Duration::from_secs(86_400)
        };
        tokio::select! {
            _ = &mut wake => continue,
            _ = tokio::time::sleep_until(hb_at.min(commit_at)) => {}
        }
        if inner.config.enable_auto_commit && Instant::now() >= commit_at {
            round.last_auto_commit = Instant::now();
            if let Err(e) = inner.commit_consumed().await {
                tracing::warn!(error = %e, "auto-commit failed");
            }
        }
        if Instant::now() < round.next_heartbeat {
            continue;
        }
        round.next_heartbeat = Instant::now() + inner.config.heartbeat_interval;
        if let Err(e) = heartbeat(&inner, &mut round).await {
            if e.is_closed() {
                return;
            }
            tracing::debug!(error = %e, "heartbeat failed");
        }
    }
}

fn topics_changed(inner: &Inner, round: &Round) -> bool {
    let snapshot = inner.cluster.snapshot();
    let now = subscribed_topic_counts(inner, &snapshot);
    !now.is_empty() && now != round.topic_counts
}

fn subscribed_topic_counts(inner: &Inner, snapshot: &crate::cluster::metadata::Snapshot) -> BTreeMap<String, usize> {
    let st = inner.lock_state();
    let mut out = BTreeMap::new();
    match &st.subscription {
        super::state::Subscription::Topics(ts) => {
            for t in ts {
                if let Some(n) = snapshot.partition_count(t) {
                    out.insert(t.clone(), n);
                }
            }
        }
        super::state::Subscription::Pattern(re) => {
            for (name, t) in &snapshot.topics {
                if re.is_match(name) && t.error == 0 && !(t.internal && inner.config.exclude_internal_topics) {
                    out.insert(name.clone(), t.partitions.len());
                }
            }
        }
        _ => {}
    }
    out
}

async fn heartbeat(inner: &Arc<Inner>, round: &mut Round) -> Result<()> {
    let group = inner.config.group_id.clone().unwrap_or_default();
    let instance = inner.config.group_instance_id.clone();
    let m = inner.group.membership();
    let coord = inner.group.coordinator(inner).await?;
    let build = move |v: i16| {
        HeartbeatRequest::default()
            .with_group_id(GroupId(sb(&group)))
            .with_generation_id(m.generation)
            .with_member_id(sb(&m.member_id))
            .with_group_instance_id(if v >= 3 { instance.as_deref().map(sb) } else { None })
    };
    let resp = match inner.cluster.net.send_built(Target::Coordinator(coord), OpenReason::Coordinator, (0, 4), None, build).await {
        Ok(r) => r,
        Err(e) => {
            inner.group.coordinator_dead(inner, &e.to_string());
            return Err(e);
        }
    };
    match resp.error_code {
        0 => Ok(()),
        27 => {
            inner.group.request_rejoin(inner, "heartbeat: REBALANCE_IN_PROGRESS");
            Ok(())
        }
        code if is_coordinator_error(code) => {
            inner.group.coordinator_dead(inner, "heartbeat: coordinator moved");
            Ok(())
        }
        // ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID: the group went on without us.
        22 | 25 => {
            lose_partitions(inner, round, code_reason(resp.error_code)).await;
            if resp.error_code == 25 {
                inner.group.set_membership(Membership::default());
            }
            inner.group.request_rejoin(inner, code_reason(resp.error_code));
            Ok(())
        }
        code => Err(Error::broker_code(code, "heartbeat failed")),
    }
}

fn static_membership_unsupported(version: i16) -> Error {
    Error::new(
        ErrorKind::UnsupportedVersion,
        format!(
            "group.instance.id (static membership, KIP-345) needs JoinGroup v5 (Apache Kafka 2.3+); \
             the group coordinator speaks v{version}: remove group.instance.id for this cluster"
        ),
    )
}

fn code_reason(code: i16) -> &'static str {
    match code {
        22 => "ILLEGAL_GENERATION",
        25 => "UNKNOWN_MEMBER_ID",
        82 => "FENCED_INSTANCE_ID",
        _ => "group error",
    }
}

async fn lose_partitions(inner: &Arc<Inner>, round: &mut Round, why: &str) {
    if round.owned.is_empty() {
        round.joined = false;
        return;
    }
    tracing::warn!(reason = why, partitions = round.owned.len(), "partitions lost");
    let lost = std::mem::take(&mut round.owned);
    inner.lock_state().remove_partitions(&lost);
    if let Some(l) = inner.listener() {
        l.on_partitions_lost(&lost);
    }
    round.joined = false;
}

/// Revokes `parts`: the listener runs (and may ask for a commit), then auto-commit, then the
/// partitions leave the assignment.
async fn revoke(inner: &Arc<Inner>, round: &mut Round, parts: Vec<TopicPartition>) {
    if parts.is_empty() {
        return;
    }
    // Stop delivery and read the positions at once (see `begin_revocation`).
    let positions: BTreeMap<TopicPartition, i64> = inner.lock_state().begin_revocation(&parts);
    let mut ctx = RevokeContext { positions: positions.clone(), commit: None };
    if let Some(l) = inner.listener() {
        l.on_partitions_revoked(&parts, &mut ctx);
    }
    let mut to_commit: BTreeMap<TopicPartition, OffsetAndMetadata> = ctx.commit.unwrap_or_default();
    if inner.config.enable_auto_commit {
        for (tp, p) in positions {
            to_commit.entry(tp).or_insert_with(|| OffsetAndMetadata::new(p));
        }
    }
    if !to_commit.is_empty() {
        if let Err(e) = super::offsets::commit(inner, &to_commit).await {
            tracing::warn!(error = %e, "commit on revocation failed");
        }
    }
    inner.lock_state().remove_partitions(&parts);
    let gone: BTreeSet<TopicPartition> = parts.into_iter().collect();
    round.owned.retain(|tp| !gone.contains(tp));
}

async fn leave(inner: &Arc<Inner>, round: &mut Round, why: &str) {
    let owned = round.owned.clone();
    revoke(inner, round, owned).await;
    round.joined = false;
    let _ = send_leave(inner, why).await;
    inner.group.set_membership(Membership::default());
}

/// LeaveGroup, so the group rebalances at once instead of after `session.timeout.ms`.
/// Static members (`group.instance.id`) do not leave: KIP-345 keeps their partitions through a
/// restart.
pub(crate) async fn send_leave(inner: &Inner, why: &str) -> Result<()> {
    let m = inner.group.membership();
    if m.member_id.is_empty() || inner.config.group_instance_id.is_some() {
        return Ok(());
    }
    let group = inner.config.group_id.clone().unwrap_or_default();
    let Some(coord) = *inner.group.coordinator.lock().unwrap_or_else(|p| p.into_inner()) else {
        return Ok(());
    };
    tracing::info!(group = %group, member = %m.member_id, reason = why, "leaving the group");
    let why = why.to_string();
    let member = m.member_id.clone();
    // v3 (KIP-345) leaves by a list of members; v5 adds a reason.
    let build = move |v: i16| {
        let req = LeaveGroupRequest::default().with_group_id(GroupId(sb(&group)));
        if v >= 3 {
            req.with_members(vec![MemberIdentity::default()
                .with_member_id(sb(&member))
                .with_reason(if v >= 5 { Some(sb(&why)) } else { None })])
        } else {
            req.with_member_id(sb(&member))
        }
    };
    let r = inner.cluster.net.send_built(Target::Coordinator(coord), OpenReason::Coordinator, (0, 5), None, build).await;
    inner.group.set_membership(Membership::default());
    r.map(|_| ())
}

/// One rebalance: (eager: revoke all) → JoinGroup → (leader: assign) → SyncGroup → apply.
async fn join_round(inner: &Arc<Inner>, round: &mut Round, list: &[BuiltinAssignor], reason: &str) -> Result<()> {
    tracing::info!(reason, "joining the group");
    if round.protocol == RebalanceProtocol::Eager && !round.owned.is_empty() {
        let owned = round.owned.clone();
        revoke(inner, round, owned).await;
    }
    let group = inner.config.group_id.clone().unwrap_or_default();
    let instance = inner.config.group_instance_id.clone();
    // Make sure metadata covers the subscription (pattern subscriptions need all topics).
    let topics = inner.subscription_topics().await?;
    let generation = inner.group.membership().generation;
    let owned: Vec<assignor::TopicPartition> = round.owned.iter().map(to_assignor_tp).collect();
    let protocols: Vec<JoinGroupRequestProtocol> = list
        .iter()
        .map(|a| {
            let sub = assignor::Subscription {
                topics: topics.clone(),
                user_data: a.subscription_user_data(&owned, generation),
                owned_partitions: owned.clone(),
                generation_id: Some(generation),
                rack_id: inner.config.client_rack.clone(),
            };
            let meta = assignor::encode_subscription(&sub, assignor::CONSUMER_PROTOCOL_VERSION)
                .map_err(|e| Error::new(ErrorKind::Protocol, format!("cannot encode subscription: {e}")))?;
            Ok(JoinGroupRequestProtocol::default().with_name(sb(a.name())).with_metadata(meta))
        })
        .collect::<Result<_>>()?;
    let join_timeout = inner.config.join_group_timeout();
    let mut member_id = inner.group.membership().member_id;
    let resp = loop {
        let coord = inner.group.coordinator(inner).await?;
        let (g, mid, inst, protos, why) =
            (group.clone(), member_id.clone(), instance.clone(), protocols.clone(), reason.to_string());
        let (session_ms, rebalance_ms) =
            (inner.config.session_timeout.as_millis() as i32, inner.config.max_poll_interval.as_millis() as i32);
        let build = move |v: i16| {
            // KIP-345: static membership needs JoinGroup v5 (Kafka 2.3); below that the broker
            // would treat the member as dynamic, so refuse as Java's JoinGroupRequest.Builder does.
            if v < 5 && inst.is_some() {
                return Err(static_membership_unsupported(v));
            }
            Ok(JoinGroupRequest::default()
                .with_group_id(GroupId(sb(&g)))
                .with_session_timeout_ms(session_ms)
                .with_rebalance_timeout_ms(if v >= 1 { rebalance_ms } else { -1 })
                .with_member_id(sb(&mid))
                .with_group_instance_id(if v >= 5 { inst.as_deref().map(sb) } else { None })
                .with_protocol_type(sb(assignor::CONSUMER_PROTOCOL_TYPE))
                .with_protocols(protos)
                .with_reason(if v >= 8 { Some(sb(&why)) } else { None }))
        };
        let resp = match inner
            .cluster
            .net
            .send_built_checked(Target::Coordinator(coord), OpenReason::Coordinator, (0, 9), Some(join_timeout), build)
            .await
        {
            Ok(r) => r,
            Err(e) => {
                inner.group.coordinator_dead(inner, &e.to_string());
                return Err(e);
            }
        };
        match resp.error_code {
            0 => break resp,
            // KIP-394: the first JoinGroup only obtains a member id.
            79 => {
                member_id = resp.member_id.to_string();
                inner.group.set_membership(Membership { generation: -1, member_id: member_id.clone() });
                continue;
            }
            25 => {
                member_id.clear();
                inner.group.set_membership(Membership::default());
                return Err(Error::broker_code(25, "JoinGroup: unknown member id; rejoining with a new one"));
            }
            code if is_coordinator_error(code) => {
                inner.group.coordinator_dead(inner, "JoinGroup: coordinator moved");
                return Err(Error::broker_code(code, "JoinGroup"));
            }
            27 | 22 => return Err(Error::broker_code(resp.error_code, "JoinGroup: rebalance in progress")),
            82 => {
                return Err(Error::new(
                    ErrorKind::State,
                    format!("group.instance.id {:?} is in use by another member (FENCED_INSTANCE_ID)", instance),
                ))
            }
            code => {
                return Err(Error::new(ErrorKind::State, "JoinGroup failed")
                    .with_source(Error::broker_code(code, "JoinGroup")))
            }
        }
    };
    let membership = Membership { generation: resp.generation_id, member_id: resp.member_id.to_string() };
    inner.group.set_membership(membership.clone());
    let protocol_name = resp.protocol_name.as_ref().map(|p| p.to_string()).unwrap_or_default();
    let chosen = BuiltinAssignor::from_name(&protocol_name).unwrap_or(list[0]);
    let is_leader = resp.leader.as_str() == resp.member_id.as_str() && !resp.skip_assignment;
    let assignments = if is_leader {
        tracing::info!(generation = resp.generation_id, members = resp.members.len(), assignor = chosen.name(), "leading the rebalance");
        leader_assign(inner, &resp.members, chosen).await?
    } else {
        Vec::new()
    };
    let coord = inner.group.coordinator(inner).await?;
    let (g, m2, inst, pname) = (group.clone(), membership.clone(), instance.clone(), protocol_name.clone());
    let build = move |v: i16| {
        SyncGroupRequest::default()
            .with_group_id(GroupId(sb(&g)))
            .with_generation_id(m2.generation)
            .with_member_id(sb(&m2.member_id))
            .with_group_instance_id(if v >= 3 { inst.as_deref().map(sb) } else { None })
            .with_protocol_type(if v >= 5 { Some(sb(assignor::CONSUMER_PROTOCOL_TYPE)) } else { None })
            .with_protocol_name(if v >= 5 { Some(sb(&pname)) } else { None })
            .with_assignments(assignments)
    };
    let sresp = match inner.cluster.net.send_built(Target::Coordinator(coord), OpenReason::Coordinator, (0, 5), Some(join_timeout), build).await {
        Ok(r) => r,
        Err(e) => {
            inner.group.coordinator_dead(inner, &e.to_string());
            return Err(e);
        }
    };
    match sresp.error_code {
        0 => {}
        22 | 25 => {
            lose_partitions(inner, round, code_reason(sresp.error_code)).await;
            if sresp.error_code == 25 {
                inner.group.set_membership(Membership::default());
            }
            return Err(Error::broker_code(sresp.error_code, "SyncGroup"));
        }
        code if is_coordinator_error(code) => {
            inner.group.coordinator_dead(inner, "SyncGroup: coordinator moved");
            return Err(Error::broker_code(code, "SyncGroup"));
        }
        code => return Err(Error::broker_code(code, "SyncGroup")),
    }
    let assigned = if sresp.assignment.is_empty() {
        Vec::new()
    } else {
        assignor::decode_assignment(&sresp.assignment)
            .map_err(|e| Error::protocol(format!("cannot decode the group assignment: {e}")))?
            .partitions
    };
    let assigned: Vec<TopicPartition> = assigned.iter().map(from_assignor_tp).collect();
    let protocol = if chosen.supported_protocols().contains(&RebalanceProtocol::Cooperative)
        && round.protocol == RebalanceProtocol::Cooperative
    {
        RebalanceProtocol::Cooperative
    } else {
        RebalanceProtocol::Eager
    };
    let diff = assignor::diff_assignment(
        &round.owned.iter().map(to_assignor_tp).collect::<Vec<_>>(),
        &assigned.iter().map(to_assignor_tp).collect::<Vec<_>>(),
    );
    let revoked: Vec<TopicPartition> = diff.revoked.iter().map(from_assignor_tp).collect();
    let added: Vec<TopicPartition> = diff.added.iter().map(from_assignor_tp).collect();
    if !revoked.is_empty() {
        revoke(inner, round, revoked.clone()).await;
    }
    inner.lock_state().add_partitions(added.iter().cloned());
    round.owned = assigned;
    round.joined = true;
    round.next_heartbeat = Instant::now() + inner.config.heartbeat_interval;
    round.topic_counts = subscribed_topic_counts(inner, &inner.cluster.snapshot());
    inner.lock_state().poll_timed_out = false;
    tracing::info!(
        generation = membership.generation, assigned = round.owned.len(), added = added.len(),
        revoked = revoked.len(), "joined the group"
    );
    if let Some(l) = inner.listener() {
        l.on_partitions_assigned(&added);
    }
    inner.fetch_wake.notify_one();
    if diff.needs_rejoin(protocol) {
        // KIP-429: revoked partitions are handed over in a follow-up rebalance.
        inner.group.request_rejoin(inner, "cooperative follow-up after revocation");
    }
    Ok(())
}

/// The leader computes the assignment for every member.
async fn leader_assign(
    inner: &Arc<Inner>,
    members: &[kafka_protocol::messages::join_group_response::JoinGroupResponseMember],
    chosen: BuiltinAssignor,
) -> Result<Vec<SyncGroupRequestAssignment>> {
    let mut gm = Vec::new();
    let mut all_topics: BTreeSet<String> = BTreeSet::new();
    for m in members {
        let sub = assignor::decode_subscription(&m.metadata)
            .map_err(|e| Error::protocol(format!("member {} sent a bad subscription: {e}", m.member_id.as_str())))?;
        all_topics.extend(sub.topics.iter().cloned());
        gm.push(GroupMember {
            member_id: m.member_id.to_string(),
            group_instance_id: m.group_instance_id.as_ref().map(|s| s.to_string()),
            subscription: sub,
        });
    }
    let wanted: Vec<String> = all_topics.into_iter().collect();
    let snapshot = inner.refresh_metadata_now_topics(&wanted, "leader assignment").await?;
    let mut cluster: ClusterTopics = ClusterTopics::new();
    for t in &wanted {
        if let Some(info) = snapshot.topics.get(t).filter(|i| i.error == 0) {
            let mut ti = assignor::TopicInfo::new(info.partitions.len() as i32);
            for p in &info.partitions {
                let racks: Vec<String> = p
                    .replicas
                    .iter()
                    .filter_map(|r| snapshot.brokers.get(r).and_then(|b| b.rack.clone()))
                    .collect();
                if !racks.is_empty() {
                    ti = ti.with_partition_racks(p.partition, racks);
                }
            }
            cluster.insert(t.clone(), ti);
        }
    }
    let result = chosen.assign(&gm, &cluster);
    if chosen.supported_protocols().contains(&RebalanceProtocol::Cooperative) {
        // KIP-429's safety rule, checked before anything is sent: no partition may move
        // straight from one owner to another in one round.
        if let Err(e) = assignor::validate_cooperative_assignment(&gm, &result) {
            return Err(Error::new(ErrorKind::State, format!("cooperative assignment is unsafe: {e}")));
        }
    }
    result
        .into_iter()
        .map(|(member, a)| {
            let bytes = assignor::encode_assignment(&a, assignor::CONSUMER_PROTOCOL_VERSION)
                .map_err(|e| Error::protocol(format!("cannot encode assignment: {e}")))?;
            Ok(SyncGroupRequestAssignment::default().with_member_id(sb(&member)).with_assignment(bytes))
        })
        .collect()
}
