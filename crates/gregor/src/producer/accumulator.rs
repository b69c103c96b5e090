//! The record accumulator (Java's `RecordAccumulator`), sans-io: every method takes `now`.
//!
//! Records are appended to the last batch of their partition's queue until it reaches
//! `batch.size` bytes; a partition's first batch is *ready* to send when it is full (or another
//! batch queued behind it), when `linger.ms` has passed since it was created, when a flush or
//! close asks for everything, and — for a batch being retried — once its `retry.backoff.ms` has
//! passed. [`Accumulator::drain`] takes at most one ready batch per partition led by one broker,
//! up to `max.request.size` bytes, which the sender puts into ONE Produce request.
//!
//! `T` is whatever the caller needs per *batch* to report its records' outcome (the batch's
//! completion slot in the producer, a plain number in tests): one per batch, so that appending
//! a record allocates nothing (see `delivery`).

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use indexmap::IndexMap;
use tokio::time::Instant;

use super::encode::{record_size, PendingRecord, BATCH_OVERHEAD};
use super::idempotence::{BatchSequence, Sequencer};
use super::txn::TxnState;

/// A topic and partition.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct TopicPartition {
    pub(crate) topic: Arc<str>,
    pub(crate) partition: i32,
}

impl std::fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

/// Records for one partition that travel together as one v2 record batch.
#[derive(Debug)]
pub(crate) struct Batch<T> {
    /// Increasing per accumulator; `flush` waits for the ids below a bound.
    pub(crate) id: u64,
    pub(crate) tp: TopicPartition,
    pub(crate) records: Vec<PendingRecord>,
    /// Reports the outcome of every record of the batch.
    pub(crate) token: T,
    /// Uncompressed encoded size, batch header included.
    pub(crate) size: usize,
    pub(crate) created: Instant,
    /// Produce attempts that failed with a retriable error.
    pub(crate) attempts: u32,
    retry_at: Option<Instant>,
    /// Failed with a leader error or a disconnect: wait for fresh metadata before retrying, so
    /// the retry goes to the current leader rather than the one that just refused it.
    awaiting_metadata: bool,
    /// The encoded bytes, kept so a retry sends exactly the same batch.
    pub(crate) encoded: Option<Bytes>,
    /// Idempotent producer: the producer id, epoch and base sequence the batch holds (given
    /// when it is first drained; changed only by an epoch bump while it waits for a retry).
    pub(crate) sequence: Option<BatchSequence>,
    /// The producer state `encoded` was made with (it is re-encoded when `sequence` differs).
    pub(crate) encoded_with: Option<BatchSequence>,
    /// Why its last attempt failed (said when it expires: a stuck batch explains itself).
    pub(crate) last_error: Option<String>,
}

/// What [`Accumulator::append`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Appended {
    pub(crate) batch_id: u64,
    /// The record's position in its batch.
    pub(crate) index: u32,
    /// Bytes the record added (for the sticky partitioner).
    pub(crate) bytes: usize,
    /// A new batch was started (the sender must schedule its linger).
    pub(crate) new_batch: bool,
    /// The batch is full: it is ready now.
    pub(crate) full: bool,
}

/// What [`Accumulator::poll_ready`] found.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Ready {
    /// Brokers leading at least one partition with a ready batch.
    pub(crate) nodes: BTreeSet<i32>,
    /// Topics with a batch whose partition has no known leader (metadata is stale).
    pub(crate) unknown_leaders: BTreeSet<Arc<str>>,
    /// When to look again (the earliest linger or backoff end, or delivery expiry).
    pub(crate) next_check: Option<Instant>,
}

/// The per-partition batch queues.
#[derive(Debug)]
pub(crate) struct Accumulator<T> {
    batch_size: usize,
    linger: Duration,
    delivery_timeout: Duration,
    queues: IndexMap<TopicPartition, VecDeque<Batch<T>>, FastHash>,
    next_id: u64,
    buffered: usize,
    /// Batches with an id below this are ready regardless of linger (a flush is waiting).
    flush_below: u64,
    closing: bool,
    /// Where the next drain starts, so no partition is always last (Java's `drainIndex`).
    drain_start: usize,
    /// Partitions with a batch in flight. Without idempotence, a second batch of the same
    /// partition sent while the first may still be retried could land first and reorder the
    /// partition; so, like Java's `guaranteeMessageOrder`, one batch per partition is in flight
    /// (requests for other partitions still pipeline).
    muted: std::collections::HashSet<TopicPartition, FastHash>,
    /// Emptied record vectors of settled batches, reused by new batches: a batch of 256 KiB of
    /// small records grows its vector a dozen times when it starts empty.
    spare: Vec<Vec<PendingRecord>>,
}

