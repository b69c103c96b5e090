//! `gregor demo`: the connection story on an embedded 3-broker cluster, no flags, no broker.
//!
//! Two members of one group read a 6-partition topic. Every socket open, adoption and close is
//! printed as it happens; the summary compares what gregor opened (L+1 per member: L fetch
//! sockets + 1 coordinator, the bootstrap socket adopted) with what the Java consumer opens for
//! the same cluster (L+2: its bootstrap socket, keyed by the fake id -1, is never reused and
//! lives for connections.max.idle.ms), cross-checked against the mock brokers' own accounting.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use gregor::{ConnectionEvent, ConnectionEventKind, Consumer, ConsumerConfig, TopicPartition};
use gregor_mock::MockCluster;

const TOPIC: &str = "orders";
const PARTITIONS: i32 = 6;
const RECORDS: usize = 12_000; // 2000 per partition, in batches of 500
const GROUP: &str = "demo-group";
const WAIT: Duration = Duration::from_secs(30);

/// Arguments of `gregor demo` (none).
#[derive(clap::Args, Debug)]
pub struct DemoArgs {}

/// Per-member event log kept for the summary.
#[derive(Default)]
struct MemberLog {
    events: Vec<ConnectionEvent>,
    local_addrs: HashSet<SocketAddr>,
}

fn print_event(t0: Instant, member: &str, ev: &ConnectionEvent) {
    let what = match &ev.kind {
        ConnectionEventKind::Connecting => "connecting".to_string(),
        ConnectionEventKind::Ready => "open".to_string(),
        ConnectionEventKind::Adopted { broker_id } => format!("adopted as broker {broker_id}"),
        ConnectionEventKind::ConnectFailed => "connect failed".to_string(),
        ConnectionEventKind::Closed(r) => format!("close ({r})"),
        _ => "other".to_string(),
    };
    if matches!(ev.kind, ConnectionEventKind::Connecting) {
        return; // "open" follows with the addresses; one line per socket is enough
    }
    println!(
        "{:>8.3}s  {member}  #{:<3} {what:<22} node={:<11} role={:<12} {:<16} opened-for={}",
        t0.elapsed().as_secs_f64(),
        ev.connection_id,
        ev.node,
        ev.role.to_string(),
        ev.endpoint,
        ev.opened_for
    );
}

