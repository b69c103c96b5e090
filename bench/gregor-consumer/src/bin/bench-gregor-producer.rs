//! gregor side of the producer benchmark (bench/producer.sh). Same work as every other bench
//! producer: RECORDS records with a null key, the values taken in turn from the lines of
//! PAYLOAD_FILE (each line one value, newline excluded), to TOPIC with the partitioner's
//! default (sticky for null keys); every delivery awaited and counted.
//! Usage: bench-gregor-producer BOOTSTRAP TOPIC RECORDS PAYLOAD_FILE ACKS CODEC
//! (prints one JSON line). The settings shared by every client: linger.ms=20,
//! batch.size=262144, enable.idempotence=true with acks=all and false with acks=1.
use bytes::Bytes;
use gregor::{Producer, ProducerRecord};
use std::collections::VecDeque;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn now_us() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_micros()
}

/// The payload file's lines as slices of one buffer (no copy per record).
fn payload_lines(path: &str) -> Vec<Bytes> {
    let all = Bytes::from(std::fs::read(path).expect("payload file"));
    let mut out = Vec::new();
    let mut start = 0;
    for (i, &b) in all.iter().enumerate() {
        if b == b'\n' {
            out.push(all.slice(start..i));
            start = i + 1;
        }
    }
    if start < all.len() {
        out.push(all.slice(start..));
    }
    assert!(!out.is_empty(), "empty payload file");
    out
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 7 {
        eprintln!("usage: bench-gregor-producer BOOTSTRAP TOPIC RECORDS PAYLOAD_FILE ACKS CODEC");
        std::process::exit(2);
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    rt.block_on(run(args));
}

async fn run(args: Vec<String>) {
    let (bootstrap, topic, want) = (&args[1], &args[2], args[3].parse::<u64>().unwrap());
    let lines = payload_lines(&args[4]);
    let (acks, codec) = (args[5].as_str(), args[6].as_str());
    let idempotent = if acks == "all" { "true" } else { "false" };
    let producer = Producer::from_properties([
        ("bootstrap.servers", bootstrap.as_str()),
        ("acks", acks),
        ("compression.type", codec),
        ("linger.ms", "20"),
        ("batch.size", "262144"),
        ("enable.idempotence", idempotent),
    ])
    .expect("producer");
    // One topic name shared by every record (ProducerRecord::topic is an Arc<str>).
    let topic: std::sync::Arc<str> = std::sync::Arc::from(topic.as_str());
    let start_us = now_us();
    let (mut bytes, mut errors) = (0u64, 0u64);
    let mut first_error = None;
    // Deliveries awaited in order, at most this many outstanding (bounds memory, as the CLI).
    let mut pending = VecDeque::new();
    for i in 0..want {
        let value = lines[(i % lines.len() as u64) as usize].clone();
        bytes += value.len() as u64;
        let rec = ProducerRecord { topic: topic.clone(), value: Some(value), ..Default::default() };
        match producer.send(rec).await {
            Ok(f) => pending.push_back(f),
            Err(e) => {
                errors += 1;
                first_error.get_or_insert(e.to_string());
            }
        }
        while pending.len() > 200_000 {
            if let Err(e) = pending.pop_front().unwrap().await {
                errors += 1;
                first_error.get_or_insert(e.to_string());
            }
        }
    }
    for f in pending {
        if let Err(e) = f.await {
            errors += 1;
            first_error.get_or_insert(e.to_string());
        }
    }
    let last_us = now_us();
    producer.close(Duration::from_secs(30)).await.expect("close");
    if let Some(e) = first_error {
        eprintln!("bench-gregor-producer: first error: {e}");
    }
    println!(
        "{{\"client\":\"gregor\",\"records\":{},\"bytes\":{bytes},\"errors\":{errors},\"start_us\":{start_us},\"last_us\":{last_us}}}",
        want - errors
    );
}
