//! gregor side of the consumer benchmark (bench/run.sh). Same per-record work as every other
//! bench client: FNV-1a 64 over key then value, per-record hashes summed (order-independent, so
//! every client prints the same checksum for a topic), offsets checked contiguous per partition.
//! Usage: bench-gregor BOOTSTRAP TOPIC RECORDS [GROUP]   (prints one JSON line)
//! A TOPIC starting with `^` is a regular expression (librdkafka's convention): a group
//! subscription to every matching topic, offsets then checked per topic and partition.
use gregor::{Consumer, TopicPartition};
use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn now_us() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_micros()
}

fn fnv1a(mut h: u64, data: &[u8]) -> u64 {
    for &b in data {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: bench-gregor BOOTSTRAP TOPIC RECORDS [GROUP]");
        std::process::exit(2);
    }
    // GREGOR_BENCH_LOG="gregor=debug": gregor's log lines and spans (with their durations) on
    // stderr, timed from the process start (not used by run.sh).
    if let Ok(filter) = std::env::var("GREGOR_BENCH_LOG") {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
            .with_timer(tracing_subscriber::fmt::time::uptime())
            .with_writer(std::io::stderr)
            .init();
    }
    // GREGOR_BENCH_THREADS=1 selects a current-thread runtime (default: tokio's multi-thread).
    let rt = match std::env::var("GREGOR_BENCH_THREADS").ok().as_deref() {
        Some("1") => tokio::runtime::Builder::new_current_thread().enable_all().build(),
        _ => tokio::runtime::Builder::new_multi_thread().enable_all().build(),
    }
    .expect("runtime");
    rt.block_on(run(args));
}

async fn run(args: Vec<String>) {
    let (bootstrap, topic, want): (&str, &str, u64) = (&args[1], &args[2], args[3].parse().unwrap());
    let group = args.get(4);
    let mut props: Vec<(&str, &str)> = vec![
        ("bootstrap.servers", bootstrap),
        // The fetch settings shared by every client (Java's defaults).
        ("fetch.max.bytes", "52428800"),
        ("max.partition.fetch.bytes", "1048576"),
        ("fetch.min.bytes", "1"),
        ("fetch.max.wait.ms", "500"),
        ("check.crcs", "true"),
        ("enable.auto.commit", "false"),
        ("auto.offset.reset", "earliest"),
    ];
    if let Some(g) = group {
        props.push(("group.id", g));
    }
    // GREGOR_BENCH_PROPS="k=v,k=v": extra settings for experiments (not used by run.sh).
    let extra = std::env::var("GREGOR_BENCH_PROPS").unwrap_or_default();
    props.extend(extra.split(',').filter_map(|kv| kv.split_once('=')));
    let consumer = Consumer::from_properties(props).expect("consumer");
    let regex = topic.strip_prefix('^');
    if let Some(re) = regex {
        consumer.subscribe_pattern(re).expect("subscribe_pattern");
    } else if group.is_some() {
        consumer.subscribe([topic]).expect("subscribe");
    } else {
        let parts: Vec<TopicPartition> = consumer.partitions_for(topic).await.expect("partitions_for");
        consumer.assign(parts).expect("assign");
    }
    let deadline = Instant::now() + Duration::from_secs(600);
    let (mut n, mut bytes, mut sum, mut gaps) = (0u64, 0u64, 0u64, 0u64);
    let mut next: HashMap<i32, i64> = HashMap::new();
    let mut next_tp: HashMap<(std::sync::Arc<str>, i32), i64> = HashMap::new();
    let mut first_us = 0u128;
    while n < want && Instant::now() < deadline {
        let recs = match consumer.poll(Duration::from_millis(100)).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("bench-gregor: {e}");
                continue;
            }
        };
        if first_us == 0 && !recs.is_empty() {
            first_us = now_us();
        }
        for r in &recs {
            let mut h = 0xcbf29ce484222325u64;
            if let Some(k) = &r.key {
                h = fnv1a(h, k);
                bytes += k.len() as u64;
            }
            if let Some(v) = &r.value {
                h = fnv1a(h, v);
                bytes += v.len() as u64;
            }
            sum = sum.wrapping_add(h);
            let e = if regex.is_some() {
                next_tp.entry((r.topic.clone(), r.partition)).or_insert(r.offset)
            } else {
                next.entry(r.partition).or_insert(r.offset)
            };
            if *e != r.offset {
                gaps += 1;
            }
            *e = r.offset + 1;
            n += 1;
        }
    }
    let last_us = now_us();
    let m = consumer.connection_metrics();
    println!(
        "{{\"client\":\"gregor\",\"records\":{n},\"bytes\":{bytes},\"checksum\":\"{sum:016x}\",\"gaps\":{gaps},\"partitions\":{},\"first_us\":{first_us},\"last_us\":{last_us},\"connections_opened\":{}}}",
        next.len() + next_tp.len(),
        m.connection_creation_total
    );
    consumer.close(Duration::from_secs(5)).await;
}
