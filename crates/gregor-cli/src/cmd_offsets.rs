//! `gregor offsets` (kcat -Q): per partition the earliest and latest offsets, or the first
//! offset at or after a time.
//!
//! `-t TOPIC` lists every partition's earliest and latest offsets; `--time T` (or kcat's own
//! `-t TOPIC:PARTITION:TIMESTAMP`) looks up one time and prints kcat -Q's lines,
//! `TOPIC [PARTITION] offset N` (-1 when no record is that recent), or its JSON with `-J`.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use gregor::{Consumer, TopicPartition};

use crate::connect::{explain, ClientArgs};
use crate::kcat::json_str;

pub const EXAMPLES: &str = "\
Examples:
  gregor offsets -b localhost -t orders                       # earliest and latest of every partition
  gregor offsets -b localhost -t orders --time 1700000000000  # first offset at or after a time
  gregor offsets -b localhost -t orders:0:1700000000000       # kcat -Q -t orders:0:1700000000000
  gregor offsets -b localhost -t orders -p 2 --time latest -J";

/// Arguments of `gregor offsets`.
#[derive(clap::Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct OffsetsArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// TOPIC (every partition) or kcat's TOPIC:PARTITION:TIMESTAMP (-1 latest, -2 earliest);
    /// repeatable.
    #[arg(short = 't', long = "topic", value_name = "TOPIC[:PARTITION:TIMESTAMP]", required = true)]
    pub topics: Vec<String>,
    /// Only this partition (repeatable).
    #[arg(short = 'p', long = "partition", value_name = "PARTITION")]
    pub partitions: Vec<i32>,
    /// Look up one time for every partition: earliest, latest or milliseconds since the epoch.
    #[arg(long, value_name = "earliest|latest|MS")]
    pub time: Option<String>,
    /// JSON, in kcat -Q -J's shape.
    #[arg(short = 'J', long = "json")]
    pub json: bool,
}

const LATEST: i64 = -1;
const EARLIEST: i64 = -2;

fn parse_time(s: &str) -> anyhow::Result<i64> {
    match s {
        "latest" | "end" => Ok(LATEST),
        "earliest" | "beginning" => Ok(EARLIEST),
        _ => s.parse().map_err(|_| anyhow::anyhow!("'{s}' is not a time: use earliest, latest or milliseconds since the epoch")),
    }
}

/// What one row says.
enum Found {
    Range { earliest: i64, latest: i64 },
    At(i64),
}

/// Runs `gregor offsets`.
pub async fn run(args: OffsetsArgs) -> anyhow::Result<()> {
    let time = args.time.as_deref().map(parse_time).transpose()?;
    let props = args.client.properties(&[])?;
    let bootstrap = ClientArgs::bootstrap(&props);
    let consumer = Consumer::from_properties(props).map_err(|e| anyhow::anyhow!("{e}"))?;
    let rows = lookup(&consumer, &args, time, &bootstrap).await;
    consumer.close(Duration::from_secs(5)).await;
    let rows = rows?;
    let mut out = Vec::new();
    if args.json {
        write_json(&mut out, &rows)?;
    } else {
        for (tp, f) in &rows {
            match f {
                Found::Range { earliest, latest } => {
                    writeln!(out, "{} [{}] earliest {earliest} latest {latest}", tp.topic, tp.partition)?
                }
                Found::At(o) => writeln!(out, "{} [{}] offset {o}", tp.topic, tp.partition)?,
            }
        }
    }
    std::io::stdout().write_all(&out)?;
    Ok(())
}

