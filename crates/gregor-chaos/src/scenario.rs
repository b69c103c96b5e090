//! The scenarios, the groups under test and their checks.
//!
//! Each group protocol under test gets its own consumer group on the same topic, so one run of
//! the faults exercises all of them at once (and costs one cluster's time, not one per
//! protocol).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use gregor::{Consumer, TopicPartition};
use serde_json::json;

use crate::cluster::Cluster;
use crate::ledger::{wall_ms, FaultWindow, Shared};
use crate::member::{java_tool, Client, Member, MemberSpec};
use crate::Args;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// Issue #19: each broker stopped and restarted in turn under two members per group.
    RollingRestart,
    /// Issue #12: a producer writing throughout, three members per group, through a rolling
    /// restart, a broker kill -9, a leader election, a reassignment that moves leaders, added
    /// partitions, the coordinator's broker killed and a member killed with -9.
    Suite,
}

/// One consumer group under test.
struct Group {
    protocol: String,
    spec: MemberSpec,
    ledger: Arc<Shared>,
    members: Vec<Member>,
    restarts: usize,
    /// A consumer of the group that never joins it: reads committed offsets.
    observer: Consumer,
    /// Committed offsets seen so far, per partition (they must never move back).
    committed_high: BTreeMap<i32, i64>,
    committed_regressions: Vec<String>,
    faults: Vec<FaultWindow>,
    /// Sockets counted after each fault: (fault, member, sockets, leaders of its partitions).
    sockets: Vec<serde_json::Value>,
    socket_violations: Vec<String>,
}

/// Everything a run needs.
struct Run {
    cluster: Cluster,
    topic: String,
    rt: tokio::runtime::Runtime,
    /// Reads end offsets.
    admin: Consumer,
    partitions: u32,
    groups: Vec<Group>,
    gregor: PathBuf,
    kafka_lib: Option<PathBuf>,
    producer: Option<Child>,
    log_dir: PathBuf,
}

pub fn run_all(args: &Args) -> anyhow::Result<bool> {
    let root = repo_root();
    let script = args.cluster_script.clone().unwrap_or_else(|| root.join("scripts/kafka-cluster.sh"));
    let gregor = match &args.gregor {
        Some(g) => g.clone(),
        None => std::env::current_exe()?.with_file_name("gregor"),
    };
    anyhow::ensure!(gregor.exists(), "no gregor binary at {} (cargo build -p gregor-cli)", gregor.display());
    let log_dir = args.log_dir.clone().unwrap_or_else(|| root.join("target/chaos"));
    std::fs::create_dir_all(&log_dir)?;
    let mut all_ok = true;
    let mut counts = Vec::new();
    for i in 0..args.runs {
        let report = match args.scenario {
            Scenario::RollingRestart => rolling_restart(args, &script, &gregor, &log_dir, i)?,
            Scenario::Suite => suite(args, &script, &gregor, &log_dir, i)?,
        };
        println!("{report}");
        for g in report["groups"].as_array().into_iter().flatten() {
            counts.push(format!("{}: {}/{}", g["protocol"], g["distinct"], report["expected"]));
            all_ok &= g["ok"].as_bool().unwrap_or(false);
        }
    }
    eprintln!("gregor-chaos: {:?} client={:?}: {} run(s): {}", args.scenario, args.client, args.runs, counts.join(", "));
    Ok(all_ok)
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap_or_else(|_| PathBuf::from("."))
}

