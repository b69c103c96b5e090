//! `gregor consume` in a group commits what it printed of a partition before a rebalance moves
//! that partition to another member, so the new owner starts right after it.

#![cfg(unix)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use gregor_mock::MockCluster;

fn consume(bootstrap: &str, group: &str) -> Child {
    Command::new(assert_cmd::cargo::cargo_bin("gregor"))
        .args(["consume", "-b", bootstrap, "-t", "r", "-g", group, "--from-beginning", "-q"])
        // Heartbeats every 500 ms: the rebalance completes well before the 5 s periodic
        // commit, so only the commit on revocation can have stored the offsets checked below.
        .args(["-X", "heartbeat.interval.ms=500"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

fn stop(mut child: Child) {
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let _ = child.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn printed_offsets_are_committed_before_a_rebalance_moves_the_partitions() {
    let c = MockCluster::builder().brokers(1).topic("r", 2).start().await.unwrap();
    for p in 0..2 {
        let recs: Vec<(String, String)> = (0..4).map(|i| (format!("k{i}"), format!("v{p}-{i}"))).collect();
        c.append_records("r", p, &recs).unwrap();
    }
    let boot = c.bootstrap_servers();
    let mut first = consume(&boot, "rb");
    let out = first.stdout.take().unwrap();
    // The first member alone prints all 8 records.
    // The reader is kept open to the end: a closed pipe would make the member exit.
    let (printed, _reader) = tokio::task::spawn_blocking(move || {
        let mut lines = BufReader::new(out).lines();
        let printed = (0..8).map(|_| lines.next().expect("the first member stopped").unwrap()).collect::<Vec<_>>();
        (printed, lines)
    })
    .await
    .unwrap();
    assert_eq!(printed.len(), 8);
    assert_eq!(c.committed_offset("rb", "r", 0), None, "nothing committed yet (the periodic commit is every 5 s)");
    let second = consume(&boot, "rb");
    // Wait for the second generation, both members in it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let g = c.group("rb");
        if g.as_ref().is_some_and(|g| g.generation >= 2 && g.state == "Stable" && g.members.len() == 2) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no second generation: {g:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let committed = [c.committed_offset("rb", "r", 0), c.committed_offset("rb", "r", 1)];
    stop(first);
    stop(second);
    assert_eq!(committed, [Some(4), Some(4)], "the first member's printed offsets, committed on revocation");
}
