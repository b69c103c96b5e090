//! Group membership with the KIP-848 consumer protocol (`group.protocol=consumer`).
//!
//! One request does everything: ConsumerGroupHeartbeat (API 68) carries the subscription and
//! the partitions the member owns; the answer carries the member epoch, the heartbeat interval
//! the broker wants, and (when it changed) the member's assignment, computed by the broker's
//! assignor (`group.remote.assignor`). Reconciliation is incremental, as in Java's
//! `ConsumerMembershipManager`: partitions missing from the new assignment are revoked (the
//! listener runs, auto-commit commits with the still-current epoch), new ones are added, and
//! the next heartbeat — sent at once — lists what the member now owns, which is how the broker
//! learns that revoked partitions are free to go to their next owner.
//!
//! Epochs: 0 joins (the member id is generated here, KIP-1082, and kept for the consumer's
//! life), -1 leaves, -2 is a static member's leave (`group.instance.id`: the broker keeps its
//! partitions for its return). FENCED_MEMBER_EPOCH and UNKNOWN_MEMBER_ID lose the partitions
//! (`on_partitions_lost`) and rejoin with epoch 0.
//!
//! The shared state (`GroupShared`: coordinator, membership, rejoin requests) is the classic
//! protocol's; `membership()` here reports (member epoch, member id), which is what
//! OffsetCommit v9 and OffsetFetch v9 need. Unlike Java's `AsyncKafkaConsumer`, nothing runs
//! before the first `poll`: this task is started by `ensure_tasks` like the classic one.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kafka_protocol::messages::consumer_group_heartbeat_request::TopicPartitions;
use kafka_protocol::messages::{ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse, GroupId, TopicName};
use kafka_protocol::protocol::StrBytes;
use tokio::time::Instant;

use super::group::Membership;
use super::state::Subscription;
use super::types::{OffsetAndMetadata, TopicPartition};
use super::{Inner, RevokeContext};
use crate::config::GroupProtocol;
use crate::error::{Error, ErrorKind, Result};
use crate::net::events::OpenReason;
use crate::net::manager::Target;

/// ConsumerGroupHeartbeat v0 (Kafka 3.7+) .. v1 (4.0+, client-generated member ids).
const HEARTBEAT_VERSIONS: (i16, i16) = (0, 1);

/// Epoch values with a meaning of their own (KIP-848).
const LEAVE_EPOCH: i32 = -1;
const STATIC_LEAVE_EPOCH: i32 = -2;

