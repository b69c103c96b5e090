//! Fetching: the I/O driver of the fetch planner (`fetch_planner.rs`).
//!
//! One task per consumer. It asks the planner which Fetches to send (one in flight per broker,
//! the planner decides which partitions and why the others wait, and how many bytes each may
//! bring under the prefetch budget), sends them, examines each response outside any lock
//! (where each partition's data ends, from its batch headers: records are decoded later, by
//! `poll`, straight into what it returns), and hands the partitions back to the planner, which
//! updates positions and the buffer `poll` reads. Position initialisation (committed offsets,
//! resets) and metadata refreshes run beside the fetches, never in front of them.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures_util::stream::{FuturesUnordered, StreamExt};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic, ForgottenTopic};
use kafka_protocol::messages::{FetchRequest, FetchResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use tokio::time::Instant;

use super::fetch_planner::{Effects, FetchId, PartitionOutcome, PlannedFetch};
use super::types::TopicPartition;
use super::Inner;
use crate::config::IsolationLevel;
use crate::error::{Error, ErrorKind, Result};
use crate::net::events::OpenReason;
use crate::net::manager::Target;
use crate::protocol_errors::KafkaCode;
use crate::records::{self, AbortedTransaction, DecodeOptions, FetchRecords, FetchTail};

/// Fetch versions gregor speaks: v4 (Kafka 0.11, record batches) .. v17 (Kafka 4.x).
const FETCH_VERSIONS: (i16, i16) = (4, 17);

/// The broker, the fetch, its response and its round trip.
type FetchResult = (i32, FetchId, Result<FetchResponse>, std::time::Duration);

/// The fetch loop. Returns when the consumer closes.
pub(crate) async fn run(inner: Arc<Inner>) {
    let mut in_flight: FuturesUnordered<futures_util::future::BoxFuture<'static, FetchResult>> =
        FuturesUnordered::new();
    let mut retry_at: Option<Instant> = None;
    let mut positions = SideJob::new(&inner);
    let mut metadata = SideJob::new(&inner);
    let mut needed_brokers: Option<std::collections::BTreeSet<i32>> = None;
    loop {
        if inner.is_closed() {
            return;
        }
        let wake = inner.fetch_wake.notified();
        tokio::pin!(wake);
        wake.as_mut().enable();

        // Positions and metadata run beside the fetches, never in front of them: a slow
        // coordinator (OffsetFetch) or a hung broker (Metadata) must not stall partitions
        // that are fetching fine.
        if positions.idle() {
            if let Some(Err(e)) = positions.take_result() {
                if e.is_closed() {
                    return;
                }
                tracing::debug!(error = %e, "position initialisation incomplete; retrying");
                retry_at = Some(Instant::now() + inner.retry_backoff());
            }
            if retry_at.map_or(true, |t| t <= Instant::now()) && needs_positions(&inner) {
                let i = inner.clone();
                positions.start(async move { super::offsets::initialize_positions(&i).await });
            }
        }
        if metadata.idle() {
            if let Some(Err(e)) = metadata.take_result() {
                tracing::debug!(error = %e, "metadata refresh failed");
                inner.maybe_unreachable(e);
            }
            if inner.cluster.next_refresh() <= Instant::now() {
                let i = inner.clone();
                metadata.start(async move { i.refresh_metadata_if_due().await.map(|_| ()) });
            }
        }

        let now = Instant::now();
        let snapshot = inner.cluster.snapshot();
        let heartbeat = super::group::heartbeat_for_fetch(&inner);
        let (plans, effects, planner_wake, needed) = {
            let mut st = inner.lock_state();
            // Data of a partition sought elsewhere (or no longer assigned) frees its room now.
            st.release_stale();
            let mut planner = inner.lock_planner();
            planner.retain(&st);
            if planner.stall_check_due(now) {
                for s in planner.check_stalls(now, &st, &snapshot) {
                    tracing::warn!(
                        partition = %s.partition,
                        unfetched_ms = s.unfetched_for.as_millis() as u64,
                        fetch_offset = ?s.fetch_offset,
                        high_watermark = s.high_watermark,
                        state = %s.wait.public(now, false),
                        "partition not fetched for longer than fetch.max.wait.ms + reconnect.backoff.max.ms + request.timeout.ms"
                    );
                }
            }
            let (plans, effects) = planner.poll_requests(now, &st, &snapshot, heartbeat);
            st.fetch_waits_for_room = planner.waits_for_room();
            let needed = planner.needed_brokers(now, &st, &snapshot);
            (plans, effects, planner.poll_timeout(), needed)
        };
        apply(&inner, effects);
        if needed_brokers.as_ref() != Some(&needed) {
            inner.cluster.net.handle_needed_brokers(needed.clone());
            needed_brokers = Some(needed);
        }
        for plan in plans {
            let broker = plan.broker;
            let id = plan.id;
            let req = build_request(&inner, plan);
            let net = inner.cluster.net.clone();
            in_flight.push(Box::pin(async move {
                let sent = Instant::now();
                let r = net.send_built(Target::Broker(broker), OpenReason::Fetch, FETCH_VERSIONS, None, req).await;
                (broker, id, r, sent.elapsed())
            }));
        }

        // Timers: the position retry, the planner's backoffs and stall checks, and the next
        // metadata refresh unless one is running (its completion wakes the loop). Everything
        // else is an event (a response, a wake-up).
        let mut wake_at = [retry_at, planner_wake].into_iter().flatten().min();
        if metadata.idle() {
            let next = inner.cluster.next_refresh();
            wake_at = Some(wake_at.map_or(next, |w| w.min(next)));
        }
        let now = Instant::now();
        let sleep_until = wake_at
            .unwrap_or(now + std::time::Duration::from_secs(3600))
            .max(now + std::time::Duration::from_millis(1));
        tokio::select! {
            Some((broker, id, result, latency)) = in_flight.next(), if !in_flight.is_empty() => {
                handle_result(&inner, broker, id, result, latency);
            }
            _ = &mut wake => {}
            _ = tokio::time::sleep_until(sleep_until) => { retry_at = retry_at.filter(|t| *t > Instant::now()); }
        }
    }
}

fn apply(inner: &Inner, effects: Effects) {
    if let Some(why) = effects.refresh_metadata {
        inner.cluster.request_update(why);
    }
    if effects.data_ready {
        inner.data_ready.notify_waiters();
    }
}

/// The wire request of a planned Fetch, for whichever version the connection negotiates.
fn build_request(
    inner: &Inner,
    plan: PlannedFetch,
) -> impl FnOnce(i16) -> FetchRequest + Send + 'static {
    let cfg = &inner.config;
    let sreq = plan.session;
    let mut topics: BTreeMap<Arc<str>, (uuid::Uuid, Vec<FetchPartition>)> = BTreeMap::new();
    for (tp, r) in &sreq.partitions {
        let entry = topics.entry(tp.topic.clone()).or_insert_with(|| (r.topic_id, Vec::new()));
        entry.1.push(
            FetchPartition::default()
                .with_partition(tp.partition)
                .with_current_leader_epoch(r.current_leader_epoch)
                .with_fetch_offset(r.fetch_offset)
                .with_last_fetched_epoch(r.last_fetched_epoch)
                .with_log_start_offset(r.log_start_offset)
                .with_partition_max_bytes(r.max_bytes),
        );
    }
    let mut forgotten: BTreeMap<Arc<str>, (uuid::Uuid, Vec<i32>)> = BTreeMap::new();
    for (tp, id) in &sreq.forgotten {
        forgotten.entry(tp.topic.clone()).or_insert_with(|| (*id, Vec::new())).1.push(tp.partition);
    }
    // The response may bring at most the room the planner reserved for it in the budget.
    let (max_wait, min_bytes, max_bytes) = (
        plan.max_wait.as_millis().min(i32::MAX as u128) as i32,
        (cfg.fetch_min_bytes as usize).min(plan.max_bytes) as i32,
        i32::try_from(plan.max_bytes).unwrap_or(i32::MAX),
    );
    let isolation = cfg.isolation_level.wire_value();
    let rack = cfg.client_rack.clone().unwrap_or_default();
    let (session_id, epoch) = (sreq.session_id, sreq.epoch);
    // v13 (KIP-516) names topics by id instead of by name; v11 adds the rack (KIP-392);
    // v7 adds sessions (KIP-227).
    move |v: i16| {
        let name_or_id = |t: &Arc<str>, id: uuid::Uuid| {
            if v >= 13 {
                (TopicName::default(), id)
            } else {
                (TopicName(StrBytes::from_string(t.to_string())), uuid::Uuid::nil())
            }
        };
        let fetch_topics = topics
            .into_iter()
            .map(|(t, (id, mut parts))| {
                if v < 9 {
                    for p in parts.iter_mut() {
                        p.current_leader_epoch = -1;
                    }
                }
                if v < 12 {
                    for p in parts.iter_mut() {
                        p.last_fetched_epoch = -1;
                    }
                }
                let (name, id) = name_or_id(&t, id);
                FetchTopic::default().with_topic(name).with_topic_id(id).with_partitions(parts)
            })
            .collect();
        let forgotten = if v >= 7 {
            forgotten
                .into_iter()
                .map(|(t, (id, parts))| {
                    let (name, id) = name_or_id(&t, id);
                    ForgottenTopic::default().with_topic(name).with_topic_id(id).with_partitions(parts)
                })
                .collect()
        } else {
            Vec::new()
        };
        let mut req = FetchRequest::default()
            .with_max_wait_ms(max_wait)
            .with_min_bytes(min_bytes)
            .with_max_bytes(if v >= 3 { max_bytes } else { i32::MAX })
            .with_isolation_level(if v >= 4 { isolation } else { 0 })
            .with_topics(fetch_topics)
            .with_forgotten_topics_data(forgotten);
        if v >= 7 {
            req = req.with_session_id(session_id).with_session_epoch(epoch);
        }
        if v >= 11 {
            req = req.with_rack_id(StrBytes::from_string(rack));
        }
        req
    }
}

