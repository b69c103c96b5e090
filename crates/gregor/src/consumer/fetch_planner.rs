//! Fetch planning without I/O: which partitions go in the next Fetch to which broker, what
//! happens to them when the answer (or a failure) comes back, and why a partition that is not
//! being fetched is waiting.
//!
//! The driver (`fetcher.rs`) owns the sockets and the clock; it calls
//! [`FetchPlanner::poll_requests`] to learn what to send, hands every response to
//! [`FetchPlanner::handle_response`] (after decoding records outside the state lock) and every
//! failure to [`FetchPlanner::handle_failure`], and sleeps until [`FetchPlanner::poll_timeout`].
//! Time is always passed in, so tests drive it with virtual time and no sockets
//! (`fetch_planner_tests.rs`).
//!
//! Rules, and why:
//! * **One Fetch in flight per broker.** A broker serves one request per connection at a time;
//!   a second Fetch would only queue behind the first (which may park for `fetch.max.wait.ms`).
//! * **Never forgotten.** Every assigned, unpaused partition with a position below the last
//!   known high watermark is either in a Fetch in flight or waits for a stated reason with a
//!   bound: a broker's Fetch in flight, a backoff until a given instant, a leader being looked
//!   up, a full buffer. [`FetchPlanner::wait_reason`] names it, [`FetchPlanner::check_stalls`]
//!   warns when a partition goes unfetched for longer than `fetch.max.wait.ms` +
//!   `reconnect.backoff.max.ms` + `request.timeout.ms` while the application polls (issue #19:
//!   partitions stopped being fetched with no error and no log line).
//! * **One prefetch budget for the whole client** (`queued.max.messages.kbytes`): every byte
//!   fetched and not yet handed out — the responses, the batches `poll` decompresses, the
//!   decompression buffers kept for reuse — plus the room reserved for the Fetches in flight
//!   (each asks for at most what it reserved, its `max_bytes`) stays under it, whatever the
//!   number of partitions, topics or brokers. A Fetch is sent only with at least
//!   [`FetchPlanner::min_fetch`] of room; each broker asks for at most an equal share (half
//!   the budget over the brokers being fetched from, so each can have one response being read
//!   and one in flight), and brokers take turns when room is short. Within a broker, the
//!   broker itself rotates partitions through its session (KIP-227), and a partition holding
//!   `max.partition.fetch.bytes` waits. A partition without room waits as `BufferFull`: an
//!   application that stops polling stops the fetching, never the bound, and `poll` wakes the
//!   driver as it frees room. Two things may pass the budget, once each: a first record batch
//!   larger than the Fetch's `max_bytes` (brokers return it whole, KIP-74) and a batch that
//!   decompresses larger than any before it.
//! * **Sessions re-send what changed** (see `fetch_session.rs`), including the leader epoch.
//! * **Backoff after failure.** A broker whose Fetch failed waits `retry.backoff.ms` (Java's
//!   fetcher too), a partition answered with a retriable error waits the same, so a dead
//!   connection or a lagging leader is not hammered in a tight loop.
//! * **A leader that moved is fetched at once.** A partition whose Fetch is in flight to a
//!   broker that is no longer its leader is fetched from the new leader without waiting for the
//!   old request (which may hang until `request.timeout.ms` on a broker shutting down); the
//!   answer that arrives second is dropped because the fetch offset no longer matches.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::fetch_session::{FetchSession, PartitionRequest, SessionRequest};
use super::state::{ConsumerState, PartitionState, ResetTo};
use super::types::{FetchState, TopicPartition};
use crate::cluster::metadata::Snapshot;
use crate::config::AutoOffsetReset;
use crate::error::{Error, ErrorKind};
use crate::protocol_errors::KafkaCode;
use crate::records::FetchRecords;
use crate::rules::{self, Action, Api};

/// The settings the planner decides with.
#[derive(Debug, Clone)]
pub(crate) struct PlannerConfig {
    pub(crate) max_partition_fetch_bytes: usize,
    pub(crate) fetch_max_bytes: usize,
    pub(crate) fetch_max_wait: Duration,
    /// The prefetch budget in bytes (`queued.max.messages.kbytes` × 1024).
    pub(crate) buffer_max_bytes: usize,
    pub(crate) retry_backoff: Duration,
    /// How long a partition may go unfetched before a stall is reported.
    pub(crate) stall_after: Duration,
    /// How long a preferred read replica (KIP-392) is used before asking the leader again.
    pub(crate) preferred_replica_ttl: Duration,
    pub(crate) auto_offset_reset: AutoOffsetReset,
}

