//! `gregor consume`: kcat / kafka-console-consumer habits on gregor's `Consumer`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use gregor::{Consumer, TopicPartition};

use crate::connect::{explain, last, ClientArgs};
use crate::consume_start::{apply, resolve, Assigned, Eof, Listener, Printed, StartOffset};
use crate::kcat;
use crate::logging::info;
use crate::output::{write_record, Format};
use crate::stats::{count_events, RunStats};

pub const EXAMPLES: &str = "\
Examples:
  gregor consume -b localhost -t orders -e                 # every record, then exit (kcat -C -e)
  gregor consume -b localhost -t orders -p 0 -o -10 -e     # the last 10 records of partition 0
  gregor consume -b localhost -t orders -o s@1700000000000 # from a time (ms since the epoch)
  gregor consume -b localhost -t orders -f '%t [%p] @%o: %k=%s\\n'
  gregor consume -b localhost -t orders -K : -e            # key:value lines
  gregor consume -b localhost -t orders -J -e | jq .       # kcat's JSON envelope
  gregor consume -b localhost -g my-app orders payments    # a group (kcat -G my-app orders payments)
  gregor consume -b localhost -g my-app --regex 'orders-.*'
  gregor consume -F client.properties -t orders -c 100     # security and other keys from a file

Format tokens (-f): %t topic, %p partition, %o offset, %k key, %K key length, %s value,
%S value length, %R value length (4-byte big-endian), %T timestamp (ms), %h headers (n=v,...),
%% a percent sign; escapes \\n \\t \\r \\xHH \\NNN. Output is byte for byte kcat's.";

/// Arguments of `gregor consume`.
#[derive(clap::Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct ConsumeArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// Topic to read (repeatable).
    #[arg(short = 't', long = "topic", value_name = "TOPIC")]
    pub topics: Vec<String>,
    /// More topics, as kcat -G takes them.
    #[arg(value_name = "TOPICS")]
    pub more_topics: Vec<String>,
    /// Also read every topic whose whole name matches this regular expression.
    #[arg(long, value_name = "REGEX")]
    pub regex: Option<String>,
    /// Consumer group: subscribe and let the group assign partitions (kcat -G; the same as
    /// -X group.id=GROUP). Without a group every partition is assigned to this consumer.
    #[arg(short = 'g', long = "group", short_alias = 'G', value_name = "GROUP")]
    pub group: Option<String>,
    /// Read only this partition (repeatable; without a group).
    #[arg(short = 'p', long = "partition", value_name = "PARTITION")]
    pub partitions: Vec<i32>,
    /// Where to start: beginning, end, stored, N, -N (N before the end), s@TIMESTAMP_MS.
    /// Default without a group: beginning (as kcat); with one: the committed offset, else
    /// auto.offset.reset.
    #[arg(short = 'o', long = "offset", value_name = "OFFSET", allow_hyphen_values = true)]
    pub offset: Option<StartOffset>,
    /// kafka-console-consumer's flag: -o beginning without a group; with one,
    /// auto.offset.reset=earliest.
    #[arg(long)]
    pub from_beginning: bool,
    /// Exit once every partition read reached its end (kcat -e).
    #[arg(short = 'e', long)]
    pub exit_at_end: bool,
    /// Exit after this many records (kcat -c).
    #[arg(short = 'c', long, value_name = "N")]
    pub max_messages: Option<u64>,
    /// Output format string, kcat's tokens (see below); default %s\n.
    #[arg(short = 'f', long = "format-string", value_name = "FORMAT", conflicts_with = "format")]
    pub format_string: Option<String>,
    /// Print KEY<DELIM>VALUE (kcat -K).
    #[arg(short = 'K', long = "key-delimiter", value_name = "DELIM", conflicts_with = "format")]
    pub key_delimiter: Option<String>,
    /// Record delimiter (kcat -D), default \n.
    #[arg(short = 'D', long = "delimiter", value_name = "DELIM", conflicts_with = "format")]
    pub delimiter: Option<String>,
    /// Print NULL for empty and null keys and values (kcat -Z).
    #[arg(short = 'Z', long = "null", conflicts_with = "format")]
    pub null: bool,
    /// kcat's JSON envelope per record: topic, partition, offset, tstype, ts, broker, headers,
    /// key, payload (kcat -J).
    #[arg(short = 'J', long = "json", conflicts_with = "format")]
    pub json: bool,
    /// gregor's own formats: text (the value per line, as the default), json (one object
    /// per line; bytes that are not UTF-8 as base64), none.
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Write run statistics as JSON to FILE on exit.
    #[arg(long, value_name = "FILE")]
    pub stats: Option<std::path::PathBuf>,
    /// Serve Prometheus metrics on HOST:PORT while consuming.
    #[arg(long, value_name = "HOST:PORT")]
    pub metrics_addr: Option<String>,
}