impl Run {
    #[allow(clippy::too_many_arguments)]
    fn new(
        args: &Args,
        script: &Path,
        gregor: &Path,
        log_dir: &Path,
        name: &str,
        partitions: u32,
        extra_props: &[(&str, &str)],
    ) -> anyhow::Result<Run> {
        let cluster = Cluster::new(script.to_path_buf())?;
        let topic = format!("{name}-{}", wall_ms());
        cluster.create_topic(&topic, partitions, 3, &["min.insync.replicas=2"])?;
        let run_dir = log_dir.join(&topic);
        std::fs::create_dir_all(&run_dir)?;
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let kafka_lib = match args.client {
            Client::Java => Some(PathBuf::from(cluster.run(&["jars"])?.trim().lines().last().unwrap_or_default())),
            Client::Gregor => None,
        };
        let admin = {
            let _g = rt.enter();
            Consumer::from_properties([("bootstrap.servers", cluster.bootstrap.as_str()), ("client.id", "gregor-chaos")])?
        };
        let mut groups = Vec::new();
        for protocol in args.protocols.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let group = format!("{topic}-{protocol}");
            let mut props = vec![("auto.commit.interval.ms".to_string(), "1000".to_string())];
            props.extend(extra_props.iter().map(|(k, v)| (k.to_string(), v.to_string())));
            if protocol != "classic" {
                props.push(("group.protocol".into(), protocol.to_string()));
                // session.timeout.ms and heartbeat.interval.ms belong to the broker in KIP-848.
                props.retain(|(k, _)| k != "session.timeout.ms" && k != "heartbeat.interval.ms");
            }
            let observer = {
                let _g = rt.enter();
                Consumer::from_properties([
                    ("bootstrap.servers", cluster.bootstrap.as_str()),
                    ("group.id", group.as_str()),
                    ("client.id", "gregor-chaos-observer"),
                ])?
            };
            groups.push(Group {
                protocol: protocol.to_string(),
                spec: MemberSpec {
                    client: args.client,
                    gregor_bin: gregor.to_path_buf(),
                    cluster_script: script.to_path_buf(),
                    bootstrap: cluster.bootstrap.clone(),
                    topic: topic.clone(),
                    group,
                    props,
                    log_dir: run_dir.clone(),
                    kafka_lib: kafka_lib.clone(),
                },
                ledger: Shared::new(),
                members: Vec::new(),
                restarts: 0,
                observer,
                committed_high: BTreeMap::new(),
                committed_regressions: Vec::new(),
                faults: Vec::new(),
                sockets: Vec::new(),
                socket_violations: Vec::new(),
            });
        }
        anyhow::ensure!(!groups.is_empty(), "--protocols names no group protocol");
        Ok(Run {
            cluster,
            topic,
            rt,
            admin,
            partitions,
            groups,
            gregor: gregor.to_path_buf(),
            kafka_lib,
            producer: None,
            log_dir: run_dir,
        })
    }

    fn tps(&self) -> Vec<TopicPartition> {
        (0..self.partitions as i32).map(|p| TopicPartition::new(self.topic.as_str(), p)).collect()
    }

    /// `gregor produce` of `count` synthetic records of 100 bytes, acks=all.
    fn produce(&self, count: u64) -> anyhow::Result<()> {
        let out = Command::new(&self.gregor)
            .args(["produce", "-b", &self.cluster.bootstrap, "-t", &self.topic])
            .args(["--count", &count.to_string(), "--size", "100"])
            .output()
            .context("gregor produce")?;
        if !out.status.success() {
            bail!("gregor produce failed: {}", String::from_utf8_lossy(&out.stderr).trim());
        }
        Ok(())
    }

    /// A producer writing `rate` records/s of 100 bytes until stopped: Java's
    /// ProducerPerformance (idempotent, acks=all), so the faults test the consumers only.
    fn start_steady_producer(&mut self, rate: u32) -> anyhow::Result<()> {
        let lib = match &self.kafka_lib {
            Some(l) => l.clone(),
            None => PathBuf::from(self.cluster.run(&["jars"])?.trim().lines().last().unwrap_or_default()),
        };
        let log = std::fs::File::create(self.log_dir.join("producer.log"))?;
        let mut c = java_tool(&lib, &self.cluster.script, "org.apache.kafka.tools.ProducerPerformance");
        c.args(["--topic", &self.topic, "--num-records", "1000000000", "--record-size", "100"]);
        c.args(["--throughput", &rate.to_string(), "--bootstrap-server", &self.cluster.bootstrap]);
        c.args(["--reporting-interval", "600000", "--command-property", "acks=all", "linger.ms=5"]);
        // Added partitions get records within seconds (the default, 5 minutes, would leave them
        // empty for the rest of the suite and test nothing).
        c.args(["metadata.max.age.ms=5000"]);
        c.stdin(Stdio::null()).stdout(Stdio::from(log.try_clone()?)).stderr(Stdio::from(log));
        self.producer = Some(c.spawn().context("starting ProducerPerformance")?);
        Ok(())
    }

    fn stop_producer(&mut self) {
        if let Some(mut p) = self.producer.take() {
            let _ = Command::new("kill").arg("-TERM").arg(p.id().to_string()).status();
            let _ = p.wait();
        }
    }

    fn end_offsets(&self) -> anyhow::Result<BTreeMap<i32, i64>> {
        let ends = self.rt.block_on(self.admin.end_offsets(&self.tps()))?;
        Ok(ends.into_iter().map(|(tp, o)| (tp.partition, o)).collect())
    }

    fn start_members(&mut self, per_group: usize) -> anyhow::Result<()> {
        for g in self.groups.iter_mut() {
            for m in 0..per_group {
                let name = format!("{}-m{m}", g.protocol);
                g.members.push(Member::start(&g.spec, &name, &g.ledger)?);
            }
        }
        Ok(())
    }

    /// The groups' committed offsets now; records any that moved back.
    fn sample_committed(&mut self) -> Vec<BTreeMap<i32, i64>> {
        let tps = self.tps();
        let mut out = Vec::new();
        for g in self.groups.iter_mut() {
            let got = match self.rt.block_on(g.observer.committed(&tps)) {
                Ok(m) => m,
                Err(e) => {
                    eprintln!("gregor-chaos: reading committed offsets of {} failed (sample skipped): {e}", g.spec.group);
                    out.push(g.committed_high.clone());
                    continue;
                }
            };
            let now: BTreeMap<i32, i64> = got.into_iter().map(|(tp, om)| (tp.partition, om.offset)).collect();
            for (p, o) in &now {
                if let Some(high) = g.committed_high.get(p) {
                    if o < high {
                        g.committed_regressions.push(format!("partition {p}: committed {o} after {high}"));
                    }
                }
                let e = g.committed_high.entry(*p).or_insert(*o);
                *e = (*e).max(*o);
            }
            out.push(now);
        }
        out
    }

    fn begin_fault(&mut self, name: &str) {
        let committed = self.sample_committed();
        eprintln!("gregor-chaos: fault: {name}");
        let start = Instant::now();
        let start_ms = wall_ms();
        for (g, c) in self.groups.iter_mut().zip(committed) {
            g.faults.push(FaultWindow {
                name: name.into(),
                start,
                start_ms,
                end: None,
                end_ms: None,
                committed_before: c,
                caught_up_after: None,
            });
        }
    }

    fn end_fault(&mut self) {
        let (now, ms) = (Instant::now(), wall_ms());
        for g in self.groups.iter_mut() {
            if let Some(f) = g.faults.last_mut() {
                f.end = Some(now);
                f.end_ms = Some(ms);
            }
        }
    }

    /// Waits until every group read everything produced up to now (woken by each record),
    /// at most `limit`; records the time it took on the last fault. Returns whether all did.
    fn wait_caught_up(&mut self, limit: Duration) -> anyhow::Result<bool> {
        let ends = self.end_offsets()?;
        let mut all = true;
        for g in self.groups.iter_mut() {
            let ok = g.ledger.wait_until(limit, |l| l.covers(&ends));
            if let Some(f) = g.faults.last_mut() {
                if ok {
                    f.caught_up_after = f.end.map(|e| e.elapsed());
                }
            }
            all &= ok;
        }
        Ok(all)
    }

    /// Per gregor member: its sockets must come back to L+1 (L = leader brokers of the
    /// partitions assigned to it, as the group coordinator reports them; +1 for the
    /// coordinator) after a fault. Sockets are counted from /proc; the assignment comes from
    /// Kafka's ConsumerGroupCommand (members are told apart by `client.id`). Both are looked at
    /// again until they agree or `limit` passes: reconnects, closes and rebalances settle.
    fn check_sockets(&mut self, fault: &str, limit: Duration) -> anyhow::Result<()> {
        let leaders = self.leaders()?;
        let ports: HashSet<u16> =
            self.cluster.bootstrap.split(',').filter_map(|hp| hp.rsplit(':').next()?.parse().ok()).collect();
        for gi in 0..self.groups.len() {
            let gregor = self.groups[gi].spec.client == Client::Gregor;
            let deadline = Instant::now() + limit;
            let mut looks: Vec<(String, usize, usize)>;
            loop {
                let assigned = self.assignment(&self.groups[gi].spec.group)?;
                looks = self.groups[gi]
                    .members
                    .iter()
                    .map(|m| {
                        let l: HashSet<i32> = assigned
                            .get(&m.name)
                            .into_iter()
                            .flatten()
                            .filter_map(|p| leaders.get(p).copied())
                            .collect();
                        (m.name.clone(), m.sockets_to(&ports), l.len())
                    })
                    .collect();
                let settled = looks.iter().all(|(_, n, l)| *n <= l + 1);
                if settled || !gregor || Instant::now() >= deadline {
                    break;
                }
                std::thread::sleep(Duration::from_secs(1)); // polling /proc: no event exists
            }
            let g = &mut self.groups[gi];
            for (name, n, l) in looks {
                g.sockets.push(json!({"fault": fault, "member": name, "sockets": n, "leaders": l}));
                if gregor && n > l + 1 {
                    g.socket_violations.push(format!("{fault}: {name} holds {n} sockets, L+1 = {}", l + 1));
                }
            }
        }
        Ok(())
    }

    /// client.id → partitions of the topic assigned to it, from ConsumerGroupCommand --describe.
    fn assignment(&self, group: &str) -> anyhow::Result<HashMap<String, Vec<i32>>> {
        let out = self.cluster.tool(
            "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
            &["--describe", "--group", group],
        )?;
        let mut header: Option<Vec<&str>> = None;
        let mut by_client: HashMap<String, Vec<i32>> = HashMap::new();
        for line in out.lines() {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if cols.contains(&"CLIENT-ID") && cols.contains(&"PARTITION") {
                header = Some(cols);
                continue;
            }
            let Some(h) = &header else { continue };
            if cols.len() != h.len() {
                continue;
            }
            let col = |name: &str| h.iter().position(|c| *c == name).map(|i| cols[i]);
            if col("TOPIC") != Some(self.topic.as_str()) {
                continue;
            }
            if let (Some(Ok(p)), Some(client)) = (col("PARTITION").map(str::parse::<i32>), col("CLIENT-ID")) {
                if client != "-" {
                    by_client.entry(client.to_string()).or_default().push(p);
                }
            }
        }
        Ok(by_client)
    }

    /// partition → leader broker, from TopicCommand --describe.
    fn leaders(&self) -> anyhow::Result<BTreeMap<i32, i32>> {
        let out = self.cluster.run(&["topic", "--describe", "--topic", &self.topic])?;
        let mut m = BTreeMap::new();
        for line in out.lines() {
            let field = |name: &str| -> Option<i32> {
                let i = line.find(name)?;
                line[i + name.len()..].split_whitespace().next()?.parse().ok()
            };
            if let (Some(p), Some(l)) = (field("Partition: "), field("Leader: ")) {
                m.insert(p, l);
            }
        }
        Ok(m)
    }

    /// The checks and the report of every group.
    fn finish(mut self, scenario: &str, started: Instant, all_read: bool) -> anyhow::Result<serde_json::Value> {
        self.stop_producer();
        self.sample_committed();
        let ends = self.end_offsets()?;
        let expected: i64 = ends.values().sum();
        let mut groups = Vec::new();
        for g in self.groups.drain(..) {
            let mut alive = Vec::new();
            let mut exits = Vec::new();
            let mut members = g.members;
            for m in members.iter_mut() {
                alive.push(m.alive());
            }
            for m in members {
                let name = m.name.clone();
                let stderr = m.stderr_path.clone();
                match m.interrupt() {
                    Ok(s) if s.success() || g.spec.client == Client::Java => exits.push(json!({"member": name, "exit": 0})),
                    Ok(s) => exits.push(json!({"member": name, "exit": s.code(), "stderr": tail(&stderr)})),
                    Err(e) => exits.push(json!({"member": name, "error": e.to_string()})),
                }
            }
            let errors_seen = g.spec.client == Client::Gregor && stderr_has_errors(&self.log_dir, &g.protocol);
            let ledger = g.ledger.lock();
            let missing = ledger.missing(&ends);
            let unexplained = ledger.unexplained_redeliveries(&g.faults);
            let faults: Vec<serde_json::Value> = g
                .faults
                .iter()
                .map(|f| {
                    let end = f.end.unwrap_or(f.start);
                    json!({
                        "fault": f.name,
                        "duration_ms": (end - f.start).as_millis() as u64,
                        "caught_up_after_ms": f.caught_up_after.map(|d| d.as_millis() as u64),
                        "longest_consumption_gap_ms": ledger.longest_gap(f.start, end + Duration::from_secs(5)).as_millis() as u64,
                        "max_record_delay_ms": ledger.max_delay_of_records_produced(f.start_ms, f.end_ms.unwrap_or(f.start_ms)),
                    })
                })
                .collect();
            let members_ok = alive.iter().all(|a| *a) && exits.iter().all(|e| e["exit"] == 0);
            let ok = all_read
                && missing.is_empty()
                && members_ok
                && !errors_seen
                && unexplained.is_empty()
                && g.committed_regressions.is_empty()
                && g.socket_violations.is_empty();
            let missing_summary: BTreeMap<i32, serde_json::Value> = missing
                .iter()
                .map(|(p, gaps)| (*p, json!({"count": gaps.len(), "first": gaps.first(), "last": gaps.last()})))
                .collect();
            groups.push(json!({
                "protocol": g.protocol,
                "group": g.spec.group,
                "ok": ok,
                "distinct": ledger.distinct(),
                "redeliveries": ledger.redeliveries.len(),
                "unexplained_redeliveries": unexplained.iter().take(10).collect::<Vec<_>>(),
                "committed_regressions": g.committed_regressions,
                "errors_in_member_logs": errors_seen,
                "missing": missing_summary,
                "per_member": ledger.per_member,
                "alive_at_end": alive,
                "member_restarts": g.restarts,
                "exits": exits,
                "sockets": g.sockets,
                "socket_violations": g.socket_violations,
                "faults": faults,
            }));
        }
        Ok(json!({
            "scenario": scenario,
            "client": self.groups.first().map(|g| format!("{:?}", g.spec.client).to_lowercase()),
            "topic": self.topic,
            "expected": expected,
            "ends": ends,
            "elapsed_s": started.elapsed().as_secs(),
            "groups": groups,
        }))
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        self.stop_producer();
    }
}