impl PlannerConfig {
    pub(crate) fn from_consumer(cfg: &crate::config::ConsumerConfig) -> Self {
        PlannerConfig {
            max_partition_fetch_bytes: cfg.max_partition_fetch_bytes.max(1) as usize,
            fetch_max_bytes: cfg.fetch_max_bytes.max(1) as usize,
            fetch_max_wait: cfg.fetch_max_wait,
            buffer_max_bytes: (cfg.queued_max_messages_kbytes as usize).saturating_mul(1024).max(1),
            retry_backoff: cfg.net.retry_backoff,
            stall_after: cfg.fetch_max_wait + cfg.net.reconnect_backoff_max + cfg.net.request_timeout,
            preferred_replica_ttl: cfg.net.metadata_max_age,
            auto_offset_reset: cfg.auto_offset_reset,
        }
    }
}

/// The per-partition maps the planner reads on every pass: foldhash, seeded per process, instead
/// of SipHash (which was 12–18% of the consumer's CPU at 2000 partitions, BENCHMARKS.md).
pub(crate) type PartitionMap<V> = std::collections::HashMap<TopicPartition, V, foldhash::fast::RandomState>;

/// Identifies one Fetch sent.
pub(crate) type FetchId = u64;

/// A Fetch the driver must send.
#[derive(Debug)]
pub(crate) struct PlannedFetch {
    pub(crate) id: FetchId,
    pub(crate) broker: i32,
    pub(crate) session: SessionRequest,
    pub(crate) max_wait: Duration,
    /// The response's size limit: the room reserved for it in the prefetch budget.
    pub(crate) max_bytes: usize,
}

/// What the driver must do besides sending Fetches.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Effects {
    /// Ask for a metadata refresh, for this reason.
    pub(crate) refresh_metadata: Option<String>,
    /// Records (or an error) became available to `poll`.
    pub(crate) data_ready: bool,
}

impl Effects {
    fn refresh(&mut self, why: String) {
        self.refresh_metadata.get_or_insert(why);
    }
}

/// One partition's part of a Fetch response, examined by the driver (outside the state lock).
#[derive(Debug)]
pub(crate) enum PartitionOutcome {
    Data {
        /// The partition's fetched bytes, decoded later as `poll` hands records out.
        records: FetchRecords,
        /// Where the data ends, from its batch headers (`FetchRecords::scan_end`).
        next_offset: i64,
        bytes: usize,
        high_watermark: i64,
        last_stable_offset: i64,
        log_start_offset: i64,
        preferred_replica: Option<i32>,
        /// An error after some good records (e.g. a corrupt batch): surfaced once the good
        /// records are consumed.
        error: Option<Error>,
    },
    /// A partition-level error code.
    Error(KafkaCode),
}

/// Why a partition is not in a Fetch right now (or that it is).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wait {
    /// In the Fetch in flight to this broker.
    InFlight(i32),
    /// Can be fetched now from this broker (only between planning steps).
    Ready(i32),
    /// Its broker has a Fetch in flight that does not include it; it goes in the next one.
    BrokerBusy(i32),
    /// Its broker's last Fetch failed; retried at the instant given.
    BrokerBackoff(i32, Instant),
    /// Answered with a retriable error; retried at the instant given.
    RetryBackoff(Instant),
    /// No leader is known; metadata is being refreshed.
    LeaderUnknown,
    /// Its buffered records fill `max.partition.fetch.bytes`, or the prefetch budget has no
    /// room for a Fetch; fetched again as `poll` drains the buffer (it wakes the driver).
    BufferFull,
    Paused,
    /// Being revoked (see `ConsumerState::begin_revocation`).
    Revoking,
    /// Waiting for its committed offset or an offset reset.
    AwaitingPosition,
    /// An error waits to be returned by `poll`.
    Failed,
}

