//! What the consumer knows about its partitions: assignment, positions, pauses and the records
//! fetched but not yet handed out (Java's `SubscriptionState` plus the fetch buffer), with the
//! accounting of the prefetch budget (`queued.max.messages.kbytes`, see [`Memory`]).
//!
//! Fetched data is buffered as it arrived, one [`BufferedFetch`] per partition and response,
//! and decoded only when `poll` hands its records out ([`ConsumerState::drain_records`]): each
//! record is built once, straight into the `Vec` that `poll` returns, with key and value as
//! views of the fetched (or decompressed) bytes. Nothing is decoded ahead into an intermediate
//! list, so what the consumer holds is the fetched bytes themselves plus at most one
//! decompressed batch per partition being read.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;

use regex::Regex;
use tokio::time::Instant;

use super::types::{ConsumerRecord, OffsetAndMetadata, TopicPartition};
use crate::error::{Error, ErrorKind};
use crate::records::{BufferPool, FetchRecords};

/// How partitions are chosen.
#[derive(Debug, Clone, Default)]
pub(crate) enum Subscription {
    #[default]
    None,
    Topics(BTreeSet<String>),
    Pattern(Regex),
    Manual,
}

impl Subscription {
    pub(crate) fn is_group(&self) -> bool {
        matches!(self, Subscription::Topics(_) | Subscription::Pattern(_))
    }
}

/// Where a partition without a position should start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ResetTo {
    Earliest,
    Latest,
    Timestamp(i64),
}

/// Per-partition state.
#[derive(Debug, Clone)]
pub(crate) struct PartitionState {
    /// The next offset `poll` hands out. `None` until initialised (committed offset or reset).
    pub(crate) position: Option<i64>,
    /// The next offset to fetch (runs ahead of `position` while records are buffered).
    pub(crate) fetch_offset: Option<i64>,
    pub(crate) leader_epoch: Option<i32>,
    pub(crate) paused: bool,
    /// Revoked by a rebalance whose commit is in flight: neither fetched nor handed out.
    pub(crate) pending_revocation: bool,
    /// A seek to a logical position is pending.
    pub(crate) reset: Option<ResetTo>,
    /// Waiting for its committed offset (group) before resetting.
    pub(crate) awaiting_committed: bool,
    /// Bumped on every seek so that in-flight fetch results for the old position are dropped.
    pub(crate) seek_epoch: u64,
    pub(crate) high_watermark: i64,
    pub(crate) last_stable_offset: i64,
    pub(crate) log_start_offset: i64,
    pub(crate) buffered_bytes: usize,
    /// KIP-392: fetch from this replica instead of the leader until the deadline.
    pub(crate) preferred_replica: Option<(i32, Instant)>,
    /// The last error from fetching this partition, surfaced once by `poll`.
    pub(crate) error: Option<Arc<Error>>,
    /// `enable.auto.offset.store=false`: what the application stored (`store_offsets`), the
    /// offset the consumer commits for this partition.
    pub(crate) stored: Option<OffsetAndMetadata>,
    /// The last offset committed (or read as committed) for it, for the statistics snapshot.
    pub(crate) committed: Option<i64>,
    /// The round trip of the last Fetch that answered for it.
    pub(crate) last_fetch_latency: Option<std::time::Duration>,
}

impl PartitionState {
    pub(crate) fn new() -> Self {
        PartitionState {
            position: None,
            fetch_offset: None,
            leader_epoch: None,
            paused: false,
            pending_revocation: false,
            reset: None,
            awaiting_committed: true,
            seek_epoch: 0,
            high_watermark: -1,
            last_stable_offset: -1,
            log_start_offset: -1,
            buffered_bytes: 0,
            preferred_replica: None,
            error: None,
            stored: None,
            committed: None,
            last_fetch_latency: None,
        }
    }

    /// Whether its buffered records may be handed out now.
    pub(crate) fn deliverable(&self) -> bool {
        !self.paused && !self.pending_revocation
    }

    pub(crate) fn seek(&mut self, offset: i64) {
        self.position = Some(offset);
        self.fetch_offset = Some(offset);
        self.reset = None;
        self.awaiting_committed = false;
        self.seek_epoch += 1;
        self.buffered_bytes = 0;
    }

    pub(crate) fn request_reset(&mut self, to: ResetTo) {
        self.position = None;
        self.fetch_offset = None;
        self.reset = Some(to);
        self.awaiting_committed = false;
        self.seek_epoch += 1;
        self.buffered_bytes = 0;
    }
}

