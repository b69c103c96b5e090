//! `gregor metadata`, `offsets` and `groups` against the embedded mock (kcat -L/-Q where kcat
//! is installed), and against real Kafka when `GREGOR_KAFKA_BOOTSTRAP` is set (scripts/test.sh).

use std::process::{Command, Output};
use std::time::Duration;

use gregor_mock::MockCluster;

fn gregor() -> std::path::PathBuf {
    assert_cmd::cargo::cargo_bin("gregor")
}

fn kcat() -> Option<String> {
    if let Ok(k) = std::env::var("GREGOR_KCAT") {
        return Some(k);
    }
    Command::new("kcat").arg("-V").output().is_ok_and(|o| o.status.success()).then(|| "kcat".to_string())
}

async fn run(program: impl AsRef<std::ffi::OsStr>, args: Vec<String>) -> Output {
    let program = program.as_ref().to_owned();
    tokio::task::spawn_blocking(move || Command::new(program).args(args).output().unwrap()).await.unwrap()
}

fn s(list: &[&str]) -> Vec<String> {
    list.iter().map(|x| x.to_string()).collect()
}

fn ok(o: &Output) -> String {
    assert!(o.status.success(), "failed: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

async fn g(args: &[&str]) -> Output {
    run(gregor(), s(args)).await
}

async fn cluster() -> MockCluster {
    let c = MockCluster::builder()
        .brokers(3)
        .replication_factor(2)
        .racks(&["r0", "r1", "r2"])
        .topic("orders", 3)
        .start()
        .await
        .unwrap();
    for p in 0..3 {
        let recs: Vec<(String, String)> = (0..(p + 2)).map(|i| (format!("k{i}"), format!("v{p}-{i}"))).collect();
        c.append_records("orders", p, &recs).unwrap();
    }
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_lists_brokers_racks_controller_and_replicas() {
    let c = cluster().await;
    let b = c.bootstrap_servers();
    let text = ok(&g(&["metadata", "-b", &b]).await);
    assert!(text.starts_with("Metadata for all topics (cluster "), "{text}");
    assert!(text.contains(" 3 brokers:\n"), "{text}");
    assert!(text.contains("  broker 1 at 127.0.0.1:") && text.contains(" rack r1\n"), "{text}");
    assert_eq!(text.matches("(controller)").count(), 1, "{text}");
    assert!(text.contains("  topic \"orders\" with 3 partitions:\n"), "{text}");
    for p in 0..3 {
        let replicas = c.partition_replicas("orders", p).unwrap();
        let ids: Vec<String> = replicas.iter().map(|r| r.to_string()).collect();
        let line = format!(
            "    partition {p}, leader {}, replicas: {}, isrs: {}\n",
            c.partition_leader("orders", p).unwrap(),
            ids.join(","),
            ids.join(",")
        );
        assert!(text.contains(&line), "{line} in {text}");
    }
    let one = ok(&g(&["metadata", "-b", &b, "-t", "orders", "-J"]).await);
    let v: serde_json::Value = serde_json::from_str(&one).unwrap();
    assert_eq!(v["query"]["topic"], "orders");
    assert_eq!(v["brokers"].as_array().unwrap().len(), 3);
    assert_eq!(v["brokers"][2]["rack"], "r2");
    assert_eq!(v["topics"][0]["partitions"].as_array().unwrap().len(), 3);
    assert_eq!(v["topics"][0]["partitions"][0]["replicas"].as_array().unwrap().len(), 2);
    let missing = ok(&g(&["metadata", "-b", &b, "-t", "nope"]).await);
    assert!(missing.contains("topic \"nope\" with 0 partitions: UNKNOWN_TOPIC_OR_PARTITION"), "{missing}");
    // kcat -L shows the same brokers and partition lines (its first line names the broker
    // that answered instead of the cluster id).
    if let Some(k) = kcat() {
        let kl = String::from_utf8_lossy(&run(&k, s(&["-L", "-b", &b, "-t", "orders"])).await.stdout).into_owned();
        let mine = ok(&g(&["metadata", "-b", &b, "-t", "orders"]).await);
        let strip = |t: &str| t.lines().skip(1).map(|l| l.split(" rack ").next().unwrap().to_string()).collect::<Vec<_>>();
        assert_eq!(strip(&mine), strip(&kl), "kcat:\n{kl}\ngregor:\n{mine}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_earliest_latest_and_by_time_like_kcat_q() {
    let c = cluster().await;
    let b = c.bootstrap_servers();
    let text = ok(&g(&["offsets", "-b", &b, "-t", "orders"]).await);
    assert_eq!(text, "orders [0] earliest 0 latest 2\norders [1] earliest 0 latest 3\norders [2] earliest 0 latest 4\n");
    let p = ok(&g(&["offsets", "-b", &b, "-t", "orders", "-p", "2", "--time", "latest"]).await);
    assert_eq!(p, "orders [2] offset 4\n");
    let args = ["-t", "orders:0:-2", "-t", "orders:1:-1", "-t", "orders:2:0"];
    let mut q = s(&["offsets", "-b", &b]);
    q.extend(s(&args));
    let mine = ok(&run(gregor(), q.clone()).await);
    assert_eq!(mine, "orders [0] offset 0\norders [1] offset 3\norders [2] offset 0\n");
    q.push("-J".into());
    let json = ok(&run(gregor(), q).await);
    assert_eq!(
        json,
        r#"{"orders":{"topic":"orders","0":{"partition":0,"offset":0},"1":{"partition":1,"offset":3},"2":{"partition":2,"offset":0}}}"#
    );
    if let Some(k) = kcat() {
        let mut ka = s(&["-Q", "-b", &b]);
        ka.extend(s(&args));
        assert_eq!(String::from_utf8_lossy(&run(&k, ka.clone()).await.stdout), mine, "kcat -Q");
        ka.push("-J".into());
        assert_eq!(String::from_utf8_lossy(&run(&k, ka).await.stdout), json, "kcat -Q -J");
    }
    let future = ok(&g(&["offsets", "-b", &b, "-t", "orders:0:99999999999999"]).await);
    assert_eq!(future, "orders [0] offset -1\n", "no record that recent");
    let bad = g(&["offsets", "-b", &b, "-t", "orders:9:0"]).await;
    assert!(String::from_utf8_lossy(&bad.stderr).contains("partition 9 does not exist"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_list_describe_reset_delete() {
    let c = cluster().await;
    let b = c.bootstrap_servers();
    // A classic group that read 3 records of partition 2 (of 4), then left.
    ok(&g(&["consume", "-b", &b, "-g", "app", "-o", "beginning", "-c", "3", "-q", "orders"]).await);
    assert_eq!((0..3).filter_map(|p| c.committed_offset("app", "orders", p)).sum::<i64>(), 3, "-c 3 commits 3 records");
    let list = ok(&g(&["groups", "list", "-b", &b]).await);
    assert_eq!(list, "app\n");
    let d = ok(&g(&["groups", "describe", "-b", &b, "app", "-J"]).await);
    let v: serde_json::Value = serde_json::from_str(&d).unwrap();
    assert_eq!(v["state"], "Empty");
    assert_eq!(v["protocol"], "classic");
    let lag: i64 = v["partitions"].as_array().unwrap().iter().filter_map(|p| p["lag"].as_i64()).sum();
    let committed: i64 = v["partitions"].as_array().unwrap().iter().filter_map(|p| p["committed_offset"].as_i64()).sum();
    assert_eq!(committed, 3);
    let ends: i64 = v["partitions"].as_array().unwrap().iter().filter(|p| p["committed_offset"].is_i64()).map(|p| p["end_offset"].as_i64().unwrap()).sum();
    assert_eq!(lag, ends - 3);
    let text = ok(&g(&["groups", "describe", "-b", &b, "app"]).await);
    assert!(text.contains("group app: state Empty, protocol classic") && text.contains("has no active members"), "{text}");
    assert!(text.contains("CURRENT-OFFSET") && text.contains("LAG"), "{text}");

    // Dry run changes nothing; --execute commits.
    let dry = ok(&g(&["groups", "reset-offsets", "-b", &b, "app", "-t", "orders", "--to-latest"]).await);
    assert!(dry.contains("app   orders         2          4") && dry.contains("(dry run"), "{dry}");
    assert_eq!((0..3).filter_map(|p| c.committed_offset("app", "orders", p)).sum::<i64>(), 3);
    ok(&g(&["groups", "reset-offsets", "-b", &b, "app", "-t", "orders", "--to-latest", "--execute"]).await);
    assert_eq!((0..3).map(|p| c.committed_offset("app", "orders", p).unwrap()).collect::<Vec<_>>(), [2, 3, 4]);
    ok(&g(&["groups", "reset-offsets", "-b", &b, "app", "--all-topics", "--shift-by", "-1", "--execute"]).await);
    assert_eq!((0..3).map(|p| c.committed_offset("app", "orders", p).unwrap()).collect::<Vec<_>>(), [1, 2, 3]);
    ok(&g(&["groups", "reset-offsets", "-b", &b, "app", "-t", "orders:1", "--to-offset", "99", "--execute"]).await);
    assert_eq!(c.committed_offset("app", "orders", 1), Some(3), "clamped to the end");
    ok(&g(&["groups", "reset-offsets", "-b", &b, "app", "-t", "orders", "--to-earliest", "--execute"]).await);
    assert_eq!((0..3).map(|p| c.committed_offset("app", "orders", p).unwrap()).collect::<Vec<_>>(), [0, 0, 0]);
    ok(&g(&["groups", "reset-offsets", "-b", &b, "app", "-t", "orders", "--to-datetime", "2100-01-01T00:00:00Z", "--execute"]).await);
    assert_eq!((0..3).map(|p| c.committed_offset("app", "orders", p).unwrap()).collect::<Vec<_>>(), [2, 3, 4]);

    // While a member is active: refused, and delete too.
    let mut member = std::process::Command::new(gregor())
        .args(["consume", "-b", &b, "-g", "app", "-q", "--format", "none", "orders"])
        .spawn()
        .unwrap();
    c.wait_for(|c| c.group("app").is_some_and(|g| g.members.len() == 1 && g.state == "Stable"), Duration::from_secs(30))
        .await
        .expect("the member joins");
    let refused = g(&["groups", "reset-offsets", "-b", &b, "app", "-t", "orders", "--to-earliest", "--execute"]).await;
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("group app has 1 active member(s)"));
    let d = ok(&g(&["groups", "describe", "-b", &b, "app"]).await);
    assert!(d.contains("state Stable") && d.contains("MEMBER-ID") && d.contains("orders-0,orders-1,orders-2"), "{d}");
    let del = g(&["groups", "delete", "-b", &b, "app"]).await;
    assert!(String::from_utf8_lossy(&del.stderr).contains("NON_EMPTY_GROUP"), "{}", String::from_utf8_lossy(&del.stderr));
    member.kill().unwrap();
    member.wait().unwrap();
    // The killed member is still in the group until its session times out; a fresh group
    // shows deletion.
    ok(&g(&["consume", "-b", &b, "-g", "gone", "-c", "1", "-q", "-o", "beginning", "orders"]).await);
    let out = ok(&g(&["groups", "delete", "-b", &b, "gone"]).await);
    assert_eq!(out, "Deletion of requested consumer group 'gone' was successful.\n");
    assert!(c.committed_offset("gone", "orders", 0).is_none() && c.committed_offset("gone", "orders", 1).is_none());
    let again = g(&["groups", "delete", "-b", &b, "gone"]).await;
    assert!(String::from_utf8_lossy(&again.stderr).contains("GROUP_ID_NOT_FOUND"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_protocol_group_is_described_through_kip848() {
    let c = cluster().await;
    let b = c.bootstrap_servers();
    let mut member = std::process::Command::new(gregor())
        .args(["consume", "-b", &b, "-g", "new", "-X", "group.protocol=consumer", "-q", "--format", "none", "orders"])
        .spawn()
        .unwrap();
    // The member owns its whole assignment (the mock's view) before the describe.
    c.wait_for(
        |c| c.consumer_group("new").is_some_and(|g| g.members.len() == 1 && g.members[0].assigned.len() == 3),
        Duration::from_secs(30),
    )
    .await
    .expect("the member joins and owns every partition");
    let list = ok(&g(&["groups", "list", "-b", &b, "--state"]).await);
    assert!(list.contains("new   consumer  Stable"), "{list}");
    let d = ok(&g(&["groups", "describe", "-b", &b, "new"]).await);
    assert!(d.contains("protocol consumer"), "{d}");
    assert!(d.contains("orders-0,orders-1,orders-2"), "{d}");
    member.kill().unwrap();
    member.wait().unwrap();
}

/// Against real Kafka (scripts/test.sh sets GREGOR_KAFKA_BOOTSTRAP): metadata shows the three
/// brokers, offsets and a group's lag and reset work end to end.
#[test]
fn real_kafka_metadata_offsets_groups() {
    let Ok(b) = std::env::var("GREGOR_KAFKA_BOOTSTRAP") else {
        eprintln!("skipped: GREGOR_KAFKA_BOOTSTRAP is not set (run scripts/test.sh)");
        return;
    };
    let n = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis();
    let topic = format!("cli-inspect-{n}");
    let group = format!("cli-inspect-g-{n}");
    let sh = |args: &[&str]| Command::new(gregor()).args(args).output().unwrap();
    let produced = sh(&["produce", "-b", &b, "-t", &topic, "--partitions", "3", "--count", "30", "--size", "10"]);
    assert!(produced.status.success(), "{}", String::from_utf8_lossy(&produced.stderr));
    let md = ok(&sh(&["metadata", "-b", &b, "-t", &topic]));
    assert!(md.contains(" 3 brokers:") && md.contains(&format!("topic \"{topic}\" with 3 partitions:")), "{md}");
    let offs = ok(&sh(&["offsets", "-b", &b, "-t", &topic]));
    let latest: i64 = offs.lines().map(|l| l.rsplit(' ').next().unwrap().parse::<i64>().unwrap()).sum();
    assert_eq!(latest, 30, "{offs}");
    ok(&sh(&["consume", "-b", &b, "-g", &group, "-o", "beginning", "-c", "10", "-q", "--format", "none", &topic]));
    let d: serde_json::Value = serde_json::from_str(&ok(&sh(&["groups", "describe", "-b", &b, &group, "-J"]))).unwrap();
    let lag: i64 = d["partitions"].as_array().unwrap().iter().filter_map(|p| p["lag"].as_i64()).sum();
    let committed: i64 = d["partitions"].as_array().unwrap().iter().filter_map(|p| p["committed_offset"].as_i64()).sum();
    assert_eq!(committed, 10, "{d}");
    // Only partitions with a commit (or a member) are listed, as kafka-consumer-groups does.
    let ends: i64 = d["partitions"].as_array().unwrap().iter().filter_map(|p| p["end_offset"].as_i64()).sum();
    assert_eq!(lag, ends - 10, "{d}");
    assert!(ok(&sh(&["groups", "list", "-b", &b])).lines().any(|l| l == group));
    ok(&sh(&["groups", "reset-offsets", "-b", &b, &group, "-t", &topic, "--to-latest", "--execute"]));
    let d: serde_json::Value = serde_json::from_str(&ok(&sh(&["groups", "describe", "-b", &b, &group, "-J"]))).unwrap();
    let lag: i64 = d["partitions"].as_array().unwrap().iter().filter_map(|p| p["lag"].as_i64()).sum();
    let committed: i64 = d["partitions"].as_array().unwrap().iter().filter_map(|p| p["committed_offset"].as_i64()).sum();
    assert_eq!((lag, committed), (0, 30), "every partition of the topic at its end: {d}");
    ok(&sh(&["groups", "delete", "-b", &b, &group]));
    assert!(!ok(&sh(&["groups", "list", "-b", &b])).lines().any(|l| l == group));
}

/// Real Kafka's TLS listener (GREGOR_KAFKA_SASL_BOOTSTRAP, SASL_SSL) reached in plaintext, and
/// its plaintext listener reached with TLS: one line naming the mismatch, without retrying.
#[test]
fn real_kafka_wrong_security_protocol_is_named() {
    let (Ok(plain), Ok(tls)) = (std::env::var("GREGOR_KAFKA_BOOTSTRAP"), std::env::var("GREGOR_KAFKA_SASL_BOOTSTRAP")) else {
        eprintln!("skipped: GREGOR_KAFKA_BOOTSTRAP / GREGOR_KAFKA_SASL_BOOTSTRAP are not set (run scripts/test.sh)");
        return;
    };
    let first = |list: &str| list.split(',').next().unwrap().to_string();
    let started = std::time::Instant::now();
    let out = Command::new(gregor()).args(["metadata", "-b", &first(&tls), "-X", "default.api.timeout.ms=600000"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("security.protocol=SSL") || err.contains("SSL listener"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    let out = Command::new(gregor())
        .args(["metadata", "-b", &first(&plain), "-X", "security.protocol=SSL", "-X", "default.api.timeout.ms=600000"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("PLAINTEXT listener"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    // Not a retry loop that ends with the last error when the API timeout fires: the answer came
    // before the (10-minute) timeout could, however loaded the machine.
    assert!(started.elapsed() < Duration::from_secs(600), "a retry loop until the timeout: {:?}", started.elapsed());
}
