//! The producer's background sender (Java's `Sender`): one task that turns ready batches into
//! Produce requests, one spawned task per request in flight, and the bookkeeping of results.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use tokio::task::JoinHandle;
use tokio::time::Instant;
use uuid::Uuid;

use kafka_protocol::messages::{InitProducerIdRequest, ProduceResponse, ProducerId};

use super::accumulator::{Accumulator, Batch, TopicPartition};
use super::encode::encode_batch;
use super::idempotence::{ProducerIdAndEpoch, Sequencer, Verdict};
use super::partitioner::StickyPartitioner;
use super::request::{self, PRODUCE_VERSIONS};
use crate::rules::produce::{init_producer_id_action, produce_action, topic_error_is_final, InitAction, ProduceAction};
use super::txn::Phase as TxnPhase;
use super::accumulator::FastHash;
use super::delivery::{BatchDelivery, Outcome};
use super::inflight::{InFlightBatch, InFlightBatches};
use super::{Completion, Inner, Resolved};
use crate::cluster::metadata::Snapshot;
use crate::error::{Error, ErrorKind, Result};
use crate::net::backoff::ExponentialBackoff;
use crate::net::events::OpenReason;
use crate::net::manager::Target;
use crate::protocol_errors::KafkaCode;

/// Everything the producer and its sender share, behind one mutex (never held across an await).
pub(crate) struct State {
    pub(crate) acc: Accumulator<Completion>,
    pub(crate) sticky: StickyPartitioner,
    /// `partitioner=round_robin`.
    pub(crate) round_robin: super::partitioner::RoundRobin,
    /// Ids of batches created and not yet completed (waiting or in flight), for `flush`.
    pub(crate) incomplete: BTreeSet<u64>,
    in_flight: HashMap<i32, usize>,
    inflight_bytes: usize,
    /// The batches on the wire, for their delivery deadline (see `inflight`).
    inflight_batches: InFlightBatches<Arc<BatchDelivery>>,
    /// Topics this producer writes to: the ones its metadata requests ask about.
    topics: Vec<String>,
    /// Looked up once per record (foldhash, see `accumulator::FastHash`).
    partitions: HashMap<String, (Arc<Snapshot>, Arc<Partitions>), FastHash>,
    pub(crate) task: Option<JoinHandle<()>>,
    pub(crate) closed: bool,
    retry: ExponentialBackoff,
    /// The metadata the sender saw last; a different one means a refresh happened.
    last_snapshot: Option<Arc<Snapshot>>,
    /// The idempotent producer's sequence numbers (`None` when not idempotent).
    pub(crate) idem: Option<Sequencer>,
    /// InitProducerId of the idempotent producer.
    init: InitProgress,
    /// A fatal error (e.g. InitProducerId refused for good): every waiting batch and every
    /// later `send` fails with it.
    pub(crate) fatal: Option<Error>,
    /// The transactional producer's state (`None` without `transactional.id`).
    pub(crate) txn: Option<super::txn::TxnState>,
    /// Per-broker dispatchers (see [`dispatch`]), fed in drain order.
    pub(crate) dispatchers: HashMap<i32, tokio::sync::mpsc::UnboundedSender<Request>>,
    /// The sender's metadata refresh is in flight ([`refresh_metadata`]).
    refreshing: bool,
    /// `record-send-total`, `record-error-total` (the `metrics` facade).
    pub(crate) telemetry: Option<std::sync::Arc<crate::telemetry::ProducerTelemetry>>,
    /// Buffers of settled batches' encodings, reused for the next encodings (fresh 256 KiB
    /// buffers cost ~7 % of the producer's CPU in page faults, BENCHMARKS.md).
    buffers: Vec<Vec<u8>>,
}

/// How many encoding buffers the producer keeps for reuse.
const SPARE_BUFFERS: usize = 16;

/// Where the idempotent producer's InitProducerId stands.
#[derive(Debug, Default)]
struct InitProgress {
    in_flight: bool,
    /// Not before this (retry backoff after a failure).
    due: Option<Instant>,
    attempts: u32,
}

