//! Valid response bodies written from the guard's layouts: the other direction of the walk.
//!
//! The tests decode them with `kafka-protocol` (which must read every byte, proving that the
//! layout and the decoder agree field by field, tag by tag) and the fuzz targets start from them,
//! so every API has seeds without a hand-written sample per API.

use kafka_protocol::messages::ApiKey;

use super::{schema, Struct, Ty};

/// A valid body of `api_key`'s response at `version`, its values drawn from `seed`: arrays of
/// up to two elements (fewer when nested deep), short ASCII strings, nullable structs sometimes
/// null, each known tagged field half of the time and sometimes an unknown tag. `None` when the
/// guard has no layout for that API and version.
pub(crate) fn sample_body(api_key: ApiKey, version: i16, seed: u64) -> Option<Vec<u8>> {
    let s = schema(api_key as i16)?;
    if version < s.versions.0 || version > s.versions.1 {
        return None;
    }
    let mut w = Writer { out: Vec::new(), version, flexible: version >= s.flexible_from, rng: seed | 1, depth: 0 };
    w.write(s.body);
    Some(w.out)
}

/// A tag number no Kafka response uses, for the "unknown tagged field" path.
const UNKNOWN_TAG: u32 = 1000;

struct Writer {
    out: Vec<u8>,
    version: i16,
    flexible: bool,
    rng: u64,
    depth: u32,
}

impl Writer {
    /// xorshift64*: deterministic, so a failing seed reproduces.
    fn next(&mut self) -> u64 {
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn uvarint(&mut self, mut v: u32) {
        while v >= 0x80 {
            self.out.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.out.push(v as u8);
    }

    fn length(&mut self, n: usize, wide: bool) {
        if self.flexible {
            self.uvarint(n as u32 + 1);
        } else if wide {
            self.out.extend_from_slice(&(n as i32).to_be_bytes());
        } else {
            self.out.extend_from_slice(&(n as i16).to_be_bytes());
        }
    }

    fn random(&mut self, n: usize) {
        for _ in 0..n {
            let b = self.next() as u8;
            self.out.push(b);
        }
    }

    fn write(&mut self, s: &Struct) {
        self.depth += 1;
        for f in s.fields {
            if self.version >= f.min && self.version <= f.max {
                self.value(f.ty);
            }
        }
        if self.flexible {
            let mut tags: Vec<(u32, Vec<u8>)> = Vec::new();
            for t in s.tagged {
                if self.version >= t.min && self.version <= t.max && self.below(2) == 0 {
                    tags.push((t.tag, self.scratch(|w| w.value(t.ty))));
                }
            }
            if self.below(4) == 0 {
                tags.push((UNKNOWN_TAG, self.scratch(|w| w.random(3))));
            }
            self.uvarint(tags.len() as u32);
            for (tag, bytes) in tags {
                self.uvarint(tag);
                self.uvarint(bytes.len() as u32);
                self.out.extend_from_slice(&bytes);
            }
        }
        self.depth -= 1;
    }

    /// Writes with `f` into a buffer of its own (a tagged field's value, for its size).
    fn scratch(&mut self, f: impl FnOnce(&mut Writer)) -> Vec<u8> {
        let outer = std::mem::take(&mut self.out);
        f(self);
        std::mem::replace(&mut self.out, outer)
    }

    fn value(&mut self, ty: Ty) {
        match ty {
            Ty::Bool => {
                let b = self.below(2) as u8;
                self.out.push(b);
            }
            Ty::I8 => self.random(1),
            Ty::I16 | Ty::U16 => self.random(2),
            Ty::I32 => self.random(4),
            Ty::I64 => self.random(8),
            // A finite value, so decoded messages compare equal to themselves.
            Ty::F64 => {
                let v = self.below(1000) as f64 / 4.0;
                self.out.extend_from_slice(&v.to_be_bytes());
            }
            Ty::Uuid => self.random(16),
            Ty::Str => {
                let n = self.below(5) as usize;
                self.length(n, false);
                for _ in 0..n {
                    let c = b'a' + self.below(26) as u8;
                    self.out.push(c);
                }
            }
            Ty::Bytes => {
                let n = self.below(7) as usize;
                self.length(n, true);
                self.random(n);
            }
            Ty::Arr(elem) => {
                let n = if self.depth > 4 { 0 } else { self.below(3) as usize };
                self.length(n, true);
                for _ in 0..n {
                    self.value(*elem);
                }
            }
            Ty::Obj(s) => self.write(s),
            Ty::NullableObj(s) => {
                if self.below(4) == 0 {
                    self.out.push(0xff);
                } else {
                    self.out.push(1);
                    self.write(s);
                }
            }
        }
    }
}
