//! Virtual-time tests of the fetch planner: no sockets, no clock; every answer, failure and
//! leader move is an explicit event.

use std::collections::BTreeMap;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::time::Instant;
use uuid::Uuid;

use super::fetch_planner::{FetchPlanner, PartitionOutcome, PlannedFetch, PlannerConfig, Wait};
use super::state::{ConsumerState, PartitionState, ResetTo};
use super::types::TopicPartition;
use crate::cluster::metadata::{BrokerInfo, PartitionInfo, Snapshot, TopicInfo};
use crate::config::AutoOffsetReset;
use crate::protocol_errors::KafkaCode;
use crate::records::{Bytes, DecodeOptions, FetchRecords};

const RETRY: Duration = Duration::from_millis(100);
const STALL: Duration = Duration::from_millis(31_500);

fn config(reset: AutoOffsetReset) -> PlannerConfig {
    PlannerConfig {
        max_partition_fetch_bytes: 1 << 20,
        fetch_max_bytes: 50 << 20,
        fetch_max_wait: Duration::from_millis(500),
        buffer_max_bytes: 32 << 20,
        retry_backoff: RETRY,
        stall_after: STALL,
        preferred_replica_ttl: Duration::from_secs(300),
        auto_offset_reset: reset,
    }
}

fn tp(p: i32) -> TopicPartition {
    TopicPartition::new("t", p)
}

/// A 3-broker cluster with topic `t` of `n` partitions, partition p led by broker p % 3.
fn cluster(n: i32) -> Snapshot {
    let mut s = Snapshot::default();
    for id in 0..3 {
        s.brokers.insert(id, BrokerInfo { id, host: "h".into(), port: 9092 + id as u16, rack: None });
    }
    let partitions = (0..n)
        .map(|p| PartitionInfo { partition: p, leader: p % 3, leader_epoch: 1, replicas: vec![0, 1, 2], error: 0 })
        .collect();
    s.topics.insert(
        "t".into(),
        TopicInfo { name: "t".into(), id: Uuid::from_u128(1), internal: false, error: 0, partitions },
    );
    s
}

fn move_leader(s: &mut Snapshot, p: i32, leader: i32) {
    let part = s.topics.get_mut("t").unwrap().partitions.iter_mut().find(|x| x.partition == p).unwrap();
    part.leader = leader;
    part.leader_epoch += 1;
}

/// Every partition positioned at `offset`, high watermark `hw`.
fn assigned(n: i32, offset: i64, hw: i64) -> ConsumerState {
    let mut st = ConsumerState::default();
    for p in 0..n {
        let mut ps = PartitionState::new();
        ps.seek(offset);
        ps.high_watermark = hw;
        st.assignment.insert(tp(p), ps);
    }
    st.last_poll = Some(Instant::now());
    st
}

/// Data for offsets `from..to` (10 bytes each, no records to decode).
fn data(from: i64, to: i64, hw: i64) -> PartitionOutcome {
    PartitionOutcome::Data {
        records: FetchRecords::new(Bytes::new(), from, &[], &DecodeOptions::default()),
        next_offset: to,
        bytes: (to - from) as usize * 10,
        high_watermark: hw,
        last_stable_offset: hw,
        log_start_offset: 0,
        preferred_replica: None,
        error: None,
    }
}

fn by_broker(plans: &[PlannedFetch]) -> BTreeMap<i32, &PlannedFetch> {
    plans.iter().map(|p| (p.broker, p)).collect()
}

fn sent(plan: &PlannedFetch) -> Vec<i32> {
    plan.session.partitions.iter().map(|(tp, _)| tp.partition).collect()
}

/// Answers `plan` with no data for any partition (an incremental session's empty answer).
fn answer_empty(pl: &mut FetchPlanner, now: Instant, plan: &PlannedFetch, session: i32, st: &mut ConsumerState) {
    pl.handle_response(now, 0, plan.broker, plan.id, KafkaCode::NONE, session, Vec::new(), st);
}

