//! Payloads for the malformed-fetch faults: a batch with a broken CRC and a gzip bomb.

use std::sync::OnceLock;

use bytes::{BufMut, Bytes, BytesMut};

/// Inflated size of the decompression bomb.
pub(crate) const BOMB_INFLATED: usize = 256 << 20;

/// Copy of `records` with the first batch's CRC field flipped.
pub(crate) fn corrupt_crc(records: &Bytes) -> Bytes {
    let mut b = BytesMut::from(&records[..]);
    if b.len() > 20 {
        for x in &mut b[17..21] {
            *x ^= 0xA5;
        }
    }
    b.freeze()
}

/// gzip stream inflating to `BOMB_INFLATED` zero bytes, built without compressing them all:
/// one sync-flushed raw deflate block of 1 MiB zeros is byte aligned and self-contained
/// (its back-references stay inside it), so copies of it concatenate into a valid stream.
fn gzip_payload() -> &'static Bytes {
    static BOMB: OnceLock<Bytes> = OnceLock::new();
    BOMB.get_or_init(|| {
        const CHUNK: usize = 1 << 20;
        let zeros = vec![0u8; CHUNK];
        let mut c = flate2::Compress::new(flate2::Compression::best(), false);
        let mut block = Vec::with_capacity(8192);
        let _ = c.compress_vec(&zeros, &mut block, flate2::FlushCompress::Sync);
        let mut out = BytesMut::new();
        out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
        for _ in 0..BOMB_INFLATED / CHUNK {
            out.extend_from_slice(&block);
        }
        out.extend_from_slice(&[0x03, 0x00]); // final, fixed-Huffman, empty block
        let mut crc = flate2::Crc::new();
        for _ in 0..BOMB_INFLATED / CHUNK {
            crc.update(&zeros);
        }
        out.put_u32_le(crc.sum());
        out.put_u32_le(BOMB_INFLATED as u32);
        out.freeze()
    })
}

/// A v2 batch (valid CRC, gzip attribute) claiming one record, whose payload is the bomb.
/// The base offset is taken from the first batch of `records` so the client accepts it.
pub(crate) fn gzip_bomb(records: &Bytes) -> Bytes {
    let base = if records.len() >= 8 {
        i64::from_be_bytes(records[..8].try_into().unwrap_or([0; 8]))
    } else {
        0
    };
    let payload = gzip_payload();
    let mut after_crc = BytesMut::new();
    after_crc.put_i16(1); // attributes: gzip
    after_crc.put_i32(0); // lastOffsetDelta
    after_crc.put_i64(0); // firstTimestamp
    after_crc.put_i64(0); // maxTimestamp
    after_crc.put_i64(-1); // producerId
    after_crc.put_i16(-1); // producerEpoch
    after_crc.put_i32(-1); // baseSequence
    after_crc.put_i32(1); // records count
    after_crc.extend_from_slice(payload);
    let mut b = BytesMut::new();
    b.put_i64(base);
    b.put_i32((4 + 1 + 4 + after_crc.len()) as i32);
    b.put_i32(-1); // partitionLeaderEpoch
    b.put_i8(2);
    b.put_u32(crc32c::crc32c(&after_crc));
    b.extend_from_slice(&after_crc);
    b.freeze()
}
