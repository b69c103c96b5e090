//! The record layer: decoding a partition's `records` bytes from a Fetch response, and encoding
//! v2 record batches for producers (and the mock broker).
//!
//! # Decoding
//!
//! [`FetchRecords`] walks the bytes of one partition lazily: it reads one batch header at a time,
//! verifies its CRC right before reading its records (one trip through memory, the parse runs
//! from cache), decompresses it into one buffer if needed, and yields [`Record`]s whose key,
//! value and header fields are [`Bytes`] slices of the fetched buffer (uncompressed batches) or
//! of that batch's decompressed buffer. Nothing is copied per record; a `Vec` is allocated per
//! record only when the record has headers. With [`FetchRecords::next_pooled`], decompression
//! buffers come from a [`BufferPool`] and are reused once no record refers to them.
//! [`FetchRecords::scan_end`] tells where the partition's data ends (the next fetch offset)
//! from the batch headers alone, so a consumer can fetch ahead before decoding anything.
//!
//! It understands record batches v2 (magic 2, Kafka's `DefaultRecordBatch`) and legacy message
//! sets (magic 0 and 1, `LegacyRecord`), including compressed wrapper messages. It applies the
//! consumer's rules from the Java client's `CompletedFetch`: records before the fetch offset are
//! skipped, control batches are never returned, and with
//! [`IsolationLevel::ReadCommitted`] records of aborted transactions are filtered out.
//!
//! Bytes read off the wire are treated as hostile: every length and count is checked against the
//! bytes that remain before use, decompression output is capped by
//! [`DecodeOptions::max_decompressed_bytes`], and no input makes this module panic.
//!
//! # Encoding
//!
//! [`encode_batch`] / [`encode_batch_with`] build one v2 batch with any [`Compression`].
//!
//! Topic and partition are deliberately not part of [`Record`]: they are the same for every record
//! of a fetch, and leaving them out keeps a record at two `Bytes`, an empty `Vec` and a few
//! integers. The consumer wraps records with their topic-partition when it hands them out.

// Self-contained on purpose: this module refers to its own items with `self::`/`super::` and
// depends on nothing else from the crate, so it can be built and benchmarked in isolation.

mod batch;
pub(crate) mod compression;
// The encoder serves producers, the mock broker, tests and benches; the consumer itself never
// encodes, so while `records` is crate-private it would otherwise warn as dead code.
#[allow(dead_code)]
mod encode;
mod fetch;
mod legacy;
mod lz4;
mod pool;
mod wire;

#[cfg(test)]
mod interop_tests;
#[cfg(test)]
mod tests;

use std::fmt;

pub use bytes::Bytes;

#[allow(unused_imports)]
pub use self::encode::{
    encode_batch, encode_batch_into, encode_batch_with, encode_control_batch, BatchOptions, ControlMarker,
    ProduceRecord,
};
pub use self::fetch::{FetchRecords, FetchTail};
pub use self::pool::BufferPool;

/// Default cap on the decompressed size of one batch: 64 MiB.
///
/// Kafka's defaults allow batches of about 1 MiB on the wire (`message.max.bytes`); 64 MiB of
/// output leaves room for very compressible data while keeping a decompression bomb from growing
/// memory without bound. A consumer whose `fetch.max.bytes` is raised should pass
/// [`DecodeOptions::max_decompressed_for_fetch`] instead.
pub const DEFAULT_MAX_DECOMPRESSED_BYTES: usize = 64 << 20;

/// A compression codec, as named by Kafka's `compression.type` setting.
///
/// The discriminant is the codec id stored in the low three bits of a batch's attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Compression {
    /// No compression (`none`).
    #[default]
    None = 0,
    /// gzip (`gzip`).
    Gzip = 1,
    /// Snappy (`snappy`); read in both the xerial framing Java writes and raw form.
    Snappy = 2,
    /// LZ4 frame format (`lz4`).
    Lz4 = 3,
    /// Zstandard (`zstd`, Kafka 2.1+, KIP-110).
    Zstd = 4,
}