/// Issue #19's scenario, step by step, with one group per protocol on the same topic.
fn rolling_restart(args: &Args, script: &Path, gregor: &Path, log_dir: &Path, _index: usize) -> anyhow::Result<serde_json::Value> {
    let mut run = Run::new(args, script, gregor, log_dir, "rr", 6, &[])?;
    run.produce(100_000)?;
    // A throwaway group read, so __consumer_offsets exists before the members start.
    let throwaway = Command::new(gregor)
        .args(["consume", "-b", &run.cluster.bootstrap, "-t", &run.topic, "-g", &format!("{}-throwaway", run.topic)])
        .args(["--from-beginning", "--exit-at-end", "--format", "none"])
        .output()?;
    anyhow::ensure!(throwaway.status.success(), "throwaway consume failed: {}", String::from_utf8_lossy(&throwaway.stderr));
    run.start_members(args.members.unwrap_or(2))?;
    let started = Instant::now();
    std::thread::sleep(Duration::from_secs(8)); // pacing of the scenario, not synchronisation
    for b in run.cluster.brokers.clone() {
        run.begin_fault(&format!("restart broker {b}"));
        run.cluster.stop_broker(b, false)?;
        run.produce(5_000)?;
        run.cluster.start_broker(b)?;
        run.end_fault();
        std::thread::sleep(Duration::from_secs(5)); // pacing
    }
    run.produce(100_000)?;
    let all_read = run.wait_caught_up(Duration::from_secs(90))?;
    run.finish("rolling-restart", started, all_read)
}

