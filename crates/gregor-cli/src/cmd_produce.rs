//! `gregor produce` (kcat -P): records from stdin or files, delimited (`-D`, default a
//! newline), optionally `KEY<-K DELIM>VALUE`, with kcat's `-k`, `-H`, `-p`, `-z`, `-l`, `-T`,
//! `-Z`, `-c`; or synthetic records (`--count`, `--size`).
//!
//! The configuration is one [`ProducerConfig`], built in this order (later wins): the
//! `.properties` file of `-F`, then `-b`, `--acks`, `-z`, then every `-X key=value`. The admin
//! client that creates the topic connects with the same settings (TLS, SASL).

use std::collections::VecDeque;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use gregor::config::ProducerConfig;
use gregor::{Admin, ErrorKind, NewTopic, Producer, ProducerRecord};
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::connect::{explain, with_default_ports};

pub const EXAMPLES: &str = "\
Examples:
  echo hello | gregor produce -b localhost -t orders               # kcat -P -b localhost -t orders
  gregor produce -b localhost -t orders -K : < keyed.txt          # key:value lines (kcat -K :)
  gregor produce -b localhost -t orders -k user-42 -H source=cli -H trace=abc < lines.txt
  gregor produce -b localhost -t orders -p 2 -z zstd -l lines.txt # one record per line of a file
  gregor produce -b localhost -t blobs image.png doc.pdf          # one record per file
  gregor produce -b localhost -t orders --count 100000 --size 200 # synthetic load

Before 0.2 `-k` meant the key separator; it is kcat's fixed key now (the separator is -K).";

