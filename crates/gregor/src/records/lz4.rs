//! LZ4 frame decoding straight into one output buffer.
//!
//! Kafka's LZ4 codec is the LZ4 frame format (`KafkaLZ4BlockOutputStream`), written by Java with
//! independent 64 KiB blocks and no checksums. For such frames (independent blocks, with or without
//! checksums) blocks are decompressed here directly into the batch's buffer, skipping the copy and
//! per-frame buffers of a streaming reader; frames with linked blocks (which the lz4 C library
//! writes by default) take the streaming decoder.

use super::compression::{fix_lz4_header_checksum, read_capped_into};
use super::{Compression, RecordsError};

const FRAME_MAGIC: u32 = 0x184D_2204;
const FLG_INDEPENDENT: u8 = 0x20;
const FLG_BLOCK_CHECKSUM: u8 = 0x10;
const FLG_CONTENT_SIZE: u8 = 0x08;
const FLG_CONTENT_CHECKSUM: u8 = 0x04;
const FLG_DICT_ID: u8 = 0x01;
const FLG_RESERVED: u8 = 0x02;

/// Decompresses Kafka LZ4 data (`magic` is the message format: 0 ignores the header checksum,
/// which Kafka before 0.10 computed wrongly, KAFKA-3160).
#[cfg(test)]
pub(super) fn decompress(input: &[u8], cap: usize, magic: i8, offset: i64) -> Result<Vec<u8>, RecordsError> {
    let mut out = Vec::new();
    let n = decompress_into(input, cap, magic, offset, &mut out)?;
    out.truncate(n);
    Ok(out)
}

/// [`decompress`] into `out[..n]`, returning `n`; `out` is reusable scratch (see
/// `compression::decompress_into`).
pub(super) fn decompress_into(
    input: &[u8],
    cap: usize,
    magic: i8,
    offset: i64,
    out: &mut Vec<u8>,
) -> Result<usize, RecordsError> {
    let err = |reason: &str| RecordsError::Decompression { offset, compression: Compression::Lz4, reason: reason.into() };
    match fast(input, cap, magic, out) {
        Ok(n) => Ok(n),
        Err(Fast::TooLarge) => Err(RecordsError::DecompressedTooLarge { offset, limit: cap }),
        Err(Fast::Bad(reason)) => Err(err(reason)),
        Err(Fast::Unsupported) => {
            let hint = input.len().saturating_mul(4).clamp(1024, cap.max(1));
            if magic == 0 {
                let fixed = fix_lz4_header_checksum(input).ok_or_else(|| err("bad frame header"))?;
                read_capped_into(lz4_flex::frame::FrameDecoder::new(&fixed[..]), cap, hint, offset, Compression::Lz4, out)
            } else {
                read_capped_into(lz4_flex::frame::FrameDecoder::new(input), cap, hint, offset, Compression::Lz4, out)
            }
        }
    }
}

