//! The consumer: subscriptions and assignments, positions, fetching, commits and groups.
//!
//! [`Consumer`] is the handle users hold. Construction does no I/O at all; the first call that
//! needs the cluster (usually [`Consumer::poll`]) starts two background tasks — the fetch loop
//! and, with a subscription, the group membership loop — and opens sockets as requests need
//! them.

pub mod assignor;
mod commit_api;
mod fetch_planner;
#[cfg(test)]
mod fetch_planner_tests;
#[cfg(test)]
mod budget_tests;
mod fetch_session;
mod fetcher;
mod group;
mod group_telemetry;
mod group_metadata;
mod group_wire;
mod membership;
mod offsets;
mod state;
mod types;
mod wakeup;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use regex::Regex;
use tokio::sync::{broadcast, Notify};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::Instrument;

use crate::cluster::metadata::Snapshot;
use crate::cluster::{Cluster, ClusterSettings};
use crate::config::ConsumerConfig;
use membership::commits::CommitOrigin;
use crate::error::{Error, ErrorKind, Result};
use crate::net::events::{ConnectionEvent, ConnectionMetrics};
use state::{ConsumerState, ResetTo, Subscription};

pub use group_metadata::ConsumerGroupMetadata;
pub use types::{
    ConsumerRecord, FetchBufferStats, FetchState, Header, OffsetAndMetadata, OffsetAndTimestamp, PartitionFetchState,
    TimestampType, TopicPartition,
};
pub use commit_api::CommitHandle;
pub use wakeup::WakeupHandle;

/// Callbacks around rebalances (Java's `ConsumerRebalanceListener`).
///
/// They run on the consumer's group task, between the steps of a rebalance: `revoked` before
/// the partitions leave this member (commit there to hand them over cleanly), `assigned` once
/// new partitions are this member's, `lost` when the group moved on without this member (no
/// commit is possible then). Keep them short: the group waits.
pub trait RebalanceListener: Send + Sync + 'static {
    /// New partitions were assigned (only the added ones with the cooperative protocol).
    fn on_partitions_assigned(&self, _partitions: &[TopicPartition]) {}
    /// Partitions are about to be taken away. Use `ctx` to read positions and to ask for a
    /// commit before they go.
    fn on_partitions_revoked(&self, _partitions: &[TopicPartition], _ctx: &mut RevokeContext) {}
    /// Partitions were lost (session expired, fenced). Defaults to nothing.
    fn on_partitions_lost(&self, _partitions: &[TopicPartition]) {}
}

/// What a revocation callback can see and do.
#[derive(Debug)]
pub struct RevokeContext {
    positions: BTreeMap<TopicPartition, i64>,
    commit: Option<BTreeMap<TopicPartition, OffsetAndMetadata>>,
}

impl RevokeContext {
    /// The consumer's positions (next offset to consume) of the partitions being revoked.
    pub fn positions(&self) -> &BTreeMap<TopicPartition, i64> {
        &self.positions
    }

    /// Commits these offsets before the partitions are released.
    pub fn commit(&mut self, offsets: BTreeMap<TopicPartition, OffsetAndMetadata>) {
        self.commit.get_or_insert_with(BTreeMap::new).extend(offsets);
    }

    /// Commits the current positions of the revoked partitions before they are released.
    pub fn commit_positions(&mut self) {
        let p: BTreeMap<_, _> =
            self.positions.iter().map(|(tp, o)| (tp.clone(), OffsetAndMetadata::new(*o))).collect();
        self.commit(p);
    }
}

/// A stream of connection events (see [`ConnectionEvent`]).
#[derive(Debug)]
pub struct ConnectionEvents {
    rx: broadcast::Receiver<ConnectionEvent>,
}