#[test]
fn the_first_fetch_is_full_then_incremental_sessions_carry_only_changes() {
    let t0 = Instant::now();
    let snap = cluster(6);
    let mut st = assigned(6, 0, 100);
    let mut pl = FetchPlanner::new(config(AutoOffsetReset::Latest));
    let (plans, _) = pl.poll_requests(t0, &st, &snap, None);
    assert_eq!(plans.len(), 3, "one Fetch per leader broker");
    let b0 = by_broker(&plans)[&0];
    assert!(b0.session.is_full());
    assert_eq!(sent(b0), vec![0, 3]);
    // Broker 0 opens session 7 and returns data for partition 0 only.
    pl.handle_response(t0, 0, 0, b0.id, KafkaCode::NONE, 7, vec![(tp(0), data(0, 10, 100))], &mut st);
    let (plans, _) = pl.poll_requests(t0, &st, &snap, None);
    assert_eq!(plans.len(), 1, "brokers 1 and 2 still have their Fetch in flight");
    let next = &plans[0];
    assert_eq!((next.broker, next.session.session_id, next.session.epoch), (0, 7, 1));
    assert_eq!(sent(next), vec![0], "partition 3 is unchanged: it rides along in the session");
    assert!(next.session.forgotten.is_empty());
}

#[test]
fn two_fetches_are_never_in_flight_to_one_broker() {
    let t0 = Instant::now();
    let snap = cluster(6);
    let st = assigned(6, 0, 100);
    let mut pl = FetchPlanner::new(config(AutoOffsetReset::Latest));
    let (first, _) = pl.poll_requests(t0, &st, &snap, None);
    assert_eq!(first.len(), 3);
    for step in 1..5 {
        let (more, _) = pl.poll_requests(t0 + Duration::from_millis(step), &st, &snap, None);
        assert!(more.is_empty(), "a second Fetch while one is in flight: {more:?}");
    }
    assert_eq!(pl.wait_reason(t0, &st, &tp(0), &st.assignment[&tp(0)], &snap), Wait::InFlight(0));
}

/// Issue #19, the main cause: the leader epoch changes (a broker restarted, leadership came
/// back) while the fetch offset stays. The broker fences the old epoch; after the metadata
/// refresh the next Fetch must carry the new epoch even though the offset did not change.
#[test]
fn fenced_leader_epoch_sends_the_new_epoch_in_the_next_incremental_fetch() {
    let t0 = Instant::now();
    let mut snap = cluster(3);
    let mut st = assigned(3, 50, 100);
    let mut pl = FetchPlanner::new(config(AutoOffsetReset::Latest));
    let (plans, _) = pl.poll_requests(t0, &st, &snap, None);
    let p0 = by_broker(&plans)[&0];
    answer_empty(&mut pl, t0, p0, 9, &mut st);
    // Leadership of partition 0 leaves broker 0 and comes back: epoch 1 → 3.
    move_leader(&mut snap, 0, 1);
    move_leader(&mut snap, 0, 0);
    let t1 = t0 + Duration::from_millis(10);
    let (plans, _) = pl.poll_requests(t1, &st, &snap, None);
    let p0 = by_broker(&plans)[&0];
    assert_eq!(sent(p0), vec![0], "the new epoch must be sent although the offset is the same");
    assert_eq!(p0.session.partitions[0].1.current_leader_epoch, 3);
    // Had the broker answered FENCED_LEADER_EPOCH (epoch in its session too old), the partition
    // waits out the retry backoff and then goes again — it is never dropped.
    let effects = pl.handle_response(
        t1,
        0,
        0,
        p0.id,
        KafkaCode::NONE,
        9,
        vec![(tp(0), PartitionOutcome::Error(KafkaCode::FENCED_LEADER_EPOCH))],
        &mut st,
    );
    assert!(effects.refresh_metadata.unwrap().contains("FENCED_LEADER_EPOCH"));
    assert_eq!(pl.wait_reason(t1, &st, &tp(0), &st.assignment[&tp(0)], &snap), Wait::RetryBackoff(t1 + RETRY));
    pl.check_invariant(t1, &st, &snap).unwrap();
    let (plans, _) = pl.poll_requests(t1 + RETRY, &st, &snap, None);
    assert_eq!(by_broker(&plans)[&0].session.partitions.len(), 0, "unchanged data rides in the session");
    assert_eq!(pl.wait_reason(t1 + RETRY, &st, &tp(0), &st.assignment[&tp(0)], &snap), Wait::InFlight(0));
}

