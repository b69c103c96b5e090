//! Legacy message sets (magic 0 and 1), Kafka's `LegacyRecord` / `AbstractLegacyRecordBatch`.
//!
//! ```text
//! offset i64, messageSize i32, crc u32 (CRC32 IEEE of magic..end), magic i8, attributes i8,
//! [timestamp i64 (magic 1 only)], keyLength i32, key, valueLength i32, value
//! ```
//!
//! A compressed message ("wrapper", attributes & 7 != 0) carries in its value a compressed message
//! set of inner messages. For magic 1 the inner offsets are relative and the wrapper's offset is
//! the absolute offset of the last inner message (KIP-31); for magic 0 the broker wrote absolute
//! inner offsets. A LogAppendTime wrapper's timestamp overrides the inner ones (KIP-32).

use std::ops::Range;

use bytes::Bytes;

use super::wire::{i32_at, i64_at, u32_at};
use super::{Compression, Record, RecordsError, TimestampType};

/// `Records.LOG_OVERHEAD`: offset and size fields.
const LOG_OVERHEAD: usize = 12;
/// `LegacyRecord.RECORD_OVERHEAD_V0`: crc, magic, attributes, key and value lengths.
pub(super) const MIN_MESSAGE_V0: usize = 14;
const MIN_MESSAGE_V1: usize = 22;
const ATTR_LOG_APPEND_TIME: u8 = 0x08;

/// One parsed legacy message; key/value are ranges into the buffer it was parsed from.
#[derive(Debug)]
struct Message {
    offset: i64,
    magic: i8,
    attributes: u8,
    timestamp: i64,
    key: Option<Range<usize>>,
    value: Option<Range<usize>>,
}

/// Parses the message at `at` in `buf` (which must hold the whole message), checking the CRC if
/// asked. Returns the message and the position after it.
fn parse(buf: &[u8], at: usize, check_crc: bool) -> Result<(Message, usize), RecordsError> {
    let offset = i64_at(buf, at).unwrap_or(-1);
    let corrupt = |reason| RecordsError::Corrupt { offset, reason };
    let size = i32_at(buf, at + 8).ok_or_else(|| corrupt("truncated message header"))?;
    let size = usize::try_from(size).map_err(|_| corrupt("negative message size"))?;
    let body = at + LOG_OVERHEAD;
    let end = body.checked_add(size).filter(|&e| e <= buf.len()).ok_or_else(|| corrupt("truncated message"))?;
    if size < MIN_MESSAGE_V0 {
        return Err(corrupt("message smaller than the minimum"));
    }
    let crc = u32_at(buf, body).ok_or_else(|| corrupt("truncated message"))?;
    let magic = buf[body + 4] as i8;
    let attributes = buf[body + 5];
    if check_crc {
        let mut h = flate2::Crc::new();
        h.update(&buf[body + 4..end]);
        if h.sum() != crc {
            return Err(RecordsError::CrcMismatch { offset, expected: crc, actual: h.sum() });
        }
    }
    let (timestamp, mut p) = match magic {
        0 => (-1, body + 6),
        1 => {
            if size < MIN_MESSAGE_V1 {
                return Err(corrupt("message smaller than the minimum"));
            }
            (i64_at(buf, body + 6).ok_or_else(|| corrupt("truncated message"))?, body + 14)
        }
        m => return Err(RecordsError::UnsupportedMagic { offset, magic: m }),
    };
    let msg = &buf[..end];
    let field = |p: &mut usize| -> Result<Option<Range<usize>>, RecordsError> {
        let n = i32_at(msg, *p).ok_or_else(|| corrupt("truncated key or value"))?;
        *p += 4;
        if n == -1 {
            return Ok(None);
        }
        let n = usize::try_from(n).map_err(|_| corrupt("negative key or value length"))?;
        let r = *p..p.checked_add(n).filter(|&e| e <= end).ok_or_else(|| corrupt("key or value overruns message"))?;
        *p = r.end;
        Ok(Some(r))
    };
    let key = field(&mut p)?;
    let value = field(&mut p)?;
    if p != end {
        return Err(corrupt("bytes remain after the message value"));
    }
    Ok((Message { offset, magic, attributes, timestamp, key, value }, end))
}

fn timestamp_of(m: &Message) -> (i64, TimestampType) {
    match (m.magic, m.attributes & ATTR_LOG_APPEND_TIME != 0) {
        (0, _) => (-1, TimestampType::NoTimestamp),
        (_, true) => (m.timestamp, TimestampType::LogAppendTime),
        (_, false) => (m.timestamp, TimestampType::CreateTime),
    }
}

