//! The compatibility matrix's checks (issue #13), run against one real Apache Kafka release.
//!
//! `scripts/compat.sh` starts a cluster of each release with `scripts/kafka-cluster.sh`
//! (`KAFKA_VERSION`), sets `GREGOR_KAFKA_BOOTSTRAP` and `GREGOR_KAFKA_VERSION`, and runs each
//! test here on its own; without `GREGOR_KAFKA_BOOTSTRAP` every test prints "skipped" and passes.
//! Each test that passes appends one line to `GREGOR_COMPAT_OUT` (when set):
//! `version<TAB>check<TAB>what was checked` — the cells of `docs/compatibility.md`.
//!
//! Topics and data are made with librdkafka (confluent-kafka from PyPI, `scripts/compat/data.py`
//! and, for transactions, the script in `compat_read_committed`): it talks to every broker
//! release and to the other Kafka-protocol servers, and one Python process per step costs far
//! less than a JVM tool launch on this machine.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io::Write;
use std::process::Command;
use std::time::Duration;

use common::{cluster_script, repo, unique};
use gregor::{Consumer, ConsumerConfig, ConsumerRecord, ErrorKind, TopicPartition};

const WAIT: Duration = Duration::from_secs(120);

struct Cluster {
    bootstrap: String,
    version: String,
}

impl Cluster {
    fn get() -> Option<Cluster> {
        // gregor's own log (RUST_LOG, default warn) goes to the test's output, which the test
        // harness prints for a failing check: scripts/compat.sh keeps it in target/compat/.
        common::init_tracing("warn");
        let bootstrap = common::kafka_bootstrap("scripts/compat.sh")?;
        let version = std::env::var("GREGOR_KAFKA_VERSION").unwrap_or_else(|_| "4.3.1".into());
        Some(Cluster { bootstrap, version })
    }

    /// Whether the Apache Kafka release is `major.minor` or newer, for features that need a
    /// newer one. Other servers ("tansu-0.6.0", "kfake") are expected to do everything.
    fn at_least(&self, major: u32, minor: u32) -> bool {
        if !self.version.starts_with(|c: char| c.is_ascii_digit()) {
            return true;
        }
        let mut it = self.version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
        let (a, b) = (it.next().unwrap_or(0), it.next().unwrap_or(0));
        (a, b) >= (major, minor)
    }

    /// Records a passed cell of the matrix.
    fn record(&self, check: &str, detail: &str) {
        println!("COMPAT {} {check}: {detail}", self.version);
        if let Ok(path) = std::env::var("GREGOR_COMPAT_OUT") {
            let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).expect("open GREGOR_COMPAT_OUT");
            writeln!(f, "{}\t{check}\t{detail}", self.version).expect("write GREGOR_COMPAT_OUT");
        }
    }

    fn first_broker(&self) -> String {
        self.bootstrap.split(',').next().unwrap().to_string()
    }
}

/// The project venv's Python (confluent-kafka), set up once per test process.
fn python() -> String {
    static PY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PY.get_or_init(|| {
        let py = Command::new("bash").arg(repo().join("scripts/setup-python.sh")).output().unwrap();
        assert!(py.status.success(), "setup-python.sh failed: {}", String::from_utf8_lossy(&py.stderr));
        String::from_utf8_lossy(&py.stdout).lines().last().unwrap().trim().to_string()
    })
    .clone()
}

