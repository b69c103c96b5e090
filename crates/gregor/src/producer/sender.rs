//! The producer's background sender (Java's `Sender`): one task that turns ready batches into
//! Produce requests, one spawned task per request in flight, and the bookkeeping of results.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use tokio::task::JoinHandle;
use tokio::time::Instant;
use uuid::Uuid;

use super::accumulator::{Accumulator, Batch, TopicPartition};
use super::encode::encode_batch;
use super::partitioner::StickyPartitioner;
use super::request::{self, PRODUCE_VERSIONS};
use super::{Completion, Inner, RecordMetadata, Resolved};
use crate::cluster::metadata::Snapshot;
use crate::error::{Error, ErrorKind, Result};
use crate::net::backoff::ExponentialBackoff;
use crate::net::events::OpenReason;
use crate::net::manager::Target;

/// Everything the producer and its sender share, behind one mutex (never held across an await).
pub(crate) struct State {
    pub(crate) acc: Accumulator<Completion>,
    pub(crate) sticky: StickyPartitioner,
    /// Ids of batches created and not yet completed (waiting or in flight), for `flush`.
    pub(crate) incomplete: BTreeSet<u64>,
    in_flight: HashMap<i32, usize>,
    inflight_bytes: usize,
    /// Topics this producer writes to: the ones its metadata requests ask about.
    topics: Vec<String>,
    partitions: HashMap<String, (Arc<Snapshot>, Arc<Partitions>)>,
    pub(crate) task: Option<JoinHandle<()>>,
    pub(crate) closed: bool,
    retry: ExponentialBackoff,
    /// The metadata the sender saw last; a different one means a refresh happened.
    last_snapshot: Option<Arc<Snapshot>>,
}

impl State {
    pub(crate) fn new(cfg: &Resolved, linger: std::time::Duration) -> State {
        State {
            acc: Accumulator::new(cfg.batch_size, linger, cfg.delivery_timeout),
            sticky: StickyPartitioner::new(cfg.batch_size),
            incomplete: BTreeSet::new(),
            in_flight: HashMap::new(),
            inflight_bytes: 0,
            topics: Vec::new(),
            partitions: HashMap::new(),
            task: None,
            closed: false,
            retry: ExponentialBackoff::new(cfg.retry_backoff.0, cfg.retry_backoff.1),
            last_snapshot: None,
        }
    }

    fn complete(&mut self, b: Batch<Completion>, base_offset: i64, log_append_time: i64) {
        self.incomplete.remove(&b.id);
        let topic = b.tp.topic.to_string();
        for (i, (tok, rec)) in b.tokens.into_iter().zip(b.records.iter()).enumerate() {
            let _ = tok.send(Ok(RecordMetadata {
                topic: topic.clone(),
                partition: b.tp.partition,
                offset: if base_offset >= 0 { base_offset + i as i64 } else { -1 },
                timestamp: if log_append_time >= 0 { log_append_time } else { rec.timestamp },
            }));
        }
    }

    fn fail(&mut self, b: Batch<Completion>, err: &Error) {
        self.incomplete.remove(&b.id);
        for tok in b.tokens {
            let _ = tok.send(Err(copy_error(err)));
        }
    }

    /// Retries a batch after `retry.backoff.ms` (growing with its attempts) if the error is
    /// retriable and `retries` and `delivery.timeout.ms` allow it; fails it otherwise.
    /// `stale_metadata`: the error means the leader may have moved; the retry waits for a
    /// metadata refresh.
    fn retry_or_fail(&mut self, mut b: Batch<Completion>, err: Error, stale_metadata: bool, now: Instant, cfg: &Resolved) {
        let backoff = self.retry.jittered(b.attempts, rand::random());
        let expires = b.created + cfg.delivery_timeout;
        if !err.is_retriable() || b.attempts >= cfg.retries || now + backoff >= expires {
            let err = if err.is_retriable() && now + backoff >= expires {
                Error::new(
                    ErrorKind::Timeout,
                    format!(
                        "expiring {} record(s) for {}: delivery.timeout.ms={} ms has passed since batch creation",
                        b.records.len(),
                        b.tp,
                        cfg.delivery_timeout.as_millis()
                    ),
                )
                .with_source(err)
            } else {
                err
            };
            self.fail(b, &err);
            return;
        }
        tracing::debug!(tp = %b.tp, attempt = b.attempts + 1, error = %err, "retrying produce");
        b.attempts += 1;
        self.acc.reenqueue(b, now + backoff, stale_metadata);
    }

