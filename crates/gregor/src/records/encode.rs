//! Encoding of v2 record batches (what a producer sends, and what the mock broker stores).

use bytes::Bytes;

use super::batch::{V2_CRC_START, V2_HEADER};
use super::compression::compress;
use super::wire::{put_varint, put_varlong, varint_len, varlong_len};
use super::{Compression, RecordsError};

/// One record to encode. Borrowed, so a producer can encode straight from its own buffers.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProduceRecord<'a> {
    /// Key; `None` for a null key.
    pub key: Option<&'a [u8]>,
    /// Value; `None` for a null value (a tombstone).
    pub value: Option<&'a [u8]>,
    /// Headers as `(key, value)`; a `None` value is a null header value.
    pub headers: &'a [(&'a str, Option<&'a [u8]>)],
    /// Create time in milliseconds since the epoch.
    pub timestamp: i64,
}

/// Batch-level fields of [`encode_batch_with`]. `Default` is what a non-idempotent producer sends:
/// base offset 0, no producer id/epoch/sequence, not transactional, no leader epoch, no compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchOptions {
    /// Codec for the records section.
    pub compression: Compression,
    /// `baseOffset`; producers send 0 and the broker assigns offsets.
    pub base_offset: i64,
    /// `partitionLeaderEpoch`; -1 from producers, set by the broker.
    pub partition_leader_epoch: i32,
    /// `producerId`; -1 when not idempotent.
    pub producer_id: i64,
    /// `producerEpoch`; -1 when not idempotent.
    pub producer_epoch: i16,
    /// `baseSequence`; -1 when not idempotent.
    pub base_sequence: i32,
    /// Sets the transactional attribute (KIP-98).
    pub transactional: bool,
}

impl Default for BatchOptions {
    fn default() -> Self {
        BatchOptions {
            compression: Compression::None,
            base_offset: 0,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            base_sequence: -1,
            transactional: false,
        }
    }
}

/// Which end-of-transaction marker a control batch carries (Java's `ControlRecordType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlMarker {
    /// The transaction was aborted.
    Abort,
    /// The transaction was committed.
    Commit,
}

