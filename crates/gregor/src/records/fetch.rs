//! [`FetchRecords`]: the consumer's view of one partition's `records` bytes.

use std::collections::HashSet;

use bytes::Bytes;

use super::batch::{is_abort_marker, V2Header, V2Records, NO_PRODUCER_ID};
use super::legacy::{LegacyRecords, MIN_MESSAGE_V0};
use super::pool::BufferPool;
use super::wire::{i32_at, i64_at};
use super::{AbortedTransaction, DecodeOptions, IsolationLevel, Record, RecordsError};

/// Offset and size fields that precede every batch and legacy message (`Records.LOG_OVERHEAD`).
const LOG_OVERHEAD: usize = 12;
/// Where the magic byte sits in both v2 batches and legacy messages.
const MAGIC_OFFSET: usize = 16;

/// How the fetched bytes ended, known once [`FetchRecords`] is exhausted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchTail {
    /// Iteration has not reached the end of the bytes yet (or stopped on an error).
    Pending,
    /// Every byte belonged to a complete batch.
    Complete,
    /// The bytes end in a partial batch after at least one complete one. Brokers cut responses
    /// at `fetch.max.bytes` / `max.partition.fetch.bytes` mid-batch; this is normal, fetch again
    /// from [`FetchRecords::next_offset`].
    Truncated {
        /// Bytes of the partial batch that were present.
        available: usize,
    },
    /// Not even the first batch is complete: the fetch size is too small for it. Since KIP-74
    /// (v2 batches, Kafka 0.10.1+) brokers return at least one whole batch, so this mostly
    /// happens with legacy messages (Java's `RecordTooLargeException`). The consumer must fetch
    /// again with at least `batch_size` bytes, or report the partition stuck.
    FirstBatchTooLarge {
        /// Size of the first batch in bytes, if its 12-byte prefix was present.
        batch_size: Option<usize>,
        /// Bytes that were present.
        available: usize,
    },
}

enum Current {
    V2(V2Records),
    Legacy(LegacyRecords),
}

/// Lazily decodes one partition's `records` bytes from a Fetch response into [`Record`]s.
///
/// Iterate it to get the records at or after the fetch offset, in order, with control batches
/// and (under read-committed) aborted transactions filtered out. Iteration stops at the first
/// error: the records before it have been yielded, and [`FetchRecords::next_offset`] tells where
/// the consumer stands. Once iteration returns `None`, [`FetchRecords::tail`] tells how the
/// bytes ended.
///
/// ```ignore
/// let mut recs = FetchRecords::new(bytes, fetch_offset, &aborted, &options);
/// for r in &mut recs { deliver(r?); }
/// position = recs.next_offset();
/// ```
pub struct FetchRecords {
    data: Bytes,
    pos: usize,
    fetch_offset: i64,
    next_offset: i64,
    check_crcs: bool,
    read_committed: bool,
    cap: usize,
    /// Aborted transactions not yet reached, sorted by descending first offset so the smallest
    /// is popped from the end (the Java consumer's min-heap, `CompletedFetch.abortedTransactions`).
    aborted: Vec<AbortedTransaction>,
    /// Producers currently inside an aborted transaction (`CompletedFetch.abortedProducerIds`).
    aborted_producers: HashSet<i64>,
    current: Option<Current>,
    current_last: i64,
    batches: usize,
    tail: FetchTail,
    done: bool,
}