/// The hasher of the per-record maps: foldhash instead of std's SipHash (SipHash of the
/// `TopicPartition` keys was several % of the producer's CPU; the keys are the application's own
/// topic names, not input an attacker picks to collide, and foldhash is still randomly seeded).
pub(crate) type FastHash = foldhash::fast::RandomState;

/// How many emptied record vectors the accumulator keeps (one per partition being written is
/// plenty for the sticky partitioner; beyond that they are freed).
const SPARE_RECORD_VECS: usize = 64;

impl<T> Accumulator<T> {
    pub(crate) fn new(batch_size: usize, linger: Duration, delivery_timeout: Duration) -> Self {
        Accumulator {
            batch_size: batch_size.max(1),
            linger,
            delivery_timeout,
            queues: IndexMap::default(),
            next_id: 0,
            buffered: 0,
            flush_below: 0,
            closing: false,
            drain_start: 0,
            muted: Default::default(),
            spare: Vec::new(),
        }
    }

    /// Bytes waiting in batches (not yet drained).
    pub(crate) fn buffered_bytes(&self) -> usize {
        self.buffered
    }

    /// True when no batch waits.
    pub(crate) fn is_empty(&self) -> bool {
        self.queues.values().all(|q| q.is_empty())
    }

    /// Appends a record to its partition's last batch, or starts a new batch when that one
    /// has no room for it. A record larger than `batch.size` gets a batch of its own (as in Java).
    /// `new_batch` is called only when a batch starts: it gives the batch's token and its
    /// creation time (so appending to an open batch reads no clock). Returns the batch's token.
    pub(crate) fn append(
        &mut self,
        tp: &TopicPartition,
        record: PendingRecord,
        new_batch: impl FnOnce() -> (T, Instant),
    ) -> (Appended, &T) {
        let batch_size = self.batch_size;
        let q = match self.queues.get_index_of(tp) {
            Some(i) => self.queues.get_index_mut(i).expect("index just found").1,
            None => self.queues.entry(tp.clone()).or_default(),
        };
        // A batch being retried is sealed: its bytes must not change.
        let fits = q.back().filter(|last| last.encoded.is_none() && last.attempts == 0).and_then(|last| {
            let bytes = record_size(&record, last.records.len() as i32, record.timestamp - last.records[0].timestamp);
            (last.size + bytes <= batch_size).then_some(bytes)
        });
        let queued = q.len();
        if let Some(bytes) = fits {
            let last = q.back_mut().expect("checked above");
            last.size += bytes;
            let index = last.records.len() as u32;
            last.records.push(record);
            self.buffered += bytes;
            let appended =
                Appended { batch_id: last.id, index, bytes, new_batch: false, full: last.size >= batch_size || queued > 1 };
            return (appended, &last.token);
        }
        let bytes = record_size(&record, 0, 0);
        let id = self.next_id;
        self.next_id += 1;
        let size = BATCH_OVERHEAD + bytes;
        let (token, now) = new_batch();
        let mut records = self.spare.pop().unwrap_or_default();
        records.push(record);
        q.push_back(Batch {
            id,
            tp: tp.clone(),
            records,
            token,
            size,
            created: now,
            attempts: 0,
            retry_at: None,
            awaiting_metadata: false,
            encoded: None,
            sequence: None,
            encoded_with: None,
            last_error: None,
        });
        self.buffered += size;
        let appended = Appended { batch_id: id, index: 0, bytes, new_batch: true, full: size >= batch_size || queued > 0 };
        (appended, &q.back().expect("just pushed").token)
    }

    /// Takes back the record vector of a settled batch for reuse.
    pub(crate) fn recycle(&mut self, mut records: Vec<PendingRecord>) {
        if self.spare.len() < SPARE_RECORD_VECS && records.capacity() > 0 {
            records.clear();
            self.spare.push(records);
        }
    }

