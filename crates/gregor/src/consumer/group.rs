//! The group driver: the I/O around the membership machines (`membership/`).
//!
//! One task per consumer with a `group.id` owns the member — a [`ClassicMember`] or, with
//! `group.protocol=consumer`, a [`Kip848Member`] — and does what it asks: sends its requests
//! (`group_wire.rs` builds and decodes them), carries out its events on the consumer's state
//! (assign, revoke, lose partitions; run the rebalance listener; report errors to `poll`),
//! feeds it the application's calls (poll, subscribe, commit, committed, close) and the clock.
//! Every decision — when to heartbeat, what an error code means, when to rejoin, whether a
//! commit may go out — is the machine's; this file decides nothing about Kafka.
//!
//! The rest of the consumer talks to the task through [`GroupShared`]: a command queue in, and
//! what the task publishes out (the membership commits carry, the coordinator, the next
//! KIP-848 heartbeat for the fetch planner). Nothing is sent before the application's first
//! `poll` (or an explicit commit or offset lookup): construction and `subscribe` open no socket.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::Instrument;

use super::group_telemetry::{self, RebalanceTracker};
use super::group_wire as wire;
use super::membership::classic::{ClassicConfig, ClassicMember};
use super::membership::commits::{CommitOrigin, Committed, OpId};
use super::membership::kip848::{Kip848Config, Kip848Member};
use super::membership::{CoreConfig, Event, GroupMember, MetadataView, Outgoing, Request, RequestId, Response, Target};
use super::state::Subscription;
use super::types::{OffsetAndMetadata, TopicPartition};
use super::{Inner, RevokeContext};
use crate::cluster::metadata::Snapshot;
use crate::config::GroupProtocol;
use crate::error::{Error, ErrorKind, Result};
use crate::net::backoff::ExponentialBackoff;
use crate::protocol_errors::KafkaCode;

pub(crate) use super::membership::Membership;

/// What the consumer asks of the group task.
pub(crate) enum Command {
    /// `subscribe` (true) or `unsubscribe` / `assign` (false).
    Subscription(bool),
    /// The application called `poll` at this instant.
    Poll(Instant),
    Commit {
        offsets: BTreeMap<TopicPartition, OffsetAndMetadata>,
        /// The membership the positions were read under (`None`: whatever holds when it goes).
        read_under: Option<Membership>,
        origin: CommitOrigin,
        reply: Option<oneshot::Sender<Result<()>>>,
    },
    FetchCommitted { partitions: Vec<TopicPartition>, reply: oneshot::Sender<Result<Committed>> },
    /// `close()`: commit, leave, then answer, by `deadline`.
    Close { deadline: Instant, reply: oneshot::Sender<()> },
}

#[derive(Debug, Default)]
struct Published {
    membership: Membership,
    coordinator: Option<i32>,
    next_heartbeat: Option<Instant>,
}

/// The consumer's side of the group task.
#[derive(Debug)]
pub(crate) struct GroupShared {
    published: Mutex<Published>,
    tx: mpsc::UnboundedSender<Command>,
    rx: Mutex<Option<mpsc::UnboundedReceiver<Command>>>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Default for GroupShared {
    fn default() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        GroupShared {
            published: Mutex::default(),
            tx,
            rx: Mutex::new(Some(rx)),
            task: Mutex::new(None),
        }
    }
}

impl GroupShared {
    fn published(&self) -> std::sync::MutexGuard<'_, Published> {
        self.published.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The generation (or KIP-848 member epoch) and member id commits of positions read now
    /// carry. Written by the task under the consumer's state lock, so that positions and
    /// membership read together under that lock belong together.
    pub(crate) fn membership(&self) -> Membership {
        self.published().membership.clone()
    }

    /// The coordinator and when the next KIP-848 heartbeat is due, when known.
    pub(crate) fn published_heartbeat(&self) -> Option<(i32, Instant)> {
        let p = self.published();
        Some((p.coordinator?, p.next_heartbeat?))
    }

    /// Queues a command; it waits in the queue until the task runs.
    pub(crate) fn send(&self, c: Command) {
        // The receiver lives as long as the consumer (in `rx` or the task).
        let _ = self.tx.send(c);
    }