fn handle_result(inner: &Inner, broker: i32, id: FetchId, result: Result<FetchResponse>, latency: std::time::Duration) {
    let now = Instant::now();
    let resp = match result {
        Ok(r) => r,
        Err(e) => {
            let closed = e.kind() == ErrorKind::Closed;
            let effects = inner.lock_planner().handle_failure(now, broker, id, closed, &e.to_string());
            apply(inner, effects);
            return;
        }
    };
    let snapshot = inner.cluster.snapshot();
    let opts = DecodeOptions {
        check_crcs: inner.config.check_crcs,
        isolation: match inner.config.isolation_level {
            IsolationLevel::ReadCommitted => records::IsolationLevel::ReadCommitted,
            IsolationLevel::ReadUncommitted => records::IsolationLevel::ReadUncommitted,
        },
        max_decompressed_bytes: DecodeOptions::max_decompressed_for_fetch(inner.config.fetch_max_bytes as usize),
    };
    let top = KafkaCode(resp.error_code);
    let mut decoded = Vec::new();
    if top.is_ok() {
        // The fetch offsets asked for, to decode from (records before them are skipped).
        let asked = inner.lock_planner().asked_offsets(broker, id);
        for topic in resp.responses {
            let Some(name) = topic_name(&snapshot, &topic) else { continue };
            for p in topic.partitions {
                let tp = TopicPartition { topic: name.clone(), partition: p.partition_index };
                let Some(&fetch_offset) = asked.get(&tp) else { continue };
                decoded.push((tp.clone(), decode_partition(&tp, fetch_offset, p, &opts)));
            }
        }
    }
    // Java `FetchMetricsManager.recordLatency` / `recordBytesFetched`: every response counts,
    // with the record data it brought.
    let bytes: usize = decoded
        .iter()
        .map(|(_, o)| match o {
            PartitionOutcome::Data { bytes, .. } => *bytes,
            _ => 0,
        })
        .sum();
    inner.telemetry.fetch_done(latency, bytes as u64, now);
    let effects = {
        let mut st = inner.lock_state();
        for (tp, _) in &decoded {
            if let Some(s) = st.assignment.get_mut(tp) {
                s.last_fetch_latency = Some(latency);
            }
        }
        let mut planner = inner.lock_planner();
        planner.handle_response(now, crate::time::now_ms(), broker, id, top, resp.session_id, decoded, &mut st)
    };
    apply(inner, effects);
}

