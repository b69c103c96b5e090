//! librdkafka (via rust-rdkafka's BaseConsumer) side of gregor's consumer benchmark.
//! Same per-record work as every other bench client: FNV-1a 64 over key then value, the
//! per-record hashes summed (order-independent, so all clients must print the same checksum),
//! and a per-partition check that offsets are contiguous from the first one.
//! Usage: bench-rdkafka BOOTSTRAP TOPIC RECORDS [GROUP]   (prints one JSON line)
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
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
        eprintln!("usage: bench-rdkafka BOOTSTRAP TOPIC RECORDS [GROUP]");
        std::process::exit(2);
    }
    let (bootstrap, topic, want): (&str, &str, u64) = (&args[1], &args[2], args[3].parse().unwrap());
    let group = args.get(4);
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", bootstrap)
        // The fetch settings shared by every client (Java's defaults).
        .set("fetch.max.bytes", "52428800")
        .set("max.partition.fetch.bytes", "1048576")
        .set("fetch.min.bytes", "1")
        .set("fetch.wait.max.ms", "500")
        // librdkafka defaults to false; Java, franz-go and gregor verify CRC32C.
        .set("check.crcs", "true")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .set("auto.offset.reset", "earliest")
        .set("group.id", group.map(|s| s.as_str()).unwrap_or("bench-rdkafka-assign"));
    let consumer: BaseConsumer = cfg.create().expect("create consumer");
    if group.is_some() {
        consumer.subscribe(&[topic]).expect("subscribe");
    } else {
        let md = consumer.fetch_metadata(Some(topic), Duration::from_secs(30)).expect("metadata");
        let mut tpl = TopicPartitionList::new();
        for p in md.topics()[0].partitions() {
            tpl.add_partition_offset(topic, p.id(), Offset::Beginning).unwrap();
        }
        consumer.assign(&tpl).expect("assign");
    }
    let deadline = Instant::now() + Duration::from_secs(600);
    let (mut n, mut bytes, mut sum, mut gaps) = (0u64, 0u64, 0u64, 0u64);
    let mut next: HashMap<i32, i64> = HashMap::new();
    let mut first_us = 0u128;
    while n < want && Instant::now() < deadline {
        let Some(res) = consumer.poll(Duration::from_millis(100)) else { continue };
        let m = match res {
            Ok(m) => m,
            Err(e) => {
                eprintln!("bench-rdkafka: {e}");
                continue;
            }
        };
        if first_us == 0 {
            first_us = now_us();
        }
        let mut h = 0xcbf29ce484222325u64;
        if let Some(k) = m.key() {
            h = fnv1a(h, k);
            bytes += k.len() as u64;
        }
        if let Some(v) = m.payload() {
            h = fnv1a(h, v);
            bytes += v.len() as u64;
        }
        sum = sum.wrapping_add(h);
        let e = next.entry(m.partition()).or_insert(m.offset());
        if *e != m.offset() {
            gaps += 1;
        }
        *e = m.offset() + 1;
        n += 1;
    }
    let last_us = now_us();
    println!(
        "{{\"client\":\"librdkafka\",\"records\":{n},\"bytes\":{bytes},\"checksum\":\"{sum:016x}\",\"gaps\":{gaps},\"partitions\":{},\"first_us\":{first_us},\"last_us\":{last_us}}}",
        next.len()
    );
    drop(consumer);
}