impl ConnectionEvents {
    /// The next event; `None` once the consumer is gone. Events missed because the receiver
    /// fell more than 1024 behind are skipped.
    pub async fn recv(&mut self) -> Option<ConnectionEvent> {
        loop {
            match self.rx.recv().await {
                Ok(e) => return Some(e),
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }

    /// The next event if one is ready.
    pub fn try_recv(&mut self) -> Option<ConnectionEvent> {
        loop {
            match self.rx.try_recv() {
                Ok(e) => return Some(e),
                Err(broadcast::error::TryRecvError::Lagged(_)) => continue,
                Err(_) => return None,
            }
        }
    }
}

pub(crate) struct Inner {
    pub(crate) cluster: Arc<Cluster>,
    pub(crate) config: ConsumerConfig,
    state: Mutex<ConsumerState>,
    /// Fetch planning (sans-io). Lock order: `state` before `planner`.
    planner: Mutex<fetch_planner::FetchPlanner>,
    pub(crate) data_ready: Notify,
    pub(crate) fetch_wake: Notify,
    /// The group task's queue and what it publishes (membership, coordinator, heartbeat).
    pub(crate) group: group::GroupShared,
    listener: Mutex<Option<Arc<dyn RebalanceListener>>>,
    closed: AtomicBool,
    /// Interrupts blocking calls (Java's `wakeup`).
    pub(crate) wakeup: WakeupHandle,
    /// The fetch-manager and coordinator metrics (the `metrics` facade).
    pub(crate) telemetry: crate::telemetry::ConsumerTelemetry,
}

impl Inner {
    pub(crate) fn lock_state(&self) -> MutexGuard<'_, ConsumerState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn lock_planner(&self) -> MutexGuard<'_, fetch_planner::FetchPlanner> {
        self.planner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    pub(crate) fn retry_backoff(&self) -> Duration {
        self.config.net.retry_backoff
    }

    pub(crate) fn listener(&self) -> Option<Arc<dyn RebalanceListener>> {
        self.listener.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The topics metadata must cover: the subscription's, or every assigned partition's.
    fn interest(&self) -> Option<Vec<String>> {
        let st = self.lock_state();
        match &st.subscription {
            Subscription::Topics(t) => Some(t.iter().cloned().collect()),
            Subscription::Pattern(_) => None,
            _ => {
                let t: BTreeSet<String> = st.assignment.keys().map(|tp| tp.topic.to_string()).collect();
                Some(t.into_iter().collect())
            }
        }
    }

    pub(crate) async fn refresh_metadata_if_due(&self) -> Result<Arc<Snapshot>> {
        let topics = self.interest();
        self.cluster.refresh_if_due(topics.as_deref()).await
    }

    pub(crate) async fn refresh_metadata_now(&self, why: &str) -> Result<Arc<Snapshot>> {
        let topics = self.interest();
        self.cluster.refresh(topics.as_deref(), why).await
    }

    /// The concrete topic list of the subscription (resolving a pattern against metadata).
    pub(crate) async fn subscription_topics(&self) -> Result<Vec<String>> {
        let sub = self.lock_state().subscription.clone();
        match sub {
            Subscription::Topics(t) => {
                let list: Vec<String> = t.into_iter().collect();
                self.cluster.refresh(Some(&list), "subscription").await?;
                Ok(list)
            }
            Subscription::Pattern(re) => {
                let snap = self.cluster.recent(None, "pattern subscription").await?;
                let mut out: Vec<String> = snap
                    .topics
                    .values()
                    .filter(|t| re.is_match(&t.name) && !(t.internal && self.config.exclude_internal_topics))
                    .map(|t| t.name.clone())
                    .collect();
                out.sort();
                Ok(out)
            }
            _ => Ok(Vec::new()),
        }
    }

    /// A connectivity failure: once no metadata could be had for `default.api.timeout.ms`
    /// since the first poll, `poll` reports it (once per timeout) instead of waiting silently,
    /// so an unreachable bootstrap server is a clear error, not a hang.
    pub(crate) fn maybe_unreachable(&self, e: Error) {
        if !self.cluster.snapshot().brokers.is_empty() {
            return;
        }
        let mut st = self.lock_state();
        let Some(first) = st.first_poll else { return };
        if first.elapsed() < self.config.default_api_timeout {
            return;
        }
        st.first_poll = Some(Instant::now());
        let servers: Vec<String> =
            self.config.net.bootstrap_servers.iter().map(|b| format!("{}:{}", b.host, b.port)).collect();
        st.fatal = Some(Arc::new(
            Error::new(
                ErrorKind::Unreachable,
                format!(
                    "no broker reachable: could not get metadata from bootstrap.servers={} within default.api.timeout.ms ({} ms)",
                    servers.join(","),
                    self.config.default_api_timeout.as_millis()
                ),
            )
            .with_source(e),
        ));
        drop(st);
        self.data_ready.notify_waiters();
    }

    /// Every position of the assignment and the membership they were read under, together
    /// (under the state lock, where the group task publishes a new membership).
    pub(crate) fn consumed_with_membership(&self) -> (BTreeMap<TopicPartition, OffsetAndMetadata>, group::Membership) {
        let st = self.lock_state();
        let offsets = st.consumed_offsets();
        (offsets, self.group.membership())
    }

    /// Commits every position of the assignment (`commit_sync`).
    pub(crate) async fn commit_consumed(self: &Arc<Self>) -> Result<()> {
        let (offsets, membership) = self.consumed_with_membership();
        group::commit(self, offsets, Some(membership), CommitOrigin::Sync).await
    }
}

/// Builds the connection-layer settings from a consumer's network config.
pub(crate) fn cluster_settings(config: &ConsumerConfig) -> ClusterSettings {
    // The one place that decides it: `ConsumerConfig::coordinator_dedicated`.
    let mut settings = ClusterSettings::from_net(&config.net, config.default_api_timeout, !config.coordinator_dedicated(), crate::telemetry::ClientKind::Consumer);
    settings.allow_auto_create_topics = config.allow_auto_create_topics;
    settings
}

/// A Kafka consumer.
///
/// ```no_run
/// # async fn run() -> gregor::Result<()> {
/// use std::time::Duration;
/// use gregor::{Consumer, ConsumerConfig};
///
/// let config = ConsumerConfig::builder()
///     .bootstrap_servers("localhost:9092")
///     .group_id("orders-app")
///     .build()?;
/// let consumer = Consumer::new(config)?; // no socket yet
/// consumer.subscribe(["orders"])?;
/// loop {
///     let records = consumer.poll(Duration::from_millis(500)).await?;
///     for r in &records {
///         println!("{}-{}@{}: {:?}", r.topic, r.partition, r.offset, r.value_str());
///     }
///     if !records.is_empty() {
///         consumer.commit_sync().await?;
///     }
/// #   break;
/// }
/// consumer.close(Duration::from_secs(30)).await;
/// # Ok(()) }
/// ```
pub struct Consumer {
    inner: Arc<Inner>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for Consumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer")
            .field("group_id", &self.inner.config.group_id)
            .field("client_id", &self.inner.config.net.client_id)
            .finish()
    }
}

impl Consumer {
    /// Creates a consumer. Validates the configuration; opens no socket and starts no task.
    pub fn new(mut config: ConsumerConfig) -> Result<Consumer> {
        config
            .validate()
            .map_err(|e| Error::new(ErrorKind::Config, e.to_string()))?;
        let cluster = Cluster::new(cluster_settings(&config));
        let planner = fetch_planner::FetchPlanner::new(fetch_planner::PlannerConfig::from_consumer(&config));
        let state = ConsumerState { manual_offset_store: !config.enable_auto_offset_store, ..ConsumerState::default() };
        let telemetry = crate::telemetry::ConsumerTelemetry::new(&config.net.client_id, &config.net.metrics);
        Ok(Consumer {
            inner: Arc::new(Inner {
                telemetry,
                cluster,
                config,
                state: Mutex::new(state),
                planner: Mutex::new(planner),
                data_ready: Notify::new(),
                fetch_wake: Notify::new(),
                group: group::GroupShared::default(),
                listener: Mutex::new(None),
                closed: AtomicBool::new(false),
                wakeup: WakeupHandle::default(),
            }),
            tasks: Mutex::new(Vec::new()),
        })
    }

    /// Creates a consumer from Java-style `key=value` pairs.
    pub fn from_properties<K: AsRef<str>, V: AsRef<str>>(
        props: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Consumer> {
        let config = ConsumerConfig::from_map(props).map_err(|e| Error::new(ErrorKind::Config, e.to_string()))?;
        Consumer::new(config)
    }

    fn check_open(&self) -> Result<()> {
        if self.inner.is_closed() {
            Err(Error::closed())
        } else {
            Ok(())
        }
    }

    fn ensure_tasks(&self) {
        let mut tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner());
        if tasks.is_empty() {
            tasks.push(tokio::spawn(fetcher::run(self.inner.clone())));
        }
        drop(tasks);
        self.inner.group.ensure_running(&self.inner);
    }

    /// Subscribes to topics; partitions are assigned by the group (needs `group.id`).
    /// Replaces any earlier subscription.
    pub fn subscribe<I, S>(&self, topics: I) -> Result<()>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.check_open()?;
        let topics: BTreeSet<String> = topics.into_iter().map(Into::into).collect();
        if topics.iter().any(|t| t.trim().is_empty()) {
            return Err(Error::new(ErrorKind::Config, "topic names must not be empty"));
        }
        self.set_subscription(Subscription::Topics(topics))
    }

    /// Subscribes to every topic whose name matches `pattern` (a regular expression matched
    /// against the whole name, as Java's `Pattern`), now and as topics appear.
    pub fn subscribe_pattern(&self, pattern: &str) -> Result<()> {
        self.check_open()?;
        let re = Regex::new(&format!("^(?:{pattern})$"))
            .map_err(|e| Error::new(ErrorKind::Config, format!("bad topic pattern {pattern:?}: {e}")))?;
        self.set_subscription(Subscription::Pattern(re))
    }

    fn set_subscription(&self, sub: Subscription) -> Result<()> {
        if self.inner.config.group_id.is_none() {
            return Err(Error::new(
                ErrorKind::Config,
                "subscribe needs a group.id (use assign() to read partitions without a group)",
            ));
        }
        {
            let mut st = self.inner.lock_state();
            if matches!(st.subscription, Subscription::Manual) {
                return Err(Error::new(ErrorKind::State, "subscribe() after assign(): call unsubscribe() first"));
            }
            st.subscription = sub;
        }
        self.inner.group.send(group::Command::Subscription(true));
        Ok(())
    }

    /// Reads exactly these partitions, without group management. Commits still go to
    /// `group.id` when set.
    pub fn assign(&self, partitions: impl IntoIterator<Item = TopicPartition>) -> Result<()> {
        self.check_open()?;
        let mut st = self.inner.lock_state();
        if st.subscription.is_group() {
            return Err(Error::new(ErrorKind::State, "assign() after subscribe(): call unsubscribe() first"));
        }
        st.subscription = Subscription::Manual;
        st.set_assignment(partitions);
        drop(st);
        self.inner.fetch_wake.notify_one();
        Ok(())
    }

    /// Drops the subscription or the manual assignment (leaving the group).
    pub fn unsubscribe(&self) {
        let mut st = self.inner.lock_state();
        st.subscription = Subscription::None;
        st.set_assignment(std::iter::empty());
        drop(st);
        self.inner.group.send(group::Command::Subscription(false));
    }

    /// Registers the rebalance listener.
    pub fn set_rebalance_listener(&self, listener: impl RebalanceListener) {
        *self.inner.listener.lock().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(listener));
    }

    /// The partitions assigned to this consumer now.
    pub fn assignment(&self) -> Vec<TopicPartition> {
        self.inner.lock_state().assignment.keys().cloned().collect()
    }

    /// Returns fetched records, waiting up to `timeout` for some. At most `max.poll.records`.
    ///
    /// Errors: a partition whose offset is out of range with `auto.offset.reset=none`, corrupt
    /// records, authorization failures, or the group having fenced this member. Records
    /// fetched before an error are returned first.
    ///
    /// A [`WakeupHandle::wakeup`] makes it return an [`ErrorKind::Wakeup`] error at once.
    pub async fn poll(&self, timeout: Duration) -> Result<Vec<ConsumerRecord>> {
        let span = tracing::debug_span!(
            "gregor.poll",
            client_id = %self.inner.config.net.client_id,
            timeout_ms = timeout.as_millis() as u64,
            records = tracing::field::Empty,
        );
        let r = self.inner.wakeup.guard(self.poll_inner(timeout)).instrument(span.clone()).await;
        if let Ok(recs) = &r {
            span.record("records", recs.len());
        }
        r
    }

    /// Records what a `poll` returned in the metrics: the records, and the lag of each partition
    /// that returned some. Java records a partition's lag as it hands out that partition's
    /// records (`FetchCollector.fetchRecords` → `FetchMetricsManager.recordPartitionLag`), not
    /// every assigned partition's on every poll (which would cost O(partitions) per poll).
    fn record_poll(&self, st: &ConsumerState, recs: &[ConsumerRecord]) {
        let read_committed = self.inner.config.isolation_level == crate::config::IsolationLevel::ReadCommitted;
        // `drain_records` hands out each partition's records contiguously.
        let mut polled: Vec<TopicPartition> = Vec::new();
        for r in recs {
            let same = polled.last().is_some_and(|tp| tp.partition == r.partition && *tp.topic == *r.topic);
            if !same {
                polled.push(TopicPartition { topic: r.topic.clone(), partition: r.partition });
            }
        }
        let lags = polled
            .iter()
            .filter_map(|tp| st.assignment.get_key_value(tp))
            .map(|(tp, s)| (tp, ConsumerState::partition_lag(s, read_committed)));
        self.inner.telemetry.polled(recs.len(), lags, st.assignment.len(), Instant::now());
    }

    async fn poll_inner(&self, timeout: Duration) -> Result<Vec<ConsumerRecord>> {
        self.check_open()?;
        self.ensure_tasks();
        let deadline = Instant::now() + timeout;
        {
            let now = Instant::now();
            let mut st = self.inner.lock_state();
            st.last_poll = Some(now);
            st.first_poll.get_or_insert(now);
            drop(st);
            // The poll timer of the group member (max.poll.interval.ms).
            self.inner.group.send(group::Command::Poll(now));
        }
        loop {
            let ready = self.inner.data_ready.notified();
            tokio::pin!(ready);
            ready.as_mut().enable();
            {
                let mut st = self.inner.lock_state();
                if let Some(e) = st.fatal.take() {
                    return Err((*e).clone());
                }
                let recs = st.drain_records(self.inner.config.max_poll_records as usize);
                if !recs.is_empty() {
                    self.record_poll(&st, &recs);
                    // The room freed matters only if the last planning pass waited for room
                    // (`FetchPlanner::waits_for_room`); otherwise a wake would only make the
                    // fetch loop walk every partition again for nothing.
                    let wake = st.fetch_waits_for_room;
                    drop(st);
                    if wake {
                        self.inner.fetch_wake.notify_one();
                    }
                    return Ok(recs);
                }
                let err = st.assignment.values_mut().find_map(|s| s.error.take());
                if let Some(e) = err {
                    drop(st);
                    self.inner.fetch_wake.notify_one();
                    return Err((*e).clone());
                }
            }
            if self.inner.is_closed() {
                return Err(Error::closed());
            }
            if tokio::time::timeout_at(deadline, ready).await.is_err() {
                self.record_poll(&self.inner.lock_state(), &[]);
                return Ok(Vec::new());
            }
        }
    }

    /// Records as a stream: each item is one record; polling happens as the stream is read.
    pub fn stream(&self) -> impl futures_core::Stream<Item = Result<ConsumerRecord>> + '_ {
        futures_util::stream::unfold(std::collections::VecDeque::new(), move |mut buf| async move {
            loop {
                if let Some(r) = buf.pop_front() {
                    return Some((Ok(r), buf));
                }
                match self.poll(Duration::from_secs(1)).await {
                    Ok(recs) => buf.extend(recs),
                    Err(e) if e.is_closed() => return None,
                    Err(e) => return Some((Err(e), buf)),
                }
            }
        })
    }

