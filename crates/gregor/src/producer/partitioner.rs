//! Choosing a partition for a record, the way Java's producer does.
//!
//! * An explicit partition wins.
//! * A keyed record goes to `toPositive(murmur2(key)) % numPartitions`
//!   (`BuiltInPartitioner.partitionForKey`, which every Kafka client copies so that the same key
//!   lands on the same partition whichever client wrote it).
//! * An unkeyed record is "sticky" (KIP-480, KIP-794): records go to one partition until about
//!   `batch.size` bytes were produced to it, then to another one chosen at random among the
//!   partitions that have a leader. Filling one batch at a time gives bigger batches and fewer
//!   requests than round-robin. (KIP-794's adaptive weighting by queue size is not done here.)
//!
//! Sans-io: the random source is passed in, so tests are deterministic.

use std::collections::HashMap;

/// Kafka's murmur2 (`org.apache.kafka.common.utils.Utils.murmur2`): MurmurHash2, 32 bit, with
/// seed `0x9747b28c`, reading the input as little-endian 4-byte words. Must match Java bit for bit.
pub(crate) fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let len = data.len();
    // Java: `int h = seed ^ length` — the length as a (wrapping) 32-bit int.
    let mut h: u32 = SEED ^ (len as u32);
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = chunks.remainder();
    // Java's switch falls through: 3 → 2 → 1, and multiplies once at the end of case 1.
    if tail.len() >= 3 {
        h ^= (tail[2] as u32) << 16;
    }
    if tail.len() >= 2 {
        h ^= (tail[1] as u32) << 8;
    }
    if !tail.is_empty() {
        h ^= tail[0] as u32;
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// Java's `Utils.toPositive`: clears the sign bit (not `abs`, which overflows on `i32::MIN`).
pub(crate) fn to_positive(x: i32) -> i32 {
    x & 0x7fff_ffff
}

/// The partition of a keyed record among `partitions` (> 0).
pub(crate) fn partition_for_key(key: &[u8], partitions: i32) -> i32 {
    debug_assert!(partitions > 0);
    to_positive(murmur2(key)) % partitions.max(1)
}

/// Sticky partition choice for unkeyed records, per topic.
#[derive(Debug)]
pub(crate) struct StickyPartitioner {
    /// `batch.size`: bytes produced to the sticky partition before moving on.
    batch_size: usize,
    topics: HashMap<String, Sticky>,
}

#[derive(Debug, Clone, Copy)]
struct Sticky {
    partition: i32,
    /// Bytes produced to `partition` since it was chosen.
    produced: usize,
}

impl StickyPartitioner {
    pub(crate) fn new(batch_size: usize) -> Self {
        StickyPartitioner { batch_size, topics: HashMap::new() }
    }

    /// The partition for the next unkeyed record of `topic`. `available` are the partitions with
    /// a leader (all partitions if none has one); `random` is any random number.
    pub(crate) fn partition(&mut self, topic: &str, partitions: i32, available: &[i32], random: u32) -> i32 {
        if let Some(s) = self.topics.get(topic) {
            if s.partition < partitions {
                return s.partition;
            }
        }
        let p = pick(partitions, available, None, random);
        self.topics.insert(topic.to_string(), Sticky { partition: p, produced: 0 });
        p
    }

    /// Records that `bytes` went to `partition` of `topic`; once `batch_size` bytes went to the
    /// sticky partition, the next unkeyed record moves to another one (KIP-794: switch after
    /// `batch.size` bytes, not on every new batch, so a partition whose batches are sent early
    /// by `linger.ms` still gets its share).
    pub(crate) fn on_append(
        &mut self,
        topic: &str,
        partition: i32,
        bytes: usize,
        partitions: i32,
        available: &[i32],
        random: u32,
    ) {
        let batch_size = self.batch_size;
        let Some(s) = self.topics.get_mut(topic) else { return };
        if s.partition != partition {
            return;
        }
        s.produced += bytes;
        if s.produced >= batch_size {
            let next = pick(partitions, available, Some(partition), random);
            *s = Sticky { partition: next, produced: 0 };
        }
    }
}

/// A random partition among `available` (or all), avoiding `previous` when there is a choice.
fn pick(partitions: i32, available: &[i32], previous: Option<i32>, random: u32) -> i32 {
    let all: Vec<i32>;
    let candidates: &[i32] = if available.is_empty() {
        all = (0..partitions.max(1)).collect();
        &all
    } else {
        available
    };
    let filtered: Vec<i32> = candidates.iter().copied().filter(|p| Some(*p) != previous).collect();
    let from = if filtered.is_empty() { candidates } else { &filtered[..] };
    from[(random as usize) % from.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values printed by `org.apache.kafka.common.utils.Utils.murmur2` from kafka-clients 4.3.1
    /// (a throwaway Java program, run once), with the partitions Java picks out of 6 and 7.
    const JAVA: &[(&str, i32, i32, i32)] = &[
        ("21", -973932308, 0, 3),
        ("foobar", -790332482, 0, 0),
        ("a-little-bit-long-string", -985981536, 2, 1),
        ("a-little-bit-longer-string", -1486304829, 5, 0),
        ("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971, 5, 3),
        ("abc", 479470107, 3, 4),
        ("", 275646681, 3, 2),
        ("k", -1567496736, 2, 1),
        ("key-0", 29210041, 1, 0),
        ("key-1", 193331640, 0, 5),
        ("key-12345", -952703915, 3, 0),
    ];

    #[test]
    fn murmur2_matches_java_utils_murmur2() {
        for &(key, hash, p6, p7) in JAVA {
            assert_eq!(murmur2(key.as_bytes()), hash, "murmur2({key:?})");
            assert_eq!(partition_for_key(key.as_bytes(), 6), p6, "{key:?} of 6");
            assert_eq!(partition_for_key(key.as_bytes(), 7), p7, "{key:?} of 7");
        }
    }

    #[test]
    fn to_positive_clears_the_sign_bit_without_overflow() {
        assert_eq!(to_positive(i32::MIN), 0);
        assert_eq!(to_positive(-1), i32::MAX);
        assert_eq!(to_positive(5), 5);
    }

    #[test]
    fn sticky_partition_holds_until_batch_size_bytes_then_moves() {
        let mut s = StickyPartitioner::new(1000);
        let avail = [0, 1, 2, 3];
        let p = s.partition("t", 4, &avail, 1);
        assert_eq!(p, 1);
        s.on_append("t", p, 600, 4, &avail, 7);
        assert_eq!(s.partition("t", 4, &avail, 99), 1, "still under batch.size");
        s.on_append("t", p, 600, 4, &avail, 0);
        let q = s.partition("t", 4, &avail, 99);
        assert_ne!(q, 1, "moved on after batch.size bytes");
        assert_eq!(q, 0);
    }

    #[test]
    fn sticky_partition_prefers_partitions_with_a_leader() {
        let mut s = StickyPartitioner::new(1000);
        for r in 0..20 {
            let mut s2 = StickyPartitioner::new(1000);
            assert_eq!(s2.partition("t", 8, &[5], r), 5);
        }
        assert_eq!(s.partition("t", 3, &[], 4), 1, "no leader known: any partition");
    }

    #[test]
    fn sticky_partition_is_rechosen_when_partition_count_shrinks_below_it() {
        let mut s = StickyPartitioner::new(1000);
        assert_eq!(s.partition("t", 8, &[], 7), 7);
        assert_eq!(s.partition("t", 4, &[], 6), 2);
    }
}