    /// Makes every batch that exists now ready; returns the bound (ids below it) to wait for.
    pub(crate) fn begin_flush(&mut self) -> u64 {
        self.flush_below = self.flush_below.max(self.next_id);
        self.next_id
    }

    /// From now on every batch is ready at once (the producer is closing).
    pub(crate) fn set_closing(&mut self) {
        self.closing = true;
    }

    /// When the front batch of a queue is ready, or `None` if it is ready now.
    fn ready_at(&self, q: &VecDeque<Batch<T>>) -> Option<Instant> {
        let b = q.front()?;
        if let Some(t) = b.retry_at {
            // A retry goes as soon as its backoff is over.
            return Some(t);
        }
        let full = q.len() > 1 || b.size >= self.batch_size;
        if full || self.closing || b.id < self.flush_below {
            return None;
        }
        Some(b.created + self.linger)
    }

    /// Which brokers have a ready batch, which topics lack a leader, and when to look again.
    pub(crate) fn poll_ready(&self, now: Instant, leader: impl Fn(&TopicPartition) -> Option<i32>) -> Ready {
        let mut r = Ready::default();
        let wake = |t: Instant, r: &mut Ready| r.next_check = Some(r.next_check.map_or(t, |n: Instant| n.min(t)));
        for (tp, q) in &self.queues {
            let Some(front) = q.front() else { continue };
            // Every waiting batch expires at created + delivery.timeout.ms.
            wake(front.created + self.delivery_timeout, &mut r);
            match self.ready_at(q) {
                Some(t) if t > now => wake(t, &mut r),
                _ if front.awaiting_metadata => {
                    r.unknown_leaders.insert(tp.topic.clone());
                }
                _ => match leader(tp) {
                    Some(node) => {
                        r.nodes.insert(node);
                    }
                    None => {
                        r.unknown_leaders.insert(tp.topic.clone());
                    }
                },
            }
        }
        r
    }

    /// The in-flight batch of `tp` is done (acknowledged, failed, or put back for a retry).
    pub(crate) fn unmute(&mut self, tp: &TopicPartition) {
        self.muted.remove(tp);
    }

    /// Takes the ready batches of partitions led by `node`: at most one per partition, up to
    /// `max_bytes` in total (always at least one, so a big batch is not stuck forever).
    ///
    /// Without `sequencer`, a partition with a batch in flight is skipped (one batch per
    /// partition in flight keeps its order, as Java's `guaranteeMessageOrder`). With it (the
    /// idempotent producer), the sequencer decides (up to 5 in flight per partition, retries
    /// first and in order) and numbers each batch taken.
    pub(crate) fn drain(
        &mut self,
        node: i32,
        now: Instant,
        leader: impl Fn(&TopicPartition) -> Option<i32>,
        max_bytes: usize,
        mut sequencer: Option<&mut Sequencer>,
        txn: Option<&TxnState>,
    ) -> Vec<Batch<T>> {
        let n = self.queues.len();
        if n == 0 {
            return Vec::new();
        }
        let start = self.drain_start % n;
        let mut out: Vec<Batch<T>> = Vec::new();
        let mut total = 0usize;
        for i in 0..n {
            let idx = (start + i) % n;
            let ready = {
                let (tp, q) = self.queues.get_index(idx).expect("index below len");
                q.front().is_some_and(|b| !b.awaiting_metadata)
                    && !matches!(self.ready_at(q), Some(t) if t > now)
                    && leader(tp) == Some(node)
                    // A transactional producer sends a partition's batches once it joined the
                    // transaction (Java `isSendToPartitionAllowed`).
                    && txn.is_none_or(|t| t.send_allowed(tp))
                    && match sequencer.as_deref() {
                        None => !self.muted.contains(tp),
                        Some(s) => s.may_drain(tp, q.front().and_then(|b| b.sequence)),
                    }
            };
            if !ready {
                continue;
            }
            let (_, q) = self.queues.get_index_mut(idx).expect("index below len");
            let size = q.front().map_or(0, |b| wire_size(b));
            if !out.is_empty() && total + size > max_bytes {
                // Java stops here too; the rest go in the next request.
                self.drain_start = idx;
                return out;
            }
            let Some(mut b) = q.pop_front() else { continue };
            b.retry_at = None;
            match sequencer.as_deref_mut() {
                None => {
                    self.muted.insert(b.tp.clone());
                }
                Some(s) => b.sequence = Some(s.on_drain(&b.tp, b.id, b.records.len() as i32, b.sequence)),
            }
            self.buffered = self.buffered.saturating_sub(b.size);
            total += size;
            out.push(b);
        }
        self.drain_start = start + 1;
        out
    }

