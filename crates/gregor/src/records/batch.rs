//! Record batch v2 (magic 2): header parsing and the per-batch record iterator.
//!
//! Layout (Kafka's `DefaultRecordBatch`), all big-endian:
//!
//! ```text
//!  0 baseOffset i64          27 baseTimestamp i64
//!  8 batchLength i32         35 maxTimestamp i64
//! 12 partitionLeaderEpoch    43 producerId i64
//! 16 magic i8 (= 2)          51 producerEpoch i16
//! 17 crc u32 (CRC32C of 21..) 53 baseSequence i32
//! 21 attributes i16          57 recordsCount i32
//! 23 lastOffsetDelta i32     61 records...
//! ```
//!
//! Each record (`DefaultRecord`): `length varint, attributes i8, timestampDelta varlong,
//! offsetDelta varint, keyLength varint, key, valueLength varint, value, headerCount varint,
//! [headerKeyLength varint, headerKey, headerValueLength varint, headerValue]...`.

use bytes::Bytes;

use super::pool::BufferPool;
use super::wire::{i16_at, i32_at, i64_at, u32_at, varint, varlong};
use super::{Compression, Header, Record, RecordsError, TimestampType};

/// Size of the v2 batch header, `DefaultRecordBatch.RECORD_BATCH_OVERHEAD`.
pub(super) const V2_HEADER: usize = 61;
/// Where the bytes covered by the v2 CRC start (the attributes field).
pub(super) const V2_CRC_START: usize = 21;

const ATTR_COMPRESSION_MASK: i16 = 0x07;
const ATTR_LOG_APPEND_TIME: i16 = 0x08;
const ATTR_TRANSACTIONAL: i16 = 0x10;
const ATTR_CONTROL: i16 = 0x20;

/// `RecordBatch.NO_PRODUCER_ID`.
pub(super) const NO_PRODUCER_ID: i64 = -1;

/// The fixed fields of a v2 batch that decoding needs.
#[derive(Debug, Clone, Copy)]
pub(super) struct V2Header {
    pub base_offset: i64,
    pub leader_epoch: i32,
    pub crc: u32,
    pub attributes: i16,
    pub last_offset_delta: i32,
    pub base_timestamp: i64,
    pub max_timestamp: i64,
    pub producer_id: i64,
    pub count: i32,
}

impl V2Header {
    /// Parses the header of `batch`, a complete batch (its length agrees with `batchLength`).
    pub(super) fn parse(batch: &[u8]) -> Result<V2Header, RecordsError> {
        let base_offset = i64_at(batch, 0).unwrap_or(-1);
        let corrupt = |reason| RecordsError::Corrupt { offset: base_offset, reason };
        if batch.len() < V2_HEADER {
            return Err(corrupt("batch shorter than the v2 header"));
        }
        let get32 = |p| i32_at(batch, p).ok_or_else(|| corrupt("short header"));
        let get64 = |p| i64_at(batch, p).ok_or_else(|| corrupt("short header"));
        let h = V2Header {
            base_offset,
            leader_epoch: get32(12)?,
            crc: u32_at(batch, 17).ok_or_else(|| corrupt("short header"))?,
            attributes: i16_at(batch, 21).ok_or_else(|| corrupt("short header"))?,
            last_offset_delta: get32(23)?,
            base_timestamp: get64(27)?,
            max_timestamp: get64(35)?,
            producer_id: get64(43)?,
            count: get32(57)?,
        };
        if h.count < 0 {
            return Err(corrupt("negative record count"));
        }
        Ok(h)
    }

    pub(super) fn last_offset(&self) -> i64 {
        self.base_offset.wrapping_add(self.last_offset_delta as i64)
    }

    pub(super) fn compression_id(&self) -> u8 {
        (self.attributes & ATTR_COMPRESSION_MASK) as u8
    }

    pub(super) fn is_control(&self) -> bool {
        self.attributes & ATTR_CONTROL != 0
    }

    pub(super) fn is_transactional(&self) -> bool {
        self.attributes & ATTR_TRANSACTIONAL != 0
    }
}

/// Iterator over the records of one v2 batch. The records are `data[pos..end]`: the batch
/// itself past its header (uncompressed), or a decompressed buffer, which may be longer than the
/// records (reused scratch, see [`BufferPool`]).
#[derive(Debug)]
pub(super) struct V2Records {
    data: Bytes,
    pos: usize,
    end: usize,
    /// `data` is a decompressed buffer of this batch's own (given back to the pool at the end).
    owned: bool,
    remaining: i32,
    base_offset: i64,
    base_timestamp: i64,
    /// `Some(maxTimestamp)` for LogAppendTime batches: Java's `DefaultRecordBatch` gives every
    /// record the batch's max timestamp then, whatever the record's delta says.
    log_append_time: Option<i64>,
    leader_epoch: Option<i32>,
}