/// Issue #19: UNKNOWN_LEADER_EPOCH (75) was read as 76 and failed the partition.
#[test]
fn unknown_leader_epoch_is_retried_after_the_backoff_and_never_fails_the_partition() {
    let t0 = Instant::now();
    let snap = cluster(1);
    let mut st = assigned(1, 0, 100);
    let mut pl = FetchPlanner::new(config(AutoOffsetReset::Latest));
    let (plans, _) = pl.poll_requests(t0, &st, &snap, None);
    let effects = pl.handle_response(
        t0,
        0,
        0,
        plans[0].id,
        KafkaCode::NONE,
        0,
        vec![(tp(0), PartitionOutcome::Error(KafkaCode::UNKNOWN_LEADER_EPOCH))],
        &mut st,
    );
    assert!(st.assignment[&tp(0)].error.is_none());
    assert!(!effects.data_ready);
    assert!(pl.poll_requests(t0, &st, &snap, None).0.is_empty(), "backing off");
    assert_eq!(pl.poll_timeout(), Some(t0 + RETRY));
    let (plans, _) = pl.poll_requests(t0 + RETRY, &st, &snap, None);
    assert_eq!(sent(&plans[0]), vec![0]);
}

#[test]
fn a_top_level_error_keeps_every_partition_fetching() {
    let t0 = Instant::now();
    let snap = cluster(3);
    let mut st = assigned(3, 0, 100);
    let mut pl = FetchPlanner::new(config(AutoOffsetReset::Latest));
    let (plans, _) = pl.poll_requests(t0, &st, &snap, None);
    let p0 = by_broker(&plans)[&0];
    answer_empty(&mut pl, t0, p0, 5, &mut st);
    let (plans, _) = pl.poll_requests(t0, &st, &snap, None);
    let p0 = &plans[0];
    assert_eq!(p0.session.epoch, 1);
    // The broker restarted: the session is gone. The next Fetch is full and goes at once.
    pl.handle_response(t0, 0, 0, p0.id, KafkaCode::FETCH_SESSION_ID_NOT_FOUND, 0, Vec::new(), &mut st);
    let (plans, _) = pl.poll_requests(t0, &st, &snap, None);
    pl.check_invariant(t0, &st, &snap).unwrap();
    let p0 = &plans[0];
    assert!(p0.session.is_full());
    assert_eq!((p0.session.session_id, sent(p0)), (0, vec![0]));
    // Any other top-level error: a new session too, after the retry backoff.
    pl.handle_response(t0, 0, 0, p0.id, KafkaCode::UNKNOWN_SERVER_ERROR, 0, Vec::new(), &mut st);
    assert!(pl.poll_requests(t0, &st, &snap, None).0.is_empty());
    assert_eq!(
        pl.wait_reason(t0, &st, &tp(0), &st.assignment[&tp(0)], &snap),
        Wait::BrokerBackoff(0, t0 + RETRY)
    );
    pl.check_invariant(t0, &st, &snap).unwrap();
    let (plans, _) = pl.poll_requests(t0 + RETRY, &st, &snap, None);
    assert!(plans[0].session.is_full());
}

#[test]
fn a_dropped_connection_backs_off_then_fetches_everything_again() {
    let t0 = Instant::now();
    let snap = cluster(6);
    let mut st = assigned(6, 0, 100);
    let mut pl = FetchPlanner::new(config(AutoOffsetReset::Latest));
    let (plans, _) = pl.poll_requests(t0, &st, &snap, None);
    let p0 = by_broker(&plans)[&0];
    answer_empty(&mut pl, t0, p0, 5, &mut st);
    let (plans, _) = pl.poll_requests(t0, &st, &snap, None);
    let effects = pl.handle_failure(t0, 0, plans[0].id, false, "connection reset");
    assert!(effects.refresh_metadata.is_some());
    assert!(pl.poll_requests(t0, &st, &snap, None).0.is_empty());
    pl.check_invariant(t0, &st, &snap).unwrap();
    let (plans, _) = pl.poll_requests(t0 + RETRY, &st, &snap, None);
    let p0 = &plans[0];
    assert_eq!((p0.session.session_id, p0.session.epoch), (5, 0), "close session 5, open a new one");
    assert_eq!(sent(p0), vec![0, 3]);
}

