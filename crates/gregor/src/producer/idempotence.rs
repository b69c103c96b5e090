//! The idempotent producer's sequence bookkeeping (KIP-98, KIP-360), sans-io.
//!
//! This is the part of Java's `TransactionManager` (with `TxnPartitionEntry`) that numbers
//! batches: the producer id and epoch, per partition the next sequence, the last acknowledged
//! one and the batches that hold a sequence but are not settled yet ("in flight": on the wire,
//! or back in the accumulator waiting for a retry), the partitions whose sequence state is
//! unknown after a batch expired, and the epoch bump that starts sequences over.
//!
//! The broker keeps, per producer and partition, the epoch and the last 5 batches; it accepts a
//! batch whose first sequence follows the last one it has, answers a retried duplicate with the
//! original offsets, and refuses a gap with OUT_OF_ORDER_SEQUENCE_NUMBER. So the producer must
//! (a) never send a new batch of a partition ahead of a retried earlier one, (b) never have
//! more than 5 batches of a partition in flight, and (c) when a gap is real (a batch was lost
//! for good) or the broker forgot the producer (UNKNOWN_PRODUCER_ID), move to a new epoch, where
//! sequences start at 0 again (Java `bumpIdempotentProducerEpoch`: an idempotent producer bumps
//! its epoch locally, without asking the broker; KIP-360).
//!
//! One simplification against Java: an epoch bump waits until none of the partitions whose
//! sequences it rewrites has a batch on the wire. Their responses then cannot race the rewrite
//! (Java tolerates the race with `sequenceHasBeenReset`); the wait is bounded by
//! `request.timeout.ms`, and those batches would fail with OUT_OF_ORDER_SEQUENCE_NUMBER anyway.

use std::collections::{BTreeSet, HashMap, VecDeque};

use super::accumulator::TopicPartition;
use crate::config::MAX_IN_FLIGHT_FOR_IDEMPOTENCE;
use crate::protocol_errors::KafkaCode;

/// A producer id and epoch (Java `ProducerIdAndEpoch`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct ProducerIdAndEpoch {
    pub(crate) id: i64,
    pub(crate) epoch: i16,
}

impl ProducerIdAndEpoch {
    /// No producer id yet (`RecordBatch.NO_PRODUCER_ID` / `NO_PRODUCER_EPOCH`).
    pub(crate) const NONE: ProducerIdAndEpoch = ProducerIdAndEpoch { id: -1, epoch: -1 };

    pub(crate) fn is_valid(self) -> bool {
        self.id >= 0
    }
}

/// The producer state stamped into one batch's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BatchSequence {
    pub(crate) producer: ProducerIdAndEpoch,
    pub(crate) base: i32,
}

/// `DefaultRecordBatch.incrementSequence`: sequences wrap from `i32::MAX` to 0.
pub(crate) fn increment_sequence(seq: i32, n: i32) -> i32 {
    if seq > i32::MAX - n {
        n - (i32::MAX - seq) - 1
    } else {
        seq + n
    }
}

/// A batch holding a sequence of a partition and not settled yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct InFlight {
    batch_id: u64,
    base: i32,
    count: i32,
    /// Sent and not answered yet (as opposed to waiting in the accumulator for a retry).
    on_wire: bool,
}

/// Java `TxnPartitionEntry`.
#[derive(Debug, Clone)]
struct PartitionState {
    /// The producer id and epoch the sequences below are relative to.
    producer: ProducerIdAndEpoch,
    next: i32,
    /// Sequence of the last record of the last acknowledged batch; -1 = none.
    last_acked: i32,
    /// Offset of the last acknowledged record; -1 = none. Tells an UNKNOWN_PRODUCER_ID caused
    /// by retention (the log start moved past it) from lost data.
    last_acked_offset: i64,
    /// In sequence order (the order sequences were handed out).
    in_flight: VecDeque<InFlight>,
}

impl Default for PartitionState {
    fn default() -> Self {
        PartitionState {
            producer: ProducerIdAndEpoch::NONE,
            next: 0,
            last_acked: -1,
            last_acked_offset: -1,
            in_flight: VecDeque::new(),
        }
    }
}