    /// Commits the positions of all assigned partitions (everything returned by `poll`) and
    /// waits for the result.
    pub async fn commit_sync(&self) -> Result<()> {
        self.check_open()?;
        self.inner.wakeup.guard(self.inner.commit_consumed()).await
    }

    /// Commits explicit offsets (the *next* offset to read, i.e. last processed + 1).
    pub async fn commit_offsets_sync(&self, offsets: BTreeMap<TopicPartition, OffsetAndMetadata>) -> Result<()> {
        self.check_open()?;
        self.inner.wakeup.guard(group::commit(&self.inner, offsets, None, CommitOrigin::Sync)).await
    }

    /// The group's committed offsets for these partitions (absent: nothing committed).
    pub async fn committed(
        &self,
        partitions: &[TopicPartition],
    ) -> Result<HashMap<TopicPartition, OffsetAndMetadata>> {
        self.check_open()?;
        let mut m = self.inner.wakeup.guard(group::fetch_committed(&self.inner, partitions)).await?;
        m.retain(|_, om| om.offset >= 0);
        Ok(m)
    }

    /// Moves the position of an assigned partition.
    pub fn seek(&self, tp: &TopicPartition, offset: i64) -> Result<()> {
        self.with_partition(tp, |s| s.seek(offset))
    }