/// Runs `scripts/compat/data.py` (librdkafka) against this cluster.
fn data(k: &Cluster, args: &[&str]) -> String {
    let out = Command::new(python())
        .arg(repo().join("scripts/compat/data.py"))
        .arg(args[0])
        .arg(&k.bootstrap)
        .args(&args[1..])
        .output()
        .expect("run data.py");
    assert!(
        out.status.success(),
        "data.py {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Creates a topic and returns the brokers leading its partitions.
fn create_topic(k: &Cluster, name: &str, partitions: u32, rf: u32) -> BTreeSet<i32> {
    let out = data(k, &["create", name, &partitions.to_string(), &rf.to_string()]);
    let leaders: BTreeSet<i32> = out.split_whitespace().filter_map(|w| w.parse().ok()).collect();
    assert!(!leaders.is_empty(), "no leaders for {name}: {out}");
    leaders
}

/// `n` records of `size` random bytes (one payload), compressed with `codec`, acks=all.
fn produce(k: &Cluster, topic: &str, n: usize, size: usize, codec: &str) {
    data(k, &["produce", topic, &n.to_string(), &size.to_string(), codec]);
}

fn config(bootstrap: &str, group: Option<&str>, extra: &[(&str, &str)]) -> ConsumerConfig {
    let mut b = ConsumerConfig::builder()
        .bootstrap_servers(bootstrap)
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .set("default.api.timeout.ms", "60000");
    if let Some(g) = group {
        b = b.group_id(g);
    }
    for (k, v) in extra {
        b = b.set(k, *v);
    }
    b.build().unwrap()
}

/// Polls until `want` distinct (partition, offset) pairs arrived; returns every record seen.
async fn poll_distinct(c: &Consumer, want: usize) -> Vec<ConsumerRecord> {
    let mut got = Vec::new();
    let mut distinct = HashSet::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    while distinct.len() < want {
        assert!(tokio::time::Instant::now() < deadline, "only {} of {want} records", distinct.len());
        for r in c.poll(Duration::from_millis(500)).await.expect("poll") {
            distinct.insert((r.topic.clone(), r.partition, r.offset));
            got.push(r);
        }
    }
    got
}

fn distinct(records: &[ConsumerRecord]) -> usize {
    records.iter().map(|r| (r.topic.clone(), r.partition, r.offset)).collect::<HashSet<_>>().len()
}

/// assign() without a group: L sockets (the bootstrap one adopted), every record once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compat_assign() {
    let Some(k) = Cluster::get() else { return };
    let topic = unique("assign");
    let leaders = create_topic(&k, &topic, 6, 1);
    produce(&k, &topic, 3000, 100, "none");
    let c = Consumer::new(config(&k.first_broker(), None, &[("connections.max.idle.ms", "-1")])).unwrap();
    c.assign((0..6).map(|p| TopicPartition::new(&topic, p))).unwrap();
    let got = poll_distinct(&c, 3000).await;
    assert_eq!(distinct(&got), 3000);
    assert!(got.iter().all(|r| r.value.as_ref().map_or(0, |v| v.len()) == 100), "every value is 100 bytes");
    let m = c.connection_metrics();
    assert_eq!(m.connection_creation_total as usize, leaders.len(), "L sockets without a group: {m:?}");
    assert_eq!(m.close_total(), 0, "nothing closed and reopened: {m:?}");
    c.close(Duration::from_secs(30)).await;
    assert_eq!(c.open_connections(), 0);
    k.record(
        "assign",
        &format!("6 partitions, 3000/3000 records (100 B each); sockets {} = L ({} leaders), 0 reopened", m.connection_creation_total, leaders.len()),
    );
}

/// Creates `__consumer_offsets` and waits until a group commit works, so that socket counts
/// are measured against loaded coordinators. On a fresh cluster every coordinator first answers
/// COORDINATOR_LOAD_IN_PROGRESS, which gregor (unlike Java, which just retries) treats as a
/// lost coordinator and reconnects for — see docs/compatibility.md.
async fn warm_up_group_coordinators(k: &Cluster) {
    let topic = unique("warm");
    create_topic(k, &topic, 1, 1);
    produce(k, &topic, 1, 10, "none");
    for i in 0..3 {
        let c = Consumer::new(config(&k.bootstrap, Some(&format!("{}-{i}", unique("warm"))), &[])).unwrap();
        c.assign([TopicPartition::new(&topic, 0)]).unwrap();
        poll_distinct(&c, 1).await;
        c.commit_sync().await.unwrap();
        c.close(Duration::from_secs(10)).await;
    }
}

/// A classic group consumer: L + 1 sockets, every record, a commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compat_group_classic() {
    let Some(k) = Cluster::get() else { return };
    warm_up_group_coordinators(&k).await;
    let topic = unique("group");
    let leaders = create_topic(&k, &topic, 6, 1);
    produce(&k, &topic, 3000, 100, "none");
    let c = Consumer::new(config(&k.first_broker(), Some(&unique("g")), &[("connections.max.idle.ms", "-1")])).unwrap();
    c.subscribe([topic.clone()]).unwrap();
    let got = poll_distinct(&c, 3000).await;
    assert_eq!(distinct(&got), 3000);
    c.commit_sync().await.unwrap();
    assert_eq!(c.assignment().len(), 6);
    let m = c.connection_metrics();
    assert_eq!(m.connection_creation_total as usize, leaders.len() + 1, "L+1 sockets: {m:?}");
    assert_eq!(m.close_total(), 0, "nothing closed and reopened: {m:?}");
    c.close(Duration::from_secs(30)).await;
    assert_eq!(c.open_connections(), 0);
    k.record(
        "group-classic",
        &format!(
            "subscribe, 6/6 partitions, 3000/3000 records, commit; sockets {} = L+1 (L={}), 0 reopened",
            m.connection_creation_total,
            leaders.len()
        ),
    );
}

