//! Choosing a partition for a record, the way Java's producer does — or librdkafka's, with
//! `partitioner` ([`Partitioner`]).
//!
//! * An explicit partition wins.
//! * A keyed record goes to `toPositive(murmur2(key)) % numPartitions`
//!   (`BuiltInPartitioner.partitionForKey`, which most Kafka clients copy so that the same key
//!   lands on the same partition whichever client wrote it). librdkafka defaults to
//!   `consistent_random` (CRC-32 of the key) instead, so keys written by rdkafka applications
//!   land elsewhere unless both sides choose the same `partitioner`.
//! * An unkeyed record is "sticky" (KIP-480, KIP-794): records go to one partition until about
//!   `batch.size` bytes were produced to it, then to another one chosen at random among the
//!   partitions that have a leader. Filling one batch at a time gives bigger batches and fewer
//!   requests than round-robin. (KIP-794's adaptive weighting by queue size is not done here.)
//!
//! Sans-io: the random source is passed in, so tests are deterministic.

use std::collections::HashMap;
use std::fmt;

use crate::config::ConfigError;

/// `partitioner`: where a record without an explicit partition goes. The names and hashes are
/// librdkafka's (`rd_kafka_msg_partitioner_*` in `rdkafka_msg.c`), checked against librdkafka's
/// own placement (`tests-python/partitioner_vectors.py`). Records without a key go to the
/// sticky partition whatever the choice, as in Java and librdkafka (KIP-480), except with
/// `random` and `round_robin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Partitioner {
    /// `murmur2_random` (the default): murmur2 of the key, as Java's default partitioner;
    /// librdkafka's name for the same placement.
    #[default]
    Murmur2Random,
    /// `murmur2`: the same as `murmur2_random` for every record (librdkafka sends keyless
    /// records to the sticky partition with both).
    Murmur2,
    /// `consistent_random`: CRC-32 (IEEE, zlib's) of the key modulo the partition count;
    /// an empty key is treated as no key. librdkafka's default.
    ConsistentRandom,
    /// `consistent`: CRC-32 of the key, an empty key included (it goes to partition 0).
    Consistent,
    /// `fnv1a_random`: 32-bit FNV-1a of the key.
    Fnv1aRandom,
    /// `fnv1a`: the same as `fnv1a_random` for every record.
    Fnv1a,
    /// `random`: every record to a random partition (with a leader), keyed or not.
    Random,
    /// `round_robin`: every record to the next partition (with a leader) in turn, keyed or not
    /// (Java's `RoundRobinPartitioner`).
    RoundRobin,
}

impl Partitioner {
    /// Every choice, in the order documented.
    pub const ALL: [Partitioner; 8] = [
        Partitioner::Murmur2Random,
        Partitioner::Murmur2,
        Partitioner::ConsistentRandom,
        Partitioner::Consistent,
        Partitioner::Fnv1aRandom,
        Partitioner::Fnv1a,
        Partitioner::Random,
        Partitioner::RoundRobin,
    ];

    /// The config value (librdkafka's name).
    pub fn as_str(self) -> &'static str {
        match self {
            Partitioner::Murmur2Random => "murmur2_random",
            Partitioner::Murmur2 => "murmur2",
            Partitioner::ConsistentRandom => "consistent_random",
            Partitioner::Consistent => "consistent",
            Partitioner::Fnv1aRandom => "fnv1a_random",
            Partitioner::Fnv1a => "fnv1a",
            Partitioner::Random => "random",
            Partitioner::RoundRobin => "round_robin",
        }
    }

    pub(crate) fn parse(key: &str, value: &str) -> Result<Partitioner, ConfigError> {
        let v = value.trim().to_ascii_lowercase();
        Partitioner::ALL.into_iter().find(|p| p.as_str() == v).ok_or_else(|| {
            ConfigError::invalid(
                key,
                value,
                "murmur2_random, murmur2, consistent_random, consistent, fnv1a_random, fnv1a, random or round_robin",
            )
        })
    }

    /// The partition of a record with this key among `partitions` (> 0), or `None` when the
    /// choice does not depend on the key (no key, an empty key with `consistent_random`,
    /// `random`, `round_robin`): the producer then picks the sticky, a random or the next
    /// partition.
    pub fn partition_for_key(self, key: Option<&[u8]>, partitions: i32) -> Option<i32> {
        let n = partitions.max(1);
        let key = key?;
        match self {
            Partitioner::Random | Partitioner::RoundRobin => None,
            Partitioner::ConsistentRandom if key.is_empty() => None,
            // librdkafka computes these in uint32_t: an unsigned modulo, never negative.
            Partitioner::ConsistentRandom | Partitioner::Consistent => Some((crc32fast::hash(key) % n as u32) as i32),
            // librdkafka (`rd_fnv1a`, to match Sarama's NewHashPartitioner) takes the absolute
            // value of the hash read as a signed 32-bit number before the modulo.
            Partitioner::Fnv1aRandom | Partitioner::Fnv1a => {
                Some(((fnv1a(key) as i32).wrapping_abs() as u32 % n as u32) as i32)
            }
            Partitioner::Murmur2Random | Partitioner::Murmur2 => Some(partition_for_key(key, n)),
        }
    }
}

