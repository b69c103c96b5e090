//! gregor side of the end-to-end latency benchmark (bench/latency.sh, issue #14 item 5).
//! Reads every partition of TOPIC from the start (assign, no group); for each record whose
//! sequence number (value bytes 0..8, u64 big-endian) is at least WARMUP, records
//! now - produce time (value bytes 8..16, Unix ns) when poll hands the record over. Stops after
//! RECORDS records; prints nearest-rank p50/p99/p99.9/max in µs as one JSON line, as every
//! latency client does. MODE `low` sets fetch.max.wait.ms=10 (default: gregor's 500, Java's).
//! Usage: latency-gregor BOOTSTRAP TOPIC RECORDS WARMUP MODE
use gregor::{Consumer, TopicPartition};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn now_ns() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as i64
}

fn pct(s: &[i64], q: f64) -> i64 {
    if s.is_empty() {
        return -1;
    }
    let rank = (q * s.len() as f64).ceil() as usize;
    s[rank.clamp(1, s.len()) - 1]
}

#[tokio::main]
async fn main() {
    // GREGOR_BENCH_LOG="gregor=debug": gregor's log lines and spans (with their durations) on
    // stderr, timed from the process start; LAT_DUMP=FILE: one line per measured record
    // ("partition offset latency_us"), to see where a tail comes from. latency.sh uses neither.
    if let Ok(filter) = std::env::var("GREGOR_BENCH_LOG") {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
            .with_timer(tracing_subscriber::fmt::time::uptime())
            .with_writer(std::io::stderr)
            .init();
    }
    let mut dump = std::env::var("LAT_DUMP").ok().map(|p| std::io::BufWriter::new(std::fs::File::create(p).expect("LAT_DUMP")));
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 6 {
        eprintln!("usage: latency-gregor BOOTSTRAP TOPIC RECORDS WARMUP MODE");
        std::process::exit(2);
    }
    let (bootstrap, topic, mode) = (&args[1], &args[2], args[5].as_str());
    let want: u64 = args[3].parse().expect("RECORDS");
    let warm: u64 = args[4].parse().expect("WARMUP");
    let mut props: Vec<(&str, &str)> = vec![
        ("bootstrap.servers", bootstrap),
        ("enable.auto.commit", "false"),
        ("auto.offset.reset", "earliest"),
    ];
    if mode == "low" {
        props.push(("fetch.max.wait.ms", "10"));
    }
    let consumer = Consumer::from_properties(props).expect("consumer");
    let parts: Vec<TopicPartition> = consumer.partitions_for(topic).await.expect("partitions_for");
    consumer.assign(parts).expect("assign");
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut lat: Vec<i64> = Vec::with_capacity(want as usize);
    let (mut n, mut bad) = (0u64, 0u64);
    let mut ready = false;
    while n < want && Instant::now() < deadline {
        let recs = match consumer.poll(Duration::from_millis(100)).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("latency-gregor: {e}");
                continue;
            }
        };
        if !ready {
            // bench/latency.sh starts the producer once every consumer has polled once.
            eprintln!("latency-ready");
            ready = true;
        }
        for r in &recs {
            let now = now_ns();
            n += 1;
            match r.value.as_deref() {
                Some(v) if v.len() >= 16 => {
                    let seq = u64::from_be_bytes(v[0..8].try_into().unwrap());
                    let sent = u64::from_be_bytes(v[8..16].try_into().unwrap()) as i64;
                    if seq >= warm {
                        lat.push((now - sent) / 1000);
                        if let Some(d) = dump.as_mut() {
                            use std::io::Write;
                            writeln!(d, "{} {} {}", r.partition, r.offset, (now - sent) / 1000).expect("LAT_DUMP");
                        }
                    }
                }
                _ => bad += 1,
            }
        }
    }
    if let Some(mut d) = dump.take() {
        use std::io::Write;
        d.flush().expect("LAT_DUMP");
    }
    lat.sort_unstable();
    println!(
        "{{\"client\":\"gregor\",\"mode\":\"{mode}\",\"records\":{n},\"bad\":{bad},\"measured\":{},\"p50_us\":{},\"p99_us\":{},\"p999_us\":{},\"max_us\":{}}}",
        lat.len(),
        pct(&lat, 0.5),
        pct(&lat, 0.99),
        pct(&lat, 0.999),
        pct(&lat, 1.0)
    );
    consumer.close(Duration::from_secs(5)).await;
}