    /// Starts the group task if it is not running (needs a `group.id`).
    pub(crate) fn ensure_running(&self, inner: &Arc<Inner>) {
        if inner.config.group_id.is_none() || inner.is_closed() {
            return;
        }
        let Some(rx) = self.rx.lock().unwrap_or_else(|p| p.into_inner()).take() else { return };
        let task = tokio::spawn(run(inner.clone(), rx));
        *self.task.lock().unwrap_or_else(|p| p.into_inner()) = Some(task);
    }

    pub(crate) fn is_running(&self) -> bool {
        self.task.lock().unwrap_or_else(|p| p.into_inner()).is_some()
    }

    /// Stops the task (the consumer is closed or dropped).
    pub(crate) fn abort(&self) {
        if let Some(t) = self.task.lock().unwrap_or_else(|p| p.into_inner()).take() {
            t.abort();
        }
    }
}

/// The coordinator and its next heartbeat's due time, when group requests share the broker's
/// (fetch) connection (`ConsumerConfig::coordinator_dedicated`). A heartbeat written behind a
/// parked Fetch is only read by the broker once the Fetch is answered (one request per
/// connection at a time), so the fetch planner caps the wait of a Fetch to that broker at the
/// heartbeat.
pub(crate) fn heartbeat_for_fetch(inner: &Inner) -> Option<(i32, Instant)> {
    if inner.config.coordinator_dedicated() {
        return None;
    }
    inner.group.published_heartbeat()
}

fn no_group() -> Error {
    Error::new(ErrorKind::State, "this operation needs a group.id")
}

fn task_gone() -> Error {
    Error::closed()
}

/// Commits `offsets` through the group task and waits for the outcome.
pub(crate) async fn commit(
    inner: &Arc<Inner>,
    offsets: BTreeMap<TopicPartition, OffsetAndMetadata>,
    read_under: Option<Membership>,
    origin: CommitOrigin,
) -> Result<()> {
    match start_commit(inner, offsets, read_under, origin)? {
        Some(rx) => rx.await.unwrap_or_else(|_| Err(task_gone())),
        None => Ok(()),
    }
}

/// Hands `offsets` to the group task and returns where its outcome will arrive (`None`: nothing
/// to commit). The commit goes ahead whether or not the receiver is awaited or kept; a failed
/// [`CommitOrigin::Async`] commit is also logged by the member.
pub(crate) fn start_commit(
    inner: &Arc<Inner>,
    offsets: BTreeMap<TopicPartition, OffsetAndMetadata>,
    read_under: Option<Membership>,
    origin: CommitOrigin,
) -> Result<Option<oneshot::Receiver<Result<()>>>> {
    if inner.config.group_id.is_none() {
        return Err(no_group());
    }
    if offsets.is_empty() {
        return Ok(None);
    }
    inner.group.ensure_running(inner);
    let (tx, rx) = oneshot::channel();
    inner.group.send(Command::Commit { offsets, read_under, origin, reply: Some(tx) });
    Ok(Some(rx))
}

/// The group's committed offsets for `partitions` (absent: nothing committed).
pub(crate) async fn fetch_committed(
    inner: &Arc<Inner>,
    partitions: &[TopicPartition],
) -> Result<HashMap<TopicPartition, OffsetAndMetadata>> {
    if inner.config.group_id.is_none() {
        return Err(no_group());
    }
    if partitions.is_empty() {
        return Ok(HashMap::new());
    }
    inner.group.ensure_running(inner);
    let (tx, rx) = oneshot::channel();
    inner.group.send(Command::FetchCommitted { partitions: partitions.to_vec(), reply: tx });
    rx.await.unwrap_or_else(|_| Err(task_gone()))
}

/// `close()`: asks the task to commit and leave; resolves when it is done (or gone).
pub(crate) fn close(inner: &Inner, deadline: Instant) -> Option<oneshot::Receiver<()>> {
    if !inner.group.is_running() {
        return None;
    }
    let (tx, rx) = oneshot::channel();
    inner.group.send(Command::Close { deadline, reply: tx });
    Some(rx)
}