    /// Fails everything still waiting (close).
    pub(crate) fn abort_all(&mut self, why: &str) {
        let err = Error::new(ErrorKind::Closed, why);
        for b in self.acc.abort_all() {
            self.fail(b, &err);
        }
    }
}

/// An `Error` is not `Clone`; every record of a failed batch gets its own copy.
fn copy_error(e: &Error) -> Error {
    let out = match e.code() {
        Some(code) => Error::broker_code(code, e.to_string()),
        None => Error::new(e.kind(), e.to_string()),
    };
    match e.broker() {
        Some(b) => out.with_broker(b),
        None => out,
    }
}

/// A topic's partitions as `send` needs them.
#[derive(Debug, Clone)]
pub(crate) struct Partitions {
    pub(crate) topic: Arc<str>,
    pub(crate) count: i32,
    /// Partitions that have a leader (sticky partitioning prefers them).
    pub(crate) available: Vec<i32>,
}

/// The partitions of `topic`, fetching metadata for it when it is new (Java's
/// `waitOnMetadata`): retried with `retry.backoff.ms` until the topic shows up or `deadline`.
pub(crate) async fn partitions_for(inner: &Arc<Inner>, topic: &str, deadline: Instant) -> Result<Arc<Partitions>> {
    let mut last_err: Option<Error> = None;
    loop {
        let snap = inner.cluster.snapshot();
        let topics = {
            let mut st = inner.lock();
            if let Some((s, p)) = st.partitions.get(topic) {
                if Arc::ptr_eq(s, &snap) {
                    return Ok(p.clone());
                }
            }
            if let Some(t) = snap.topics.get(topic) {
                if t.error == 0 && !t.partitions.is_empty() {
                    let p = Arc::new(Partitions {
                        topic: Arc::from(topic),
                        count: t.partitions.len() as i32,
                        available: t.partitions.iter().filter(|p| p.leader >= 0).map(|p| p.partition).collect(),
                    });
                    st.partitions.insert(topic.to_string(), (snap.clone(), p.clone()));
                    return Ok(p);
                }
                // Authorization failures and invalid names will not fix themselves.
                if matches!(t.error, 17 | 29) {
                    return Err(Error::broker_code(t.error, format!("cannot produce to topic {topic}")));
                }
            }
            if !st.topics.iter().any(|t| t == topic) {
                st.topics.push(topic.to_string());
            }
            st.topics.clone()
        };
        let now = Instant::now();
        if now >= deadline {
            let e = Error::new(
                ErrorKind::UnknownTopic,
                format!("topic {topic} not present in metadata after {} ms", inner.cfg.max_block.as_millis()),
            );
            return Err(match last_err {
                Some(l) => e.with_source(l),
                None => e,
            });
        }
        let why = format!("producer needs metadata for topic {topic}");
        inner.cluster.request_update(why.clone());
        let due = inner.cluster.next_refresh();
        if due > now {
            // Rate-limited by retry.backoff.ms: wait for the next allowed refresh.
            tokio::time::sleep_until(due.min(deadline)).await;
            continue;
        }
        match tokio::time::timeout_at(deadline, inner.cluster.refresh_once(Some(&topics), &why)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) if !e.is_retriable() => return Err(e),
            Ok(Err(e)) => last_err = Some(e),
            Err(_) => {}
        }
    }
}