/// Encodes `records` as one v2 batch with `compression` and the other [`BatchOptions`] defaults.
pub fn encode_batch(records: &[ProduceRecord<'_>], compression: Compression) -> Result<Bytes, RecordsError> {
    encode_batch_with(records, &BatchOptions { compression, ..BatchOptions::default() })
}

/// Encodes `records` as one v2 batch (`DefaultRecordBatch`): offsets deltas 0..n, timestamps as
/// deltas from the first record's, CreateTime, CRC32C over attributes..end.
///
/// Fails on an empty slice (brokers reject empty batches), on more than `i32::MAX` records or
/// fields, or if the codec fails.
pub fn encode_batch_with(records: &[ProduceRecord<'_>], opts: &BatchOptions) -> Result<Bytes, RecordsError> {
    encode_batch_into(records, opts, Vec::new(), &mut Vec::new())
}

/// [`encode_batch_with`] into buffers the caller keeps between batches: `out` (cleared first)
/// becomes the returned batch, and a compressed batch's records are first written to `scratch`
/// (kept, cleared, for the next call). An uncompressed batch is written straight into `out`,
/// with no intermediate buffer and no copy. A producer encoding batch after batch of
/// `batch.size` bytes reuses its buffers instead of faulting in fresh pages for each.
pub fn encode_batch_into(
    records: &[ProduceRecord<'_>],
    opts: &BatchOptions,
    mut out: Vec<u8>,
    scratch: &mut Vec<u8>,
) -> Result<Bytes, RecordsError> {
    let first = records.first().ok_or_else(|| RecordsError::Encode("a batch needs at least one record".into()))?;
    let count = i32::try_from(records.len()).map_err(|_| RecordsError::Encode("too many records".into()))?;
    let base_ts = first.timestamp;
    let max_ts = records.iter().map(|r| r.timestamp).max().unwrap_or(base_ts);
    let mut attributes = opts.compression as i16;
    if opts.transactional {
        attributes |= 0x10;
    }
    let header = Header {
        base_offset: opts.base_offset,
        leader_epoch: opts.partition_leader_epoch,
        attributes,
        last_offset_delta: count - 1,
        base_ts,
        max_ts,
        producer_id: opts.producer_id,
        producer_epoch: opts.producer_epoch,
        base_sequence: opts.base_sequence,
        count,
    };
    let estimate: usize = records.iter().map(estimate).sum();
    out.clear();
    if opts.compression == Compression::None {
        out.reserve(V2_HEADER + estimate);
        put_header(&mut out, &header);
        for (i, r) in records.iter().enumerate() {
            write_record(&mut out, r, i as i32, r.timestamp.wrapping_sub(base_ts))?;
        }
    } else {
        scratch.clear();
        scratch.reserve(estimate);
        for (i, r) in records.iter().enumerate() {
            write_record(scratch, r, i as i32, r.timestamp.wrapping_sub(base_ts))?;
        }
        out.reserve(V2_HEADER + scratch.len() / 2);
        put_header(&mut out, &header);
        compress(opts.compression, scratch, &mut out)?;
    }
    seal(out)
}

/// Encodes a control batch holding one end-of-transaction marker (`EndTransactionMarker`), as the
/// transaction coordinator has the partition leader write it. Meant for the mock broker and tests.
pub fn encode_control_batch(
    marker: ControlMarker,
    base_offset: i64,
    producer_id: i64,
    producer_epoch: i16,
    coordinator_epoch: i32,
    timestamp: i64,
) -> Bytes {
    // Key: version 0, type (0 = abort, 1 = commit). Value: version 0, coordinator epoch.
    let kind: i16 = match marker {
        ControlMarker::Abort => 0,
        ControlMarker::Commit => 1,
    };
    let mut key = [0u8; 4];
    key[2..].copy_from_slice(&kind.to_be_bytes());
    let mut value = [0u8; 6];
    value[2..].copy_from_slice(&coordinator_epoch.to_be_bytes());
    let rec = ProduceRecord { key: Some(&key), value: Some(&value), headers: &[], timestamp };
    let mut body = Vec::new();
    // Cannot fail: fields are tiny.
    let _ = write_record(&mut body, &rec, 0, 0);
    let header = Header {
        base_offset,
        leader_epoch: -1,
        attributes: 0x10 | 0x20,
        last_offset_delta: 0,
        base_ts: timestamp,
        max_ts: timestamp,
        producer_id,
        producer_epoch,
        base_sequence: -1,
        count: 1,
    };
    finish(header, &body, Compression::None).unwrap_or_default()
}

struct Header {
    base_offset: i64,
    leader_epoch: i32,
    attributes: i16,
    last_offset_delta: i32,
    base_ts: i64,
    max_ts: i64,
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
    count: i32,
}

fn finish(h: Header, body: &[u8], compression: Compression) -> Result<Bytes, RecordsError> {
    let mut out = Vec::with_capacity(V2_HEADER + body.len() / if compression == Compression::None { 1 } else { 2 });
    put_header(&mut out, &h);
    compress(compression, body, &mut out)?;
    seal(out)
}

/// The v2 batch header, with batchLength and crc left 0 for [`seal`].
fn put_header(out: &mut Vec<u8>, h: &Header) {
    let at = out.len();
    out.extend_from_slice(&h.base_offset.to_be_bytes());
    out.extend_from_slice(&[0; 4]); // batchLength, filled by seal
    out.extend_from_slice(&h.leader_epoch.to_be_bytes());
    out.push(2); // magic
    out.extend_from_slice(&[0; 4]); // crc, filled by seal
    out.extend_from_slice(&h.attributes.to_be_bytes());
    out.extend_from_slice(&h.last_offset_delta.to_be_bytes());
    out.extend_from_slice(&h.base_ts.to_be_bytes());
    out.extend_from_slice(&h.max_ts.to_be_bytes());
    out.extend_from_slice(&h.producer_id.to_be_bytes());
    out.extend_from_slice(&h.producer_epoch.to_be_bytes());
    out.extend_from_slice(&h.base_sequence.to_be_bytes());
    out.extend_from_slice(&h.count.to_be_bytes());
    debug_assert_eq!(out.len() - at, V2_HEADER);
}

/// Fills in batchLength and the CRC of a batch that starts at `out[0]`.
fn seal(mut out: Vec<u8>) -> Result<Bytes, RecordsError> {
    let len = i32::try_from(out.len() - 12).map_err(|_| RecordsError::Encode("batch larger than 2 GiB".into()))?;
    out[8..12].copy_from_slice(&len.to_be_bytes());
    let crc = crc32c::crc32c(&out[V2_CRC_START..]);
    out[17..21].copy_from_slice(&crc.to_be_bytes());
    Ok(Bytes::from(out))
}

fn field_len(f: Option<&[u8]>) -> usize {
    f.map_or(1, |b| 5 + b.len())
}

fn estimate(r: &ProduceRecord<'_>) -> usize {
    let headers: usize = r.headers.iter().map(|(k, v)| 5 + k.len() + field_len(*v)).sum();
    5 + 1 + 10 + 5 + field_len(r.key) + field_len(r.value) + 5 + headers
}

fn len_i32(n: usize) -> Result<i32, RecordsError> {
    i32::try_from(n).map_err(|_| RecordsError::Encode("field larger than 2 GiB".into()))
}

fn put_nullable(out: &mut Vec<u8>, f: Option<&[u8]>) -> Result<(), RecordsError> {
    match f {
        None => put_varint(out, -1),
        Some(b) => {
            put_varint(out, len_i32(b.len())?);
            out.extend_from_slice(b);
        }
    }
    Ok(())
}

/// Appends one `DefaultRecord`. Its length prefix is computed up front so the body is written once.
fn write_record(out: &mut Vec<u8>, r: &ProduceRecord<'_>, offset_delta: i32, ts_delta: i64) -> Result<(), RecordsError> {
    let nullable_size = |f: Option<&[u8]>| -> Result<usize, RecordsError> {
        Ok(match f {
            None => 1,
            Some(b) => varint_len(len_i32(b.len())?) + b.len(),
        })
    };
    let mut size = 1 + varlong_len(ts_delta) + varint_len(offset_delta);
    size += nullable_size(r.key)? + nullable_size(r.value)?;
    size += varint_len(len_i32(r.headers.len())?);
    for (k, v) in r.headers {
        size += nullable_size(Some(k.as_bytes()))? + nullable_size(*v)?;
    }
    put_varint(out, len_i32(size)?);
    out.push(0); // attributes
    put_varlong(out, ts_delta);
    put_varint(out, offset_delta);
    put_nullable(out, r.key)?;
    put_nullable(out, r.value)?;
    put_varint(out, r.headers.len() as i32);
    for (k, v) in r.headers {
        put_nullable(out, Some(k.as_bytes()))?;
        put_nullable(out, *v)?;
    }
    Ok(())
}