#[test]
fn a_leader_move_while_a_fetch_is_in_flight_fetches_from_the_new_leader_at_once() {
    let t0 = Instant::now();
    let mut snap = cluster(3);
    let mut st = assigned(3, 0, 100);
    let mut pl = FetchPlanner::new(config(AutoOffsetReset::Latest));
    let (plans, _) = pl.poll_requests(t0, &st, &snap, None);
    let old = by_broker(&plans)[&0].id;
    // Broker 0 is shutting down; partition 0 moves to broker 1 while broker 0's Fetch hangs.
    move_leader(&mut snap, 0, 1);
    answer_empty(&mut pl, t0, by_broker(&plans)[&1], 3, &mut st);
    let (plans, _) = pl.poll_requests(t0, &st, &snap, None);
    let p1 = by_broker(&plans)[&1];
    assert!(sent(p1).contains(&0), "partition 0 fetched from its new leader");
    pl.handle_response(t0, 0, 1, p1.id, KafkaCode::NONE, 3, vec![(tp(0), data(0, 20, 100))], &mut st);
    assert_eq!(st.assignment[&tp(0)].fetch_offset, Some(20));
    // The old leader answers late with data from offset 0: dropped, nothing buffered twice.
    let buffered = st.buffer.len();
    pl.handle_response(t0, 0, 0, old, KafkaCode::NONE, 0, vec![(tp(0), data(0, 20, 100))], &mut st);
    assert_eq!(st.buffer.len(), buffered);
    assert_eq!(st.assignment[&tp(0)].fetch_offset, Some(20));
}

#[test]
fn every_auto_offset_reset_value_on_an_out_of_range_offset() {
    let cases = [
        (AutoOffsetReset::Earliest, Some(ResetTo::Earliest)),
        (AutoOffsetReset::Latest, Some(ResetTo::Latest)),
        (AutoOffsetReset::ByDuration(Duration::from_secs(60)), Some(ResetTo::Timestamp(1_000_000 - 60_000))),
        (AutoOffsetReset::None, None),
    ];
    for (policy, want) in cases {
        let t0 = Instant::now();
        let snap = cluster(1);
        let mut st = assigned(1, 500, 100);
        let mut pl = FetchPlanner::new(config(policy));
        let (plans, _) = pl.poll_requests(t0, &st, &snap, None);
        let effects = pl.handle_response(
            t0,
            1_000_000,
            0,
            plans[0].id,
            KafkaCode::NONE,
            0,
            vec![(tp(0), PartitionOutcome::Error(KafkaCode::OFFSET_OUT_OF_RANGE))],
            &mut st,
        );
        let ps = &st.assignment[&tp(0)];
        match want {
            Some(r) => {
                assert_eq!(ps.reset, Some(r), "{policy:?}");
                assert_eq!((ps.position, ps.fetch_offset), (None, None));
                assert_eq!(pl.wait_reason(t0, &st, &tp(0), ps, &snap), Wait::AwaitingPosition);
            }
            None => {
                let e = ps.error.as_ref().expect("auto.offset.reset=none fails the partition");
                assert!(e.to_string().contains("out of range"), "{e}");
                assert!(effects.data_ready, "poll is woken to return the error");
            }
        }
    }
}

