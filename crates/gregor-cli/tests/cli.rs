//! The `gregor` binary against an in-process gregor-mock cluster: every command, and every
//! error a user must be able to act on (one line on stderr, non-zero exit, no hang).

use std::time::Duration;

use assert_cmd::Command;
use gregor_mock::MockCluster;
use predicates::prelude::*;

/// Runs the binary off the runtime's threads so the mock keeps serving meanwhile.
async fn run(args: Vec<String>) -> assert_cmd::assert::Assert {
    tokio::task::spawn_blocking(move || {
        Command::cargo_bin("gregor")
            .unwrap()
            .args(&args)
            .timeout(Duration::from_secs(90))
            .assert()
    })
    .await
    .unwrap()
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

async fn cluster_with(topic: &str, parts: i32, per_part: usize) -> MockCluster {
    let c = MockCluster::builder()
        .brokers(3)
        .topic(topic, parts)
        .start()
        .await
        .unwrap();
    for p in 0..parts {
        let recs: Vec<(String, String)> = (0..per_part).map(|i| (format!("k{i}"), format!("v{p}-{i}"))).collect();
        c.append_records(topic, p, &recs).unwrap();
    }
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_exits_zero_and_shows_l_plus_one_per_member() {
    run(args(&["demo"]))
        .await
        .success()
        .stdout(predicate::str::contains("gregor opened 4 sockets (L+1)").count(2))
        .stdout(predicate::str::contains("the Java consumer would open 5 (L+2)"))
        .stdout(predicate::str::contains("0 duplicates"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consume_assign_mode_json_exit_at_end_with_stats() {
    let c = cluster_with("t", 3, 5).await;
    c.append_records("t", 0, &[(b"bin".as_slice(), [0xffu8, 0xfe].as_slice())])
        .unwrap();
    let dir = std::env::temp_dir().join(format!("gregor-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let stats = dir.join("stats.json");
    let out = run(args(&[
        "consume",
        "-b",
        &c.bootstrap_servers(),
        "-t",
        "t",
        "--from-beginning",
        "--exit-at-end",
        "--format",
        "json",
        "--stats",
        stats.to_str().unwrap(),
    ]))
    .await
    .success();
    let stdout = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    let lines: Vec<serde_json::Value> = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 16, "every record once: {stdout}");
    let bin = lines.iter().find(|v| v["key"] == "bin").expect("binary record");
    assert_eq!(bin["value"], "//4=");
    assert_eq!(bin["value_encoding"], "base64");
    assert!(lines
        .iter()
        .any(|v| v["value"] == "v2-4" && v["partition"] == 2 && v["offset"] == 4));
    let s: serde_json::Value = serde_json::from_slice(&std::fs::read(&stats).unwrap()).unwrap();
    assert_eq!(s["records"], 16);
    assert!(s["connections"]["opened"].as_u64().unwrap() >= 1);
    assert_eq!(s["connections"]["opened"], s["connections"]["closed"], "{s}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consume_group_mode_text_commits_and_exits_at_end() {
    let c = cluster_with("g", 2, 3).await;
    run(args(&[
        "consume",
        "-b",
        &c.bootstrap_servers(),
        "-t",
        "g",
        "-g",
        "cli-group",
        "--from-beginning",
        "--exit-at-end",
    ]))
    .await
    .success()
    .stdout(predicate::str::contains("v0-0\n"))
    .stdout(predicate::str::contains("v1-2\n"));
    assert_eq!(c.committed_offset("cli-group", "g", 0), Some(3));
    assert_eq!(c.committed_offset("cli-group", "g", 1), Some(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consume_max_messages_stops_early() {
    let c = cluster_with("m", 1, 10).await;
    let out = run(args(&[
        "consume",
        "-b",
        &c.bootstrap_servers(),
        "-t",
        "m",
        "--from-beginning",
        "--max-messages",
        "4",
    ]))
    .await
    .success();
    assert_eq!(out.get_output().stdout, b"v0-0\nv0-1\nv0-2\nv0-3\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_prints_one_line_per_event_and_stops_by_itself() {
    let c = cluster_with("c", 3, 1).await;
    let boot = format!("127.0.0.1:{}", c.broker_addr(0).unwrap().port());
    run(args(&[
        "connections",
        "-b",
        &boot,
        "-t",
        "c",
        "-g",
        "cg",
        "--duration",
        "2",
    ]))
    .await
    .success()
    .stdout(predicate::str::contains("adopted as broker 0"))
    .stdout(predicate::str::contains("role=coordinator"))
    .stdout(predicate::str::contains("closed (shutdown)"));
    c.wait_until(|r| r.iter().all(|x| !x.is_open()), Duration::from_secs(10))
        .await
        .expect("all closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_bootstrap_fails_fast_with_one_line() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = run(args(&[
        "consume",
        "-b",
        &format!("127.0.0.1:{port}"),
        "-t",
        "x",
        "-X",
        "default.api.timeout.ms=2000",
    ]))
    .await
    .failure()
    .stderr(predicate::str::contains("cannot reach the cluster at 127.0.0.1:"));
    let err = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert_eq!(err.lines().count(), 1, "one line: {err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_topic_is_named() {
    let c = cluster_with("exists", 1, 1).await;
    run(args(&[
        "consume",
        "-b",
        &c.bootstrap_servers(),
        "-t",
        "nope",
        "-X",
        "default.api.timeout.ms=5000",
    ]))
    .await
    .failure()
    .stderr(predicate::str::contains("nope"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_config_key_suggests_the_right_one() {
    run(args(&[
        "consume",
        "-b",
        "127.0.0.1:1",
        "-t",
        "x",
        "-X",
        "sesion.timeout.ms=10000",
    ]))
    .await
    .failure()
    .stderr("gregor: unknown consumer config 'sesion.timeout.ms' (did you mean 'session.timeout.ms'?)\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorization_failure_is_reported() {
    let c = cluster_with("secret", 1, 1).await;
    c.inject_errors(3, 29, 1000);
    run(args(&[
        "consume",
        "-b",
        &c.bootstrap_servers(),
        "-t",
        "secret",
        "-X",
        "default.api.timeout.ms=5000",
    ]))
    .await
    .failure()
    .stderr(predicate::str::contains("authorization failed"));
}

#[test]
fn readme_has_the_current_config_tables() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let table = gregor::config::keys::markdown_table(gregor::config::consumer_keys());
    assert!(
        readme.contains(&table),
        "README.md's consumer config table is stale: run `gregor print-config-table`"
    );
    let table = gregor::config::keys::markdown_table(gregor::config::producer_keys());
    assert!(
        readme.contains(&table),
        "README.md's producer config table is stale: run `gregor print-config-table --producer`"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produce_creates_the_topic_and_writes_stdin_and_synthetic_records() {
    let c = MockCluster::builder().brokers(3).start().await.unwrap();
    let b = c.bootstrap_servers();
    let a = args(&["produce", "-b", &b, "-t", "new", "--partitions", "3", "-K", ":"]);
    tokio::task::spawn_blocking(move || {
        Command::cargo_bin("gregor")
            .unwrap()
            .args(&a)
            .write_stdin("a:1\nb:2\nc:3\n")
            .timeout(Duration::from_secs(60))
            .assert()
    })
    .await
    .unwrap()
    .success()
    .stderr(predicate::str::contains("produced 3 records"));
    assert!(c.partition_leader("new", 2).is_some(), "created with 3 partitions");
    run(args(&[
        "produce", "-b", &b, "-t", "new", "--count", "1000", "--size", "50", "-z", "zstd", "--acks", "1",
    ]))
    .await
    .success()
    .stderr(predicate::str::contains("produced 1000 records"));
    let total: i64 = (0..3).map(|p| c.high_watermark("new", p).unwrap()).sum();
    assert_eq!(total, 1003);
    let out = run(args(&[
        "consume",
        "-b",
        &b,
        "-t",
        "new",
        "--from-beginning",
        "-e",
        "--format",
        "json",
    ]))
    .await
    .success();
    let stdout = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert_eq!(stdout.lines().count(), 1003);
    assert!(stdout.contains(r#""key":"b""#) && stdout.contains(r#""value":"2""#));
}