fn topic_name(
    snapshot: &crate::cluster::metadata::Snapshot,
    topic: &kafka_protocol::messages::fetch_response::FetchableTopicResponse,
) -> Option<Arc<str>> {
    if !topic.topic.0.is_empty() {
        Some(Arc::from(topic.topic.0.as_str()))
    } else {
        snapshot.topic_name_by_id(topic.topic_id).map(Arc::from)
    }
}

fn decode_partition(
    tp: &TopicPartition,
    fetch_offset: i64,
    p: kafka_protocol::messages::fetch_response::PartitionData,
    opts: &DecodeOptions,
) -> PartitionOutcome {
    let code = KafkaCode(p.error_code);
    if !code.is_ok() {
        return PartitionOutcome::Error(code);
    }
    let preferred = (p.preferred_read_replica.0 >= 0).then_some(p.preferred_read_replica.0);
    let data = p.records.unwrap_or_default();
    let bytes = data.len();
    let aborted: Vec<AbortedTransaction> = p
        .aborted_transactions
        .unwrap_or_default()
        .iter()
        .map(|a| AbortedTransaction { producer_id: a.producer_id.0, first_offset: a.first_offset })
        .collect();
    // Only the batch headers are read here; records are decoded (CRC, decompression) as poll
    // hands them out, into the Vec it returns.
    let records = FetchRecords::new(data, fetch_offset, &aborted, opts);
    let (next_offset, tail) = records.scan_end();
    let error = match tail {
        FetchTail::FirstBatchTooLarge { batch_size, .. } => Some(Error::new(
            ErrorKind::CorruptRecord,
            format!(
                "a record batch of {tp} at offset {fetch_offset} ({} bytes) is larger than max.partition.fetch.bytes",
                batch_size.map_or("?".into(), |b| b.to_string())
            ),
        )),
        _ => None,
    };
    PartitionOutcome::Data {
        records,
        next_offset,
        bytes,
        high_watermark: p.high_watermark,
        last_stable_offset: p.last_stable_offset,
        log_start_offset: p.log_start_offset,
        preferred_replica: preferred,
        error,
    }
}

