//! Exactly-once consume-transform-produce: reads `INPUT` (`read_committed`) in consumer group
//! `GROUP`, writes each value in upper case to `OUTPUT` in transactions that also commit the
//! group's offsets (KIP-98, KIP-447). Kill it at any moment (`kill -9` included) and start it
//! again with the same `TRANSACTIONAL_ID`: a `read_committed` reader of `OUTPUT` sees every
//! input record exactly once.
//!
//! ```sh
//! cargo run -p gregor --example eos -- 127.0.0.1:9092 input output eos-group eos-1 \
//!     [--idle-exit SECONDS] [--hold-open-at N] [key=value ...]
//! ```
//!
//! `key=value` settings go to the consumer (e.g. `group.instance.id=eos-1`, so that a restart
//! takes over the partitions at once) or, for producer keys, to the producer. With
//! `--idle-exit S` it exits after S seconds without input; otherwise it runs until killed. With
//! `--hold-open-at N` (the crash test's), once N input records are committed it leaves the
//! next transaction open — records written, offsets added — prints `open M` and waits to be
//! killed.
//! It prints `committed N` after every transaction (`scripts/eos-kafka.sh` and the tests wait
//! for these lines).

mod pipeline;

use std::time::{Duration, Instant};

use pipeline::Options;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut idle_exit = None;
    if let Some(i) = args.iter().position(|a| a == "--idle-exit") {
        let secs: f64 = args.get(i + 1).ok_or("--idle-exit needs seconds")?.parse()?;
        idle_exit = Some(Duration::from_secs_f64(secs));
        args.drain(i..i + 2);
    }
    let mut hold_open_at = None;
    if let Some(i) = args.iter().position(|a| a == "--hold-open-at") {
        hold_open_at = Some(args.get(i + 1).ok_or("--hold-open-at needs a record count")?.parse()?);
        args.drain(i..i + 2);
    }
    if args.len() < 5 {
        eprintln!("usage: eos BOOTSTRAP INPUT OUTPUT GROUP TRANSACTIONAL_ID [--idle-exit SECONDS] [--hold-open-at N] [key=value ...]");
        std::process::exit(2);
    }
    let mut extra = Vec::new();
    for kv in &args[5..] {
        let (k, v) = kv.split_once('=').ok_or_else(|| format!("extra settings are key=value, got {kv:?}"))?;
        extra.push((k.to_string(), v.to_string()));
    }
    let o = Options {
        bootstrap: args[0].clone(),
        input: args[1].clone(),
        output: args[2].clone(),
        group: args[3].clone(),
        transactional_id: args[4].clone(),
        extra,
        hold_open_at,
    };
    let (consumer, producer) = pipeline::start(&o).await?;
    println!("started");
    let last = std::cell::Cell::new(Instant::now());
    let total = pipeline::run(
        &o,
        &consumer,
        &producer,
        |total| {
            println!("committed {total}");
            last.set(Instant::now());
        },
        |_| idle_exit.is_some_and(|d| last.get().elapsed() >= d),
    )
    .await?;
    println!("committed {total}");
    producer.close(Duration::from_secs(30)).await?;
    consumer.close(Duration::from_secs(30)).await;
    Ok(())
}