fn sb(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

/// When the next heartbeat is due, for the fetcher (see [`fetch_max_wait`]).
#[derive(Debug, Default)]
pub(crate) struct HeartbeatDue(Mutex<Option<Instant>>);

impl HeartbeatDue {
    fn set(&self, at: Option<Instant>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = at;
    }

    fn get(&self) -> Option<Instant> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The coordinator and its next heartbeat's due time, when KIP-848 group requests share the
/// broker's (fetch) connection. A heartbeat written behind a parked Fetch is only read by the
/// broker once the Fetch is answered (one request per connection at a time), so the fetch
/// planner caps the wait of a Fetch to that broker at the heartbeat.
pub(crate) fn heartbeat_for_fetch(inner: &Inner) -> Option<(i32, Instant)> {
    if inner.config.group_protocol != GroupProtocol::Consumer || inner.config.coordinator_dedicated() {
        return None;
    }
    Some((inner.group.known_coordinator()?, inner.heartbeat_due.get()?))
}

/// The member as this task sees it.
struct Member {
    id: String,
    epoch: i32,
    owned: BTreeSet<TopicPartition>,
    /// The last assignment the broker sent, by topic id (names may need a metadata refresh).
    target: Option<Vec<(uuid::Uuid, Vec<i32>)>>,
    interval: Duration,
    next: Instant,
    last_auto_commit: Instant,
    failures: u32,
}

fn new_member_id() -> String {
    // KIP-1082: a random UUID chosen by the client, kept across rejoins.
    uuid::Uuid::from_bytes(rand::random()).to_string()
}

/// The membership task. Runs until the consumer closes.
pub(crate) async fn run(inner: Arc<Inner>) {
    let mut m = Member {
        id: inner.group.membership().member_id,
        epoch: 0,
        owned: BTreeSet::new(),
        target: None,
        interval: inner.config.heartbeat_interval,
        next: Instant::now(),
        last_auto_commit: Instant::now(),
        failures: 0,
    };
    if m.id.is_empty() {
        m.id = new_member_id();
    }
    loop {
        if inner.is_closed() {
            return;
        }
        let wake = inner.group.wake.notified();
        tokio::pin!(wake);
        wake.as_mut().enable();
        if !inner.lock_state().subscription.is_group() {
            if m.epoch > 0 {
                leave(&inner, &mut m, "unsubscribed").await;
            }
            inner.heartbeat_due.set(None);
            wake.await;
            continue;
        }
        // max.poll.interval.ms: Java's new consumer leaves the group (epoch -1) and rejoins on
        // the next poll.
        let last_poll = inner.lock_state().last_poll;
        if m.epoch > 0 && last_poll.is_some_and(|lp| lp.elapsed() > inner.config.max_poll_interval) {
            tracing::warn!(
                "poll() not called within max.poll.interval.ms ({} ms): leaving the group; the next poll rejoins",
                inner.config.max_poll_interval.as_millis()
            );
            lose(&inner, &mut m, "max.poll.interval.ms exceeded");
            let _ = send_leave_as(&inner, &m.id, LEAVE_EPOCH, "max.poll.interval.ms exceeded").await;
            m.epoch = 0;
            inner.lock_state().poll_timed_out = true;
            continue;
        }
        if m.epoch == 0 && inner.lock_state().poll_timed_out {
            inner.heartbeat_due.set(None);
            wake.await;
            continue;
        }
        if let Some(reason) = inner.group.take_rejoin() {
            tracing::debug!(reason, "heartbeat now");
            m.next = Instant::now();
        }
        inner.heartbeat_due.set(Some(m.next));
        let commit_at = inner
            .config
            .enable_auto_commit
            .then(|| m.last_auto_commit + inner.config.auto_commit_interval)
            .filter(|_| m.epoch > 0);
        let wake_at = commit_at.map_or(m.next, |c| c.min(m.next));
        tokio::select! {
            _ = &mut wake => continue,
            _ = tokio::time::sleep_until(wake_at) => {}
        }
        if commit_at.is_some_and(|c| Instant::now() >= c) {
            m.last_auto_commit = Instant::now();
            if let Err(e) = inner.commit_consumed().await {
                tracing::warn!(error = %e, "auto-commit failed");
            }
        }
        if Instant::now() < m.next {
            continue;
        }
        match heartbeat(&inner, &mut m).await {
            Ok(()) => m.failures = 0,
            Err(e) if e.is_closed() => return,
            Err(e) if e.kind() == ErrorKind::Broker && e.code().is_some_and(is_fatal) || !retriable(&e) => {
                tracing::error!(error = %e, "group membership failed");
                inner.lock_state().fatal = Some(Arc::new(e));
                inner.data_ready.notify_waiters();
                inner.heartbeat_due.set(None);
                return;
            }
            Err(e) => {
                m.failures += 1;
                tracing::debug!(error = %e, "heartbeat failed; retrying");
                m.next = Instant::now() + inner.retry_backoff() * m.failures.min(10);
            }
        }
    }
}

fn retriable(e: &Error) -> bool {
    e.is_retriable() || matches!(e.kind(), ErrorKind::Broker | ErrorKind::Disconnected | ErrorKind::Io | ErrorKind::Timeout)
}

/// Errors after which the member cannot go on (Java treats them as fatal too).
fn is_fatal(code: i16) -> bool {
    // GROUP_AUTHORIZATION_FAILED, UNSUPPORTED_VERSION, INVALID_REQUEST, GROUP_MAX_SIZE_REACHED,
    // UNRELEASED_INSTANCE_ID, UNSUPPORTED_ASSIGNOR
    matches!(code, 30 | 35 | 42 | 81 | 111 | 112)
}

/// The subscribed topic names now, without a metadata round trip except for the first join.
async fn subscribed_names(inner: &Inner, joining: bool) -> Result<Vec<String>> {
    if joining {
        return inner.subscription_topics().await;
    }
    let sub = inner.lock_state().subscription.clone();
    Ok(match sub {
        Subscription::Topics(t) => t.into_iter().collect(),
        Subscription::Pattern(re) => {
            let snap = inner.cluster.snapshot();
            let mut out: Vec<String> = snap
                .topics
                .values()
                .filter(|t| re.is_match(&t.name) && !(t.internal && inner.config.exclude_internal_topics))
                .map(|t| t.name.clone())
                .collect();
            out.sort();
            out
        }
        _ => Vec::new(),
    })
}

/// Owned partitions by topic id, refreshing metadata when an id is unknown.
async fn owned_by_id(inner: &Inner, owned: &BTreeSet<TopicPartition>) -> Result<Vec<TopicPartitions>> {
    let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for tp in owned {
        by_topic.entry(&tp.topic).or_default().push(tp.partition);
    }
    let mut snap = inner.cluster.snapshot();
    if by_topic.keys().any(|t| snap.topics.get(*t).is_none_or(|i| i.id.is_nil())) {
        snap = inner.refresh_metadata_now("topic ids of owned partitions").await?;
    }
    Ok(by_topic
        .into_iter()
        .filter_map(|(t, ps)| {
            let id = snap.topics.get(t).map(|i| i.id).filter(|id| !id.is_nil())?;
            Some(TopicPartitions::default().with_topic_id(id).with_partitions(ps))
        })
        .collect())
}

async fn heartbeat(inner: &Arc<Inner>, m: &mut Member) -> Result<()> {
    let joining = m.epoch == 0;
    let topics = subscribed_names(inner, joining).await?;
    // Joining, the owned list must be empty (the broker rejects anything else).
    let owned = if joining { Vec::new() } else { owned_by_id(inner, &m.owned).await? };
    let group = inner.config.group_id.clone().unwrap_or_default();
    let cfg = &inner.config;
    let req = ConsumerGroupHeartbeatRequest::default()
        .with_group_id(GroupId(sb(&group)))
        .with_member_id(sb(&m.id))
        .with_member_epoch(m.epoch)
        .with_instance_id(cfg.group_instance_id.as_deref().map(sb))
        .with_rack_id(cfg.client_rack.as_deref().map(sb))
        .with_rebalance_timeout_ms(cfg.max_poll_interval.as_millis().min(i32::MAX as u128) as i32)
        .with_subscribed_topic_names(Some(topics.iter().map(|t| TopicName(sb(t))).collect()))
        .with_server_assignor(cfg.group_remote_assignor.as_deref().map(sb))
        .with_topic_partitions(Some(owned));
    let coord = inner.group.coordinator(inner).await?;
    // The next one is due an interval after this one goes out (Java's heartbeat timer).
    m.next = Instant::now() + m.interval;
    inner.heartbeat_due.set(Some(m.next));
    let resp: ConsumerGroupHeartbeatResponse = match inner
        .cluster
        .net
        .send_built(Target::Coordinator(coord), OpenReason::Coordinator, HEARTBEAT_VERSIONS, None, move |_| req)
        .await
    {
        Ok(r) => r,
        Err(e) => {
            if !e.is_closed() {
                inner.group.coordinator_dead(inner, &e.to_string());
            }
            return Err(e);
        }
    };
    if resp.heartbeat_interval_ms > 0 {
        m.interval = Duration::from_millis(resp.heartbeat_interval_ms as u64);
    }
    let message = resp.error_message.as_ref().map(|s| s.to_string()).unwrap_or_default();
    match resp.error_code {
        0 => {}
        // COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR
        code @ 14..=16 => {
            inner.group.coordinator_dead(inner, "heartbeat: coordinator moved");
            return Err(Error::broker_code(code, "ConsumerGroupHeartbeat"));
        }
        // FENCED_MEMBER_EPOCH, UNKNOWN_MEMBER_ID: the group went on without us; rejoin.
        code @ (110 | 25) => {
            let why = if code == 110 { "FENCED_MEMBER_EPOCH" } else { "UNKNOWN_MEMBER_ID" };
            lose(inner, m, why);
            m.epoch = 0;
            m.next = Instant::now();
            inner.group.set_membership(Membership { generation: 0, member_id: m.id.clone() });
            tracing::info!(reason = why, member = %m.id, "fenced by the group coordinator; rejoining");
            return Ok(());
        }
        // A broker that has the API but not the protocol enabled (4.x formatted with
        // group.version=0, 3.7-3.9 without the early-access config): the same clear error as a
        // broker without the API (Java's AbstractHeartbeatRequestManager, UNSUPPORTED_VERSION).
        code if code == crate::protocol_errors::KafkaCode::UNSUPPORTED_VERSION.0 => {
            let e = crate::net::codec::unsupported_api(
                kafka_protocol::messages::ApiKey::ConsumerGroupHeartbeat,
                HEARTBEAT_VERSIONS,
                &format!("node {coord}"),
            );
            let context = if message.is_empty() { "ConsumerGroupHeartbeat".to_string() } else { format!("ConsumerGroupHeartbeat: {message}") };
            return Err(e.with_source(Error::broker_code(code, context)));
        }
        code => {
            return Err(Error::broker_code(code, format!("ConsumerGroupHeartbeat failed: {message}")));
        }
    }
    if let Some(id) = resp.member_id.as_ref().filter(|s| !s.is_empty()) {
        m.id = id.to_string();
    }
    if m.epoch != resp.member_epoch {
        tracing::debug!(member = %m.id, from = m.epoch, to = resp.member_epoch, "member epoch");
    }
    m.epoch = resp.member_epoch;
    inner.group.set_membership(Membership { generation: m.epoch, member_id: m.id.clone() });
    if let Some(a) = resp.assignment {
        m.target = Some(a.topic_partitions.into_iter().map(|t| (t.topic_id, t.partitions)).collect());
    }
    if reconcile(inner, m).await? {
        // Tell the broker at once what we own now: that releases revoked partitions.
        m.next = Instant::now();
    }
    Ok(())
}

/// Applies the last target: revoke what left it, add what joined it. True when something
/// changed (the next heartbeat acknowledges it).
async fn reconcile(inner: &Arc<Inner>, m: &mut Member) -> Result<bool> {
    let Some(target) = &m.target else { return Ok(false) };
    let mut snap = inner.cluster.snapshot();
    if target.iter().any(|(id, _)| snap.topic_name_by_id(*id).is_none()) {
        snap = inner.refresh_metadata_now("topic ids in the assignment").await?;
    }
    let mut wanted: BTreeSet<TopicPartition> = BTreeSet::new();
    for (id, parts) in target {
        match snap.topic_name_by_id(*id) {
            Some(name) => wanted.extend(parts.iter().map(|p| TopicPartition::new(name, *p))),
            // Java keeps such partitions pending until metadata knows the topic.
            None => tracing::debug!(topic_id = %id, "assigned topic not in metadata yet"),
        }
    }
    let revoked: Vec<TopicPartition> = m.owned.difference(&wanted).cloned().collect();
    let added: Vec<TopicPartition> = wanted.difference(&m.owned).cloned().collect();
    if revoked.is_empty() && added.is_empty() {
        return Ok(false);
    }
    if !revoked.is_empty() {
        revoke(inner, &revoked).await;
        for tp in &revoked {
            m.owned.remove(tp);
        }
    }
    if !added.is_empty() {
        inner.lock_state().add_partitions(added.iter().cloned());
        m.owned.extend(added.iter().cloned());
    }
    inner.lock_state().poll_timed_out = false;
    tracing::info!(
        member = %m.id, epoch = m.epoch, owned = m.owned.len(), added = added.len(), revoked = revoked.len(),
        "assignment reconciled"
    );
    if let (Some(l), false) = (inner.listener(), added.is_empty()) {
        l.on_partitions_assigned(&added);
    }
    inner.fetch_wake.notify_one();
    Ok(true)
}

/// Revokes `parts`: the listener runs (and may ask for a commit), auto-commit commits their
/// positions — still under the current member epoch — then they leave the assignment.
async fn revoke(inner: &Arc<Inner>, parts: &[TopicPartition]) {
    // Stop delivery and read the positions at once (see `begin_revocation`).
    let positions: BTreeMap<TopicPartition, i64> = inner.lock_state().begin_revocation(parts);
    let mut ctx = RevokeContext { positions: positions.clone(), commit: None };
    if let Some(l) = inner.listener() {
        l.on_partitions_revoked(parts, &mut ctx);
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
    inner.lock_state().remove_partitions(parts);
}

/// Partitions lost without a chance to commit (fenced, session gone).
fn lose(inner: &Arc<Inner>, m: &mut Member, why: &str) {
    m.target = None;
    if m.owned.is_empty() {
        return;
    }
    let lost: Vec<TopicPartition> = std::mem::take(&mut m.owned).into_iter().collect();
    tracing::warn!(reason = why, partitions = lost.len(), "partitions lost");
    inner.lock_state().remove_partitions(&lost);
    if let Some(l) = inner.listener() {
        l.on_partitions_lost(&lost);
    }
}

async fn leave(inner: &Arc<Inner>, m: &mut Member, why: &str) {
    let owned: Vec<TopicPartition> = m.owned.iter().cloned().collect();
    if !owned.is_empty() {
        revoke(inner, &owned).await;
    }
    m.owned.clear();
    m.target = None;
    let _ = send_leave(inner, why).await;
    m.epoch = 0;
}

/// Leaves the group: a heartbeat with epoch -1, or -2 for a static member (KIP-848 keeps its
/// partitions for the same `group.instance.id` until its session expires).
pub(crate) async fn send_leave(inner: &Inner, why: &str) -> Result<()> {
    let mship = inner.group.membership();
    if mship.member_id.is_empty() || mship.generation <= 0 {
        return Ok(());
    }
    let epoch = if inner.config.group_instance_id.is_some() { STATIC_LEAVE_EPOCH } else { LEAVE_EPOCH };
    let r = send_leave_as(inner, &mship.member_id, epoch, why).await;
    inner.group.set_membership(Membership { generation: -1, member_id: mship.member_id });
    r
}

async fn send_leave_as(inner: &Inner, member_id: &str, epoch: i32, why: &str) -> Result<()> {
    let Some(coord) = inner.group.known_coordinator() else { return Ok(()) };
    let group = inner.config.group_id.clone().unwrap_or_default();
    tracing::info!(group = %group, member = %member_id, epoch, reason = why, "leaving the group");
    let req = ConsumerGroupHeartbeatRequest::default()
        .with_group_id(GroupId(sb(&group)))
        .with_member_id(sb(member_id))
        .with_member_epoch(epoch)
        .with_instance_id(inner.config.group_instance_id.as_deref().map(sb))
        .with_rebalance_timeout_ms(-1);
    let resp: ConsumerGroupHeartbeatResponse = inner
        .cluster
        .net
        .send_built(Target::Coordinator(coord), OpenReason::Coordinator, HEARTBEAT_VERSIONS, None, move |_| req)
        .await?;
    match resp.error_code {
        0 => Ok(()),
        code => Err(Error::broker_code(code, "leaving the group")),
    }
}
