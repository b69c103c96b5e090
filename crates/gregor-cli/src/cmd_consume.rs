//! `gregor consume`: kcat / kafka-console-consumer habits on gregor's `Consumer`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use gregor::{Consumer, ErrorKind, RebalanceListener, TopicPartition};

use crate::output::{write_record, Format};
use crate::stats::{count_events, RunStats};

/// Options every consuming command shares.
#[derive(clap::Args, Debug, Clone)]
pub struct ConnectArgs {
    /// bootstrap.servers: host:port[,host:port...]
    #[arg(short = 'b', long = "bootstrap-servers", value_name = "HOSTS")]
    pub brokers: String,
    /// Topic to read (repeatable).
    #[arg(short = 't', long = "topic", required = true)]
    pub topics: Vec<String>,
    /// Consumer group: subscribe and let the group assign partitions. Without it, every
    /// partition of the topics is assigned to this consumer.
    #[arg(short = 'g', long = "group")]
    pub group: Option<String>,
    /// Any consumer config key (Java name), e.g. -X session.timeout.ms=10000 (repeatable).
    #[arg(short = 'X', value_name = "KEY=VALUE")]
    pub config: Vec<String>,
}

/// Arguments of `gregor consume`.
#[derive(clap::Args, Debug)]
pub struct ConsumeArgs {
    #[command(flatten)]
    pub conn: ConnectArgs,
    /// Start from the earliest offset when there is no committed one (auto.offset.reset=earliest).
    #[arg(long)]
    pub from_beginning: bool,
    /// Stop once every assigned partition reached the end it had when it was assigned.
    #[arg(short = 'e', long)]
    pub exit_at_end: bool,
    /// Stop after this many records.
    #[arg(short = 'c', long, value_name = "N")]
    pub max_messages: Option<u64>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Write run statistics as JSON to FILE on exit.
    #[arg(long, value_name = "FILE")]
    pub stats: Option<std::path::PathBuf>,
    /// Serve Prometheus metrics on HOST:PORT while consuming.
    #[arg(long, value_name = "HOST:PORT")]
    pub metrics_addr: Option<String>,
}

/// Builds the consumer from -b, -g and -X (config errors are printed as gregor words them).
pub fn build_consumer(conn: &ConnectArgs, extra: &[(&str, &str)]) -> anyhow::Result<Consumer> {
    let mut props: Vec<(String, String)> = vec![("bootstrap.servers".into(), conn.brokers.clone())];
    if let Some(g) = &conn.group {
        props.push(("group.id".into(), g.clone()));
    }
    props.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    for kv in &conn.config {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("-X expects key=value, got '{kv}'"))?;
        props.push((k.trim().to_string(), v.to_string()));
    }
    Consumer::from_properties(props).map_err(|e| anyhow::anyhow!("{e}"))
}

/// One actionable line for a gregor error.
pub fn explain(e: gregor::Error, bootstrap: &str) -> anyhow::Error {
    match e.kind() {
        ErrorKind::Unreachable | ErrorKind::Timeout | ErrorKind::Io | ErrorKind::Disconnected => {
            anyhow::anyhow!("cannot reach the cluster at {bootstrap}: {e}")
        }
        ErrorKind::Auth => anyhow::anyhow!("authorization failed: {e} (check the ACLs of this principal)"),
        ErrorKind::UnknownTopic => anyhow::anyhow!("{e} (create it first, or check the name)"),
        _ => anyhow::anyhow!("{e}"),
    }
}

/// Partitions of every topic (fresh metadata); fails on an unknown topic, an authorization
/// error or an unreachable cluster.
pub async fn resolve(consumer: &Consumer, conn: &ConnectArgs) -> anyhow::Result<Vec<TopicPartition>> {
    let mut all = Vec::new();
    for t in &conn.topics {
        all.extend(
            consumer
                .partitions_for(t)
                .await
                .map_err(|e| explain(e, &conn.brokers))?,
        );
    }
    Ok(all)
}

/// Starts reading: subscribe with a group, else assign every partition.
pub async fn start(
    consumer: &Consumer,
    conn: &ConnectArgs,
    from_beginning: bool,
) -> anyhow::Result<Vec<TopicPartition>> {
    let parts = resolve(consumer, conn).await?;
    if conn.group.is_some() {
        consumer
            .subscribe(conn.topics.clone())
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    } else {
        consumer.assign(parts.clone()).map_err(|e| anyhow::anyhow!("{e}"))?;
        if from_beginning {
            consumer.seek_to_beginning(&[]).map_err(|e| anyhow::anyhow!("{e}"))?;
        }
    }
    Ok(parts)
}

/// Records partitions as the group assigns and revokes them, for `--exit-at-end`.
#[derive(Default)]
struct Assigned(Mutex<(BTreeSet<TopicPartition>, bool)>);

struct Listener(Arc<Assigned>);

