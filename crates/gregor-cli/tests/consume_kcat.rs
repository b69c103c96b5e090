//! `gregor consume` with kcat's flags against the embedded mock: every flag, byte-exact
//! expectations, and — where kcat is installed (scripts/setup-kcat.sh; `GREGOR_KCAT` names
//! another binary) — kcat itself run on the same data with the same flags, byte for byte.

use std::process::{Command, Output};
use std::time::Duration;

use bytes::Bytes;
use gregor::{Producer, ProducerConfig, ProducerRecord};
use gregor_mock::MockCluster;

fn gregor() -> std::path::PathBuf {
    assert_cmd::cargo::cargo_bin("gregor")
}

/// kcat's path, if it is installed.
fn kcat() -> Option<String> {
    if let Ok(k) = std::env::var("GREGOR_KCAT") {
        return Some(k);
    }
    let ok = Command::new("kcat").arg("-V").output().is_ok_and(|o| o.status.success());
    ok.then(|| "kcat".to_string())
}

/// Runs a command off the runtime's threads (the mock keeps serving meanwhile).
async fn run(program: impl AsRef<std::ffi::OsStr>, args: Vec<String>) -> Output {
    let program = program.as_ref().to_owned();
    tokio::task::spawn_blocking(move || Command::new(program).args(args).output().unwrap()).await.unwrap()
}

fn s(list: &[&str]) -> Vec<String> {
    list.iter().map(|x| x.to_string()).collect()
}

/// Topic `k` (1 partition) with 6 records at timestamps 1000..6000 covering null, empty and
/// binary keys and values and headers; topic `m` (3 partitions) with 2 records each.
async fn cluster() -> MockCluster {
    let c = MockCluster::builder().brokers(1).topic("k", 1).topic("m", 3).start().await.unwrap();
    let cfg = ProducerConfig::from_map([("bootstrap.servers", c.bootstrap_servers().as_str()), ("linger.ms", "0")]).unwrap();
    let p = Producer::new(cfg).unwrap();
    let recs = vec![
        ProducerRecord::new("k").key("k0").value("v0").header("h1", Some(Bytes::from_static(b"a"))),
        ProducerRecord::new("k").value("no key").header("h1", None).header("h2", Some(Bytes::new())),
        ProducerRecord::new("k").key(""),
        ProducerRecord::new("k").key("k3").value(Bytes::from_static(b"\x01\"\\\n\xff")),
        ProducerRecord::new("k").key("k4").value("tab\there"),
        ProducerRecord::new("k").key("k5").value("last"),
    ];
    let mut futs = Vec::new();
    for (i, r) in recs.into_iter().enumerate() {
        futs.push(p.send(r.partition(0).timestamp(1000 * (i as i64 + 1))).await.unwrap());
    }
    for part in 0..3 {
        for i in 0..2 {
            let r = ProducerRecord::new("m").partition(part).key(format!("m{part}")).value(format!("{part}-{i}"));
            futs.push(p.send(r.timestamp(10_000)).await.unwrap());
        }
    }
    for f in futs {
        f.await.unwrap();
    }
    p.close(Duration::from_secs(10)).await.unwrap();
    c
}

/// `gregor consume -b B <args>`; with kcat installed, also `kcat -C -b B <args>`, and the two
/// stdouts must be equal.
async fn both(c: &MockCluster, args: &[&str]) -> Vec<u8> {
    let b = c.bootstrap_servers();
    let mut ga = s(&["consume", "-b", &b]);
    ga.extend(s(args));
    let g = run(gregor(), ga).await;
    assert!(g.status.success(), "gregor {args:?}: {}", String::from_utf8_lossy(&g.stderr));
    if let Some(k) = kcat() {
        let mut ka = s(&["-C", "-b", &b]);
        ka.extend(s(args));
        let out = run(&k, ka).await;
        assert!(out.status.success(), "kcat {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(
            String::from_utf8_lossy(&g.stdout),
            String::from_utf8_lossy(&out.stdout),
            "gregor and kcat differ for {args:?}"
        );
        assert_eq!(g.stdout, out.stdout, "gregor and kcat differ (bytes) for {args:?}");
    } else {
        eprintln!("kcat not installed (scripts/setup-kcat.sh): checked against fixed expectations only");
    }
    g.stdout
}

