//! The consume-transform-produce loop of the `eos` example, as a module so that the mock tests
//! (`tests/transactions_mock.rs`) run the very code the example runs.
//!
//! Each poll's records are transformed and written in one transaction together with the
//! consumer's next offsets (KIP-98, KIP-447): either the output records *and* the input
//! offsets are committed, or neither is. A crash (even `kill -9`) between the two leaves an
//! open transaction that the next instance's `init_transactions` aborts, so the records it
//! wrote are never shown to `read_committed` readers and the input is read again from the last
//! committed offsets — every input record appears exactly once in the committed output.

use std::collections::BTreeMap;
use std::time::Duration;

use gregor::{
    Consumer, ConsumerConfig, ConsumerRecord, ErrorKind, OffsetAndMetadata, Producer, ProducerConfig, ProducerRecord,
    TopicPartition,
};

/// What the pipeline reads, writes and as whom.
#[derive(Debug, Clone)]
pub struct Options {
    /// `bootstrap.servers`.
    pub bootstrap: String,
    /// The topic read (`read_committed`).
    pub input: String,
    /// The topic written (transactionally).
    pub output: String,
    /// The consumer group whose offsets the transactions commit.
    pub group: String,
    /// The producer's `transactional.id`: the same for every restart of one instance, so that a
    /// restart fences the previous (possibly zombie) one.
    pub transactional_id: String,
    /// More settings, applied to both clients where the key belongs to them (`group.instance.id`,
    /// `session.timeout.ms` go to the consumer; `linger.ms`, `transaction.timeout.ms` to the
    /// producer).
    pub extra: Vec<(String, String)>,
    /// For the crash test (`scripts/eos-kafka.sh`): once this many input records are committed,
    /// the next transaction is left open — records written and flushed, offsets added, then
    /// `open` printed and no commit ever — so that a `kill -9` always lands inside a transaction.
    pub hold_open_at: Option<u64>,
}

/// The transformation: the value in upper case, the key kept, written to `output`.
pub fn transform(r: &ConsumerRecord, output: &str) -> ProducerRecord {
    let mut out = ProducerRecord::new(output);
    if let Some(k) = &r.key {
        out = out.key(k.clone());
    }
    if let Some(v) = &r.value {
        out = out.value(String::from_utf8_lossy(v).to_uppercase());
    }
    out
}

const PRODUCER_ONLY: &[&str] = &["linger.ms", "transaction.timeout.ms", "batch.size", "compression.type", "acks"];

/// Creates the consumer (`read_committed`, no auto-commit) and the transactional producer, and
/// initializes transactions (fencing any earlier instance with the same `transactional.id`).
pub async fn start(o: &Options) -> gregor::Result<(Consumer, Producer)> {
    let mut c = ConsumerConfig::builder()
        .bootstrap_servers(o.bootstrap.clone())
        .group_id(o.group.clone())
        .set("isolation.level", "read_committed")
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest");
    let mut p = vec![
        ("bootstrap.servers".to_string(), o.bootstrap.clone()),
        ("transactional.id".to_string(), o.transactional_id.clone()),
    ];
    for (k, v) in &o.extra {
        if PRODUCER_ONLY.contains(&k.as_str()) {
            p.push((k.clone(), v.clone()));
        } else {
            c = c.set(k, v);
        }
    }
    let consumer = Consumer::new(c.build()?)?;
    let producer = Producer::new(ProducerConfig::from_map(p)?)?;
    producer.init_transactions().await?;
    consumer.subscribe([o.input.clone()])?;
    Ok((consumer, producer))
}

/// Moves every assigned partition back to the group's committed offset (the beginning where
/// nothing is committed): after an abort, the records of the aborted transaction are processed
/// again (Java's `resetToLastCommittedPositions` in its EOS examples).
async fn rewind(consumer: &Consumer) -> gregor::Result<()> {
    let assigned = consumer.assignment();
    let committed = consumer.committed(&assigned).await?;
    for tp in &assigned {
        match committed.get(tp) {
            Some(o) => consumer.seek(tp, o.offset)?,
            None => consumer.seek_to_beginning(std::slice::from_ref(tp))?,
        }
    }
    Ok(())
}

/// One transaction: the records of one poll, transformed, and the offsets after them.
#[allow(dead_code)] // the example's loop calls `process_or_hold`; tests/transactions_mock.rs calls this
pub async fn process(o: &Options, consumer: &Consumer, producer: &Producer, records: &[ConsumerRecord]) -> gregor::Result<()> {
    process_or_hold(o, consumer, producer, records, false).await
}

/// [`process`], or with `hold`, everything but the commit, then waiting forever (see
/// [`Options::hold_open_at`]).
async fn process_or_hold(
    o: &Options,
    consumer: &Consumer,
    producer: &Producer,
    records: &[ConsumerRecord],
    hold: bool,
) -> gregor::Result<()> {
    producer.begin_transaction()?;
    let mut next: BTreeMap<TopicPartition, OffsetAndMetadata> = BTreeMap::new();
    let mut deliveries = Vec::with_capacity(records.len());
    for r in records {
        deliveries.push(producer.send(transform(r, &o.output)).await?);
        next.insert(r.topic_partition(), OffsetAndMetadata::new(r.offset + 1));
    }
    let group = consumer.group_metadata().expect("the consumer has a group.id");
    producer.send_offsets_to_transaction(next, &group).await?;
    if hold {
        producer.flush().await;
        println!("open {}", records.len());
        std::future::pending::<()>().await;
    }
    producer.commit_transaction().await?;
    for d in deliveries {
        d.await?;
    }
    Ok(())
}

/// Runs the loop: `committed(total)` after every committed transaction, `stop(total)` after
/// every empty poll, until it says so; returns how many input records were committed through. A fenced producer (another instance took over) ends it with
/// an error; any other failure aborts the transaction and processes the records again.
pub async fn run(
    o: &Options,
    consumer: &Consumer,
    producer: &Producer,
    mut committed: impl FnMut(u64),
    mut stop: impl FnMut(u64) -> bool,
) -> gregor::Result<u64> {
    let mut total = 0u64;
    loop {
        let records = consumer.poll(Duration::from_millis(200)).await?;
        if records.is_empty() {
            if stop(total) {
                return Ok(total);
            }
            continue;
        }
        let hold = o.hold_open_at.is_some_and(|n| total >= n);
        match process_or_hold(o, consumer, producer, &records, hold).await {
            Ok(()) => {
                total += records.len() as u64;
                committed(total);
            }
            Err(e) if e.kind() == ErrorKind::Fenced => return Err(e),
            Err(e) => {
                eprintln!("transaction failed, aborting and processing its records again: {e}");
                producer.abort_transaction().await?;
                rewind(consumer).await?;
            }
        }
    }
}