impl PartitionState {
    /// Java `isNextSequence`: `seq` follows the last acknowledged one (-1 + 1 = 0 at start).
    fn is_next(&self, seq: i32) -> bool {
        increment_sequence(self.last_acked, 1) == seq
    }

    fn remove(&mut self, batch_id: u64) -> Option<InFlight> {
        let at = self.in_flight.iter().position(|f| f.batch_id == batch_id)?;
        self.in_flight.remove(at)
    }

    /// Java `startSequencesAtBeginning`: the batches still holding sequences are numbered from
    /// 0 under `producer`, in their order.
    fn restart(&mut self, producer: ProducerIdAndEpoch) -> Vec<(u64, BatchSequence)> {
        let mut seq = 0;
        let mut out = Vec::new();
        for f in self.in_flight.iter_mut() {
            f.base = seq;
            out.push((f.batch_id, BatchSequence { producer, base: seq }));
            seq = increment_sequence(seq, f.count);
        }
        self.producer = producer;
        self.next = seq;
        self.last_acked = -1;
        out
    }
}

/// What to do with a batch the broker refused (the idempotence-specific part of Java's
/// `Sender.canRetry` / `TransactionManager.canRetry`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Send it again with the same sequence (or the one an epoch bump gives it).
    Retry,
    /// Not a sequence matter: decide by the error's retriability.
    ByError,
    /// Fail it (transactional producers fail the batch and abort; see `on_failed`).
    Fail,
}

/// The sequence bookkeeping of one idempotent (or transactional) producer.
#[derive(Debug, Clone)]
pub(crate) struct Sequencer {
    current: ProducerIdAndEpoch,
    transactional: bool,
    /// An epoch bump was requested (Java `epochBumpRequired`).
    bump_required: bool,
    /// Partitions whose sequences the bump rewrites (Java `partitionsToRewriteSequences`).
    to_rewrite: BTreeSet<TopicPartition>,
    /// Partitions where a batch expired after being sent: whether the broker wrote it is
    /// unknown; the value is the sequence that follows it (Java
    /// `partitionsWithUnresolvedSequences`).
    unresolved: HashMap<TopicPartition, i32>,
    partitions: HashMap<TopicPartition, PartitionState>,
}

impl Sequencer {
    pub(crate) fn new(transactional: bool) -> Self {
        Sequencer {
            current: ProducerIdAndEpoch::NONE,
            transactional,
            bump_required: false,
            to_rewrite: BTreeSet::new(),
            unresolved: HashMap::new(),
            partitions: HashMap::new(),
        }
    }

    /// The current producer id and epoch (NONE until InitProducerId answered).
    pub(crate) fn producer(&self) -> ProducerIdAndEpoch {
        self.current
    }

    /// An InitProducerId answer (Java `InitProducerIdHandler.handleResponse`). A transactional
    /// producer starts every partition over; an idempotent one lets each partition move to the
    /// new id once its in-flight batches are settled.
    pub(crate) fn set_producer(&mut self, p: ProducerIdAndEpoch) {
        self.current = p;
        if self.transactional {
            self.reset_all();
        }
    }

    /// Forgets every partition's sequences (a transaction ended with an epoch bump, or
    /// InitProducerId was called again).
    pub(crate) fn reset_all(&mut self) {
        self.partitions.clear();
        self.unresolved.clear();
        self.to_rewrite.clear();
        self.bump_required = false;
    }

    /// Whether an epoch bump is pending.
    pub(crate) fn bump_required(&self) -> bool {
        self.bump_required
    }

    fn request_bump_for(&mut self, tp: &TopicPartition) {
        self.bump_required = true;
        self.to_rewrite.insert(tp.clone());
    }

