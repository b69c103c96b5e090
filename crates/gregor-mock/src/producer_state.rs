//! Per-partition producer state, as a Kafka partition leader keeps it (`ProducerStateManager`,
//! `ProducerAppendInfo`, `ProducerStateEntry` in Kafka's storage module): for each producer id
//! the epoch and the last 5 batches' sequence ranges and offsets, the open transactions and the
//! aborted ones — what idempotence, transactions and `read_committed` need.

use std::collections::{BTreeMap, HashMap, VecDeque};

use crate::log::BatchHeader;

/// Kafka error codes of produce validation (`Errors`).
pub(crate) const OUT_OF_ORDER_SEQUENCE_NUMBER: i16 = 45;
pub(crate) const INVALID_PRODUCER_EPOCH: i16 = 47;
pub(crate) const INVALID_TXN_STATE: i16 = 48;
pub(crate) const INVALID_RECORD: i16 = 87;

/// Batches per producer kept for duplicate detection (`ProducerStateEntry.NUM_BATCHES_TO_RETAIN`).
const RETAINED: usize = 5;

#[derive(Debug, Clone, Copy)]
struct BatchMeta {
    first_seq: i32,
    last_seq: i32,
    first_offset: i64,
}

#[derive(Debug, Clone)]
struct Entry {
    epoch: i16,
    batches: VecDeque<BatchMeta>,
}

/// An aborted transaction on this partition (Kafka's `AbortedTxn`, served in Fetch responses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AbortedTxn {
    pub producer_id: i64,
    pub first_offset: i64,
    /// Offset of the abort marker.
    pub last_offset: i64,
}

/// What the leader does with an idempotent or transactional batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Check {
    /// Append it.
    Append,
    /// A retry of a batch already in the log: answer with its original base offset, append
    /// nothing (`UnifiedLog.analyzeAndValidateProducerState` → `findDuplicateBatch`).
    Duplicate(i64),
    /// Refuse it with this error code.
    Reject(i16),
}

#[derive(Debug, Default)]
pub(crate) struct ProducerStates {
    entries: HashMap<i64, Entry>,
    /// Producer id → offset of the first record of its open transaction here.
    ongoing: BTreeMap<i64, i64>,
    aborted: Vec<AbortedTxn>,
}

fn in_sequence(last: i32, next: i32) -> bool {
    i64::from(next) == i64::from(last) + 1 || (next == 0 && last == i32::MAX)
}

impl ProducerStates {
    /// Validates a data batch of producer `h.producer_id` (`ProducerAppendInfo.checkProducerEpoch`,
    /// `checkSequence`). `in_txn`: the partition is part of the producer's open transaction
    /// (KIP-890 verification; only asked for transactional batches).
    pub(crate) fn check(&self, h: &BatchHeader, in_txn: bool) -> Check {
        if h.is_control() {
            // Only the transaction coordinator writes markers (`UnifiedLog.analyzeAndValidateRecords`).
            return Check::Reject(INVALID_RECORD);
        }
        if h.producer_id < 0 {
            return Check::Append;
        }
        let Some(e) = self.entries.get(&h.producer_id) else {
            // No state: any sequence is accepted (e.g. after retention removed it all).
            return if h.is_transactional() && !in_txn { Check::Reject(INVALID_TXN_STATE) } else { Check::Append };
        };
        if h.producer_epoch == e.epoch {
            if let Some(d) = e.batches.iter().find(|b| b.first_seq == h.base_sequence && b.last_seq == h.last_sequence()) {
                return Check::Duplicate(d.first_offset);
            }
        }
        if h.producer_epoch < e.epoch {
            return Check::Reject(INVALID_PRODUCER_EPOCH);
        }
        if h.is_transactional() && !in_txn {
            return Check::Reject(INVALID_TXN_STATE);
        }
        if h.producer_epoch != e.epoch {
            // A new epoch starts at sequence 0.
            if h.base_sequence != 0 {
                return Check::Reject(OUT_OF_ORDER_SEQUENCE_NUMBER);
            }
        } else {
            let last = e.batches.back().map_or(-1, |b| b.last_seq);
            if !in_sequence(last, h.base_sequence) {
                return Check::Reject(OUT_OF_ORDER_SEQUENCE_NUMBER);
            }
        }
        Check::Append
    }