/// How records are printed.
enum Output {
    Kcat(kcat::Format),
    KcatJson(Vec<u8>),
    Gregor(Format),
}

impl Output {
    fn from_args(a: &ConsumeArgs) -> anyhow::Result<Output> {
        let bad = |e: String| anyhow::anyhow!("{e}");
        if a.json {
            let fmt = match &a.format_string {
                Some(f) => kcat::Format::parse(f.as_bytes()).map_err(bad)?,
                None => kcat::Format::parse(&kcat::parse_delim(a.delimiter.as_deref().unwrap_or(r"\n")).map_err(bad)?)
                    .map_err(bad)?,
            };
            return Ok(Output::KcatJson(fmt.json_suffix().to_vec()));
        }
        if let Some(f) = &a.format_string {
            return Ok(Output::Kcat(kcat::Format::parse(f.as_bytes()).map_err(bad)?.with_null_str(a.null)));
        }
        match a.format {
            Some(Format::Json) => Ok(Output::Gregor(Format::Json)),
            Some(Format::None) => Ok(Output::Gregor(Format::None)),
            _ => Ok(Output::Kcat(
                kcat::Format::default_for(a.key_delimiter.as_deref(), a.delimiter.as_deref().unwrap_or(r"\n"))
                    .map_err(bad)?
                    .with_null_str(a.null),
            )),
        }
    }

    fn prints_nothing(&self) -> bool {
        matches!(self, Output::Gregor(Format::None))
    }
}