impl State {
    pub(crate) fn new(cfg: &Resolved, linger: std::time::Duration) -> State {
        State {
            acc: Accumulator::new(cfg.batch_size, linger, cfg.delivery_timeout),
            sticky: StickyPartitioner::new(cfg.batch_size),
            round_robin: Default::default(),
            incomplete: BTreeSet::new(),
            in_flight: HashMap::new(),
            inflight_bytes: 0,
            inflight_batches: InFlightBatches::new(cfg.delivery_timeout),
            topics: Vec::new(),
            partitions: HashMap::default(),
            task: None,
            closed: false,
            retry: ExponentialBackoff::new(cfg.retry_backoff.0, cfg.retry_backoff.1),
            last_snapshot: None,
            idem: cfg.idempotent.then(|| Sequencer::new(cfg.transactional)),
            init: InitProgress::default(),
            fatal: None,
            txn: None,
            dispatchers: HashMap::new(),
            refreshing: false,
            telemetry: None,
            buffers: Vec::new(),
        }
    }

    /// Keeps a settled batch's encoding buffer for a later batch, when nothing else holds it.
    fn recycle_encoding(&mut self, encoded: Option<bytes::Bytes>) {
        if self.buffers.len() >= SPARE_BUFFERS {
            return;
        }
        if let Some(Ok(buf)) = encoded.map(bytes::Bytes::try_into_mut) {
            self.buffers.push(Vec::from(buf));
        }
    }

    /// Up to `n` buffers for encoding (empty vectors when none is spare).
    fn take_buffers(&mut self, n: usize) -> Vec<Vec<u8>> {
        let keep = self.buffers.len().saturating_sub(n);
        let mut out = self.buffers.split_off(keep);
        out.resize_with(n, Vec::new);
        out
    }

    /// The partitions of `topic` if they are known in `snap` (the metadata now).
    pub(crate) fn cached_partitions(&self, topic: &str, snap: &Arc<Snapshot>) -> Option<Arc<Partitions>> {
        self.partitions.get(topic).filter(|(s, _)| Arc::ptr_eq(s, snap)).map(|(_, p)| p.clone())
    }

    /// Whether `size` more bytes fit in `buffer.memory` (Java's `BufferPool.allocate`; a record
    /// always fits an empty buffer).
    pub(crate) fn buffer_has_room(&self, size: usize, buffer_memory: usize) -> bool {
        let used = self.acc.buffered_bytes() + self.inflight_bytes;
        used == 0 || used + size <= buffer_memory
    }

    fn complete(&mut self, b: Batch<Completion>, base_offset: i64, log_append_time: i64) {
        self.incomplete.remove(&b.id);
        if let Some(s) = self.idem.as_mut() {
            s.on_success(&b.tp, b.id, base_offset);
        }
        let Batch { token, records, encoded, .. } = b;
        // Counted before the futures wake (an application reading the metrics right after its
        // last delivery sees it); settled batches are settled under this lock only.
        if !token.0.is_settled() {
            if let Some(t) = &self.telemetry {
                t.sent(records.len(), Instant::now());
            }
            token.0.settle(Outcome::Written { base_offset, log_append_time });
        }
        self.acc.recycle(records);
        self.recycle_encoding(encoded);
    }

    fn fail(&mut self, b: Batch<Completion>, err: &Error) {
        self.incomplete.remove(&b.id);
        let Batch { token, records, encoded, .. } = b;
        if !token.0.is_settled() {
            if let Some(t) = &self.telemetry {
                t.failed(records.len(), Instant::now());
            }
            token.0.settle(Outcome::Failed(err.clone()));
        }
        self.acc.recycle(records);
        self.recycle_encoding(encoded);
    }