impl Wait {
    /// Waits that the application or the data cause, not the client: never a stall.
    fn is_idle(self) -> bool {
        matches!(self, Wait::Paused | Wait::Revoking | Wait::BufferFull | Wait::AwaitingPosition | Wait::Failed)
    }

    /// The public view; `caught_up` when the partition is at its high watermark (it still goes
    /// in Fetches, which park at the broker until data arrives).
    pub(crate) fn public(self, now: Instant, caught_up: bool) -> FetchState {
        let left = |t: Instant| t.saturating_duration_since(now);
        match self {
            Wait::Ready(_) | Wait::BrokerBusy(_) if caught_up => FetchState::CaughtUp,
            Wait::InFlight(b) => FetchState::Fetching { broker: b },
            Wait::Ready(b) | Wait::BrokerBusy(b) => FetchState::WaitingForBroker { broker: b },
            Wait::BrokerBackoff(b, t) => FetchState::BrokerBackoff { broker: b, remaining: left(t) },
            Wait::RetryBackoff(t) => FetchState::RetryBackoff { remaining: left(t) },
            Wait::LeaderUnknown => FetchState::LeaderUnknown,
            Wait::BufferFull => FetchState::BufferFull,
            Wait::Paused => FetchState::Paused,
            Wait::Revoking => FetchState::Revoking,
            Wait::AwaitingPosition => FetchState::AwaitingPosition,
            Wait::Failed => FetchState::Failed,
        }
    }
}

#[derive(Debug)]
struct InFlight {
    id: FetchId,
    /// Room reserved in the prefetch budget for the answer (the request's `max_bytes`).
    reserved: usize,
    /// tp → (fetch offset, seek epoch) when sent: the answer applies only if both still hold.
    asked: PartitionMap<(i64, u64)>,
}

#[derive(Debug, Default)]
struct BrokerFetch {
    session: FetchSession,
    in_flight: Option<InFlight>,
    backoff_until: Option<Instant>,
}

#[derive(Debug, Clone, Copy)]
struct Track {
    /// Last time the partition was fetched (a response covered it) or had nothing to fetch.
    progress_at: Instant,
    retry_at: Option<Instant>,
    warned_at: Option<Instant>,
}

/// A partition that has not been fetched for too long, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stall {
    pub(crate) partition: TopicPartition,
    pub(crate) unfetched_for: Duration,
    pub(crate) wait: Wait,
    pub(crate) fetch_offset: Option<i64>,
    pub(crate) high_watermark: i64,
}

/// The planner: per broker a session, the Fetch in flight and a backoff; per partition when
/// it last made progress.
#[derive(Debug)]
pub(crate) struct FetchPlanner {
    cfg: PlannerConfig,
    brokers: BTreeMap<i32, BrokerFetch>,
    tracks: PartitionMap<Track>,
    /// `ConsumerState::assignment_gen` when `tracks` was last pruned.
    pruned_gen: Option<u64>,
    /// The last pass left a partition or a broker waiting for room in the budget.
    waits_for_room: bool,
    next_id: FetchId,
    next_stall_check: Option<Instant>,
    /// Which broker goes first when the budget's room is shared out (turns, so that no broker
    /// always takes the last room).
    turn: usize,
    /// Highest fetched + decompressed + pooled + reserved bytes seen at a planning step.
    peak_committed: usize,
}

impl FetchPlanner {
    pub(crate) fn new(cfg: PlannerConfig) -> Self {
        FetchPlanner {
            cfg,
            brokers: BTreeMap::new(),
            tracks: PartitionMap::default(),
            pruned_gen: None,
            waits_for_room: false,
            next_id: 1,
            next_stall_check: None,
            turn: 0,
            peak_committed: 0,
        }
    }

    /// The prefetch budget in bytes.
    pub(crate) fn budget(&self) -> usize {
        self.cfg.buffer_max_bytes
    }

    /// Room reserved for the Fetches in flight.
    pub(crate) fn reserved(&self) -> usize {
        self.brokers.values().filter_map(|b| b.in_flight.as_ref()).map(|f| f.reserved).sum()
    }

    /// The highest budget use (buffered + reserved) seen at a planning step.
    pub(crate) fn peak_committed(&self) -> usize {
        self.peak_committed
    }

