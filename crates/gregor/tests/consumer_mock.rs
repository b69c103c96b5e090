//! The consumer end to end against gregor-mock: groups, offsets, rebalances, seeks.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gregor::{Consumer, ConsumerConfig, ConsumerRecord, RebalanceListener, RevokeContext, TopicPartition};
use gregor_mock::MockCluster;

const WAIT: Duration = Duration::from_secs(60);

fn config(cluster: &MockCluster, group: Option<&str>, extra: &[(&str, &str)]) -> ConsumerConfig {
    let mut b = ConsumerConfig::builder()
        .bootstrap_servers(cluster.bootstrap_servers())
        .set("auto.offset.reset", "earliest")
        .set("heartbeat.interval.ms", "100")
        .set("session.timeout.ms", "6000");
    if let Some(g) = group {
        b = b.group_id(g);
    }
    for (k, v) in extra {
        b = b.set(k, *v);
    }
    b.build().expect("valid config")
}

/// Appends `per_partition` records to each partition; values are "p{p}-{i}".
fn fill(cluster: &MockCluster, topic: &str, partitions: i32, per_partition: usize, tag: &str) -> usize {
    for p in 0..partitions {
        let recs: Vec<(String, String)> =
            (0..per_partition).map(|i| (format!("k{i}"), format!("{tag}p{p}-{i}"))).collect();
        cluster.append_records(topic, p, &recs).unwrap();
    }
    partitions as usize * per_partition
}