/// Waits until `size` more bytes fit in `buffer.memory` (Java's `BufferPool.allocate`).
pub(crate) async fn wait_for_buffer(inner: &Arc<Inner>, size: usize, deadline: Instant) -> Result<()> {
    loop {
        let freed = inner.progress.notified();
        tokio::pin!(freed);
        freed.as_mut().enable();
        {
            let st = inner.lock();
            let used = st.acc.buffered_bytes() + st.inflight_bytes;
            if used == 0 || used + size <= inner.cfg.buffer_memory {
                return Ok(());
            }
            if st.closed {
                return Err(Error::closed());
            }
        }
        if tokio::time::timeout_at(deadline, freed).await.is_err() {
            return Err(Error::new(
                ErrorKind::Timeout,
                format!(
                    "failed to allocate {size} bytes within max.block.ms={} ms (buffer.memory={} is full)",
                    inner.cfg.max_block.as_millis(),
                    inner.cfg.buffer_memory
                ),
            ));
        }
    }
}

/// Starts the sender task on the first `send`.
pub(crate) fn ensure_started(inner: &Arc<Inner>, st: &mut State) {
    if st.task.is_none() {
        st.task = Some(tokio::spawn(run(inner.clone())));
    }
}

/// The sender loop: expire, find ready brokers, send, sleep until the next linger/backoff
/// deadline or a wake-up.
async fn run(inner: Arc<Inner>) {
    loop {
        let woken = inner.wake.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        let now = Instant::now();
        let snap = inner.cluster.snapshot();
        let leader = |tp: &TopicPartition| snap.leader(&tp.topic, tp.partition);
        let (sends, next_check, unknown, done, waiting) = {
            let mut st = inner.lock();
            if !st.last_snapshot.as_ref().is_some_and(|s| Arc::ptr_eq(s, &snap)) {
                st.acc.metadata_updated();
                st.last_snapshot = Some(snap.clone());
            }
            let expired = st.acc.expire(now);
            let had_expired = !expired.is_empty();
            for b in expired {
                let err = Error::new(
                    ErrorKind::Timeout,
                    format!(
                        "expiring {} record(s) for {}: delivery.timeout.ms={} ms has passed since batch creation",
                        b.records.len(),
                        b.tp,
                        inner.cfg.delivery_timeout.as_millis()
                    ),
                );
                st.fail(b, &err);
            }
            if had_expired {
                inner.progress.notify_waiters();
            }
            let ready = st.acc.poll_ready(now, leader);
            let mut sends = Vec::new();
            for node in ready.nodes {
                while st.in_flight.get(&node).copied().unwrap_or(0) < inner.cfg.max_in_flight {
                    let batches = st.acc.drain(node, now, leader, inner.cfg.max_request_size);
                    if batches.is_empty() {
                        break;
                    }
                    *st.in_flight.entry(node).or_default() += 1;
                    st.inflight_bytes += batches.iter().map(|b| b.size).sum::<usize>();
                    sends.push((node, batches));
                }
            }
            let idle = st.in_flight.values().all(|n| *n == 0);
            let waiting = !st.acc.is_empty();
            let done = st.closed && !waiting && idle && sends.is_empty();
            (sends, ready.next_check, ready.unknown_leaders, done, waiting)
        };
        if done {
            return;
        }
        for (node, batches) in sends {
            tokio::spawn(send_request(inner.clone(), node, batches));
        }
        let mut wake_at = next_check;
        if !unknown.is_empty() {
            inner.cluster.request_update(format!("producer: no leader known for a partition of {unknown:?}"));
        }
        // Batches are waiting: refresh metadata when it is due (a leader error or a disconnect
        // asked for it, or metadata.max.age.ms passed), so retries go to the current leader.
        if waiting {
            let due = inner.cluster.next_refresh();
            if due <= Instant::now() {
                let topics = inner.lock().topics.clone();
                if let Err(e) = inner.cluster.refresh_if_due(Some(&topics)).await {
                    tracing::debug!(error = %e, "producer metadata refresh failed");
                }
                continue;
            }
            wake_at = Some(wake_at.map_or(due, |w| w.min(due)));
        }
        match wake_at {
            Some(t) => {
                tokio::select! {
                    _ = tokio::time::sleep_until(t) => {}
                    _ = &mut woken => {}
                }
            }
            None => woken.await,
        }
    }
}