/// Two members share a topic; after both commit and close, a new member of the group reads
/// only what was produced after the commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compat_commits_survive_restart() {
    let Some(k) = Cluster::get() else { return };
    let topic = unique("commit");
    create_topic(&k, &topic, 6, 1);
    produce(&k, &topic, 2000, 50, "none");
    let group = unique("gc");
    let a = Consumer::new(config(&k.bootstrap, Some(&group), &[])).unwrap();
    let b = Consumer::new(config(&k.bootstrap, Some(&group), &[])).unwrap();
    a.subscribe([topic.clone()]).unwrap();
    b.subscribe([topic.clone()]).unwrap();
    let mut seen: HashSet<(i32, i64)> = HashSet::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    while seen.len() < 2000 || a.assignment().is_empty() || b.assignment().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "read {} of 2000", seen.len());
        let (ra, rb) = tokio::join!(a.poll(Duration::from_millis(300)), b.poll(Duration::from_millis(300)));
        seen.extend(ra.unwrap().iter().map(|r| (r.partition, r.offset)));
        seen.extend(rb.unwrap().iter().map(|r| (r.partition, r.offset)));
    }
    let sa: BTreeSet<TopicPartition> = a.assignment().into_iter().collect();
    let sb: BTreeSet<TopicPartition> = b.assignment().into_iter().collect();
    assert!(sa.is_disjoint(&sb), "no partition owned twice");
    assert_eq!(sa.len() + sb.len(), 6);
    // A partition that moved in the last rebalance may not have been read by its new owner
    // yet (it has no position to commit): poll and commit until the group's commits cover all
    // 2000 records, so that what follows tests the restart, not this race.
    let all: Vec<TopicPartition> = (0..6).map(|p| TopicPartition::new(&topic, p)).collect();
    loop {
        assert!(tokio::time::Instant::now() < deadline, "commits never covered the 2000 records");
        a.commit_sync().await.unwrap();
        b.commit_sync().await.unwrap();
        let covered: i64 = a.committed(&all).await.unwrap().values().map(|o| o.offset).sum();
        if covered == 2000 {
            break;
        }
        assert!(covered < 2000, "committed past the end: {covered}");
        let (ra, rb) = tokio::join!(a.poll(Duration::from_millis(300)), b.poll(Duration::from_millis(300)));
        seen.extend(ra.unwrap().iter().map(|r| (r.partition, r.offset)));
        seen.extend(rb.unwrap().iter().map(|r| (r.partition, r.offset)));
    }
    a.close(Duration::from_secs(30)).await;
    b.close(Duration::from_secs(30)).await;

    produce(&k, &topic, 100, 50, "none");
    let r = Consumer::new(config(&k.bootstrap, Some(&group), &[])).unwrap();
    r.subscribe([topic.clone()]).unwrap();
    let got = poll_distinct(&r, 100).await;
    assert_eq!(got.len(), 100, "only the records produced after the commits");
    assert!(got.iter().all(|r| r.offset >= 0));
    assert!(r.poll(Duration::from_secs(2)).await.unwrap().is_empty(), "nothing committed is read again");
    let committed = r.committed(&sa.iter().chain(sb.iter()).cloned().collect::<Vec<_>>()).await.unwrap();
    assert_eq!(committed.len(), 6, "OffsetFetch returns all 6 commits");
    r.close(Duration::from_secs(30)).await;
    k.record(
        "commit-restart",
        &format!(
            "2 members split 6 partitions ({}+{}), 2000/2000 records, commit, close; new member read exactly the 100 new records",
            sa.len(),
            sb.len()
        ),
    );
}

