//! `gregor consume` in a group stopped by a signal: Ctrl-C (SIGINT) from a terminal and SIGTERM
//! from a service manager both commit what was printed, leave the group and exit 0.

#![cfg(unix)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use gregor_mock::MockCluster;

/// Starts `gregor consume` in group `group`, waits until it printed all `records` values,
/// sends `signal` and returns its exit status.
fn consume_then_signal(bootstrap: &str, group: &str, records: usize, signal: &str) -> std::process::ExitStatus {
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("gregor"))
        .args(["consume", "-b", bootstrap, "-t", "s", "-g", group, "--from-beginning"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for _ in 0..records {
        let line = lines.next().expect("gregor consume ended before printing every record").unwrap();
        assert!(line.starts_with('v'), "{line}");
    }
    // Every record is printed, and the in-loop commit (every 5 s) has not run yet in most runs:
    // the offsets must come from the commit on the way out.
    let sent = Command::new("kill").args([&format!("-{signal}"), &child.id().to_string()]).status().unwrap();
    assert!(sent.success());
    let status = child.wait().unwrap();
    drop(lines);
    status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_and_sigterm_commit_leave_and_exit_zero() {
    let c = MockCluster::builder().brokers(1).topic("s", 2).start().await.unwrap();
    for p in 0..2 {
        let recs: Vec<(String, String)> = (0..4).map(|i| (format!("k{i}"), format!("v{p}-{i}"))).collect();
        c.append_records("s", p, &recs).unwrap();
    }
    for signal in ["INT", "TERM"] {
        let group = format!("sig-{signal}");
        let boot = c.bootstrap_servers();
        let g = group.clone();
        let status = tokio::task::spawn_blocking(move || consume_then_signal(&boot, &g, 8, signal)).await.unwrap();
        assert_eq!(status.code(), Some(0), "SIG{signal}: {status:?}");
        assert_eq!(c.committed_offset(&group, "s", 0), Some(4), "SIG{signal}");
        assert_eq!(c.committed_offset(&group, "s", 1), Some(4), "SIG{signal}");
        // It left the group (LeaveGroup), so its partitions can move at once.
        let members = c.group(&group).map(|g| g.members.len());
        assert_eq!(members, Some(0), "SIG{signal}: the member is still in the group");
    }
}