/// Runs `gregor consume`.
pub async fn run(args: ConsumeArgs, process_start: Instant, verbosity: u8) -> anyhow::Result<()> {
    let output = Output::from_args(&args)?;
    let mut topics = args.topics.clone();
    topics.extend(args.more_topics.iter().cloned());
    if topics.is_empty() && args.regex.is_none() {
        anyhow::bail!("no topic: give -t TOPIC (repeatable) or --regex PATTERN");
    }
    let mut extra: Vec<(&str, &str)> = Vec::new();
    if let Some(g) = &args.group {
        extra.push(("group.id", g));
    }
    let mut props = args.client.properties(&extra)?;
    // One place decides group mode: whichever of -g, -X group.id or -F set it last.
    let group = last(&props, "group.id").filter(|g| !g.is_empty()).map(str::to_string);
    let bootstrap = ClientArgs::bootstrap(&props);
    // As kcat (which stores the offset of each record it printed): commit exactly what was
    // printed, so -c N leaves the group right after record N. Background commits would commit
    // whatever poll returned; unless the user set enable.auto.commit, gregor commits itself.
    let own_commits = group.is_some() && last(&props, "enable.auto.commit").is_none();
    if own_commits {
        props.push(("enable.auto.commit".into(), "false".into()));
    }
    if group.is_some() && args.from_beginning {
        props.push(("auto.offset.reset".into(), "earliest".into()));
    }
    if group.is_some() && !args.partitions.is_empty() {
        anyhow::bail!("-p selects partitions without a group; with a group (-g or group.id) the group assigns them");
    }
    let start = match (args.offset, args.from_beginning, group.is_some()) {
        (Some(o), _, _) => Some(o),
        (None, _, false) => Some(StartOffset::Beginning),
        (None, _, true) => None,
    };
    // The recorder first: the consumer registers its metrics when it is created.
    let prometheus = args.metrics_addr.as_ref().map(|_| crate::metrics_http::install()).transpose()?;
    let consumer = Arc::new(Consumer::from_properties(props).map_err(|e| anyhow::anyhow!("{e}"))?);
    let counts = count_events(consumer.connection_events());
    let consumed = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let assigned = Arc::new(Assigned::default());
    let uncommitted = Arc::new(Printed::default());
    consumer.set_rebalance_listener(Listener {
        assigned: assigned.clone(),
        consumer: Arc::downgrade(&consumer),
        start: if group.is_some() { start } else { None },
        printed: own_commits.then(|| uncommitted.clone()),
    });
    let mut stats = RunStats { process_start, started: Instant::now(), records: 0, bytes: 0, first_record: None };
    if let (Some(addr), Some(library)) = (&args.metrics_addr, prometheus) {
        let (c, n) = (consumer.clone(), consumed.clone());
        crate::metrics_http::serve(addr, library, move || (c.connection_metrics(), n.load(std::sync::atomic::Ordering::Relaxed)))
            .await?;
    }
    let manual = async {
        if group.is_some() {
            if !topics.is_empty() {
                consumer.subscribe(topics.clone()).map_err(|e| explain(e, &bootstrap))?;
                // Fail now on a topic that does not exist, as without a group.
                for t in &topics {
                    consumer.partitions_for(t).await.map_err(|e| explain(e, &bootstrap))?;
                }
            }
            if let Some(re) = &args.regex {
                if !topics.is_empty() {
                    anyhow::bail!("with a group, give either topics or --regex (a subscription is one or the other)");
                }
                crate::consume_start::regex_whole(re)?;
                consumer.subscribe_pattern(re).map_err(|e| explain(e, &bootstrap))?;
            }
            Ok(BTreeSet::new())
        } else {
            let parts = resolve(&consumer, &topics, args.regex.as_deref(), &args.partitions, &bootstrap).await?;
            consumer.assign(parts.clone()).map_err(|e| explain(e, &bootstrap))?;
            if let Some(s) = start {
                apply(&consumer, &parts, s, &bootstrap).await?;
            }
            Ok(parts.into_iter().collect::<BTreeSet<_>>())
        }
    }
    .await;
    let manual = match manual {
        Ok(p) => p,
        Err(e) => {
            consumer.close(Duration::from_secs(5)).await;
            return Err(e);
        }
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let progress = (verbosity > 0 && (output.prints_nothing() || !std::io::stdout().is_terminal()))
        .then(crate::progress::Progress::new)
        .flatten();
    let stop = crate::shutdown::requested();
    tokio::pin!(stop);
    let mut eof = Eof::default();
    let mut brokers: HashMap<TopicPartition, i32> = HashMap::new();
    let mut printed: BTreeMap<TopicPartition, i64> = BTreeMap::new();
    let mut last_commit = Instant::now();
    let result: anyhow::Result<()> = async {
        loop {
            if args.max_messages.is_some_and(|max| stats.records >= max) {
                return Ok(());
            }
            let pending = assigned.take_pending();
            if !pending.is_empty() {
                if let Some(s) = start {
                    apply(&consumer, &pending, s, &bootstrap).await?;
                }
                consumer.resume(&pending).map_err(|e| explain(e, &bootstrap))?;
            }
            let recs = tokio::select! {
                r = consumer.poll(Duration::from_millis(100)) => r.map_err(|e| explain(e, &bootstrap))?,
                _ = &mut stop => return Ok(()),
            };
            let take = match args.max_messages {
                Some(max) => recs.len().min((max - stats.records) as usize),
                None => recs.len(),
            };
            brokers.clear();
            let written: std::io::Result<()> = recs[..take]
                .iter()
                .try_for_each(|r| {
                    eof.record(&r.topic_partition());
                    printed.insert(r.topic_partition(), r.offset + 1);
                    match &output {
                        Output::Kcat(f) => f.write(&mut out, r),
                        Output::KcatJson(suffix) => {
                            let tp = r.topic_partition();
                            let b = *brokers.entry(tp).or_insert_with_key(|tp| consumer.fetch_broker(tp).unwrap_or(-1));
                            kcat::write_json(&mut out, r, b, suffix)
                        }
                        Output::Gregor(f) => write_record(&mut out, *f, r),
                    }
                })
                .and_then(|_| out.flush());
            uncommitted.extend(std::mem::take(&mut printed));
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
            if args.max_messages.is_some_and(|max| stats.records >= max) {
                return Ok(());
            }
            if own_commits && last_commit.elapsed() >= AUTO_COMMIT_INTERVAL {
                commit_printed(&consumer, &uncommitted, &assigned).await;
                last_commit = Instant::now();
            }
            let (now, ever) = if group.is_some() { assigned.current() } else { (manual.clone(), true) };
            if !ever {
                continue;
            }
            let (newly, all) = eof.check(&consumer, &now).await;
            let exiting = args.exit_at_end && all;
            for (i, (tp, offset)) in newly.iter().enumerate() {
                let last = i + 1 == newly.len();
                info(
                    verbosity,
                    format_args!(
                        "Reached end of topic {} [{}] at offset {offset}{}",
                        tp.topic,
                        tp.partition,
                        if exiting && last { ": exiting" } else { "" }
                    ),
                );
            }
            if exiting {
                return Ok(());
            }
        }
    }
    .await;
    if let Some(p) = &progress {
        p.finish();
    }
    drop(out);
    if own_commits {
        commit_printed(&consumer, &uncommitted, &assigned).await;
    }
    consumer.close(Duration::from_secs(30)).await;
    if let Some(path) = &args.stats {
        let counts = counts.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let doc = stats.to_json(&consumer, &counts);
        std::fs::write(path, serde_json::to_vec_pretty(&doc)?).with_context(|| format!("writing {}", path.display()))?;
    }
    result
}

/// How often printed offsets are committed while consuming (Java's auto.commit.interval.ms).
const AUTO_COMMIT_INTERVAL: Duration = Duration::from_secs(5);

/// Commits the next offset after the last printed record of each partition still assigned.
async fn commit_printed(consumer: &Consumer, printed: &Printed, assigned: &Assigned) {
    let (now, _) = assigned.current();
    let offsets = printed.take(|tp| now.contains(tp));
    if offsets.is_empty() {
        return;
    }
    if let Err(e) = consumer.commit_offsets_sync(offsets).await {
        eprintln!("gregor: commit failed: {}", crate::connect::one_line(&e.to_string()));
    }
}