impl Compression {
    /// Kafka's name for the codec, as used in `compression.type`.
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }

    /// The codec with the given attribute id (0..=4), if any.
    pub fn from_id(id: u8) -> Option<Compression> {
        Some(match id {
            0 => Compression::None,
            1 => Compression::Gzip,
            2 => Compression::Snappy,
            3 => Compression::Lz4,
            4 => Compression::Zstd,
            _ => return None,
        })
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Error returned when parsing an unknown compression name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownCompression(pub String);

impl fmt::Display for UnknownCompression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown compression type {:?} (expected none, gzip, snappy, lz4 or zstd)", self.0)
    }
}

impl std::error::Error for UnknownCompression {}

impl std::str::FromStr for Compression {
    type Err = UnknownCompression;

    /// Parses Kafka's names (`none`, `gzip`, `snappy`, `lz4`, `zstd`), ignoring ASCII case as
    /// Java's `CompressionType.forName` does not, but config files often capitalise.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let c = [
            Compression::None,
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ];
        c.into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownCompression(s.to_string()))
    }
}

/// What a record's timestamp means (Java's `TimestampType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimestampType {
    /// Magic 0 messages carry no timestamp; the record's timestamp is -1.
    NoTimestamp,
    /// Set by the producer (`CreateTime`).
    CreateTime,
    /// Set by the broker when it appended the batch (`LogAppendTime`,
    /// topic config `message.timestamp.type`).
    LogAppendTime,
}

/// One record header. Kafka header keys are UTF-8 strings on the producer side, but the wire does
/// not enforce it, so the key is kept as bytes; [`Header::key_str`] checks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Header key.
    pub key: Bytes,
    /// Header value; `None` for a null value.
    pub value: Option<Bytes>,
}

impl Header {
    /// The key as UTF-8, or `None` if it is not valid UTF-8.
    pub fn key_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.key).ok()
    }
}

/// A record fetched from a partition.
///
/// `key`, `value` and header fields share the fetched (or decompressed) buffer: keeping a record
/// alive keeps that buffer alive. Copy out (`Bytes::copy_from_slice`) what must outlive it for long.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Record {
    /// The record's offset in its partition.
    pub offset: i64,
    /// Milliseconds since the epoch; -1 when [`TimestampType::NoTimestamp`].
    pub timestamp: i64,
    /// Whether `timestamp` is the producer's or the broker's.
    pub timestamp_type: TimestampType,
    /// Key; `None` for a null key.
    pub key: Option<Bytes>,
    /// Value; `None` for a null value (a tombstone on compacted topics).
    pub value: Option<Bytes>,
    /// Headers in wire order (empty, without allocation, when the record has none).
    pub headers: Vec<Header>,
    /// The partition leader epoch of the batch (KIP-101/KIP-320), `None` for legacy messages or
    /// when the producer's broker did not set it (-1).
    pub leader_epoch: Option<i32>,
}

/// Which records of transactional producers a consumer sees (`isolation.level`, KIP-98).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum IsolationLevel {
    /// Every record, including those of open and aborted transactions (Java's default).
    #[default]
    ReadUncommitted,
    /// Only committed records; the Fetch response's aborted-transactions list must be passed.
    ReadCommitted,
}

/// One entry of a Fetch response partition's `aborted_transactions` list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AbortedTransaction {
    /// The producer whose transaction was aborted.
    pub producer_id: i64,
    /// The offset of the first record of the aborted transaction.
    pub first_offset: i64,
}

/// How [`FetchRecords`] verifies and filters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Verify each batch's CRC (CRC32C for v2, CRC32 for legacy messages), like Java's
    /// `check.crcs` (default `true`).
    pub check_crcs: bool,
    /// Filter aborted transactions or not (default read-uncommitted).
    pub isolation: IsolationLevel,
    /// Largest decompressed size of one batch; larger output is an error
    /// ([`RecordsError::DecompressedTooLarge`]), never an allocation.
    /// Default [`DEFAULT_MAX_DECOMPRESSED_BYTES`]. Besides the output, a codec's own working
    /// memory is bounded by its format: at most one 4 MiB block beyond the cap for LZ4, and the
    /// zstd window (up to 128 MiB, zstd's default limit, which Kafka's `compression.zstd.level`
    /// 20–22 may need); one zstd context is kept per decoding thread.
    pub max_decompressed_bytes: usize,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            check_crcs: true,
            isolation: IsolationLevel::ReadUncommitted,
            max_decompressed_bytes: DEFAULT_MAX_DECOMPRESSED_BYTES,
        }
    }
}