    /// Whether the first waiting batch of `tp` (with the sequence it already holds, if it is a
    /// retry) may be sent now. Java `RecordAccumulator.shouldStopDrainBatchesForPartition`,
    /// plus: at most 5 batches of a partition on the wire, and nothing of a partition whose
    /// sequences an epoch bump is about to rewrite.
    pub(crate) fn may_drain(&self, tp: &TopicPartition, held: Option<BatchSequence>) -> bool {
        if !self.current.is_valid() || self.to_rewrite.contains(tp) {
            return false;
        }
        let Some(p) = self.partitions.get(tp) else { return held.is_none() };
        if p.in_flight.iter().filter(|f| f.on_wire).count() >= MAX_IN_FLIGHT_FOR_IDEMPOTENCE as usize {
            return false;
        }
        match held {
            None => {
                // No new batch while batches of an older epoch are unsettled (a batch with the new
                // epoch and sequence 0 could land before them), or while a sequence is unknown.
                !(p.producer != self.current && !p.in_flight.is_empty()) && !self.unresolved.contains_key(tp)
            }
            // A retry goes only when it is the partition's first unsettled batch: retries go
            // one at a time and in order (Java: "effectively reduces our in flight request
            // count to 1").
            Some(s) => p.in_flight.front().is_none_or(|f| f.base == s.base && !f.on_wire),
        }
    }

    /// The sequence of a batch being sent: a new batch takes the partition's next sequence
    /// (after moving the partition to the current producer id if it has nothing in flight,
    /// Java `maybeUpdateProducerIdAndEpoch`); a retry keeps the one it holds.
    pub(crate) fn on_drain(&mut self, tp: &TopicPartition, batch_id: u64, count: i32, held: Option<BatchSequence>) -> BatchSequence {
        let current = self.current;
        let p = self.partitions.entry(tp.clone()).or_default();
        if let Some(s) = held {
            if let Some(f) = p.in_flight.iter_mut().find(|f| f.batch_id == batch_id) {
                f.on_wire = true;
            }
            return s;
        }
        if p.producer != current && p.in_flight.is_empty() {
            p.restart(current);
        }
        let base = p.next;
        p.next = increment_sequence(p.next, count);
        p.in_flight.push_back(InFlight { batch_id, base, count, on_wire: true });
        BatchSequence { producer: p.producer, base }
    }

    /// A batch came back for a retry (it stays unsettled, holding its sequence).
    pub(crate) fn on_requeued(&mut self, tp: &TopicPartition, batch_id: u64) {
        if let Some(f) = self.partitions.get_mut(tp).and_then(|p| p.in_flight.iter_mut().find(|f| f.batch_id == batch_id)) {
            f.on_wire = false;
        }
    }

    /// Java `handleCompletedBatch`: the batch is written; `base_offset` -1 when unknown.
    pub(crate) fn on_success(&mut self, tp: &TopicPartition, batch_id: u64, base_offset: i64) {
        let Some(p) = self.partitions.get_mut(tp) else { return };
        let Some(f) = p.remove(batch_id) else { return };
        let last = increment_sequence(f.base, f.count - 1);
        // Java `maybeUpdateLastAckedSequence`: keep the larger.
        if last > p.last_acked {
            p.last_acked = last;
        }
        if base_offset >= 0 {
            p.last_acked_offset = p.last_acked_offset.max(base_offset + i64::from(f.count) - 1);
        }
    }

    /// Java `TransactionManager.canRetry` for the sequence errors: `code` refused the batch
    /// `batch_id` of `tp` holding `seq`; `log_start_offset` is the response's (-1 unknown).
    pub(crate) fn verdict(&mut self, tp: &TopicPartition, seq: BatchSequence, code: KafkaCode, log_start_offset: i64) -> Verdict {
        let p = self.partitions.entry(tp.clone()).or_default();
        if code == KafkaCode::UNKNOWN_PRODUCER_ID {
            if log_start_offset == -1 {
                // The broker could not tell the log start (the partition moved meanwhile):
                // retry until it can.
                return Verdict::Retry;
            }
            if !self.transactional {
                // Retention removed the producer's records and with them its state (the log
                // start passed the last acknowledged offset), or the state was lost: either
                // way bump the epoch so that no (epoch, sequence) is reused, and retry. (Java
                // restarts a transactional producer's sequences in the same epoch in the
                // retention case; gregor aborts the transaction instead, which is safe.)
                self.request_bump_for(tp);
                return Verdict::Retry;
            }
            return Verdict::Fail;
        }
        if code == KafkaCode::OUT_OF_ORDER_SEQUENCE_NUMBER {
            let unresolved = self.unresolved.get(tp).copied();
            if unresolved.is_none() && !p.is_next(seq.base) {
                // Not the next batch: an earlier one failed, this one only follows it. Retry.
                return Verdict::Retry;
            }
            if !self.transactional {
                // A real gap (or the batch right after an unknown one): bump the epoch, which
                // numbers the partition's batches from 0 again.
                if unresolved.is_none_or(|next| next == seq.base) {
                    self.request_bump_for(tp);
                }
                return Verdict::Retry;
            }
            return Verdict::Fail;
        }
        Verdict::ByError
    }

