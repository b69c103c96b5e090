//! The scenarios and their checks.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use gregor::{Consumer, TopicPartition};
use serde_json::json;

use crate::cluster::Cluster;
use crate::ledger::{FaultWindow, Shared};
use crate::member::{Member, MemberSpec};
use crate::Args;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// Issue #19: each broker stopped and restarted in turn under two group members.
    RollingRestart,
}

/// Everything a run needs.
struct Run {
    cluster: Cluster,
    spec: MemberSpec,
    rt: tokio::runtime::Runtime,
    ledger: Arc<Shared>,
    faults: Vec<FaultWindow>,
    /// A consumer of the group that never joins it: reads committed offsets and end offsets.
    observer: Consumer,
    partitions: Vec<TopicPartition>,
    /// Committed offsets seen so far, per partition (they must never move back).
    committed_high: BTreeMap<i32, i64>,
    committed_regressions: Vec<String>,
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
        };
        println!("{report}");
        counts.push(format!("{}/{}", report["distinct"], report["expected"]));
        all_ok &= report["ok"].as_bool().unwrap_or(false);
    }
    eprintln!("gregor-chaos: {:?} protocol={} client={:?}: {} run(s): {}", args.scenario, args.protocol, args.client, args.runs, counts.join(", "));
    Ok(all_ok)
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap_or_else(|_| PathBuf::from("."))
}

fn millis() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0)
}

impl Run {
    fn new(args: &Args, script: &Path, gregor: &Path, log_dir: &Path, name: &str, partitions: u32) -> anyhow::Result<Run> {
        let cluster = Cluster::new(script.to_path_buf())?;
        let topic = format!("{name}-{}", millis());
        let group = format!("{topic}-g");
        cluster.create_topic(&topic, partitions, 3, &["min.insync.replicas=2"])?;
        let mut props = vec![("auto.commit.interval.ms".to_string(), "1000".to_string())];
        if args.protocol != "classic" {
            props.push(("group.protocol".into(), args.protocol.clone()));
        }
        let run_dir = log_dir.join(&topic);
        std::fs::create_dir_all(&run_dir)?;
        let spec = MemberSpec {
            client: args.client,
            gregor_bin: gregor.to_path_buf(),
            cluster_script: script.to_path_buf(),
            bootstrap: cluster.bootstrap.clone(),
            topic: topic.clone(),
            group: group.clone(),
            props,
            log_dir: run_dir,
        };
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let observer = {
            let _g = rt.enter();
            Consumer::from_properties([
                ("bootstrap.servers", cluster.bootstrap.as_str()),
                ("group.id", group.as_str()),
                ("client.id", "gregor-chaos-observer"),
            ])?
        };
        let partitions = (0..partitions as i32).map(|p| TopicPartition::new(topic.as_str(), p)).collect();
        Ok(Run {
            cluster,
            spec,
            rt,
            ledger: Shared::new(),
            faults: Vec::new(),
            observer,
            partitions,
            committed_high: BTreeMap::new(),
            committed_regressions: Vec::new(),
        })
    }

    /// `gregor produce` of `count` synthetic records of 100 bytes, acks=all.
    fn produce(&self, count: u64) -> anyhow::Result<()> {
        let out = Command::new(&self.spec.gregor_bin)
            .args(["produce", "-b", &self.cluster.bootstrap, "-t", &self.spec.topic])
            .args(["--count", &count.to_string(), "--size", "100"])
            .output()
            .context("gregor produce")?;
        if !out.status.success() {
            bail!("gregor produce failed: {}", String::from_utf8_lossy(&out.stderr).trim());
        }
        Ok(())
    }

    fn end_offsets(&self) -> anyhow::Result<BTreeMap<i32, i64>> {
        let ends = self.rt.block_on(self.observer.end_offsets(&self.partitions))?;
        Ok(ends.into_iter().map(|(tp, o)| (tp.partition, o)).collect())
    }

    /// The group's committed offsets now; records any that moved back.
    fn sample_committed(&mut self) -> BTreeMap<i32, i64> {
        let got = match self.rt.block_on(self.observer.committed(&self.partitions)) {
            Ok(m) => m,
            Err(e) => {
                eprintln!("gregor-chaos: reading committed offsets failed (sampling skipped): {e}");
                return self.committed_high.clone();
            }
        };
        let now: BTreeMap<i32, i64> = got.into_iter().map(|(tp, om)| (tp.partition, om.offset)).collect();
        for (p, o) in &now {
            if let Some(high) = self.committed_high.get(p) {
                if o < high {
                    self.committed_regressions.push(format!("partition {p}: committed {o} after {high}"));
                }
            }
            let e = self.committed_high.entry(*p).or_insert(*o);
            *e = (*e).max(*o);
        }
        now
    }

