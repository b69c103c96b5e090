//! `gregor produce` with kcat's producer flags (-K, -k, -H, -p, -z, -l, -T, -D, -Z, -c)
//! against the embedded mock; where kcat is installed, kcat -P with the same flags and input
//! writes records that read back identically.

use std::io::Write;
use std::process::{Command, Output, Stdio};

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

/// Runs `program args` with `stdin`, off the runtime's threads.
async fn run(program: impl AsRef<std::ffi::OsStr>, args: Vec<String>, stdin: &[u8]) -> Output {
    let program = program.as_ref().to_owned();
    let input = stdin.to_vec();
    tokio::task::spawn_blocking(move || {
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(&input).unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap()
}

fn s(list: &[&str]) -> Vec<String> {
    list.iter().map(|x| x.to_string()).collect()
}

/// Every record of `topic` as `partition|key-length|key|value-length|value|headers` lines.
async fn read_back(b: &str, topic: &str) -> String {
    let out = run(gregor(), s(&["consume", "-b", b, "-t", topic, "-e", "-q", "-f", r"%p|%K|%k|%S|%s|%h\n"]), b"").await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `gregor produce -b B -t TOPIC <flags>` (and kcat -P to TOPIC-kcat), then the records read
/// back; with kcat installed both topics must hold the same records.
async fn produce_both(c: &MockCluster, topic: &str, flags: &[&str], input: &[u8]) -> (Output, String) {
    let b = c.bootstrap_servers();
    c.create_topic(topic, 2);
    let mut a = s(&["produce", "-b", &b, "-t", topic]);
    a.extend(s(flags));
    let out = run(gregor(), a, input).await;
    assert!(out.status.success(), "gregor produce {flags:?}: {}", String::from_utf8_lossy(&out.stderr));
    let mine = read_back(&b, topic).await;
    if let Some(k) = kcat() {
        let kt = format!("{topic}-kcat");
        c.create_topic(&kt, 2);
        let mut ka = s(&["-P", "-b", &b, "-t", &kt]);
        ka.extend(s(flags));
        let ko = run(&k, ka, input).await;
        assert!(ko.status.success(), "kcat -P {flags:?}: {}", String::from_utf8_lossy(&ko.stderr));
        assert_eq!(read_back(&b, &kt).await, mine, "kcat -P and gregor produce wrote different records for {flags:?}");
    }
    (out, mine)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_delimiter_headers_and_partition() {
    let c = MockCluster::builder().brokers(1).start().await.unwrap();
    let (_, got) = produce_both(&c, "kd", &["-K", ":", "-p", "1", "-H", "a=1", "-H", "b="], b"k1:v1\nk2:\n:v3\n").await;
    assert_eq!(got, "1|2|k1|2|v1|a=1,b=\n1|2|k2|0||a=1,b=\n1|0||2|v3|a=1,b=\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixed_key_delimiter_null_and_count() {
    let c = MockCluster::builder().brokers(1).start().await.unwrap();
    // Empty records are skipped; -c 3 stops after three.
    let (_, got) = produce_both(&c, "fk", &["-k", "K", "-p", "0", "-D", ";", "-c", "3"], b"a;;b;c;d").await;
    assert_eq!(got, "0|1|K|1|a|\n0|1|K|1|b|\n0|1|K|1|c|\n");
    // -K with -Z: empty key or value is null; -k is the key of records that have none.
    let (_, got) = produce_both(&c, "kz", &["-K", ":", "-Z", "-k", "FK", "-p", "0"], b"x:\n:y\nz\n").await;
    assert_eq!(got, "0|1|x|-1||\n0|2|FK|1|y|\n0|2|FK|1|z|\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_whole_or_by_line_and_tee() {
    let c = MockCluster::builder().brokers(1).start().await.unwrap();
    let dir = std::env::temp_dir().join(format!("gregor-produce-kcat-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f1 = dir.join("one.txt");
    let f2 = dir.join("two.bin");
    std::fs::write(&f1, "line 1\nline 2\n").unwrap();
    std::fs::write(&f2, [0u8, 1, 2, b'\n', 3]).unwrap();
    let (f1s, f2s) = (f1.to_str().unwrap(), f2.to_str().unwrap());
    let (_, whole) = produce_both(&c, "files", &["-p", "0", f1s, f2s], b"").await;
    assert_eq!(whole.lines().next(), Some("0|-1||14|line 1"), "{whole:?}");
    assert!(whole.contains("|5|\0\u{1}\u{2}\n\u{3}|"), "a file is one record, bytes as they are: {whole:?}");
    let (out, lines) = produce_both(&c, "lines", &["-p", "0", "-l", "-T", f1s], b"").await;
    assert_eq!(lines, "0|-1||6|line 1|\n0|-1||6|line 2|\n");
    assert_eq!(out.stdout, b"line 1\nline 2\n", "-T echoes what was sent");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compression_and_bad_flags() {
    let c = MockCluster::builder().brokers(1).start().await.unwrap();
    let (_, got) = produce_both(&c, "z", &["-z", "lz4", "-p", "0"], b"x\ny\n").await;
    assert_eq!(got, "0|-1||1|x|\n0|-1||1|y|\n");
    let b = c.bootstrap_servers();
    let bad = run(gregor(), s(&["produce", "-b", &b, "-t", "z", "-H", "novalue"]), b"").await;
    assert!(!bad.status.success());
    assert_eq!(String::from_utf8_lossy(&bad.stderr), "gregor: -H expects NAME=VALUE, got 'novalue'\n");
    let empty = run(gregor(), s(&["produce", "-b", &b, "-t", "z", "-D", r"\x00"]), b"").await;
    assert_eq!(String::from_utf8_lossy(&empty.stderr), "gregor: the record delimiter -D must not be empty\n");
}
