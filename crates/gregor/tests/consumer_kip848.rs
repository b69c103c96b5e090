//! `group.protocol=consumer` (KIP-848) end to end: against gregor-mock always, and against a
//! real Apache Kafka when `GREGOR_KAFKA_BOOTSTRAP` names one (those tests print a note and pass
//! when it is unset). Topics on the real cluster are created with `scripts/kafka-cluster.sh`.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gregor::{Consumer, ConsumerConfig, OffsetAndMetadata, RebalanceListener, RevokeContext, TopicPartition};
use gregor_mock::MockCluster;

const WAIT: Duration = Duration::from_secs(90);
const FETCH: i16 = 1;
const HEARTBEAT_848: i16 = 68;

fn config(bootstrap: &str, group: &str, extra: &[(&str, &str)]) -> ConsumerConfig {
    let mut b = ConsumerConfig::builder()
        .bootstrap_servers(bootstrap)
        .group_id(group)
        .set("group.protocol", "consumer")
        .set("auto.offset.reset", "earliest");
    for (k, v) in extra {
        b = b.set(k, *v);
    }
    b.build().expect("valid config")
}

/// What a member's rebalance listener saw.
#[derive(Default, Debug)]
struct Seen {
    assigned: Mutex<BTreeSet<TopicPartition>>,
    revoked: Mutex<BTreeSet<TopicPartition>>,
    lost: Mutex<BTreeSet<TopicPartition>>,
}

impl Seen {
    fn take(&self) -> (BTreeSet<TopicPartition>, BTreeSet<TopicPartition>, BTreeSet<TopicPartition>) {
        (
            std::mem::take(&mut *self.assigned.lock().unwrap()),
            std::mem::take(&mut *self.revoked.lock().unwrap()),
            std::mem::take(&mut *self.lost.lock().unwrap()),
        )
    }
}

struct Listener(Arc<Seen>);

impl RebalanceListener for Listener {
    fn on_partitions_assigned(&self, p: &[TopicPartition]) {
        self.0.assigned.lock().unwrap().extend(p.iter().cloned());
    }
    fn on_partitions_revoked(&self, p: &[TopicPartition], _ctx: &mut RevokeContext) {
        self.0.revoked.lock().unwrap().extend(p.iter().cloned());
    }
    fn on_partitions_lost(&self, p: &[TopicPartition]) {
        self.0.lost.lock().unwrap().extend(p.iter().cloned());
    }
}

struct Member {
    consumer: Arc<Consumer>,
    seen: Arc<Seen>,
}

fn member(bootstrap: &str, group: &str, topic: &str, extra: &[(&str, &str)]) -> Member {
    let consumer = Arc::new(Consumer::new(config(bootstrap, group, extra)).unwrap());
    let seen = Arc::new(Seen::default());
    consumer.set_rebalance_listener(Listener(seen.clone()));
    consumer.subscribe([topic]).unwrap();
    Member { consumer, seen }
}

fn owned(m: &Member) -> BTreeSet<TopicPartition> {
    m.consumer.assignment().into_iter().collect()
}

/// Polls every member concurrently (as applications would) until `done` holds.
async fn poll_until(members: &[&Member], what: &str, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if done() {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for: {what}");
        let polls: Vec<_> = members
            .iter()
            .map(|m| {
                let c = m.consumer.clone();
                tokio::spawn(async move { c.poll(Duration::from_millis(100)).await.map(|r| r.len()) })
            })
            .collect();
        for p in polls {
            p.await.unwrap().expect("poll");
        }
    }
}

/// Every partition of `topic` owned by exactly one member, shares differing by at most one.
fn full_and_disjoint(members: &[&Member], topic: &str, partitions: i32) -> bool {
    let sets: Vec<BTreeSet<TopicPartition>> = members.iter().map(|m| owned(m)).collect();
    let total: usize = sets.iter().map(|s| s.len()).sum();
    let union: BTreeSet<TopicPartition> = sets.iter().flatten().cloned().collect();
    let all: BTreeSet<TopicPartition> = (0..partitions).map(|p| TopicPartition::new(topic, p)).collect();
    let (lo, hi) = (sets.iter().map(|s| s.len()).min(), sets.iter().map(|s| s.len()).max());
    total == partitions as usize && union == all && hi.zip(lo).is_some_and(|(h, l)| h - l <= 1)
}