    /// Moves these partitions (all assigned ones if empty) to their log start.
    pub fn seek_to_beginning(&self, partitions: &[TopicPartition]) -> Result<()> {
        self.reset_partitions(partitions, ResetTo::Earliest)
    }

    /// Moves these partitions (all assigned ones if empty) to their log end.
    pub fn seek_to_end(&self, partitions: &[TopicPartition]) -> Result<()> {
        self.reset_partitions(partitions, ResetTo::Latest)
    }

    fn reset_partitions(&self, partitions: &[TopicPartition], to: ResetTo) -> Result<()> {
        let mut st = self.inner.lock_state();
        let list: Vec<TopicPartition> =
            if partitions.is_empty() { st.assignment.keys().cloned().collect() } else { partitions.to_vec() };
        for tp in &list {
            let s = st.assignment.get_mut(tp).ok_or_else(|| not_assigned(tp))?;
            s.request_reset(to);
        }
        drop(st);
        self.inner.fetch_wake.notify_one();
        Ok(())
    }

    fn with_partition(&self, tp: &TopicPartition, f: impl FnOnce(&mut state::PartitionState)) -> Result<()> {
        let mut st = self.inner.lock_state();
        let s = st.assignment.get_mut(tp).ok_or_else(|| not_assigned(tp))?;
        f(s);
        drop(st);
        self.inner.fetch_wake.notify_one();
        Ok(())
    }