#[test]
fn an_out_of_range_answer_from_a_follower_asks_the_leader_before_resetting() {
    let t0 = Instant::now();
    let snap = cluster(1);
    let mut st = assigned(1, 500, 600);
    st.assignment.get_mut(&tp(0)).unwrap().preferred_replica = Some((2, t0 + Duration::from_secs(60)));
    let mut pl = FetchPlanner::new(config(AutoOffsetReset::Earliest));
    let (plans, _) = pl.poll_requests(t0, &st, &snap, None);
    assert_eq!(plans[0].broker, 2, "read from the preferred replica");
    pl.handle_response(
        t0,
        0,
        2,
        plans[0].id,
        KafkaCode::NONE,
        0,
        vec![(tp(0), PartitionOutcome::Error(KafkaCode::OFFSET_OUT_OF_RANGE))],
        &mut st,
    );
    assert_eq!(st.assignment[&tp(0)].fetch_offset, Some(500), "no reset yet");
    let (plans, _) = pl.poll_requests(t0, &st, &snap, None);
    assert_eq!(plans[0].broker, 0, "back to the leader");
}

#[test]
fn the_coordinators_broker_fetch_waits_no_longer_than_the_next_heartbeat() {
    let t0 = Instant::now();
    let snap = cluster(3);
    let st = assigned(3, 0, 100);
    let mut pl = FetchPlanner::new(config(AutoOffsetReset::Latest));
    let (plans, _) = pl.poll_requests(t0, &st, &snap, Some((1, t0 + Duration::from_millis(120))));
    let waits: BTreeMap<i32, Duration> = plans.iter().map(|p| (p.broker, p.max_wait)).collect();
    assert_eq!(waits[&0], Duration::from_millis(500));
    assert_eq!(waits[&1], Duration::from_millis(120));
    assert_eq!(waits[&2], Duration::from_millis(500));
}

#[test]
fn a_full_buffer_holds_back_a_broker_with_nothing_else_to_fetch() {
    let t0 = Instant::now();
    let snap = cluster(6);
    let mut st = assigned(6, 100, 100); // all caught up
    st.assignment.get_mut(&tp(0)).unwrap().buffered_bytes = 2 << 20; // p0 (broker 0) full
    st.assignment.get_mut(&tp(0)).unwrap().high_watermark = 500;
    let mut pl = FetchPlanner::new(config(AutoOffsetReset::Latest));
    let (plans, _) = pl.poll_requests(t0, &st, &snap, None);
    let brokers: Vec<i32> = plans.iter().map(|p| p.broker).collect();
    assert_eq!(brokers, vec![1, 2], "broker 0 would only park a Fetch in front of p0's next one");
    assert_eq!(pl.wait_reason(t0, &st, &tp(0), &st.assignment[&tp(0)], &snap), Wait::BufferFull);
    pl.check_invariant(t0, &st, &snap).unwrap();
}

#[test]
fn poll_must_wake_the_driver_only_while_planning_waits_for_room() {
    let t0 = Instant::now();
    let snap = cluster(6);
    let mut st = assigned(6, 0, 100);
    let mut pl = FetchPlanner::new(config(AutoOffsetReset::Latest));
    let (plans, _) = pl.poll_requests(t0, &st, &snap, None);
    assert_eq!(plans.len(), 3);
    assert!(!pl.waits_for_room(), "room for every broker: draining the buffer changes nothing");
    // Broker 0 answers with p0 filling max.partition.fetch.bytes: p0 now waits for poll.
    let b0 = by_broker(&plans)[&0];
    let full = PartitionOutcome::Data {
        records: FetchRecords::new(Bytes::new(), 0, &[], &DecodeOptions::default()),
        next_offset: 50,
        bytes: 1 << 20,
        high_watermark: 100,
        last_stable_offset: 100,
        log_start_offset: 0,
        preferred_replica: None,
        error: None,
    };
    pl.handle_response(t0, 0, 0, b0.id, KafkaCode::NONE, 7, vec![(tp(0), full)], &mut st);
    let _ = pl.poll_requests(t0, &st, &snap, None);
    assert_eq!(pl.wait_reason(t0, &st, &tp(0), &st.assignment[&tp(0)], &snap), Wait::BufferFull);
    assert!(pl.waits_for_room(), "p0 waits for the application to drain its buffer");
    pl.check_invariant(t0, &st, &snap).unwrap();
    // The application drains p0 (as poll does): the next pass has no wait for room left.
    st.assignment.get_mut(&tp(0)).unwrap().buffered_bytes = 0;
    let _ = pl.poll_requests(t0, &st, &snap, None);
    assert!(!pl.waits_for_room());
    // A budget with no room for any Fetch: every broker waits for room.
    let mut tight = config(AutoOffsetReset::Latest);
    tight.buffer_max_bytes = 1 << 20;
    let mut pl = FetchPlanner::new(tight);
    let st = assigned(6, 0, 100);
    let (plans, _) = pl.poll_requests(t0, &st, &snap, None);
    assert_eq!(plans.len(), 2, "a 1 MiB budget holds two Fetches of its least worth (half of it)");
    assert!(pl.waits_for_room(), "the third broker was skipped for lack of room");
}