    fn begin_fault(&mut self, name: &str) {
        let committed_before = self.sample_committed();
        eprintln!("gregor-chaos: fault: {name}");
        self.faults.push(FaultWindow { name: name.into(), start: Instant::now(), end: None, committed_before });
    }

    fn end_fault(&mut self) {
        if let Some(f) = self.faults.last_mut() {
            f.end = Some(Instant::now());
        }
    }

    fn broker_ports(&self) -> HashSet<u16> {
        self.cluster.bootstrap.split(',').filter_map(|hp| hp.rsplit(':').next()?.parse().ok()).collect()
    }
}

/// Issue #19's scenario, step by step.
fn rolling_restart(args: &Args, script: &Path, gregor: &Path, log_dir: &Path, index: usize) -> anyhow::Result<serde_json::Value> {
    let mut run = Run::new(args, script, gregor, log_dir, "rr", 6)?;
    run.produce(100_000)?;
    // A throwaway group read, so __consumer_offsets exists before the members start.
    let throwaway = Command::new(gregor)
        .args(["consume", "-b", &run.cluster.bootstrap, "-t", &run.spec.topic, "-g", &format!("{}-throwaway", run.spec.group)])
        .args(["--from-beginning", "--exit-at-end", "--format", "none"])
        .output()?;
    anyhow::ensure!(throwaway.status.success(), "throwaway consume failed: {}", String::from_utf8_lossy(&throwaway.stderr));

    let mut members = Vec::new();
    for m in 0..args.members {
        members.push(Member::start(&run.spec, &format!("run{index}-m{m}"), &run.ledger)?);
    }
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
    let ends = run.end_offsets()?;
    let expected: i64 = ends.values().sum();
    // Wait for the members to read everything (woken by each record), at most 60 s.
    let all_read = run.ledger.wait_until(Duration::from_secs(60), |l| l.distinct() as i64 >= expected);
    run.sample_committed();
    let ports = run.broker_ports();
    let sockets: Vec<usize> = members.iter().map(|m| m.sockets_to(&ports)).collect();
    let mut alive = Vec::new();
    for m in members.iter_mut() {
        alive.push(m.alive());
    }
    let mut exits = Vec::new();
    for m in members {
        let name = m.name.clone();
        let stderr = m.stderr_path.clone();
        match m.interrupt() {
            Ok(s) if s.success() => exits.push(json!({"member": name, "exit": 0})),
            Ok(s) => exits.push(json!({"member": name, "exit": s.code(), "stderr": tail(&stderr)})),
            Err(e) => exits.push(json!({"member": name, "error": e.to_string()})),
        }
    }
    let ledger = run.ledger.lock();
    let missing = ledger.missing(&ends);
    let unexplained = ledger.unexplained_redeliveries(&run.faults);
    let faults: Vec<serde_json::Value> = run
        .faults
        .iter()
        .map(|f| {
            let end = f.end.unwrap_or(f.start);
            json!({
                "fault": f.name,
                "duration_ms": (end - f.start).as_millis() as u64,
                "longest_consumption_gap_ms": ledger.longest_gap(f.start, end + Duration::from_secs(5)).as_millis() as u64,
            })
        })
        .collect();
    let members_ok = alive.iter().all(|a| *a) && exits.iter().all(|e| e["exit"] == 0);
    let ok = all_read && missing.is_empty() && members_ok && unexplained.is_empty() && run.committed_regressions.is_empty();
    let missing_summary: BTreeMap<i32, serde_json::Value> = missing
        .iter()
        .map(|(p, gaps)| (*p, json!({"count": gaps.len(), "first": gaps.first(), "last": gaps.last()})))
        .collect();
    Ok(json!({
        "scenario": "rolling-restart",
        "protocol": args.protocol,
        "client": format!("{:?}", args.client),
        "topic": run.spec.topic,
        "ok": ok,
        "expected": expected,
        "distinct": ledger.distinct(),
        "redeliveries": ledger.redeliveries.len(),
        "unexplained_redeliveries": unexplained.iter().take(10).collect::<Vec<_>>(),
        "committed_regressions": run.committed_regressions,
        "missing": missing_summary,
        "max_offsets": ledger.max_offsets(),
        "ends": ends,
        "per_member": ledger.per_member,
        "alive_at_end": alive,
        "exits": exits,
        "sockets_at_end": sockets,
        "faults": faults,
        "elapsed_s": started.elapsed().as_secs(),
    }))
}

fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(5)..].join("\n")
}
