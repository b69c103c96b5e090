//! Partition storage: record batches kept as the producer's bytes.
//!
//! Kafka keeps a producer's v2 batch as is and only assigns offsets by rewriting the 8-byte
//! `baseOffset` field, which lies outside the CRC (the CRC covers `attributes` to the end;
//! see `DefaultRecordBatch` in the Java broker). We do the same: one copy of the batch at
//! append time, never a re-encode, so compressed batches are served back exactly as produced.

use bytes::{BufMut, Bytes, BytesMut};

/// Size of the v2 record batch header (`DefaultRecordBatch.RECORD_BATCH_OVERHEAD`).
pub(crate) const BATCH_HEADER_LEN: usize = 61;
const LOG_OVERHEAD: usize = 12; // baseOffset + batchLength
const CRC_OFFSET: usize = 17;
const ATTRIBUTES_OFFSET: usize = 21;

#[derive(Debug, Clone)]
pub(crate) struct StoredBatch {
    pub base_offset: i64,
    /// Offset of the last record (base + lastOffsetDelta).
    pub last_offset: i64,
    pub max_timestamp: i64,
    pub first_timestamp: i64,
    pub bytes: Bytes,
}

/// Why a produced record set was rejected (maps to CORRUPT_MESSAGE / INVALID_RECORD).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BatchError {
    Corrupt,
    UnsupportedMagic,
}

/// Header fields of one v2 batch, read from (and bounded by) untrusted bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BatchHeader {
    pub total_len: usize,
    pub last_offset_delta: i32,
    pub first_timestamp: i64,
    pub max_timestamp: i64,
    pub attributes: i16,
    /// -1 unless the producer is idempotent.
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
}

impl BatchHeader {
    /// Attribute bit 4 (KIP-98).
    pub(crate) fn is_transactional(&self) -> bool {
        self.attributes & 0x10 != 0
    }

    /// Attribute bit 5: a transaction marker, not data.
    pub(crate) fn is_control(&self) -> bool {
        self.attributes & 0x20 != 0
    }

    /// `DefaultRecordBatch.lastSequence`: sequences wrap at `i32::MAX`.
    pub(crate) fn last_sequence(&self) -> i32 {
        let n = self.last_offset_delta;
        if self.base_sequence > i32::MAX - n {
            n - (i32::MAX - self.base_sequence) - 1
        } else {
            self.base_sequence + n
        }
    }
}

fn be_i32(b: &[u8], at: usize) -> i32 {
    i32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
fn be_i64(b: &[u8], at: usize) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    i64::from_be_bytes(a)
}

/// Parses and validates the first batch in `b` (magic 2, length, CRC-32C).
pub(crate) fn parse_batch(b: &[u8]) -> Result<BatchHeader, BatchError> {
    if b.len() < BATCH_HEADER_LEN {
        return Err(BatchError::Corrupt);
    }
    let batch_len = be_i32(b, 8);
    if batch_len < (BATCH_HEADER_LEN - LOG_OVERHEAD) as i32 {
        return Err(BatchError::Corrupt);
    }
    let total_len = LOG_OVERHEAD + batch_len as usize;
    if total_len > b.len() {
        return Err(BatchError::Corrupt);
    }
    if b[16] != 2 {
        return Err(BatchError::UnsupportedMagic);
    }
    let crc = u32::from_be_bytes([
        b[CRC_OFFSET],
        b[CRC_OFFSET + 1],
        b[CRC_OFFSET + 2],
        b[CRC_OFFSET + 3],
    ]);
    if crc32c::crc32c(&b[ATTRIBUTES_OFFSET..total_len]) != crc {
        return Err(BatchError::Corrupt);
    }
    let last_offset_delta = be_i32(b, 23);
    if last_offset_delta < 0 || be_i32(b, 57) < 0 {
        return Err(BatchError::Corrupt);
    }
    Ok(BatchHeader {
        total_len,
        last_offset_delta,
        first_timestamp: be_i64(b, 27),
        max_timestamp: be_i64(b, 35),
        attributes: i16::from_be_bytes([b[ATTRIBUTES_OFFSET], b[ATTRIBUTES_OFFSET + 1]]),
        producer_id: be_i64(b, 43),
        producer_epoch: i16::from_be_bytes([b[51], b[52]]),
        base_sequence: be_i32(b, 53),
    })
}

/// Splits a produced record set into validated batches (all or nothing, like Kafka).
pub(crate) fn split_batches(records: &Bytes) -> Result<Vec<(Bytes, BatchHeader)>, BatchError> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < records.len() {
        let h = parse_batch(&records[at..])?;
        out.push((records.slice(at..at + h.total_len), h));
        at += h.total_len;
    }
    if out.is_empty() {
        return Err(BatchError::Corrupt);
    }
    Ok(out)
}

#[derive(Debug, Default)]
pub(crate) struct PartitionLog {
    pub batches: Vec<StoredBatch>,
    pub log_start_offset: i64,
    pub high_watermark: i64,
    /// Idempotent and transactional producers' state (see `producer_state`).
    pub producers: crate::producer_state::ProducerStates,
}

impl PartitionLog {
    /// Appends one validated batch; returns its assigned base offset.
    pub(crate) fn append(&mut self, raw: &Bytes, h: &BatchHeader) -> i64 {
        let base = self.high_watermark;
        let mut buf = BytesMut::with_capacity(raw.len());
        buf.put_i64(base);
        buf.extend_from_slice(&raw[8..]);
        self.batches.push(StoredBatch {
            base_offset: base,
            last_offset: base + h.last_offset_delta as i64,
            max_timestamp: h.max_timestamp,
            first_timestamp: h.first_timestamp,
            bytes: buf.freeze(),
        });
        self.high_watermark = base + h.last_offset_delta as i64 + 1;
        base
    }

