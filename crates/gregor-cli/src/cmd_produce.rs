//! `gregor produce`: lines from stdin (optionally `key<SEP>value`) or synthetic records.
//!
//! The configuration is one [`ProducerConfig`], built in this order (later wins): the
//! `.properties` file of `-F`, then `-b`, `--acks`, `-z`, then every `-X key=value`. The admin
//! client that creates the topic connects with the same settings (TLS, SASL).

use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use gregor::config::ProducerConfig;
use gregor::{Admin, ErrorKind, NewTopic, Producer, ProducerRecord};
use tokio::io::AsyncBufReadExt;

use crate::connect::explain;

/// Arguments of `gregor produce`.
#[derive(clap::Args, Debug)]
pub struct ProduceArgs {
    /// bootstrap.servers: host:port[,host:port...] (may come from -F instead).
    #[arg(short = 'b', long = "bootstrap-servers", value_name = "HOSTS")]
    pub brokers: Option<String>,
    /// Producer config from a Java .properties file (security.protocol, ssl.*, sasl.*, acks,
    /// ...); -b, --acks, -z and -X override its keys.
    #[arg(short = 'F', long = "producer.config", visible_alias = "command-config", value_name = "FILE")]
    pub config_file: Option<PathBuf>,
    /// Topic to write to.
    #[arg(short = 't', long = "topic")]
    pub topic: String,
    /// Create the topic with this many partitions if it does not exist (default 1). An existing
    /// topic is never changed: a different count is reported, not applied.
    #[arg(long, value_name = "N")]
    pub partitions: Option<i32>,
    /// Split each input line at the first SEP into key and value. A line without SEP is sent
    /// whole as the value with a null key, and reported on stderr.
    #[arg(short = 'k', long = "key-separator", value_name = "SEP")]
    pub key_separator: Option<String>,
    /// compression.type (default none).
    #[arg(short = 'z', long, value_parser = ["none", "gzip", "snappy", "lz4", "zstd"])]
    pub compression: Option<String>,
    /// acks: 0, 1 or all (default all).
    #[arg(long, value_parser = ["0", "1", "all", "-1"])]
    pub acks: Option<String>,
    /// Send N synthetic records instead of reading stdin.
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// Value size of synthetic records, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 100)]
    pub size: usize,
    /// Any producer config key, e.g. -X linger.ms=20 (repeatable).
    #[arg(short = 'X', value_name = "KEY=VALUE")]
    pub config: Vec<String>,
}

/// Deliveries awaited at most this far behind the sends (bounds memory on huge inputs).
const MAX_OUTSTANDING: usize = 50_000;

/// The producer configuration of the command line: `-F` file, then the flags, then `-X`.
pub fn producer_config(args: &ProduceArgs) -> anyhow::Result<ProducerConfig> {
    let mut props: Vec<(String, String)> = Vec::new();
    if let Some(path) = &args.config_file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read producer config {}: {e}", path.display()))?;
        let file = gregor::config::parse_properties(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        props.extend(file);
    }
    if let Some(b) = &args.brokers {
        props.push(("bootstrap.servers".into(), b.clone()));
    }
    if let Some(a) = &args.acks {
        props.push(("acks".into(), a.clone()));
    }
    if let Some(z) = &args.compression {
        props.push(("compression.type".into(), z.clone()));
    }
    for kv in &args.config {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("-X expects key=value, got '{kv}'"))?;
        props.push((k.trim().to_string(), v.to_string()));
    }
    if !props.iter().any(|(k, _)| k.trim() == "bootstrap.servers") {
        anyhow::bail!("no brokers: give -b host:port or bootstrap.servers in the -F file");
    }
    ProducerConfig::from_map(props).map_err(|e| anyhow::anyhow!("{e}"))
}

/// Creates the topic if it is missing and says what happened on stderr: created (with how many
/// partitions), or already there — and if `--partitions` asked for another count, that it was
/// not applied.
async fn ensure_topic(admin: &Admin, args: &ProduceArgs, timeout: Duration, bootstrap: &str) -> anyhow::Result<()> {
    let wanted = args.partitions.unwrap_or(1);
    match admin.create_topics(&[NewTopic::new(&args.topic, wanted, -1)], false, timeout).await {
        Ok(()) => {
            eprintln!("created topic {} with {wanted} partition{}", args.topic, if wanted == 1 { "" } else { "s" });
            Ok(())
        }
        Err(e) if e.code() == Some(gregor::protocol_errors::KafkaCode::TOPIC_ALREADY_EXISTS.0) => {
            if let Some(n) = args.partitions {
                let have = admin.list_topics().await.map_err(|e| explain(e, bootstrap))?.get(&args.topic).copied();
                match have {
                    Some(have) if have as i32 != n => eprintln!(
                        "note: topic {} already exists with {have} partitions; --partitions {n} was not applied \
                         (gregor never changes an existing topic)",
                        args.topic
                    ),
                    _ => {}
                }
            }
            Ok(())
        }
        // Not allowed to create topics (no CREATE ACL) is not fatal: the topic may exist, which
        // the producer finds out from metadata.
        Err(e) if e.kind() == ErrorKind::Auth => {
            eprintln!("note: not allowed to create topic {} ({e}); producing to it as it is", args.topic);
            Ok(())
        }
        Err(e) => Err(explain(e, bootstrap)),
    }
}