    /// What is left of the budget for new Fetches.
    pub(crate) fn room(&self, st: &ConsumerState) -> usize {
        self.cfg.buffer_max_bytes.saturating_sub(st.memory.planned() + self.reserved())
    }

    /// The least room worth a Fetch: one partition's `max.partition.fetch.bytes`, or half the
    /// budget when that is smaller. Asking for less would mostly return a first batch larger
    /// than the ask (KIP-74), past the budget.
    pub(crate) fn min_fetch(&self) -> usize {
        self.cfg.max_partition_fetch_bytes.min(self.cfg.buffer_max_bytes / 2).max(1)
    }

    fn note_committed(&mut self, st: &ConsumerState) {
        self.peak_committed = self.peak_committed.max(st.memory.held() + self.reserved());
    }

    /// The broker to read `tp` from now: the preferred read replica while it is valid and
    /// known, else the leader.
    fn target(&self, now: Instant, tp: &TopicPartition, ps: &PartitionState, snap: &Snapshot) -> Option<i32> {
        match ps.preferred_replica {
            Some((r, until)) if until > now && snap.brokers.contains_key(&r) => Some(r),
            _ => snap.leader(&tp.topic, tp.partition),
        }
    }

    /// The brokers the assigned partitions are read from now (leaders or preferred replicas;
    /// paused partitions count, revoked ones do not): the fetch sockets the client needs. The
    /// connection manager closes the others after a grace (`handle_needed_brokers`).
    pub(crate) fn needed_brokers(&self, now: Instant, st: &ConsumerState, snap: &Snapshot) -> BTreeSet<i32> {
        st.assignment
            .iter()
            .filter(|(_, ps)| !ps.pending_revocation)
            .filter_map(|(tp, ps)| self.target(now, tp, ps, snap))
            .collect()
    }

    fn in_flight_to(&self, tp: &TopicPartition, ps: &PartitionState, broker: i32) -> bool {
        let Some(f) = self.brokers.get(&broker).and_then(|b| b.in_flight.as_ref()) else { return false };
        f.asked.get(tp).is_some_and(|(off, epoch)| ps.fetch_offset == Some(*off) && ps.seek_epoch == *epoch)
    }

    /// Why `tp` is or is not being fetched now.
    pub(crate) fn wait_reason(
        &self,
        now: Instant,
        st: &ConsumerState,
        tp: &TopicPartition,
        ps: &PartitionState,
        snap: &Snapshot,
    ) -> Wait {
        if ps.error.is_some() {
            return Wait::Failed;
        }
        if ps.pending_revocation {
            return Wait::Revoking;
        }
        if ps.paused {
            return Wait::Paused;
        }
        if ps.fetch_offset.is_none() {
            return Wait::AwaitingPosition;
        }
        let Some(node) = self.target(now, tp, ps, snap) else { return Wait::LeaderUnknown };
        if self.in_flight_to(tp, ps, node) {
            return Wait::InFlight(node);
        }
        if ps.buffered_bytes >= self.cfg.max_partition_fetch_bytes || self.room(st) < self.min_fetch() {
            return Wait::BufferFull;
        }
        let broker = self.brokers.get(&node);
        if let Some(until) = broker.and_then(|b| b.backoff_until).filter(|t| *t > now) {
            return Wait::BrokerBackoff(node, until);
        }
        if let Some(until) = self.tracks.get(tp).and_then(|t| t.retry_at).filter(|t| *t > now) {
            return Wait::RetryBackoff(until);
        }
        if broker.is_some_and(|b| b.in_flight.is_some()) {
            return Wait::BrokerBusy(node);
        }
        Wait::Ready(node)
    }