fn values(records: &[ConsumerRecord]) -> Vec<String> {
    records.iter().map(|r| r.value_str().unwrap_or("").to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_members_share_partitions_without_overlap_and_read_everything() {
    common::init_tracing("warn");
    let cluster = MockCluster::builder().brokers(3).topic("t", 6).start().await.unwrap();
    let total = fill(&cluster, "t", 6, 50, "");
    let members: Vec<Arc<Consumer>> =
        (0..3).map(|_| Arc::new(Consumer::new(config(&cluster, Some("g3"), &[])).unwrap())).collect();
    for m in &members {
        m.subscribe(["t"]).unwrap();
    }
    // Everyone polls concurrently until the group as a whole has read everything.
    let seen: Arc<Mutex<Vec<(usize, ConsumerRecord)>>> = Arc::default();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let futs = members.iter().enumerate().map(|(i, m)| {
            let m = m.clone();
            let seen = seen.clone();
            async move {
                let recs = m.poll(Duration::from_millis(100)).await.unwrap();
                seen.lock().unwrap().extend(recs.into_iter().map(|r| (i, r)));
            }
        });
        futures_util::future::join_all(futs).await;
        let n = seen.lock().unwrap().len();
        let assigned: usize = members.iter().map(|m| m.assignment().len()).sum();
        if n >= total && assigned == 6 && members.iter().all(|m| !m.assignment().is_empty()) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{n} of {total} read");
    }
    let seen = seen.lock().unwrap();
    let distinct: HashSet<String> = seen.iter().map(|(_, r)| r.value_str().unwrap().to_string()).collect();
    assert_eq!(distinct.len(), total, "together the members read everything");
    assert_eq!(seen.len(), total, "no record was read twice (no overlap)");
    let mut owner: BTreeMap<TopicPartition, BTreeSet<usize>> = BTreeMap::new();
    for (i, m) in members.iter().enumerate() {
        for tp in m.assignment() {
            owner.entry(tp).or_default().insert(i);
        }
    }
    assert_eq!(owner.len(), 6);
    assert!(owner.values().all(|o| o.len() == 1), "each partition has exactly one owner: {owner:?}");
    // Checked for all before any member closes: a close starts a rebalance.
    for m in &members {
        assert_eq!(m.assignment().len(), 2, "range over 3 members gives 2 partitions each");
    }
    for m in &members {
        m.close(Duration::from_secs(10)).await;
    }
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_member_resumes_from_committed_offsets() {
    common::init_tracing("warn");
    let cluster = MockCluster::builder().brokers(3).topic("r", 3).start().await.unwrap();
    let first = fill(&cluster, "r", 3, 20, "a");
    let c1 = Consumer::new(config(&cluster, Some("gr"), &[("enable.auto.commit", "false")])).unwrap();
    c1.subscribe(["r"]).unwrap();
    let got = common::poll_until(&c1, first, WAIT).await;
    assert_eq!(got.len(), first);
    c1.commit_sync().await.unwrap();
    for p in 0..3 {
        assert_eq!(cluster.committed_offset("gr", "r", p), Some(20), "committed the position");
    }
    c1.close(Duration::from_secs(10)).await;

    let second = fill(&cluster, "r", 3, 5, "b");
    let c2 = Consumer::new(config(&cluster, Some("gr"), &[("enable.auto.commit", "false")])).unwrap();
    c2.subscribe(["r"]).unwrap();
    let got = common::poll_until(&c2, second, WAIT).await;
    let v = values(&got);
    assert!(v.iter().all(|s| s.starts_with('b')), "nothing before the committed offset: {v:?}");
    assert_eq!(got.len(), second);
    // And nothing more arrives.
    assert!(c2.poll(Duration::from_millis(300)).await.unwrap().is_empty());
    c2.close(Duration::from_secs(10)).await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_commit_commits_consumed_positions() {
    common::init_tracing("warn");
    let cluster = MockCluster::builder().brokers(2).topic("ac", 2).start().await.unwrap();
    let total = fill(&cluster, "ac", 2, 10, "");
    let c = Consumer::new(config(&cluster, Some("gac"), &[("auto.commit.interval.ms", "100")])).unwrap();
    c.subscribe(["ac"]).unwrap();
    common::poll_until(&c, total, WAIT).await;
    // Keep polling (as an application does) while waiting for the broker to see the commits.
    {
        let waiter = cluster.wait_for(
            |m| (0..2).all(|p| m.committed_offset("gac", "ac", p) == Some(10)),
            WAIT,
        );
        tokio::pin!(waiter);
        loop {
            tokio::select! {
                r = &mut waiter => { r.expect("auto-commit reached the broker"); break; }
                r = c.poll(Duration::from_millis(50)) => { r.unwrap(); }
            }
        }
    }
    c.close(Duration::from_secs(10)).await;
    cluster.shutdown().await;
}

#[derive(Default)]
struct Recorder {
    assigned: Mutex<Vec<TopicPartition>>,
    revoked: Mutex<Vec<TopicPartition>>,
}

struct Listener(Arc<Recorder>);

impl RebalanceListener for Listener {
    fn on_partitions_assigned(&self, p: &[TopicPartition]) {
        self.0.assigned.lock().unwrap().extend(p.iter().cloned());
    }
    fn on_partitions_revoked(&self, p: &[TopicPartition], ctx: &mut RevokeContext) {
        self.0.revoked.lock().unwrap().extend(p.iter().cloned());
        ctx.commit_positions();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cooperative_rebalance_keeps_unaffected_partitions_assigned() {
    common::init_tracing("warn");
    let cluster = MockCluster::builder().brokers(3).topic("co", 6).start().await.unwrap();
    fill(&cluster, "co", 6, 5, "");
    let extra = [("partition.assignment.strategy", "cooperative-sticky")];
    let a = Arc::new(Consumer::new(config(&cluster, Some("gco"), &extra)).unwrap());
    let rec_a = Arc::new(Recorder::default());
    a.set_rebalance_listener(Listener(rec_a.clone()));
    a.subscribe(["co"]).unwrap();
    common::poll_until(&a, 30, WAIT).await;
    assert_eq!(a.assignment().len(), 6);

    let b = Arc::new(Consumer::new(config(&cluster, Some("gco"), &extra)).unwrap());
    b.subscribe(["co"]).unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    // Both poll until the group settles at 3 + 3.
    loop {
        let (ra, rb) = tokio::join!(a.poll(Duration::from_millis(100)), b.poll(Duration::from_millis(100)));
        ra.unwrap();
        rb.unwrap();
        if a.assignment().len() == 3 && b.assignment().len() == 3 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "group did not settle: {:?} / {:?}", a.assignment(), b.assignment());
    }
    let revoked: BTreeSet<TopicPartition> = rec_a.revoked.lock().unwrap().iter().cloned().collect();
    let kept: BTreeSet<TopicPartition> = a.assignment().into_iter().collect();
    assert_eq!(revoked.len(), 3, "only the partitions that moved were revoked: {revoked:?}");
    assert!(revoked.is_disjoint(&kept), "unaffected partitions were never revoked");
    let b_set: BTreeSet<TopicPartition> = b.assignment().into_iter().collect();
    assert_eq!(revoked, b_set, "exactly the revoked partitions went to the new member");
    a.close(Duration::from_secs(10)).await;
    b.close(Duration::from_secs(10)).await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assign_seek_pause_and_offset_lookups() {
    common::init_tracing("warn");
    let cluster = MockCluster::builder().brokers(2).topic("s", 2).start().await.unwrap();
    fill(&cluster, "s", 2, 10, "");
    let c = Consumer::new(config(&cluster, None, &[])).unwrap();
    let p0 = TopicPartition::new("s", 0);
    let p1 = TopicPartition::new("s", 1);
    assert_eq!(c.partitions_for("s").await.unwrap(), vec![p0.clone(), p1.clone()]);
    let unknown = c.partitions_for("nope").await.unwrap_err();
    assert_eq!(unknown.kind(), gregor::ErrorKind::UnknownTopic, "{unknown}");
    let begin = c.beginning_offsets(&[p0.clone(), p1.clone()]).await.unwrap();
    let end = c.end_offsets(&[p0.clone(), p1.clone()]).await.unwrap();
    assert_eq!(begin[&p0], 0);
    assert_eq!(end[&p1], 10);
    c.assign([p0.clone(), p1.clone()]).unwrap();
    c.seek(&p0, 7).unwrap();
    c.pause(&[p1.clone()]).unwrap();
    assert_eq!(c.position(&p0).await.unwrap(), 7);
    let got = common::poll_until(&c, 3, WAIT).await;
    assert!(got.iter().all(|r| r.partition == 0), "paused partition delivers nothing");
    assert_eq!(got.iter().map(|r| r.offset).collect::<Vec<_>>(), vec![7, 8, 9]);
    assert_eq!(c.position(&p0).await.unwrap(), 10);
    c.resume(&[p1.clone()]).unwrap();
    let got = common::poll_until(&c, 10, WAIT).await;
    assert!(got.iter().all(|r| r.partition == 1));
    c.seek_to_beginning(&[p0.clone()]).unwrap();
    let got = common::poll_until(&c, 10, WAIT).await;
    assert_eq!(got[0].offset, 0);
    assert_eq!(c.lag(), Some(0), "everything read: no lag");
    c.seek(&p1, 4).unwrap();
    assert_eq!(c.lag(), Some(6), "seeking back 6 records on p1 shows as lag");
    let times: BTreeMap<TopicPartition, i64> = [(p0.clone(), 0i64)].into_iter().collect();
    let found = c.offsets_for_times(&times).await.unwrap();
    assert_eq!(found[&p0].map(|o| o.offset), Some(0));
    c.close(Duration::from_secs(10)).await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumption_follows_a_moved_leader() {
    common::init_tracing("warn");
    let cluster = MockCluster::builder().brokers(3).topic("m", 1).start().await.unwrap();
    fill(&cluster, "m", 1, 5, "a");
    let c = Consumer::new(config(&cluster, None, &[])).unwrap();
    let p0 = TopicPartition::new("m", 0);
    c.assign([p0.clone()]).unwrap();
    common::poll_until(&c, 5, WAIT).await;
    let old = cluster.partition_leader("m", 0).unwrap();
    let new = (old + 1) % 3;
    cluster.move_leader("m", 0, new);
    fill(&cluster, "m", 1, 5, "b");
    let got = common::poll_until(&c, 5, WAIT).await;
    assert!(values(&got).iter().all(|v| v.starts_with('b')));
    let fetched_from_new = cluster
        .connections()
        .iter()
        .any(|r| r.broker_id == new && r.requests.iter().any(|q| q.api_key == 1));
    assert!(fetched_from_new, "fetches moved to the new leader");
    c.close(Duration::from_secs(10)).await;
    cluster.shutdown().await;
}

/// After a leader change the socket to the former leader is not kept for
/// `connections.max.idle.ms` (here -1: forever, as Java would): the consumer needs it no more
/// and closes it, with the reason `unneeded`, back to one fetch socket per leader.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_socket_to_a_former_leader_is_closed_as_unneeded() {
    common::init_tracing("warn");
    let cluster = MockCluster::builder().brokers(3).topic("u", 1).start().await.unwrap();
    fill(&cluster, "u", 1, 5, "a");
    let c = Consumer::new(config(&cluster, None, &[("connections.max.idle.ms", "-1")])).unwrap();
    let mut events = c.connection_events();
    let p0 = TopicPartition::new("u", 0);
    c.assign([p0.clone()]).unwrap();
    common::poll_until(&c, 5, WAIT).await;
    let old = cluster.partition_leader("u", 0).unwrap();
    let new = (old + 1) % 3;
    cluster.move_leader("u", 0, new);
    fill(&cluster, "u", 1, 5, "b");
    let reader = {
        let c = Arc::new(c);
        let r = c.clone();
        (c, tokio::spawn(async move { common::poll_until(&r, 5, WAIT).await }))
    };
    let closed = tokio::time::timeout(Duration::from_secs(120), async {
        loop {
            let ev = events.recv().await.expect("events end only when the consumer closes");
            // (The bootstrap socket, adopted as a broker that leads nothing, may go first.)
            if ev.kind == gregor::ConnectionEventKind::Closed(gregor::CloseReason::Unneeded) && ev.broker_id == Some(old)
            {
                return ev;
            }
        }
    })
    .await
    .expect("the former leader's socket is closed");
    assert_eq!(closed.role, gregor::Role::Broker, "{closed:?}");
    let got = reader.1.await.unwrap();
    assert!(values(&got).iter().all(|v| v.starts_with('b')));
    assert_eq!(reader.0.open_connections(), 1, "one socket, to the new leader");
    reader.0.close(Duration::from_secs(10)).await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_after_being_fenced_is_a_commit_failed_error() {
    common::init_tracing("warn");
    let cluster = MockCluster::builder().brokers(1).topic("f", 1).start().await.unwrap();
    fill(&cluster, "f", 1, 3, "");
    let c = Consumer::new(config(&cluster, Some("gf"), &[("enable.auto.commit", "false")])).unwrap();
    c.subscribe(["f"]).unwrap();
    common::poll_until(&c, 3, WAIT).await;
    // The next OffsetCommit is answered ILLEGAL_GENERATION (22), as after a rebalance that went
    // on without this member.
    cluster.inject_errors(8, 22, 1);
    let err = c.commit_sync().await.unwrap_err();
    assert_eq!(err.kind(), gregor::ErrorKind::CommitFailed, "{err}");
    assert!(err.to_string().contains("rebalanced"), "{err}");
    c.close(Duration::from_secs(10)).await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pattern_subscription_picks_up_matching_topics_as_they_appear() {
    common::init_tracing("warn");
    let cluster = MockCluster::builder().brokers(2).topic("pat-a", 2).topic("other", 1).start().await.unwrap();
    fill(&cluster, "pat-a", 2, 5, "a");
    fill(&cluster, "other", 1, 5, "o");
    let c = Consumer::new(config(&cluster, Some("gp"), &[("metadata.max.age.ms", "300")])).unwrap();
    c.subscribe_pattern("pat-.*").unwrap();
    let got = common::poll_until(&c, 10, WAIT).await;
    assert!(values(&got).iter().all(|v| v.starts_with('a')), "only matching topics");
    cluster.create_topic("pat-b", 1);
    fill(&cluster, "pat-b", 1, 3, "b");
    let got = common::poll_until(&c, 3, WAIT).await;
    assert!(values(&got).iter().all(|v| v.starts_with('b')), "a new matching topic is consumed");
    assert!(c.assignment().iter().any(|tp| &*tp.topic == "pat-b"));
    assert!(c.assignment().iter().all(|tp| &*tp.topic != "other"));
    c.close(Duration::from_secs(10)).await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_static_member_restarting_keeps_its_partitions_without_a_rebalance() {
    common::init_tracing("warn");
    let cluster = MockCluster::builder().brokers(2).topic("st", 4).start().await.unwrap();
    fill(&cluster, "st", 4, 5, "");
    let stat = |id: &str| config(&cluster, Some("gst"), &[("group.instance.id", id), ("enable.auto.commit", "false")]);
    let a = Arc::new(Consumer::new(stat("a")).unwrap());
    let rec_a = Arc::new(Recorder::default());
    a.set_rebalance_listener(Listener(rec_a.clone()));
    let b = Consumer::new(stat("b")).unwrap();
    a.subscribe(["st"]).unwrap();
    b.subscribe(["st"]).unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    while a.assignment().len() + b.assignment().len() != 4 || a.assignment().is_empty() || b.assignment().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "group did not settle");
        let (ra, rb) = tokio::join!(a.poll(Duration::from_millis(100)), b.poll(Duration::from_millis(100)));
        ra.unwrap();
        rb.unwrap();
    }
    let b_parts: BTreeSet<TopicPartition> = b.assignment().into_iter().collect();
    let generation = cluster.group("gst").map(|g| g.generation);
    rec_a.revoked.lock().unwrap().clear(); // forget the initial settling
    // A static member does not leave on close (KIP-345): its partitions wait for it.
    b.close(Duration::from_secs(10)).await;
    let b2 = Consumer::new(stat("b")).unwrap();
    b2.subscribe(["st"]).unwrap();
    while b2.assignment().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "restarted static member got nothing");
        let (ra, rb) = tokio::join!(a.poll(Duration::from_millis(100)), b2.poll(Duration::from_millis(100)));
        ra.unwrap();
        rb.unwrap();
    }
    let b2_parts: BTreeSet<TopicPartition> = b2.assignment().into_iter().collect();
    assert_eq!(b_parts, b2_parts, "same partitions after the restart");
    assert!(rec_a.revoked.lock().unwrap().is_empty(), "the other member was never disturbed");
    assert_eq!(cluster.group("gst").map(|g| g.generation), generation, "no new generation");
    a.close(Duration::from_secs(10)).await;
    b2.close(Duration::from_secs(10)).await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_that_stops_polling_leaves_and_rejoins_on_its_next_poll() {
    common::init_tracing("warn");
    let cluster = MockCluster::builder().brokers(2).topic("mp", 2).start().await.unwrap();
    fill(&cluster, "mp", 2, 3, "");
    let slow = Consumer::new(config(&cluster, Some("gmp"), &[("max.poll.interval.ms", "1000")])).unwrap();
    let other = Consumer::new(config(&cluster, Some("gmp"), &[])).unwrap();
    slow.subscribe(["mp"]).unwrap();
    other.subscribe(["mp"]).unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    while slow.assignment().len() != 1 || other.assignment().len() != 1 {
        assert!(tokio::time::Instant::now() < deadline, "group did not settle");
        let (ra, rb) = tokio::join!(slow.poll(Duration::from_millis(100)), other.poll(Duration::from_millis(100)));
        ra.unwrap();
        rb.unwrap();
    }
    // `slow` stops polling; `other` keeps going and ends up with both partitions once `slow`
    // left the group on its own (its heartbeat task enforces max.poll.interval.ms).
    while other.assignment().len() != 2 {
        assert!(tokio::time::Instant::now() < deadline, "the stalled member never left");
        other.poll(Duration::from_millis(100)).await.unwrap();
    }
    assert!(slow.assignment().is_empty(), "the stalled member gave its partitions up");
    // Its next poll rejoins.
    while slow.assignment().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "the stalled member did not rejoin");
        let (ra, rb) = tokio::join!(slow.poll(Duration::from_millis(100)), other.poll(Duration::from_millis(100)));
        ra.unwrap();
        rb.unwrap();
    }
    slow.close(Duration::from_secs(10)).await;
    other.close(Duration::from_secs(10)).await;
    cluster.shutdown().await;
}