    /// Puts a batch back at the front of its queue after a retriable failure; it is ready
    /// again at `retry_at`, and, with `awaiting_metadata`, once [`metadata_updated`] was called.
    ///
    /// [`metadata_updated`]: Accumulator::metadata_updated
    pub(crate) fn reenqueue(&mut self, mut batch: Batch<T>, retry_at: Instant, awaiting_metadata: bool) {
        self.muted.remove(&batch.tp);
        batch.retry_at = Some(retry_at);
        batch.awaiting_metadata = awaiting_metadata;
        self.buffered += batch.size;
        // Several batches of one partition may fail together (pipelined requests): put them
        // back in creation order, ahead of the batches never sent, so the retries do not
        // reorder the partition's records among themselves.
        let q = self.queues.entry(batch.tp.clone()).or_default();
        let at = q.iter().take_while(|b| b.retry_at.is_some() && b.id < batch.id).count();
        q.insert(at, batch);
    }

    /// An epoch bump renumbered the batches of some partitions: the waiting ones take their
    /// new producer state (by batch id).
    pub(crate) fn renumber(&mut self, renumbered: &[(TopicPartition, u64, BatchSequence)]) {
        for (tp, id, seq) in renumbered {
            if let Some(b) = self.queues.get_mut(tp).and_then(|q| q.iter_mut().find(|b| b.id == *id)) {
                b.sequence = Some(*seq);
            }
        }
    }

    /// Fresh metadata arrived: batches waiting for it may be retried.
    pub(crate) fn metadata_updated(&mut self) {
        for q in self.queues.values_mut() {
            for b in q.iter_mut() {
                b.awaiting_metadata = false;
            }
        }
    }

    /// Removes the waiting batches that have been waiting for `delivery.timeout.ms`.
    pub(crate) fn expire(&mut self, now: Instant) -> Vec<Batch<T>> {
        let mut out = Vec::new();
        for q in self.queues.values_mut() {
            while q.front().is_some_and(|b| b.created + self.delivery_timeout <= now) {
                if let Some(b) = q.pop_front() {
                    self.buffered = self.buffered.saturating_sub(b.size);
                    out.push(b);
                }
            }
        }
        out
    }

    /// Removes every waiting batch (closing without waiting).
    pub(crate) fn abort_all(&mut self) -> Vec<Batch<T>> {
        self.buffered = 0;
        self.queues.values_mut().flat_map(|q| q.drain(..)).collect()
    }
}