/// Issue #12's chaos suite.
fn suite(args: &Args, script: &Path, gregor: &Path, log_dir: &Path, _index: usize) -> anyhow::Result<serde_json::Value> {
    // A dead member's partitions move after session.timeout.ms (classic); 10 s keeps the
    // suite short. New partitions are found by the periodic metadata refresh: 10 s.
    let props = [("session.timeout.ms", "10000"), ("heartbeat.interval.ms", "1000"), ("metadata.max.age.ms", "10000")];
    let mut run = Run::new(args, script, gregor, log_dir, "chaos", 6, &props)?;
    run.start_steady_producer(args.rate)?;
    run.start_members(args.members.unwrap_or(3))?;
    let started = Instant::now();
    let settle = Duration::from_secs(120);
    anyhow::ensure!(run.wait_caught_up(settle)?, "the groups did not start consuming");
    run.check_sockets("start", Duration::from_secs(30))?;
    let brokers = run.cluster.brokers.clone();
    let faults = ["rolling-restart", "kill-9-broker", "leader-election", "reassignment", "add-partitions", "kill-coordinator", "kill-9-consumer"];
    let mut all_read = true;
    for fault in faults {
        run.begin_fault(fault);
        match fault {
            "rolling-restart" => {
                for &b in &brokers {
                    run.cluster.stop_broker(b, false)?;
                    run.cluster.start_broker(b)?;
                }
            }
            "kill-9-broker" => {
                run.cluster.stop_broker(1, true)?;
                std::thread::sleep(Duration::from_secs(5)); // the broker stays dead a while
                run.cluster.start_broker(1)?;
            }
            "leader-election" => {
                // After the restarts leadership sits away from the preferred replicas: the
                // election moves it back.
                run.cluster.tool(
                    "org.apache.kafka.tools.LeaderElectionCommand",
                    &["--election-type", "PREFERRED", "--topic", &run.topic.clone(), "--partition", "0"],
                ).ok(); // "no election needed" is fine for a partition already on its preferred leader
                run.cluster.tool(
                    "org.apache.kafka.tools.LeaderElectionCommand",
                    &["--election-type", "PREFERRED", "--all-topic-partitions"],
                ).ok();
            }
            "reassignment" => reassign_rotating_leaders(&run)?,
            "add-partitions" => {
                run.cluster.run(&["topic", "--alter", "--topic", &run.topic.clone(), "--partitions", "9"])?;
                run.partitions = 9;
            }
            "kill-coordinator" => {
                let group = run.groups[0].spec.group.clone();
                let b = run.cluster.coordinator(&group)?;
                run.cluster.stop_broker(b, true)?;
                std::thread::sleep(Duration::from_secs(5));
                run.cluster.start_broker(b)?;
            }
            "kill-9-consumer" => {
                for g in run.groups.iter_mut() {
                    let victim = g.members.remove(0);
                    let name = format!("{}-r{}", victim.name, g.restarts);
                    victim.kill9()?;
                    g.restarts += 1;
                    g.members.push(Member::start(&g.spec, &name, &g.ledger)?);
                }
            }
            _ => unreachable!(),
        }
        run.end_fault();
        all_read &= run.wait_caught_up(settle)?;
        run.check_sockets(fault, Duration::from_secs(30))?;
    }
    run.stop_producer();
    all_read &= run.wait_caught_up(settle)?;
    run.finish("suite", started, all_read)
}