    /// Writes an end-of-transaction marker (a control batch) for `producer_id` with `epoch`
    /// and ends its transaction here; returns the marker's offset.
    pub(crate) fn append_marker(&mut self, producer_id: i64, epoch: i16, commit: bool, coordinator_epoch: i32) -> i64 {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        let raw = control_batch(producer_id, epoch, commit, coordinator_epoch, now);
        let offset = match parse_batch(&raw) {
            Ok(h) => self.append(&raw, &h),
            // Cannot happen: the batch was just encoded.
            Err(_) => return self.high_watermark,
        };
        self.producers.end_txn(producer_id, epoch, commit, offset);
        offset
    }

    /// Batches from the one containing `offset`, within `max_bytes` except that the first batch
    /// is always returned when `allow_oversized_first` (KIP-74: progress even if a batch is
    /// larger than the limit), and only batches that end before `end` (a `read_committed` fetch
    /// stops at the last stable offset).
    pub(crate) fn read_until(
        &self,
        offset: i64,
        max_bytes: usize,
        allow_oversized_first: bool,
        end: i64,
    ) -> Vec<Bytes> {
        let start = self.batches.partition_point(|b| b.last_offset < offset);
        let mut out = Vec::new();
        let mut size = 0usize;
        for b in &self.batches[start..] {
            if b.last_offset >= end {
                break;
            }
            let len = b.bytes.len();
            if size + len > max_bytes && !(out.is_empty() && allow_oversized_first) {
                break;
            }
            size += len;
            out.push(b.bytes.clone());
            if size >= max_bytes {
                break;
            }
        }
        out
    }

    /// (offset, timestamp) of the first record whose timestamp is >= `ts` (ListOffsets by
    /// time): Kafka's `LogSegment.findOffsetByTimestamp` scans into the batch for the exact
    /// record. Uncompressed batches are scanned the same way; compressed ones (never decoded
    /// here) answer with the batch's first offset.
    pub(crate) fn offset_for_timestamp(&self, ts: i64) -> Option<(i64, i64)> {
        let b = self.batches.iter().find(|b| b.max_timestamp >= ts)?;
        let uncompressed = b.bytes.len() > 22 && b.bytes[22] & 0x07 == 0;
        if uncompressed {
            let mut buf = b.bytes.clone();
            if let Ok(set) = kafka_protocol::records::RecordBatchDecoder::decode(&mut buf) {
                if let Some(r) = set
                    .records
                    .iter()
                    .find(|r| r.timestamp >= ts && r.offset >= self.log_start_offset)
                {
                    return Some((r.offset, r.timestamp));
                }
            }
        }
        Some((
            b.base_offset.max(self.log_start_offset),
            b.first_timestamp.max(b.max_timestamp.min(ts)),
        ))
    }

    /// (offset, timestamp) of the batch with the largest timestamp (ListOffsets -3, KIP-734).
    pub(crate) fn max_timestamp(&self) -> Option<(i64, i64)> {
        self.batches
            .iter()
            .max_by_key(|b| b.max_timestamp)
            .map(|b| (b.last_offset, b.max_timestamp))
    }
}

/// One control batch holding an `EndTransactionMarker` (key: version 0, type 0 = abort or
/// 1 = commit; value: version 0, coordinator epoch), transactional and control bits set.
fn control_batch(producer_id: i64, epoch: i16, commit: bool, coordinator_epoch: i32, timestamp: i64) -> Bytes {
    let mut key = BytesMut::with_capacity(4);
    key.put_i16(0);
    key.put_i16(i16::from(commit));
    let mut value = BytesMut::with_capacity(6);
    value.put_i16(0);
    value.put_i32(coordinator_epoch);
    // The record: length, attributes, timestamp delta, offset delta, key, value, no headers
    // (all varints, zig-zag encoded).
    let mut rec = BytesMut::new();
    rec.put_u8(0);
    put_varint(&mut rec, 0);
    put_varint(&mut rec, 0);
    put_varint(&mut rec, key.len() as i64);
    rec.extend_from_slice(&key);
    put_varint(&mut rec, value.len() as i64);
    rec.extend_from_slice(&value);
    put_varint(&mut rec, 0);
    let mut records = BytesMut::new();
    put_varint(&mut records, rec.len() as i64);
    records.extend_from_slice(&rec);

    let mut b = BytesMut::with_capacity(BATCH_HEADER_LEN + records.len());
    b.put_i64(0); // base offset, set by append
    b.put_i32((BATCH_HEADER_LEN - LOG_OVERHEAD + records.len()) as i32);
    b.put_i32(-1); // partition leader epoch
    b.put_u8(2); // magic
    b.put_u32(0); // crc, below
    b.put_i16(0x10 | 0x20); // transactional, control
    b.put_i32(0); // last offset delta
    b.put_i64(timestamp);
    b.put_i64(timestamp);
    b.put_i64(producer_id);
    b.put_i16(epoch);
    b.put_i32(-1); // base sequence
    b.put_i32(1); // record count
    b.extend_from_slice(&records);
    let crc = crc32c::crc32c(&b[ATTRIBUTES_OFFSET..]);
    b[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
    b.freeze()
}

fn put_varint(b: &mut BytesMut, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        b.put_u8((z as u8) | 0x80);
        z >>= 7;
    }
    b.put_u8(z as u8);
}

/// Concatenates batches into a `records` field.
pub(crate) fn concat(batches: &[Bytes]) -> Bytes {
    if batches.len() == 1 {
        return batches[0].clone();
    }
    let mut buf = BytesMut::with_capacity(batches.iter().map(|b| b.len()).sum());
    for b in batches {
        buf.extend_from_slice(b);
    }
    buf.freeze()
}