    /// The next offset `poll` will return for an assigned partition, resolving it (committed
    /// offset or reset) if needed.
    pub async fn position(&self, tp: &TopicPartition) -> Result<i64> {
        self.check_open()?;
        self.inner.wakeup.guard(self.position_inner(tp)).await
    }

    async fn position_inner(&self, tp: &TopicPartition) -> Result<i64> {
        let deadline = Instant::now() + self.inner.config.default_api_timeout;
        loop {
            {
                let st = self.inner.lock_state();
                let s = st.assignment.get(tp).ok_or_else(|| not_assigned(tp))?;
                if let Some(p) = s.position {
                    return Ok(p);
                }
                if let Some(e) = &s.error {
                    return Err((**e).clone());
                }
            }
            offsets::initialize_positions(&self.inner).await?;
            if Instant::now() >= deadline {
                return Err(Error::new(ErrorKind::Timeout, format!("no position for {tp} within default.api.timeout.ms")));
            }
        }
    }

    /// Stops fetching these partitions until [`resume`](Self::resume); buffered records stay.
    pub fn pause(&self, partitions: &[TopicPartition]) -> Result<()> {
        for tp in partitions {
            self.with_partition(tp, |s| s.paused = true)?;
        }
        Ok(())
    }

    /// Resumes fetching paused partitions.
    pub fn resume(&self, partitions: &[TopicPartition]) -> Result<()> {
        for tp in partitions {
            self.with_partition(tp, |s| s.paused = false)?;
        }
        self.inner.data_ready.notify_waiters();
        Ok(())
    }

    /// The partitions paused now.
    pub fn paused(&self) -> Vec<TopicPartition> {
        self.inner.lock_state().assignment.iter().filter(|(_, s)| s.paused).map(|(tp, _)| tp.clone()).collect()
    }