impl fmt::Display for Partitioner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// 32-bit FNV-1a (offset basis 2166136261, prime 16777619), as librdkafka's `rd_fnv1a`.
pub(crate) fn fnv1a(data: &[u8]) -> u32 {
    data.iter().fold(0x811c_9dc5u32, |h, b| (h ^ u32::from(*b)).wrapping_mul(0x0100_0193))
}

/// Java's `RoundRobinPartitioner`: per topic, a counter that moves on with every record.
#[derive(Debug, Default)]
pub(crate) struct RoundRobin {
    next: HashMap<String, u32, super::accumulator::FastHash>,
}

impl RoundRobin {
    /// The next partition of `topic`: among `available` (partitions with a leader) when there
    /// are any, else among all (Java `RoundRobinPartitioner.partition`).
    pub(crate) fn partition(&mut self, topic: &str, partitions: i32, available: &[i32]) -> i32 {
        let counter = self.next.entry(topic.to_string()).or_insert(0);
        let i = *counter as usize;
        *counter = counter.wrapping_add(1);
        if available.is_empty() {
            (i % partitions.max(1) as usize) as i32
        } else {
            available[i % available.len()]
        }
    }
}

/// A random partition among `available` (or all): `partitioner=random`.
pub(crate) fn random_partition(partitions: i32, available: &[i32], random: u32) -> i32 {
    pick(partitions, available, None, random)
}

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
    /// Looked up twice per unkeyed record: foldhash, not SipHash (see `accumulator::FastHash`).
    topics: HashMap<String, Sticky, super::accumulator::FastHash>,
}

#[derive(Debug, Clone, Copy)]
struct Sticky {
    partition: i32,
    /// Bytes produced to `partition` since it was chosen.
    produced: usize,
}

impl StickyPartitioner {
    pub(crate) fn new(batch_size: usize) -> Self {
        StickyPartitioner { batch_size, topics: HashMap::default() }
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

    /// librdkafka's own placement of ~100 keys (empty, UTF-8, binary, long) under each of its
    /// hashing partitioners, over 1 to 100 partitions: written by
    /// `tests-python/partitioner_vectors.py --write` from confluent-kafka's delivery reports
    /// against the mock, and re-checked against librdkafka by `scripts/test.sh`.
    #[test]
    fn partitioner_matches_librdkafka() {
        let doc: serde_json::Value = serde_json::from_str(include_str!("librdkafka_partitions.json")).unwrap();
        let vectors = doc["vectors"].as_array().unwrap();
        let mut checked = 0;
        for v in vectors {
            let p = Partitioner::parse("partitioner", v["partitioner"].as_str().unwrap()).unwrap();
            let hex = v["key_hex"].as_str().unwrap();
            let key: Vec<u8> = (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect();
            for (n, want) in v["by_count"].as_object().unwrap() {
                let n: i32 = n.parse().unwrap();
                let want = want.as_i64().unwrap() as i32;
                match p.partition_for_key(Some(&key), n) {
                    Some(got) => assert_eq!(got, want, "{p} of {hex:?} over {n} partitions"),
                    // Keyless placement (sticky): librdkafka's choice is random, nothing to compare.
                    None => assert!(key.is_empty() && p == Partitioner::ConsistentRandom, "{p} {hex:?}"),
                }
                checked += 1;
            }
        }
        assert!(checked >= 3000, "only {checked} vectors");
    }

    #[test]
    fn crc32_and_fnv1a_reference_values() {
        // CRC-32/ISO-HDLC check value and FNV-1a test vectors (draft-eastlake-fnv).
        assert_eq!(crc32fast::hash(b"123456789"), 0xcbf4_3926);
        assert_eq!(fnv1a(b""), 0x811c_9dc5);
        assert_eq!(fnv1a(b"a"), 0xe40c_292c);
        assert_eq!(fnv1a(b"foobar"), 0xbf9c_f968);
        // Keys without a hash placement.
        assert_eq!(Partitioner::Murmur2Random.partition_for_key(None, 6), None);
        assert_eq!(Partitioner::ConsistentRandom.partition_for_key(Some(b""), 6), None);
        assert_eq!(Partitioner::Consistent.partition_for_key(Some(b""), 6), Some(0));
        assert_eq!(Partitioner::Random.partition_for_key(Some(b"k"), 6), None);
    }

    #[test]
    fn round_robin_cycles_over_partitions_with_a_leader() {
        let mut rr = RoundRobin::default();
        let got: Vec<i32> = (0..5).map(|_| rr.partition("t", 4, &[1, 3])).collect();
        assert_eq!(got, [1, 3, 1, 3, 1]);
        let got: Vec<i32> = (0..5).map(|_| rr.partition("u", 3, &[])).collect();
        assert_eq!(got, [0, 1, 2, 0, 1]);
    }

    #[test]
    fn partitioner_names_parse_and_print() {
        for p in Partitioner::ALL {
            assert_eq!(Partitioner::parse("partitioner", &p.as_str().to_uppercase()).unwrap(), p);
        }
        assert!(Partitioner::parse("partitioner", "sticky").is_err());
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