    /// A batch came back with `err` (`code` when the broker refused it, `None` when the request
    /// failed as a whole). Retries it after `retry.backoff.ms` (growing with its attempts) when
    /// Java's `Sender.canRetry` would: before `delivery.timeout.ms`, within `retries`, and if
    /// the error is retriable — or, for an idempotent producer's sequence errors, if the
    /// sequencer says so. Fails it otherwise. `stale_metadata`: the leader may have moved; the
    /// retry waits for a metadata refresh.
    #[allow(clippy::too_many_arguments)]
    fn settle_error(
        &mut self,
        mut b: Batch<Completion>,
        code: Option<KafkaCode>,
        err: Error,
        log_start_offset: i64,
        stale_metadata: bool,
        now: Instant,
        cfg: &Resolved,
    ) {
        let verdict = match (self.idem.as_mut(), b.sequence, code) {
            (Some(s), Some(seq), Some(c)) => s.verdict(&b.tp, seq, c, log_start_offset),
            _ => Verdict::ByError,
        };
        let retriable = match verdict {
            Verdict::Retry => true,
            Verdict::ByError => err.is_retriable(),
            Verdict::Fail => false,
        };
        let expired = now >= b.created + cfg.delivery_timeout;
        if retriable && !expired && b.attempts < cfg.retries {
            tracing::debug!(tp = %b.tp, attempt = b.attempts + 1, error = %err, "retrying produce");
            let backoff = self.retry.jittered(b.attempts, rand::random());
            b.attempts += 1;
            b.last_error = Some(err.to_string());
            if let Some(s) = self.idem.as_mut() {
                s.on_requeued(&b.tp, b.id);
            }
            self.acc.reenqueue(b, now + backoff, stale_metadata);
            return;
        }
        // Java `failBatch(batch, response, adjustSequenceNumbers = attempts < retries)`.
        if let Some(s) = self.idem.as_mut() {
            s.on_failed(&b.tp, b.id, code, b.attempts < cfg.retries);
        }
        // Java `maybeTransitionToErrorState`: fenced is fatal, anything else makes the
        // transaction abortable.
        if let Some(t) = self.txn.as_mut() {
            if code.map(produce_action) == Some(ProduceAction::Fenced) {
                t.fatal(err.clone());
            } else {
                t.abortable(err.clone());
            }
        }
        let err = if retriable && expired {
            b.attempts += 1;
            b.last_error = Some(err.to_string());
            expiry_error(&b, cfg, None, Some(err))
        } else {
            err
        };
        self.fail(b, &err);
    }

    /// Fails the records of the batches on the wire whose `delivery.timeout.ms` has passed
    /// (Java `Sender.sendProducerData` with `getExpiredInflightBatches`, then `failBatch` with
    /// a `TimeoutException`). Their requests stay on the wire; the late responses settle
    /// nothing the application sees but still tell the idempotent producer whether the broker
    /// wrote them. Returns whether any expired.
    fn expire_in_flight(&mut self, now: Instant, cfg: &Resolved) -> bool {
        let expired = self.inflight_batches.expire(now);
        for e in &expired {
            if e.token.is_settled() {
                continue;
            }
            let err = Error::new(
                ErrorKind::Timeout,
                format!(
                    "expiring {} record(s) for {}: delivery.timeout.ms={} ms has passed since batch creation \
                     (in flight: its Produce request, attempt {}, is unanswered; whether the broker wrote it is unknown)",
                    e.records,
                    e.tp,
                    cfg.delivery_timeout.as_millis(),
                    e.attempts + 1
                ),
            );
            tracing::warn!(error = %err, "producer batch expired in flight");
            self.incomplete.remove(&e.batch_id);
            if let Some(t) = &self.telemetry {
                t.failed(e.records, now);
            }
            e.token.settle(Outcome::Failed(err.clone()));
            if let (Some(s), true) = (self.idem.as_mut(), e.sequenced) {
                // Java `markSequenceUnresolved` after an in-flight expiry: nothing new goes to
                // the partition until its batches on the wire are answered; then either the
                // acknowledgements reached past this batch (it was written) or the epoch is
                // bumped, so that no later batch can be written out of order or twice.
                s.mark_unresolved_in_flight(&e.tp, e.batch_id);
            }
            // Java `TransactionManager.maybeTransitionToErrorState`: a transaction that lost a
            // record cannot commit.
            if let Some(t) = self.txn.as_mut() {
                t.abortable(err);
            }
        }
        !expired.is_empty()
    }

    /// Fails everything still waiting (close).
    pub(crate) fn abort_all(&mut self, why: &str) {
        let err = Error::new(ErrorKind::Closed, why);
        for b in self.acc.abort_all() {
            self.fail(b, &err);
        }
    }
}

