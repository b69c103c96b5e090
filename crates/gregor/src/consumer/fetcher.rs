//! Fetching: one Fetch in flight per broker, prefetching while the application works.
//!
//! The loop (one task per consumer) finds, for every assigned partition that has a fetch
//! position and room in the buffer, the broker to read it from (its leader, or with
//! `client.rack` the preferred read replica, KIP-392), and keeps exactly one Fetch in flight to
//! each such broker — the broker serves one request per connection at a time, so a second one
//! would only queue. Responses are decoded outside any lock and buffered for `poll`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use futures_util::stream::{FuturesUnordered, StreamExt};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic, ForgottenTopic};
use kafka_protocol::messages::{FetchRequest, FetchResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use tokio::time::Instant;

use super::session::FetchSession;
use super::state::{BufferedBatch, ResetTo};
use super::types::{ConsumerRecord, TopicPartition};
use super::Inner;
use crate::config::{AutoOffsetReset, IsolationLevel};
use crate::error::{Error, ErrorKind, Result};
use crate::net::events::OpenReason;
use crate::net::manager::Target;
use crate::records::{self, AbortedTransaction, DecodeOptions, FetchRecords, FetchTail};

/// Fetch versions gregor speaks: v4 (Kafka 0.11, record batches) .. v17 (Kafka 4.x).
const FETCH_VERSIONS: (i16, i16) = (4, 17);

/// What a fetch asked for, to match the response against the state when it comes back.
struct InFlight {
    broker: i32,
    /// tp → (fetch offset, seek epoch) at send time.
    asked: HashMap<TopicPartition, (i64, u64)>,
}

type FetchResult = (InFlight, Result<FetchResponse>);

/// The fetch loop. Returns when the consumer closes.
pub(crate) async fn run(inner: Arc<Inner>) {
    let mut sessions: HashMap<i32, FetchSession> = HashMap::new();
    let mut in_flight: FuturesUnordered<futures_util::future::BoxFuture<'static, FetchResult>> =
        FuturesUnordered::new();
    let mut busy: std::collections::HashSet<i32> = Default::default();
    // Brokers whose last fetch failed wait `retry.backoff.ms` before the next one (Java's
    // fetcher does the same), instead of retrying in a tight loop while a dead connection is
    // still being torn down.
    let mut backoff: HashMap<i32, Instant> = HashMap::new();
    let mut retry_at: Option<Instant> = None;
    let mut positions = SideJob::new(&inner);
    let mut metadata = SideJob::new(&inner);
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
        backoff.retain(|_, until| *until > now);
        let blocked: std::collections::HashSet<i32> = busy.iter().chain(backoff.keys()).copied().collect();
        for (broker, want) in plan(&inner, &blocked) {
            let session = sessions.entry(broker).or_default();
            let (req, asked) = build_request(&inner, broker, session, &want);
            busy.insert(broker);
            let net = inner.cluster.net.clone();
            let flight = InFlight { broker, asked };
            in_flight.push(Box::pin(async move {
                let r = net
                    .send_built(Target::Broker(broker), OpenReason::Fetch, FETCH_VERSIONS, None, req)
                    .await;
                (flight, r)
            }));
        }

        // Timers: the position retry, and the next metadata refresh unless one is running (its
        // completion wakes the loop). Everything else is an event (a response, a wake-up).
        let mut wake_at = retry_at;
        if let Some(b) = backoff.values().min() {
            wake_at = Some(wake_at.map_or(*b, |w| w.min(*b)));
        }
        if metadata.idle() {
            let next = inner.cluster.next_refresh();
            wake_at = Some(wake_at.map_or(next, |w| w.min(next)));
        }
        let now = Instant::now();
        let sleep_until = wake_at
            .unwrap_or(now + std::time::Duration::from_secs(3600))
            .max(now + std::time::Duration::from_millis(1));
        tokio::select! {
            Some((flight, result)) = in_flight.next(), if !in_flight.is_empty() => {
                busy.remove(&flight.broker);
                if result.is_err() {
                    backoff.insert(flight.broker, Instant::now() + inner.retry_backoff());
                }
                let session = sessions.entry(flight.broker).or_default();
                handle_result(&inner, session, flight, result);
            }
            _ = &mut wake => {}
            _ = tokio::time::sleep_until(sleep_until) => { retry_at = None; }
        }
    }
}