    /// Java `handleFailedBatch`: the batch failed for good. `adjust` is false when it ran out
    /// of retries or time after being sent, so whether the broker wrote it is unknown.
    pub(crate) fn on_failed(&mut self, tp: &TopicPartition, batch_id: u64, code: Option<KafkaCode>, adjust: bool) {
        let removed = self.partitions.get_mut(tp).and_then(|p| p.remove(batch_id));
        if removed.is_none() {
            return;
        }
        match code {
            Some(KafkaCode::OUT_OF_ORDER_SEQUENCE_NUMBER) if !self.transactional => self.request_bump_for(tp),
            Some(KafkaCode::UNKNOWN_PRODUCER_ID) => {
                self.partitions.remove(tp);
                self.unresolved.remove(tp);
            }
            _ if adjust && !self.transactional => self.request_bump_for(tp),
            // A transactional producer aborts the transaction and bumps the epoch (or fails).
            _ if self.transactional => self.bump_required = true,
            _ => {}
        }
    }

    /// Java `markSequenceUnresolved`: a batch that was sent expired, so whether the broker
    /// wrote it is unknown. Nothing new is sent to the partition until that is resolved.
    pub(crate) fn mark_unresolved(&mut self, tp: &TopicPartition, batch_id: u64) {
        let Some(p) = self.partitions.get_mut(tp) else { return };
        let Some(f) = p.remove(batch_id) else { return };
        let next = increment_sequence(f.base, f.count);
        let e = self.unresolved.entry(tp.clone()).or_insert(next);
        *e = (*e).max(next);
    }

    /// A batch still on the wire passed its delivery deadline and its records were failed
    /// (Java `markSequenceUnresolved` after `getExpiredInflightBatches`). Unlike
    /// [`mark_unresolved`](Self::mark_unresolved) the batch stays in flight: its response, when
    /// it comes, still counts (a success acknowledges its sequence, a failure asks for an epoch
    /// bump), and [`maybe_resolve`](Self::maybe_resolve) waits for it. Meanwhile no new batch
    /// of the partition is numbered.
    pub(crate) fn mark_unresolved_in_flight(&mut self, tp: &TopicPartition, batch_id: u64) {
        let Some(f) = self.partitions.get(tp).and_then(|p| p.in_flight.iter().find(|f| f.batch_id == batch_id)) else {
            return;
        };
        let next = increment_sequence(f.base, f.count);
        let e = self.unresolved.entry(tp.clone()).or_insert(next);
        *e = (*e).max(next);
    }

    /// Java `maybeResolveSequences`: a partition with an unknown sequence and nothing in
    /// flight any more is resolved if the acknowledgements reached its next sequence (the
    /// expired batch was written after all); otherwise its epoch is bumped (idempotent) or the
    /// transaction must be aborted (transactional: returns true).
    pub(crate) fn maybe_resolve(&mut self) -> bool {
        let mut abort = false;
        let ready: Vec<TopicPartition> = self
            .unresolved
            .keys()
            .filter(|tp| self.partitions.get(*tp).is_none_or(|p| p.in_flight.is_empty()))
            .cloned()
            .collect();
        for tp in ready {
            self.unresolved.remove(&tp);
            let resolved = self.partitions.get(&tp).is_none_or(|p| p.is_next(p.next));
            if !resolved {
                if self.transactional {
                    self.bump_required = true;
                    abort = true;
                } else {
                    self.request_bump_for(&tp);
                }
            }
        }
        abort
    }