impl DecodeOptions {
    /// The decompression cap for a consumer with the given `fetch.max.bytes`:
    /// `max(64 MiB, 2 × fetch_max_bytes)`.
    pub fn max_decompressed_for_fetch(fetch_max_bytes: usize) -> usize {
        DEFAULT_MAX_DECOMPRESSED_BYTES.max(fetch_max_bytes.saturating_mul(2))
    }
}

/// Why records could not be decoded or encoded.
///
/// Decoding errors carry `offset`, the base offset of the batch (or legacy message) at fault, so
/// the consumer can report where a partition is stuck (as Java's `KafkaException` does for a
/// corrupt record).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecordsError {
    /// The bytes do not follow the batch format.
    Corrupt {
        /// Base offset of the batch at fault.
        offset: i64,
        /// What was wrong.
        reason: &'static str,
    },
    /// The stored checksum does not match the computed one (CRC32C for v2, CRC32 for magic 0/1).
    CrcMismatch {
        /// Base offset of the batch at fault.
        offset: i64,
        /// The checksum stored in the batch.
        expected: u32,
        /// The checksum computed over the bytes.
        actual: u32,
    },
    /// A magic byte other than 0, 1 or 2.
    UnsupportedMagic {
        /// Base offset of the batch at fault.
        offset: i64,
        /// The magic byte found.
        magic: i8,
    },
    /// A compression id this client does not know (attributes & 7 > 4, or zstd before magic 2).
    UnsupportedCompression {
        /// Base offset of the batch at fault.
        offset: i64,
        /// The codec id found.
        id: u8,
    },
    /// The codec rejected the compressed bytes.
    Decompression {
        /// Base offset of the batch at fault.
        offset: i64,
        /// The codec.
        compression: Compression,
        /// The codec's message.
        reason: String,
    },
    /// Decompressing a batch produced more than the configured cap (a likely decompression bomb).
    DecompressedTooLarge {
        /// Base offset of the batch at fault.
        offset: i64,
        /// The cap, [`DecodeOptions::max_decompressed_bytes`].
        limit: usize,
    },
    /// A batch could not be encoded.
    #[allow(dead_code)] // built by the encoder only
    Encode(String),
}

impl fmt::Display for RecordsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordsError::Corrupt { offset, reason } => {
                write!(f, "corrupt record batch at offset {offset}: {reason}")
            }
            RecordsError::CrcMismatch { offset, expected, actual } => write!(
                f,
                "record batch at offset {offset} failed its checksum: expected {expected:#010x}, computed {actual:#010x}"
            ),
            RecordsError::UnsupportedMagic { offset, magic } => {
                write!(f, "record batch at offset {offset} has unsupported magic {magic}")
            }
            RecordsError::UnsupportedCompression { offset, id } => {
                write!(f, "record batch at offset {offset} has unsupported compression id {id}")
            }
            RecordsError::Decompression { offset, compression, reason } => {
                write!(f, "cannot decompress {compression} record batch at offset {offset}: {reason}")
            }
            RecordsError::DecompressedTooLarge { offset, limit } => write!(
                f,
                "record batch at offset {offset} decompresses to more than the {limit}-byte limit"
            ),
            RecordsError::Encode(reason) => write!(f, "cannot encode record batch: {reason}"),
        }
    }
}

impl std::error::Error for RecordsError {}

/// Re-exports for the criterion benchmarks in `benches/records.rs`; not a stable API.
#[doc(hidden)]
#[allow(dead_code)] // used only by the benches, which need `records` reachable from outside
pub mod __bench {
    /// CRC32C as used over v2 batches.
    pub fn crc32c(data: &[u8]) -> u32 {
        crc32c::crc32c(data)
    }
}
