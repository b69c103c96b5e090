//! Turning a batch of records into the bytes of one v2 record batch.
//!
//! [`encode_batch`] is the only place the producer encodes records. It uses gregor's own encoder
//! (`crate::records::encode_batch`: magic 2, base offset 0, producer id -1 — what Java's
//! non-idempotent producer writes — with Java's framings for every codec). The tests check it
//! byte for byte against `kafka_protocol`'s `RecordBatchEncoder` and that each codec decompresses
//! to the uncompressed records.

use bytes::Bytes;

use crate::error::{Error, ErrorKind, Result};
use super::idempotence::BatchSequence;
use crate::records::{self, BatchOptions, ProduceRecord};

/// `compression.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Compression {
    #[default]
    None,
    Gzip,
    Snappy,
    Lz4,
    Zstd,
}

impl From<crate::config::CompressionType> for Compression {
    fn from(c: crate::config::CompressionType) -> Self {
        use crate::config::CompressionType as C;
        match c {
            C::None => Compression::None,
            C::Gzip => Compression::Gzip,
            C::Snappy => Compression::Snappy,
            C::Lz4 => Compression::Lz4,
            C::Zstd => Compression::Zstd,
        }
    }
}

impl Compression {
    fn codec(self) -> records::Compression {
        match self {
            Compression::None => records::Compression::None,
            Compression::Gzip => records::Compression::Gzip,
            Compression::Snappy => records::Compression::Snappy,
            Compression::Lz4 => records::Compression::Lz4,
            Compression::Zstd => records::Compression::Zstd,
        }
    }
}

/// One record waiting in the accumulator.
#[derive(Debug, Clone, Default)]
pub(crate) struct PendingRecord {
    pub(crate) key: Option<Bytes>,
    pub(crate) value: Option<Bytes>,
    pub(crate) headers: Vec<(String, Option<Bytes>)>,
    /// CreateTime in ms since the epoch.
    pub(crate) timestamp: i64,
}

/// Size of a v2 batch header (`DefaultRecordBatch.RECORD_BATCH_OVERHEAD`).
pub(crate) const BATCH_OVERHEAD: usize = 61;

/// Zig-zag varint length, as `ByteUtils.sizeOfVarint`.
fn varint_len(v: i64) -> usize {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    let mut n = 1;
    while z >= 0x80 {
        z >>= 7;
        n += 1;
    }
    n
}

/// The exact uncompressed size of `r` inside a batch (`DefaultRecord.sizeInBytes`), given its
/// offset delta and timestamp delta. Used to decide when a batch reaches `batch.size`.
pub(crate) fn record_size(r: &PendingRecord, offset_delta: i32, timestamp_delta: i64) -> usize {
    let opt = |b: &Option<Bytes>| match b {
        Some(b) => varint_len(b.len() as i64) + b.len(),
        None => 1,
    };
    let mut body = 1 + varint_len(timestamp_delta) + varint_len(offset_delta as i64) + opt(&r.key) + opt(&r.value);
    body += varint_len(r.headers.len() as i64);
    for (k, v) in &r.headers {
        body += varint_len(k.len() as i64) + k.len() + opt(v);
    }
    varint_len(body as i64) + body
}

type BorrowedHeaders<'a> = Vec<(&'a str, Option<&'a [u8]>)>;

