//! librdkafka (via rust-rdkafka's BaseProducer) side of gregor's producer benchmark
//! (bench/producer.sh). Same work as every other bench producer: RECORDS records with a null
//! key, values taken in turn from the lines of PAYLOAD_FILE, every delivery report counted.
//! Usage: bench-rdkafka-producer BOOTSTRAP TOPIC RECORDS PAYLOAD_FILE ACKS CODEC
//! (prints one JSON line). Shared settings: linger.ms=20, batch.size=262144,
//! enable.idempotence=true with acks=all and false with acks=1; otherwise librdkafka's defaults
//! (its sticky partitioner for null keys, `sticky.partitioning.linger.ms=10`).
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::ClientContext;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn now_us() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_micros()
}

#[derive(Default)]
struct Counts {
    acked: AtomicU64,
    errors: AtomicU64,
}

impl ClientContext for Counts {}

impl ProducerContext for Counts {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => self.acked.fetch_add(1, Ordering::Relaxed),
            Err((e, _)) => {
                if self.errors.fetch_add(1, Ordering::Relaxed) == 0 {
                    eprintln!("bench-rdkafka-producer: first error: {e}");
                }
                0
            }
        };
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 7 {
        eprintln!("usage: bench-rdkafka-producer BOOTSTRAP TOPIC RECORDS PAYLOAD_FILE ACKS CODEC");
        std::process::exit(2);
    }
    let (bootstrap, topic, want) = (&args[1], &args[2], args[3].parse::<u64>().unwrap());
    let data = std::fs::read(&args[4]).expect("payload file");
    let lines: Vec<&[u8]> = data.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect();
    let (acks, codec) = (args[5].as_str(), args[6].as_str());
    let producer: BaseProducer<Counts> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("acks", acks)
        .set("compression.type", codec)
        .set("linger.ms", "20")
        .set("batch.size", "262144")
        .set("enable.idempotence", if acks == "all" { "true" } else { "false" })
        .create_with_context(Counts::default())
        .expect("producer");
    let start_us = now_us();
    let mut bytes = 0u64;
    for i in 0..want {
        let value = lines[(i % lines.len() as u64) as usize];
        bytes += value.len() as u64;
        let mut rec: BaseRecord<'_, (), [u8]> = BaseRecord::to(topic).payload(value);
        loop {
            match producer.send(rec) {
                Ok(()) => break,
                // The local queue is full (queue.buffering.max.messages): serve delivery
                // reports, then try again, as librdkafka's examples do.
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    rec = r;
                    producer.poll(Duration::from_millis(10));
                }
                Err((e, _)) => panic!("send: {e}"),
            }
        }
        if i % 1024 == 0 {
            producer.poll(Duration::ZERO);
        }
    }
    producer.flush(Duration::from_secs(300)).expect("flush");
    let last_us = now_us();
    let ctx = producer.context();
    let (acked, errors) = (ctx.acked.load(Ordering::Relaxed), ctx.errors.load(Ordering::Relaxed));
    println!(
        "{{\"client\":\"librdkafka\",\"records\":{acked},\"bytes\":{bytes},\"errors\":{errors},\"start_us\":{start_us},\"last_us\":{last_us}}}"
    );
}
