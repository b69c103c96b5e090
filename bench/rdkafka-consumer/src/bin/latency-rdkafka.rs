//! librdkafka (rust-rdkafka BaseConsumer, per-message poll) side of the end-to-end latency
//! benchmark (bench/latency.sh, issue #14 item 5). Reads every partition of TOPIC from the start
//! (assign); for each record whose sequence number (value bytes 0..8, u64 big-endian) is at least
//! WARMUP, records now - produce time (value bytes 8..16, Unix ns) when poll hands it over. Stops
//! after RECORDS records; prints nearest-rank p50/p99/p99.9/max in µs as one JSON line.
//! MODE `low` follows librdkafka's wiki "How to decrease message latency": fetch.wait.max.ms=10
//! and fetch.error.backoff.ms=10 (an empty Fetch otherwise parks the next one for 500 ms).
//! Usage: latency-rdkafka BOOTSTRAP TOPIC RECORDS WARMUP MODE
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
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

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 6 {
        eprintln!("usage: latency-rdkafka BOOTSTRAP TOPIC RECORDS WARMUP MODE");
        std::process::exit(2);
    }
    let (bootstrap, topic, mode) = (&args[1], &args[2], args[5].as_str());
    let want: u64 = args[3].parse().expect("RECORDS");
    let warm: u64 = args[4].parse().expect("WARMUP");
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", bootstrap)
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .set("auto.offset.reset", "earliest")
        .set("group.id", "latency-rdkafka-assign");
    if mode == "low" {
        cfg.set("fetch.wait.max.ms", "10").set("fetch.error.backoff.ms", "10");
    }
    let consumer: BaseConsumer = cfg.create().expect("create consumer");
    let md = consumer.fetch_metadata(Some(topic), Duration::from_secs(30)).expect("metadata");
    let mut tpl = TopicPartitionList::new();
    for p in md.topics()[0].partitions() {
        tpl.add_partition_offset(topic, p.id(), Offset::Beginning).unwrap();
    }
    consumer.assign(&tpl).expect("assign");
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut lat: Vec<i64> = Vec::with_capacity(want as usize);
    let (mut n, mut bad) = (0u64, 0u64);
    let mut ready = false;
    while n < want && Instant::now() < deadline {
        let polled = consumer.poll(Duration::from_millis(100));
        if !ready {
            // bench/latency.sh starts the producer once every consumer has polled once.
            eprintln!("latency-ready");
            ready = true;
        }
        let Some(res) = polled else { continue };
        let m = match res {
            Ok(m) => m,
            Err(e) => {
                eprintln!("latency-rdkafka: {e}");
                continue;
            }
        };
        let now = now_ns();
        n += 1;
        match m.payload() {
            Some(v) if v.len() >= 16 => {
                let seq = u64::from_be_bytes(v[0..8].try_into().unwrap());
                let sent = u64::from_be_bytes(v[8..16].try_into().unwrap()) as i64;
                if seq >= warm {
                    lat.push((now - sent) / 1000);
                }
            }
            _ => bad += 1,
        }
    }
    lat.sort_unstable();
    println!(
        "{{\"client\":\"librdkafka\",\"mode\":\"{mode}\",\"records\":{n},\"bad\":{bad},\"measured\":{},\"p50_us\":{},\"p99_us\":{},\"p999_us\":{},\"max_us\":{}}}",
        lat.len(),
        pct(&lat, 0.5),
        pct(&lat, 0.99),
        pct(&lat, 0.999),
        pct(&lat, 1.0)
    );
}