/// Every codec the producer side offers, one topic each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compat_codecs() {
    let Some(k) = Cluster::get() else { return };
    let mut done = Vec::new();
    for codec in ["gzip", "snappy", "lz4", "zstd"] {
        let topic = unique(&format!("codec-{codec}"));
        create_topic(&k, &topic, 2, 1);
        produce(&k, &topic, 2000, 200, codec);
        let c = Consumer::new(config(&k.bootstrap, None, &[])).unwrap();
        c.assign([TopicPartition::new(&topic, 0), TopicPartition::new(&topic, 1)]).unwrap();
        let got = poll_distinct(&c, 2000).await;
        assert_eq!(distinct(&got), 2000, "{codec}");
        assert!(got.iter().all(|r| r.value.as_ref().map_or(0, |v| v.len()) == 200), "{codec}: every value is 200 bytes");
        assert!(c.poll(Duration::from_millis(500)).await.unwrap().is_empty());
        c.close(Duration::from_secs(10)).await;
        done.push(format!("{codec} 2000/2000"));
    }
    k.record("codecs", &format!("{} (200 B values, CRC checked)", done.join(", ")));
}

/// read_committed hides an aborted transaction that librdkafka wrote between two committed
/// ones; read_uncommitted shows it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compat_read_committed() {
    let Some(k) = Cluster::get() else { return };
    let topic = unique("txn");
    create_topic(&k, &topic, 1, 1);
    let code = r#"
import sys
from confluent_kafka import Producer
p = Producer({"bootstrap.servers": sys.argv[1], "transactional.id": "gregor-compat-" + sys.argv[2]})
p.init_transactions(60)
for tag, commit in (("c1", True), ("ab", False), ("c2", True)):
    p.begin_transaction()
    for i in range(10):
        p.produce(sys.argv[2], value=f"{tag}-{i}".encode(), key=b"k")
    p.flush()
    p.commit_transaction() if commit else p.abort_transaction()
"#;
    let out = Command::new(python()).args(["-c", code, &k.bootstrap, &topic]).output().unwrap();
    assert!(out.status.success(), "transactional producer failed: {}", String::from_utf8_lossy(&out.stderr));

    let tp = TopicPartition::new(&topic, 0);
    let committed = Consumer::new(config(&k.bootstrap, None, &[("isolation.level", "read_committed")])).unwrap();
    committed.assign([tp.clone()]).unwrap();
    let got = poll_distinct(&committed, 20).await;
    let values: Vec<String> = got.iter().map(|r| r.value_str().unwrap().to_string()).collect();
    assert_eq!(values.len(), 20, "{values:?}");
    assert!(values.iter().all(|v| v.starts_with('c')), "no aborted record: {values:?}");
    assert!(committed.poll(Duration::from_secs(1)).await.unwrap().is_empty());
    committed.close(Duration::from_secs(10)).await;

    let all = Consumer::new(config(&k.bootstrap, None, &[])).unwrap();
    all.assign([tp]).unwrap();
    let got = poll_distinct(&all, 30).await;
    let aborted = got.iter().filter(|r| r.value_str().unwrap().starts_with("ab")).count();
    assert_eq!(aborted, 10);
    all.close(Duration::from_secs(10)).await;
    k.record("read-committed", "3 librdkafka transactions (commit, abort, commit): read_committed 20/20 committed, 0 aborted; read_uncommitted 30 incl. 10 aborted");
}

/// One broker stops (controlled shutdown) and returns while a group consumer reads a topic
/// replicated 3 ways: every record arrives, before, during and after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compat_broker_restart() {
    let Some(k) = Cluster::get() else { return };
    let topic = unique("restart");
    create_topic(&k, &topic, 6, 3);
    produce(&k, &topic, 4000, 100, "none");
    let c = Consumer::new(config(&k.bootstrap, Some(&unique("gr")), &[])).unwrap();
    c.subscribe([topic.clone()]).unwrap();
    let mut seen: BTreeMap<(i32, i64), usize> = BTreeMap::new();
    for r in poll_distinct(&c, 500).await {
        *seen.entry((r.partition, r.offset)).or_default() += 1;
    }
    cluster_script(&["stop-broker", "1"]);
    produce(&k, &topic, 1000, 100, "none");
    let deadline = tokio::time::Instant::now() + WAIT;
    while seen.len() < 5000 {
        assert!(tokio::time::Instant::now() < deadline, "read {} of 5000 with broker 1 down", seen.len());
        for r in c.poll(Duration::from_millis(500)).await.unwrap() {
            *seen.entry((r.partition, r.offset)).or_default() += 1;
        }
    }
    cluster_script(&["start-broker", "1"]);
    produce(&k, &topic, 500, 100, "none");
    let deadline = tokio::time::Instant::now() + WAIT;
    while seen.len() < 5500 {
        assert!(tokio::time::Instant::now() < deadline, "read {} of 5500 after restart", seen.len());
        for r in c.poll(Duration::from_millis(500)).await.unwrap() {
            *seen.entry((r.partition, r.offset)).or_default() += 1;
        }
    }
    c.commit_sync().await.unwrap();
    let again = seen.values().filter(|n| **n > 1).count();
    let m = c.connection_metrics();
    c.close(Duration::from_secs(30)).await;
    assert_eq!(c.open_connections(), 0);
    k.record(
        "broker-restart",
        &format!(
            "RF 3, broker 1 stopped after 500 and restarted: 5500/5500 distinct records ({again} delivered twice), commit ok; {} sockets opened, {} closed",
            m.connection_creation_total,
            m.close_total()
        ),
    );
}