    /// The Fetches to send now (at most one per broker), and what else the driver must do.
    /// `heartbeat` is the KIP-848 coordinator and its next heartbeat when the coordinator
    /// shares the broker's connection: a Fetch to that broker must not park past the
    /// heartbeat, which would wait behind it on the connection.
    pub(crate) fn poll_requests(
        &mut self,
        now: Instant,
        st: &ConsumerState,
        snap: &Snapshot,
        heartbeat: Option<(i32, Instant)>,
    ) -> (Vec<PlannedFetch>, Effects) {
        let mut effects = Effects::default();
        let mut ready: BTreeMap<i32, BTreeMap<TopicPartition, PartitionRequest>> = BTreeMap::new();
        // Brokers with a partition held back only because its buffer is full: a Fetch sent now
        // that can only park (every partition in it is caught up) would sit for
        // fetch.max.wait.ms in front of that partition's next Fetch. Such a broker waits until
        // the buffer drains (poll wakes the driver).
        let mut held: HashSet<i32> = HashSet::new();
        let mut has_data: HashSet<i32> = HashSet::new();
        // Brokers something is (or will be) fetched from: the budget is shared among them.
        let mut active: HashSet<i32> = HashSet::new();
        let mut missing_leader = None;
        let mut waits_for_room = false;
        for (tp, ps) in &st.assignment {
            let wait = self.wait_reason(now, st, tp, ps, snap);
            self.note_idle(now, tp, wait);
            match wait {
                Wait::InFlight(b) | Wait::BrokerBusy(b) | Wait::BrokerBackoff(b, _) => {
                    active.insert(b);
                }
                Wait::BufferFull | Wait::RetryBackoff(_) => {
                    if let Some(b) = self.target(now, tp, ps, snap) {
                        active.insert(b);
                    }
                }
                _ => {}
            }
            match wait {
                Wait::Ready(node) => {
                    active.insert(node);
                    let offset = ps.fetch_offset.expect("ready partitions have a fetch offset");
                    // An unknown high watermark (-1) may hide data: count it as data.
                    if ps.high_watermark < 0 || offset < ps.high_watermark {
                        has_data.insert(node);
                    }
                    ready.entry(node).or_default().insert(tp.clone(), self.request_data(tp, ps, snap));
                }
                Wait::BufferFull => {
                    waits_for_room = true;
                    if let Some(node) = self.target(now, tp, ps, snap) {
                        held.insert(node);
                    }
                }
                Wait::LeaderUnknown => missing_leader = Some(tp.clone()),
                _ => {}
            }
        }
        if let Some(tp) = missing_leader {
            effects.refresh(format!("no leader known for {tp}"));
        }
        // Each broker's share: half the budget over the brokers being fetched from, so that
        // each can have one response being read and one in flight.
        let share = (self.cfg.buffer_max_bytes / (2 * active.len().max(1))).max(self.min_fetch());
        let mut room = self.room(st);
        let mut order: Vec<(i32, BTreeMap<TopicPartition, PartitionRequest>)> = ready.into_iter().collect();
        if !order.is_empty() {
            let first = self.turn % order.len();
            order.rotate_left(first);
            self.turn = self.turn.wrapping_add(1);
        }
        let mut out = Vec::new();
        for (broker, want) in order {
            if held.contains(&broker) && !has_data.contains(&broker) {
                continue;
            }
            if room < self.min_fetch() {
                // No room left this step: its partitions wait as BufferFull (room only shrinks
                // within a step), and poll wakes the driver as it frees room.
                waits_for_room = true;
                continue;
            }
            let max_bytes = self.cfg.fetch_max_bytes.min(share).min(room);
            room -= max_bytes;
            let b = self.brokers.entry(broker).or_default();
            // Partitions already in this broker's session and unchanged ride along implicitly;
            // `want` lists them all so the session can tell what to forget.
            let session = b.session.build(&want);
            let asked = want
                .keys()
                .map(|tp| {
                    let ps = &st.assignment[tp];
                    (tp.clone(), (ps.fetch_offset.unwrap_or(-1), ps.seek_epoch))
                })
                .collect();
            let id = self.next_id;
            self.next_id += 1;
            b.in_flight = Some(InFlight { id, reserved: max_bytes, asked });
            let mut max_wait = self.cfg.fetch_max_wait;
            if let Some((coordinator, due)) = heartbeat {
                if coordinator == broker {
                    max_wait = max_wait.min(due.saturating_duration_since(now));
                }
            }
            out.push(PlannedFetch { id, broker, session, max_wait, max_bytes });
        }
        self.waits_for_room = waits_for_room;
        self.note_committed(st);
        (out, effects)
    }