/// Runs the demo.
pub async fn run(_args: DemoArgs) -> anyhow::Result<()> {
    let t0 = Instant::now();
    let cluster = MockCluster::builder()
        .brokers(3)
        .topic(TOPIC, PARTITIONS)
        .start()
        .await
        .context("starting the mock")?;
    cluster.set_coordinator(GROUP, 2);
    let boot = cluster.broker_addr(0).context("broker 0")?;
    let bootstrap = format!("127.0.0.1:{}", boot.port());
    println!("mock cluster: 3 brokers at {}", cluster.bootstrap_servers());
    println!(
        "topic {TOPIC}: {PARTITIONS} partitions, leaders {:?}; group {GROUP} coordinated by broker 2",
        (0..PARTITIONS)
            .map(|p| cluster.partition_leader(TOPIC, p).unwrap_or(-1))
            .collect::<Vec<_>>()
    );
    println!("bootstrap.servers={bootstrap} (broker 0's own advertised address)\n");
    println!("connection timeline (A, B = the two group members):");

    let mut members = Vec::new();
    let logs: Vec<Arc<Mutex<MemberLog>>> = (0..2).map(|_| Arc::default()).collect();
    for (i, name) in ["A", "B"].iter().enumerate() {
        let config = ConsumerConfig::builder()
            .bootstrap_servers(&bootstrap)
            .group_id(GROUP)
            .client_id(format!("demo-{name}"))
            .set("auto.offset.reset", "earliest")
            .set("enable.auto.commit", "false")
            .build()?;
        let c = Arc::new(Consumer::new(config)?);
        let mut events = c.connection_events();
        let log = logs[i].clone();
        let name = name.to_string();
        tokio::spawn(async move {
            while let Some(ev) = events.recv().await {
                print_event(t0, &name, &ev);
                let mut l = log.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(a) = ev.local_addr {
                    l.local_addrs.insert(a);
                }
                l.events.push(ev);
            }
        });
        c.subscribe([TOPIC])?;
        members.push(c);
    }

    // Both members poll until the group is stable with both holding partitions; only then
    // are records written, so no partition moves with records in flight (no overlap).
    let seen: Arc<Mutex<BTreeSet<(i32, i64)>>> = Arc::default();
    let dup = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let per_member: Vec<Arc<std::sync::atomic::AtomicU64>> = (0..2).map(|_| Arc::default()).collect();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let total_done = Arc::new(tokio::sync::Notify::new());
    let mut tasks = Vec::new();
    for (i, c) in members.iter().enumerate() {
        let (c, seen, dup, n, stop, done) = (
            c.clone(),
            seen.clone(),
            dup.clone(),
            per_member[i].clone(),
            stop.clone(),
            total_done.clone(),
        );
        tasks.push(tokio::spawn(async move {
            loop {
                // A flag, not a Notify: a member busy committing when the demo stops must
                // still see it on its next turn.
                if stop.load(std::sync::atomic::Ordering::SeqCst) {
                    return Ok::<(), gregor::Error>(());
                }
                let recs = c.poll(Duration::from_millis(200)).await?;
                if recs.is_empty() {
                    continue;
                }
                let all = {
                    let mut s = seen.lock().unwrap_or_else(|p| p.into_inner());
                    for r in &recs {
                        if !s.insert((r.partition, r.offset)) {
                            dup.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                    }
                    s.len()
                };
                n.fetch_add(recs.len() as u64, std::sync::atomic::Ordering::Relaxed);
                if all >= RECORDS {
                    done.notify_one();
                }
                c.commit_sync().await?;
            }
        }));
    }
    let ready = {
        let m = members.clone();
        cluster
            .wait_for(
                move |cl| {
                    cl.group(GROUP)
                        .is_some_and(|g| g.state == "Stable" && g.members.len() == 2)
                        && m.iter().all(|c| !c.assignment().is_empty())
                },
                WAIT,
            )
            .await
    };
    if ready.is_err() {
        bail!("the two members did not form a stable group within {WAIT:?}");
    }
    println!(
        "{:>8.3}s  group stable: A has {:?}, B has {:?}; producing {RECORDS} records",
        t0.elapsed().as_secs_f64(),
        parts(&members[0]),
        parts(&members[1])
    );
    let per_part = RECORDS / PARTITIONS as usize;
    for p in 0..PARTITIONS {
        for chunk in 0..(per_part / 500) {
            let recs: Vec<(String, String)> = (0..500)
                .map(|j| {
                    (
                        format!("key-{}", chunk * 500 + j),
                        format!("order {p}/{}", chunk * 500 + j),
                    )
                })
                .collect();
            cluster.append_records(TOPIC, p, &recs)?;
        }
    }
    let produced: usize = (0..PARTITIONS)
        .map(|p| cluster.high_watermark(TOPIC, p).unwrap_or(0) as usize)
        .sum();
    let notified = total_done.notified();
    tokio::pin!(notified);
    notified.as_mut().enable();
    if seen.lock().unwrap_or_else(|p| p.into_inner()).len() < produced
        && tokio::time::timeout(WAIT, notified).await.is_err()
    {
        bail!(
            "consumed only {} of {produced} records",
            seen.lock().unwrap_or_else(|p| p.into_inner()).len()
        );
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for t in tasks {
        tokio::time::timeout(WAIT, t)
            .await
            .context("a member did not stop")??
            .map_err(|e| anyhow::anyhow!("member failed: {e}"))?;
    }
    println!(
        "{:>8.3}s  all {produced} records consumed; closing both members",
        t0.elapsed().as_secs_f64()
    );
    let leaders: Vec<usize> = members
        .iter()
        .map(|c| {
            c.assignment()
                .iter()
                .filter_map(|tp| cluster.partition_leader(&tp.topic, tp.partition))
                .collect::<BTreeSet<_>>()
                .len()
        })
        .collect();
    let metrics: Vec<_> = members.iter().map(|c| c.connection_metrics()).collect();
    for c in &members {
        c.close(Duration::from_secs(10)).await;
    }
    cluster
        .wait_until(|c| c.iter().all(|r| !r.is_open()), WAIT)
        .await
        .context("sockets left open after close")?;
    // Let the event printers drain the close events.
    tokio::task::yield_now().await;
    tokio::time::sleep(Duration::from_millis(50)).await;

    summary(
        &cluster,
        &logs,
        &metrics,
        &leaders,
        &per_member,
        produced,
        seen.lock().unwrap_or_else(|p| p.into_inner()).len(),
        dup.load(std::sync::atomic::Ordering::Relaxed),
    )?;
    cluster.shutdown().await;
    Ok(())
}

fn parts(c: &Consumer) -> Vec<i32> {
    c.assignment().iter().map(|tp: &TopicPartition| tp.partition).collect()
}

#[allow(clippy::too_many_arguments)]
fn summary(
    cluster: &MockCluster,
    logs: &[Arc<Mutex<MemberLog>>],
    metrics: &[gregor::ConnectionMetrics],
    leaders: &[usize],
    per_member: &[Arc<std::sync::atomic::AtomicU64>],
    produced: usize,
    distinct: usize,
    dups: u64,
) -> anyhow::Result<()> {
    let mock = cluster.connections();
    println!("\nsummary");
    println!(
        "{:<7} {:>6} {:>9} {:>7} {:>11} {:>7} {:>9}  closed by reason",
        "member", "opened", "bootstrap", "broker", "coordinator", "adopted", "records"
    );
    let mut ok = true;
    let mut total_opened = 0;
    let mut total_mock = 0;
    let mut java_total = 0;
    for (i, name) in ["A", "B"].iter().enumerate() {
        let l = logs[i].lock().unwrap_or_else(|p| p.into_inner());
        let mut by_role: BTreeMap<String, u64> = BTreeMap::new();
        let mut closed: BTreeMap<String, u64> = BTreeMap::new();
        let mut adopted = 0;
        for ev in &l.events {
            match ev.kind {
                ConnectionEventKind::Connecting => *by_role.entry(ev.role.to_string()).or_default() += 1,
                ConnectionEventKind::Adopted { .. } => adopted += 1,
                ConnectionEventKind::Closed(r) => *closed.entry(r.to_string()).or_default() += 1,
                _ => {}
            }
        }
        let opened = metrics[i].connection_creation_total;
        let mock_count = mock.iter().filter(|r| l.local_addrs.contains(&r.peer)).count();
        let closed_s = closed
            .iter()
            .map(|(r, n)| format!("{r}={n}"))
            .collect::<Vec<_>>()
            .join(" ");
        println!(
            "{:<7} {:>6} {:>9} {:>7} {:>11} {:>7} {:>9}  {closed_s}",
            name,
            opened,
            by_role.get("bootstrap").unwrap_or(&0),
            by_role.get("broker").unwrap_or(&0),
            by_role.get("coordinator").unwrap_or(&0),
            adopted,
            per_member[i].load(std::sync::atomic::Ordering::Relaxed)
        );
        let lf = leaders[i] as u64;
        println!(
            "        L={lf} leader brokers: gregor opened {opened} sockets ({}), the mock accepted {mock_count}; the Java consumer would open {} (L+2)",
            if opened == lf + 1 { "L+1".to_string() } else { format!("expected L+1 = {}", lf + 1) },
            lf + 2
        );
        ok &= opened == lf + 1 && mock_count as u64 == opened;
        total_opened += opened;
        total_mock += mock_count;
        java_total += lf + 2;
    }
    println!(
        "total   gregor opened {total_opened} sockets (mock accepted {} in all, {total_mock} matched to members); Java would open {java_total}, one of them per member a duplicate of broker 0 kept for connections.max.idle.ms (9 min) or forever with -1",
        mock.len()
    );
    println!("records produced {produced}, consumed {distinct} distinct, {dups} duplicates");
    if distinct != produced || dups != 0 {
        bail!("consumed {distinct} distinct records with {dups} duplicates, produced {produced}");
    }
    if !ok || mock.len() != total_mock {
        bail!("socket counts differ from L+1 per member or from the mock's accounting");
    }
    Ok(())
}