enum Fast {
    /// A frame feature the fast path leaves to the streaming decoder (linked blocks, dictionary,
    /// legacy frames).
    Unsupported,
    TooLarge,
    Bad(&'static str),
}

fn le32(b: &[u8], at: usize) -> Result<u32, Fast> {
    let s = b.get(at..at.checked_add(4).ok_or(Fast::Bad("truncated"))?).ok_or(Fast::Bad("truncated frame"))?;
    Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// Writes the decompressed bytes at `out[..n]` and returns `n`. `out` may hold initialised room
/// from an earlier batch: it is only ever grown, so reused room is not zeroed again.
fn fast(input: &[u8], cap: usize, magic: i8, out: &mut Vec<u8>) -> Result<usize, Fast> {
    let mut filled = 0usize;
    let mut pos = 0usize;
    while pos < input.len() {
        let m = le32(input, pos)?;
        if (0x184D_2A50..=0x184D_2A5F).contains(&m) {
            // Skippable frame: magic, u32 size, payload.
            let n = le32(input, pos + 4)? as usize;
            pos = pos.checked_add(8 + n).filter(|&p| p <= input.len()).ok_or(Fast::Bad("truncated skippable frame"))?;
            continue;
        }
        if m != FRAME_MAGIC {
            return if pos == 0 { Err(Fast::Unsupported) } else { Err(Fast::Bad("bad frame magic")) };
        }
        let flg = *input.get(pos + 4).ok_or(Fast::Bad("truncated frame header"))?;
        let bd = *input.get(pos + 5).ok_or(Fast::Bad("truncated frame header"))?;
        if flg >> 6 != 1 || flg & FLG_RESERVED != 0 || bd & 0x8f != 0 {
            return Err(Fast::Bad("unsupported frame version or reserved bits set"));
        }
        if flg & FLG_INDEPENDENT == 0 || flg & FLG_DICT_ID != 0 {
            return Err(Fast::Unsupported);
        }
        let desc_len = 2 + if flg & FLG_CONTENT_SIZE != 0 { 8 } else { 0 };
        let desc = input.get(pos + 4..pos + 4 + desc_len).ok_or(Fast::Bad("truncated frame header"))?;
        let hc = *input.get(pos + 4 + desc_len).ok_or(Fast::Bad("truncated frame header"))?;
        if magic != 0 && hc != (xxh32(desc, 0) >> 8) as u8 {
            return Err(Fast::Bad("frame header checksum mismatch"));
        }
        let block_max = match (bd >> 4) & 7 {
            4 => 64 << 10,
            5 => 256 << 10,
            6 => 1 << 20,
            7 => 4 << 20,
            _ => return Err(Fast::Bad("unsupported block size")),
        };
        if filled == 0 {
            // A declared content size is a hint only (hostile): bounded by the cap.
            let declared = if flg & FLG_CONTENT_SIZE != 0 { le32(desc, 2)? as usize } else { 0 };
            // LZ4 expands at most ~255x, which bounds what a hostile declared size can make us allocate.
            let declared = declared.min(input.len().saturating_mul(255));
            let guess = input.len().saturating_mul(4).max(declared).max(block_max);
            let guess = guess.min(cap.saturating_add(block_max));
            if out.len() < guess {
                out.resize(guess, 0);
            }
        }
        pos += 4 + desc_len + 1;
        let frame_start = filled;
        loop {
            let word = le32(input, pos)?;
            pos += 4;
            if word == 0 {
                break; // end mark
            }
            let n = (word & 0x7fff_ffff) as usize;
            if n > block_max {
                return Err(Fast::Bad("block larger than the frame's block size"));
            }
            let block = input.get(pos..pos + n).ok_or(Fast::Bad("truncated block"))?;
            pos += n;
            if flg & FLG_BLOCK_CHECKSUM != 0 {
                if le32(input, pos)? != xxh32(block, 0) {
                    return Err(Fast::Bad("block checksum mismatch"));
                }
                pos += 4;
            }
            if filled > cap {
                return Err(Fast::TooLarge);
            }
            if out.len() < filled + block_max {
                // Grow geometrically; zeroing happens once per byte of capacity.
                let want = (filled + block_max).max(out.len().saturating_mul(2));
                out.resize(want.min(cap.saturating_add(block_max)), 0);
            }
            if word & 0x8000_0000 != 0 {
                out[filled..filled + n].copy_from_slice(block);
                filled += n;
            } else {
                filled += lz4_flex::block::decompress_into(block, &mut out[filled..filled + block_max])
                    .map_err(|_| Fast::Bad("corrupt block"))?;
            }
        }
        if flg & FLG_CONTENT_CHECKSUM != 0 {
            if le32(input, pos)? != xxh32(&out[frame_start..filled], 0) {
                return Err(Fast::Bad("content checksum mismatch"));
            }
            pos += 4;
        }
    }
    if filled > cap {
        return Err(Fast::TooLarge);
    }
    Ok(filled)
}

/// xxHash32 (the checksum of the LZ4 frame format).
pub(super) fn xxh32(data: &[u8], seed: u32) -> u32 {
    const P1: u32 = 2_654_435_761;
    const P2: u32 = 2_246_822_519;
    const P3: u32 = 3_266_489_917;
    const P4: u32 = 668_265_263;
    const P5: u32 = 374_761_393;
    #[inline(always)]
    fn round(acc: u32, lane: u32) -> u32 {
        acc.wrapping_add(lane.wrapping_mul(P2)).rotate_left(13).wrapping_mul(P1)
    }
    let rd = |c: &[u8]| u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
    let mut rest = data;
    let mut h = if data.len() >= 16 {
        let mut v = [
            seed.wrapping_add(P1).wrapping_add(P2),
            seed.wrapping_add(P2),
            seed,
            seed.wrapping_sub(P1),
        ];
        let mut stripes = data.chunks_exact(16);
        for s in &mut stripes {
            v[0] = round(v[0], rd(&s[0..4]));
            v[1] = round(v[1], rd(&s[4..8]));
            v[2] = round(v[2], rd(&s[8..12]));
            v[3] = round(v[3], rd(&s[12..16]));
        }
        rest = stripes.remainder();
        v[0].rotate_left(1)
            .wrapping_add(v[1].rotate_left(7))
            .wrapping_add(v[2].rotate_left(12))
            .wrapping_add(v[3].rotate_left(18))
    } else {
        seed.wrapping_add(P5)
    };
    h = h.wrapping_add(data.len() as u32);
    let mut words = rest.chunks_exact(4);
    for w in &mut words {
        h = h.wrapping_add(rd(w).wrapping_mul(P3)).rotate_left(17).wrapping_mul(P4);
    }
    for &b in words.remainder() {
        h = h.wrapping_add((b as u32).wrapping_mul(P5)).rotate_left(11).wrapping_mul(P1);
    }
    h ^= h >> 15;
    h = h.wrapping_mul(P2);
    h ^= h >> 13;
    h = h.wrapping_mul(P3);
    h ^ (h >> 16)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn xxh32_matches_reference_values() {
        assert_eq!(xxh32(b"", 0), 0x02CC_5D05);
        assert_eq!(xxh32(b"a", 0), 0x550D_7456);
        assert_eq!(xxh32(b"abc", 0), 0x32D1_53FF);
        assert_eq!(xxh32(b"Nobody inspects the spammish repetition", 0), 0xE229_3B2F);
    }

    fn frame(info: lz4_flex::frame::FrameInfo, data: &[u8]) -> Vec<u8> {
        let mut enc = lz4_flex::frame::FrameEncoder::with_frame_info(info, Vec::new());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn frames_with_checksums_sizes_and_linked_blocks_all_decode() {
        use lz4_flex::frame::{BlockMode, BlockSize, FrameInfo};
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 97) as u8 ^ (i / 1000) as u8).collect();
        let infos = [
            FrameInfo::new(),
            FrameInfo::new().block_checksums(true).content_checksum(true),
            FrameInfo::new().content_size(Some(data.len() as u64)).block_size(BlockSize::Max256KB),
            FrameInfo::new().block_mode(BlockMode::Linked),
        ];
        for info in infos {
            let z = frame(info.clone(), &data);
            assert_eq!(decompress(&z, 1 << 20, 2, 0).unwrap(), data, "{info:?}");
            assert_eq!(
                decompress(&z, 200_000, 2, 0),
                Err(RecordsError::DecompressedTooLarge { offset: 0, limit: 200_000 }),
                "{info:?}"
            );
        }
        // Concatenated frames, as a producer flushing twice would write.
        let mut two = frame(FrameInfo::new(), &data[..1000]);
        two.extend(frame(FrameInfo::new(), &data[1000..2000]));
        assert_eq!(decompress(&two, 1 << 20, 2, 0).unwrap(), &data[..2000]);
    }

    #[test]
    fn a_corrupt_content_checksum_is_detected() {
        let mut z = frame(lz4_flex::frame::FrameInfo::new().content_checksum(true), b"some payload bytes");
        let n = z.len();
        z[n - 1] ^= 1;
        assert!(matches!(decompress(&z, 1 << 20, 2, 0), Err(RecordsError::Decompression { .. })));
    }
}