#[test]
fn forgotten_partitions_are_pruned_when_the_assignment_changes() {
    let t0 = Instant::now();
    let snap = cluster(6);
    let mut st = ConsumerState::default();
    st.set_assignment((0..6).map(tp));
    for ps in st.assignment.values_mut() {
        ps.seek(0);
        ps.high_watermark = 100;
    }
    let mut pl = FetchPlanner::new(config(AutoOffsetReset::Latest));
    pl.retain(&st);
    let _ = pl.poll_requests(t0, &st, &snap, None);
    assert!(pl.since_progress(t0, &tp(5)).is_some());
    st.remove_partitions(&[tp(5)]);
    pl.retain(&st);
    assert_eq!(pl.since_progress(t0, &tp(5)), None, "p5 left the assignment: its track goes");
    assert!(pl.since_progress(t0, &tp(4)).is_some());
}

#[test]
fn the_stall_detector_names_a_partition_left_unfetched_while_the_application_polls() {
    let t0 = Instant::now();
    let snap = cluster(3);
    let mut st = assigned(3, 0, 100);
    st.assignment.get_mut(&tp(2)).unwrap().paused = true;
    let mut pl = FetchPlanner::new(config(AutoOffsetReset::Latest));
    assert!(pl.check_stalls(t0, &st, &snap).is_empty());
    let (plans, _) = pl.poll_requests(t0, &st, &snap, None);
    // Brokers 0 and 1 hang: their Fetches never return (a half-open connection).
    let _ = plans;
    let late = t0 + STALL + Duration::from_millis(1);
    st.last_poll = Some(late);
    let stalls = pl.check_stalls(late, &st, &snap);
    let names: Vec<i32> = stalls.iter().map(|s| s.partition.partition).collect();
    assert_eq!(names, vec![0, 1], "the paused partition is not a stall");
    assert_eq!(stalls[0].wait, Wait::InFlight(0));
    assert!(stalls[0].unfetched_for > STALL);
    // Reported once per stall_after, not on every check.
    assert!(pl.check_stalls(late + Duration::from_secs(1), &st, &snap).is_empty());
    // An application that stopped polling is not told (the buffer is the reason to wait).
    let mut pl2 = FetchPlanner::new(config(AutoOffsetReset::Latest));
    let mut idle = assigned(1, 0, 100);
    pl2.poll_requests(t0, &idle, &snap, None);
    idle.last_poll = Some(t0);
    assert!(pl2.check_stalls(t0 + STALL * 2, &idle, &snap).is_empty());
}

