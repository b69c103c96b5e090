//! `gregor produce`: one producer configuration from a `.properties` file, flags and `-X`, and
//! clear words for what it did with input it could not use as asked.

use std::time::Duration;

use assert_cmd::Command;
use gregor_mock::MockCluster;
use predicates::prelude::*;

/// Runs the binary off the runtime's threads so the mock keeps serving meanwhile.
async fn run(args: Vec<String>, stdin: &str) -> assert_cmd::assert::Assert {
    let stdin = stdin.to_string();
    tokio::task::spawn_blocking(move || {
        Command::cargo_bin("gregor")
            .unwrap()
            .args(&args)
            .write_stdin(stdin)
            .timeout(Duration::from_secs(90))
            .assert()
    })
    .await
    .unwrap()
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn properties(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("gregor-produce-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// The compression codec id in a stored batch's attributes.
fn codec_of(batch: &[u8]) -> i16 {
    i16::from_be_bytes([batch[21], batch[22]]) & 7
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn properties_file_configures_the_producer_and_flags_override_it() {
    let c = MockCluster::builder().brokers(3).topic("t", 2).start().await.unwrap();
    let file = properties(
        "p1.properties",
        &format!("# a Java producer.properties\nbootstrap.servers={}\ncompression.type=lz4\nacks=1\nlinger.ms=0\nkey.serializer=org.apache.kafka.common.serialization.StringSerializer\n", c.bootstrap_servers()),
    );
    let f = file.to_str().unwrap();
    run(args(&["produce", "-F", f, "-t", "t", "--count", "20"]), "")
        .await
        .success()
        .stderr(predicate::str::contains("produced 20 records"));
    let batches: Vec<_> = (0..2).flat_map(|p| c.batches("t", p)).collect();
    assert!(!batches.is_empty() && batches.iter().all(|b| codec_of(b) == 3), "lz4 from the file");
    // -z overrides the file; --producer.config is kafka-console-producer's name for -F.
    run(args(&["produce", "--producer.config", f, "-z", "zstd", "-t", "t", "--count", "20"]), "")
        .await
        .success();
    let batches: Vec<_> = (0..2).flat_map(|p| c.batches("t", p)).collect();
    assert!(batches.iter().any(|b| codec_of(b) == 4), "zstd from -z");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_typo_in_the_file_or_in_x_is_named_with_a_suggestion() {
    let file = properties("p2.properties", "bootstrap.servers=127.0.0.1:1\nlinger.sm=5\n");
    run(args(&["produce", "-F", file.to_str().unwrap(), "-t", "t"]), "")
        .await
        .failure()
        .stderr(predicate::str::contains("unknown producer config 'linger.sm' (did you mean 'linger.ms'?)"));
    run(args(&["produce", "-b", "127.0.0.1:1", "-t", "t", "-X", "enable.idempotence=true", "-X", "acks=1"]), "")
        .await
        .failure()
        .stderr(predicate::str::contains("acks=all"));
    run(args(&["produce", "-t", "t"]), "")
        .await
        .failure()
        .stderr(predicate::str::contains("no brokers"));
    run(args(&["produce", "-F", "/nonexistent/p.properties", "-t", "t"]), "")
        .await
        .failure()
        .stderr(predicate::str::contains("/nonexistent/p.properties"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_count_that_was_not_applied_is_reported() {
    let c = MockCluster::builder().brokers(1).topic("old", 3).start().await.unwrap();
    let b = c.bootstrap_servers();
    run(args(&["produce", "-b", &b, "-t", "old", "--partitions", "5"]), "x\n")
        .await
        .success()
        .stderr(predicate::str::contains("topic old already exists with 3 partitions; --partitions 5 was not applied"));
    run(args(&["produce", "-b", &b, "-t", "fresh", "--partitions", "4"]), "x\n")
        .await
        .success()
        .stderr(predicate::str::contains("created topic fresh with 4 partitions"));
    assert!(c.partition_leader("fresh", 3).is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lines_without_the_key_separator_are_sent_whole_and_reported() {
    let c = MockCluster::builder().brokers(1).topic("t", 1).start().await.unwrap();
    let b = c.bootstrap_servers();
    run(args(&["produce", "-b", &b, "-t", "t", "-K", ":"]), "a:1\nno separator\nb:2\nnone here either\n")
        .await
        .success()
        .stderr(
            predicate::str::contains("warning: line 2 has no key separator ':'")
                .and(predicate::str::contains("2 lines had no key separator ':' and were sent with a null key (lines 2, 4)"))
                .and(predicate::str::contains("produced 4 records")),
        );
    assert_eq!(c.high_watermark("t", 0), Some(4), "nothing lost");
}