impl V2Records {
    /// Prepares iteration over `batch` (the whole batch, header included): verifies the CRC if
    /// asked and decompresses the records section into one buffer from `pool`, capped at `cap`
    /// bytes. The CRC is computed right before the batch's records are read, so the batch is
    /// read from memory once and parsed from cache.
    pub(super) fn new(
        batch: &Bytes,
        h: &V2Header,
        check_crc: bool,
        cap: usize,
        pool: &mut BufferPool,
    ) -> Result<V2Records, RecordsError> {
        if check_crc {
            let actual = crc32c::crc32c(batch.get(V2_CRC_START..).unwrap_or_default());
            if actual != h.crc {
                return Err(RecordsError::CrcMismatch { offset: h.base_offset, expected: h.crc, actual });
            }
        }
        let id = h.compression_id();
        let compression = Compression::from_id(id)
            .ok_or(RecordsError::UnsupportedCompression { offset: h.base_offset, id })?;
        let (data, pos, end, owned) = if compression == Compression::None {
            (batch.clone(), V2_HEADER.min(batch.len()), batch.len(), false)
        } else {
            let input = batch.get(V2_HEADER..).unwrap_or_default();
            let mut buf = pool.take();
            match super::compression::decompress_into(compression, input, cap, 2, h.base_offset, &mut buf) {
                Ok(n) => (Bytes::from(buf), 0, n, true),
                Err(e) => {
                    pool.give(Bytes::from(buf));
                    return Err(e);
                }
            }
        };
        Ok(V2Records {
            data,
            pos,
            end,
            owned,
            remaining: h.count,
            base_offset: h.base_offset,
            base_timestamp: h.base_timestamp,
            log_append_time: (h.attributes & ATTR_LOG_APPEND_TIME != 0).then_some(h.max_timestamp),
            // Java's `maybeLeaderEpoch`: -1 (`NO_PARTITION_LEADER_EPOCH`) means unknown.
            leader_epoch: (h.leader_epoch != -1).then_some(h.leader_epoch),
        })
    }

    /// Bytes of this batch's own decompressed buffer (0 for an uncompressed batch, whose
    /// records point into the fetched bytes).
    pub(super) fn decompressed_len(&self) -> usize {
        if self.owned {
            self.data.len()
        } else {
            0
        }
    }

    /// Ends iteration, giving a decompressed buffer back to `pool`.
    pub(super) fn retire(self, pool: &mut BufferPool) {
        if self.owned {
            pool.give(self.data);
        }
    }

    fn corrupt(&self, reason: &'static str) -> RecordsError {
        RecordsError::Corrupt { offset: self.base_offset, reason }
    }

    /// The next record, `None` after the declared count. Bytes left over after the last declared
    /// record are corruption, as in Java's `DefaultRecordBatch` iterator.
    #[inline]
    pub(super) fn next_record(&mut self) -> Option<Result<Record, RecordsError>> {
        if self.remaining <= 0 {
            if self.pos != self.end {
                self.pos = self.end;
                return Some(Err(self.corrupt("bytes remain after the declared record count")));
            }
            return None;
        }
        self.remaining -= 1;
        match self.parse_record() {
            Some(r) => Some(Ok(r)),
            None => {
                self.remaining = 0;
                self.pos = self.end;
                Some(Err(self.corrupt("malformed or truncated record")))
            }
        }
    }

    /// Parses the record at `pos`; `None` on any malformation.
    #[inline(always)]
    fn parse_record(&mut self) -> Option<Record> {
        let buf: &[u8] = &self.data[..self.end];
        let mut p = self.pos;
        let len = varint(buf, &mut p)?;
        if len < 0 {
            return None;
        }
        let end = p.checked_add(len as usize)?;
        // Bound every field by this record's own length, so a record cannot read into the next.
        let rec = buf.get(..end)?;
        p += 1; // attributes: unused in v2
        let ts_delta = varlong(rec, &mut p)?;
        let offset_delta = varint(rec, &mut p)?;
        let key = self.nullable(rec, &mut p)?;
        let value = self.nullable(rec, &mut p)?;
        let header_count = varint(rec, &mut p)?;
        if header_count < 0 {
            return None;
        }
        let headers = if header_count == 0 {
            Vec::new()
        } else {
            // Each header takes at least two bytes, so the count is bounded by what remains.
            if header_count as usize > (end - p.min(end)) / 2 {
                return None;
            }
            let mut headers = Vec::with_capacity(header_count as usize);
            for _ in 0..header_count {
                let klen = varint(rec, &mut p)?;
                if klen < 0 {
                    return None;
                }
                let kend = p.checked_add(klen as usize)?;
                if kend > end {
                    return None;
                }
                let key = self.data.slice(p..kend);
                p = kend;
                let value = self.nullable(rec, &mut p)?;
                headers.push(Header { key, value });
            }
            headers
        };
        if p != end {
            // Java: "Invalid record size: expected to read N bytes in record payload".
            return None;
        }
        self.pos = end;
        let (timestamp, timestamp_type) = match self.log_append_time {
            Some(ts) => (ts, TimestampType::LogAppendTime),
            None => (self.base_timestamp.wrapping_add(ts_delta), TimestampType::CreateTime),
        };
        Some(Record {
            offset: self.base_offset.wrapping_add(offset_delta as i64),
            timestamp,
            timestamp_type,
            key,
            value,
            headers,
            leader_epoch: self.leader_epoch,
        })
    }

    /// Reads a varint-length-prefixed nullable byte field (-1 = null) inside `rec`.
    #[inline(always)]
    fn nullable(&self, rec: &[u8], p: &mut usize) -> Option<Option<Bytes>> {
        let n = varint(rec, p)?;
        if n < 0 {
            return if n == -1 { Some(None) } else { None };
        }
        let start = *p;
        let end = start.checked_add(n as usize)?;
        if end > rec.len() {
            return None;
        }
        *p = end;
        Some(Some(self.data.slice(start..end)))
    }
}

/// Control record types (Java's `ControlRecordType`), read from a control record's key:
/// `version i16, type i16`.
pub(super) fn is_abort_marker(record: &Record) -> bool {
    match record.key.as_deref() {
        Some(k) => i16_at(k, 0).is_some_and(|v| v >= 0) && i16_at(k, 2) == Some(0),
        None => false,
    }
}