/// Rotates every partition's replica list (preferred leader first) and runs the reassignment,
/// then a preferred election: every partition's leader moves to another broker.
fn reassign_rotating_leaders(run: &Run) -> anyhow::Result<()> {
    let out = run.cluster.run(&["topic", "--describe", "--topic", &run.topic])?;
    let mut parts = Vec::new();
    for line in out.lines() {
        let Some(i) = line.find("Partition: ") else { continue };
        let Some(p) = line[i + 11..].split_whitespace().next().and_then(|x| x.parse::<i32>().ok()) else { continue };
        let Some(r) = line.find("Replicas: ") else { continue };
        let mut replicas: Vec<i32> = line[r + 10..]
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .split(',')
            .filter_map(|x| x.parse().ok())
            .collect();
        replicas.rotate_left(1);
        parts.push(json!({"topic": run.topic, "partition": p, "replicas": replicas}));
    }
    let file = run.log_dir.join("reassignment.json");
    std::fs::write(&file, json!({"version": 1, "partitions": parts}).to_string())?;
    let f = file.display().to_string();
    run.cluster.tool("org.apache.kafka.tools.reassign.ReassignPartitionsCommand", &["--reassignment-json-file", &f, "--execute"])?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let v = run.cluster.tool("org.apache.kafka.tools.reassign.ReassignPartitionsCommand", &["--reassignment-json-file", &f, "--verify"])?;
        if !v.contains("still in progress") || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(500)); // polling the tool: no event exists
    }
    run.cluster.tool(
        "org.apache.kafka.tools.LeaderElectionCommand",
        &["--election-type", "PREFERRED", "--all-topic-partitions"],
    )?;
    Ok(())
}

/// An ERROR or WARN line about a poll/commit error in a member's log, or an error exit line.
fn stderr_has_errors(dir: &Path, protocol: &str) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else { return false };
    entries.flatten().any(|e| {
        let name = e.file_name().to_string_lossy().into_owned();
        name.starts_with(&format!("{protocol}-m")) && name.ends_with(".stderr") && {
            let text = std::fs::read_to_string(e.path()).unwrap_or_default();
            text.lines().any(|l| l.starts_with("gregor:") || l.contains(" ERROR "))
        }
    })
}

fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(5)..].join("\n")
}
