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

/// Real Kafka's SASL listeners (scripts/test.sh with KAFKA_SECURITY=1 sets GREGOR_KAFKA_SASL_*):
/// `gregor produce` configured only by a Java-style `.properties` file (SASL_SSL, SCRAM-SHA-512
/// through `sasl.jaas.config`, the CA as truststore, the serializer keys a Java application's
/// file carries) creates a topic and writes keyed lines, one of them without the separator; a
/// second run over SASL_PLAINTEXT with PLAIN from `-X` keys is told its `--partitions` was not
/// applied; `gregor consume` over SASL_SSL with SCRAM-SHA-256 reads back exactly what was sent.
#[test]
fn real_kafka_produce_over_sasl_ssl_and_sasl_plaintext_from_a_properties_file() {
    let (Ok(ssl), Ok(plain), Ok(ca)) = (
        std::env::var("GREGOR_KAFKA_SASL_BOOTSTRAP"),
        std::env::var("GREGOR_KAFKA_SASL_PLAINTEXT_BOOTSTRAP"),
        std::env::var("GREGOR_KAFKA_SSL_TRUSTSTORE"),
    ) else {
        eprintln!("skipped: GREGOR_KAFKA_SASL_* are not set (run scripts/test.sh)");
        return;
    };
    let user = std::env::var("GREGOR_KAFKA_SASL_USERNAME").unwrap_or_else(|_| "alice".into());
    let password = std::env::var("GREGOR_KAFKA_SASL_PASSWORD").unwrap_or_else(|_| "alice-secret".into());
    let n = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis();
    let topic = format!("cli-produce-sasl-{n}");
    let file = properties(
        &format!("sasl-ssl-{n}.properties"),
        &format!(
            "# as a Java application would write it\n\
             bootstrap.servers={ssl}\n\
             security.protocol=SASL_SSL\n\
             sasl.mechanism=SCRAM-SHA-512\n\
             sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \\\n  \
               username=\"{user}\" password=\"{password}\";\n\
             ssl.truststore.type=PEM\n\
             ssl.truststore.location={ca}\n\
             key.serializer=org.apache.kafka.common.serialization.StringSerializer\n\
             value.serializer=org.apache.kafka.common.serialization.StringSerializer\n\
             acks=all\n"
        ),
    );
    let gregor = || {
        let mut c = Command::cargo_bin("gregor").unwrap();
        c.timeout(Duration::from_secs(120));
        c
    };
    gregor()
        .args(["produce", "-F", file.to_str().unwrap(), "-t", &topic, "--partitions", "2", "-K", ":", "-p", "0"])
        .write_stdin("k1:v1\nnot split\nk2:v2\n")
        .assert()
        .success()
        .stderr(
            predicate::str::contains(format!("created topic {topic} with 2 partitions"))
                .and(predicate::str::contains("warning: line 2 has no key separator ':'"))
                .and(predicate::str::contains("produced 3 records"))
                .and(predicate::str::contains("; 0 failed")),
        );
    gregor()
        .args(["produce", "-b", &plain, "-t", &topic, "--partitions", "4", "-p", "0", "-z", "zstd"])
        .args(["-X", "security.protocol=SASL_PLAINTEXT", "-X", "sasl.mechanism=PLAIN"])
        .args(["-X", &format!("sasl.username={user}"), "-X", &format!("sasl.password={password}")])
        .write_stdin("over sasl_plaintext\n")
        .assert()
        .success()
        .stderr(
            predicate::str::contains(format!("topic {topic} already exists with 2 partitions; --partitions 4 was not applied"))
                .and(predicate::str::contains("produced 1 records")),
        );
    let out = gregor()
        .args(["consume", "-b", &ssl, "-t", &topic, "-p", "0", "-o", "beginning", "-c", "4", "-f", "%k=%s\\n"])
        .args(["-X", "security.protocol=SASL_SSL", "-X", "sasl.mechanism=SCRAM-SHA-256"])
        .args(["-X", &format!("sasl.username={user}"), "-X", &format!("sasl.password={password}")])
        .args(["-X", &format!("ssl.truststore.location={ca}")])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "k1=v1\n=not split\nk2=v2\n=over sasl_plaintext\n");
    // A wrong password is one clear authentication error, nothing written.
    gregor()
        .args(["produce", "-b", &plain, "-t", &topic, "-X", "security.protocol=SASL_PLAINTEXT"])
        .args(["-X", "sasl.mechanism=PLAIN", "-X", &format!("sasl.username={user}"), "-X", "sasl.password=wrong"])
        .args(["-X", "max.block.ms=20000"])
        .write_stdin("never\n")
        .assert()
        .failure()
        .stderr(predicate::str::contains("uthentication"));
}