    /// Records an appended data batch at `base_offset`.
    pub(crate) fn record(&mut self, h: &BatchHeader, base_offset: i64) {
        if h.producer_id < 0 {
            return;
        }
        let e = self.entries.entry(h.producer_id).or_insert(Entry { epoch: h.producer_epoch, batches: VecDeque::new() });
        if e.epoch != h.producer_epoch {
            e.epoch = h.producer_epoch;
            e.batches.clear();
        }
        e.batches.push_back(BatchMeta { first_seq: h.base_sequence, last_seq: h.last_sequence(), first_offset: base_offset });
        while e.batches.len() > RETAINED {
            e.batches.pop_front();
        }
        if h.is_transactional() {
            self.ongoing.entry(h.producer_id).or_insert(base_offset);
        }
    }

    /// The transaction of `producer_id` ended with a marker at `marker_offset` written with
    /// `epoch` (which may be a bumped one, fencing older producers: Kafka's
    /// `appendEndTxnMarker` raises the entry's epoch).
    pub(crate) fn end_txn(&mut self, producer_id: i64, epoch: i16, commit: bool, marker_offset: i64) {
        let e = self.entries.entry(producer_id).or_insert(Entry { epoch, batches: VecDeque::new() });
        if epoch > e.epoch {
            e.epoch = epoch;
            e.batches.clear();
        }
        if let Some(first) = self.ongoing.remove(&producer_id) {
            if !commit {
                self.aborted.push(AbortedTxn { producer_id, first_offset: first, last_offset: marker_offset });
            }
        }
    }

    /// The last stable offset: the first offset of the oldest open transaction, else the high
    /// watermark.
    pub(crate) fn last_stable_offset(&self, high_watermark: i64) -> i64 {
        self.ongoing.values().copied().min().map_or(high_watermark, |o| o.min(high_watermark))
    }

    /// Aborted transactions that overlap `[from, to)` (Kafka `collectAbortedTransactions`).
    pub(crate) fn aborted_between(&self, from: i64, to: i64) -> Vec<AbortedTxn> {
        self.aborted.iter().filter(|a| a.last_offset >= from && a.first_offset < to).copied().collect()
    }

    /// Forgets every producer (as when retention deleted all their records).
    pub(crate) fn forget(&mut self) {
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pid: i64, epoch: i16, seq: i32, n: i32, txn: bool) -> BatchHeader {
        BatchHeader {
            total_len: 0,
            last_offset_delta: n - 1,
            first_timestamp: 0,
            max_timestamp: 0,
            attributes: if txn { 0x10 } else { 0 },
            producer_id: pid,
            producer_epoch: epoch,
            base_sequence: seq,
        }
    }

    #[test]
    fn sequences_must_follow_duplicates_are_found_and_old_epochs_refused() {
        let mut s = ProducerStates::default();
        assert_eq!(s.check(&h(1, 0, 0, 5, false), false), Check::Append);
        s.record(&h(1, 0, 0, 5, false), 0);
        assert_eq!(s.check(&h(1, 0, 0, 5, false), false), Check::Duplicate(0));
        assert_eq!(s.check(&h(1, 0, 6, 1, false), false), Check::Reject(OUT_OF_ORDER_SEQUENCE_NUMBER));
        assert_eq!(s.check(&h(1, 0, 5, 1, false), false), Check::Append);
        assert_eq!(s.check(&h(1, 1, 3, 1, false), false), Check::Reject(OUT_OF_ORDER_SEQUENCE_NUMBER), "new epoch starts at 0");
        assert_eq!(s.check(&h(1, 1, 0, 1, false), false), Check::Append);
        s.record(&h(1, 1, 0, 1, false), 5);
        assert_eq!(s.check(&h(1, 0, 5, 1, false), false), Check::Reject(INVALID_PRODUCER_EPOCH));
    }

    #[test]
    fn transactions_hold_the_last_stable_offset_and_aborts_are_listed() {
        let mut s = ProducerStates::default();
        assert_eq!(s.check(&h(1, 0, 0, 2, true), false), Check::Reject(INVALID_TXN_STATE), "partition not added");
        s.record(&h(1, 0, 0, 2, true), 10);
        s.record(&h(2, 0, 0, 1, true), 12);
        assert_eq!(s.last_stable_offset(13), 10);
        s.end_txn(1, 0, false, 13);
        assert_eq!(s.last_stable_offset(14), 12);
        s.end_txn(2, 0, true, 14);
        assert_eq!(s.last_stable_offset(15), 15);
        assert_eq!(s.aborted_between(0, 15), vec![AbortedTxn { producer_id: 1, first_offset: 10, last_offset: 13 }]);
        assert!(s.aborted_between(14, 15).is_empty());
        // A fencing marker raises the epoch: the zombie's next batch is refused.
        s.end_txn(1, 1, false, 15);
        assert_eq!(s.check(&h(1, 0, 2, 1, true), true), Check::Reject(INVALID_PRODUCER_EPOCH));
    }
}