/// One partition's data from one Fetch response, waiting for `poll` (decoded as it is handed
/// out).
#[derive(Debug)]
pub(crate) struct BufferedFetch {
    pub(crate) tp: TopicPartition,
    pub(crate) seek_epoch: u64,
    pub(crate) records: FetchRecords,
    /// The Fetch whose response holds these bytes: the response's memory is freed only once
    /// every partition's part of it is read.
    pub(crate) frame: u64,
    /// Fetched bytes of this partition not yet read (counted in the partition's
    /// `buffered_bytes`, released as `poll` reads on, so the partition is fetched again while
    /// the rest is consumed).
    pub(crate) bytes: usize,
    /// Decompressed bytes of the batch being read, as last counted in [`Memory`].
    pub(crate) decompressed: usize,
    /// The fetch position after this data (may skip past control records and compacted gaps).
    pub(crate) next_offset: i64,
}

/// What the fetched data not yet handed out costs in memory: the accounting of the prefetch
/// budget, which the fetch planner keeps [`Memory::planned`] plus its Fetches in flight under.
#[derive(Debug, Default)]
pub(crate) struct Memory {
    /// Fetch id → (bytes, parts still buffered).
    frames: HashMap<u64, (usize, usize)>,
    /// Fetched bytes held: every response with a part still buffered counts whole.
    pub(crate) fetched: usize,
    /// Decompressed buffers of the batches being read.
    pub(crate) decompressed: usize,
    /// Decompression buffers kept for reuse.
    pub(crate) pool: BufferPool,
    /// Highest `held()` seen.
    pub(crate) peak: usize,
    /// A decaying estimate of one decompressed batch: the room planning leaves for the
    /// decompression that `poll` does.
    batch_peak: usize,
}

impl Memory {
    /// Bytes held now: fetched, decompressed and pooled.
    pub(crate) fn held(&self) -> usize {
        self.fetched + self.decompressed + self.pool.bytes()
    }

    /// What planning counts as used: fetched bytes, and room for the batches `poll` will
    /// decompress (the one being read plus the pool's two), or what they hold now if more.
    pub(crate) fn planned(&self) -> usize {
        self.fetched + (self.decompressed + self.pool.bytes()).max(3 * self.batch_peak)
    }

    fn note_peak(&mut self) {
        self.peak = self.peak.max(self.held());
    }

    fn add_part(&mut self, frame: u64, bytes: usize) {
        let f = self.frames.entry(frame).or_insert((0, 0));
        f.0 += bytes;
        f.1 += 1;
        self.fetched += bytes;
        self.note_peak();
    }

    fn release_part(&mut self, frame: u64, decompressed: usize) {
        self.decompressed = self.decompressed.saturating_sub(decompressed);
        if let Some(f) = self.frames.get_mut(&frame) {
            f.1 -= 1;
            if f.1 == 0 {
                self.fetched = self.fetched.saturating_sub(f.0);
                self.frames.remove(&frame);
                // Let the estimate fade when batches shrink (or data stopped being compressed).
                self.batch_peak -= self.batch_peak / 16;
            }
        }
    }

    fn set_decompressed(&mut self, old: usize, new: usize) {
        if new != old {
            self.decompressed = self.decompressed.saturating_sub(old) + new;
            if new > 0 {
                self.batch_peak = self.batch_peak.max(new);
            }
            self.note_peak();
        }
    }
}

/// The consumer's shared state.
#[derive(Debug, Default)]
pub(crate) struct ConsumerState {
    pub(crate) subscription: Subscription,
    pub(crate) assignment: BTreeMap<TopicPartition, PartitionState>,
    pub(crate) buffer: VecDeque<BufferedFetch>,
    /// The prefetch budget's accounting.
    pub(crate) memory: Memory,
    /// Errors not tied to a partition (group fencing, fatal config), surfaced by `poll`.
    pub(crate) fatal: Option<Arc<Error>>,
    pub(crate) last_poll: Option<Instant>,
    /// When the application first polled (the start of the unreachable-cluster clock).
    pub(crate) first_poll: Option<Instant>,
    /// `enable.auto.offset.store=false`: commits take the stored offsets, not the positions.
    pub(crate) manual_offset_store: bool,
    /// Bumped whenever partitions join or leave the assignment, so that per-partition state
    /// kept elsewhere (the fetch planner's) is pruned only when it changed, not on every pass.
    pub(crate) assignment_gen: u64,
    /// The fetch planner's last pass left a partition or a broker waiting for room in the
    /// prefetch budget ([`FetchPlanner::waits_for_room`](super::fetch_planner::FetchPlanner::waits_for_room)):
    /// only then must `poll` wake the fetch loop as it frees room. Set under the same lock as
    /// the planning, so a `poll` that drains after a pass sees that pass's answer.
    pub(crate) fetch_waits_for_room: bool,
}