/// Partitions to fetch now, grouped by the broker to fetch them from.
fn plan(inner: &Inner, busy: &std::collections::HashSet<i32>) -> BTreeMap<i32, BTreeMap<TopicPartition, i64>> {
    let snapshot = inner.cluster.snapshot();
    let max_buffered = inner.config.max_partition_fetch_bytes.max(1) as usize;
    let now = Instant::now();
    let mut out: BTreeMap<i32, BTreeMap<TopicPartition, i64>> = BTreeMap::new();
    let mut missing_leader = None;
    let st = inner.lock_state();
    let total_buffered: usize = st.buffer.iter().map(|b| b.bytes).sum();
    if total_buffered > 2 * inner.config.fetch_max_bytes as usize {
        return out;
    }
    // Brokers with a partition held back only because its buffer is full: a fetch sent now
    // that can only park (every partition in it is caught up) would sit for fetch.max.wait.ms
    // in front of that partition's next fetch — the broker serves one request per connection
    // at a time. Such a broker waits until the buffer drains (poll wakes the loop).
    let mut held: std::collections::HashSet<i32> = Default::default();
    let mut has_data: std::collections::HashSet<i32> = Default::default();
    for (tp, ps) in &st.assignment {
        if ps.error.is_some() || ps.paused || ps.fetch_offset.is_none() {
            continue;
        }
        let node = match ps.preferred_replica {
            Some((r, until)) if until > now && snapshot.brokers.contains_key(&r) => Some(r),
            _ => snapshot.leader(&tp.topic, tp.partition),
        };
        let Some(node) = node else {
            missing_leader = Some(tp.clone());
            continue;
        };
        if !ps.fetchable(max_buffered) {
            held.insert(node);
            continue;
        }
        if busy.contains(&node) {
            continue;
        }
        let offset = ps.fetch_offset.expect("checked above");
        // An unknown high watermark (-1) may hide data: count it as data.
        if ps.high_watermark < 0 || offset < ps.high_watermark {
            has_data.insert(node);
        }
        out.entry(node).or_default().insert(tp.clone(), offset);
    }
    out.retain(|node, _| !held.contains(node) || has_data.contains(node));
    drop(st);
    if let Some(tp) = missing_leader {
        inner.cluster.request_update(format!("no leader known for {tp}"));
    }
    out
}

