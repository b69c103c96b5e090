//! A cluster that is entirely down: connection attempts stay within what the reconnect backoff
//! allows, the client idles cheaply, and it resumes by itself when the brokers return.

use std::time::Duration;

use gregor::{Consumer, ConsumerConfig, TopicPartition};
use gregor_mock::MockCluster;

/// The storm: every broker down for 30 s.
const OUTAGE: Duration = Duration::from_secs(30);
const WAIT: Duration = Duration::from_secs(60);

/// CPU seconds (user + system) this process has used, from /proc/self/stat.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// The most connection attempts one endpoint can make in `window` with Java's reconnect
/// backoff (50 ms doubling to 1 s, jitter ±20%: use the low end, 0.8×).
fn max_attempts(window: Duration) -> u64 {
    let mut t = 0.0;
    let mut n = 1u64; // the first attempt is immediate
    let mut backoff = 0.05;
    while t + backoff * 0.8 <= window.as_secs_f64() {
        t += backoff * 0.8;
        n += 1;
        backoff = (backoff * 2.0).min(1.0);
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_brokers_down_costs_few_attempts_and_little_cpu_then_resumes() {
    let cluster = MockCluster::builder().brokers(3).topic("s", 3).start().await.unwrap();
    for p in 0..3 {
        cluster.append_records("s", p, &[("k", "before")]).unwrap();
    }
    let config = ConsumerConfig::builder()
        .bootstrap_servers(cluster.bootstrap_servers())
        .set("auto.offset.reset", "earliest")
        .build()
        .unwrap();
    let c = Consumer::new(config).unwrap();
    c.assign((0..3).map(|p| TopicPartition::new("s", p))).unwrap();
    let mut got = 0;
    while got < 3 {
        got += c.poll(Duration::from_millis(200)).await.unwrap().len();
    }

    let before = c.connection_metrics();
    let cpu0 = cpu_seconds();
    for b in 0..3 {
        cluster.broker_down(b).await;
    }
    // The application keeps polling through the outage, as a service would.
    let until = tokio::time::Instant::now() + OUTAGE;
    while tokio::time::Instant::now() < until {
        let r = c.poll(Duration::from_millis(250)).await;
        assert!(r.map(|v| v.is_empty()).unwrap_or(true));
    }
    let during = c.connection_metrics();
    let cpu = cpu_seconds().zip(cpu0).map(|(a, b)| a - b);
    let attempts = during.connection_creation_total - before.connection_creation_total;
    // Three endpoints; each may start one fresh backoff sequence again when the client
    // rebootstraps (once: until metadata is seen again).
    let bound = 3 * 2 * max_attempts(OUTAGE);
    eprintln!(
        "outage of {:?}: {attempts} connection attempts (bound {bound}), {:.3} CPU seconds for the whole test process",
        OUTAGE,
        cpu.unwrap_or(f64::NAN)
    );
    assert!(attempts >= 3, "it did try to reconnect ({attempts})");
    assert!(attempts <= bound, "{attempts} attempts in {OUTAGE:?} exceed the backoff bound {bound}");

    for b in 0..3 {
        cluster.broker_up(b).await.unwrap();
    }
    for p in 0..3 {
        cluster.append_records("s", p, &[("k", "after")]).unwrap();
    }
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut after = 0;
    while after < 3 {
        assert!(tokio::time::Instant::now() < deadline, "did not resume after the outage");
        after += c
            .poll(Duration::from_millis(200))
            .await
            .unwrap_or_default()
            .iter()
            .filter(|r| r.value_str() == Some("after"))
            .count();
    }
    c.close(Duration::from_secs(10)).await;
    cluster
        .wait_until(|conns| conns.iter().all(|r| !r.is_open()), WAIT)
        .await
        .expect("closed everything");
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_consumer_closes_its_sockets() {
    let cluster = MockCluster::builder().brokers(3).topic("d", 3).start().await.unwrap();
    cluster.append_records("d", 0, &[("k", "v")]).unwrap();
    let config = ConsumerConfig::builder()
        .bootstrap_servers(cluster.bootstrap_servers())
        .group_id("gd")
        .set("auto.offset.reset", "earliest")
        .build()
        .unwrap();
    let c = Consumer::new(config).unwrap();
    c.subscribe(["d"]).unwrap();
    let mut got = 0;
    while got < 1 {
        got += c.poll(Duration::from_millis(200)).await.unwrap().len();
    }
    assert!(!cluster.open_connections().is_empty());
    drop(c);
    cluster
        .wait_until(|conns| conns.iter().all(|r| !r.is_open()), WAIT)
        .await
        .expect("dropping the consumer closed every socket");
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_bootstrap_server_is_a_clear_error_not_a_hang() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    for group in [None, Some("gu")] {
        let mut b = ConsumerConfig::builder()
            .bootstrap_servers(format!("127.0.0.1:{port}"))
            .set("default.api.timeout.ms", "1500");
        if let Some(g) = group {
            b = b.group_id(g);
        }
        let c = Consumer::new(b.build().unwrap()).unwrap();
        match group {
            Some(_) => c.subscribe(["t"]).unwrap(),
            None => c.assign([TopicPartition::new("t", 0)]).unwrap(),
        }
        let deadline = tokio::time::Instant::now() + WAIT;
        let err = loop {
            assert!(tokio::time::Instant::now() < deadline, "poll never reported the unreachable cluster");
            match c.poll(Duration::from_millis(200)).await {
                Ok(r) => assert!(r.is_empty()),
                Err(e) => break e,
            }
        };
        assert_eq!(err.kind(), gregor::ErrorKind::Unreachable, "{err}");
        let msg = err.to_string();
        assert!(msg.contains(&format!("127.0.0.1:{port}")), "the message names the server: {msg}");
        c.close(Duration::from_secs(5)).await;
    }
}