fn new_member(inner: &Inner) -> Box<dyn GroupMember> {
    let cfg = &inner.config;
    let core = CoreConfig {
        retry_backoff: ExponentialBackoff::new(cfg.net.retry_backoff, cfg.net.retry_backoff_max),
        api_timeout: cfg.default_api_timeout,
        auto_commit: cfg.enable_auto_commit.then_some(cfg.auto_commit_interval),
    };
    match cfg.group_protocol {
        GroupProtocol::Consumer => {
            // KIP-1082: a random UUID chosen by the client, kept across rejoins.
            let member_id = uuid::Uuid::from_bytes(rand::random()).to_string();
            Box::new(Kip848Member::new(
                Kip848Config {
                    core,
                    instance_id: cfg.group_instance_id.clone(),
                    rebalance_timeout: cfg.max_poll_interval,
                    heartbeat_interval: cfg.heartbeat_interval,
                },
                member_id,
            ))
        }
        GroupProtocol::Classic => Box::new(ClassicMember::new(ClassicConfig {
            core,
            instance_id: cfg.group_instance_id.clone(),
            session_timeout: cfg.session_timeout,
            heartbeat_interval: cfg.heartbeat_interval,
            rebalance_timeout: cfg.max_poll_interval,
            protocol: wire::rebalance_protocol(inner),
        })),
    }
}

/// What the member needs from the metadata: the subscribed topics with their partition
/// counts, and topic names by id.
fn metadata_view(inner: &Inner, snap: &Snapshot) -> MetadataView {
    let sub = inner.lock_state().subscription.clone();
    let usable = |t: &&crate::cluster::metadata::TopicInfo| KafkaCode(t.error).is_ok() && !t.partitions.is_empty();
    let topics = match sub {
        Subscription::Topics(names) => names
            .iter()
            .filter_map(|n| snap.topics.get(n).filter(usable).map(|t| (n.clone(), t.partitions.len())))
            .collect(),
        Subscription::Pattern(re) => snap
            .topics
            .values()
            .filter(usable)
            .filter(|t| re.is_match(&t.name) && !(t.internal && inner.config.exclude_internal_topics))
            .map(|t| (t.name.clone(), t.partitions.len()))
            .collect(),
        _ => BTreeMap::new(),
    };
    let names = snap.topics.values().filter(|t| !t.id.is_nil()).map(|t| (t.id, t.name.clone())).collect();
    MetadataView { topics, names }
}

type InFlight = FuturesUnordered<BoxFuture<'static, Done>>;

enum Done {
    Request(RequestId, Result<Response>),
    Metadata,
}

struct Driver {
    inner: Arc<Inner>,
    member: Box<dyn GroupMember>,
    in_flight: InFlight,
    commit_replies: HashMap<OpId, oneshot::Sender<Result<()>>>,
    fetch_replies: HashMap<OpId, oneshot::Sender<Result<Committed>>>,
    close_reply: Option<oneshot::Sender<()>>,
    /// The application polled at least once: from then on the member may join.
    polled: bool,
    /// What the application last asked for, and what the member was told.
    want_subscribed: bool,
    told_subscribed: bool,
    /// The snapshot the member's metadata view was computed from.
    seen: Option<Arc<Snapshot>>,
    refreshing: bool,
    /// Rebalance spans and metrics.
    rebalances: RebalanceTracker,
}