/// Bytes a batch takes in a request: its encoding if it has one, else the estimate.
fn wire_size<T>(b: &Batch<T>) -> usize {
    b.encoded.as_ref().map_or(b.size, |e| e.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(p: i32) -> TopicPartition {
        TopicPartition { topic: Arc::from("t"), partition: p }
    }

    fn rec(n: usize) -> PendingRecord {
        PendingRecord { key: None, value: Some(Bytes::from(vec![b'x'; n])), headers: vec![], timestamp: 1 }
    }

    const LINGER: Duration = Duration::from_millis(5);
    const DELIVERY: Duration = Duration::from_secs(120);

    fn leader_all_0(_: &TopicPartition) -> Option<i32> {
        Some(0)
    }

    #[test]
    fn batch_is_ready_after_linger_not_before() {
        let t0 = Instant::now();
        let mut a = Accumulator::new(16_384, LINGER, DELIVERY);
        let r = a.append(&tp(0), rec(10), || (1u32, t0)).0;
        assert!(r.new_batch && !r.full);
        let ready = a.poll_ready(t0, leader_all_0);
        assert!(ready.nodes.is_empty());
        assert_eq!(ready.next_check, Some(t0 + LINGER));
        assert!(a.drain(0, t0, leader_all_0, 1 << 20, None, None).is_empty(), "not ready before linger");
        let later = t0 + LINGER;
        assert_eq!(a.poll_ready(later, leader_all_0).nodes, BTreeSet::from([0]));
        let d = a.drain(0, later, leader_all_0, 1 << 20, None, None);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].token, 1);
        assert!(a.is_empty());
        assert_eq!(a.buffered_bytes(), 0);
    }

    #[test]
    fn batch_fills_to_batch_size_then_a_new_one_starts_and_the_first_is_ready() {
        let t0 = Instant::now();
        let mut a = Accumulator::new(1000, LINGER, DELIVERY);
        let mut first_batch = 0;
        let mut i = 0u32;
        loop {
            let r = a.append(&tp(0), rec(100), || (i, t0)).0;
            i += 1;
            if r.new_batch && i > 1 {
                assert!(r.full, "a second batch makes the first one ready");
                break;
            }
            first_batch += 1;
        }
        // 61 + n * (100 + ~5) <= 1000 → 8 records of 100 bytes fit.
        assert_eq!(first_batch, 8);
        let d = a.drain(0, t0, leader_all_0, 1 << 20, None, None);
        assert_eq!(d.len(), 1, "only the full batch, not the lingering one");
        assert!(d[0].size <= 1000);
        assert_eq!(d[0].records.len(), 8);
    }

    #[test]
    fn oversized_record_gets_its_own_batch_which_is_ready_at_once() {
        let t0 = Instant::now();
        let mut a = Accumulator::new(100, LINGER, DELIVERY);
        let r = a.append(&tp(0), rec(500), || (0u32, t0)).0;
        assert!(r.new_batch && r.full);
        assert_eq!(a.drain(0, t0, leader_all_0, 1 << 20, None, None).len(), 1);
    }

    #[test]
    fn drain_takes_one_batch_per_partition_of_that_leader_within_max_bytes() {
        let t0 = Instant::now();
        let mut a = Accumulator::new(16_384, LINGER, DELIVERY);
        for p in 0..4 {
            a.append(&tp(p), rec(300), || (p as u32, t0));
        }
        let leader = |tp: &TopicPartition| Some(tp.partition % 2);
        let later = t0 + LINGER;
        assert_eq!(a.poll_ready(later, leader).nodes, BTreeSet::from([0, 1]));
        let d = a.drain(1, later, leader, 1 << 20, None, None);
        assert_eq!(d.iter().map(|b| b.tp.partition).collect::<Vec<_>>(), vec![1, 3]);
        // max_bytes smaller than two batches: one per request.
        let d = a.drain(0, later, leader, 400, None, None);
        assert_eq!(d.len(), 1);
        let d2 = a.drain(0, later, leader, 400, None, None);
        assert_eq!(d2.len(), 1);
        assert_ne!(d[0].tp, d2[0].tp);
        assert!(a.is_empty());
    }

    #[test]
    fn unknown_leader_is_reported_and_not_drained() {
        let t0 = Instant::now();
        let mut a = Accumulator::new(10, LINGER, DELIVERY);
        a.append(&tp(0), rec(100), || (0u32, t0));
        let r = a.poll_ready(t0, |_| None);
        assert!(r.nodes.is_empty());
        assert_eq!(r.unknown_leaders.iter().map(|t| t.to_string()).collect::<Vec<_>>(), vec!["t"]);
        assert!(a.drain(0, t0, |_| None, 1 << 20, None, None).is_empty());
    }

    #[test]
    fn flush_makes_existing_batches_ready_but_not_later_ones() {
        let t0 = Instant::now();
        let mut a = Accumulator::new(16_384, LINGER, DELIVERY);
        a.append(&tp(0), rec(10), || (0u32, t0));
        let bound = a.begin_flush();
        a.append(&tp(1), rec(10), || (1u32, t0));
        assert_eq!(bound, 1);
        let d = a.drain(0, t0, leader_all_0, 1 << 20, None, None);
        assert_eq!(d.iter().map(|b| b.tp.partition).collect::<Vec<_>>(), vec![0]);
    }

    #[test]
    fn retried_batch_waits_for_backoff_goes_first_and_takes_no_new_records() {
        let t0 = Instant::now();
        let mut a = Accumulator::new(16_384, LINGER, DELIVERY);
        a.append(&tp(0), rec(10), || (0u32, t0));
        let mut d = a.drain(0, t0 + LINGER, leader_all_0, 1 << 20, None, None);
        let mut b = d.pop().unwrap();
        b.attempts += 1;
        b.encoded = Some(Bytes::from_static(b"encoded"));
        let retry_at = t0 + Duration::from_millis(100);
        a.reenqueue(b, retry_at, false);
        let r = a.append(&tp(0), rec(10), || (1u32, t0 + LINGER)).0;
        assert!(r.new_batch, "a retried batch is sealed");
        let ready = a.poll_ready(t0 + LINGER, leader_all_0);
        assert!(ready.nodes.is_empty());
        assert_eq!(ready.next_check, Some(retry_at));
        let d = a.drain(0, retry_at, leader_all_0, 1 << 20, None, None);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].token, 0, "the retry goes before newer records of its partition");
        assert_eq!(d[0].attempts, 1);
    }

    #[test]
    fn batch_refused_by_a_stale_leader_waits_for_fresh_metadata() {
        let t0 = Instant::now();
        let mut a = Accumulator::new(16_384, LINGER, DELIVERY);
        a.append(&tp(0), rec(10), || (0u32, t0));
        let b = a.drain(0, t0 + LINGER, leader_all_0, 1 << 20, None, None).pop().unwrap();
        let retry_at = t0 + Duration::from_millis(100);
        a.reenqueue(b, retry_at, true);
        let later = retry_at + Duration::from_secs(1);
        let r = a.poll_ready(later, leader_all_0);
        assert!(r.nodes.is_empty(), "backoff over, but metadata not refreshed yet");
        assert_eq!(r.unknown_leaders.len(), 1, "asks for a metadata refresh");
        assert!(a.drain(0, later, leader_all_0, 1 << 20, None, None).is_empty());
        a.metadata_updated();
        assert_eq!(a.drain(0, later, leader_all_0, 1 << 20, None, None).len(), 1);
    }

    #[test]
    fn a_partition_has_one_batch_in_flight_and_a_retry_keeps_its_place() {
        let t0 = Instant::now();
        let mut a = Accumulator::new(100, LINGER, DELIVERY);
        for i in 0..3u32 {
            a.append(&tp(0), rec(200), || (i, t0));
        }
        a.append(&tp(1), rec(200), || (9, t0));
        let first = a.drain(0, t0, leader_all_0, 1 << 20, None, None);
        assert_eq!(first.len(), 2, "one batch of each partition");
        let (p0, p1): (Vec<_>, Vec<_>) = first.into_iter().partition(|b| b.tp == tp(0));
        assert!(a.drain(0, t0, leader_all_0, 1 << 20, None, None).is_empty(), "both partitions are muted while in flight");
        // p1 succeeds; p0 fails and is retried: it goes out again before p0's later batches.
        a.unmute(&p1[0].tp);
        a.reenqueue(p0.into_iter().next().unwrap(), t0, false);
        let order: Vec<u32> =
            (0..3).map(|_| { let b = a.drain(0, t0, leader_all_0, 1 << 20, None, None).pop().unwrap(); a.unmute(&b.tp); b.token }).collect();
        assert_eq!(order, vec![0, 1, 2], "partition order kept across the retry");
    }

    #[test]
    fn waiting_batches_expire_after_delivery_timeout() {
        let t0 = Instant::now();
        let mut a = Accumulator::new(16_384, LINGER, DELIVERY);
        a.append(&tp(0), rec(10), || (0u32, t0));
        assert_eq!(a.poll_ready(t0, |_| None).next_check, Some(t0 + LINGER));
        assert!(a.expire(t0 + DELIVERY - Duration::from_millis(1)).is_empty());
        let e = a.expire(t0 + DELIVERY);
        assert_eq!(e.len(), 1);
        assert!(a.is_empty());
        assert_eq!(a.buffered_bytes(), 0);
    }

    #[test]
    fn closing_makes_everything_ready() {
        let t0 = Instant::now();
        let mut a = Accumulator::new(16_384, LINGER, DELIVERY);
        a.append(&tp(0), rec(10), || (0u32, t0));
        a.set_closing();
        assert_eq!(a.poll_ready(t0, leader_all_0).nodes, BTreeSet::from([0]));
    }
}