/// Arguments of `gregor produce`.
#[derive(clap::Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct ProduceArgs {
    /// bootstrap.servers: HOST[:PORT][,...] (port 9092 by default; may come from -F instead).
    #[arg(short = 'b', long = "bootstrap-servers", value_name = "HOSTS")]
    pub brokers: Option<String>,
    /// Producer config from a Java .properties file (security.protocol, ssl.*, sasl.*, acks,
    /// ...); -b, --acks, -z and -X override its keys.
    #[arg(short = 'F', long = "producer.config", visible_alias = "command-config", value_name = "FILE")]
    pub config_file: Option<PathBuf>,
    /// Topic to write to.
    #[arg(short = 't', long = "topic")]
    pub topic: String,
    /// Files to send: each whole file is one record, or with -l each line is one.
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Create the topic with this many partitions if it does not exist (default 1). An existing
    /// topic is never changed: a different count is reported, not applied.
    #[arg(long, value_name = "N")]
    pub partitions: Option<i32>,
    /// Split each record at the first DELIM into key and value (kcat -K). A record without
    /// DELIM is sent whole as the value with a null key, and reported on stderr.
    #[arg(short = 'K', long = "key-delimiter", value_name = "DELIM")]
    pub key_delimiter: Option<String>,
    /// The key of every record that has none (kcat -k): all of them, or with -K those without
    /// the delimiter or with an empty key under -Z.
    #[arg(short = 'k', long = "key", value_name = "KEY")]
    pub key: Option<String>,
    /// A header name=value on every record (kcat -H; repeatable, order kept).
    #[arg(short = 'H', long = "header", value_name = "NAME=VALUE")]
    pub headers: Vec<String>,
    /// Send every record to this partition (kcat -p); default: by key, or sticky.
    #[arg(short = 'p', long = "partition", value_name = "PARTITION")]
    pub partition: Option<i32>,
    /// Record delimiter of the input (kcat -D), default \n; \n \t \xHH are understood.
    #[arg(short = 'D', long = "delimiter", value_name = "DELIM")]
    pub delimiter: Option<String>,
    /// With FILEs: one record per delimited line instead of one per file (kcat -l).
    #[arg(short = 'l', long = "lines")]
    pub lines: bool,
    /// Echo every record sent to stdout followed by the delimiter, as tee (kcat -T, which
    /// leaves the delimiter out).
    #[arg(short = 'T', long = "tee")]
    pub tee: bool,
    /// With -K: an empty value is sent as null (a tombstone on compacted topics) and an
    /// empty key as null (kcat -Z).
    #[arg(short = 'Z', long = "null")]
    pub null: bool,
    /// Stop after this many records (kcat -c).
    #[arg(short = 'c', long = "max-messages", value_name = "N")]
    pub max_messages: Option<u64>,
    /// compression.type (kcat -z; default none).
    #[arg(short = 'z', long, value_parser = ["none", "gzip", "snappy", "lz4", "zstd"])]
    pub compression: Option<String>,
    /// acks: 0, 1 or all (default all).
    #[arg(long, value_parser = ["0", "1", "all", "-1"])]
    pub acks: Option<String>,
    /// Send N synthetic records instead of reading stdin.
    #[arg(long, value_name = "N", conflicts_with = "files")]
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
        // kafka-console-producer overrides the serializer classes of its producer.config with
        // ByteArraySerializer (ConsoleProducer's producerProps): the tool writes bytes as
        // read, so a file written for Java applications (StringSerializer) works unchanged.
        props.extend(file.into_iter().filter(|(k, _)| k != "key.serializer" && k != "value.serializer"));
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
    for (k, v) in props.iter_mut() {
        if k.trim() == "bootstrap.servers" {
            *v = with_default_ports(v);
        }
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

/// Splits an input into records at a delimiter (kcat's getdelim loop): a last record without
/// a trailing delimiter is still a record; the delimiter is not part of the record.
struct Splitter<R> {
    input: R,
    delim: Vec<u8>,
    buf: BytesMut,
    eof: bool,
}

impl<R: AsyncRead + Unpin> Splitter<R> {
    fn new(input: R, delim: Vec<u8>) -> Self {
        Splitter { input, delim, buf: BytesMut::with_capacity(64 * 1024), eof: false }
    }

    async fn next(&mut self) -> std::io::Result<Option<Bytes>> {
        loop {
            if let Some(i) = self.buf.windows(self.delim.len()).position(|w| w == self.delim.as_slice()) {
                let rec = self.buf.split_to(i).freeze();
                let _ = self.buf.split_to(self.delim.len());
                return Ok(Some(rec));
            }
            if self.eof {
                return Ok((!self.buf.is_empty()).then(|| self.buf.split().freeze()));
            }
            if self.buf.capacity() - self.buf.len() < 16 * 1024 {
                self.buf.reserve(64 * 1024);
            }
            if self.input.read_buf(&mut self.buf).await? == 0 {
                self.eof = true;
            }
        }
    }
}

/// Where records come from.
enum Input {
    Synthetic { sent: u64, n: u64, payload: Bytes },
    Delimited(Splitter<Box<dyn AsyncRead + Unpin + Send>>),
    /// Whole files, one record each.
    Files(std::vec::IntoIter<PathBuf>),
}

impl Input {
    async fn next(&mut self) -> anyhow::Result<Option<Bytes>> {
        match self {
            Input::Synthetic { sent, n, payload } => {
                if *sent >= *n {
                    return Ok(None);
                }
                *sent += 1;
                Ok(Some(payload.clone()))
            }
            Input::Delimited(s) => Ok(s.next().await?),
            Input::Files(files) => match files.next() {
                None => Ok(None),
                Some(p) => Ok(Some(
                    tokio::fs::read(&p).await.map_err(|e| anyhow::anyhow!("reading {}: {e}", p.display()))?.into(),
                )),
            },
        }
    }
}

/// `name=value` headers of `-H`.
fn parse_headers(list: &[String]) -> anyhow::Result<Vec<(String, Bytes)>> {
    list.iter()
        .map(|h| {
            let (n, v) = h.split_once('=').ok_or_else(|| anyhow::anyhow!("-H expects NAME=VALUE, got '{h}'"))?;
            Ok((n.to_string(), Bytes::copy_from_slice(v.as_bytes())))
        })
        .collect()
}

/// Runs `gregor produce`.
pub async fn run(args: ProduceArgs) -> anyhow::Result<()> {
    let config = producer_config(&args)?;
    let headers = parse_headers(&args.headers)?;
    let delim = crate::kcat::parse_delim(args.delimiter.as_deref().unwrap_or(r"\n")).map_err(anyhow::Error::msg)?;
    if delim.is_empty() {
        anyhow::bail!("the record delimiter -D must not be empty");
    }
    let key_delim = match &args.key_delimiter {
        Some(k) => Some(crate::kcat::parse_delim(k).map_err(anyhow::Error::msg)?).filter(|k| !k.is_empty()),
        None => None,
    };
    let mut input = match (args.count, args.files.is_empty(), args.lines) {
        (Some(n), _, _) => Input::Synthetic { sent: 0, n, payload: Bytes::from(vec![b'x'; args.size]) },
        (None, true, _) => Input::Delimited(Splitter::new(Box::new(tokio::io::stdin()), delim.clone())),
        (None, false, false) => Input::Files(args.files.clone().into_iter()),
        (None, false, true) => {
            // One record per line of every file, in order.
            let mut all = Vec::new();
            for f in &args.files {
                let mut b = std::fs::read(f).map_err(|e| anyhow::anyhow!("reading {}: {e}", f.display()))?;
                if !b.is_empty() && !b.ends_with(&delim) {
                    b.extend_from_slice(&delim);
                }
                all.extend(b);
            }
            Input::Delimited(Splitter::new(Box::new(std::io::Cursor::new(all)), delim.clone()))
        }
    };
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
    let mut unsplit = Unsplit::default();
    let mut tee = std::io::BufWriter::new(std::io::stdout().lock());
    let synthetic = args.count.is_some();
    // One allocation of the topic name, shared by every record.
    let topic: std::sync::Arc<str> = std::sync::Arc::from(args.topic.as_str());
    loop {
        if args.max_messages.is_some_and(|n| sent >= n) {
            break;
        }
        let Some(raw) = input.next().await? else { break };
        // kcat skips empty records of delimited input (an empty line is no message).
        if raw.is_empty() && matches!(input, Input::Delimited(_)) {
            continue;
        }
        let mut record = ProducerRecord::new(&topic);
        let (mut key, value) = match (&key_delim, synthetic) {
            (_, true) => (Some(Bytes::from(format!("key-{sent}"))), Some(raw.clone())),
            (Some(kd), false) => match raw.windows(kd.len()).position(|w| w == kd.as_slice()) {
                Some(i) => {
                    let (k, v) = (raw.slice(..i), raw.slice(i + kd.len()..));
                    // kcat -Z: empty key or value after the split is null.
                    let k = if args.null && k.is_empty() { None } else { Some(k) };
                    let v = if args.null && v.is_empty() { None } else { Some(v) };
                    (k, v)
                }
                None => {
                    if args.key.is_none() {
                        unsplit.note(sent + 1, &String::from_utf8_lossy(kd));
                    }
                    (None, Some(raw.clone()))
                }
            },
            (None, false) => (None, Some(raw.clone())),
        };
        if key.is_none() && !synthetic {
            key = args.key.as_ref().map(|k| Bytes::from(k.clone()));
        }
        record.key = key;
        record.value = value;
        record.partition = args.partition;
        for (n, v) in &headers {
            record = record.header(n.clone(), Some(v.clone()));
        }
        if args.tee {
            tee.write_all(&raw)?;
            tee.write_all(&delim)?;
        }
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
    tee.flush()?;
    drop(tee);
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
    unsplit.summary(&key_delim.as_deref().map(String::from_utf8_lossy).unwrap_or_default());
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

/// Records that had no key delimiter: each is sent whole as the value with a null key (kcat's
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
