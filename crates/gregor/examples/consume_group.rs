//! Consumes a topic in a consumer group and keeps polling until killed, printing gregor's
//! connection events as they happen.
//!
//! ```sh
//! cargo run --release -p gregor --example consume_group -- 127.0.0.1:9092 orders my-group \
//!     [key=value ...]
//! ```
//! (`scripts/connections/measure.sh` runs it to count sockets from outside the process.)

use std::time::{Duration, Instant};

use gregor::{Consumer, ConsumerConfig};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        eprintln!("usage: consume_group BOOTSTRAP TOPIC GROUP [key=value ...]");
        std::process::exit(2);
    }
    let mut b = ConsumerConfig::builder()
        .bootstrap_servers(args[0].clone())
        .group_id(args[2].clone())
        .set("auto.offset.reset", "earliest");
    for kv in &args[3..] {
        let (k, v) = kv.split_once('=').ok_or("extra settings are key=value")?;
        b = b.set(k, v);
    }
    let consumer = Consumer::new(b.build()?)?;
    let mut events = consumer.connection_events();
    let start = Instant::now();
    tokio::spawn(async move {
        while let Some(ev) = events.recv().await {
            println!("{:>8.3}s {ev}", start.elapsed().as_secs_f64());
        }
    });
    consumer.subscribe([args[1].clone()])?;
    let mut total = 0usize;
    loop {
        let n = consumer.poll(Duration::from_millis(500)).await?.len();
        if n > 0 && total == 0 {
            println!("{:>8.3}s first records", start.elapsed().as_secs_f64());
        }
        total += n;
        if n > 0 {
            consumer.commit_async();
        }
    }
}
