//! A group member under test: a consumer *process* (gregor's CLI or Java's console consumer),
//! so that killing it with -9 is a real crash and its sockets are its own.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;

use crate::ledger::Shared;

/// Which client a member runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Client {
    /// `gregor consume --format json`.
    Gregor,
    /// Java's `ConsoleConsumer` (kafka-clients 4.3.1) through `kafka-cluster.sh tool`.
    Java,
}

/// How to start members.
#[derive(Debug, Clone)]
pub struct MemberSpec {
    pub client: Client,
    pub gregor_bin: PathBuf,
    pub cluster_script: PathBuf,
    pub bootstrap: String,
    pub topic: String,
    pub group: String,
    /// consumer properties, Java names (group.protocol, auto.commit.interval.ms, ...)
    pub props: Vec<(String, String)>,
    pub log_dir: PathBuf,
}

pub struct Member {
    pub name: String,
    child: Child,
    reader: Option<std::thread::JoinHandle<()>>,
    pub stderr_path: PathBuf,
}

impl Member {
    pub fn start(spec: &MemberSpec, name: &str, ledger: &Arc<Shared>) -> anyhow::Result<Member> {
        let stderr_path = spec.log_dir.join(format!("{name}.stderr"));
        let stderr = std::fs::OpenOptions::new().create(true).append(true).open(&stderr_path)?;
        let mut cmd = match spec.client {
            Client::Gregor => {
                let mut c = Command::new(&spec.gregor_bin);
                c.args(["consume", "-b", &spec.bootstrap, "-t", &spec.topic, "-g", &spec.group]);
                c.args(["--from-beginning", "--format", "json"]);
                for (k, v) in &spec.props {
                    c.arg("-X").arg(format!("{k}={v}"));
                }
                c.env("GREGOR_LOG", std::env::var("CHAOS_GREGOR_LOG").unwrap_or_else(|_| "gregor=info".into()));
                c
            }
            Client::Java => {
                let mut c = Command::new(&spec.cluster_script);
                c.args(["tool", "org.apache.kafka.tools.consumer.ConsoleConsumer"]);
                c.args(["--bootstrap-server", &spec.bootstrap, "--topic", &spec.topic, "--group", &spec.group]);
                c.args(["--from-beginning", "--property", "print.partition=true", "--property", "print.offset=true"]);
                c.args(["--property", "print.value=false"]);
                for (k, v) in &spec.props {
                    c.arg("--consumer-property").arg(format!("{k}={v}"));
                }
                c
            }
        };
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::from(stderr));
        let mut child = cmd.spawn().with_context(|| format!("starting member {name}"))?;
        let stdout = child.stdout.take().context("member stdout")?;
        let ledger = ledger.clone();
        let who = name.to_string();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some((p, o)) = parse_record_line(&line) {
                    ledger.delivered(&who, p, o, Instant::now());
                }
            }
        });
        Ok(Member { name: name.to_string(), child, reader: Some(reader), stderr_path })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Still running?
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGKILL: a crash, no commit, no LeaveGroup.
    pub fn kill9(mut self) -> anyhow::Result<()> {
        signal(self.pid(), "KILL")?;
        let _ = self.child.wait();
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        Ok(())
    }

    /// SIGINT (Ctrl-C): the member commits, leaves and exits. Returns its exit status.
    pub fn interrupt(mut self) -> anyhow::Result<std::process::ExitStatus> {
        signal(self.pid(), "INT")?;
        let status = self.child.wait()?;
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        Ok(status)
    }

    /// Established TCP connections from this process (and its children: the Java tool runs
    /// under a shell) to the given broker ports, counted from /proc.
    pub fn sockets_to(&self, ports: &HashSet<u16>) -> usize {
        let mut pids = vec![self.pid()];
        pids.extend(children_of(self.pid()));
        pids.iter().map(|p| crate::procnet::established_to(*p, ports)).sum()
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = signal(self.child.id(), "KILL");
            let _ = self.child.wait();
        }
    }
}

fn signal(pid: u32, sig: &str) -> anyhow::Result<()> {
    let status = Command::new("kill").arg(format!("-{sig}")).arg(pid.to_string()).status()?;
    anyhow::ensure!(status.success(), "kill -{sig} {pid} failed");
    Ok(())
}

fn children_of(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else { return out };
    for e in dir.flatten() {
        let Ok(p) = e.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else { continue };
        // pid (comm) state ppid ...: comm may contain spaces, so split after the last ')'.
        let ppid = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok());
        if ppid == Some(pid) {
            out.push(p);
            out.extend(children_of(p));
        }
    }
    out
}

/// `{"topic":..,"partition":P,"offset":O,...}` (gregor) or `Partition:P\tOffset:O` (Java).
pub fn parse_record_line(line: &str) -> Option<(i32, i64)> {
    if line.starts_with('{') {
        let v: serde_json::Value = serde_json::from_str(line).ok()?;
        return Some((v.get("partition")?.as_i64()? as i32, v.get("offset")?.as_i64()?));
    }
    let mut p = None;
    let mut o = None;
    for field in line.split('\t') {
        if let Some(x) = field.strip_prefix("Partition:") {
            p = x.trim().parse().ok();
        } else if let Some(x) = field.strip_prefix("Offset:") {
            o = x.trim().parse().ok();
        }
    }
    Some((p?, o?))
}

#[cfg(test)]
mod tests {
    use super::parse_record_line;

    #[test]
    fn parses_both_clients_output() {
        assert_eq!(parse_record_line(r#"{"topic":"t","partition":3,"offset":42,"value":"x"}"#), Some((3, 42)));
        assert_eq!(parse_record_line("Partition:1\tOffset:7"), Some((1, 7)));
        assert_eq!(parse_record_line("Processed a total of 5 messages"), None);
    }
}