impl ConsumerState {
    /// Replaces the assignment, keeping the state of partitions that stay.
    pub(crate) fn set_assignment(&mut self, parts: impl IntoIterator<Item = TopicPartition>) {
        let new: BTreeSet<TopicPartition> = parts.into_iter().collect();
        self.assignment_gen += 1;
        self.assignment.retain(|tp, _| new.contains(tp));
        for tp in new {
            self.assignment.entry(tp).or_insert_with(PartitionState::new);
        }
        self.release_stale();
    }

    pub(crate) fn add_partitions(&mut self, parts: impl IntoIterator<Item = TopicPartition>) {
        self.assignment_gen += 1;
        for tp in parts {
            self.assignment.entry(tp).or_insert_with(PartitionState::new);
        }
    }

    pub(crate) fn remove_partitions(&mut self, parts: &[TopicPartition]) {
        self.assignment_gen += 1;
        for tp in parts {
            self.assignment.remove(tp);
        }
        self.release_stale();
    }

    /// Buffers one partition's data from the response to Fetch `frame`.
    pub(crate) fn push_fetch(&mut self, frame: u64, tp: TopicPartition, seek_epoch: u64, records: FetchRecords, bytes: usize, next_offset: i64) {
        if let Some(ps) = self.assignment.get_mut(&tp) {
            ps.buffered_bytes += bytes;
        }
        self.memory.add_part(frame, bytes);
        self.buffer.push_back(BufferedFetch { tp, seek_epoch, records, frame, bytes, decompressed: 0, next_offset });
    }

    /// Frees a buffered part that will not be read (or has been read to its end).
    fn release(memory: &mut Memory, ps: Option<&mut PartitionState>, b: BufferedFetch) {
        if let Some(ps) = ps {
            if ps.seek_epoch == b.seek_epoch {
                ps.buffered_bytes = ps.buffered_bytes.saturating_sub(b.bytes);
            }
        }
        let BufferedFetch { records, frame, decompressed, .. } = b;
        drop(records);
        memory.release_part(frame, decompressed);
    }

    /// Drops buffered data of partitions no longer assigned or sought elsewhere since (it
    /// would be skipped by `poll` anyway), so its memory goes back to the budget at once.
    pub(crate) fn release_stale(&mut self) {
        let ConsumerState { buffer, assignment, memory, .. } = self;
        if buffer.iter().all(|b| assignment.get(&b.tp).is_some_and(|s| s.seek_epoch == b.seek_epoch)) {
            return;
        }
        let mut keep = VecDeque::with_capacity(buffer.len());
        for b in buffer.drain(..) {
            match assignment.get_mut(&b.tp) {
                Some(s) if s.seek_epoch == b.seek_epoch => keep.push_back(b),
                ps => Self::release(memory, ps, b),
            }
        }
        *buffer = keep;
    }

    /// Starts revoking `parts`: from now on no record of theirs is fetched or handed out, and
    /// the positions returned (what the revocation commits) are final. Reading the positions and
    /// stopping delivery under one lock is what keeps a record from being handed out after its
    /// offset was committed and so read again by the partition's next owner. Java does the same:
    /// `SubscriptionState.markPendingRevocation` (consumer 4.3.1, `ConsumerMembershipManager.
    /// revokePartitions`) before the commit of `onPartitionsRevoked`.
    pub(crate) fn begin_revocation(&mut self, parts: &[TopicPartition]) -> BTreeMap<TopicPartition, i64> {
        let mut positions = BTreeMap::new();
        for tp in parts {
            if let Some(s) = self.assignment.get_mut(tp) {
                s.pending_revocation = true;
                if let Some(p) = s.position {
                    positions.insert(tp.clone(), p);
                }
            }
        }
        positions
    }