// ---------------------------------------------------------------------------------------------
// Scenarios, shared by the mock and the real-Kafka tests.

async fn scenario_three_members(bootstrap: &str, topic: &str, group: &str) {
    let ms: Vec<Member> = (0..3).map(|_| member(bootstrap, group, topic, &[])).collect();
    let refs: Vec<&Member> = ms.iter().collect();
    poll_until(&refs, "3 members share 6 partitions", || full_and_disjoint(&refs, topic, 6)).await;
    for m in &ms {
        assert_eq!(owned(m).len(), 2, "uniform assignor: 6 partitions over 3 members");
        let (_, _, lost) = m.seen.take();
        assert!(lost.is_empty(), "nothing lost in a plain join: {lost:?}");
    }
    for m in &ms {
        m.consumer.close(Duration::from_secs(10)).await;
    }
}

/// A member joining takes only its share, and only from the members that had more; a member
/// leaving hands over only its own partitions.
async fn scenario_join_and_leave(bootstrap: &str, topic: &str, group: &str) {
    let a = member(bootstrap, group, topic, &[]);
    let b = member(bootstrap, group, topic, &[]);
    poll_until(&[&a, &b], "2 members share 6 partitions", || full_and_disjoint(&[&a, &b], topic, 6)).await;
    let (a0, b0) = (owned(&a), owned(&b));
    assert_eq!((a0.len(), b0.len()), (3, 3));
    a.seen.take();
    b.seen.take();

    let c = member(bootstrap, group, topic, &[]);
    poll_until(&[&a, &b, &c], "c gets its share", || full_and_disjoint(&[&a, &b, &c], topic, 6)).await;
    let (a_add, a_rev, a_lost) = a.seen.take();
    let (b_add, b_rev, b_lost) = b.seen.take();
    let (c_add, c_rev, _) = c.seen.take();
    assert!(a_add.is_empty() && b_add.is_empty(), "existing members gain nothing when one joins");
    assert!(a_lost.is_empty() && b_lost.is_empty() && c_rev.is_empty());
    assert_eq!((a_rev.len(), b_rev.len()), (1, 1), "each existing member gives up exactly one");
    assert_eq!(c_add, a_rev.union(&b_rev).cloned().collect(), "c got exactly what a and b gave up");
    assert_eq!(owned(&a), a0.difference(&a_rev).cloned().collect(), "a kept the rest");
    assert_eq!(owned(&b), b0.difference(&b_rev).cloned().collect(), "b kept the rest");

    let c_had = owned(&c);
    c.consumer.close(Duration::from_secs(10)).await;
    poll_until(&[&a, &b], "c's partitions move back", || full_and_disjoint(&[&a, &b], topic, 6)).await;
    let (a_add, a_rev, _) = a.seen.take();
    let (b_add, b_rev, _) = b.seen.take();
    assert!(a_rev.is_empty() && b_rev.is_empty(), "nobody revokes when a member leaves");
    assert_eq!(a_add.union(&b_add).cloned().collect::<BTreeSet<_>>(), c_had, "only c's partitions moved");
    a.consumer.close(Duration::from_secs(10)).await;
    b.consumer.close(Duration::from_secs(10)).await;
}

/// Commits made with the member epoch are there for the next incarnation.
async fn scenario_commits_survive_restart(bootstrap: &str, topic: &str, group: &str) {
    let a = member(bootstrap, group, topic, &[("enable.auto.commit", "false")]);
    poll_until(&[&a], "a owns everything", || owned(&a).len() == 6).await;
    let offsets: BTreeMap<TopicPartition, OffsetAndMetadata> =
        (0..6).map(|p| (TopicPartition::new(topic, p), OffsetAndMetadata::new(p as i64 * 10 + 7))).collect();
    a.consumer.commit_offsets_sync(offsets.clone()).await.expect("commit with the member epoch");
    a.consumer.close(Duration::from_secs(10)).await;
    drop(a);

    let b = member(bootstrap, group, topic, &[("enable.auto.commit", "false")]);
    poll_until(&[&b], "b owns everything", || owned(&b).len() == 6).await;
    let tps: Vec<TopicPartition> = offsets.keys().cloned().collect();
    let got = b.consumer.committed(&tps).await.expect("OffsetFetch v9 with member id and epoch");
    for (tp, om) in &offsets {
        assert_eq!(got.get(tp).map(|o| o.offset), Some(om.offset), "{tp}");
    }
    b.consumer.close(Duration::from_secs(10)).await;
}