fn build_request(
    inner: &Inner,
    broker: i32,
    session: &mut FetchSession,
    want: &BTreeMap<TopicPartition, i64>,
) -> (impl FnOnce(i16) -> FetchRequest + Send + 'static, HashMap<TopicPartition, (i64, u64)>) {
    let cfg = &inner.config;
    let snapshot = inner.cluster.snapshot();
    let sreq = session.build(want);
    let st = inner.lock_state();
    let mut asked = HashMap::new();
    for (tp, off) in want {
        let epoch = st.assignment.get(tp).map_or(0, |s| s.seek_epoch);
        asked.insert(tp.clone(), (*off, epoch));
    }
    let mut topics: BTreeMap<Arc<str>, Vec<FetchPartition>> = BTreeMap::new();
    for (tp, off) in &sreq.partitions {
        let ps = st.assignment.get(tp);
        let leader_epoch = snapshot
            .partition(&tp.topic, tp.partition)
            .map(|p| p.leader_epoch)
            .unwrap_or(-1);
        topics.entry(tp.topic.clone()).or_default().push(
            FetchPartition::default()
                .with_partition(tp.partition)
                .with_current_leader_epoch(leader_epoch)
                .with_fetch_offset(*off)
                .with_last_fetched_epoch(ps.and_then(|p| p.leader_epoch).unwrap_or(-1))
                .with_log_start_offset(-1)
                .with_partition_max_bytes(cfg.max_partition_fetch_bytes as i32),
        );
    }
    drop(st);
    let ids: HashMap<Arc<str>, uuid::Uuid> = topics
        .keys()
        .chain(sreq.forgotten.iter().map(|tp| &tp.topic))
        .map(|t| (t.clone(), snapshot.topics.get(&**t).map(|i| i.id).unwrap_or_default()))
        .collect();
    let mut forgotten: BTreeMap<Arc<str>, Vec<i32>> = BTreeMap::new();
    for tp in &sreq.forgotten {
        forgotten.entry(tp.topic.clone()).or_default().push(tp.partition);
    }
    let (max_wait, min_bytes, max_bytes) = (
        super::group_consumer::fetch_max_wait(inner, broker).as_millis().min(i32::MAX as u128) as i32,
        cfg.fetch_min_bytes as i32,
        cfg.fetch_max_bytes as i32,
    );
    let isolation = cfg.isolation_level.wire_value();
    let rack = cfg.client_rack.clone().unwrap_or_default();
    let (session_id, epoch) = (sreq.session_id, sreq.epoch);
    // v13 (KIP-516) names topics by id instead of by name; v11 adds the rack (KIP-392);
    // v7 adds sessions (KIP-227).
    let build = move |v: i16| {
        let name_or_id = |t: &Arc<str>| {
            if v >= 13 {
                (TopicName::default(), ids.get(t).copied().unwrap_or_default())
            } else {
                (TopicName(StrBytes::from_string(t.to_string())), uuid::Uuid::nil())
            }
        };
        let fetch_topics = topics
            .into_iter()
            .map(|(t, mut parts)| {
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
                let (name, id) = name_or_id(&t);
                FetchTopic::default().with_topic(name).with_topic_id(id).with_partitions(parts)
            })
            .collect();
        let forgotten = if v >= 7 {
            forgotten
                .into_iter()
                .map(|(t, parts)| {
                    let (name, id) = name_or_id(&t);
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
    };
    (build, asked)
}


fn handle_result(inner: &Inner, session: &mut FetchSession, flight: InFlight, result: Result<FetchResponse>) {
    let resp = match result {
        Ok(r) => r,
        Err(e) => {
            session.reset();
            if e.kind() != ErrorKind::Closed {
                tracing::debug!(broker = flight.broker, error = %e, "fetch failed");
                inner.cluster.request_update(format!("fetch from broker {} failed: {e}", flight.broker));
            }
            return;
        }
    };
    session.handle_response(resp.error_code, resp.session_id);
    if resp.error_code != 0 {
        tracing::debug!(broker = flight.broker, code = resp.error_code, "fetch error; session reset");
        return;
    }
    let snapshot = inner.cluster.snapshot();
    let opts = DecodeOptions {
        check_crcs: inner.config.check_crcs,
        isolation: match inner.config.isolation_level {
            IsolationLevel::ReadCommitted => records::IsolationLevel::ReadCommitted,
            IsolationLevel::ReadUncommitted => records::IsolationLevel::ReadUncommitted,
        },
        max_decompressed_bytes: DecodeOptions::max_decompressed_for_fetch(inner.config.fetch_max_bytes as usize),
    };
    let mut decoded = Vec::new();
    let mut any_data = false;
    for topic in resp.responses {
        let name: Arc<str> = if !topic.topic.0.is_empty() {
            Arc::from(topic.topic.0.as_str())
        } else {
            match snapshot.topic_name_by_id(topic.topic_id) {
                Some(n) => Arc::from(n),
                None => continue,
            }
        };
        for p in topic.partitions {
            let tp = TopicPartition { topic: name.clone(), partition: p.partition_index };
            let Some(&(fetch_offset, seek_epoch)) = flight.asked.get(&tp) else { continue };
            let outcome = decode_partition(&tp, fetch_offset, p, &opts);
            any_data |= matches!(&outcome, PartitionOutcome::Data { .. });
            decoded.push((tp, fetch_offset, seek_epoch, outcome));
        }
    }
    let mut st = inner.lock_state();
    for (tp, fetch_offset, seek_epoch, outcome) in decoded {
        let Some(ps) = st.assignment.get_mut(&tp) else { continue };
        if ps.seek_epoch != seek_epoch || ps.fetch_offset != Some(fetch_offset) {
            continue; // the partition was sought or reset meanwhile: drop stale data
        }
        match outcome {
            PartitionOutcome::Data { records, next_offset, bytes, hw, lso, log_start, preferred, error } => {
                ps.high_watermark = hw;
                ps.last_stable_offset = lso;
                ps.log_start_offset = log_start;
                if let Some(r) = preferred {
                    ps.preferred_replica = Some((r, Instant::now() + inner.config.net.metadata_max_age));
                }
                ps.fetch_offset = Some(next_offset);
                if let Some(e) = error {
                    ps.error = Some(Arc::new(e));
                }
                if !records.is_empty() || next_offset != fetch_offset {
                    ps.buffered_bytes += bytes;
                    st.buffer.push_back(BufferedBatch { tp, seek_epoch, records: records.into(), bytes, next_offset });
                }
            }
            PartitionOutcome::OutOfRange => {
                let reset = match inner.config.auto_offset_reset {
                    AutoOffsetReset::Earliest => Some(ResetTo::Earliest),
                    AutoOffsetReset::Latest => Some(ResetTo::Latest),
                    AutoOffsetReset::ByDuration(d) => Some(ResetTo::Timestamp(now_ms() - d.as_millis() as i64)),
                    AutoOffsetReset::None => None,
                };
                match reset {
                    Some(r) => {
                        tracing::info!(partition = %tp, offset = fetch_offset, "fetch offset out of range; resetting per auto.offset.reset");
                        ps.request_reset(r);
                    }
                    None => {
                        ps.error = Some(Arc::new(Error::new(
                            ErrorKind::OffsetOutOfRange,
                            format!("offset {fetch_offset} of {tp} is out of range and auto.offset.reset=none"),
                        )));
                    }
                }
            }
            PartitionOutcome::Stale(why) => {
                ps.preferred_replica = None;
                inner.cluster.request_update(why);
            }
            PartitionOutcome::Fatal(e) => ps.error = Some(Arc::new(e)),
        }
    }
    drop(st);
    if any_data {
        inner.data_ready.notify_waiters();
    }
}

enum PartitionOutcome {
    Data {
        records: Vec<ConsumerRecord>,
        next_offset: i64,
        bytes: usize,
        hw: i64,
        lso: i64,
        log_start: i64,
        preferred: Option<i32>,
        /// An error after some good records (e.g. a corrupt batch): surfaced once the good
        /// records are consumed.
        error: Option<Error>,
    },
    OutOfRange,
    /// Leadership moved or metadata is stale: refresh, then fetch again.
    Stale(String),
    Fatal(Error),
}

fn decode_partition(
    tp: &TopicPartition,
    fetch_offset: i64,
    p: kafka_protocol::messages::fetch_response::PartitionData,
    opts: &DecodeOptions,
) -> PartitionOutcome {
    match p.error_code {
        0 => {}
        1 => return PartitionOutcome::OutOfRange,
        // Stale leadership or topic identity (the rules table's `invalidates_metadata`:
        // NOT_LEADER_OR_FOLLOWER, FENCED_LEADER_EPOCH, UNKNOWN_LEADER_EPOCH, ...) and
        // NETWORK_EXCEPTION: Java's `AbstractFetch` refreshes metadata and retries. (The numeric
        // list this replaces had 76, UNSUPPORTED_COMPRESSION_TYPE, for 75, UNKNOWN_LEADER_EPOCH,
        // which a 3.3 broker answers while a restarted peer catches up: poll failed with it.)
        code if crate::protocol_errors::KafkaCode(code).invalidates_metadata()
            || code == crate::protocol_errors::KafkaCode::NETWORK_EXCEPTION.0 =>
        {
            return PartitionOutcome::Stale(format!(
                "{} fetching {tp}",
                crate::protocol_errors::describe(p.error_code)
            ))
        }
        code => return PartitionOutcome::Fatal(Error::broker_code(code, format!("fetching {tp} failed"))),
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
    let mut it = FetchRecords::new(data, fetch_offset, &aborted, opts);
    let mut out = Vec::new();
    let mut error = None;
    for r in &mut it {
        match r {
            Ok(r) => out.push(ConsumerRecord {
                topic: tp.topic.clone(),
                partition: tp.partition,
                offset: r.offset,
                timestamp: r.timestamp,
                timestamp_type: r.timestamp_type,
                key: r.key,
                value: r.value,
                headers: r.headers,
                leader_epoch: r.leader_epoch,
            }),
            Err(e) => {
                error = Some(
                    Error::new(ErrorKind::CorruptRecord, format!("cannot read records of {tp}: {e}")),
                );
                break;
            }
        }
    }
    if let FetchTail::FirstBatchTooLarge { batch_size, .. } = it.tail() {
        error.get_or_insert_with(|| {
            Error::new(
                ErrorKind::CorruptRecord,
                format!(
                    "a record batch of {tp} at offset {fetch_offset} ({} bytes) is larger than max.partition.fetch.bytes",
                    batch_size.map_or("?".into(), |b| b.to_string())
                ),
            )
        });
    }
    PartitionOutcome::Data {
        records: out,
        next_offset: it.next_offset(),
        bytes,
        hw: p.high_watermark,
        lso: p.last_stable_offset,
        log_start: p.log_start_offset,
        preferred,
        error,
    }
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol_errors::KafkaCode;
    use kafka_protocol::messages::fetch_response::PartitionData;

    fn outcome(code: KafkaCode) -> PartitionOutcome {
        let tp = TopicPartition::new("t", 0);
        decode_partition(&tp, 0, PartitionData::default().with_error_code(code.0), &DecodeOptions::default())
    }

    #[test]
    fn a_lagging_leader_epoch_is_retried_after_a_metadata_refresh_not_surfaced() {
        // Seen on Kafka 3.3 while a restarted replica caught up (scripts/compat.sh).
        for code in [KafkaCode::UNKNOWN_LEADER_EPOCH, KafkaCode::FENCED_LEADER_EPOCH, KafkaCode::NOT_LEADER_OR_FOLLOWER] {
            assert!(matches!(outcome(code), PartitionOutcome::Stale(_)), "{code:?}");
        }
    }

    #[test]
    fn an_unsupported_compression_type_is_not_retried() {
        assert!(matches!(outcome(KafkaCode::UNSUPPORTED_COMPRESSION_TYPE), PartitionOutcome::Fatal(_)));
    }
}