    /// For each partition, the earliest offset whose timestamp is at or after the given time
    /// (milliseconds since the epoch); `None` when no such record exists.
    pub async fn offsets_for_times(
        &self,
        times: &BTreeMap<TopicPartition, i64>,
    ) -> Result<BTreeMap<TopicPartition, Option<OffsetAndTimestamp>>> {
        self.check_open()?;
        let found = self.inner.wakeup.guard(offsets::list_offsets(&self.inner, times)).await?;
        Ok(times
            .keys()
            .map(|tp| {
                let v = found
                    .get(tp)
                    .filter(|(o, _)| *o >= 0)
                    .map(|(o, t)| OffsetAndTimestamp { offset: *o, timestamp: *t });
                (tp.clone(), v)
            })
            .collect())
    }

    /// The log start offset of each partition.
    pub async fn beginning_offsets(&self, partitions: &[TopicPartition]) -> Result<BTreeMap<TopicPartition, i64>> {
        self.list_special(partitions, offsets::EARLIEST).await
    }

    /// The log end offset (high watermark; last stable offset with read_committed) of each
    /// partition.
    pub async fn end_offsets(&self, partitions: &[TopicPartition]) -> Result<BTreeMap<TopicPartition, i64>> {
        self.list_special(partitions, offsets::LATEST).await
    }

    async fn list_special(&self, partitions: &[TopicPartition], ts: i64) -> Result<BTreeMap<TopicPartition, i64>> {
        self.check_open()?;
        let topics: Vec<String> =
            partitions.iter().map(|tp| tp.topic.to_string()).collect::<BTreeSet<_>>().into_iter().collect();
        self.topic_metadata(&topics, "list offsets").await?;
        let q: BTreeMap<TopicPartition, i64> = partitions.iter().map(|tp| (tp.clone(), ts)).collect();
        let found = self.inner.wakeup.guard(offsets::list_offsets(&self.inner, &q)).await?;
        Ok(found.into_iter().map(|(tp, (o, _))| (tp, o)).collect())
    }

    /// The partitions of a topic, from fresh metadata. An unknown topic is an error.
    pub async fn partitions_for(&self, topic: &str) -> Result<Vec<TopicPartition>> {
        self.check_open()?;
        let snap = self.topic_metadata(&[topic.to_string()], "partitions_for").await?;
        Ok(snap.topics[topic].partitions.iter().map(|p| TopicPartition::new(topic, p.partition)).collect())
    }

    /// Fresh metadata for `topics`, each of which must exist and be usable. A topic the
    /// cluster is still setting up (LEADER_NOT_AVAILABLE and the other retriable topic errors)
    /// is asked about again until `default.api.timeout.ms`; an unknown topic, an unauthorized
    /// or an invalid one is an error at once.
    async fn topic_metadata(&self, topics: &[String], why: &str) -> Result<Arc<Snapshot>> {
        let deadline = Instant::now() + self.inner.config.default_api_timeout;
        loop {
            let snap = self.inner.cluster.refresh(Some(topics), why).await?;
            let mut retry = None;
            for t in topics {
                let Some(info) = snap.topics.get(t) else {
                    return Err(Error::new(ErrorKind::UnknownTopic, format!("unknown topic {t}")));
                };
                let code = crate::protocol_errors::KafkaCode(info.error);
                match crate::rules::action(crate::rules::Api::MetadataTopic, code) {
                    crate::rules::Action::Proceed => {}
                    _ if code == crate::protocol_errors::KafkaCode::UNKNOWN_TOPIC_OR_PARTITION => {
                        return Err(Error::new(ErrorKind::UnknownTopic, format!("unknown topic {t}")))
                    }
                    crate::rules::Action::RefreshMetadata => retry = Some((t.clone(), code)),
                    _ => return Err(Error::broker_code(info.error, format!("topic {t}"))),
                }
            }
            let Some((t, code)) = retry else { return Ok(snap) };
            if Instant::now() >= deadline {
                return Err(Error::broker_code(code.code(), format!("topic {t} not usable within default.api.timeout.ms")));
            }
            self.inner.cluster.request_update(format!("{} for topic {t}", code.name()));
            tokio::time::sleep_until(self.inner.cluster.next_refresh().max(Instant::now())).await;
        }
    }

    /// A handle that interrupts this consumer's blocking calls from another task or thread
    /// (Java's `wakeup`); clone it freely. See [`WakeupHandle`].
    pub fn wakeup_handle(&self) -> WakeupHandle {
        self.inner.wakeup.clone()
    }

    /// Interrupts the blocking call in progress (or the next one): shorthand for
    /// `wakeup_handle().wakeup()`.
    pub fn wakeup(&self) {
        self.inner.wakeup.wakeup()
    }