    /// What the consumer commits for each assigned partition (auto-commit, `commit_sync()`,
    /// `commit_async()`, `close`): its position, or with `enable.auto.offset.store=false` the
    /// offset the application stored. Partitions without one are left out.
    pub(crate) fn consumed_offsets(&self) -> BTreeMap<TopicPartition, OffsetAndMetadata> {
        self.assignment.iter().filter_map(|(tp, s)| Some((tp.clone(), self.commit_offset(s)?))).collect()
    }

    /// The offset to commit for `parts` once their revocation has begun ([`Self::begin_revocation`]).
    pub(crate) fn revocation_offsets(&self, parts: &[TopicPartition]) -> BTreeMap<TopicPartition, OffsetAndMetadata> {
        parts
            .iter()
            .filter_map(|tp| Some((tp.clone(), self.commit_offset(self.assignment.get(tp)?)?)))
            .collect()
    }

    fn commit_offset(&self, s: &PartitionState) -> Option<OffsetAndMetadata> {
        if self.manual_offset_store {
            s.stored.clone()
        } else {
            s.position.map(|offset| OffsetAndMetadata { offset, metadata: None, leader_epoch: s.leader_epoch })
        }
    }

    /// Stores offsets to commit later (`enable.auto.offset.store=false`). All or nothing: a
    /// partition that is not assigned, or is being revoked (its offsets were read for the
    /// revocation commit), fails the call and stores nothing (librdkafka answers such a store
    /// with `ERR__STATE`, `rd_kafka_offsets_store`).
    pub(crate) fn store_offsets(&mut self, offsets: &BTreeMap<TopicPartition, OffsetAndMetadata>) -> Result<(), String> {
        for (tp, om) in offsets {
            match self.assignment.get(tp) {
                None => return Err(format!("cannot store an offset for {tp}: it is not assigned to this consumer")),
                Some(s) if s.pending_revocation => {
                    return Err(format!("cannot store an offset for {tp}: it is being revoked (its offsets are already committed)"))
                }
                Some(_) if om.offset < 0 => return Err(format!("cannot store offset {} for {tp}: offsets are >= 0", om.offset)),
                Some(_) => {}
            }
        }
        for (tp, om) in offsets {
            if let Some(s) = self.assignment.get_mut(tp) {
                s.stored = Some(om.clone());
            }
        }
        Ok(())
    }

    /// Java's `SubscriptionState.partitionLag`: the high watermark (the last stable offset under
    /// `read_committed`) minus the position; `None` while either is unknown.
    pub(crate) fn partition_lag(s: &PartitionState, read_committed: bool) -> Option<i64> {
        let end = if read_committed { s.last_stable_offset } else { s.high_watermark };
        let position = s.position?;
        (end >= 0).then_some(end - position)
    }

