//! The client-wide prefetch budget (`queued.max.messages.kbytes`, issue #14), in virtual time:
//! a fake cluster of 3 brokers answers every planned Fetch with as much data as the Fetch's
//! `max_bytes` and each partition's `max.partition.fetch.bytes` allow, rotating partitions
//! through its session as brokers do (KIP-227). The bound is read from the consumer's own
//! accounting (`Memory::held` + the planner's reserved room).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::Duration;

use tokio::time::Instant;
use uuid::Uuid;

use super::fetch_planner::{FetchPlanner, PartitionOutcome, PlannedFetch, PlannerConfig};
use super::state::{ConsumerState, PartitionState};
use super::types::TopicPartition;
use crate::cluster::metadata::{BrokerInfo, PartitionInfo, Snapshot, TopicInfo};
use crate::config::AutoOffsetReset;
use crate::protocol_errors::KafkaCode;
use crate::records::{Bytes, DecodeOptions, FetchRecords};

const BUDGET: usize = 32 << 20;
const PARTITION_MAX: usize = 1 << 20;

fn config() -> PlannerConfig {
    PlannerConfig {
        max_partition_fetch_bytes: PARTITION_MAX,
        fetch_max_bytes: 50 << 20,
        fetch_max_wait: Duration::from_millis(500),
        buffer_max_bytes: BUDGET,
        retry_backoff: Duration::from_millis(100),
        stall_after: Duration::from_secs(3600),
        preferred_replica_ttl: Duration::from_secs(300),
        auto_offset_reset: AutoOffsetReset::Earliest,
    }
}

fn tp(p: i32) -> TopicPartition {
    TopicPartition::new("t", p)
}

/// Topic `t` of `n` partitions over 3 brokers, every partition `hw` records deep at offset 0.
fn setup(n: i32, hw: i64) -> (Snapshot, ConsumerState) {
    let mut s = Snapshot::default();
    for id in 0..3 {
        s.brokers.insert(id, BrokerInfo { id, host: "h".into(), port: 9092 + id as u16, rack: None });
    }
    let partitions = (0..n)
        .map(|p| PartitionInfo { partition: p, leader: p % 3, leader_epoch: 1, replicas: vec![0, 1, 2], error: 0 })
        .collect();
    s.topics.insert("t".into(), TopicInfo { name: "t".into(), id: Uuid::from_u128(1), internal: false, error: 0, partitions });
    let mut st = ConsumerState::default();
    for p in 0..n {
        let mut ps = PartitionState::new();
        ps.seek(0);
        ps.high_watermark = hw;
        st.assignment.insert(tp(p), ps);
    }
    st.last_poll = Some(Instant::now());
    (s, st)
}

/// The fake brokers: each remembers its session's partitions and where its rotation stands.
#[derive(Default)]
struct FakeBrokers {
    sessions: BTreeMap<i32, (BTreeSet<TopicPartition>, usize)>,
}

impl FakeBrokers {
    /// Answers `plan` with up to `max_bytes`, at most `PARTITION_MAX` per partition (1 byte per
    /// record, no record bytes to decode: the accounting is what is under test).
    fn answer(&mut self, plan: &PlannedFetch, st: &ConsumerState) -> Vec<(TopicPartition, PartitionOutcome)> {
        let (parts, turn) = self.sessions.entry(plan.broker).or_default();
        if plan.session.epoch == 0 {
            parts.clear();
        }
        for (t, _) in &plan.session.forgotten {
            parts.remove(t);
        }
        parts.extend(plan.session.partitions.iter().map(|(t, _)| t.clone()));
        let list: Vec<&TopicPartition> = parts.iter().collect();
        let mut left = plan.max_bytes;
        let mut out = Vec::new();
        for i in 0..list.len() {
            let t = list[(*turn + i) % list.len()];
            let Some(ps) = st.assignment.get(t) else { continue };
            let Some(from) = ps.fetch_offset else { continue };
            let n = (ps.high_watermark - from).max(0) as usize;
            let n = n.min(PARTITION_MAX).min(left);
            if n == 0 {
                continue;
            }
            left -= n;
            out.push((
                t.clone(),
                PartitionOutcome::Data {
                    records: FetchRecords::new(Bytes::new(), from, &[], &DecodeOptions::default()),
                    next_offset: from + n as i64,
                    bytes: n,
                    high_watermark: ps.high_watermark,
                    last_stable_offset: ps.high_watermark,
                    log_start_offset: 0,
                    preferred_replica: None,
                    error: None,
                },
            ));
        }
        *turn = (*turn + out.len().max(1)) % list.len().max(1);
        out
    }
}

/// One planning step: plan, check the bound, answer everything planned.
fn step(pl: &mut FetchPlanner, fake: &mut FakeBrokers, now: Instant, st: &mut ConsumerState, snap: &Snapshot) -> usize {
    let (plans, _) = pl.poll_requests(now, st, snap, None);
    let committed = st.memory().held() + pl.reserved();
    assert!(committed <= BUDGET, "buffered + reserved = {committed} > budget {BUDGET}");
    for plan in &plans {
        assert!(plan.max_bytes <= BUDGET);
        let parts = fake.answer(plan, st);
        pl.handle_response(now, 0, plan.broker, plan.id, KafkaCode::NONE, 1, parts, st);
        let held = st.memory().held() + pl.reserved();
        assert!(held <= BUDGET, "after an answer: {held} > budget {BUDGET}");
    }
    plans.len()
}

#[test]
fn an_application_that_stops_polling_stops_the_fetching_not_the_bound_at_2000_partitions() {
    let (snap, mut st) = setup(2000, 10 << 20);
    let mut pl = FetchPlanner::new(config());
    let mut fake = FakeBrokers::default();
    let t0 = Instant::now();
    let mut last = usize::MAX;
    for i in 0..200 {
        last = step(&mut pl, &mut fake, t0 + Duration::from_millis(i), &mut st, &snap);
    }
    assert_eq!(last, 0, "fetching goes on although nothing is handed out");
    let held = st.memory().held();
    assert!(held + pl.min_fetch() > BUDGET, "fetching stopped with room left: {held} of {BUDGET}");
    assert!(held <= BUDGET);
}

#[test]
fn a_polling_application_reads_every_one_of_2000_partitions_within_the_budget() {
    let (snap, mut st) = setup(2000, 3 << 20);
    let mut pl = FetchPlanner::new(config());
    let mut fake = FakeBrokers::default();
    let t0 = Instant::now();
    let mut fetched: HashSet<TopicPartition> = HashSet::new();
    for i in 0..2000 {
        step(&mut pl, &mut fake, t0 + Duration::from_millis(i), &mut st, &snap);
        fetched.extend(st.buffer.iter().map(|b| b.tp.clone()));
        // The application polls: the data holds no record, so each part is read to its end.
        st.drain_records(500);
        if st.assignment.values().all(|s| s.position == Some(3 << 20)) {
            break;
        }
    }
    assert_eq!(fetched.len(), 2000, "some partitions were never fetched (starved)");
    let unread = st.assignment.values().filter(|s| s.position != Some(3 << 20)).count();
    assert_eq!(unread, 0, "partitions not read to their end");
    assert!(st.memory().peak <= BUDGET);
}