    /// Every topic the cluster lists with its partitions, from fresh metadata (Java's
    /// `listTopics`); internal topics such as `__consumer_offsets` only with
    /// `exclude.internal.topics=false`.
    pub async fn list_topics(&self) -> Result<BTreeMap<String, Vec<TopicPartition>>> {
        self.check_open()?;
        let snap = self.inner.cluster.refresh(None, "list_topics").await?;
        Ok(snap
            .topics
            .values()
            .filter(|t| crate::protocol_errors::KafkaCode(t.error).is_ok() && !(t.internal && self.inner.config.exclude_internal_topics))
            .map(|t| (t.name.clone(), t.partitions.iter().map(|p| TopicPartition::new(&t.name, p.partition)).collect()))
            .collect())
    }

    /// Connection events from now on: every socket opened, adopted or closed, with reasons.
    pub fn connection_events(&self) -> ConnectionEvents {
        ConnectionEvents { rx: self.inner.cluster.net.subscribe_events() }
    }

    /// Connection counters (Java's `consumer-metrics` names).
    pub fn connection_metrics(&self) -> ConnectionMetrics {
        self.inner.cluster.net.metrics()
    }

    /// Sockets open (or opening) right now.
    pub fn open_connections(&self) -> usize {
        self.inner.cluster.net.open_connections()
    }

    /// The consumer's group membership now (Java `groupMetadata()`), for a transactional
    /// producer's [`send_offsets_to_transaction`](crate::Producer::send_offsets_to_transaction)
    /// (KIP-447); `None` without a `group.id`.
    pub fn group_metadata(&self) -> Option<ConsumerGroupMetadata> {
        let group_id = self.inner.config.group_id.clone()?;
        let m = self.inner.group.membership();
        Some(ConsumerGroupMetadata {
            group_id,
            generation_id: m.generation,
            member_id: m.member_id,
            group_instance_id: self.inner.config.group_instance_id.clone(),
        })
    }

    /// How many records the consumer is behind: the sum over assigned partitions of
    /// [`current_lag`](Self::current_lag) (Java's `records-lag`, summed), or `None` before any
    /// fetch response has told it a high watermark.
    pub fn lag(&self) -> Option<i64> {
        let read_committed = self.inner.config.isolation_level == crate::config::IsolationLevel::ReadCommitted;
        let st = self.inner.lock_state();
        let known: Vec<i64> =
            st.assignment.values().filter_map(|s| ConsumerState::partition_lag(s, read_committed)).map(|l| l.max(0)).collect();
        (!known.is_empty()).then(|| known.iter().sum())
    }

    /// Every assigned partition's fetch state: position, fetch offset, high watermark, buffered
    /// bytes, and what fetching is doing for it ([`FetchState`]: in a fetch, waiting for a
    /// broker, backing off, no leader, buffer full, caught up, ...). A partition that needs
    /// fetching and has not been fetched for longer than `fetch.max.wait.ms` +
    /// `reconnect.backoff.max.ms` + `request.timeout.ms` is also logged as a WARN with its state.
    pub fn fetch_states(&self) -> Vec<PartitionFetchState> {
        let now = Instant::now();
        let snapshot = self.inner.cluster.snapshot();
        let st = self.inner.lock_state();
        let planner = self.inner.lock_planner();
        st.assignment
            .iter()
            .map(|(tp, ps)| PartitionFetchState {
                partition: tp.clone(),
                position: ps.position,
                fetch_offset: ps.fetch_offset,
                high_watermark: ps.high_watermark,
                buffered_bytes: ps.buffered_bytes,
                state: planner
                    .wait_reason(now, &st, tp, ps, &snapshot)
                    .public(now, ps.high_watermark >= 0 && ps.fetch_offset.is_some_and(|o| o >= ps.high_watermark)),
                since_last_fetch: planner.since_progress(now, tp),
            })
            .collect()
    }

    /// The prefetch budget (`queued.max.messages.kbytes`) and what uses it now, with the
    /// highest use seen: the consumer's own accounting of fetched bytes not yet handed out.
    pub fn fetch_buffer(&self) -> FetchBufferStats {
        let st = self.inner.lock_state();
        let planner = self.inner.lock_planner();
        let m = st.memory();
        let (reused, allocated) = m.pool.stats();
        FetchBufferStats {
            budget_bytes: planner.budget(),
            fetched_bytes: m.fetched,
            decompressed_bytes: m.decompressed,
            pooled_bytes: m.pool.bytes(),
            reserved_bytes: planner.reserved(),
            peak_bytes: m.peak,
            peak_committed_bytes: planner.peak_committed().max(m.peak),
            buffers_reused: reused,
            buffers_allocated: allocated,
        }
    }