    /// Takes up to `max` records from the buffer, advancing positions. Records are decoded
    /// here, each built once into the returned `Vec`. A partition whose data turns out corrupt
    /// keeps the records before the fault (returned now) and gets the error (returned by the
    /// next `poll`); its position stays at the fault and what was fetched past it is dropped.
    pub(crate) fn drain_records(&mut self, max: usize) -> Vec<ConsumerRecord> {
        let mut out = Vec::with_capacity(max.min(4096));
        let ConsumerState { buffer, assignment, memory, .. } = self;
        while out.len() < max {
            let Some(front) = buffer.front_mut() else { break };
            let valid = match assignment.get(&front.tp) {
                Some(s) => s.seek_epoch == front.seek_epoch && s.deliverable(),
                None => false,
            };
            if !valid {
                // Paused partitions keep their buffered records for later; stale ones go.
                let stale = assignment.get(&front.tp).map_or(true, |s| s.seek_epoch != front.seek_epoch);
                let b = buffer.pop_front().expect("front exists");
                if stale {
                    Self::release(memory, assignment.get_mut(&b.tp), b);
                } else {
                    buffer.push_back(b);
                    if buffer.iter().all(|b| assignment.get(&b.tp).map_or(false, |s| !s.deliverable())) {
                        break;
                    }
                }
                continue;
            }
            let st = assignment.get_mut(&front.tp).expect("checked");
            let start = out.len();
            let mut failed = None;
            let mut finished = false;
            while out.len() < max {
                match front.records.next_pooled(&mut memory.pool) {
                    Some(Ok(r)) => out.push(ConsumerRecord {
                        topic: front.tp.topic.clone(),
                        partition: front.tp.partition,
                        offset: r.offset,
                        timestamp: r.timestamp,
                        timestamp_type: r.timestamp_type,
                        key: r.key,
                        value: r.value,
                        headers: r.headers,
                        leader_epoch: r.leader_epoch,
                    }),
                    Some(Err(e)) => {
                        failed = Some(e);
                        break;
                    }
                    None => {
                        finished = true;
                        break;
                    }
                }
            }
            if let Some(last) = out[start..].last() {
                st.position = Some(last.offset + 1);
                if last.leader_epoch.is_some() {
                    st.leader_epoch = last.leader_epoch;
                }
            }
            // Account for what was read: raw bytes passed, the decompressed batch now held.
            let remaining = front.records.remaining_bytes();
            st.buffered_bytes = st.buffered_bytes.saturating_sub(front.bytes.saturating_sub(remaining));
            front.bytes = remaining;
            let decompressed = front.records.decompressed_bytes();
            memory.set_decompressed(front.decompressed, decompressed);
            front.decompressed = decompressed;
            if let Some(e) = failed {
                // Java keeps the position at the corrupt record and fails every poll there
                // (until the application seeks past it); what was prefetched beyond goes.
                let b = buffer.pop_front().expect("front exists");
                let at = b.records.next_offset();
                let error = Error::new(ErrorKind::CorruptRecord, format!("cannot read records of {}: {e}", b.tp));
                st.position = Some(at);
                st.fetch_offset = Some(at);
                st.seek_epoch += 1;
                st.error = Some(Arc::new(error));
                st.buffered_bytes = 0;
                Self::release(memory, None, b);
                let mut keep = VecDeque::with_capacity(buffer.len());
                for b in buffer.drain(..) {
                    if assignment.get(&b.tp).is_some_and(|s| s.seek_epoch == b.seek_epoch) {
                        keep.push_back(b);
                    } else {
                        Self::release(memory, None, b);
                    }
                }
                *buffer = keep;
                continue;
            }
            if finished {
                // The data may end past its last record (control records, compaction).
                let b = buffer.pop_front().expect("front exists");
                st.position = Some(st.position.map_or(b.next_offset, |p| p.max(b.next_offset)));
                Self::release(memory, Some(st), b);
            }
        }
        out
    }

    /// Where the prefetch budget stands (see [`Memory`]).
    pub(crate) fn memory(&self) -> &Memory {
        &self.memory
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(p: i32) -> TopicPartition {
        TopicPartition::new("t", p)
    }

    fn state(manual: bool) -> ConsumerState {
        let mut st = ConsumerState { manual_offset_store: manual, ..ConsumerState::default() };
        st.add_partitions([tp(0), tp(1)]);
        for s in st.assignment.values_mut() {
            s.seek(10);
            s.leader_epoch = Some(3);
        }
        st
    }

    #[test]
    fn commits_take_positions_or_the_stored_offsets() {
        let st = state(false);
        assert_eq!(st.consumed_offsets()[&tp(0)], OffsetAndMetadata { offset: 10, metadata: None, leader_epoch: Some(3) });
        let mut st = state(true);
        assert!(st.consumed_offsets().is_empty(), "nothing stored, nothing to commit");
        let stored = OffsetAndMetadata { offset: 4, metadata: Some("m".into()), leader_epoch: Some(2) };
        st.store_offsets(&BTreeMap::from([(tp(1), stored.clone())])).unwrap();
        assert_eq!(st.consumed_offsets(), BTreeMap::from([(tp(1), stored.clone())]));
        let positions = st.begin_revocation(&[tp(0), tp(1)]);
        assert_eq!(positions, BTreeMap::from([(tp(0), 10), (tp(1), 10)]));
        assert_eq!(st.revocation_offsets(&[tp(0), tp(1)]), BTreeMap::from([(tp(1), stored)]));
        // Being revoked: its offsets were read for the revocation commit.
        assert!(st.store_offsets(&BTreeMap::from([(tp(0), OffsetAndMetadata::new(5))])).unwrap_err().contains("revoked"));
    }

    #[test]
    fn lag_is_java_partition_lag() {
        let mut s = PartitionState::new();
        assert_eq!(ConsumerState::partition_lag(&s, false), None, "no position");
        s.seek(4);
        assert_eq!(ConsumerState::partition_lag(&s, false), None, "no high watermark yet");
        s.high_watermark = 10;
        s.last_stable_offset = 7;
        assert_eq!(ConsumerState::partition_lag(&s, false), Some(6));
        assert_eq!(ConsumerState::partition_lag(&s, true), Some(3), "read_committed: up to the last stable offset");
    }
}