async fn lookup(
    consumer: &Consumer,
    args: &OffsetsArgs,
    time: Option<i64>,
    bootstrap: &str,
) -> anyhow::Result<BTreeMap<TopicPartition, Found>> {
    let lib = |e| explain(e, bootstrap);
    // (partition, time): time None = both ends.
    let mut wanted: BTreeMap<TopicPartition, Option<i64>> = BTreeMap::new();
    for spec in &args.topics {
        let parts: Vec<&str> = spec.split(':').collect();
        match parts.as_slice() {
            [topic] => {
                let all = consumer.partitions_for(topic).await.map_err(lib)?;
                for p in &args.partitions {
                    if !all.iter().any(|tp| tp.partition == *p) {
                        anyhow::bail!("topic {topic} (with partitions 0..{}): partition {p} does not exist", all.len() as i64 - 1);
                    }
                }
                for tp in all {
                    if args.partitions.is_empty() || args.partitions.contains(&tp.partition) {
                        wanted.insert(tp, time);
                    }
                }
            }
            [topic, p, ts] => {
                let p: i32 = p.parse().map_err(|_| anyhow::anyhow!("-t {spec}: expected TOPIC:PARTITION:TIMESTAMP"))?;
                let ts = parse_time(ts).map_err(|e| anyhow::anyhow!("-t {spec}: {e}"))?;
                // Also loads the topic's metadata, which the lookups below need.
                let all = consumer.partitions_for(topic).await.map_err(lib)?;
                if !all.iter().any(|tp| tp.partition == p) {
                    anyhow::bail!("topic {topic} (with partitions 0..{}): partition {p} does not exist", all.len() as i64 - 1);
                }
                wanted.insert(TopicPartition::new(topic, p), Some(ts));
            }
            _ => anyhow::bail!("-t {spec}: expected TOPIC or TOPIC:PARTITION:TIMESTAMP"),
        }
    }
    let both: Vec<TopicPartition> = wanted.iter().filter(|(_, t)| t.is_none()).map(|(tp, _)| tp.clone()).collect();
    let at_earliest: Vec<TopicPartition> = wanted.iter().filter(|(_, t)| **t == Some(EARLIEST)).map(|(tp, _)| tp.clone()).collect();
    let at_latest: Vec<TopicPartition> = wanted.iter().filter(|(_, t)| **t == Some(LATEST)).map(|(tp, _)| tp.clone()).collect();
    let by_time: BTreeMap<TopicPartition, i64> =
        wanted.iter().filter_map(|(tp, t)| t.filter(|t| *t >= 0).map(|t| (tp.clone(), t))).collect();
    let mut rows = BTreeMap::new();
    let starts_for: Vec<TopicPartition> = both.iter().chain(&at_earliest).cloned().collect();
    let ends_for: Vec<TopicPartition> = both.iter().chain(&at_latest).cloned().collect();
    let starts = if starts_for.is_empty() { BTreeMap::new() } else { consumer.beginning_offsets(&starts_for).await.map_err(lib)? };
    let ends = if ends_for.is_empty() { BTreeMap::new() } else { consumer.end_offsets(&ends_for).await.map_err(lib)? };
    for tp in both {
        let (earliest, latest) = (starts.get(&tp).copied().unwrap_or(-1), ends.get(&tp).copied().unwrap_or(-1));
        rows.insert(tp, Found::Range { earliest, latest });
    }
    for tp in at_earliest {
        let o = starts.get(&tp).copied().unwrap_or(-1);
        rows.insert(tp, Found::At(o));
    }
    for tp in at_latest {
        let o = ends.get(&tp).copied().unwrap_or(-1);
        rows.insert(tp, Found::At(o));
    }
    if !by_time.is_empty() {
        for (tp, o) in consumer.offsets_for_times(&by_time).await.map_err(lib)? {
            rows.insert(tp, Found::At(o.map_or(-1, |o| o.offset)));
        }
    }
    Ok(rows)
}

/// kcat's `partition_list_print_json`: `{"TOPIC":{"topic":"TOPIC","P":{"partition":P,"offset":N}}}`;
/// rows with both ends carry `earliest` and `latest` instead of `offset`.
fn write_json(out: &mut Vec<u8>, rows: &BTreeMap<TopicPartition, Found>) -> std::io::Result<()> {
    out.push(b'{');
    let mut last_topic: Option<&str> = None;
    for (tp, f) in rows {
        if last_topic != Some(&*tp.topic) {
            if last_topic.is_some() {
                out.extend_from_slice(b"},");
            }
            json_str(out, tp.topic.as_bytes());
            out.extend_from_slice(b":{\"topic\":");
            json_str(out, tp.topic.as_bytes());
            last_topic = Some(&tp.topic);
        }
        write!(out, ",\"{}\":{{\"partition\":{}", tp.partition, tp.partition)?;
        match f {
            Found::Range { earliest, latest } => write!(out, ",\"earliest\":{earliest},\"latest\":{latest}}}")?,
            Found::At(o) => write!(out, ",\"offset\":{o}}}")?,
        }
    }
    if last_topic.is_some() {
        out.push(b'}');
    }
    // No newline after it, as kcat.
    out.push(b'}');
    Ok(())
}