    /// A snapshot of what the consumer knows now: per assigned partition its position, last
    /// committed offset, high watermark, lag and last fetch latency; per socket its role,
    /// endpoint, broker, age, requests and bytes. Sends nothing.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let cluster = gregor_mock::MockCluster::builder().brokers(1).topic("events", 1).start().await?;
    /// # cluster.append_records("events", 0, &[("a", "1"), ("b", "2"), ("c", "3")])?;
    /// use std::time::Duration;
    /// use gregor::{Consumer, Role, TopicPartition};
    ///
    /// let consumer = Consumer::from_properties([
    ///     ("bootstrap.servers", cluster.bootstrap_servers().as_str()),
    ///     ("max.poll.records", "1"),
    ///     ("auto.offset.reset", "earliest"),
    /// ])?;
    /// let tp = TopicPartition::new("events", 0);
    /// consumer.assign([tp.clone()])?;
    /// while consumer.poll(Duration::from_millis(200)).await?.is_empty() {}
    ///
    /// let stats = consumer.statistics();
    /// let p = stats.partition(&tp).expect("assigned");
    /// assert_eq!(p.position, Some(1));
    /// assert_eq!(p.high_watermark, Some(3));
    /// assert_eq!(p.lag, Some(2));
    /// assert!(p.last_fetch_latency.is_some());
    /// let fetch_socket = stats.connections.iter().find(|c| c.role == Role::Broker).expect("a broker socket");
    /// assert_eq!(fetch_socket.node_id, Some(0));
    /// assert!(fetch_socket.requests > 0 && fetch_socket.bytes_in > 0);
    /// # consumer.close(Duration::from_secs(5)).await;
    /// # Ok(()) }
    /// ```
    pub fn statistics(&self) -> crate::statistics::ConsumerStatistics {
        let read_committed = self.inner.config.isolation_level == crate::config::IsolationLevel::ReadCommitted;
        let known = |v: i64| (v >= 0).then_some(v);
        let partitions = {
            let st = self.inner.lock_state();
            st.assignment
                .iter()
                .map(|(tp, s)| crate::statistics::PartitionStatistics {
                    partition: tp.clone(),
                    position: s.position,
                    committed: s.committed,
                    high_watermark: known(s.high_watermark),
                    last_stable_offset: known(s.last_stable_offset),
                    log_start_offset: known(s.log_start_offset),
                    lag: ConsumerState::partition_lag(s, read_committed),
                    last_fetch_latency: s.last_fetch_latency,
                    buffered_bytes: s.buffered_bytes,
                    paused: s.paused,
                })
                .collect()
        };
        crate::statistics::ConsumerStatistics {
            client_id: self.inner.config.net.client_id.clone(),
            group_id: self.inner.config.group_id.clone(),
            generation: self.inner.group.membership().generation,
            partitions,
            connections: self.inner.cluster.net.connection_statistics(),
        }
    }

    /// The high watermark last seen for a partition (from fetch responses), or -1.
    pub fn high_watermark(&self, tp: &TopicPartition) -> i64 {
        self.inner.lock_state().assignment.get(tp).map_or(-1, |s| s.high_watermark)
    }

    /// The broker this partition's records are fetched from now: its preferred read replica
    /// (KIP-392) while that is valid, else its leader; `None` when metadata names neither.
    /// (What kcat prints as `"broker"` in its `-J` envelope.)
    pub fn fetch_broker(&self, tp: &TopicPartition) -> Option<i32> {
        let snapshot = self.inner.cluster.snapshot();
        let preferred = self.inner.lock_state().assignment.get(tp).and_then(|s| s.preferred_replica);
        match preferred {
            Some((r, until)) if until > Instant::now() && snapshot.brokers.contains_key(&r) => Some(r),
            _ => snapshot.leader(&tp.topic, tp.partition),
        }
    }

    /// Closes the consumer: commits (with `enable.auto.commit`), leaves the group, fails
    /// pending requests, and closes every socket — all within `timeout`.
    pub async fn close(&self, timeout: Duration) {
        if self.inner.closed.swap(true, Ordering::SeqCst) {
            return;
        }
        let deadline = Instant::now() + timeout;
        let tasks: Vec<JoinHandle<()>> = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|p| p.into_inner()));
        for t in &tasks {
            t.abort();
        }
        // The group task commits (through the revocation, or the positions of a manual
        // assignment with enable.auto.commit) and leaves the group. Both need the network,
        // which close() then shuts down; they get the timeout minus a share for the sockets.
        let group_deadline = deadline - group::socket_share(timeout);
        if let Some(done) = group::close(&self.inner, group_deadline) {
            let _ = tokio::time::timeout_at(group_deadline, done).await;
        }
        self.inner.group.abort();
        self.inner.data_ready.notify_waiters();
        let rest = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(100));
        self.inner.cluster.close(rest).await;
    }
}

impl Drop for Consumer {
    fn drop(&mut self) {
        // Dropping closes the sockets: the background tasks hold the only other references to
        // the connections, so stop them; the connection layer aborts its socket tasks when
        // the last reference goes.
        self.inner.closed.store(true, Ordering::SeqCst);
        for t in self.tasks.get_mut().unwrap_or_else(|p| p.into_inner()).drain(..) {
            t.abort();
        }
        self.inner.group.abort();
    }
}

fn not_assigned(tp: &TopicPartition) -> Error {
    Error::new(ErrorKind::State, format!("{tp} is not assigned to this consumer"))
}