    /// The idempotent producer's epoch bump (Java `bumpIdempotentEpochAndResetIdIfNeeded`),
    /// once none of the partitions to rewrite has a batch on the wire. Returns the new
    /// sequences of the waiting batches of those partitions, or `None` if nothing happened.
    /// When the epoch is exhausted the producer id is dropped and a new one must be fetched
    /// (`needs_producer_id`).
    pub(crate) fn maybe_bump(&mut self) -> Option<Vec<(TopicPartition, u64, BatchSequence)>> {
        if self.transactional || !self.bump_required || !self.current.is_valid() {
            return None;
        }
        let busy = self.to_rewrite.iter().any(|tp| self.partitions.get(tp).is_some_and(|p| p.in_flight.iter().any(|f| f.on_wire)));
        if busy {
            return None;
        }
        self.current = if self.current.epoch == i16::MAX {
            // Java `resetIdempotentProducerId`: a new producer id (epoch 0) is needed.
            ProducerIdAndEpoch::NONE
        } else {
            ProducerIdAndEpoch { id: self.current.id, epoch: self.current.epoch + 1 }
        };
        tracing::info!(producer_id = self.current.id, epoch = self.current.epoch, "idempotent producer bumped its epoch");
        let mut out = Vec::new();
        let current = self.current;
        for tp in std::mem::take(&mut self.to_rewrite) {
            self.unresolved.remove(&tp);
            if let Some(p) = self.partitions.get_mut(&tp) {
                out.extend(p.restart(current).into_iter().map(|(id, s)| (tp.clone(), id, s)));
            }
        }
        self.bump_required = false;
        Some(out)
    }