impl RebalanceListener for Listener {
    fn on_partitions_assigned(&self, partitions: &[TopicPartition]) {
        let mut g = self.0 .0.lock().unwrap_or_else(|p| p.into_inner());
        g.0.extend(partitions.iter().cloned());
        g.1 = true;
    }
    fn on_partitions_revoked(&self, partitions: &[TopicPartition], _ctx: &mut gregor::RevokeContext) {
        let mut g = self.0 .0.lock().unwrap_or_else(|p| p.into_inner());
        for tp in partitions {
            g.0.remove(tp);
        }
    }
    fn on_partitions_lost(&self, partitions: &[TopicPartition]) {
        let mut g = self.0 .0.lock().unwrap_or_else(|p| p.into_inner());
        for tp in partitions {
            g.0.remove(tp);
        }
    }
}

/// Runs `gregor consume`.
pub async fn run(args: ConsumeArgs, process_start: Instant) -> anyhow::Result<()> {
    let mut extra = Vec::new();
    if args.from_beginning {
        extra.push(("auto.offset.reset", "earliest"));
    }
    let consumer = Arc::new(build_consumer(&args.conn, &extra)?);
    let consumed = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counts = count_events(consumer.connection_events());
    let assigned = Arc::new(Assigned::default());
    consumer.set_rebalance_listener(Listener(assigned.clone()));
    let mut stats = RunStats {
        process_start,
        started: Instant::now(),
        records: 0,
        bytes: 0,
        first_record: None,
    };
    if let Some(addr) = &args.metrics_addr {
        let (c, n) = (consumer.clone(), consumed.clone());
        crate::metrics_http::serve(addr, move || {
            (c.connection_metrics(), n.load(std::sync::atomic::Ordering::Relaxed))
        })
        .await?;
    }
    let manual = start(&consumer, &args.conn, args.from_beginning).await;
    let manual = match manual {
        Ok(p) => p,
        Err(e) => {
            consumer.close(Duration::from_secs(5)).await;
            return Err(e);
        }
    };
    // End offsets to reach, per partition, taken when the partition was assigned.
    let mut ends: BTreeMap<TopicPartition, i64> = BTreeMap::new();
    if args.exit_at_end && args.conn.group.is_none() {
        ends = consumer
            .end_offsets(&manual)
            .await
            .map_err(|e| explain(e, &args.conn.brokers))?;
    }
    let mut reached: BTreeSet<TopicPartition> = BTreeSet::new();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let progress = (args.format == Format::None || !std::io::stdout().is_terminal())
        .then(crate::progress::Progress::new)
        .flatten();
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let result: anyhow::Result<()> = async {
        loop {
            if let Some(max) = args.max_messages {
                if stats.records >= max {
                    return Ok(());
                }
            }
            let recs = tokio::select! {
                r = consumer.poll(Duration::from_millis(500)) => r.map_err(|e| explain(e, &args.conn.brokers))?,
                _ = &mut ctrl_c => return Ok(()),
            };
            let take = match args.max_messages {
                Some(max) => recs.len().min((max - stats.records) as usize),
                None => recs.len(),
            };
            let written: std::io::Result<()> = recs[..take]
                .iter()
                .try_for_each(|r| write_record(&mut out, args.format, r))
                .and_then(|_| out.flush());
            stats.add(&recs[..take]);
            consumed.store(stats.records, std::sync::atomic::Ordering::Relaxed);
            match written {
                // The reader went away (`| head`): stop quietly and cleanly, as kcat does.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
                other => other?,
            }
            if let Some(p) = &progress {
                p.update(stats.records, stats.bytes, stats.started, consumer.lag());
            }
            if args.exit_at_end {
                if args.conn.group.is_some() {
                    let (now, ever) = {
                        let g = assigned.0.lock().unwrap_or_else(|p| p.into_inner());
                        (g.0.clone(), g.1)
                    };
                    let new: Vec<TopicPartition> = now.iter().filter(|tp| !ends.contains_key(*tp)).cloned().collect();
                    if !new.is_empty() {
                        ends.extend(
                            consumer
                                .end_offsets(&new)
                                .await
                                .map_err(|e| explain(e, &args.conn.brokers))?,
                        );
                    }
                    ends.retain(|tp, _| now.contains(tp));
                    reached.retain(|tp| now.contains(tp));
                    if !ever {
                        continue;
                    }
                }
                for (tp, end) in &ends {
                    if !reached.contains(tp) && consumer.position(tp).await.is_ok_and(|p| p >= *end) {
                        reached.insert(tp.clone());
                    }
                }
                if reached.len() == ends.len() {
                    return Ok(());
                }
            }
        }
    }
    .await;
    if let Some(p) = &progress {
        p.finish();
    }
    drop(out);
    if args.conn.group.is_some() && result.is_ok() && stats.records > 0 {
        if let Err(e) = consumer.commit_sync().await {
            eprintln!("gregor: commit failed: {e}");
        }
    }
    consumer.close(Duration::from_secs(30)).await;
    if let Some(path) = &args.stats {
        let counts = counts.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let doc = stats.to_json(&consumer, &counts);
        std::fs::write(path, serde_json::to_vec_pretty(&doc)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    result
}
