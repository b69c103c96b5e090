//! The `gregor` binary under a hostile broker (memory stays bounded) and against real Apache
//! Kafka (`GREGOR_KAFKA_BOOTSTRAP`, set by scripts/test.sh; skipped otherwise).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gregor_mock::{Malformed, MockCluster};

fn bin() -> std::path::PathBuf {
    assert_cmd::cargo::cargo_bin("gregor")
}

/// Peak resident memory of a running process (VmHWM), in KiB.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// The CLI consuming from a broker that answers with a 2 GiB frame length, a decompression
/// bomb and garbage: it reports, reconnects, and its memory stays below 64 MiB.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_memory_stays_bounded_under_a_hostile_broker() {
    let cluster = MockCluster::builder().brokers(1).topic("h", 1).start().await.unwrap();
    let recs: Vec<(String, String)> = (0..200).map(|i| (format!("k{i}"), format!("v{i}"))).collect();
    cluster.append_records("h", 0, &recs).unwrap();
    let fetch = Some(1i16);
    for kind in [Malformed::OversizedLength, Malformed::DecompressionBomb, Malformed::RandomBytes, Malformed::TruncatedThenHangUp] {
        cluster.inject_malformed(Some(0), fetch, kind);
    }
    let mut child = Command::new(bin())
        .args(["consume", "-b", &cluster.bootstrap_servers(), "-t", "h", "--from-beginning", "--format", "none"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    // Watch the process while the faults fire (each needs a Fetch to trigger it), until the
    // mock has seen enough Fetch requests for all four to have been answered.
    let mut peak = 0u64;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(p) = peak_rss_kib(pid) {
            peak = peak.max(p);
        }
        let fetches: usize = cluster.connections().iter().map(|c| c.count(1)).sum();
        if fetches >= 12 || Instant::now() > deadline {
            break;
        }
        let c2 = cluster.connections().len();
        let _ = cluster
            .wait_until(move |c| c.len() != c2 || c.iter().map(|r| r.count(1)).sum::<usize>() > fetches, Duration::from_millis(500))
            .await;
    }
    if let Some(p) = peak_rss_kib(pid) {
        peak = peak.max(p);
    }
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let fetches: usize = cluster.connections().iter().map(|c| c.count(1)).sum();
    assert!(fetches >= 12, "the consumer kept fetching through the faults ({fetches} fetches); stderr: {stderr}");
    assert!(cluster.connections().len() >= 3, "bad frames closed sockets and new ones were opened");
    assert!(!stderr.contains("panicked"), "no panic: {stderr}");
    eprintln!("peak RSS under a hostile broker: {peak} KiB");
    assert!(peak > 0 && peak < 64 * 1024, "peak RSS {peak} KiB must stay below 64 MiB");
    cluster.shutdown().await;
}

/// `produce` then `consume` (group, exit at end) against real Kafka.
#[test]
fn cli_round_trip_on_real_kafka() {
    let Ok(b) = std::env::var("GREGOR_KAFKA_BOOTSTRAP") else {
        eprintln!("skipped: GREGOR_KAFKA_BOOTSTRAP is not set (run scripts/test.sh)");
        return;
    };
    let n = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis();
    let topic = format!("cli-{n}");
    let produced = Command::new(bin())
        .args(["produce", "-b", &b, "-t", &topic, "--partitions", "3", "-z", "lz4", "--count", "5000", "--size", "100"])
        .output()
        .unwrap();
    assert!(produced.status.success(), "produce: {}", String::from_utf8_lossy(&produced.stderr));
    let stats = std::env::temp_dir().join(format!("gregor-cli-kafka-{n}.json"));
    let consumed = Command::new(bin())
        .args(["consume", "-b", &b, "-t", &topic, "-g", &format!("cli-g-{n}"), "--from-beginning", "--exit-at-end", "--format", "none", "--stats"])
        .arg(&stats)
        .output()
        .unwrap();
    assert!(consumed.status.success(), "consume: {}", String::from_utf8_lossy(&consumed.stderr));
    let s: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&stats).unwrap()).unwrap();
    assert_eq!(s["records"], 5000, "{s}");
    let opened = s["connections"]["opened"].as_u64().unwrap();
    assert!(opened <= 4, "at most L+1 sockets on a 3-broker cluster: {s}");
    assert_eq!(s["connections"]["opened"], s["connections"]["closed"], "everything closed on exit: {s}");
    let unknown = Command::new(bin())
        .args(["consume", "-b", &b, "-t", &format!("no-such-topic-{n}"), "--exit-at-end"])
        .output()
        .unwrap();
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no-such-topic"));
}
