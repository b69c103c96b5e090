//! Tests of the embedded protocol codec, range, roundrobin and the module helpers.

use super::protocol::*;
use super::*;

/// A small deterministic PRNG (xorshift64*) so randomized tests are reproducible.
pub(super) struct Rng(u64);

impl Rng {
    pub(super) fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub(super) fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform-ish in `0..n` (n > 0).
    pub(super) fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
    pub(super) fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }
}

pub(super) fn tp(topic: &str, partition: i32) -> TopicPartition {
    TopicPartition::new(topic, partition)
}

pub(super) fn member(id: &str, topics: &[&str]) -> GroupMember {
    GroupMember {
        member_id: id.to_owned(),
        group_instance_id: None,
        subscription: Subscription {
            topics: topics.iter().map(|t| t.to_string()).collect(),
            ..Default::default()
        },
    }
}

pub(super) fn cluster(topics: &[(&str, i32)]) -> ClusterTopics {
    topics
        .iter()
        .map(|(t, n)| (t.to_string(), TopicInfo::new(*n)))
        .collect()
}

/// Partitions of `member` as "t0p1"-style strings, sorted.
pub(super) fn names(out: &GroupAssignment, member: &str) -> Vec<String> {
    let mut v: Vec<String> = out[member]
        .partitions
        .iter()
        .map(|tp| format!("{}p{}", tp.topic, tp.partition))
        .collect();
    v.sort();
    v
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

// ---------------------------------------------------------------------------------------------
// Embedded protocol

/// Java-layout bytes built by hand: int16 version, then the classic encoding of each field.
struct Wire(Vec<u8>);

impl Wire {
    fn new(version: i16) -> Self {
        Wire(version.to_be_bytes().to_vec())
    }
    fn i32(mut self, v: i32) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn str(mut self, v: &str) -> Self {
        self.0.extend_from_slice(&(v.len() as i16).to_be_bytes());
        self.0.extend_from_slice(v.as_bytes());
        self
    }
    fn null_str(mut self) -> Self {
        self.0.extend_from_slice(&(-1i16).to_be_bytes());
        self
    }
    fn bytes(mut self, v: Option<&[u8]>) -> Self {
        match v {
            None => self.i32(-1),
            Some(b) => {
                self = self.i32(b.len() as i32);
                self.0.extend_from_slice(b);
                self
            }
        }
    }
    /// `[topic, [partitions]]`
    fn topic_parts(mut self, v: &[(&str, &[i32])]) -> Self {
        self = self.i32(v.len() as i32);
        for (t, ps) in v {
            self = self.str(t).i32(ps.len() as i32);
            for p in *ps {
                self = self.i32(*p);
            }
        }
        self
    }
}

fn java_subscription(version: i16) -> Vec<u8> {
    let mut w = Wire::new(version)
        .i32(2)
        .str("t0")
        .str("t1")
        .bytes(Some(&[0, 0, 0, 7]));
    if version >= 1 {
        w = w.topic_parts(&[("t0", &[0, 2]), ("t1", &[1])]);
    }
    if version >= 2 {
        w = w.i32(7);
    }
    if version >= 3 {
        w = w.str("rack-a");
    }
    w.0
}

fn full_subscription() -> Subscription {
    Subscription {
        // Deliberately unsorted: the encoder sorts like Java.
        topics: s(&["t1", "t0"]),
        user_data: Some(Bytes::from_static(&[0, 0, 0, 7])),
        owned_partitions: vec![tp("t1", 1), tp("t0", 2), tp("t0", 0)],
        generation_id: Some(7),
        rack_id: Some("rack-a".into()),
    }
}

/// What survives encoding at `version` (fields the version lacks are dropped).
fn expected_at(version: i16) -> Subscription {
    let mut want = full_subscription();
    want.topics.sort();
    want.owned_partitions.sort();
    if version < 1 {
        want.owned_partitions.clear();
    }
    if version < 2 {
        want.generation_id = None;
    }
    if version < 3 {
        want.rack_id = None;
    }
    want
}

#[test]
fn subscription_encodes_to_java_layout_at_every_version() {
    for version in 0..=3 {
        let bytes = encode_subscription(&full_subscription(), version).unwrap();
        assert_eq!(
            bytes.as_ref(),
            java_subscription(version).as_slice(),
            "v{version}"
        );
    }
}

#[test]
fn subscription_decodes_java_bytes_at_every_version() {
    for version in 0..=3 {
        let got = decode_subscription(&java_subscription(version)).unwrap();
        assert_eq!(got, expected_at(version), "v{version}");
    }
}

#[test]
fn subscription_round_trips_at_every_version() {
    for version in 0..=3 {
        let bytes = encode_subscription(&full_subscription(), version).unwrap();
        assert_eq!(decode_subscription(&bytes).unwrap(), expected_at(version));
    }
    let minimal = Subscription {
        topics: s(&["only"]),
        ..Default::default()
    };
    for version in 0..=3 {
        let bytes = encode_subscription(&minimal, version).unwrap();
        assert_eq!(decode_subscription(&bytes).unwrap(), minimal);
    }
}

#[test]
fn subscription_null_rack_and_minus_one_generation_read_as_none() {
    let bytes = Wire::new(3)
        .i32(1)
        .str("t")
        .bytes(None)
        .topic_parts(&[])
        .i32(-1)
        .null_str()
        .0;
    let got = decode_subscription(&bytes).unwrap();
    assert_eq!(got.generation_id, None);
    assert_eq!(got.rack_id, None);
    assert_eq!(got.user_data, None);
    let empty_rack = Wire::new(3)
        .i32(1)
        .str("t")
        .bytes(None)
        .topic_parts(&[])
        .i32(3)
        .str("")
        .0;
    assert_eq!(decode_subscription(&empty_rack).unwrap().rack_id, None);
}

#[test]
fn subscription_from_a_newer_version_is_read_as_the_newest_known() {
    // A future v4 appends a field; Java parses it as v3 and ignores the rest.
    let mut bytes = java_subscription(3);
    bytes[0..2].copy_from_slice(&4i16.to_be_bytes());
    bytes.extend_from_slice(&[0, 0, 0, 42, 0xde, 0xad]);
    assert_eq!(decode_subscription(&bytes).unwrap(), expected_at(3));
    // Encoding at a version we do not know writes the newest.
    let enc = encode_subscription(&full_subscription(), 9).unwrap();
    assert_eq!(enc.as_ref(), java_subscription(3).as_slice());
}

#[test]
fn subscription_rejects_negative_version_and_every_truncation() {
    let mut neg = java_subscription(1);
    neg[0..2].copy_from_slice(&(-1i16).to_be_bytes());
    assert!(decode_subscription(&neg).unwrap_err().is_decode());
    for version in 0..=3 {
        let full = java_subscription(version);
        for cut in 0..full.len() {
            let err = decode_subscription(&full[..cut]).expect_err("truncated input must fail");
            assert!(err.is_decode(), "v{version} cut {cut}: {err}");
        }
    }
}

#[test]
fn subscription_with_huge_declared_lengths_fails_without_allocating() {
    // 2^31-1 topics in a 10-byte message: must be an error, not an allocation of gigabytes.
    let bytes = Wire::new(0).i32(i32::MAX).str("t").0;
    assert!(decode_subscription(&bytes).unwrap_err().is_decode());
    let bytes = Wire::new(1)
        .i32(0)
        .bytes(None)
        .i32(1)
        .str("t")
        .i32(i32::MAX)
        .0;
    assert!(decode_subscription(&bytes).unwrap_err().is_decode());
    let bytes = Wire::new(0).i32(0).i32(i32::MAX).0; // user_data longer than the buffer
    assert!(decode_subscription(&bytes).unwrap_err().is_decode());
    let bytes = Wire::new(0).i32(-5).0;
    assert!(decode_subscription(&bytes).unwrap_err().is_decode());
    let mut bad_utf8 = Wire::new(0).i32(1).0;
    bad_utf8.extend_from_slice(&[0, 2, 0xff, 0xfe]);
    bad_utf8.extend_from_slice(&(-1i32).to_be_bytes());
    assert!(decode_subscription(&bad_utf8).unwrap_err().is_decode());
}

#[test]
fn random_and_mutated_bytes_never_panic() {
    let mut rng = Rng::new(7);
    let seeds: Vec<Vec<u8>> = (0..=3).map(java_subscription).collect();
    for _ in 0..20_000 {
        let mut bytes = seeds[rng.below(seeds.len())].clone();
        for _ in 0..1 + rng.below(4) {
            let i = rng.below(bytes.len());
            bytes[i] = rng.next_u64() as u8;
        }
        let _ = decode_subscription(&bytes);
        let _ = decode_assignment(&bytes);
        let len = rng.below(40);
        let noise: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
        let _ = decode_subscription(&noise);
        let _ = decode_assignment(&noise);
        let _ = decode_sticky_user_data(Some(&noise));
    }
}

// Java groups by topic in order of first appearance and keeps the partition order.
fn java_assignment(version: i16) -> Vec<u8> {
    Wire::new(version)
        .topic_parts(&[("b", &[1]), ("a", &[3, 0])])
        .bytes(Some(b"ud"))
        .0
}

#[test]
fn assignment_encodes_and_decodes_java_layout_at_every_version() {
    let a = Assignment {
        partitions: vec![tp("b", 1), tp("a", 3), tp("a", 0)],
        user_data: Some(Bytes::from_static(b"ud")),
    };
    for version in 0..=3 {
        let bytes = encode_assignment(&a, version).unwrap();
        assert_eq!(
            bytes.as_ref(),
            java_assignment(version).as_slice(),
            "v{version}"
        );
        assert_eq!(decode_assignment(&bytes).unwrap(), a);
    }
    // Newer version with trailing bytes, like Java.
    let mut v5 = java_assignment(5);
    v5.extend_from_slice(&[1, 2, 3]);
    assert_eq!(decode_assignment(&v5).unwrap(), a);
}

#[test]
fn assignment_edge_cases() {
    assert_eq!(decode_assignment(&[]).unwrap(), Assignment::default());
    let empty = Wire::new(0).i32(0).bytes(None).0;
    assert_eq!(decode_assignment(&empty).unwrap(), Assignment::default());
    let full = java_assignment(1);
    for cut in 1..full.len() {
        assert!(
            decode_assignment(&full[..cut]).unwrap_err().is_decode(),
            "cut {cut}"
        );
    }
    let huge = Wire::new(0).i32(1).str("a").i32(0x4000_0000).0;
    assert!(decode_assignment(&huge).unwrap_err().is_decode());
}

#[test]
fn assignor_user_data_formats_match_java() {
    // CooperativeStickyAssignor: a bare int32 generation.
    let ud = BuiltinAssignor::CooperativeSticky
        .subscription_user_data(&[], 12)
        .unwrap();
    assert_eq!(ud.as_ref(), &[0, 0, 0, 12]);
    assert_eq!(decode_cooperative_user_data(Some(&ud)), Some(12));
    assert_eq!(
        decode_cooperative_user_data(Some(&[1, 2])),
        Some(DEFAULT_GENERATION)
    );
    assert_eq!(decode_cooperative_user_data(None), None);
    // StickyAssignor V1: [topic, [partitions]] then int32 generation, no version prefix.
    let prev = vec![tp("b", 0), tp("a", 2), tp("a", 1)];
    let ud = BuiltinAssignor::Sticky
        .subscription_user_data(&prev, 4)
        .unwrap();
    let java = Wire(Vec::new())
        .topic_parts(&[("a", &[1, 2]), ("b", &[0])])
        .i32(4)
        .0;
    assert_eq!(ud.as_ref(), java.as_slice());
    let mut sorted = prev.clone();
    sorted.sort();
    assert_eq!(
        decode_sticky_user_data(Some(&ud)),
        (sorted.clone(), Some(4))
    );
    // V0 (no generation) and garbage.
    let v0 = Wire(Vec::new())
        .topic_parts(&[("a", &[1, 2]), ("b", &[0])])
        .0;
    assert_eq!(decode_sticky_user_data(Some(&v0)), (sorted, None));
    assert_eq!(decode_sticky_user_data(Some(&[0xff, 0, 0])), (vec![], None));
    assert_eq!(
        BuiltinAssignor::Sticky.subscription_user_data(&[], DEFAULT_GENERATION),
        None
    );
    assert_eq!(
        BuiltinAssignor::Range.subscription_user_data(&prev, 3),
        None
    );
}

// ---------------------------------------------------------------------------------------------
// Names, protocols, helpers

#[test]
fn names_and_supported_protocols_match_java() {
    use RebalanceProtocol::*;
    for (name, protocols) in [
        ("range", vec![Eager]),
        ("roundrobin", vec![Eager]),
        ("sticky", vec![Eager]),
        ("cooperative-sticky", vec![Cooperative, Eager]),
    ] {
        let a = BuiltinAssignor::from_name(name).unwrap();
        assert_eq!(a.name(), name);
        assert_eq!(a.supported_protocols(), protocols.as_slice());
    }
    assert_eq!(BuiltinAssignor::from_name("uniform"), None);
}

#[test]
fn rebalance_protocol_is_the_highest_common_one() {
    let coop = BuiltinAssignor::CooperativeSticky;
    let range = BuiltinAssignor::Range;
    assert_eq!(
        select_rebalance_protocol(&[&coop]).unwrap(),
        RebalanceProtocol::Cooperative
    );
    assert_eq!(
        select_rebalance_protocol(&[&coop, &range]).unwrap(),
        RebalanceProtocol::Eager
    );
    assert_eq!(
        select_rebalance_protocol(&[&range]).unwrap(),
        RebalanceProtocol::Eager
    );
    assert!(select_rebalance_protocol(&[]).is_err());
}

#[test]
fn diff_reports_revoked_added_retained_and_rejoin_need() {
    let before = vec![tp("a", 0), tp("a", 1), tp("b", 0)];
    let now = vec![tp("b", 0), tp("a", 2), tp("a", 1)];
    let d = diff_assignment(&before, &now);
    assert_eq!(d.revoked, vec![tp("a", 0)]);
    assert_eq!(d.added, vec![tp("a", 2)]);
    assert_eq!(d.retained, vec![tp("a", 1), tp("b", 0)]);
    assert!(d.needs_rejoin(RebalanceProtocol::Cooperative));
    assert!(!d.needs_rejoin(RebalanceProtocol::Eager));
    let only_added = diff_assignment(&[tp("a", 0)], &[tp("a", 0), tp("a", 1)]);
    assert!(!only_added.needs_rejoin(RebalanceProtocol::Cooperative));
}

#[test]
fn cooperative_validation_and_adjustment() {
    let mut a = member("A", &["t"]);
    a.subscription.owned_partitions = vec![tp("t", 0), tp("t", 1)];
    let b = member("B", &["t"]);
    let members = vec![a, b];
    // Range would move t-1 from A to B in one step: invalid under COOPERATIVE.
    let mut out = range::assign(&members, &cluster(&[("t", 2)]));
    assert_eq!(names(&out, "B"), s(&["tp1"]));
    assert!(validate_cooperative_assignment(&members, &out).is_err());
    make_cooperative(&members, &mut out);
    assert_eq!(names(&out, "A"), s(&["tp0"]));
    assert!(names(&out, "B").is_empty());
    assert!(validate_cooperative_assignment(&members, &out).is_ok());
    // Two members both claim t-0: giving it to one of the claimants is not a transfer (Java's
    // check is added-and-revoked), giving it to a third member is.
    let mut c = member("C", &["t"]);
    c.subscription.owned_partitions = vec![tp("t", 0)];
    let d = member("D", &["t"]);
    let members = vec![members[0].clone(), c, d];
    let mut to_claimant = empty_assignment(&members);
    to_claimant.get_mut("C").unwrap().partitions = vec![tp("t", 0)];
    assert!(validate_cooperative_assignment(&members, &to_claimant).is_ok());
    let mut to_other = empty_assignment(&members);
    to_other.get_mut("D").unwrap().partitions = vec![tp("t", 0)];
    assert!(validate_cooperative_assignment(&members, &to_other).is_err());
    let mut twice = empty_assignment(&members);
    twice.get_mut("A").unwrap().partitions = vec![tp("t", 0)];
    twice.get_mut("C").unwrap().partitions = vec![tp("t", 0)];
    assert!(validate_cooperative_assignment(&members, &twice).is_err());
}

// ---------------------------------------------------------------------------------------------
// Range

#[test]
fn range_java_doc_example_two_consumers_two_topics() {
    let members = vec![member("C0", &["t0", "t1"]), member("C1", &["t0", "t1"])];
    let out = range::assign(&members, &cluster(&[("t0", 3), ("t1", 3)]));
    assert_eq!(names(&out, "C0"), s(&["t0p0", "t0p1", "t1p0", "t1p1"]));
    assert_eq!(names(&out, "C1"), s(&["t0p2", "t1p2"]));
}

#[test]
fn range_orders_static_members_by_instance_id_before_dynamic_ones() {
    // Java RangeAssignor doc: with instance ids the order no longer depends on member ids.
    let mut c1 = member("m-aaa", &["t0", "t1"]);
    c1.group_instance_id = Some("I1".into());
    let mut c0 = member("m-zzz", &["t0", "t1"]);
    c0.group_instance_id = Some("I0".into());
    let dynamic = member("m-000", &["t0", "t1"]);
    let out = range::assign(&[c1, dynamic, c0], &cluster(&[("t0", 3), ("t1", 3)]));
    assert_eq!(names(&out, "m-zzz"), s(&["t0p0", "t1p0"]));
    assert_eq!(names(&out, "m-aaa"), s(&["t0p1", "t1p1"]));
    assert_eq!(names(&out, "m-000"), s(&["t0p2", "t1p2"]));
}

#[test]
fn range_per_topic_with_unequal_subscriptions_and_missing_topics() {
    let members = vec![
        member("A", &["t0"]),
        member("B", &["t0", "t1", "gone"]),
        member("C", &[]),
    ];
    let out = range::assign(&members, &cluster(&[("t0", 5), ("t1", 2)]));
    assert_eq!(names(&out, "A"), s(&["t0p0", "t0p1", "t0p2"]));
    assert_eq!(names(&out, "B"), s(&["t0p3", "t0p4", "t1p0", "t1p1"]));
    assert!(names(&out, "C").is_empty());
    assert_eq!(out.len(), 3);
}

fn rack_member(id: &str, topics: &[&str], rack: &str) -> GroupMember {
    let mut m = member(id, topics);
    m.subscription.rack_id = Some(rack.into());
    m
}

#[test]
fn range_rack_aware_prefers_same_rack_partitions() {
    let topics: ClusterTopics = [(
        "t".to_string(),
        TopicInfo::new(4)
            .with_partition_racks(0, ["a"])
            .with_partition_racks(1, ["b"])
            .with_partition_racks(2, ["a"])
            .with_partition_racks(3, ["b"]),
    )]
    .into();
    let members = vec![
        rack_member("C0", &["t"], "a"),
        rack_member("C1", &["t"], "b"),
    ];
    let out = range::assign(&members, &topics);
    assert_eq!(names(&out, "C0"), s(&["tp0", "tp2"]));
    assert_eq!(names(&out, "C1"), s(&["tp1", "tp3"]));
    // Without racks it is the plain range.
    let plain = range::assign(&[member("C0", &["t"]), member("C1", &["t"])], &topics);
    assert_eq!(names(&plain, "C0"), s(&["tp0", "tp1"]));
}

#[test]
fn range_rack_aware_never_breaks_balance() {
    let topics: ClusterTopics = [(
        "t".to_string(),
        (0..3)
            .fold(TopicInfo::new(3), |t, p| t.with_partition_racks(p, ["a"]))
            .with_partition_racks(0, ["a", "c"]),
    )]
    .into();
    let members = vec![
        rack_member("C0", &["t"], "b"),
        rack_member("C1", &["t"], "a"),
    ];
    let out = range::assign(&members, &topics);
    assert_eq!(names(&out, "C1"), s(&["tp0", "tp1"]));
    assert_eq!(names(&out, "C0"), s(&["tp2"]));
}

#[test]
fn range_rack_aware_keeps_co_partitioned_topics_together() {
    let info = TopicInfo::new(2)
        .with_partition_racks(0, ["b"])
        .with_partition_racks(1, ["a"]);
    let topics: ClusterTopics = [("x".to_string(), info.clone()), ("y".to_string(), info)].into();
    let members = vec![
        rack_member("C0", &["x", "y"], "a"),
        rack_member("C1", &["x", "y"], "b"),
    ];
    let out = range::assign(&members, &topics);
    assert_eq!(names(&out, "C0"), s(&["xp1", "yp1"]));
    assert_eq!(names(&out, "C1"), s(&["xp0", "yp0"]));
}

// ---------------------------------------------------------------------------------------------
// Roundrobin

#[test]
fn roundrobin_java_doc_example_equal_subscriptions() {
    let members = vec![member("C0", &["t0", "t1"]), member("C1", &["t0", "t1"])];
    let out = roundrobin::assign(&members, &cluster(&[("t0", 3), ("t1", 3)]));
    assert_eq!(names(&out, "C0"), s(&["t0p0", "t0p2", "t1p1"]));
    assert_eq!(names(&out, "C1"), s(&["t0p1", "t1p0", "t1p2"]));
}

#[test]
fn roundrobin_java_doc_example_unequal_subscriptions() {
    let members = vec![
        member("C0", &["t0"]),
        member("C1", &["t0", "t1"]),
        member("C2", &["t0", "t1", "t2"]),
    ];
    let out = roundrobin::assign(&members, &cluster(&[("t0", 1), ("t1", 2), ("t2", 3)]));
    assert_eq!(names(&out, "C0"), s(&["t0p0"]));
    assert_eq!(names(&out, "C1"), s(&["t1p0"]));
    assert_eq!(names(&out, "C2"), s(&["t1p1", "t2p0", "t2p1", "t2p2"]));
}

/// Each assignor, given the same members in any order, gives the same answer, and every
/// existing subscribed partition is assigned exactly once (range, roundrobin, sticky) to a
/// member subscribed to its topic.
#[test]
fn all_assignors_are_deterministic_and_complete() {
    let mut rng = Rng::new(42);
    for round in 0..200 {
        let topic_names = ["a", "b", "c", "d"];
        let topics: ClusterTopics = topic_names
            .iter()
            .map(|t| (t.to_string(), TopicInfo::new(rng.below(9) as i32)))
            .collect();
        let n = 1 + rng.below(6);
        let mut members: Vec<GroupMember> = (0..n)
            .map(|i| {
                let subs: Vec<&str> = topic_names
                    .iter()
                    .copied()
                    .filter(|_| rng.below(3) > 0)
                    .collect();
                let mut m = member(&format!("m{i}"), &subs);
                if rng.below(3) == 0 {
                    m.group_instance_id = Some(format!("i{}", rng.below(100)));
                }
                m
            })
            .collect();
        for a in BuiltinAssignor::ALL {
            let first = a.assign(&members, &topics);
            rng.shuffle(&mut members);
            assert_eq!(
                a.assign(&members, &topics),
                first,
                "{} round {round}",
                a.name()
            );
            let mut seen = std::collections::BTreeSet::new();
            for m in &members {
                for p in &first[&m.member_id].partitions {
                    assert!(
                        m.subscription.topics.iter().any(|t| **t == *p.topic),
                        "{} gave {p} to {}",
                        a.name(),
                        m.member_id
                    );
                    assert!(seen.insert(p.clone()), "{} assigned {p} twice", a.name());
                }
            }
            let expected: usize = topics
                .iter()
                .filter(|(t, _)| members.iter().any(|m| m.subscription.topics.contains(t)))
                .map(|(_, i)| i.partition_count as usize)
                .sum();
            assert_eq!(seen.len(), expected, "{} round {round}", a.name());
        }
    }
}
