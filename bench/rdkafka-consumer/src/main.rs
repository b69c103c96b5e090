//! librdkafka (via rust-rdkafka's BaseConsumer) side of gregor's consumer benchmark.
//! Same per-record work as every other bench client: FNV-1a 64 over key then value, the
//! per-record hashes summed (order-independent, so all clients must print the same checksum),
//! and a per-partition check that offsets are contiguous from the first one.
//! Usage: bench-rdkafka BOOTSTRAP TOPIC RECORDS [GROUP]   (prints one JSON line)
//! A TOPIC starting with `^` is a regular expression (librdkafka's own convention): a group
//! subscription to every matching topic, offsets then checked per topic and partition.
//!
//! `RDK_TUNED=1` runs librdkafka as its maintainers advise for throughput (issue #14): the batch
//! consume API (`rd_kafka_consume_batch_queue`, up to 10,000 messages a call, no per-message
//! `poll` and event dispatch through rust-rdkafka), `queued.min.messages=1000000` (prefetch up to
//! 1M messages per partition instead of 100,000) and `fetch.queue.backoff.ms=10` (CONFIGURATION.md:
//! decrease it when the application sees ~1 s pauses between messages; the default 1000 ms parks
//! a partition's fetching for a second whenever its queue thresholds are reached). The shared
//! fetch settings stay as for every client. With a group it still uses `poll` (rebalance events).
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{bindings as rdsys, Offset, TopicPartitionList};
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
    let tuned = std::env::var("RDK_TUNED").as_deref() == Ok("1");
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
    if tuned {
        cfg.set("queued.min.messages", "1000000").set("fetch.queue.backoff.ms", "10");
    }
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
    let mut st = Stats { n: 0, bytes: 0, sum: 0, gaps: 0, next: HashMap::new(), first_us: 0 };
    if tuned && group.is_none() {
        consume_batches(&consumer, want, deadline, &mut st);
    }
    let Stats { mut n, mut bytes, mut sum, mut gaps, mut next, mut first_us } = st;
    let regex = topic.starts_with('^');
    let mut next_tp: HashMap<(String, i32), i64> = HashMap::new();
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
        let e = if regex {
            next_tp.entry((m.topic().to_string(), m.partition())).or_insert(m.offset())
        } else {
            next.entry(m.partition()).or_insert(m.offset())
        };
        if *e != m.offset() {
            gaps += 1;
        }
        *e = m.offset() + 1;
        n += 1;
    }
    let last_us = now_us();
    println!(
        "{{\"client\":\"{}\",\"records\":{n},\"bytes\":{bytes},\"checksum\":\"{sum:016x}\",\"gaps\":{gaps},\"partitions\":{},\"first_us\":{first_us},\"last_us\":{last_us}}}",
        if tuned { "librdkafka-tuned" } else { "librdkafka" },
        next.len() + next_tp.len()
    );
    drop(consumer);
}

struct Stats {
    n: u64,
    bytes: u64,
    sum: u64,
    gaps: u64,
    next: HashMap<i32, i64>,
    first_us: u128,
}

/// The batch consume API on the consumer queue (assign mode): the per-record work reads the
/// C message in place, then each message is destroyed.
fn consume_batches(consumer: &BaseConsumer, want: u64, deadline: Instant, st: &mut Stats) {
    const BATCH: usize = 10_000;
    let rk = consumer.client().native_ptr();
    // SAFETY: rk is the live consumer handle; the queue reference is released below.
    let q = unsafe { rdsys::rd_kafka_queue_get_consumer(rk) };
    let mut msgs: Vec<*mut rdsys::rd_kafka_message_t> = vec![std::ptr::null_mut(); BATCH];
    while st.n < want && Instant::now() < deadline {
        // SAFETY: msgs has room for BATCH pointers; librdkafka fills the first `got`.
        let got = unsafe { rdsys::rd_kafka_consume_batch_queue(q, 100, msgs.as_mut_ptr(), BATCH) };
        if got < 0 {
            eprintln!("bench-rdkafka: consume_batch_queue failed");
            break;
        }
        for &m in &msgs[..got as usize] {
            // SAFETY: m is a message handed out by librdkafka and not destroyed yet.
            let msg = unsafe { &*m };
            if msg.err != rdsys::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
                eprintln!("bench-rdkafka: message error {:?}", msg.err);
            } else {
                if st.first_us == 0 {
                    st.first_us = now_us();
                }
                let mut h = 0xcbf29ce484222325u64;
                if !msg.key.is_null() {
                    // SAFETY: key points at key_len bytes owned by the message.
                    let k = unsafe { std::slice::from_raw_parts(msg.key as *const u8, msg.key_len) };
                    h = fnv1a(h, k);
                    st.bytes += k.len() as u64;
                }
                if !msg.payload.is_null() {
                    // SAFETY: payload points at len bytes owned by the message.
                    let v = unsafe { std::slice::from_raw_parts(msg.payload as *const u8, msg.len) };
                    h = fnv1a(h, v);
                    st.bytes += v.len() as u64;
                }
                st.sum = st.sum.wrapping_add(h);
                let e = st.next.entry(msg.partition).or_insert(msg.offset);
                if *e != msg.offset {
                    st.gaps += 1;
                }
                *e = msg.offset + 1;
                st.n += 1;
            }
            // SAFETY: each message is destroyed exactly once, after its last use.
            unsafe { rdsys::rd_kafka_message_destroy(m) };
        }
    }
    // SAFETY: releases the reference taken by rd_kafka_queue_get_consumer.
    unsafe { rdsys::rd_kafka_queue_destroy(q) };
}