    /// Whether InitProducerId must be sent (no producer id yet, or the epoch ran out).
    pub(crate) fn needs_producer_id(&self) -> bool {
        !self.current.is_valid()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn tp(p: i32) -> TopicPartition {
        TopicPartition { topic: Arc::from("t"), partition: p }
    }

    const P0: ProducerIdAndEpoch = ProducerIdAndEpoch { id: 7, epoch: 0 };
    const P1: ProducerIdAndEpoch = ProducerIdAndEpoch { id: 7, epoch: 1 };

    fn ready() -> Sequencer {
        let mut s = Sequencer::new(false);
        s.set_producer(P0);
        s
    }

    /// Drains batch `id` of `count` records as a new batch (asserting it may go).
    fn send_new(s: &mut Sequencer, p: i32, id: u64, count: i32) -> BatchSequence {
        assert!(s.may_drain(&tp(p), None), "new batch {id} may go");
        s.on_drain(&tp(p), id, count, None)
    }

    #[test]
    fn nothing_goes_before_a_producer_id() {
        let mut s = Sequencer::new(false);
        assert!(s.needs_producer_id());
        assert!(!s.may_drain(&tp(0), None));
        s.set_producer(P0);
        assert!(!s.needs_producer_id());
        assert!(s.may_drain(&tp(0), None));
    }

    #[test]
    fn sequences_count_records_per_partition_and_five_batches_may_be_on_the_wire() {
        let mut s = ready();
        let mut bases = Vec::new();
        for id in 0..5 {
            bases.push(send_new(&mut s, 0, id, 10).base);
        }
        assert_eq!(bases, [0, 10, 20, 30, 40]);
        assert!(!s.may_drain(&tp(0), None), "a sixth batch waits (the broker dedupes the last 5)");
        assert_eq!(send_new(&mut s, 1, 9, 3), BatchSequence { producer: P0, base: 0 }, "partitions count apart");
        s.on_success(&tp(0), 0, 100);
        assert_eq!(send_new(&mut s, 0, 5, 1).base, 50);
    }

    #[test]
    fn retries_go_one_at_a_time_in_sequence_order() {
        let mut s = ready();
        let a = send_new(&mut s, 0, 1, 10);
        let b = send_new(&mut s, 0, 2, 10);
        // Both come back (say NOT_LEADER, then the follower refuses the second as out of order).
        assert_eq!(s.verdict(&tp(0), b, KafkaCode::OUT_OF_ORDER_SEQUENCE_NUMBER, 0), Verdict::Retry, "not the next: an earlier batch failed");
        assert!(!s.bump_required(), "no gap yet");
        s.on_requeued(&tp(0), 2);
        s.on_requeued(&tp(0), 1);
        assert!(!s.may_drain(&tp(0), Some(b)), "the second waits for the first");
        assert!(s.may_drain(&tp(0), Some(a)));
        assert_eq!(s.on_drain(&tp(0), 1, 10, Some(a)), a, "a retry keeps its sequence");
        assert!(!s.may_drain(&tp(0), Some(b)), "still behind the first, on the wire again");
        s.on_success(&tp(0), 1, 0);
        assert!(s.may_drain(&tp(0), Some(b)));
    }

    #[test]
    fn a_real_gap_bumps_the_epoch_once_nothing_is_on_the_wire_and_renumbers_from_zero() {
        let mut s = ready();
        let a = send_new(&mut s, 0, 1, 5);
        let _b = send_new(&mut s, 0, 2, 5);
        let other = send_new(&mut s, 1, 3, 2);
        // The next expected batch is refused as out of order: the broker lost something.
        assert_eq!(s.verdict(&tp(0), a, KafkaCode::OUT_OF_ORDER_SEQUENCE_NUMBER, 0), Verdict::Retry);
        assert!(s.bump_required());
        s.on_requeued(&tp(0), 1);
        assert!(!s.may_drain(&tp(0), Some(a)), "the partition waits for the bump");
        assert_eq!(s.maybe_bump(), None, "batch 2 is still on the wire");
        s.on_requeued(&tp(0), 2);
        let renumbered = s.maybe_bump().expect("bumped");
        assert_eq!(
            renumbered,
            vec![(tp(0), 1, BatchSequence { producer: P1, base: 0 }), (tp(0), 2, BatchSequence { producer: P1, base: 5 })]
        );
        assert_eq!(s.producer(), P1);
        let a1 = renumbered[0].2;
        assert!(s.may_drain(&tp(0), Some(a1)));
        // Partition 1 still has a batch of epoch 0 in flight: no epoch-1 batch goes before it.
        assert!(!s.may_drain(&tp(1), None));
        s.on_success(&tp(1), 3, 0);
        assert_eq!(other.producer, P0);
        assert_eq!(send_new(&mut s, 1, 4, 1), BatchSequence { producer: P1, base: 0 }, "partition 1 restarts at 0 in epoch 1");
    }

    #[test]
    fn unknown_producer_id_bumps_the_epoch_and_retries() {
        let mut s = ready();
        let a = send_new(&mut s, 0, 1, 5);
        s.on_success(&tp(0), 1, 100);
        let b = send_new(&mut s, 0, 2, 5);
        assert_eq!(s.verdict(&tp(0), b, KafkaCode::UNKNOWN_PRODUCER_ID, -1), Verdict::Retry, "log start unknown: just retry");
        assert!(!s.bump_required());
        assert_eq!(s.verdict(&tp(0), b, KafkaCode::UNKNOWN_PRODUCER_ID, 200), Verdict::Retry);
        assert!(s.bump_required());
        s.on_requeued(&tp(0), 2);
        let r = s.maybe_bump().unwrap();
        assert_eq!(r, vec![(tp(0), 2, BatchSequence { producer: P1, base: 0 })]);
        let _ = a;
    }

    #[test]
    fn an_expired_batch_holds_the_partition_until_its_fate_is_known() {
        let mut s = ready();
        let _a = send_new(&mut s, 0, 1, 5);
        let b = send_new(&mut s, 0, 2, 5);
        s.on_requeued(&tp(0), 1);
        s.mark_unresolved(&tp(0), 1); // batch 1 expired in the accumulator after being sent
        assert!(!s.may_drain(&tp(0), None), "no new batch while a sequence is unknown");
        // Batch 2 succeeds: the broker had batch 1 after all (else 2 would be out of order).
        s.on_success(&tp(0), 2, 5);
        s.maybe_resolve();
        assert!(!s.bump_required(), "resolved without a bump");
        assert!(s.may_drain(&tp(0), None));
        assert_eq!(s.on_drain(&tp(0), 3, 1, None).base, 10);
        let _ = b;

        // This time the follower fails too and then expires: the sequence stays unknown.
        let mut s = ready();
        send_new(&mut s, 0, 1, 5);
        send_new(&mut s, 0, 2, 5);
        s.on_requeued(&tp(0), 1);
        s.mark_unresolved(&tp(0), 1);
        s.on_requeued(&tp(0), 2);
        s.mark_unresolved(&tp(0), 2);
        s.maybe_resolve();
        assert!(s.bump_required(), "unknown fate: new epoch");
        s.maybe_bump().unwrap();
        assert_eq!(send_new(&mut s, 0, 3, 1), BatchSequence { producer: P1, base: 0 });
    }

    #[test]
    fn a_batch_expired_on_the_wire_holds_the_partition_until_its_response() {
        // Its response is a success: the broker wrote it; no bump, the partition goes on.
        let mut s = ready();
        send_new(&mut s, 0, 1, 5);
        s.mark_unresolved_in_flight(&tp(0), 1);
        assert!(!s.may_drain(&tp(0), None), "nothing new while its fate is unknown");
        s.maybe_resolve();
        assert!(!s.bump_required() && !s.may_drain(&tp(0), None), "still on the wire: not resolved yet");
        s.on_success(&tp(0), 1, 0);
        s.maybe_resolve();
        assert!(!s.bump_required());
        assert_eq!(send_new(&mut s, 0, 2, 1).base, 5, "sequences continue after it");

        // Its request fails (say the connection dropped): unknown for good, so a new epoch.
        let mut s = ready();
        send_new(&mut s, 0, 1, 5);
        s.mark_unresolved_in_flight(&tp(0), 1);
        s.on_failed(&tp(0), 1, None, true);
        s.maybe_resolve();
        assert!(s.bump_required());
        s.maybe_bump().unwrap();
        assert_eq!(send_new(&mut s, 0, 2, 1), BatchSequence { producer: P1, base: 0 });
    }

    #[test]
    fn a_failed_batch_with_retries_left_bumps_the_epoch() {
        let mut s = ready();
        send_new(&mut s, 0, 1, 5);
        s.on_failed(&tp(0), 1, Some(KafkaCode::MESSAGE_TOO_LARGE), true);
        assert!(s.bump_required(), "its sequence is a hole now");
        assert!(s.maybe_bump().unwrap().is_empty());
        assert_eq!(send_new(&mut s, 0, 2, 1).base, 0);
    }

    #[test]
    fn an_exhausted_epoch_asks_for_a_new_producer_id() {
        let mut s = Sequencer::new(false);
        s.set_producer(ProducerIdAndEpoch { id: 7, epoch: i16::MAX });
        send_new(&mut s, 0, 1, 5);
        s.on_failed(&tp(0), 1, Some(KafkaCode::OUT_OF_ORDER_SEQUENCE_NUMBER), true);
        s.maybe_bump().unwrap();
        assert!(s.needs_producer_id());
        assert!(!s.may_drain(&tp(0), None));
    }

    #[test]
    fn transactional_sequence_errors_fail_the_batch() {
        let mut s = Sequencer::new(true);
        s.set_producer(P0);
        let a = send_new(&mut s, 0, 1, 5);
        assert_eq!(s.verdict(&tp(0), a, KafkaCode::OUT_OF_ORDER_SEQUENCE_NUMBER, 0), Verdict::Fail);
        assert_eq!(s.maybe_bump(), None, "a transactional producer bumps through InitProducerId");
    }

    #[test]
    fn sequences_wrap_like_javas() {
        assert_eq!(increment_sequence(5, 3), 8);
        assert_eq!(increment_sequence(i32::MAX, 1), 0);
        assert_eq!(increment_sequence(i32::MAX - 1, 3), 1);
    }
}
