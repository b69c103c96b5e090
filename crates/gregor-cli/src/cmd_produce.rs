//! `gregor produce`: lines from stdin (optionally `key<SEP>value`) or synthetic records.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use gregor::{Admin, NewTopic, Producer, ProducerRecord, ProducerSettings};
use tokio::io::AsyncBufReadExt;

use crate::connect::explain;

/// Arguments of `gregor produce`.
#[derive(clap::Args, Debug)]
pub struct ProduceArgs {
    /// bootstrap.servers: host:port[,host:port...]
    #[arg(short = 'b', long = "bootstrap-servers", value_name = "HOSTS")]
    pub brokers: String,
    /// Topic to write to.
    #[arg(short = 't', long = "topic")]
    pub topic: String,
    /// Create the topic with this many partitions if it does not exist (default 1).
    #[arg(long, value_name = "N")]
    pub partitions: Option<i32>,
    /// Split each input line at the first SEP into key and value.
    #[arg(short = 'k', long = "key-separator", value_name = "SEP")]
    pub key_separator: Option<String>,
    /// compression.type.
    #[arg(short = 'z', long, default_value = "none", value_parser = ["none", "gzip", "snappy", "lz4", "zstd"])]
    pub compression: String,
    /// acks: 0, 1 or all.
    #[arg(long, default_value = "all", value_parser = ["0", "1", "all", "-1"])]
    pub acks: String,
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

/// Runs `gregor produce`.
pub async fn run(args: ProduceArgs) -> anyhow::Result<()> {
    let mut props: Vec<(String, String)> = vec![
        ("bootstrap.servers".into(), args.brokers.clone()),
        ("acks".into(), args.acks.clone()),
        ("compression.type".into(), args.compression.clone()),
    ];
    for kv in &args.config {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("-X expects key=value, got '{kv}'"))?;
        props.push((k.trim().to_string(), v.to_string()));
    }
    let settings = ProducerSettings::from_map(props).map_err(|e| anyhow::anyhow!("{e}"))?;
    let timeout = settings.max_block;
    let admin = Admin::new(&args.brokers).map_err(|e| anyhow::anyhow!("{e}"))?;
    let created = admin
        .create_topics(
            &[NewTopic::new(&args.topic, args.partitions.unwrap_or(1), -1)],
            true,
            timeout,
        )
        .await;
    admin.close(Duration::from_secs(5)).await;
    created.map_err(|e| explain(e, &args.brokers))?;

    let producer = Producer::new(settings).map_err(|e| anyhow::anyhow!("{e}"))?;
    let started = Instant::now();
    let progress = crate::progress::Progress::new();
    let (mut sent, mut bytes, mut failed) = (0u64, 0u64, 0u64);
    let mut first_error: Option<gregor::Error> = None;
    let mut pending = VecDeque::new();
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let payload = vec![b'x'; args.size];
    loop {
        let record = match args.count {
            Some(n) if sent >= n => break,
            Some(_) => ProducerRecord::new(&args.topic)
                .key(format!("key-{sent}"))
                .value(payload.clone()),
            None => match lines.next_line().await? {
                None => break,
                Some(line) => match args.key_separator.as_deref().and_then(|s| line.split_once(s)) {
                    Some((k, v)) => ProducerRecord::new(&args.topic).key(k.to_string()).value(v.to_string()),
                    None => ProducerRecord::new(&args.topic).value(line),
                },
            },
        };
        bytes += (record.key.as_ref().map_or(0, |k| k.len()) + record.value.as_ref().map_or(0, |v| v.len())) as u64;
        let fut = producer.send(record).await.map_err(|e| explain(e, &args.brokers))?;
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
        Some(e) => Err(explain(e, &args.brokers)),
        None => Ok(()),
    }
}
