//! `gregor consume --metrics-addr`: the Prometheus endpoint serves the library's metrics
//! (the `metrics` facade, Java's names) next to the CLI's own counters.

#![cfg(unix)]

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};

use gregor_mock::MockCluster;

fn scrape(addr: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).unwrap();
    body
}

/// The value of the sample line starting with `prefix` (a name and its labels).
fn sample(body: &str, prefix: &str) -> f64 {
    let line = body
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix} in\n{body}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_addr_exports_the_library_metrics_under_java_names() {
    let c = MockCluster::builder().brokers(1).topic("s", 2).start().await.unwrap();
    for p in 0..2 {
        let recs: Vec<(String, String)> = (0..4).map(|i| (format!("k{i}"), format!("v{p}-{i}"))).collect();
        c.append_records("s", p, &recs).unwrap();
    }
    // A free port (bound and released; nothing else here binds ephemeral ports on purpose).
    let addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().to_string();
    let boot = c.bootstrap_servers();
    let a = addr.clone();
    let body = tokio::task::spawn_blocking(move || {
        let mut child = Command::new(assert_cmd::cargo::cargo_bin("gregor"))
            .args(["consume", "-b", &boot, "-t", "s", "-g", "metrics-cli", "--from-beginning", "-X", "client.id=cli-metrics"])
            .args(["--metrics-addr", &a])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        for _ in 0..8 {
            let line = lines.next().expect("gregor consume ended early").unwrap();
            assert!(line.starts_with('v'), "{line}");
        }
        // The CLI counts a batch after printing it: scrape until its own counter caught up
        // (the library's counters moved before poll returned the records).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let body = loop {
            let body = scrape(&a);
            if body.lines().any(|l| l == "gregor_records_consumed_total 8") || std::time::Instant::now() > deadline {
                break body;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(0));
        body
    })
    .await
    .unwrap();
    let client = "{client_id=\"cli-metrics\"}";
    assert_eq!(sample(&body, &format!("consumer_fetch_manager_metrics_records_consumed_total{client}")), 8.0);
    assert!(sample(&body, &format!("consumer_fetch_manager_metrics_bytes_consumed_total{client}")) > 0.0);
    assert!(sample(&body, &format!("consumer_fetch_manager_metrics_fetch_total{client}")) >= 1.0);
    assert_eq!(sample(&body, &format!("consumer_coordinator_metrics_rebalance_total{client}")), 1.0);
    assert_eq!(sample(&body, &format!("consumer_coordinator_metrics_assigned_partitions{client}")), 2.0);
    assert!(sample(&body, &format!("consumer_metrics_connection_creation_total{client}")) >= 2.0);
    assert!(sample(&body, "consumer_fetch_manager_metrics_records_lag{client_id=\"cli-metrics\",topic=\"s\",partition=\"0\"}") >= 0.0);
    // The CLI's own counters are still there.
    assert_eq!(sample(&body, "gregor_records_consumed_total"), 8.0);
}