/// Sends one Produce request with `batches` to `node` and settles every batch.
async fn send_request(inner: Arc<Inner>, node: i32, mut batches: Vec<Batch<Completion>>) {
    let cfg = &inner.cfg;
    let mut encode_failures = Vec::new();
    let mut i = 0;
    while i < batches.len() {
        if batches[i].encoded.is_none() {
            match encode_batch(&batches[i].records, cfg.compression) {
                Ok(bytes) => batches[i].encoded = Some(bytes),
                Err(e) => {
                    encode_failures.push((batches.swap_remove(i), e));
                    continue;
                }
            }
        }
        i += 1;
    }
    let snap = inner.cluster.snapshot();
    let result = if batches.is_empty() {
        Ok(None)
    } else {
        let ids: HashMap<String, Uuid> = batches
            .iter()
            .filter_map(|b| snap.topics.get(&*b.tp.topic).map(|t| (t.name.clone(), t.id)))
            .collect();
        let parts: Vec<_> =
            batches.iter().map(|b| (b.tp.clone(), b.encoded.clone().unwrap_or_default())).collect();
        let timeout_ms = cfg.request_timeout.as_millis().min(i32::MAX as u128) as i32;
        let req = request::build(cfg.acks, timeout_ms, &parts, &ids);
        let net = &inner.cluster.net;
        if cfg.acks == 0 {
            net.send_no_response(Target::Broker(node), OpenReason::Produce, req).await.map(|()| None)
        } else {
            net.send_versions(Target::Broker(node), OpenReason::Produce, req, PRODUCE_VERSIONS).await.map(Some)
        }
    };
    let now = Instant::now();
    let mut st = inner.lock();
    if let Some(n) = st.in_flight.get_mut(&node) {
        *n = n.saturating_sub(1);
    }
    // Under this lock, so a batch put back for a retry is at the front of its queue before
    // the partition can be drained again.
    for b in batches.iter().chain(encode_failures.iter().map(|(b, _)| b)) {
        st.acc.unmute(&b.tp);
    }
    let sent_bytes: usize = batches.iter().map(|b| b.size).sum::<usize>() + encode_failures.iter().map(|(b, _)| b.size).sum::<usize>();
    st.inflight_bytes = st.inflight_bytes.saturating_sub(sent_bytes);
    for (b, e) in encode_failures {
        st.fail(b, &e);
    }
    match result {
        Ok(None) => {
            // acks=0: written to the socket is all we will ever know.
            for b in batches {
                st.complete(b, -1, -1);
            }
        }
        Ok(Some(resp)) => {
            let tps: Vec<TopicPartition> = batches.iter().map(|b| b.tp.clone()).collect();
            let outcomes = request::outcomes(&resp, &tps, |id| snap.topic_name_by_id(id).map(str::to_string));
            let mut stale = Vec::new();
            for (b, o) in batches.into_iter().zip(outcomes) {
                match o {
                    Some(o) if o.error_code == 0 => st.complete(b, o.base_offset, o.log_append_time),
                    Some(o) => {
                        let needs_refresh = request::needs_metadata_refresh(o.error_code);
                        if needs_refresh {
                            stale.push(format!("{} ({})", b.tp, o.error_code));
                        }
                        let err = Error::broker_code(o.error_code, format!("producing to {} failed", b.tp))
                            .with_broker(format!("node {node}"));
                        st.retry_or_fail(b, err, needs_refresh, now, cfg);
                    }
                    None => {
                        let err = Error::protocol(format!("the Produce response has no result for {}", b.tp))
                            .with_broker(format!("node {node}"));
                        st.retry_or_fail(b, err, false, now, cfg);
                    }
                }
            }
            if !stale.is_empty() {
                inner.cluster.request_update(format!("produce errors: {}", stale.join(", ")));
            }
        }
        Err(e) => {
            // Java's Sender marks metadata stale after a disconnect: the leader may have moved.
            let stale = e.is_retriable();
            if stale {
                inner.cluster.request_update(format!("produce request to node {node} failed: {e}"));
            }
            for b in batches {
                st.retry_or_fail(b, copy_error(&e), stale, now, cfg);
            }
        }
    }
    drop(st);
    inner.wake.notify_one();
    inner.progress.notify_waiters();
}