    fn request_data(&self, tp: &TopicPartition, ps: &PartitionState, snap: &Snapshot) -> PartitionRequest {
        PartitionRequest {
            topic_id: snap.topics.get(&*tp.topic).map(|t| t.id).unwrap_or_default(),
            fetch_offset: ps.fetch_offset.unwrap_or(-1),
            current_leader_epoch: snap.partition(&tp.topic, tp.partition).map_or(-1, |p| p.leader_epoch),
            last_fetched_epoch: ps.leader_epoch.unwrap_or(-1),
            log_start_offset: -1,
            max_bytes: i32::try_from(self.cfg.max_partition_fetch_bytes).unwrap_or(i32::MAX),
        }
    }

    /// A partition with nothing to fetch is making all the progress it can.
    fn note_idle(&mut self, now: Instant, tp: &TopicPartition, wait: Wait) {
        // Looked up first: `entry` would clone the key (an `Arc` count) for every partition on
        // every pass.
        let t = match self.tracks.get_mut(tp) {
            Some(t) => t,
            None => self.tracks.entry(tp.clone()).or_insert(Track { progress_at: now, retry_at: None, warned_at: None }),
        };
        if wait.is_idle() {
            t.progress_at = now;
            t.warned_at = None;
        }
    }

    fn take_in_flight(&mut self, broker: i32, id: FetchId) -> Option<InFlight> {
        let b = self.brokers.get_mut(&broker)?;
        if b.in_flight.as_ref().map(|f| f.id) != Some(id) {
            return None;
        }
        b.in_flight.take()
    }