impl std::fmt::Debug for FetchRecords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the data itself: it may be megabytes.
        f.debug_struct("FetchRecords")
            .field("len", &self.data.len())
            .field("pos", &self.pos)
            .field("fetch_offset", &self.fetch_offset)
            .field("next_offset", &self.next_offset)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl FetchRecords {
    /// Starts decoding `records` (one partition's bytes from a Fetch response) for a consumer
    /// positioned at `fetch_offset`. `aborted` is the partition's `aborted_transactions` list
    /// (ignored under read-uncommitted).
    pub fn new(
        records: Bytes,
        fetch_offset: i64,
        aborted: &[AbortedTransaction],
        options: &DecodeOptions,
    ) -> FetchRecords {
        let read_committed = options.isolation == IsolationLevel::ReadCommitted;
        let mut aborted = if read_committed { aborted.to_vec() } else { Vec::new() };
        aborted.sort_unstable_by_key(|a| std::cmp::Reverse(a.first_offset));
        FetchRecords {
            data: records,
            pos: 0,
            fetch_offset,
            next_offset: fetch_offset,
            check_crcs: options.check_crcs,
            read_committed,
            cap: options.max_decompressed_bytes,
            aborted,
            aborted_producers: HashSet::new(),
            current: None,
            current_last: fetch_offset,
            batches: 0,
            tail: FetchTail::Pending,
            done: false,
        }
    }

    /// The offset the consumer should fetch next, given what has been yielded so far: one past
    /// the last yielded record while inside a batch, and one past the last offset of a batch
    /// once it is finished (even when all its records were skipped: control batches, aborted
    /// transactions, compacted gaps). Never below the fetch offset.
    ///
    /// A consumer that stops early (e.g. `max.poll.records`) may also just use the last handed-out
    /// record's offset + 1: it is the same value.
    pub fn next_offset(&self) -> i64 {
        self.next_offset
    }

    /// How the bytes ended; [`FetchTail::Pending`] until iteration has returned `None`
    /// (and after an error).
    pub fn tail(&self) -> FetchTail {
        self.tail
    }

    fn fail(&mut self, e: RecordsError, pool: &mut BufferPool) -> Option<Result<Record, RecordsError>> {
        self.done = true;
        self.retire_current(pool);
        Some(Err(e))
    }

    fn retire_current(&mut self, pool: &mut BufferPool) {
        if let Some(Current::V2(r)) = self.current.take() {
            r.retire(pool);
        }
    }

    /// Bytes of the fetched data not yet reached (the batch being read counts as reached).
    pub fn remaining_bytes(&self) -> usize {
        self.data.len() - self.pos
    }

    /// Bytes of the decompressed buffer of the batch being read (0 when it is uncompressed:
    /// its records point into the fetched bytes).
    pub fn decompressed_bytes(&self) -> usize {
        match &self.current {
            Some(Current::V2(r)) => r.decompressed_len(),
            Some(Current::Legacy(LegacyRecords::Deep { data, .. })) => data.len(),
            _ => 0,
        }
    }

    /// Where [`next_offset`](Self::next_offset) and [`tail`](Self::tail) will stand once every
    /// record is read, found by walking the batch headers only (nothing is verified or
    /// decompressed). Decoding stops earlier on a corrupt batch, which this cannot see; it
    /// stops at the first entry whose framing is already wrong here.
    pub fn scan_end(&self) -> (i64, FetchTail) {
        let mut next = self.next_offset.max(match self.current {
            Some(_) => self.current_last.wrapping_add(1),
            None => i64::MIN,
        });
        if self.done {
            return (self.next_offset, self.tail);
        }
        let mut pos = self.pos;
        let mut batches = self.batches;
        loop {
            let rest = self.data.len() - pos;
            if rest == 0 {
                return (next, FetchTail::Complete);
            }
            let partial = |batch_size, available| {
                if batches == 0 {
                    FetchTail::FirstBatchTooLarge { batch_size, available }
                } else {
                    FetchTail::Truncated { available }
                }
            };
            if rest < LOG_OVERHEAD {
                return (next, partial(None, rest));
            }
            let base_offset = i64_at(&self.data, pos).unwrap_or(-1);
            let size = i32_at(&self.data, pos + 8).unwrap_or(-1);
            if size < MIN_MESSAGE_V0 as i32 {
                return (next, FetchTail::Pending);
            }
            let total = LOG_OVERHEAD + size as usize;
            if rest < total {
                return (next, partial(Some(total), rest));
            }
            let last = match self.data[pos + MAGIC_OFFSET] as i8 {
                2 => match V2Header::parse(&self.data[pos..pos + total]) {
                    Ok(h) => h.last_offset(),
                    Err(_) => return (next, FetchTail::Pending),
                },
                // A legacy message's offset is also the last offset it covers (a wrapper
                // carries its last inner message's offset).
                0 | 1 => base_offset,
                _ => return (next, FetchTail::Pending),
            };
            next = next.max(last.wrapping_add(1));
            pos += total;
            batches += 1;
        }
    }

    /// The next record, decompressing into buffers from `pool` (reused across batches and
    /// partitions) instead of fresh ones. Same records as [`Iterator::next`].
    #[inline]
    pub fn next_pooled(&mut self, pool: &mut BufferPool) -> Option<Result<Record, RecordsError>> {
        loop {
            if let Some(cur) = &mut self.current {
                let next = match cur {
                    Current::V2(r) => r.next_record(),
                    Current::Legacy(r) => r.next_record(),
                };
                match next {
                    Some(Ok(rec)) => {
                        // Compressed batches (and legacy wrappers) may start before the fetch
                        // offset; those records were already delivered.
                        if rec.offset < self.fetch_offset {
                            continue;
                        }
                        self.next_offset = self.next_offset.max(rec.offset.wrapping_add(1));
                        return Some(Ok(rec));
                    }
                    Some(Err(e)) => return self.fail(e, pool),
                    None => {
                        self.retire_current(pool);
                        self.finish_batch(self.current_last);
                    }
                }
            }
            if self.done {
                return None;
            }
            match self.advance(pool) {
                Ok(true) => {}
                Ok(false) => {
                    self.done = true;
                    return None;
                }
                Err(e) => return self.fail(e, pool),
            }
        }
    }

    fn finish_batch(&mut self, last: i64) {
        // `wrapping_add`: a hostile last offset of i64::MAX must not panic in debug builds.
        self.next_offset = self.next_offset.max(last.wrapping_add(1));
    }

    /// Moves to the next batch that has records to yield. `Ok(false)` at the end of the data.
    fn advance(&mut self, pool: &mut BufferPool) -> Result<bool, RecordsError> {
        loop {
            let rest = self.data.len() - self.pos;
            if rest == 0 {
                self.tail = FetchTail::Complete;
                return Ok(false);
            }
            let at = self.pos;
            if rest < LOG_OVERHEAD {
                self.set_partial(None, rest);
                return Ok(false);
            }
            let base_offset = i64_at(&self.data, at).unwrap_or(-1);
            let size = i32_at(&self.data, at + 8).unwrap_or(-1);
            // Java's ByteBufferLogInputStream: sizes below a v0 message's overhead are corrupt.
            if size < MIN_MESSAGE_V0 as i32 {
                return Err(RecordsError::Corrupt { offset: base_offset, reason: "batch size below the minimum" });
            }
            let total = LOG_OVERHEAD + size as usize;
            if rest < total {
                self.set_partial(Some(total), rest);
                return Ok(false);
            }
            let batch = self.data.slice(at..at + total);
            self.pos += total;
            self.batches += 1;
            match batch[MAGIC_OFFSET] as i8 {
                2 => {
                    if let Some(cur) = self.start_v2(&batch, pool)? {
                        self.current = Some(cur);
                        return Ok(true);
                    }
                }
                0 | 1 => {
                    let (recs, last) = LegacyRecords::new(&batch, self.check_crcs, self.cap)?;
                    self.current_last = last;
                    if last < self.fetch_offset {
                        // Entirely before the position (Java filters record by record; same
                        // outcome without building them).
                        self.finish_batch(last);
                        continue;
                    }
                    self.current = Some(Current::Legacy(recs));
                    return Ok(true);
                }
                magic => return Err(RecordsError::UnsupportedMagic { offset: base_offset, magic }),
            }
        }
    }

    fn set_partial(&mut self, batch_size: Option<usize>, available: usize) {
        self.tail = if self.batches == 0 {
            FetchTail::FirstBatchTooLarge { batch_size, available }
        } else {
            FetchTail::Truncated { available }
        };
    }

    /// Applies the consumer's batch-level rules to a v2 batch; `None` if it yields nothing.
    fn start_v2(&mut self, batch: &Bytes, pool: &mut BufferPool) -> Result<Option<Current>, RecordsError> {
        let h = V2Header::parse(batch)?;
        let last = h.last_offset();
        self.current_last = last;
        // The Java consumer's order (CompletedFetch.nextFetchedRecord): CRC, then transaction
        // filtering, then control batches; a batch that yields nothing still moves the position.
        if self.read_committed && h.producer_id != NO_PRODUCER_ID {
            // Every aborted transaction that started at or before this batch's end is now open
            // (consumeAbortedTransactionsUpTo).
            while let Some(a) = self.aborted.last() {
                if a.first_offset > last {
                    break;
                }
                self.aborted_producers.insert(a.producer_id);
                self.aborted.pop();
            }
            if h.is_control() {
                let mut recs = V2Records::new(batch, &h, self.check_crcs, self.cap, pool)?;
                let first = recs.next_record();
                recs.retire(pool);
                if let Some(first) = first {
                    if is_abort_marker(&first?) {
                        self.aborted_producers.remove(&h.producer_id);
                    }
                }
                self.finish_batch(last);
                return Ok(None);
            }
            if h.is_transactional() && self.aborted_producers.contains(&h.producer_id) {
                if self.check_crcs {
                    // Java validates every batch it steps over when check.crcs is on.
                    verify_v2_crc(batch, &h)?;
                }
                self.finish_batch(last);
                return Ok(None);
            }
        }
        if h.is_control() || h.count == 0 || last < self.fetch_offset {
            if self.check_crcs {
                verify_v2_crc(batch, &h)?;
            }
            self.finish_batch(last);
            return Ok(None);
        }
        Ok(Some(Current::V2(V2Records::new(batch, &h, self.check_crcs, self.cap, pool)?)))
    }
}

/// CRC check alone, for batches that are skipped without decompressing.
fn verify_v2_crc(batch: &[u8], h: &V2Header) -> Result<(), RecordsError> {
    let actual = crc32c::crc32c(batch.get(super::batch::V2_CRC_START..).unwrap_or_default());
    if actual != h.crc {
        return Err(RecordsError::CrcMismatch { offset: h.base_offset, expected: h.crc, actual });
    }
    Ok(())
}

impl Iterator for FetchRecords {
    type Item = Result<Record, RecordsError>;

    /// The next record; decompressed buffers are not reused (see
    /// [`FetchRecords::next_pooled`]).
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        self.next_pooled(&mut BufferPool::new(0))
    }
}