/// The group task. Runs until the consumer closes (which aborts it).
async fn run(inner: Arc<Inner>, mut rx: mpsc::UnboundedReceiver<Command>) {
    let mut d = Driver {
        member: new_member(&inner),
        inner: inner.clone(),
        in_flight: FuturesUnordered::new(),
        commit_replies: HashMap::new(),
        fetch_replies: HashMap::new(),
        close_reply: None,
        polled: false,
        want_subscribed: false,
        told_subscribed: false,
        seen: None,
        refreshing: false,
        rebalances: RebalanceTracker::new(inner.config.group_protocol == GroupProtocol::Classic),
    };
    loop {
        d.pump();
        let wake = d.member.poll_timeout();
        let sleep = async move {
            match wake {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            Some(done) = d.in_flight.next(), if !d.in_flight.is_empty() => d.finished(done),
            cmd = rx.recv() => match cmd {
                Some(c) => d.command(c),
                None => return,
            },
            _ = sleep => d.member.handle_timeout(Instant::now()),
        }
    }
}

impl Driver {
    /// Feeds the member fresh metadata, then carries out its events and sends its requests
    /// until it has nothing more to say.
    fn pump(&mut self) {
        loop {
            let now = Instant::now();
            self.sync_metadata(now);
            let mut progress = false;
            while let Some(e) = self.member.poll_event() {
                progress = true;
                let closing = self.close_reply.is_some();
                let ends_rebalance = self.rebalances.on_event(&self.inner, &e, now, closing);
                self.event(now, e);
                if ends_rebalance {
                    self.rebalances.finish(&self.inner, now);
                }
            }
            while let Some(o) = self.member.poll_request(now) {
                progress = true;
                self.send(o);
            }
            if !progress {
                self.rebalances.after_pump(&self.inner, now);
                break;
            }
        }
        let mut p = self.inner.group.published();
        p.coordinator = self.member.coordinator();
        p.next_heartbeat = self.member.next_heartbeat();
    }

    fn sync_metadata(&mut self, now: Instant) {
        let snap = self.inner.cluster.snapshot();
        if self.seen.as_ref().is_some_and(|s| Arc::ptr_eq(s, &snap)) {
            return;
        }
        let view = metadata_view(&self.inner, &snap);
        self.seen = Some(snap);
        self.member.handle_metadata(now, &view);
    }

    fn command(&mut self, c: Command) {
        let now = Instant::now();
        match c {
            Command::Subscription(s) => {
                self.want_subscribed = s;
                // A changed subscription is a new one: the metadata view is computed again.
                self.seen = None;
                self.apply_subscription(now);
            }
            Command::Poll(at) => {
                self.polled = true;
                self.apply_subscription(now);
                self.member.handle_application_poll(now, at);
            }
            Command::Commit { offsets, read_under, origin, reply } => {
                let id = self.member.commit(now, offsets, read_under, origin);
                if let Some(r) = reply {
                    self.commit_replies.insert(id, r);
                }
            }
            Command::FetchCommitted { partitions, reply } => {
                let id = self.member.fetch_committed(now, partitions);
                self.fetch_replies.insert(id, reply);
            }
            Command::Close { deadline, reply } => {
                self.close_reply = Some(reply);
                self.member.handle_close(now, deadline);
            }
        }
    }

    fn apply_subscription(&mut self, now: Instant) {
        // Nothing is sent before the first poll; a subscription change after it is told
        // whenever it differs (or repeats a subscribe: the topics may have changed).
        if !self.polled {
            return;
        }
        if self.want_subscribed != self.told_subscribed || self.want_subscribed && self.seen.is_none() {
            self.told_subscribed = self.want_subscribed;
            self.member.handle_subscription(now, self.want_subscribed);
        }
    }

    fn finished(&mut self, done: Done) {
        let now = Instant::now();
        self.rebalances.on_response(now);
        match done {
            Done::Metadata => {
                self.refreshing = false;
            }
            Done::Request(id, Ok(r)) => self.member.handle_response(now, id, r),
            Done::Request(id, Err(e)) => {
                if matches!(e.kind(), ErrorKind::Unreachable | ErrorKind::Timeout) {
                    self.inner.maybe_unreachable(e.clone());
                }
                if !e.is_closed() {
                    tracing::debug!(error = %e, "group request failed");
                }
                self.member.handle_failure(now, id, &e);
            }
        }
    }

    /// Starts one request of the member's.
    fn send(&mut self, o: Outgoing) {
        let inner = self.inner.clone();
        let coord = match o.target {
            Target::Coordinator(c) => c,
            Target::AnyNode | Target::Local => -1,
        };
        let id = o.id;
        let now = Instant::now();
        self.rebalances.on_send(&self.inner, &o.request, now);
        let span = group_telemetry::request_span(&self.inner, &o.request, coord, self.rebalances.parent());
        let heartbeat = matches!(o.request, Request::Heartbeat(_) | Request::ConsumerHeartbeat(_));
        self.in_flight.push(Box::pin(async move {
            let r = match o.request {
                Request::FindCoordinator => wire::find_coordinator(&inner).await,
                Request::JoinGroup { member_id, generation, owned, reason } => {
                    wire::join_group(&inner, coord, member_id, generation, owned, reason).await
                }
                Request::Assign { protocol, members } => wire::leader_assign(&inner, &protocol, &members).await,
                Request::SyncGroup { membership, protocol, assignments } => {
                    wire::sync_group(&inner, coord, membership, protocol, assignments).await
                }
                Request::Heartbeat(m) => wire::heartbeat(&inner, coord, m).await,
                Request::LeaveGroup { member_id, reason } => wire::leave_group(&inner, coord, member_id, reason).await,
                Request::ConsumerHeartbeat(h) => wire::consumer_heartbeat(&inner, coord, h).await,
                Request::OffsetCommit { membership, offsets } => {
                    wire::offset_commit(&inner, coord, membership, offsets).await
                }
                Request::OffsetFetch { partitions, member } => {
                    wire::offset_fetch(&inner, coord, partitions, member).await
                }
            };
            if heartbeat && r.is_ok() {
                let done = Instant::now();
                inner.telemetry.heartbeat_done(done.saturating_duration_since(now), done);
            }
            Done::Request(id, r)
        }.instrument(span)));
    }

    /// Carries out one of the member's events on the consumer.
    fn event(&mut self, now: Instant, e: Event) {
        let inner = &self.inner;
        match e {
            Event::Coordinator(c) => {
                // A dedicated socket to a former coordinator is no longer needed.
                inner.cluster.net.handle_coordinator(c);
                inner.group.published().coordinator = c;
            }
            Event::Membership(m) => {
                let _st = inner.lock_state();
                inner.group.published().membership = m;
            }
            Event::Revoke(parts) => {
                let (positions, to_commit) = revocation_positions(inner, &parts);
                let mut ctx = RevokeContext { positions, commit: None };
                if let Some(l) = inner.listener() {
                    l.on_partitions_revoked(&parts, &mut ctx);
                }
                self.member.handle_revoked(now, to_commit, ctx.commit.unwrap_or_default());
            }
            Event::Released(parts) => {
                inner.lock_state().remove_partitions(&parts);
                inner.fetch_wake.notify_one();
            }
            Event::Assigned(parts) => {
                inner.lock_state().add_partitions(parts.iter().cloned());
                if let Some(l) = inner.listener() {
                    l.on_partitions_assigned(&parts);
                }
                inner.fetch_wake.notify_one();
            }
            Event::Lost(parts) => {
                inner.lock_state().remove_partitions(&parts);
                if let Some(l) = inner.listener() {
                    l.on_partitions_lost(&parts);
                }
                inner.fetch_wake.notify_one();
            }
            Event::AutoCommitDue => {
                let positions = consumed(inner);
                self.member.handle_auto_commit(now, positions);
            }
            Event::CommitDone { id, origin, result } => {
                tracing::trace!(?origin, ok = result.is_ok(), "commit ended");
                if let Some(r) = self.commit_replies.remove(&id) {
                    let _ = r.send(result);
                }
            }
            Event::OffsetsFetched { id, result } => {
                if let Some(r) = self.fetch_replies.remove(&id) {
                    let _ = r.send(result);
                }
            }
            Event::RefreshMetadata(why) => {
                inner.cluster.request_update(why.clone());
                if !self.refreshing {
                    self.refreshing = true;
                    let inner = inner.clone();
                    self.in_flight.push(Box::pin(async move {
                        tokio::time::sleep_until(inner.cluster.next_refresh().max(Instant::now())).await;
                        if let Err(e) = inner.refresh_metadata_now(&why).await {
                            tracing::debug!(error = %e, "metadata refresh for the group failed");
                        }
                        Done::Metadata
                    }));
                }
            }
            // The member logs the why; the next `poll` is what rejoins.
            Event::PollTimedOut(left) => tracing::debug!(left, "poll interval"),
            Event::Error(e) => {
                inner.lock_state().fatal = Some(Arc::new(e));
                inner.data_ready.notify_waiters();
            }
            Event::Closed => {
                if let Some(r) = self.close_reply.take() {
                    let _ = r.send(());
                }
            }
        }
    }
}

/// Stops delivery of `parts` and reads, under one lock (see `ConsumerState::begin_revocation`),
/// their positions (for the listener) and what to commit for them (the positions, or the stored
/// offsets with `enable.auto.offset.store=false`).
fn revocation_positions(
    inner: &Inner,
    parts: &[TopicPartition],
) -> (BTreeMap<TopicPartition, i64>, BTreeMap<TopicPartition, OffsetAndMetadata>) {
    let mut st = inner.lock_state();
    let positions = st.begin_revocation(parts);
    let commit = st.revocation_offsets(parts);
    (positions, commit)
}

/// What the consumer commits for every assigned partition (auto-commit): positions, or the
/// stored offsets with `enable.auto.offset.store=false`.
fn consumed(inner: &Inner) -> BTreeMap<TopicPartition, OffsetAndMetadata> {
    inner.lock_state().consumed_offsets()
}

/// How long `close()` keeps for closing sockets after the group is done.
pub(crate) fn socket_share(timeout: Duration) -> Duration {
    timeout / 10
}
