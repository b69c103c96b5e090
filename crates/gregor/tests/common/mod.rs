//! What several test binaries need: gregor's log in the test output, an in-memory log capture,
//! the real cluster of `scripts/test.sh`, and reading assigned partitions to their end.
//!
//! Each test binary that says `mod common;` compiles its own copy and uses a part of it, hence
//! the `dead_code` allowance.
#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use gregor::{Consumer, ConsumerRecord, Producer, TopicPartition};

/// gregor's log in the test's output (printed by the harness for a failing test): `RUST_LOG`,
/// else `default` (e.g. "warn").
pub fn init_tracing(default: &str) {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default)),
        )
        .with_test_writer()
        .try_init();
}

/// A `tracing` writer that keeps everything in memory.
#[derive(Clone, Default)]
pub struct LogCapture(Arc<Mutex<Vec<u8>>>);

impl LogCapture {
    /// Everything logged so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// Forgets what was logged so far.
    pub fn clear(&self) {
        self.0.lock().unwrap().clear();
    }
}

impl Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Every test of the binary logs at TRACE into one in-memory capture. It is a global subscriber
/// because a scoped one races with tracing's callsite-interest cache when tests run in parallel.
pub fn log_capture() -> &'static LogCapture {
    static CAPTURE: OnceLock<LogCapture> = OnceLock::new();
    CAPTURE.get_or_init(|| {
        let capture = LogCapture::default();
        let sink = capture.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || sink.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
        capture
    })
}

/// The real cluster's bootstrap servers (`GREGOR_KAFKA_BOOTSTRAP`, set by `run_with`, the
/// script named), or None, after saying the test was skipped.
pub fn kafka_bootstrap(run_with: &str) -> Option<String> {
    match std::env::var("GREGOR_KAFKA_BOOTSTRAP") {
        Ok(b) if !b.is_empty() => Some(b),
        _ => {
            eprintln!("skipped: GREGOR_KAFKA_BOOTSTRAP is not set (run {run_with})");
            None
        }
    }
}

/// The repository's root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs `scripts/kafka-cluster.sh` with `args` (the cluster of this test run, by the
/// environment it inherits) and returns its standard output; a failure fails the test.
pub fn cluster_script(args: &[&str]) -> String {
    let out = Command::new("bash")
        .arg(repo().join("scripts/kafka-cluster.sh"))
        .args(args)
        .output()
        .expect("run kafka-cluster.sh");
    assert!(
        out.status.success(),
        "kafka-cluster.sh {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `name` with the current time in milliseconds: topics and groups of a real cluster that
/// outlives the test run must not collide with an earlier run's.
pub fn unique(name: &str) -> String {
    let n = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis();
    format!("{name}-{n}")
}

/// Polls until `want` records arrived (possibly more); fails after `wait`.
pub async fn poll_until(c: &Consumer, want: usize, wait: Duration) -> Vec<ConsumerRecord> {
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + wait;
    while got.len() < want {
        assert!(tokio::time::Instant::now() < deadline, "only {} of {want} records arrived", got.len());
        got.extend(c.poll(Duration::from_millis(200)).await.expect("poll"));
    }
    got
}

/// Reads `c`'s assigned partitions `tps`, from their current positions, until every position
/// reaches the end offset it had when this started; fails after `wait`. A retriable error of a
/// poll is retried: right after a broker restart a partition may answer, e.g., with a leader
/// epoch the broker has not caught up with.
pub async fn read_to_end(c: &Consumer, tps: &[TopicPartition], wait: Duration) -> Vec<ConsumerRecord> {
    let end = c.end_offsets(tps).await.expect("end offsets");
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let mut done = true;
        for tp in tps {
            if c.position(tp).await.expect("position") < end[tp] {
                done = false;
            }
        }
        if done {
            return out;
        }
        assert!(tokio::time::Instant::now() < deadline, "read back in time ({} records so far)", out.len());
        match c.poll(Duration::from_millis(200)).await {
            Ok(records) => out.extend(records),
            Err(e) if e.is_retriable() => eprintln!("poll: {e} (retrying)"),
            Err(e) => panic!("poll: {e}"),
        }
    }
}

/// A transactional producer (`transactional.id`) of the cluster at `bootstrap`, waiting up to
/// `max_block` for metadata and buffer room.
pub fn transactional_producer(bootstrap: &str, txn_id: &str, max_block: Duration) -> Producer {
    let max_block = max_block.as_millis().to_string();
    Producer::from_properties([
        ("bootstrap.servers", bootstrap),
        ("transactional.id", txn_id),
        ("max.block.ms", max_block.as_str()),
    ])
    .unwrap()
}

/// The values of partitions `0..partitions` of `topic` as a consumer with `isolation`
/// (`read_committed` / `read_uncommitted`) reads them from the beginning up to the end offsets
/// it sees (the last stable offset for `read_committed`), sorted.
pub async fn read_values(bootstrap: &str, topic: &str, partitions: i32, isolation: &str, wait: Duration) -> Vec<String> {
    let c = Consumer::from_properties([("bootstrap.servers", bootstrap), ("isolation.level", isolation)]).unwrap();
    let tps: Vec<TopicPartition> = (0..partitions).map(|p| TopicPartition::new(topic, p)).collect();
    c.assign(tps.clone()).unwrap();
    c.seek_to_beginning(&[]).unwrap();
    let mut out: Vec<String> =
        read_to_end(&c, &tps, wait).await.iter().map(|r| r.value_str().unwrap_or_default().to_string()).collect();
    c.close(wait).await;
    out.sort();
    out
}
