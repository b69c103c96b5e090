//! Bounds-checked readers for the primitive encodings used inside record batches.
//!
//! Everything here reads from a `&[u8]` at a cursor and returns `None` when the input is too
//! short or malformed; callers turn that into a [`super::RecordsError`] with context. No function
//! here can panic on any input.

/// Reads a big-endian `i16` at `pos`.
#[inline]
pub(super) fn i16_at(buf: &[u8], pos: usize) -> Option<i16> {
    let b = buf.get(pos..pos.checked_add(2)?)?;
    Some(i16::from_be_bytes([b[0], b[1]]))
}

/// Reads a big-endian `i32` at `pos`.
#[inline]
pub(super) fn i32_at(buf: &[u8], pos: usize) -> Option<i32> {
    let b = buf.get(pos..pos.checked_add(4)?)?;
    Some(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// Reads a big-endian `u32` at `pos`.
#[inline]
pub(super) fn u32_at(buf: &[u8], pos: usize) -> Option<u32> {
    i32_at(buf, pos).map(|v| v as u32)
}

/// Reads a big-endian `i64` at `pos`.
#[inline]
pub(super) fn i64_at(buf: &[u8], pos: usize) -> Option<i64> {
    let b = buf.get(pos..pos.checked_add(8)?)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    Some(i64::from_be_bytes(a))
}

/// Reads an unsigned LEB128 varint of at most `max_bytes` bytes, advancing `pos`.
///
/// Kafka's `ByteUtils.readUnsignedVarint` rejects varints longer than 5 bytes (int) or
/// 10 bytes (long); so do we, which also bounds the loop.
#[inline(always)]
fn uvarint(buf: &[u8], pos: &mut usize, max_bytes: usize) -> Option<u64> {
    let first = *buf.get(*pos)?;
    if first < 0x80 {
        // Fast path: lengths and deltas of small records fit in one byte.
        *pos += 1;
        return Some(first as u64);
    }
    let mut value = (first & 0x7f) as u64;
    let mut shift = 7;
    let mut i = *pos + 1;
    for _ in 1..max_bytes {
        let b = *buf.get(i)?;
        i += 1;
        value |= ((b & 0x7f) as u64) << shift;
        if b < 0x80 {
            *pos = i;
            return Some(value);
        }
        shift += 7;
    }
    None
}

/// Reads a zig-zag encoded signed varint (Kafka `varint`, at most 5 bytes).
#[inline(always)]
pub(super) fn varint(buf: &[u8], pos: &mut usize) -> Option<i32> {
    let v = uvarint(buf, pos, 5)? as u32;
    Some(((v >> 1) as i32) ^ -((v & 1) as i32))
}

/// Reads a zig-zag encoded signed varlong (Kafka `varlong`, at most 10 bytes).
#[inline(always)]
pub(super) fn varlong(buf: &[u8], pos: &mut usize) -> Option<i64> {
    let v = uvarint(buf, pos, 10)?;
    Some(((v >> 1) as i64) ^ -((v & 1) as i64))
}

/// Appends a zig-zag varint (Kafka `varint`).
#[inline]
pub(super) fn put_varint(out: &mut Vec<u8>, v: i32) {
    put_uvarint(out, ((v << 1) ^ (v >> 31)) as u32 as u64);
}

/// Appends a zig-zag varlong (Kafka `varlong`).
#[inline]
pub(super) fn put_varlong(out: &mut Vec<u8>, v: i64) {
    put_uvarint(out, ((v << 1) ^ (v >> 63)) as u64);
}

#[inline]
fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Size in bytes of `v` as a zig-zag varint.
#[inline]
pub(super) fn varint_len(v: i32) -> usize {
    let mut u = ((v << 1) ^ (v >> 31)) as u32;
    let mut n = 1;
    while u >= 0x80 {
        u >>= 7;
        n += 1;
    }
    n
}

/// Size in bytes of `v` as a zig-zag varlong.
#[inline]
pub(super) fn varlong_len(v: i64) -> usize {
    let mut u = ((v << 1) ^ (v >> 63)) as u64;
    let mut n = 1;
    while u >= 0x80 {
        u >>= 7;
        n += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_at_the_edges() {
        for v in [0, 1, -1, 63, -64, 64, -65, 8191, i32::MAX, i32::MIN] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            assert_eq!(out.len(), varint_len(v));
            let mut pos = 0;
            assert_eq!(varint(&out, &mut pos), Some(v));
            assert_eq!(pos, out.len());
        }
        for v in [0i64, -1, i64::MAX, i64::MIN, 1 << 40] {
            let mut out = Vec::new();
            put_varlong(&mut out, v);
            assert_eq!(out.len(), varlong_len(v));
            let mut pos = 0;
            assert_eq!(varlong(&out, &mut pos), Some(v));
            assert_eq!(pos, out.len());
        }
    }

    #[test]
    fn overlong_and_truncated_varints_are_rejected() {
        let mut pos = 0;
        assert_eq!(varint(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x01], &mut pos), None);
        assert_eq!(pos, 0);
        assert_eq!(varint(&[0x80], &mut pos), None);
        assert_eq!(varlong(&[0xff; 11], &mut pos), None);
        assert_eq!(i64_at(&[0; 7], 0), None);
        assert_eq!(i32_at(&[0; 8], usize::MAX - 1), None);
    }
}