/// group.protocol=consumer (KIP-848): works from 4.0; on older brokers a clear, non-retried
/// error from poll instead of a hang.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compat_group_consumer_protocol() {
    let Some(k) = Cluster::get() else { return };
    warm_up_group_coordinators(&k).await;
    let topic = unique("kip848");
    let leaders = create_topic(&k, &topic, 6, 1);
    produce(&k, &topic, 3000, 100, "none");
    let c = Consumer::new(config(&k.first_broker(), Some(&unique("g848")), &[("group.protocol", "consumer")])).unwrap();
    c.subscribe([topic.clone()]).unwrap();
    if k.at_least(4, 0) {
        let got = poll_distinct(&c, 3000).await;
        assert_eq!(distinct(&got), 3000);
        c.commit_sync().await.unwrap();
        let m = c.connection_metrics();
        // The coordinator shares its broker's socket (coordinator.connection=auto): L, or L+1
        // when the coordinator leads none of the partitions.
        assert!(m.connection_creation_total as usize <= leaders.len() + 1, "{m:?}");
        assert_eq!(m.close_total(), 0, "{m:?}");
        c.close(Duration::from_secs(30)).await;
        k.record(
            "group-kip848",
            &format!(
                "group.protocol=consumer, 6/6 partitions, 3000/3000 records, commit; sockets {} (L={}, coordinator socket shared)",
                m.connection_creation_total,
                leaders.len()
            ),
        );
    } else {
        let started = tokio::time::Instant::now();
        let err = loop {
            assert!(tokio::time::Instant::now() < started + WAIT, "no error from poll: a hang");
            match c.poll(Duration::from_millis(500)).await {
                Ok(r) => assert!(r.is_empty(), "no records without a group assignment"),
                Err(e) => break e,
            }
        };
        assert_eq!(err.kind(), ErrorKind::UnsupportedVersion, "{err}");
        let msg = err.to_string();
        assert!(msg.contains("group.protocol=classic"), "the error says what to do: {msg}");
        c.close(Duration::from_secs(10)).await;
        k.record("group-kip848", &format!("not supported before 4.0: poll fails at once with UnsupportedVersion: \"{msg}\""));
    }
}

/// group.instance.id (KIP-345) works from 2.3; before that a clear error, as in Java.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compat_static_membership() {
    let Some(k) = Cluster::get() else { return };
    let topic = unique("static");
    create_topic(&k, &topic, 3, 1);
    produce(&k, &topic, 300, 100, "none");
    let group = unique("gst");
    let c = Consumer::new(config(&k.bootstrap, Some(&group), &[("group.instance.id", "compat-1")])).unwrap();
    c.subscribe([topic.clone()]).unwrap();
    if k.at_least(2, 3) {
        let got = poll_distinct(&c, 300).await;
        assert_eq!(distinct(&got), 300);
        c.commit_sync().await.unwrap();
        c.close(Duration::from_secs(30)).await;
        k.record("static-membership", "group.instance.id set: 3/3 partitions, 300/300 records, commit");
    } else {
        let started = tokio::time::Instant::now();
        let err = loop {
            assert!(tokio::time::Instant::now() < started + WAIT, "no error from poll: a hang");
            match c.poll(Duration::from_millis(500)).await {
                Ok(r) => assert!(r.is_empty()),
                Err(e) => break e,
            }
        };
        assert_eq!(err.kind(), ErrorKind::UnsupportedVersion, "{err}");
        let msg = err.to_string();
        assert!(msg.contains("group.instance.id"), "{msg}");
        c.close(Duration::from_secs(10)).await;
        k.record("static-membership", &format!("not supported before 2.3: poll fails with UnsupportedVersion: \"{msg}\""));
    }
}