fn lines(b: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(b).lines().map(str::to_string).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_output_is_values_from_the_beginning() {
    let c = cluster().await;
    let out = both(&c, &["-t", "k", "-e"]).await;
    assert_eq!(out, b"v0\nno key\n\n\x01\"\\\n\xff\ntab\there\nlast\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn format_string_every_token() {
    let c = cluster().await;
    let out = both(&c, &["-t", "k", "-e", "-f", r"%t|%p|%o|%k|%K|%S|%T|%h|%%\n"]).await;
    assert_eq!(
        lines(&out),
        [
            "k|0|0|k0|2|2|1000|h1=a|%",
            "k|0|1||-1|6|2000|h1=NULL,h2=|%",
            "k|0|2||0|-1|3000||%",
            "k|0|3|k3|2|5|4000||%",
            "k|0|4|k4|2|8|5000||%",
            "k|0|5|k5|2|4|6000||%",
        ]
    );
    let esc = both(&c, &["-t", "k", "-p", "0", "-o", "5", "-e", "-f", r"%s\t\x41\0x42\101\r\n"]).await;
    assert_eq!(esc, b"last\tABe\r\n");
    let bin = both(&c, &["-t", "k", "-o", "2", "-c", "1", "-f", "%R"]).await;
    assert_eq!(bin, [0xff, 0xff, 0xff, 0xff], "-1 for a null value, big-endian");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_delimiter_record_delimiter_and_null() {
    let c = cluster().await;
    let out = both(&c, &["-t", "k", "-o", "-3", "-e", "-K", ":", "-D", r"\n--\n"]).await;
    assert_eq!(out, b"k3:\x01\"\\\n\xff\n--\nk4:tab\there\n--\nk5:last\n--\n");
    let z = both(&c, &["-t", "k", "-o", "1", "-c", "2", "-K", "=", "-Z"]).await;
    assert_eq!(z, b"NULL=no key\nNULL=NULL\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_envelope_is_kcats() {
    let c = cluster().await;
    let out = both(&c, &["-t", "k", "-c", "4", "-J"]).await;
    let l = lines(&out);
    assert_eq!(
        l[0],
        r#"{"topic":"k","partition":0,"offset":0,"tstype":"create","ts":1000,"broker":0,"headers":["h1","a"],"key":"k0","payload":"v0"}"#
    );
    assert_eq!(
        l[1],
        r#"{"topic":"k","partition":0,"offset":1,"tstype":"create","ts":2000,"broker":0,"headers":["h1",null,"h2",""],"key":null,"payload":"no key"}"#
    );
    assert_eq!(l[2], r#"{"topic":"k","partition":0,"offset":2,"tstype":"create","ts":3000,"broker":0,"key":"","payload":null}"#);
    assert!(out.ends_with(b"\"key\":\"k3\",\"payload\":\"\\u0001\\\"\\\\\\n\xff\"}\n"), "{}", String::from_utf8_lossy(&out));
    // gregor's own JSON stays as it was (base64 for bytes that are not UTF-8).
    let g = run(gregor(), s(&["consume", "-b", &c.bootstrap_servers(), "-t", "k", "-o", "3", "-c", "1", "--format", "json"])).await;
    let v: serde_json::Value = serde_json::from_slice(&g.stdout).unwrap();
    assert_eq!(v["value_encoding"], "base64");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_partitions_and_counts() {
    let c = cluster().await;
    assert_eq!(both(&c, &["-t", "k", "-o", "beginning", "-c", "1"]).await, b"v0\n");
    assert_eq!(both(&c, &["-t", "k", "-o", "end", "-e"]).await, b"");
    assert_eq!(both(&c, &["-t", "k", "-o", "4", "-e"]).await, b"tab\there\nlast\n");
    assert_eq!(both(&c, &["-t", "k", "-o", "-1", "-e"]).await, b"last\n");
    assert_eq!(both(&c, &["-t", "k", "-o", "-100", "-c", "1"]).await, b"v0\n", "tail beyond the start is the start");
    assert_eq!(both(&c, &["-t", "k", "-o", "s@4500", "-e"]).await, b"tab\there\nlast\n");
    assert_eq!(both(&c, &["-t", "k", "-o", "s@99999", "-e"]).await, b"", "after the last record: the end");
    assert_eq!(both(&c, &["-t", "m", "-p", "1", "-e", "-K", " "]).await, b"m1 1-0\nm1 1-1\n");
    // Several partitions: every record once (their interleaving is the fetcher's, not kcat's).
    let mut all = lines(&both_sorted(&c, &["-t", "m", "-e"]).await);
    all.sort();
    assert_eq!(all, ["0-0", "0-1", "1-0", "1-1", "2-0", "2-1"]);
}

/// Like `both`, for output whose order across partitions may differ: compares sorted lines.
async fn both_sorted(c: &MockCluster, args: &[&str]) -> Vec<u8> {
    let b = c.bootstrap_servers();
    let mut ga = s(&["consume", "-b", &b]);
    ga.extend(s(args));
    let g = run(gregor(), ga).await;
    assert!(g.status.success(), "{}", String::from_utf8_lossy(&g.stderr));
    if let Some(k) = kcat() {
        let mut ka = s(&["-C", "-b", &b]);
        ka.extend(s(args));
        let out = run(&k, ka).await;
        let (mut x, mut y) = (lines(&g.stdout), lines(&out.stdout));
        x.sort();
        y.sort();
        assert_eq!(x, y, "gregor and kcat differ for {args:?}");
    }
    g.stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_at_end_reports_like_kcat_and_quiet_silences_it() {
    let c = cluster().await;
    let b = c.bootstrap_servers();
    let out = run(gregor(), s(&["consume", "-b", &b, "-t", "k", "-e"])).await;
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stderr), "% Reached end of topic k [0] at offset 6: exiting\n");
    let q = run(gregor(), s(&["consume", "-b", &b, "-t", "k", "-e", "-q"])).await;
    assert!(q.status.success());
    assert_eq!(q.stderr, b"", "-q prints nothing on stderr");
    assert_eq!(lines(&q.stdout).len(), 7, "the binary value holds a newline");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verbose_and_debug_turn_on_logs() {
    let c = cluster().await;
    let b = c.bootstrap_servers();
    let quiet = run(gregor(), s(&["consume", "-b", &b, "-t", "k", "-c", "1"])).await;
    assert!(!String::from_utf8_lossy(&quiet.stderr).contains("DEBUG"));
    let d = run(gregor(), s(&["consume", "-b", &b, "-t", "k", "-c", "1", "-d", "metadata"])).await;
    let err = String::from_utf8_lossy(&d.stderr);
    assert!(err.contains("DEBUG") && err.contains("gregor::cluster") && err.contains("metadata received"), "{err}");
    assert!(!err.contains("gregor::net::manager"), "only the context asked for: {err}");
    let v = run(gregor(), s(&["consume", "-b", &b, "-t", "k", "-c", "1", "-vvv"])).await;
    assert!(String::from_utf8_lossy(&v.stderr).contains("gregor::net::manager"), "-vvv is debug everywhere");
    let bad = run(gregor(), s(&["consume", "-b", &b, "-t", "k", "-d", "nope"])).await;
    assert_eq!(String::from_utf8_lossy(&bad.stderr), "gregor: unknown -d context 'nope' (known: all, broker, connection, protocol, security, metadata, topic, consumer, cgrp, fetch, msg, producer, admin)\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_given_by_x_behaves_like_g() {
    let c = cluster().await;
    let b = c.bootstrap_servers();
    for (name, how) in [("by-g", vec!["-g", "by-g"]), ("by-x", vec!["-X", "group.id=by-x"]), ("by-gg", vec!["-G", "by-gg"])] {
        let mut a = s(&["consume", "-b", &b, "-t", "m", "-e", "-o", "beginning", "-q"]);
        a.extend(s(&how));
        let out = run(gregor(), a).await;
        assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(lines(&out.stdout).len(), 6, "{name}");
        for p in 0..3 {
            assert_eq!(c.committed_offset(name, "m", p), Some(2), "{name}: a group member commits what it read");
        }
    }
    // The group commits: a second run of the same group starts after them.
    let again = run(gregor(), s(&["consume", "-b", &b, "-t", "m", "-X", "group.id=by-x", "-e", "-q"])).await;
    assert_eq!(again.stdout, b"");
    let p = run(gregor(), s(&["consume", "-b", &b, "-t", "m", "-X", "group.id=g", "-p", "0"])).await;
    assert!(String::from_utf8_lossy(&p.stderr).contains("-p selects partitions without a group"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_applies_tail_and_timestamp_offsets_on_assignment() {
    let c = cluster().await;
    let b = c.bootstrap_servers();
    let out = run(gregor(), s(&["consume", "-b", &b, "-g", "tail", "-o", "-1", "-e", "-q", "k"])).await;
    assert_eq!(out.stdout, b"last\n", "{}", String::from_utf8_lossy(&out.stderr));
    let out = run(gregor(), s(&["consume", "-b", &b, "-g", "ts", "-o", "s@5000", "-e", "-q", "k"])).await;
    assert_eq!(out.stdout, b"tab\there\nlast\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regex_and_config_file() {
    let c = cluster().await;
    let b = c.bootstrap_servers();
    let dir = std::env::temp_dir().join(format!("gregor-consume-kcat-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("client.properties");
    std::fs::write(&f, format!("# comment\nbootstrap.servers={b}\nclient.id=from-file\n")).unwrap();
    let out = run(gregor(), s(&["consume", "-F", f.to_str().unwrap(), "--regex", "[km]", "-e", "-q"])).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(lines(&out.stdout).len(), 7 + 6);
    let g = run(gregor(), s(&["consume", "-F", f.to_str().unwrap(), "-g", "re", "--regex", "m", "-e", "-q", "-o", "beginning"])).await;
    assert!(g.status.success(), "{}", String::from_utf8_lossy(&g.stderr));
    assert_eq!(lines(&g.stdout).len(), 6);
    std::fs::write(&f, "bootstrap.servers\n=oops").unwrap();
    let bad = run(gregor(), s(&["consume", "-F", f.to_str().unwrap(), "-t", "k"])).await;
    assert!(!bad.status.success());
    assert_eq!(String::from_utf8_lossy(&bad.stderr).lines().count(), 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_flags_are_one_line_errors() {
    let c = cluster().await;
    let b = c.bootstrap_servers();
    for (args, want) in [
        (vec!["-t", "k", "-f", "%x"], "unsupported formatter %x"),
        (vec!["-t", "k", "-o", "begining"], "is not an offset"),
        (vec!["-t", "k", "-p", "7"], "topic k (with partitions 0..0): partition 7 does not exist"),
        (vec!["-t", "k", "-J", "--format", "json"], "cannot be used with"),
        (vec![], "no topic"),
    ] {
        let mut a = s(&["consume", "-b", &b]);
        a.extend(s(&args));
        let out = run(gregor(), a).await;
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}");
        assert!(err.contains(want), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    }
}

#[test]
fn a_host_without_port_means_9092() {
    let out = Command::new(gregor())
        .args(["consume", "-b", "127.0.0.1", "-t", "k", "-X", "default.api.timeout.ms=1500", "-X", "socket.connection.setup.timeout.ms=500"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    // Whatever answers on 9092 here (nothing, normally), the address used is port 9092.
    assert!(err.contains("127.0.0.1:9092"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}