// ---------------------------------------------------------------------------------------------
// gregor-mock

async fn mock(brokers: usize, topic: &str, partitions: i32) -> MockCluster {
    MockCluster::builder().brokers(brokers).topic(topic, partitions).start().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mock_three_members_get_a_full_disjoint_assignment() {
    common::init_tracing("warn");
    let cluster = mock(3, "t", 6).await;
    scenario_three_members(&cluster.bootstrap_servers(), "t", "g3").await;
    // The coordinator agrees, and every member left on close (epoch -1).
    let g = cluster.consumer_group("g3").expect("group known");
    assert!(g.members.is_empty(), "closed members left: {g:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mock_join_and_leave_move_only_what_they_must() {
    common::init_tracing("warn");
    let cluster = mock(3, "t", 6).await;
    scenario_join_and_leave(&cluster.bootstrap_servers(), "t", "gjl").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mock_commits_survive_a_restart_and_records_resume() {
    common::init_tracing("warn");
    let cluster = mock(3, "t", 6).await;
    scenario_commits_survive_restart(&cluster.bootstrap_servers(), "t", "gc").await;
    assert_eq!(cluster.committed_offset("gc", "t", 5), Some(57));

    // Records: a member reads, commits, closes; the next one starts where it stopped.
    let g = "gr";
    let a = member(&cluster.bootstrap_servers(), g, "t", &[("enable.auto.commit", "false")]);
    let mut got = 0;
    // (poll_until drops records: append only once a owns everything.)
    poll_until(&[&a], "a owns everything", || owned(&a).len() == 6).await;
    for p in 0..6 {
        cluster.append_records("t", p, &[("k", "old")]).unwrap();
    }
    let deadline = tokio::time::Instant::now() + WAIT;
    while got < 6 {
        assert!(tokio::time::Instant::now() < deadline);
        got += a.consumer.poll(Duration::from_millis(200)).await.unwrap().len();
    }
    a.consumer.commit_sync().await.unwrap();
    a.consumer.close(Duration::from_secs(10)).await;
    for p in 0..6 {
        cluster.append_records("t", p, &[("k", "new")]).unwrap();
    }
    let b = member(&cluster.bootstrap_servers(), g, "t", &[]);
    let mut vals = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    while vals.len() < 6 {
        assert!(tokio::time::Instant::now() < deadline);
        vals.extend(b.consumer.poll(Duration::from_millis(200)).await.unwrap());
    }
    assert!(vals.iter().all(|r| r.value_str() == Some("new")), "only records after the commit");
    b.consumer.close(Duration::from_secs(10)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mock_fenced_member_loses_partitions_and_rejoins() {
    common::init_tracing("warn");
    let cluster = mock(3, "t", 6).await;
    let a = member(&cluster.bootstrap_servers(), "gf", "t", &[]);
    poll_until(&[&a], "a owns everything", || owned(&a).len() == 6).await;
    a.seen.take();
    let before = cluster.consumer_group("gf").unwrap().members[0].clone();

    // FENCED_MEMBER_EPOCH on the next heartbeat.
    cluster.inject_errors(HEARTBEAT_848, 110, 1);
    poll_until(&[&a], "fenced, lost, reassigned", || {
        let s = &a.seen;
        s.lost.lock().unwrap().len() == 6 && s.assigned.lock().unwrap().len() == 6 && owned(&a).len() == 6
    })
    .await;
    let (_, revoked, _) = a.seen.take();
    assert!(revoked.is_empty(), "fenced partitions are lost, not revoked");
    let after = cluster.consumer_group("gf").unwrap().members[0].clone();
    assert_eq!(after.member_id, before.member_id, "KIP-1082: the member id survives a rejoin");

    // The session expires on the coordinator: UNKNOWN_MEMBER_ID, then the same recovery.
    assert!(cluster.expire_consumer_member("gf", &after.member_id));
    poll_until(&[&a], "unknown member recovers", || {
        let s = &a.seen;
        s.lost.lock().unwrap().len() == 6
            && owned(&a).len() == 6
            && cluster.consumer_group("gf").is_some_and(|g| g.members.len() == 1)
    })
    .await;
    // And it still reads.
    cluster.append_records("t", 0, &[("k", "after")]).unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        assert!(tokio::time::Instant::now() < deadline);
        let r = a.consumer.poll(Duration::from_millis(200)).await.unwrap();
        if r.iter().any(|r| r.value_str() == Some("after")) {
            break;
        }
    }
    a.consumer.close(Duration::from_secs(10)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mock_static_member_restart_keeps_its_partitions() {
    common::init_tracing("warn");
    let cluster = mock(3, "t", 6).await;
    let bs = cluster.bootstrap_servers();
    let a = member(&bs, "gs", "t", &[("group.instance.id", "a")]);
    let b = member(&bs, "gs", "t", &[("group.instance.id", "b")]);
    poll_until(&[&a, &b], "a and b share", || full_and_disjoint(&[&a, &b], "t", 6)).await;
    let a_had = owned(&a);
    a.consumer.close(Duration::from_secs(10)).await;
    let g = cluster.consumer_group("gs").unwrap();
    assert!(g.members.iter().any(|m| m.instance_id.as_deref() == Some("a") && m.left_static), "{g:?}");
    b.seen.take();
    let a2 = member(&bs, "gs", "t", &[("group.instance.id", "a")]);
    poll_until(&[&a2, &b], "a's new incarnation is back", || owned(&a2) == a_had).await;
    let (b_add, b_rev, _) = b.seen.take();
    assert!(b_add.is_empty() && b_rev.is_empty(), "b is untouched by a static restart");
    a2.consumer.close(Duration::from_secs(10)).await;
    b.consumer.close(Duration::from_secs(10)).await;
}

/// Heartbeat arrival gaps on the coordinator (ms), from the mock's receive timestamps.
fn heartbeat_gaps(cluster: &MockCluster) -> Vec<u128> {
    let mut at: Vec<std::time::Instant> = cluster
        .connections()
        .iter()
        .flat_map(|c| c.requests.iter().filter(|r| r.api_key == HEARTBEAT_848).map(|r| r.received_at))
        .collect();
    at.sort();
    at.windows(2).map(|w| (w[1] - w[0]).as_millis()).collect()
}

/// Sockets per mode with L = 3 leader brokers, the coordinator being one of them; heartbeats
/// measured while long-poll Fetches (fetch.max.wait.ms 500, no data) park on the same socket.
async fn sockets_for(mode: &str) -> (usize, usize, Vec<u128>, bool) {
    let cluster = mock(3, "t", 3).await;
    let bs = cluster.bootstrap_servers();
    let a = member(&bs, "gsock", "t", &[("coordinator.connection", mode), ("fetch.max.wait.ms", "500")]);
    poll_until(&[&a], "a owns everything", || owned(&a).len() == 3).await;
    // Let heartbeats and parked fetches interleave for a while: wait for 12 more heartbeats.
    let count = |c: &MockCluster| {
        c.connections().iter().map(|c| c.count(HEARTBEAT_848)).sum::<usize>()
    };
    let start = count(&cluster);
    poll_until(&[&a], "12 more heartbeats", || count(&cluster) >= start + 12).await;
    let conns = cluster.connections();
    let open = conns.iter().filter(|c| c.is_open()).count();
    let ever = conns.len();
    // Shared: heartbeats and fetches on one socket.
    let together = conns.iter().any(|c| c.count(HEARTBEAT_848) > 0 && c.count(FETCH) > 0);
    let gaps = heartbeat_gaps(&cluster);
    a.consumer.close(Duration::from_secs(10)).await;
    (open, ever, gaps, together)
}

fn summary(gaps: &[u128]) -> String {
    let steady = &gaps[gaps.len().min(3)..];
    let max = steady.iter().max().copied().unwrap_or(0);
    let mean = steady.iter().sum::<u128>() / steady.len().max(1) as u128;
    format!("{} gaps after the first 3: mean {mean} ms, max {max} ms", steady.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mock_shared_coordinator_uses_one_socket_per_broker() {
    common::init_tracing("warn");
    let (open, ever, gaps, together) = sockets_for("shared").await;
    println!("shared: open {open}, ever opened {ever}; heartbeat interval 500 ms; {}", summary(&gaps));
    assert_eq!(open, 3, "L = 3 sockets: the coordinator rides on its broker's fetch socket");
    assert_eq!(ever, 3, "the bootstrap socket was adopted, nothing else was opened");
    assert!(together, "heartbeats share a socket with fetches");
    assert!(gaps.len() >= 12);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mock_dedicated_coordinator_adds_one_socket() {
    common::init_tracing("warn");
    let (open, ever, gaps, together) = sockets_for("dedicated").await;
    println!("dedicated: open {open}, ever opened {ever}; heartbeat interval 500 ms; {}", summary(&gaps));
    assert_eq!(open, 4, "L + 1 sockets");
    assert_eq!(ever, 4);
    assert!(!together, "heartbeats have their own socket");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn construction_opens_nothing_with_the_consumer_protocol() {
    let cluster = mock(1, "t", 1).await;
    let c = Consumer::new(config(&cluster.bootstrap_servers(), "lazy", &[])).unwrap();
    c.subscribe(["t"]).unwrap();
    tokio::task::yield_now().await;
    assert!(cluster.connections().is_empty(), "no socket before the first poll");
    assert_eq!(c.open_connections(), 0);
}

// ---------------------------------------------------------------------------------------------
// Real Apache Kafka (GREGOR_KAFKA_BOOTSTRAP, e.g. from scripts/kafka-cluster.sh start).

fn real_kafka() -> Option<String> {
    match std::env::var("GREGOR_KAFKA_BOOTSTRAP") {
        Ok(b) if !b.trim().is_empty() => Some(b),
        _ => {
            println!("GREGOR_KAFKA_BOOTSTRAP is not set: skipping the real-Kafka KIP-848 test");
            None
        }
    }
}

/// Creates a fresh 6-partition topic with the cluster script; returns (topic, group).
fn real_topic(bootstrap: &str, tag: &str) -> (String, String) {
    let nonce = format!("{}-{}", std::process::id(), rand_suffix());
    let topic = format!("kip848-{tag}-{nonce}");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/kafka-cluster.sh");
    let out = std::process::Command::new("bash")
        .args([script, "tool", "org.apache.kafka.tools.TopicCommand", "--bootstrap-server", bootstrap])
        .args(["--create", "--topic", &topic, "--partitions", "6", "--replication-factor", "1"])
        .output()
        .expect("run scripts/kafka-cluster.sh");
    assert!(out.status.success(), "topic creation failed: {}", String::from_utf8_lossy(&out.stderr));
    (topic.clone(), format!("{topic}-group"))
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0) % 1_000_000_007
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_three_members_get_a_full_disjoint_assignment() {
    common::init_tracing("warn");
    let Some(bs) = real_kafka() else { return };
    let (topic, group) = real_topic(&bs, "three");
    scenario_three_members(&bs, &topic, &group).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_join_and_leave_move_only_what_they_must() {
    common::init_tracing("warn");
    let Some(bs) = real_kafka() else { return };
    let (topic, group) = real_topic(&bs, "joinleave");
    scenario_join_and_leave(&bs, &topic, &group).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_commits_survive_a_restart() {
    common::init_tracing("warn");
    let Some(bs) = real_kafka() else { return };
    let (topic, group) = real_topic(&bs, "commit");
    scenario_commits_survive_restart(&bs, &topic, &group).await;
}