/// The error of a batch that expired (Java `RecordBatch.timedOut`'s message), saying what
/// became of it meanwhile — how many attempts failed and why the last did, and the leader the
/// metadata gave when it expired waiting — so that a batch held back for a reason (an offline
/// partition, a broker answering nothing) can be told from one the producer forgot.
fn expiry_error(b: &Batch<Completion>, cfg: &Resolved, leader: Option<i32>, source: Option<Error>) -> Error {
    let history = match (&b.last_error, b.attempts) {
        (None, _) => "never sent".to_string(),
        (Some(last), n) => format!("{n} failed attempt(s), the last: {last}"),
    };
    let waiting = match (source.is_none(), leader) {
        (false, _) => String::new(),
        (true, Some(id)) => format!("; leader: node {id}"),
        (true, None) => "; no leader known".to_string(),
    };
    let e = Error::new(
        ErrorKind::Timeout,
        format!(
            "expiring {} record(s) for {}: delivery.timeout.ms={} ms has passed since batch creation ({history}{waiting})",
            b.records.len(),
            b.tp,
            cfg.delivery_timeout.as_millis()
        ),
    );
    match source {
        Some(s) => e.with_source(s),
        None => e,
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
                if t.error == KafkaCode::NONE.0 && !t.partitions.is_empty() {
                    let p = Arc::new(Partitions {
                        topic: Arc::from(topic),
                        count: t.partitions.len() as i32,
                        available: t.partitions.iter().filter(|p| p.leader >= 0).map(|p| p.partition).collect(),
                    });
                    st.partitions.insert(topic.to_string(), (snap.clone(), p.clone()));
                    return Ok(p);
                }
                // Authorization failures and invalid names will not fix themselves.
                if topic_error_is_final(KafkaCode(t.error)) {
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
            if st.buffer_has_room(size, inner.cfg.buffer_memory) {
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
        let (sends, next_check, unknown, done, waiting, start_init, add_partitions) = {
            let mut guard = inner.lock();
            let st = &mut *guard;
            if !st.last_snapshot.as_ref().is_some_and(|s| Arc::ptr_eq(s, &snap)) {
                st.acc.metadata_updated();
                st.last_snapshot = Some(snap.clone());
            }
            let expired = st.acc.expire(now);
            let had_expired = !expired.is_empty();
            for b in expired {
                let leader = snap.leader(&b.tp.topic, b.tp.partition);
                let err = expiry_error(&b, &inner.cfg, leader, None);
                tracing::warn!(error = %err, "producer batch expired");
                if let (Some(s), Some(_)) = (st.idem.as_mut(), b.sequence) {
                    // It was sent at least once: whether the broker has it is unknown.
                    s.mark_unresolved(&b.tp, b.id);
                }
                st.fail(b, &err);
            }
            let had_expired = st.expire_in_flight(now, &inner.cfg) || had_expired;
            if had_expired {
                inner.progress.notify_waiters();
            }
            // Java `Sender.maybeSendAndPollTransactionalRequest`: in an abortable or fatal
            // error, or while aborting, the batches not sent yet fail at once.
            let mut add_partitions = None;
            if let Some(t) = st.txn.as_mut() {
                if matches!(t.phase, TxnPhase::AbortableError | TxnPhase::Aborting | TxnPhase::FatalError) && !st.acc.is_empty() {
                    let err = t.error().cloned().unwrap_or_else(|| Error::new(ErrorKind::TransactionAborted, "the transaction was aborted before the record was sent"));
                    for b in st.acc.abort_all() {
                        if let (Some(s), Some(_)) = (st.idem.as_mut(), b.sequence) {
                            s.on_failed(&b.tp, b.id, None, false);
                        }
                        st.fail(b, &err);
                    }
                    inner.progress.notify_waiters();
                }
                add_partitions = st.txn.as_mut().and_then(|t| t.take_to_add());
            }
            let mut next_check_init = None;
            let mut start_init = false;
            if let Some(s) = st.idem.as_mut() {
                s.maybe_resolve();
                if let Some(renumbered) = s.maybe_bump() {
                    st.acc.renumber(&renumbered);
                }
                // A transactional producer gets its id from `init_transactions`.
                if s.needs_producer_id() && !inner.cfg.transactional && !st.init.in_flight && !st.acc.is_empty() && st.fatal.is_none() {
                    match st.init.due {
                        Some(due) if due > now => next_check_init = Some(due),
                        _ => {
                            st.init.in_flight = true;
                            start_init = true;
                        }
                    }
                }
            }
            let ready = st.acc.poll_ready(now, leader);
            let mut sends = Vec::new();
            for node in ready.nodes {
                while st.in_flight.get(&node).copied().unwrap_or(0) < inner.cfg.max_in_flight {
                    let batches = st.acc.drain(node, now, leader, inner.cfg.max_request_size, st.idem.as_mut(), st.txn.as_ref());
                    if batches.is_empty() {
                        break;
                    }
                    *st.in_flight.entry(node).or_default() += 1;
                    st.inflight_bytes += batches.iter().map(|b| b.size).sum::<usize>();
                    for b in &batches {
                        st.inflight_batches.add(InFlightBatch {
                            batch_id: b.id,
                            tp: b.tp.clone(),
                            created: b.created,
                            records: b.records.len(),
                            attempts: b.attempts,
                            sequenced: b.sequence.is_some(),
                            token: b.token.0.clone(),
                        });
                    }
                    // Queued under the lock, in drain order.
                    let tx = st.dispatchers.entry(node).or_insert_with(|| {
                        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
                        tokio::spawn(dispatch(inner.clone(), node, rx));
                        tx
                    });
                    if let Err(returned) = tx.send(batches) {
                        // Cannot happen while the sender runs (the dispatcher only ends when its
                        // channel is dropped); settle them as a failed request all the same.
                        sends.push((node, returned.0));
                    }
                }
            }
            let idle = st.in_flight.values().all(|n| *n == 0);
            let waiting = !st.acc.is_empty();
            let done = st.closed && !waiting && idle && sends.is_empty();
            let next_check = [ready.next_check, next_check_init, st.inflight_batches.next_expiry()].into_iter().flatten().min();
            (sends, next_check, ready.unknown_leaders, done, waiting, start_init, add_partitions)
        };
        if done {
            inner.lock().dispatchers.clear();
            return;
        }
        if start_init {
            tokio::spawn(init_producer_id(inner.clone()));
        }
        if let Some(parts) = add_partitions {
            tokio::spawn(super::transactions::add_partitions(inner.clone(), parts));
        }
        for (node, batches) in sends {
            settle_request(&inner, node, batches, Vec::new(), Err(Error::closed()));
        }
        let mut wake_at = next_check;
        if !unknown.is_empty() {
            inner.cluster.request_update(format!("producer: no leader known for a partition of {unknown:?}"));
        }
        // Batches are waiting: refresh metadata when it is due (a leader error or a disconnect
        // asked for it, or metadata.max.age.ms passed), so retries go to the current leader.
        // The refresh runs beside the sender, never in its way: a Metadata request can wait
        // up to request.timeout.ms (queued behind acks=all Produce requests a broker holds
        // until a dead follower leaves the ISR), and meanwhile the batches of partitions whose
        // leaders are known keep going — Java's Sender does not wait for metadata either
        // (`NetworkClient.poll` sends the MetadataRequest beside the Produce requests).
        if waiting {
            let due = inner.cluster.next_refresh();
            if due <= Instant::now() {
                let start = {
                    let mut st = inner.lock();
                    !std::mem::replace(&mut st.refreshing, true)
                };
                if start {
                    tokio::spawn(refresh_metadata(inner.clone()));
                }
                // Its end wakes the sender.
            } else {
                wake_at = Some(wake_at.map_or(due, |w| w.min(due)));
            }
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

/// The sender's metadata refresh (see [`run`]): one at a time, waking the sender when done.
async fn refresh_metadata(inner: Arc<Inner>) {
    let topics = inner.lock().topics.clone();
    if let Err(e) = inner.cluster.refresh_if_due(Some(&topics)).await {
        tracing::debug!(error = %e, "producer metadata refresh failed");
    }
    inner.lock().refreshing = false;
    inner.wake.notify_one();
}

/// Sends one Produce request with `batches` to `node` and settles every batch.
/// One Produce request's batches, in the order the sender drained them.
pub(crate) type Request = Vec<Batch<Completion>>;

/// The per-broker dispatcher: takes the requests for `node` in the order they were drained,
/// encodes them and queues each on the connection before taking the next (so an idempotent
/// producer's batches of a partition reach the broker in sequence order), then leaves the
/// response to a task of its own, so that up to `max.in.flight.requests.per.connection`
/// requests are on the wire. Ends when the sender drops its channel.
pub(crate) async fn dispatch(inner: Arc<Inner>, node: i32, mut requests: tokio::sync::mpsc::UnboundedReceiver<Request>) {
    // The uncompressed records of a compressed batch, kept between batches.
    let mut scratch = Vec::new();
    while let Some(mut batches) = requests.recv().await {
        let cfg = &inner.cfg;
        let mut encode_failures = Vec::new();
        let stale = |b: &Batch<Completion>| b.encoded.is_none() || b.encoded_with != b.sequence;
        let mut buffers = {
            let to_encode = batches.iter().filter(|b| stale(b)).count();
            if to_encode == 0 { Vec::new() } else { inner.lock().take_buffers(to_encode) }
        };
        let mut i = 0;
        while i < batches.len() {
            let b = &batches[i];
            if stale(b) {
                let out = buffers.pop().unwrap_or_default();
                match encode_batch(&b.records, cfg.compression, b.sequence, cfg.transactional, out, &mut scratch) {
                    Ok(bytes) => {
                        let seq = batches[i].sequence;
                        batches[i].encoded = Some(bytes);
                        batches[i].encoded_with = seq;
                    }
                    Err(e) => {
                        encode_failures.push((batches.swap_remove(i), e));
                        continue;
                    }
                }
            }
            i += 1;
        }
        if batches.is_empty() {
            settle_request(&inner, node, batches, encode_failures, Ok(None));
            continue;
        }
        let snap = inner.cluster.snapshot();
        let ids: HashMap<String, Uuid> = batches
            .iter()
            .filter_map(|b| snap.topics.get(&*b.tp.topic).map(|t| (t.name.clone(), t.id)))
            .collect();
        let parts: Vec<_> = batches.iter().map(|b| (b.tp.clone(), b.encoded.clone().unwrap_or_default())).collect();
        let timeout_ms = cfg.request_timeout.as_millis().min(i32::MAX as u128) as i32;
        let req = request::build(cfg.acks, timeout_ms, cfg.transactional_id.as_ref(), &parts, &ids);
        let net = &inner.cluster.net;
        if cfg.acks == 0 {
            let result = net.send_no_response(Target::Broker(node), OpenReason::Produce, req).await.map(|()| None);
            settle_request(&inner, node, batches, encode_failures, result);
            continue;
        }
        match net.submit_versions(Target::Broker(node), OpenReason::Produce, req, PRODUCE_VERSIONS).await {
            Err(e) => settle_request(&inner, node, batches, encode_failures, Err(e)),
            Ok(submitted) => {
                let inner = inner.clone();
                tokio::spawn(async move {
                    let result = inner.cluster.net.response(submitted).await.map(Some);
                    settle_request(&inner, node, batches, encode_failures, result);
                });
            }
        }
    }
}

/// Settles every batch of one finished Produce request (its response, or why it failed).
fn settle_request(
    inner: &Arc<Inner>,
    node: i32,
    batches: Vec<Batch<Completion>>,
    encode_failures: Vec<(Batch<Completion>, Error)>,
    result: Result<Option<ProduceResponse>>,
) {
    let cfg = &inner.cfg;
    let snap = inner.cluster.snapshot();
    let now = Instant::now();
    let mut guard = inner.lock();
    let st = &mut *guard;
    if let Some(n) = st.in_flight.get_mut(&node) {
        *n = n.saturating_sub(1);
    }
    // Under this lock, so a batch put back for a retry is at the front of its queue before
    // the partition can be drained again.
    for b in batches.iter().chain(encode_failures.iter().map(|(b, _)| b)) {
        st.acc.unmute(&b.tp);
        st.inflight_batches.remove(b.id);
    }
    let sent_bytes: usize = batches.iter().map(|b| b.size).sum::<usize>() + encode_failures.iter().map(|(b, _)| b.size).sum::<usize>();
    st.inflight_bytes = st.inflight_bytes.saturating_sub(sent_bytes);
    for (b, e) in encode_failures {
        if let Some(s) = st.idem.as_mut() {
            s.on_failed(&b.tp, b.id, None, false);
        }
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
                let Some(o) = o else {
                    let err = Error::protocol(format!("the Produce response has no result for {}", b.tp))
                        .with_broker(format!("node {node}"));
                    st.settle_error(b, None, err, -1, false, now, cfg);
                    continue;
                };
                let code = KafkaCode(o.error_code);
                let action = produce_action(code);
                match action {
                    ProduceAction::Complete => st.complete(b, o.base_offset, o.log_append_time),
                    ProduceAction::CompleteWithoutOffset => st.complete(b, -1, -1),
                    _ => {
                        let refresh = action == ProduceAction::RefreshMetadataAndRetry;
                        if refresh {
                            stale.push(format!("{} ({code})", b.tp));
                        }
                        let mut err = Error::broker_code(o.error_code, format!("producing to {} failed", b.tp))
                            .with_broker(format!("node {node}"));
                        if let Some(m) = &o.error_message {
                            err = Error::broker_code(o.error_code, format!("producing to {} failed: {m}", b.tp))
                                .with_broker(format!("node {node}"));
                        }
                        st.settle_error(b, Some(code), err, o.log_start_offset, refresh, now, cfg);
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
                st.settle_error(b, None, copy_error(&e), -1, stale, now, cfg);
            }
        }
    }
    drop(guard);
    inner.wake.notify_one();
    inner.progress.notify_waiters();
}

/// The idempotent producer's InitProducerId (Java `bumpIdempotentEpochAndResetIdIfNeeded`
/// enqueues it; no transactional id, so any broker answers). A retriable failure is retried
/// after the backoff; any other makes the producer fail every batch (fatal, as in Java).
async fn init_producer_id(inner: Arc<Inner>) {
    let req = InitProducerIdRequest::default()
        .with_transactional_id(None)
        .with_transaction_timeout_ms(i32::MAX)
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    let result = inner.cluster.net.send(Target::AnyNode, OpenReason::Produce, req).await;
    let now = Instant::now();
    let mut guard = inner.lock();
    let st = &mut *guard;
    st.init.in_flight = false;
    let failure = match result {
        Ok(r) => match init_producer_id_action(KafkaCode(r.error_code)) {
            InitAction::Proceed => {
                let p = ProducerIdAndEpoch { id: r.producer_id.0, epoch: r.producer_epoch };
                tracing::info!(producer_id = p.id, epoch = p.epoch, "idempotent producer got its producer id");
                if let Some(s) = st.idem.as_mut() {
                    s.set_producer(p);
                }
                st.init = InitProgress::default();
                None
            }
            InitAction::Retry | InitAction::FindCoordinator => {
                Some((true, Error::broker_code(r.error_code, "InitProducerId failed")))
            }
            InitAction::Fenced | InitAction::Fail => {
                Some((false, Error::broker_code(r.error_code, "the broker refused a producer id to this idempotent producer")))
            }
        },
        Err(e) => Some((e.is_retriable(), e)),
    };
    match failure {
        None => {}
        Some((true, e)) => {
            let wait = st.retry.jittered(st.init.attempts, rand::random());
            tracing::debug!(error = %e, retry_in_ms = wait.as_millis() as u64, "InitProducerId failed; retrying");
            st.init.attempts += 1;
            st.init.due = Some(now + wait);
        }
        Some((false, e)) => {
            tracing::error!(error = %e, "idempotent producer cannot get a producer id");
            for b in st.acc.abort_all() {
                st.fail(b, &e);
            }
            st.fatal = Some(e);
        }
    }
    drop(guard);
    inner.wake.notify_one();
    inner.progress.notify_waiters();
}