/// Runs `gregor produce`.
pub async fn run(args: ProduceArgs) -> anyhow::Result<()> {
    let config = producer_config(&args)?;
    let bootstrap: String =
        config.net.bootstrap_servers.iter().map(|b| b.to_string()).collect::<Vec<_>>().join(",");
    let timeout = config.max_block;
    let admin = Admin::new(&config.net).map_err(|e| anyhow::anyhow!("{e}"))?;
    let created = ensure_topic(&admin, &args, timeout, &bootstrap).await;
    admin.close(Duration::from_secs(5)).await;
    created?;

    let producer = Producer::new(config).map_err(|e| anyhow::anyhow!("{e}"))?;
    let started = Instant::now();
    let progress = crate::progress::Progress::new();
    let (mut sent, mut bytes, mut failed) = (0u64, 0u64, 0u64);
    let mut first_error: Option<gregor::Error> = None;
    let mut pending = VecDeque::new();
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let payload = vec![b'x'; args.size];
    let mut line_no = 0u64;
    let mut unsplit = Unsplit::default();
    loop {
        let record = match args.count {
            Some(n) if sent >= n => break,
            Some(_) => ProducerRecord::new(&args.topic)
                .key(format!("key-{sent}"))
                .value(payload.clone()),
            None => match lines.next_line().await? {
                None => break,
                Some(line) => {
                    line_no += 1;
                    match args.key_separator.as_deref() {
                        None => ProducerRecord::new(&args.topic).value(line),
                        Some(sep) => match line.split_once(sep) {
                            Some((k, v)) => ProducerRecord::new(&args.topic).key(k.to_string()).value(v.to_string()),
                            None => {
                                unsplit.note(line_no, sep);
                                ProducerRecord::new(&args.topic).value(line)
                            }
                        },
                    }
                }
            },
        };
        bytes += (record.key.as_ref().map_or(0, |k| k.len()) + record.value.as_ref().map_or(0, |v| v.len())) as u64;
        let fut = producer.send(record).await.map_err(|e| explain(e, &bootstrap))?;
        pending.push_back(fut);
        sent += 1;
        while pending.len() > MAX_OUTSTANDING {
            if let Some(f) = pending.pop_front() {
                if let Err(e) = f.await {
                    failed += 1;
                    first_error.get_or_insert(e);
                }
            }
        }
        if let Some(p) = &progress {
            p.update(sent, bytes, started, None);
        }
    }
    producer.flush().await;
    for f in pending {
        if let Err(e) = f.await {
            failed += 1;
            first_error.get_or_insert(e);
        }
    }
    let _ = producer.close(Duration::from_secs(30)).await;
    if let Some(p) = &progress {
        p.finish();
    }
    unsplit.summary(args.key_separator.as_deref().unwrap_or_default());
    let secs = started.elapsed().as_secs_f64().max(1e-3);
    eprintln!(
        "produced {} records ({:.1} MB) to {} in {:.2}s: {:.0} records/s, {:.1} MB/s; {failed} failed",
        sent - failed,
        bytes as f64 / 1e6,
        args.topic,
        secs,
        (sent - failed) as f64 / secs,
        bytes as f64 / 1e6 / secs
    );
    match first_error {
        Some(e) => Err(explain(e, &bootstrap)),
        None => Ok(()),
    }
}

/// Lines that had no key separator: each is sent whole as the value with a null key (kcat's
/// behaviour, so nothing is lost), and reported — the first at once, all in a summary.
#[derive(Default)]
struct Unsplit {
    count: u64,
    first: Vec<u64>,
}

impl Unsplit {
    const SHOWN: usize = 10;

    fn note(&mut self, line: u64, sep: &str) {
        if self.count == 0 {
            eprintln!("warning: line {line} has no key separator '{sep}': sent whole as the value with a null key");
        }
        self.count += 1;
        if self.first.len() < Self::SHOWN {
            self.first.push(line);
        }
    }

    fn summary(&self, sep: &str) {
        if self.count == 0 {
            return;
        }
        let list: Vec<String> = self.first.iter().map(u64::to_string).collect();
        let more = if self.count as usize > self.first.len() { ", ..." } else { "" };
        eprintln!(
            "warning: {} line{} had no key separator '{sep}' and {} sent with a null key (line{} {}{more})",
            self.count,
            if self.count == 1 { "" } else { "s" },
            if self.count == 1 { "was" } else { "were" },
            if self.count == 1 { "" } else { "s" },
            list.join(", ")
        );
    }
}
