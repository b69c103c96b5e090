//! The real cluster under test, driven through `scripts/kafka-cluster.sh`.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Context};

/// A handle on the cluster the script started (its pid files and ports come from the same
/// environment: KAFKA_PORT_BASE, KAFKA_DATA_DIR).
#[derive(Debug, Clone)]
pub struct Cluster {
    pub script: PathBuf,
    pub bootstrap: String,
    pub brokers: Vec<i32>,
}

impl Cluster {
    pub fn new(script: PathBuf) -> anyhow::Result<Cluster> {
        let out = Command::new(&script).arg("bootstrap").output().context("running kafka-cluster.sh bootstrap")?;
        if !out.status.success() {
            bail!("kafka-cluster.sh bootstrap failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        let line = String::from_utf8_lossy(&out.stdout);
        let bootstrap = line
            .lines()
            .last()
            .and_then(|l| l.strip_prefix("bootstrap.servers="))
            .context("kafka-cluster.sh bootstrap printed no bootstrap.servers=")?
            .to_string();
        let brokers = (0..bootstrap.split(',').count() as i32).collect();
        Ok(Cluster { script, bootstrap, brokers })
    }

    /// Runs a script command, failing with its stderr.
    pub fn run(&self, args: &[&str]) -> anyhow::Result<String> {
        let out = Command::new(&self.script).args(args).output().with_context(|| format!("kafka-cluster.sh {args:?}"))?;
        if !out.status.success() {
            bail!("kafka-cluster.sh {:?} failed: {}", args, String::from_utf8_lossy(&out.stderr).trim());
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    pub fn stop_broker(&self, id: i32, kill: bool) -> anyhow::Result<()> {
        let id = id.to_string();
        if kill {
            self.run(&["stop-broker", &id, "--kill"])?;
        } else {
            self.run(&["stop-broker", &id])?;
        }
        Ok(())
    }

    pub fn start_broker(&self, id: i32) -> anyhow::Result<()> {
        self.run(&["start-broker", &id.to_string()])?;
        Ok(())
    }

    pub fn create_topic(&self, name: &str, partitions: u32, rf: u32, configs: &[&str]) -> anyhow::Result<()> {
        let (p, r) = (partitions.to_string(), rf.to_string());
        let mut args = vec!["topic-create", name, &p, &r];
        for c in configs {
            args.push("--config");
            args.push(c);
        }
        self.run(&args)?;
        Ok(())
    }

    /// The broker that coordinates `group` now.
    pub fn coordinator(&self, group: &str) -> anyhow::Result<i32> {
        Ok(self.run(&["coordinator", group])?.trim().parse()?)
    }

    /// Any Kafka tool class with the cluster's bootstrap servers.
    pub fn tool(&self, class: &str, args: &[&str]) -> anyhow::Result<String> {
        let mut all = vec!["tool", class, "--bootstrap-server", &self.bootstrap];
        all.extend_from_slice(args);
        self.run(&all)
    }
}
