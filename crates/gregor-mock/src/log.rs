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

    /// Batches from the one containing `offset`, within `max_bytes` except that the first batch
    /// is always returned when `allow_oversized_first` (KIP-74: progress even if a batch is
    /// larger than the limit).
    pub(crate) fn read(
        &self,
        offset: i64,
        max_bytes: usize,
        allow_oversized_first: bool,
    ) -> Vec<Bytes> {
        let start = self.batches.partition_point(|b| b.last_offset < offset);
        let mut out = Vec::new();
        let mut size = 0usize;
        for b in &self.batches[start..] {
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