/// Encodes `records` (non-empty) as one v2 batch; an idempotent producer's batch carries its
/// producer id, epoch and base sequence, a transactional one's also the transactional bit.
/// `out` becomes the batch's bytes and `scratch` holds a compressed batch's records on the way
/// (both reused between batches, see `records::encode_batch_into`).
pub(crate) fn encode_batch(
    records: &[PendingRecord],
    compression: Compression,
    sequence: Option<BatchSequence>,
    transactional: bool,
    out: Vec<u8>,
    scratch: &mut Vec<u8>,
) -> Result<Bytes> {
    // The record encoder borrows; header lists are the only thing built per record.
    let headers: Vec<BorrowedHeaders<'_>> =
        records.iter().map(|r| r.headers.iter().map(|(k, v)| (k.as_str(), v.as_deref())).collect()).collect();
    let borrowed: Vec<ProduceRecord<'_>> = records
        .iter()
        .zip(&headers)
        .map(|(r, h)| ProduceRecord {
            key: r.key.as_deref(),
            value: r.value.as_deref(),
            headers: h,
            timestamp: r.timestamp,
        })
        .collect();
    let mut opts = BatchOptions { compression: compression.codec(), transactional, ..BatchOptions::default() };
    if let Some(seq) = sequence {
        opts.producer_id = seq.producer.id;
        opts.producer_epoch = seq.producer.epoch;
        opts.base_sequence = seq.base;
    }
    records::encode_batch_into(&borrowed, &opts, out, scratch)
        .map_err(|e| Error::new(ErrorKind::State, format!("encoding a record batch failed: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn recs(n: usize) -> Vec<PendingRecord> {
        (0..n)
            .map(|i| PendingRecord {
                key: Some(Bytes::from(format!("key-{i}"))),
                value: Some(Bytes::from(format!("value-{i}-").repeat(20))),
                headers: if i % 2 == 0 { vec![("h".into(), Some(Bytes::from_static(b"x")))] } else { vec![] },
                timestamp: 1_700_000_000_000 + i as i64,
            })
            .collect()
    }

    /// Reads the v2 batch header fields the producer must get right.
    fn header(b: &[u8]) -> (i64, i32, i8, i16, i32, i64, i32) {
        let be32 = |at: usize| i32::from_be_bytes(b[at..at + 4].try_into().unwrap());
        let be64 = |at: usize| i64::from_be_bytes(b[at..at + 8].try_into().unwrap());
        let attrs = i16::from_be_bytes([b[21], b[22]]);
        (be64(0), be32(8), b[16] as i8, attrs, be32(57), be64(43), be32(23))
    }

    #[test]
    fn reused_buffers_encode_the_same_bytes_as_fresh_ones() {
        let r = recs(10);
        for c in [Compression::None, Compression::Gzip, Compression::Snappy, Compression::Lz4] {
            let fresh = encode_batch(&r, c, None, false, Vec::new(), &mut Vec::new()).unwrap();
            // Leftovers of an earlier, bigger batch in both buffers.
            let mut scratch = vec![0xAB; 50_000];
            let again = encode_batch(&r[..3], c, None, false, vec![0xCD; 70_000], &mut scratch).unwrap();
            assert_ne!(again, fresh);
            let reused = encode_batch(&r, c, None, false, vec![0xCD; 70_000], &mut scratch).unwrap();
            assert_eq!(reused, fresh, "{c:?}");
        }
    }

    #[test]
    fn uncompressed_batch_size_matches_record_size_estimate() {
        let r = recs(10);
        let b = encode_batch(&r, Compression::None, None, false, Vec::new(), &mut Vec::new()).unwrap();
        let expected: usize = BATCH_OVERHEAD
            + r.iter().enumerate().map(|(i, x)| record_size(x, i as i32, x.timestamp - r[0].timestamp)).sum::<usize>();
        assert_eq!(b.len(), expected);
        let (base, len, magic, attrs, count, producer_id, last_delta) = header(&b);
        assert_eq!((base, len as usize, magic, attrs, count, producer_id, last_delta), (0, b.len() - 12, 2, 0, 10, -1, 9));
        assert_eq!(i32::from_be_bytes(b[53..57].try_into().unwrap()), -1, "base sequence: not idempotent");
        assert_eq!(i16::from_be_bytes([b[51], b[52]]), -1, "producer epoch");
        let crc = u32::from_be_bytes(b[17..21].try_into().unwrap());
        assert_eq!(crc, crc32c::crc32c(&b[21..]), "CRC-32C over attributes..end");
    }

    #[test]
    fn every_codec_sets_its_attribute_and_round_trips() {
        let r = recs(50);
        let plain = encode_batch(&r, Compression::None, None, false, Vec::new(), &mut Vec::new()).unwrap();
        let plain_records = &plain[BATCH_OVERHEAD..];
        for (c, id) in [
            (Compression::Gzip, 1),
            (Compression::Snappy, 2),
            (Compression::Lz4, 3),
            (Compression::Zstd, 4),
        ] {
            let b = encode_batch(&r, c, None, false, Vec::new(), &mut Vec::new()).unwrap();
            let (_, len, _, attrs, count, _, _) = header(&b);
            assert_eq!(attrs & 7, id, "{c:?}");
            assert_eq!(count, 50);
            assert_eq!(len as usize, b.len() - 12);
            assert!(b.len() < plain.len(), "{c:?} compresses repetitive values");
            let body = &b[BATCH_OVERHEAD..];
            let mut out = Vec::new();
            match c {
                Compression::Gzip => {
                    flate2::read::GzDecoder::new(body).read_to_end(&mut out).unwrap();
                }
                Compression::Snappy => {
                    assert_eq!(&body[..8], &[0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0]);
                    let mut at = 16;
                    while at < body.len() {
                        let n = i32::from_be_bytes(body[at..at + 4].try_into().unwrap()) as usize;
                        out.extend(snap::raw::Decoder::new().decompress_vec(&body[at + 4..at + 4 + n]).unwrap());
                        at += 4 + n;
                    }
                }
                Compression::Lz4 => {
                    lz4_flex::frame::FrameDecoder::new(body).read_to_end(&mut out).unwrap();
                }
                Compression::Zstd => out = zstd::stream::decode_all(body).unwrap(),
                Compression::None => unreachable!(),
            }
            assert_eq!(out, plain_records, "{c:?} decompresses to the plain records");
        }
    }

    /// kafka_protocol's encoder, as an independent reference for the uncompressed bytes.
    fn reference_encoding(records: &[PendingRecord]) -> Bytes {
        use kafka_protocol::protocol::StrBytes;
        use kafka_protocol::records::{Compression as Kp, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};
        let recs: Vec<Record> = records
            .iter()
            .enumerate()
            .map(|(i, r)| Record {
                transactional: false,
                control: false,
                partition_leader_epoch: -1,
                producer_id: -1,
                producer_epoch: -1,
                timestamp_type: TimestampType::Creation,
                offset: i as i64,
                // kafka_protocol starts a new batch whenever `offset - sequence` changes and
                // derives the base sequence from the first record: offset - 1 keeps one batch
                // with base sequence -1.
                sequence: i as i32 - 1,
                timestamp: r.timestamp,
                key: r.key.clone(),
                value: r.value.clone(),
                headers: r.headers.iter().map(|(k, v)| (StrBytes::from_string(k.clone()), v.clone())).collect(),
                delete_horizon: false,
            })
            .collect();
        let mut buf = bytes::BytesMut::new();
        RecordBatchEncoder::encode(&mut buf, &recs, &RecordEncodeOptions { version: 2, compression: Kp::None }).unwrap();
        buf.freeze()
    }

    #[test]
    fn uncompressed_batch_is_byte_identical_to_kafka_protocols() {
        let r = recs(25);
        assert_eq!(encode_batch(&r, Compression::None, None, false, Vec::new(), &mut Vec::new()).unwrap(), reference_encoding(&r));
    }

    #[test]
    fn empty_batch_is_an_error_not_a_panic() {
        assert!(encode_batch(&[], Compression::None, None, false, Vec::new(), &mut Vec::new()).is_err());
    }

    #[test]
    fn varint_len_matches_zigzag_sizes() {
        assert_eq!(varint_len(0), 1);
        assert_eq!(varint_len(-1), 1);
        assert_eq!(varint_len(63), 1);
        assert_eq!(varint_len(64), 2);
        assert_eq!(varint_len(-65), 2);
        assert_eq!(varint_len(i64::MIN), 10);
    }
}