/// The invariant of issue #19 under a random storm of answers, partition errors, top-level
/// errors, dropped connections and leader moves: after every planning step, every partition
/// below its high watermark is in a Fetch or waits for a reason with a bound, and everything
/// is read in the end.
#[test]
fn no_partition_is_ever_forgotten_under_random_faults() {
    for seed in 0..200u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let t0 = Instant::now();
        let n = 9;
        let end = 1_000i64;
        let mut snap = cluster(n);
        let mut st = assigned(n, 0, -1);
        let mut pl = FetchPlanner::new(config(AutoOffsetReset::Earliest));
        let mut now = t0;
        let mut in_flight: Vec<PlannedFetch> = Vec::new();
        let mut sessions: BTreeMap<i32, i32> = BTreeMap::new();
        for step in 0..3_000 {
            let (plans, _) = pl.poll_requests(now, &st, &snap, None);
            in_flight.extend(plans);
            if let Err(e) = pl.check_invariant(now, &st, &snap) {
                panic!("seed {seed} step {step}: {e}");
            }
            if st.assignment.values().all(|ps| ps.fetch_offset == Some(end)) {
                break;
            }
            match rng.gen_range(0..10) {
                // A leader moves (possibly back to where it was: a new epoch, same broker).
                0 => move_leader(&mut snap, rng.gen_range(0..n), rng.gen_range(0..3)),
                // Time passes to the next timer.
                1 => now = pl.poll_timeout().unwrap_or(now).max(now) + Duration::from_millis(1),
                _ if in_flight.is_empty() => now += Duration::from_millis(10),
                _ => {
                    let f = in_flight.remove(rng.gen_range(0..in_flight.len()));
                    let sid = *sessions.entry(f.broker).or_insert(f.broker + 10);
                    match rng.gen_range(0..10) {
                        0 => {
                            pl.handle_failure(now, f.broker, f.id, false, "reset by peer");
                        }
                        1 => {
                            let code = [KafkaCode::FETCH_SESSION_ID_NOT_FOUND, KafkaCode::INVALID_FETCH_SESSION_EPOCH, KafkaCode::UNKNOWN_SERVER_ERROR][rng.gen_range(0..3)];
                            pl.handle_response(now, 0, f.broker, f.id, code, 0, Vec::new(), &mut st);
                        }
                        _ => {
                            // The broker answers for the partitions it leads; others get
                            // NOT_LEADER / FENCED / UNKNOWN_LEADER_EPOCH.
                            let asked = pl.asked_offsets(f.broker, f.id);
                            let mut parts = Vec::new();
                            for (tp, off) in asked {
                                let leads = snap.leader("t", tp.partition) == Some(f.broker);
                                let outcome = if !leads {
                                    PartitionOutcome::Error(KafkaCode::NOT_LEADER_OR_FOLLOWER)
                                } else if rng.gen_range(0..8) == 0 {
                                    PartitionOutcome::Error([KafkaCode::FENCED_LEADER_EPOCH, KafkaCode::UNKNOWN_LEADER_EPOCH][rng.gen_range(0..2)])
                                } else if off < end {
                                    let to = (off + rng.gen_range(1..200)).min(end);
                                    data(off, to, end)
                                } else {
                                    continue; // nothing new: an incremental answer omits it
                                };
                                parts.push((tp, outcome));
                            }
                            pl.handle_response(now, 0, f.broker, f.id, KafkaCode::NONE, sid, parts, &mut st);
                        }
                    }
                }
            }
            // The application polls: buffered records are handed out.
            st.drain_records(usize::MAX);
            for ps in st.assignment.values_mut() {
                ps.buffered_bytes = 0;
            }
            st.buffer.clear();
        }
        for (tp, ps) in &st.assignment {
            assert_eq!(ps.fetch_offset, Some(end), "seed {seed}: {tp} stopped at {:?}", ps.fetch_offset);
        }
    }
}

#[test]
fn a_partition_being_revoked_is_neither_fetched_nor_a_reason_to_keep_its_broker() {
    let t0 = Instant::now();
    let snap = cluster(3); // p0 on broker 0, p1 on 1, p2 on 2
    let mut st = assigned(3, 0, 100);
    let positions = st.begin_revocation(&[tp(2)]);
    assert_eq!(positions.get(&tp(2)), Some(&0), "the position to commit");
    let mut pl = FetchPlanner::new(config(AutoOffsetReset::Latest));
    let (plans, _) = pl.poll_requests(t0, &st, &snap, None);
    let brokers: Vec<i32> = plans.iter().map(|p| p.broker).collect();
    assert_eq!(brokers, vec![0, 1]);
    assert_eq!(pl.wait_reason(t0, &st, &tp(2), &st.assignment[&tp(2)], &snap), Wait::Revoking);
    assert_eq!(pl.needed_brokers(t0, &st, &snap), [0, 1].into());
    // Leadership of p1 moves to broker 0: broker 1 is needed no more.
    let mut snap = snap;
    move_leader(&mut snap, 1, 0);
    assert_eq!(pl.needed_brokers(t0, &st, &snap), [0].into());
    pl.check_invariant(t0, &st, &snap).unwrap();
}
