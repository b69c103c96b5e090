//! A group member under test: a consumer *process* (gregor's CLI or Java's console consumer),
//! so that killing it with -9 is a real crash and its sockets are its own.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::ledger::Shared;

/// Which client a member runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Client {
    /// `gregor consume --format json`.
    Gregor,
    /// Java's `ConsoleConsumer` (kafka-clients 4.3.1, the `KafkaConsumer`), run with the jars
    /// `kafka-cluster.sh jars` resolves.
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
    /// The Kafka jars (for Java members), from `kafka-cluster.sh jars`.
    pub kafka_lib: Option<PathBuf>,
}

/// A `java` command with the Kafka jars and the tools' quiet log4j configuration.
pub fn java_tool(lib: &std::path::Path, script: &std::path::Path, class: &str) -> Command {
    let mut c = Command::new("java");
    let log4j = script.with_file_name("kafka").join("log4j2-tools.properties");
    c.args(["-Xmx256m", "-XX:+UseSerialGC"]);
    c.arg(format!("-Dlog4j2.configurationFile={}", log4j.display()));
    c.arg("-cp").arg(format!("{}/*", lib.display())).arg(class);
    c
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
                // The group tools name members by client.id: the socket check maps them back.
                c.arg("-X").arg(format!("client.id={name}"));
                c.env("GREGOR_LOG", std::env::var("CHAOS_GREGOR_LOG").unwrap_or_else(|_| "gregor=info".into()));
                c
            }
            Client::Java => {
                let lib = spec.kafka_lib.as_deref().context("Java members need the Kafka jars")?;
                let mut c = java_tool(lib, &spec.cluster_script, "org.apache.kafka.tools.consumer.ConsoleConsumer");
                c.args(["--bootstrap-server", &spec.bootstrap, "--topic", &spec.topic, "--group", &spec.group]);
                c.args(["--from-beginning", "--property", "print.partition=true", "--property", "print.offset=true"]);
                c.args(["--property", "print.timestamp=true", "--property", "print.value=false"]);
                for (k, v) in &spec.props {
                    c.arg("--consumer-property").arg(format!("{k}={v}"));
                }
                c.arg("--consumer-property").arg(format!("client.id={name}"));
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
                if let Some((p, o, ts)) = parse_record_line(&line) {
                    ledger.delivered(&who, p, o, ts, Instant::now());
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
        // SIGINT is what a user sends (Ctrl-C). A process started from a non-interactive
        // shell's background job inherits SIGINT ignored, and the JVM then keeps it ignored:
        // after a minute SIGTERM (a shutdown hook in Java), then SIGKILL, reported as an error.
        let mut outcome = Err(anyhow::anyhow!("did not exit on SIGINT or SIGTERM; killed"));
        for (sig, wait) in [("INT", Duration::from_secs(60)), ("TERM", Duration::from_secs(30))] {
            signal(self.pid(), sig)?;
            let deadline = std::time::Instant::now() + wait;
            while std::time::Instant::now() < deadline {
                if let Some(status) = self.child.try_wait()? {
                    outcome = Ok(status);
                    break;
                }
                std::thread::sleep(Duration::from_millis(200)); // no portable wait-with-timeout
            }
            if outcome.is_ok() {
                break;
            }
        }
        if outcome.is_err() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        outcome
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

/// `{"topic":..,"partition":P,"offset":O,"timestamp":T,...}` (gregor) or
/// `CreateTime:T\tPartition:P\tOffset:O` (Java): partition, offset, record timestamp (ms).
pub fn parse_record_line(line: &str) -> Option<(i32, i64, i64)> {
    if line.starts_with('{') {
        let v: serde_json::Value = serde_json::from_str(line).ok()?;
        let ts = v.get("timestamp").and_then(|t| t.as_i64()).unwrap_or(-1);
        return Some((v.get("partition")?.as_i64()? as i32, v.get("offset")?.as_i64()?, ts));
    }
    let (mut p, mut o, mut ts) = (None, None, -1);
    for field in line.split('\t') {
        if let Some(x) = field.strip_prefix("Partition:") {
            p = x.trim().parse().ok();
        } else if let Some(x) = field.strip_prefix("Offset:") {
            o = x.trim().parse().ok();
        } else if let Some(x) = field.strip_prefix("CreateTime:") {
            ts = x.trim().parse().unwrap_or(-1);
        }
    }
    Some((p?, o?, ts))
}

#[cfg(test)]
mod tests {
    use super::parse_record_line;

    #[test]
    fn parses_both_clients_output() {
        assert_eq!(
            parse_record_line(r#"{"topic":"t","partition":3,"offset":42,"timestamp":99,"value":"x"}"#),
            Some((3, 42, 99))
        );
        assert_eq!(parse_record_line("CreateTime:5\tPartition:1\tOffset:7"), Some((1, 7, 5)));
        assert_eq!(parse_record_line("Processed a total of 5 messages"), None);
    }
}
