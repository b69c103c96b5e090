//! `delivery.timeout.ms` for a batch whose Produce request is on the wire (Java
//! `Sender.getExpiredInflightBatches`), against the embedded mock in virtual time (tokio's
//! paused clock: the waits below cost no real time, and the instants are exact).

mod common;

use std::time::Duration;

use gregor::{ErrorKind, Producer, ProducerRecord};
use gregor_mock::MockCluster;
use tokio::time::Instant;

const PRODUCE: i16 = 0;
const INIT_PRODUCER_ID: i16 = 22;
const DELIVERY: Duration = Duration::from_secs(40);
const REQUEST: Duration = Duration::from_secs(30);
/// How long the broker takes to give the producer its id: the batch waits that long before
/// its Produce request goes out, so the request's own timeout (INIT_DELAY + REQUEST) falls
/// after the batch's delivery deadline (DELIVERY) — only the in-flight deadline ends it in time.
const INIT_DELAY: Duration = Duration::from_secs(20);

#[tokio::test(start_paused = true)]
async fn a_batch_on_the_wire_fails_at_its_delivery_deadline_and_the_producer_goes_on() {
    common::init_tracing("error");
    let mock = MockCluster::builder().brokers(1).topic("t", 1).start().await.unwrap();
    mock.set_latency(None, Some(INIT_PRODUCER_ID), INIT_DELAY);
    // The broker sits on the Produce request far beyond every deadline.
    mock.set_latency(None, Some(PRODUCE), Duration::from_secs(24 * 3600));
    let p = Producer::from_properties([
        ("bootstrap.servers", mock.bootstrap_servers().as_str()),
        ("enable.idempotence", "true"),
        ("acks", "all"),
        ("linger.ms", "0"),
        ("request.timeout.ms", &REQUEST.as_millis().to_string()),
        ("delivery.timeout.ms", &DELIVERY.as_millis().to_string()),
    ])
    .unwrap();
    let t0 = Instant::now();
    let delivery = p.send(ProducerRecord::new("t").value("unanswered")).await.unwrap();
    // A guard in virtual time, so that a regression fails here instead of waiting a day.
    let e = tokio::time::timeout(INIT_DELAY + REQUEST + DELIVERY, delivery)
        .await
        .expect("the record's outcome is reported by its delivery deadline")
        .expect_err("the broker never answered");
    let at = t0.elapsed();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(e.to_string().contains("in flight"), "failed as a batch on the wire: {e}");
    assert!(at >= DELIVERY && at < INIT_DELAY + REQUEST, "at the delivery deadline, not the request timeout: {at:?}");
    // flush does not wait for the unanswered request any more.
    tokio::time::timeout(Duration::from_millis(1), p.flush()).await.expect("nothing incomplete");

    // The broker answers again: the producer goes on with the partition. (The expired batch's
    // sequence stays unresolved until its request ends; then, its fate unknown, the idempotent
    // producer bumps its epoch so that no later batch can be written out of order or twice.)
    mock.set_latency(None, Some(PRODUCE), Duration::ZERO);
    let after = p.send(ProducerRecord::new("t").value("after")).await.unwrap();
    let m = tokio::time::timeout(INIT_DELAY + REQUEST + DELIVERY, after).await.expect("reported").expect("written");
    assert_eq!((&*m.topic, m.partition), ("t", 0));
    assert!(t0.elapsed() >= INIT_DELAY + REQUEST, "it waited for the unanswered request to end: {:?}", t0.elapsed());
    p.close(Duration::from_secs(5)).await.unwrap();
}