fn to_record(buf: &Bytes, m: &Message, offset: i64, ts: (i64, TimestampType)) -> Record {
    Record {
        offset,
        timestamp: ts.0,
        timestamp_type: ts.1,
        key: m.key.clone().map(|r| buf.slice(r)),
        value: m.value.clone().map(|r| buf.slice(r)),
        headers: Vec::new(),
        leader_epoch: None,
    }
}

/// Records of one top-level legacy message: itself, or the inner messages of a wrapper.
#[derive(Debug)]
pub(super) enum LegacyRecords {
    Single(Option<Record>),
    Deep {
        data: Bytes,
        pos: usize,
        /// Added to inner offsets (0 for magic 0, whose inner offsets are absolute).
        offset_base: i64,
        /// Wrapper timestamp that replaces inner ones (LogAppendTime wrappers).
        ts_override: Option<i64>,
        check_crc: bool,
        wrapper_offset: i64,
    },
}

impl LegacyRecords {
    /// Prepares the records of the top-level message `msg` (a whole message, log overhead
    /// included). Returns the records and the message's offset, which is also the last offset it
    /// covers.
    pub(super) fn new(msg: &Bytes, check_crc: bool, cap: usize) -> Result<(LegacyRecords, i64), RecordsError> {
        let (m, _) = parse(msg, 0, check_crc)?;
        let id = m.attributes & 0x07;
        if id == 0 {
            let rec = to_record(msg, &m, m.offset, timestamp_of(&m));
            return Ok((LegacyRecords::Single(Some(rec)), m.offset));
        }
        let corrupt = |reason| RecordsError::Corrupt { offset: m.offset, reason };
        // zstd (4) was introduced with magic 2 only (KIP-110).
        let compression = Compression::from_id(id)
            .filter(|c| *c != Compression::Zstd)
            .ok_or(RecordsError::UnsupportedCompression { offset: m.offset, id })?;
        let value = m.value.clone().ok_or_else(|| corrupt("compressed message with a null value"))?;
        let inner = super::compression::decompress(compression, &msg[value], cap, m.magic, m.offset)?;
        // Find the last inner offset first: magic 1 inner offsets are relative to it.
        let mut pos = 0;
        let mut last = None;
        while pos < inner.len() {
            let size = i32_at(&inner, pos + 8).ok_or_else(|| corrupt("truncated inner message"))?;
            let next = usize::try_from(size)
                .ok()
                .and_then(|s| (pos + LOG_OVERHEAD).checked_add(s))
                .filter(|&e| e <= inner.len())
                .ok_or_else(|| corrupt("truncated inner message"))?;
            last = i64_at(&inner, pos);
            pos = next;
        }
        let last = last.ok_or_else(|| corrupt("compressed message with no inner messages"))?;
        let offset_base = if m.magic > 0 { m.offset.wrapping_sub(last) } else { 0 };
        let ts_override = (m.magic > 0 && m.attributes & ATTR_LOG_APPEND_TIME != 0).then_some(m.timestamp);
        let deep = LegacyRecords::Deep {
            data: Bytes::from(inner),
            pos: 0,
            offset_base,
            ts_override,
            check_crc,
            wrapper_offset: m.offset,
        };
        Ok((deep, m.offset))
    }

    pub(super) fn next_record(&mut self) -> Option<Result<Record, RecordsError>> {
        match self {
            LegacyRecords::Single(r) => r.take().map(Ok),
            LegacyRecords::Deep { data, pos, offset_base, ts_override, check_crc, wrapper_offset } => {
                if *pos >= data.len() {
                    return None;
                }
                let result = parse(data, *pos, *check_crc).and_then(|(m, next)| {
                    if m.attributes & 0x07 != 0 {
                        // Java's DeepRecordsIterator: "Compressed messages must not be nested".
                        return Err(RecordsError::Corrupt { offset: *wrapper_offset, reason: "nested compressed message" });
                    }
                    let ts = match ts_override {
                        Some(t) => (*t, TimestampType::LogAppendTime),
                        None => timestamp_of(&m),
                    };
                    let rec = to_record(data, &m, offset_base.wrapping_add(m.offset), ts);
                    *pos = next;
                    Ok(rec)
                });
                if result.is_err() {
                    *pos = data.len();
                }
                Some(result)
            }
        }
    }
}