    /// The Fetch `id` to `broker` was answered. `top` and `session_id` are the response's
    /// top-level fields; `partitions` its decoded partitions. Applies the outcome to the
    /// consumer's state.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn handle_response(
        &mut self,
        now: Instant,
        wall_ms: i64,
        broker: i32,
        id: FetchId,
        top: KafkaCode,
        session_id: i32,
        partitions: Vec<(TopicPartition, PartitionOutcome)>,
        st: &mut ConsumerState,
    ) -> Effects {
        let mut effects = Effects::default();
        let Some(flight) = self.take_in_flight(broker, id) else { return effects };
        let b = self.brokers.entry(broker).or_default();
        b.session.handle_response(top, session_id);
        match rules::action(Api::FetchSession, top) {
            Action::Proceed => {}
            action => {
                // No partition of this response carries data: all are fetched again. A lost
                // session is re-opened at once; anything else waits the retry backoff.
                tracing::debug!(broker, error = %top, "fetch failed as a whole; session reset");
                if action == Action::RefreshMetadata {
                    effects.refresh(format!("{} from broker {broker}", top.name()));
                }
                if !top.resets_fetch_session() {
                    b.backoff_until = Some(now + self.cfg.retry_backoff);
                }
                return effects;
            }
        }
        // Every partition asked for was fetched, whether the (incremental) answer mentions it
        // or not.
        for tp in flight.asked.keys() {
            if let Some(t) = self.tracks.get_mut(tp) {
                t.progress_at = now;
                t.warned_at = None;
            }
        }
        for (tp, outcome) in partitions {
            let Some(&(fetch_offset, seek_epoch)) = flight.asked.get(&tp) else { continue };
            let Some(ps) = st.assignment.get_mut(&tp) else { continue };
            if ps.seek_epoch != seek_epoch || ps.fetch_offset != Some(fetch_offset) {
                continue; // sought, reset, or already fetched elsewhere meanwhile: stale
            }
            match outcome {
                PartitionOutcome::Data {
                    records,
                    next_offset,
                    bytes,
                    high_watermark,
                    last_stable_offset,
                    log_start_offset,
                    preferred_replica,
                    error,
                } => {
                    ps.high_watermark = high_watermark;
                    ps.last_stable_offset = last_stable_offset;
                    ps.log_start_offset = log_start_offset;
                    if let Some(r) = preferred_replica {
                        ps.preferred_replica = Some((r, now + self.cfg.preferred_replica_ttl));
                    }
                    ps.fetch_offset = Some(next_offset);
                    if let Some(e) = error {
                        ps.error = Some(Arc::new(e));
                        effects.data_ready = true;
                    } else if bytes > 0 || next_offset != fetch_offset {
                        effects.data_ready |= bytes > 0;
                        st.push_fetch(id, tp, seek_epoch, records, bytes, next_offset);
                    }
                }
                PartitionOutcome::Error(code) => {
                    let action = rules::action(Api::FetchPartition, code);
                    match action {
                        Action::ResetPosition if ps.preferred_replica.take().is_some() => {
                            // The follower may lag the leader: ask the leader before resetting
                            // (Java `FetchCollector.handleInitializeErrors`).
                        }
                        Action::ResetPosition => match reset_for(self.cfg.auto_offset_reset, wall_ms) {
                            Some(r) => {
                                tracing::info!(partition = %tp, offset = fetch_offset, "fetch offset out of range; resetting per auto.offset.reset");
                                ps.request_reset(r);
                            }
                            None => {
                                ps.error = Some(Arc::new(Error::new(
                                    ErrorKind::OffsetOutOfRange,
                                    format!("offset {fetch_offset} of {tp} is out of range and auto.offset.reset=none"),
                                )));
                                effects.data_ready = true;
                            }
                        },
                        Action::RefreshMetadata => {
                            ps.preferred_replica = None;
                            effects.refresh(format!("{} fetching {tp}", code.name()));
                            self.back_off(&tp, now);
                        }
                        Action::Retry => {
                            tracing::debug!(partition = %tp, error = %code, "fetch will be retried");
                            self.back_off(&tp, now);
                        }
                        _ => {
                            ps.error = Some(Arc::new(Error::broker_code(code.code(), format!("fetching {tp} failed"))));
                            effects.data_ready = true;
                        }
                    }
                }
            }
        }
        self.note_committed(st);
        effects
    }

    fn back_off(&mut self, tp: &TopicPartition, now: Instant) {
        if let Some(t) = self.tracks.get_mut(tp) {
            t.retry_at = Some(now + self.cfg.retry_backoff);
        }
    }

    /// The Fetch `id` to `broker` failed (connection lost, timeout, closed). `closed` is true
    /// when the consumer is shutting down.
    pub(crate) fn handle_failure(&mut self, now: Instant, broker: i32, id: FetchId, closed: bool, why: &str) -> Effects {
        let mut effects = Effects::default();
        if self.take_in_flight(broker, id).is_none() {
            return effects;
        }
        let b = self.brokers.entry(broker).or_default();
        b.session.handle_failure();
        b.backoff_until = Some(now + self.cfg.retry_backoff);
        if !closed {
            tracing::debug!(broker, error = why, "fetch failed");
            effects.refresh(format!("fetch from broker {broker} failed: {why}"));
        }
        effects
    }

    /// When the driver must call in again even if nothing happens: a backoff ends or a stall
    /// check is due.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        let backoffs = self.brokers.values().filter_map(|b| b.backoff_until);
        let retries = self.tracks.values().filter_map(|t| t.retry_at);
        backoffs.chain(retries).chain(self.next_stall_check).min()
    }

    /// The fetch offsets the Fetch `id` to `broker` asked for (empty if it is not in flight).
    pub(crate) fn asked_offsets(&self, broker: i32, id: FetchId) -> PartitionMap<i64> {
        match self.brokers.get(&broker).and_then(|b| b.in_flight.as_ref()).filter(|f| f.id == id) {
            Some(f) => f.asked.iter().map(|(tp, (o, _))| (tp.clone(), *o)).collect(),
            None => PartitionMap::default(),
        }
    }

    /// Whether the last [`poll_requests`](Self::poll_requests) left a partition or a broker
    /// waiting for room in the prefetch budget (`Wait::BufferFull`, or a broker skipped for
    /// lack of room). Only then does draining the buffer change what the planner would do, so
    /// only then must `poll` wake the driver: a wake per `poll` would make the driver walk every
    /// assigned partition once per `poll` (at 2000 partitions, most of the consumer's CPU).
    pub(crate) fn waits_for_room(&self) -> bool {
        self.waits_for_room
    }

    /// Whether [`check_stalls`](Self::check_stalls) is due.
    pub(crate) fn stall_check_due(&self, now: Instant) -> bool {
        self.next_stall_check.map_or(true, |t| t <= now)
    }

    /// Forgets partitions that are no longer assigned (a no-op unless the assignment changed
    /// since the last call).
    pub(crate) fn retain(&mut self, st: &ConsumerState) {
        if self.pruned_gen == Some(st.assignment_gen) {
            return;
        }
        self.pruned_gen = Some(st.assignment_gen);
        self.tracks.retain(|tp, _| st.assignment.contains_key(tp));
    }

    /// Partitions that need fetching (below the high watermark, or with none known) but have
    /// not been fetched for longer than `stall_after`, while the application polls. Each is
    /// reported once per `stall_after`.
    pub(crate) fn check_stalls(&mut self, now: Instant, st: &ConsumerState, snap: &Snapshot) -> Vec<Stall> {
        self.next_stall_check = Some(now + self.cfg.stall_after / 4);
        let polling = st.last_poll.is_some_and(|t| now.saturating_duration_since(t) < self.cfg.stall_after);
        let mut out = Vec::new();
        for (tp, ps) in &st.assignment {
            let wait = self.wait_reason(now, st, tp, ps, snap);
            self.note_idle(now, tp, wait);
            let behind = ps.high_watermark < 0 || ps.fetch_offset.is_some_and(|o| o < ps.high_watermark);
            let Some(t) = self.tracks.get_mut(tp) else { continue };
            if !behind {
                t.progress_at = now;
                continue;
            }
            let unfetched = now.saturating_duration_since(t.progress_at);
            let due = t.warned_at.map_or(true, |w| now.saturating_duration_since(w) >= self.cfg.stall_after);
            if polling && unfetched > self.cfg.stall_after && due {
                t.warned_at = Some(now);
                out.push(Stall {
                    partition: tp.clone(),
                    unfetched_for: unfetched,
                    wait,
                    fetch_offset: ps.fetch_offset,
                    high_watermark: ps.high_watermark,
                });
            }
        }
        out
    }

    /// How long ago `tp` was last fetched (or had nothing to fetch).
    pub(crate) fn since_progress(&self, now: Instant, tp: &TopicPartition) -> Option<Duration> {
        self.tracks.get(tp).map(|t| now.saturating_duration_since(t.progress_at))
    }

    /// The invariant of issue #19, for tests: after [`poll_requests`](Self::poll_requests), no
    /// partition that needs fetching is left `Ready`, and every wait is bounded — by a Fetch in
    /// flight, a backoff instant that `poll_timeout` covers, a metadata refresh, or the buffer.
    #[cfg(test)]
    pub(crate) fn check_invariant(&self, now: Instant, st: &ConsumerState, snap: &Snapshot) -> Result<(), String> {
        let timeout = self.poll_timeout();
        for (tp, ps) in &st.assignment {
            let behind = ps.high_watermark < 0 || ps.fetch_offset.is_some_and(|o| o < ps.high_watermark);
            if !behind {
                continue; // caught up: a broker held back for another partition's buffer may skip it
            }
            let wait = self.wait_reason(now, st, tp, ps, snap);
            let bounded = match wait {
                Wait::Ready(b) => return Err(format!("{tp} is ready for broker {b} but in no Fetch")),
                Wait::BrokerBusy(b) => self.brokers.get(&b).is_some_and(|x| x.in_flight.is_some()),
                Wait::BrokerBackoff(_, t) | Wait::RetryBackoff(t) => timeout.is_some_and(|w| w <= t),
                _ => true,
            };
            if !bounded {
                return Err(format!("{tp} waits ({wait:?}) with nothing to end the wait"));
            }
        }
        Ok(())
    }
}

/// Where `auto.offset.reset` sends a partition whose offset is out of range (`None`: fail).
pub(crate) fn reset_for(policy: AutoOffsetReset, wall_ms: i64) -> Option<ResetTo> {
    match policy {
        AutoOffsetReset::Earliest => Some(ResetTo::Earliest),
        AutoOffsetReset::Latest => Some(ResetTo::Latest),
        AutoOffsetReset::ByDuration(d) => Some(ResetTo::Timestamp(wall_ms - d.as_millis() as i64)),
        AutoOffsetReset::None => None,
    }
}