fn needs_positions(inner: &Inner) -> bool {
    inner.lock_state().assignment.values().any(|s| s.position.is_none() && s.error.is_none())
}

/// A background job of the fetch loop (at most one at a time), aborted with the loop. When it
/// finishes it wakes the loop.
struct SideJob {
    handle: Option<tokio::task::JoinHandle<Result<()>>>,
    inner: std::sync::Weak<Inner>,
}

impl SideJob {
    fn new(inner: &Arc<Inner>) -> Self {
        SideJob { handle: None, inner: Arc::downgrade(inner) }
    }

    fn idle(&self) -> bool {
        self.handle.as_ref().map_or(true, |h| h.is_finished())
    }

    /// The finished job's result, if there is one.
    fn take_result(&mut self) -> Option<Result<()>> {
        let h = self.handle.take()?;
        if !h.is_finished() {
            self.handle = Some(h);
            return None;
        }
        // A finished task's output is ready: poll it once without blocking.
        match futures_util::FutureExt::now_or_never(h) {
            Some(Ok(r)) => Some(r),
            _ => None,
        }
    }

    fn start(&mut self, fut: impl std::future::Future<Output = Result<()>> + Send + 'static) {
        let weak = self.inner.clone();
        self.handle = Some(tokio::spawn(async move {
            let r = fut.await;
            if let Some(inner) = weak.upgrade() {
                inner.fetch_wake.notify_one();
            }
            r
        }));
    }
}

impl Drop for SideJob {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            h.abort();
        }
    }
}
